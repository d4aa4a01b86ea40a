package postgres_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
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
	addUser(t, b, "alice", "PLAIN", "pw", "Subject: x\n\nx\n", "Subject: y\n\ny\n")
	user, err := b.Login(ctxFor(t), &pop3.ConnInfo{}, "alice", "pw")
	require.NoError(t, err)
	mb, err := user.Open(ctxFor(t))
	require.NoError(t, err)
	require.NoError(t, user.(pop3.LoginRecorder).RecordLogin(ctxFor(t), time.Now()), "the role may record logins")
	require.NoError(t, mb.(pop3.RetrievalMailbox).Retrieved(ctxFor(t), []int{1}, time.Now()), "and retrievals")
	require.NoError(t, mb.Delete(ctxFor(t), []int{0}))
	require.NoError(t, mb.Close())
}

// A database that the first release made and used (schema version 1)
// migrates to the current version, keeping its mail, and the new columns
// start empty: no login recorded, no message retrieved.
func TestMigrateFromVersion1(t *testing.T) {
	pool, err := postgres.Connect(ctxFor(t), pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	applied, err := postgres.MigrateTo(ctxFor(t), pool, 1)
	require.NoError(t, err)
	require.Equal(t, []int{1}, applied)
	newColumns := func() int {
		var n int
		require.NoError(t, pool.QueryRow(ctxFor(t), `SELECT count(*) FROM information_schema.columns
WHERE (table_name, column_name) IN (('pop3_users', 'last_login'), ('pop3_messages', 'first_retrieved'))`).Scan(&n))
		return n
	}
	require.Zero(t, newColumns(), "version 1 as released")
	_, err = postgres.New(ctxFor(t), pool)
	require.ErrorIs(t, err, postgres.ErrSchemaOutdated, "New refuses a version 1 database")

	// Data as version 1 stored it.
	_, err = pool.Exec(ctxFor(t), "INSERT INTO pop3_users (name, password, next_uid) VALUES ('alice', '{PLAIN}pw', 3)")
	require.NoError(t, err)
	for uid, msg := range []string{"one 1\r\nx\r\n", "two 2\r\nx\r\n"} {
		_, err := pool.Exec(ctxFor(t), "INSERT INTO pop3_messages (user_id, uid, size, chunks) SELECT id, $1, $2, 1 FROM pop3_users", uid+1, len(msg))
		require.NoError(t, err)
		_, err = pool.Exec(ctxFor(t), "INSERT INTO pop3_chunks (user_id, uid, seq, data) SELECT id, $1, 0, $2 FROM pop3_users", uid+1, []byte(msg))
		require.NoError(t, err)
	}

	var mu sync.Mutex
	applied = nil
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			v, err := postgres.Migrate(context.Background(), pool)
			assert.NoError(t, err)
			mu.Lock()
			applied = append(applied, v...)
			mu.Unlock()
		})
	}
	wg.Wait()
	assert.Equal(t, []int{2, 3, 4}, applied, "only the new steps, once")
	assert.Equal(t, 2, newColumns())
	applied, err = postgres.Migrate(ctxFor(t), pool)
	require.NoError(t, err)
	assert.Empty(t, applied)

	b := newBackend(t, pool)
	u, err := b.Login(ctxFor(t), &pop3.ConnInfo{}, "alice", "pw")
	require.NoError(t, err)
	last, err := u.(pop3.LoginRecorder).LastLogin(ctxFor(t))
	require.NoError(t, err)
	assert.True(t, last.IsZero(), "no login recorded before the migration")
	mb, err := u.Open(ctxFor(t))
	require.NoError(t, err)
	require.Len(t, mb.Messages(), 2)
	rm := mb.(pop3.RetrievalMailbox)
	for i := range 2 {
		assert.True(t, rm.FirstRetrieved(i).IsZero(), "message %d", i)
	}
	r, err := mb.Message(ctxFor(t), 1)
	require.NoError(t, err)
	body, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "two 2\r\nx\r\n", string(body))
	now := time.Now()
	require.NoError(t, rm.Retrieved(ctxFor(t), []int{1}, now))
	require.NoError(t, u.(pop3.LoginRecorder).RecordLogin(ctxFor(t), now))
	require.NoError(t, mb.Close())
}

