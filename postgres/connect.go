package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultMaxConns is the pool size [Connect] uses when the DSN sets no
// pool_max_conns: sessions borrow a connection per statement, so this many
// serve thousands of them.
const DefaultMaxConns = 20

// Connect opens a pool on dsn (a postgres:// URL or "key=value" string, as
// pgx takes it, with pgxpool's pool_* settings) and checks that the
// database answers within ctx, so that a bad DSN or an unreachable server
// is an error at start-up rather than at the first login. Its errors never
// quote the password.
func Connect(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	var parseErr *pgconn.ParseConfigError
	if errors.As(err, &parseErr) {
		// pgx quotes the DSN in this error, with the password masked only
		// as well as it can tell where the password is.
		return nil, errors.New("postgres: bad DSN: not a postgres:// URL or key=value connection string that pgx can parse")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: bad DSN: %w", err) // a pool_* setting, without the DSN
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: cannot reach the database %q on %s:%d as %q: %w",
			cfg.ConnConfig.Database, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.User, err)
	}
	return pool, nil
}
