package sqldb_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/syncbuf"
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/sqldb"
)

// writeConfig writes a dovecot-sql.conf.ext for db with the given queries.
func writeConfig(t testing.TB, db *testDB, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dovecot-sql.conf.ext")
	content := fmt.Sprintf("# written by %s\ndriver = %s\nconnect = %s\n%s\n", t.Name(), db.driver, db.connect, strings.Join(lines, "\n"))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// postfixAdminQueries are the queries of PostfixAdmin's documentation,
// with the user's home under /var/vmail.
func postfixAdminQueries(db *testDB) []string {
	return []string{
		"default_pass_scheme = PLAIN",
		"password_query = SELECT username AS user, password, allow_nets FROM mailbox \\",
		"  WHERE username = '%u' AND active = '1'",
		"user_query = SELECT " + db.concat("'/var/vmail/'", "maildir") + " AS home, 5000 AS uid, 5000 AS gid \\",
		"  FROM mailbox WHERE username = '%u' AND active = '1'",
	}
}

func openDB(t testing.TB, path string) (*sqldb.DB, *syncbuf.Buffer) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	db, err := sqldb.OpenFile(path, sqldb.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db, logs
}

func addUsers(t testing.TB, db *testDB) {
	hash, err := passwd.Hash("SHA512-CRYPT", []byte("alice-pw"))
	require.NoError(t, err)
	db.exec(t, "INSERT INTO mailbox (username, password, maildir, local_part, domain, active, allow_nets) VALUES "+
		"('alice@example.org', '"+hash+"', 'example.org/alice/', 'alice', 'example.org', 1, NULL), "+
		"('bob@example.org', 'bob-pw', 'example.org/bob/', 'bob', 'example.org', 1, NULL), "+
		"('carol@example.org', '{PLAIN}carol-pw', 'example.org/carol/', 'carol', 'example.org', 0, NULL), "+
		"('dave@example.org', NULL, 'example.org/dave/', 'dave', 'example.org', 1, NULL), "+
		"('erin@example.org', '{PLAIN}erin-pw', 'example.org/erin/', 'erin', 'example.org', 1, '192.0.2.0/24'), "+
		"('fred@example.org', '', 'example.org/fred/', 'fred', 'example.org', 1, NULL), "+
		"('gina@example.org', '{NOSUCH}abc', 'example.org/gina/', 'gina', 'example.org', 1, NULL)")
}

func TestLookup(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tdb *testDB) {
		addUsers(t, tdb)
		db, logs := openDB(t, writeConfig(t, tdb, postfixAdminQueries(tdb)...))
		ctx := context.Background()

		e, err := db.Lookup(ctx, "alice@example.org")
		require.NoError(t, err)
		assert.Equal(t, "alice@example.org", e.User)
		require.NoError(t, passwd.Verify(e.Password, []byte("alice-pw")))
		assert.Equal(t, "/var/vmail/example.org/alice/", e.Home)
		assert.Equal(t, "5000", e.UID)
		assert.Equal(t, "5000", e.GID)
		assert.Empty(t, e.Extra, "a NULL allow_nets is no field")

		e, err = db.Lookup(ctx, "bob@example.org")
		require.NoError(t, err)
		assert.Equal(t, "{PLAIN}bob-pw", e.Password, "default_pass_scheme in front of a bare password")

		e, err = db.Lookup(ctx, "erin@example.org")
		require.NoError(t, err)
		assert.Equal(t, []string{"allow_nets=192.0.2.0/24"}, e.Extra)

		e, err = db.Lookup(ctx, "gina@example.org")
		require.NoError(t, err, "an unknown scheme is the store's to refuse, when it checks the hash")
		assert.ErrorIs(t, passwd.Verify(e.Password, []byte("abc")), passwd.ErrUnknownScheme)

		for _, name := range []string{"nobody@example.org", "carol@example.org"} {
			_, err = db.Lookup(ctx, name)
			assert.ErrorIs(t, err, passwd.ErrNotFound, name)
		}
		for _, name := range []string{"dave@example.org", "fred@example.org"} {
			_, err = db.Lookup(ctx, name)
			assert.ErrorIs(t, err, passwd.ErrInvalidEntry, name)
			assert.Contains(t, err.Error(), "NULL or empty password")
		}
		assert.NotContains(t, logs.String(), "$6$", "no hash is logged")
	})
}

// A user name is a bound parameter: quotes and SQL in it find no row and
// run nothing.
func TestLookupInjection(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tdb *testDB) {
		addUsers(t, tdb)
		db, _ := openDB(t, writeConfig(t, tdb, postfixAdminQueries(tdb)...))
		before := tdb.count(t)
		for _, name := range []string{
			"x' OR '1'='1",
			"x' OR '1'='1' -- ",
			`x\' OR 1=1 -- `,
			"x'; DELETE FROM mailbox; --",
			"x'; DROP TABLE mailbox; --",
			"' UNION SELECT 'alice@example.org', '{PLAIN}x', NULL -- ",
			"alice@example.org' -- ",
			"%u",
		} {
			_, err := db.Lookup(context.Background(), name)
			assert.ErrorIs(t, err, passwd.ErrNotFound, "%q", name)
		}
		assert.Equal(t, before, tdb.count(t), "no statement but the query ran")
	})
}

