package postgres_test

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/pgtest"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/postgres"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// testPool returns a pool on a new, migrated database.
func testPool(t testing.TB, dsnSuffix string) *pgxpool.Pool {
	t.Helper()
	dsn := pgtest.NewDatabase(t) + dsnSuffix
	pool, err := postgres.Connect(ctxFor(t), dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = postgres.Migrate(ctxFor(t), pool)
	require.NoError(t, err)
	return pool
}

// newBackend returns a Backend ("a node") on pool, closed when the test ends.
func newBackend(t testing.TB, pool *pgxpool.Pool, opts ...postgres.Option) *postgres.Backend {
	t.Helper()
	b, err := postgres.New(ctxFor(t), pool, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

// addUser adds name with password hashed in scheme and delivers msgs.
func addUser(t testing.TB, b *postgres.Backend, name, scheme, password string, msgs ...string) {
	t.Helper()
	h, err := passwd.Hash(scheme, []byte(password))
	require.NoError(t, err)
	require.NoError(t, b.AddUser(ctxFor(t), name, h))
	for _, m := range msgs {
		require.NoError(t, b.Deliver(ctxFor(t), name, bytes.NewReader([]byte(m))))
	}
}

// open logs name in and opens the maildrop.
func open(t testing.TB, b pop3.Backend, name, password string) (pop3.Mailbox, error) {
	t.Helper()
	u, err := b.Login(ctxFor(t), &pop3.ConnInfo{}, name, password)
	require.NoError(t, err)
	return u.Open(ctxFor(t))
}

// ctxFor returns a context for one call, cancelled when the test ends.
func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
