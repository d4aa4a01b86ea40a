package postgres_test

import (
	"context"
	"crypto/rand"
	"net/url"
	"strings"
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

// Nodes may connect as a role that cannot change the schema: on a current
// schema Migrate needs no CREATE privilege, and the node serves.
func TestMigrateCurrentSchemaNeedsNoCreate(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	owner, err := postgres.Connect(ctxFor(t), dsn)
	require.NoError(t, err)
	t.Cleanup(owner.Close)
	_, err = postgres.Migrate(ctxFor(t), owner)
	require.NoError(t, err)
	role := "pop3_node_" + strings.ReplaceAll(strings.ToLower(rand.Text()[:8]), "-", "")
	for _, sql := range []string{
		"CREATE ROLE " + role + " LOGIN",
		"GRANT USAGE ON SCHEMA public TO " + role,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + role,
		"REVOKE CREATE ON SCHEMA public FROM PUBLIC",
	} {
		_, err := owner.Exec(ctxFor(t), sql)
		require.NoError(t, err, sql)
	}

	u, err := url.Parse(dsn)
	require.NoError(t, err)
	u.User = url.User(role)
	node, err := postgres.Connect(ctxFor(t), u.String())
	require.NoError(t, err)
	t.Cleanup(node.Close)
	_, err = node.Exec(ctxFor(t), "CREATE TABLE pop3_probe (x int)")
	require.Error(t, err, "the role cannot create tables")

	applied, err := postgres.Migrate(ctxFor(t), node)
	require.NoError(t, err)
	assert.Empty(t, applied)
	b := newBackend(t, node)
	addUser(t, b, "alice", "PLAIN", "pw", "Subject: x\n\nx\n")
	mb, err := open(t, b, "alice", "pw")
	require.NoError(t, err)
	require.NoError(t, mb.Delete(ctxFor(t), []int{0}))
	require.NoError(t, mb.Close())
}