// Two rows for one user refuse the login, as in Dovecot.
func TestLookupTwoRows(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tdb *testDB) {
		addUsers(t, tdb)
		db, _ := openDB(t, writeConfig(t, tdb,
			"password_query = SELECT password FROM mailbox WHERE domain = '%d' AND password IS NOT NULL"))
		_, err := db.Lookup(context.Background(), "alice@example.org")
		require.ErrorIs(t, err, passwd.ErrInvalidEntry)
		assert.Contains(t, err.Error(), "returned 2 rows")
		assert.NotContains(t, err.Error(), "$6$")
	})
}

// userdb_ columns of password_query are Dovecot's prefetch: user_query
// is not run (here it would fail).
func TestLookupPrefetch(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tdb *testDB) {
		addUsers(t, tdb)
		db, _ := openDB(t, writeConfig(t, tdb,
			"password_query = SELECT password, "+tdb.concat("'/srv/'", "maildir")+" AS userdb_home, "+
				"'maildir:~/Mail' AS userdb_mail, 8 AS userdb_uid, 9 AS userdb_gid, "+
				"'*:storage=1G' AS userdb_quota_rule, CASE WHEN active = 1 THEN NULL ELSE 'Y' END AS nologin "+
				"FROM mailbox WHERE username = '%u'",
			"user_query = SELECT home FROM no_such_table WHERE username = '%u'"))
		e, err := db.Lookup(context.Background(), "bob@example.org")
		require.NoError(t, err)
		assert.Equal(t, "/srv/example.org/bob/", e.Home)
		assert.Equal(t, "8", e.UID)
		assert.Equal(t, "9", e.GID)
		assert.Equal(t, []string{"userdb_mail=maildir:~/Mail", "userdb_quota_rule=*:storage=1G"}, e.Extra)

		e, err = db.Lookup(context.Background(), "carol@example.org")
		require.NoError(t, err)
		assert.Contains(t, e.Extra, "nologin=Y")
	})
}

// A database that goes away fails lookups with an error that is not
// ErrNotFound (the client is told to try later), and is used again when
// it is back, without reopening.
func TestLookupReconnects(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tdb *testDB) {
		if tdb.driver == "sqlite" {
			t.Skip("an SQLite file has no server to restart: an open connection keeps the file it opened")
		}
		addUsers(t, tdb)
		db, _ := openDB(t, writeConfig(t, tdb, postfixAdminQueries(tdb)...))
		ctx := context.Background()
		_, err := db.Lookup(ctx, "bob@example.org")
		require.NoError(t, err)
		require.NoError(t, db.Ping(ctx))

		reconnect := tdb.disconnect(t)
		_, err = db.Lookup(ctx, "bob@example.org")
		require.Error(t, err)
		assert.NotErrorIs(t, err, passwd.ErrNotFound)
		assert.NotErrorIs(t, err, passwd.ErrInvalidEntry)
		assert.Error(t, db.Ping(ctx))

		reconnect()
		_, err = db.Lookup(ctx, "bob@example.org")
		require.NoError(t, err)
	})
}

// A database that is down when it is opened: Open succeeds, lookups fail
// until it is up.
func TestOpenWhileDown(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tdb *testDB) {
		addUsers(t, tdb)
		path := writeConfig(t, tdb, postfixAdminQueries(tdb)...)
		reconnect := tdb.disconnect(t)
		db, _ := openDB(t, path)
		_, err := db.Lookup(context.Background(), "bob@example.org")
		require.Error(t, err)
		assert.NotErrorIs(t, err, passwd.ErrNotFound)
		reconnect()
		_, err = db.Lookup(context.Background(), "bob@example.org")
		require.NoError(t, err)
	})
}

func TestOpenFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, content, want string }{
		{"unknown key", "driver = sqlite\nconnect = /x\npassword_query = SELECT 1\nuser_querry = SELECT 2\n",
			"dovecot-sql.conf.ext:4: user_querry: unknown setting"},
		{"no password_query", "driver = sqlite\nconnect = /x\n", "password_query: missing"},
		{"no driver", "connect = /x\npassword_query = SELECT 1\n", "driver: missing"},
		{"bad driver", "driver = oracle\nconnect = /x\npassword_query = SELECT 1\n", "dovecot-sql.conf.ext:1: driver: \"oracle\" is not supported"},
		{"bad query", "driver = pgsql\nconnect = host=x\npassword_query = SELECT password FROM t WHERE u = '%u\n",
			"dovecot-sql.conf.ext:3: password_query: a string literal opened at byte 33 is not closed"},
		{"bad variable", "driver = mysql\nconnect = host=x\n\npassword_query = SELECT password FROM t WHERE u = '%w'\n",
			"dovecot-sql.conf.ext:4: password_query: %w: the password"},
		{"bad connect key", "driver = mysql\nconnect = host=x dbnme=y\npassword_query = SELECT 1\n", "dovecot-sql.conf.ext:2: connect: unknown key \"dbnme\""},
		{"bad scheme", "driver = sqlite\nconnect = /x\npassword_query = SELECT 1\ndefault_pass_scheme = ROT13\n",
			"dovecot-sql.conf.ext:4: default_pass_scheme: \"ROT13\" is not a scheme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name, "dovecot-sql.conf.ext")
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o600))
			_, err := sqldb.OpenFile(path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			_, err = sqldb.ReadConfig(path)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := sqldb.OpenFile(filepath.Join(dir, "missing.conf"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// The password in a pgsql connect string never reaches an error.
func TestConnectErrorHidesPassword(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.conf")
	require.NoError(t, os.WriteFile(path, []byte("driver = pgsql\nconnect = host=x port=notaport password=hunter2\npassword_query = SELECT 1\n"), 0o600))
	_, err := sqldb.OpenFile(path)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
	var buf bytes.Buffer
	fmt.Fprint(&buf, err)
	assert.NotContains(t, buf.String(), "hunter2")
}

// Delivery asks user_query alone, as Dovecot's LMTP asks the userdb: a
// user whose password is NULL still gets mail; an inactive one does not.
func TestLookupUser(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tdb *testDB) {
		addUsers(t, tdb)
		db, _ := openDB(t, writeConfig(t, tdb, postfixAdminQueries(tdb)...))
		ctx := context.Background()
		e, err := db.LookupUser(ctx, "dave@example.org")
		require.NoError(t, err)
		assert.Equal(t, "/var/vmail/example.org/dave/", e.Home)
		assert.Empty(t, e.Password)
		_, err = db.LookupUser(ctx, "carol@example.org")
		assert.ErrorIs(t, err, passwd.ErrNotFound)

		// Without user_query, Lookup's fields, without the password.
		db, _ = openDB(t, writeConfig(t, tdb, "password_query = SELECT password, maildir AS userdb_home FROM mailbox WHERE username = '%u'"))
		e, err = db.LookupUser(ctx, "bob@example.org")
		require.NoError(t, err)
		assert.Equal(t, "example.org/bob/", e.Home)
		assert.Empty(t, e.Password)
	})
}

// Through the maildir store: a message for dave, whose password is NULL,
// is delivered to the home user_query gives.
func TestDeliverWithUserQuery(t *testing.T) {
	tdb := sqliteDB(t)
	tdb.exec(t, mailboxSchema)
	addUsers(t, tdb)
	root := t.TempDir()
	db, _ := openDB(t, writeConfig(t, tdb, "default_pass_scheme = PLAIN",
		"password_query = SELECT password FROM mailbox WHERE username = '%u' AND active = '1'",
		"user_query = SELECT '"+root+"/' || maildir AS home FROM mailbox WHERE username = '%u' AND active = '1'"))
	b, err := maildir.New("%h/Maildir", db, maildir.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	require.NoError(t, b.Deliver(context.Background(), "dave@example.org", strings.NewReader("Subject: hi\n\nhello\n")))
	entries, err := os.ReadDir(filepath.Join(root, "example.org", "dave", "Maildir", "new"))
	require.NoError(t, err)
	assert.Len(t, entries, 1)
	err = b.Deliver(context.Background(), "carol@example.org", strings.NewReader("Subject: hi\n\nhello\n"))
	assert.ErrorIs(t, err, pop3.ErrNoSuchUser)
}

// Ping prepares the queries: one that names a missing column fails there,
// at start-up, rather than at every login.
func TestPingPreparesQueries(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tdb *testDB) {
		db, _ := openDB(t, writeConfig(t, tdb, "password_query = SELECT passwrd FROM mailbox WHERE username = '%u'"))
		err := db.Ping(context.Background())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "cannot prepare password_query")
		db, _ = openDB(t, writeConfig(t, tdb, postfixAdminQueries(tdb)...))
		require.NoError(t, db.Ping(context.Background()))
	})
}

// A user column other than the name looked up renames the user, as in
// Dovecot: here a login without the domain.
func TestLookupRenames(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tdb *testDB) {
		addUsers(t, tdb)
		db, _ := openDB(t, writeConfig(t, tdb, "default_pass_scheme = PLAIN",
			"password_query = SELECT username AS user, password FROM mailbox WHERE username = "+tdb.concat("'%n'", "'@example.org'")))
		e, err := db.Lookup(context.Background(), "bob")
		require.NoError(t, err)
		assert.Equal(t, []string{"user=bob@example.org"}, e.Extra)
		e, err = db.Lookup(context.Background(), "bob@example.org")
		require.NoError(t, err)
		assert.Empty(t, e.Extra, "the same name: no rename")
	})
}
