package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/postgres"
)

// postgresConnectTimeout bounds connecting and migrating at start-up, so
// that an unreachable database is an error, not a hang.
const postgresConnectTimeout = 15 * time.Second

// openPostgres connects to the database of -postgres, migrates its schema
// (every node does; an advisory lock makes them take turns) and returns
// the backend, whether its users can log in with APOP, and what closes
// it: the backend first, then the pool.
func openPostgres(ctx context.Context, o *options, cache *passwd.Cache, logger *slog.Logger) (*postgres.Backend, apopOffer, func(), error) {
	cctx, cancel := context.WithTimeout(ctx, postgresConnectTimeout)
	defer cancel()
	pool, err := postgres.Connect(cctx, o.postgres)
	if err != nil {
		return nil, apopOffer{}, nil, fmt.Errorf("-postgres: %w", err)
	}
	applied, err := postgres.Migrate(cctx, pool)
	if err != nil {
		pool.Close()
		return nil, apopOffer{}, nil, fmt.Errorf("-postgres: %w", err)
	}
	if len(applied) > 0 {
		logger.Info("pop3d: migrated the PostgreSQL schema", "applied", applied, "version", postgres.SchemaVersion)
	}
	b, err := postgres.New(cctx, pool, postgres.WithLogger(logger), postgres.WithLeaseTime(o.postgresLease),
		postgres.WithVerifyCache(cache))
	if err != nil {
		pool.Close()
		return nil, apopOffer{}, nil, fmt.Errorf("-postgres: %w", err)
	}
	apop := apopForPostgres(cctx, b)
	cfg := pool.Config().ConnConfig
	logger.Info("pop3d: serving users from PostgreSQL", "database", cfg.Database, "host", cfg.Host, "port", cfg.Port,
		"pool_max_conns", pool.Config().MaxConns, "lease", o.postgresLease)
	return b, apop, func() { b.Close(); pool.Close() }, nil
}