// A database at schema version 3 with mail in it migrates to version 4
// alone: its messages keep the unique-ids clients have seen, a delivery
// goes on from the uid it had reached, and imports work.
func TestMigrateFromVersion3(t *testing.T) {
	pool, err := postgres.Connect(ctxFor(t), pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = postgres.MigrateTo(ctxFor(t), pool, 3)
	require.NoError(t, err)
	_, err = postgres.New(ctxFor(t), pool)
	require.ErrorIs(t, err, postgres.ErrSchemaOutdated, "New refuses a version 3 database")

	// Data as version 3 stored it: uids 1 and 3 left of three.
	var id int64
	require.NoError(t, pool.QueryRow(ctxFor(t), "INSERT INTO pop3_users (name, password, next_uid) VALUES ('alice', '{PLAIN}pw', 4) RETURNING id").Scan(&id))
	for _, uid := range []int{1, 3} {
		msg := fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", uid)
		_, err := pool.Exec(ctxFor(t), "INSERT INTO pop3_messages (user_id, uid, size, chunks, downgraded_size) VALUES ($1, $2, $3, 1, $3)", id, uid, len(msg))
		require.NoError(t, err)
		_, err = pool.Exec(ctxFor(t), "INSERT INTO pop3_chunks (user_id, uid, seq, data) VALUES ($1, $2, 0, $3)", id, uid, []byte(msg))
		require.NoError(t, err)
	}

	applied, err := postgres.Migrate(ctxFor(t), pool)
	require.NoError(t, err)
	assert.Equal(t, []int{4}, applied)
	var nulls int
	require.NoError(t, pool.QueryRow(ctxFor(t), "SELECT count(*) FROM pop3_messages WHERE uidl IS NULL").Scan(&nulls))
	assert.Equal(t, 2, nulls, "the rows there have no imported unique-id")

	b := newBackend(t, pool)
	native := func(uid int) string { return fmt.Sprintf("%d.%d", id, uid) }
	mb, err := open(t, b, "alice", "pw")
	require.NoError(t, err)
	require.Len(t, mb.Messages(), 2)
	assert.Equal(t, native(1), mb.Messages()[0].UID, "unchanged by the migration")
	assert.Equal(t, native(3), mb.Messages()[1].UID)
	require.NoError(t, mb.Close())

	require.NoError(t, b.Deliver(ctxFor(t), "alice", strings.NewReader("Subject: 4\n\n")))
	require.ErrorIs(t, b.Import(ctxFor(t), "alice", native(3), strings.NewReader("Subject: clash\n\n")), postgres.ErrUIDLExists)
	require.NoError(t, b.Import(ctxFor(t), "alice", "from-the-old-server", strings.NewReader("Subject: old\n\n")))
	ids, err := uidlsOf(b.Listing(ctxFor(t), "alice"))
	require.NoError(t, err)
	assert.Equal(t, []string{native(1), native(3), native(4), "from-the-old-server"}, ids)
}

// The database itself holds pop3_messages.uidl to RFC 1939 §7 and to one
// message per maildrop, whatever writes the row: SQL written directly is
// refused as Import is.
func TestUIDLConstraints(t *testing.T) {
	pool := testPool(t, "")
	b := newBackend(t, pool)
	addUser(t, b, "alice", "PLAIN", "pw")
	addUser(t, b, "bob", "PLAIN", "pw")
	insert := func(user string, uid int, uidl any) error {
		_, err := pool.Exec(ctxFor(t), `INSERT INTO pop3_messages (user_id, uid, size, chunks, uidl)
SELECT id, $2, 0, 0, $3 FROM pop3_users WHERE name = $1`, user, uid, uidl)
		return err
	}
	for i, uidl := range []string{"", strings.Repeat("a", 71), "a b", "a\tb", "a\x7f", "grüße", "\u00a0"} {
		err := insert("alice", 100+i, uidl)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, "%q", uidl)
		assert.Equal(t, "23514", pgErr.Code, "%q: check_violation", uidl)
		assert.Equal(t, "pop3_messages_uidl_check", pgErr.ConstraintName, "%q", uidl)
	}

	require.NoError(t, insert("alice", 200, strings.Repeat("~", 70)))
	require.NoError(t, insert("alice", 201, nil))
	require.NoError(t, insert("alice", 202, nil), "NULLs, the store's own, are not one another's duplicates")
	require.NoError(t, insert("bob", 200, strings.Repeat("~", 70)), "another maildrop")
	err := insert("alice", 203, strings.Repeat("~", 70))
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "23505", pgErr.Code, "unique_violation")
	assert.Equal(t, "pop3_messages_uidl_unique", pgErr.ConstraintName)
}
