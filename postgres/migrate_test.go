package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/pgtest"
	"github.com/gopop3/pop3/postgres"
)

// Migrate applies every step once, however many nodes start together, and
// then nothing.
func TestMigrate(t *testing.T) {
	pool, err := postgres.Connect(ctxFor(t), pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	_, err = postgres.New(ctxFor(t), pool)
	require.ErrorIs(t, err, postgres.ErrSchemaOutdated, "New refuses an empty database")

	var mu sync.Mutex
	var applied []int
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			v, err := postgres.Migrate(context.Background(), pool)
			assert.NoError(t, err)
			mu.Lock()
			applied = append(applied, v...)
			mu.Unlock()
		})
	}
	wg.Wait()
	want := make([]int, postgres.SchemaVersion)
	for i := range want {
		want[i] = i + 1
	}
	assert.Equal(t, want, applied, "each step applied once in all")

	v, err := postgres.Migrate(ctxFor(t), pool)
	require.NoError(t, err)
	assert.Empty(t, v)
	b, err := postgres.New(ctxFor(t), pool)
	require.NoError(t, err)
	b.Close()
}

// A database that a newer release migrated is refused, not used.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	pool := testPool(t, "")
	_, err := pool.Exec(ctxFor(t), "INSERT INTO pop3_schema_migrations (version, description) VALUES (9999, 'from the future')")
	require.NoError(t, err)
	_, err = postgres.Migrate(ctxFor(t), pool)
	assert.ErrorIs(t, err, postgres.ErrSchemaTooNew)
	_, err = postgres.New(ctxFor(t), pool)
	assert.ErrorIs(t, err, postgres.ErrSchemaTooNew)
}

// Migrating keeps the mail that is there.
func TestMigrateKeepsData(t *testing.T) {
	pool := testPool(t, "")
	b := newBackend(t, pool)
	addUser(t, b, "alice", "PLAIN", "pw", "Subject: kept\n\nbody\n")
	_, err := postgres.Migrate(ctxFor(t), pool)
	require.NoError(t, err)
	users, err := b.Users(ctxFor(t))
	require.NoError(t, err)
	require.Len(t, users, 1)
	assert.EqualValues(t, 1, users[0].Messages)
}

func TestConnectErrors(t *testing.T) {
	for _, tc := range []struct{ name, dsn, want string }{
		{"bad DSN", "postgres://user:secret@127.0.0.1:notaport/db", "bad DSN"},
		{"bad key=value DSN", "host=127.0.0.1 password = secret port=notaport", "bad DSN"},
		{"unreachable", "postgres://user:secret@127.0.0.1:1/db?connect_timeout=2", "cannot reach the database \"db\" on 127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := postgres.Connect(ctxFor(t), tc.dsn)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "secret", "the password is never quoted")
		})
	}
}

func TestSchemaVersion(t *testing.T) {
	assert.Equal(t, postgres.Migrations, postgres.SchemaVersion, "SchemaVersion is the number of migrations")
}
