package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/pgtest"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/postgres"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// result is what one run of pop3admin did.
type result struct {
	code           int
	stdout, stderr string
}

// runAdmin runs pop3admin in process with stdin.
func runAdmin(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

func TestPw(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		prefix string
	}{
		{nil, "{BLF-CRYPT}$2y$"},
		{[]string{"-s", "BLF-CRYPT"}, "{BLF-CRYPT}$2y$"},
		{[]string{"-s", "SHA512-CRYPT"}, "{SHA512-CRYPT}$6$"},
		{[]string{"-s", "argon2id"}, "{ARGON2ID}$argon2id$"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			for _, stdin := range []string{"s3cret pw\n", "s3cret pw\r\n", "s3cret pw"} {
				r := runAdmin(t, stdin, append([]string{"pw"}, tc.args...)...)
				require.Equal(t, 0, r.code, r.stderr)
				assert.Empty(t, r.stderr)
				hash, ok := strings.CutSuffix(r.stdout, "\n")
				require.True(t, ok, "one line: %q", r.stdout)
				assert.True(t, strings.HasPrefix(hash, tc.prefix), hash)
				require.NoError(t, passwd.Verify(hash, []byte("s3cret pw")), "stdin %q", stdin)
				assert.ErrorIs(t, passwd.Verify(hash, []byte("s3cret pw\r")), passwd.ErrMismatch)
				assert.NotContains(t, r.stdout+r.stderr, "s3cret")
			}
		})
	}
}

func TestPwRefused(t *testing.T) {
	for _, tc := range []struct {
		name, stdin string
		args        []string
		code        int
		msg         string
	}{
		{"unknown scheme", "pw\n", []string{"-s", "ROT13"}, 2, `unknown password scheme "ROT13"; choose one of ARGON2I, ARGON2ID, BLF-CRYPT`},
		{"empty password", "\n", nil, 1, "empty password"},
		{"no password", "", nil, 1, "empty password"},
		{"CRLF only", "\r\n", nil, 1, "empty password"},
		{"too long for bcrypt", strings.Repeat("x", 73) + "\n", nil, 1, "at most 72 bytes"},
		{"too long", strings.Repeat("x", 2000) + "\n", []string{"-s", "SHA512-CRYPT"}, 1, "longer than 1024 octets"},
		{"argument", "pw\n", []string{"alice"}, 2, `pw: unexpected argument "alice"`},
		{"-hash", "pw\n", []string{"-hash", "{PLAIN}x"}, 2, "flag provided but not defined: -hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runAdmin(t, tc.stdin, append([]string{"pw"}, tc.args...)...)
			assert.Equal(t, tc.code, r.code)
			assert.Empty(t, r.stdout)
			assert.True(t, strings.HasPrefix(r.stderr, "pop3admin: "), r.stderr)
			assert.Contains(t, r.stderr, tc.msg)
			assert.NotContains(t, r.stderr, "xxxxxxxx", "the password is never printed")
		})
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string // in stdout for code 0, in stderr otherwise
	}{
		{"help flag", []string{"-h"}, 0, "Usage: pop3admin [-postgres DSN] COMMAND"},
		{"help command", []string{"help"}, 0, "userdel NAME"},
		{"command help", []string{"useradd", "-h"}, 0, "-hash HASH"},
		{"no arguments", nil, 2, "Commands:"},
		{"unknown command", []string{"frobnicate"}, 2, `pop3admin: unknown command "frobnicate"`},
		{"unknown flag", []string{"-verbose", "users"}, 2, "pop3admin: flag provided but not defined: -verbose"},
		{"missing NAME", []string{"-postgres", "postgres://x@127.0.0.1:1/db", "useradd"}, 2, "pop3admin: useradd: missing the user NAME"},
		{"two NAMEs", []string{"userdel", "a", "b"}, 2, `pop3admin: userdel: unexpected argument "b"`},
		{"hash and scheme", []string{"useradd", "-s", "SHA512-CRYPT", "-hash", "{PLAIN}x", "alice"}, 2, "not both"},
		{"bad hash", []string{"useradd", "-hash", "$2y$05$nothing", "alice"}, 2, `-hash: not a "{SCHEME}..." hash`},
		{"unknown hash scheme", []string{"passwd", "-hash", "{ROT13}nyvpr", "alice"}, 2, "-hash: not a usable password hash: passwd: unknown password scheme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(dsnEnv, "")
			r := runAdmin(t, "pw\n", tc.args...)
			assert.Equal(t, tc.code, r.code, r.stderr)
			if tc.code == 0 {
				assert.Contains(t, r.stdout, tc.out)
				assert.Empty(t, r.stderr)
			} else {
				assert.Contains(t, r.stderr, tc.out)
				assert.Empty(t, r.stdout)
			}
		})
	}
}

func TestMissingDatabase(t *testing.T) {
	t.Setenv(dsnEnv, "")
	for _, cmd := range [][]string{{"users"}, {"migrate"}, {"userdel", "alice"}, {"useradd", "alice"}, {"passwd", "alice"}} {
		r := runAdmin(t, "pw\n", cmd...)
		assert.Equal(t, 2, r.code, cmd)
		assert.Contains(t, r.stderr, "pop3admin: no database: give -postgres DSN, or set POP3_POSTGRES", cmd)
	}
}

func TestUnreachableDatabase(t *testing.T) {
	t.Setenv(dsnEnv, "")
	dsn := "postgres://admin:hunter2secret@127.0.0.1:1/db?connect_timeout=2"
	for _, args := range [][]string{
		{"-postgres", dsn, "users"},
		{"-postgres", dsn, "useradd", "alice"},
		{"migrate", "-postgres", dsn},
	} {
		start := time.Now()
		r := runAdmin(t, "userpassword\n", args...)
		assert.Less(t, time.Since(start), 10*time.Second)
		assert.Equal(t, 1, r.code, args)
		assert.Contains(t, r.stderr, `pop3admin: postgres: cannot reach the database "db" on 127.0.0.1:1 as "admin"`)
		assert.NotContains(t, r.stderr, "hunter2secret")
		assert.NotContains(t, r.stderr, "userpassword")
		assert.Empty(t, r.stdout)
	}
}

// testDB returns the DSN of a new database and a migrated backend on it.
func testDB(t *testing.T) (string, *postgres.Backend) {
	t.Helper()
	t.Setenv(dsnEnv, "")
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	pool, err := postgres.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = postgres.Migrate(ctx, pool)
	require.NoError(t, err)
	b, err := postgres.New(ctx, pool)
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return dsn, b
}

func login(t *testing.T, b *postgres.Backend, name, password string) error {
	t.Helper()
	_, err := b.Login(context.Background(), &pop3.ConnInfo{}, name, password)
	return err
}

// allVersions is "1, 2, ..." up to the schema's version.
func allVersions() string {
	v := make([]string, postgres.SchemaVersion)
	for i := range v {
		v[i] = strconv.Itoa(i + 1)
	}
	return strings.Join(v, ", ")
}

func TestMigrate(t *testing.T) {
	t.Setenv(dsnEnv, "")
	dsn := pgtest.NewDatabase(t)
	r := runAdmin(t, "", "-postgres", dsn, "migrate")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, fmt.Sprintf("applied migrations %s: schema is now at version %d\n", allVersions(), postgres.SchemaVersion), r.stdout)
	r = runAdmin(t, "", "migrate", "-postgres", dsn)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, fmt.Sprintf("schema is current at version %d\n", postgres.SchemaVersion), r.stdout)
}

func TestUseraddMigratesFirst(t *testing.T) {
	t.Setenv(dsnEnv, "")
	dsn := pgtest.NewDatabase(t)
	r := runAdmin(t, "pw\n", "-postgres", dsn, "useradd", "alice")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, fmt.Sprintf("pop3admin: migrated the schema to version %d (applied %s)\n", postgres.SchemaVersion, allVersions()), r.stderr)
	assert.Equal(t, "added user \"alice\"\n", r.stdout)
}

func TestUsers(t *testing.T) {
	dsn, b := testDB(t)
	for _, tc := range []struct {
		args  []string
		stdin string
	}{
		{[]string{"useradd", "Alice"}, "alice's password\n"},
		{[]string{"useradd", "-s", "ARGON2ID", "bob"}, "bob's password\r\n"},
		{[]string{"useradd", "-hash", "-", "carol"}, "{PLAIN}carol's password\n"},
	} {
		r := runAdmin(t, tc.stdin, append([]string{"-postgres", dsn}, tc.args...)...)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Empty(t, r.stderr)
	}
	require.NoError(t, login(t, b, "alice", "alice's password"))
	require.NoError(t, login(t, b, "bob", "bob's password"))
	require.NoError(t, login(t, b, "carol", "carol's password"))

	ctx := context.Background()
	require.NoError(t, b.Deliver(ctx, "alice", strings.NewReader("Subject: 1\n\none\n")))      // 19 octets in CRLF
	require.NoError(t, b.Deliver(ctx, "alice", strings.NewReader("Subject: 2\r\n\r\nto\r\n"))) // 18
	require.NoError(t, b.Deliver(ctx, "bob", strings.NewReader("x\r\n")))
	u, err := b.Login(ctx, &pop3.ConnInfo{}, "bob", "bob's password")
	require.NoError(t, err)
	mb, err := u.Open(ctx)
	require.NoError(t, err)
	defer mb.Close()

	r := runAdmin(t, "", "-postgres", dsn, "users")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, ""+
		"NAME   MESSAGES  OCTETS  LOCKED\n"+
		"alice  2         37      -\n"+
		"bob    1         3       locked\n"+
		"carol  0         0       -\n", r.stdout)
}

func TestUseraddTwice(t *testing.T) {
	dsn, _ := testDB(t)
	r := runAdmin(t, "pw\n", "-postgres", dsn, "useradd", "alice")
	require.Equal(t, 0, r.code, r.stderr)
	r = runAdmin(t, "pw\n", "-postgres", dsn, "useradd", "ALICE")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "pop3admin: user \"alice\" already exists\n", r.stderr)
	assert.Empty(t, r.stdout)
}

func TestPasswd(t *testing.T) {
	dsn, b := testDB(t)
	t.Setenv(dsnEnv, dsn) // the DSN from the environment
	r := runAdmin(t, "old password\n", "useradd", "alice")
	require.Equal(t, 0, r.code, r.stderr)
	r = runAdmin(t, "new password\n", "passwd", "-s", "SHA512-CRYPT", "alice")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "set the password of \"alice\"\n", r.stdout)
	require.NoError(t, login(t, b, "alice", "new password"))
	assert.ErrorIs(t, login(t, b, "alice", "old password"), pop3.ErrAuthFailed)

	r = runAdmin(t, "", "passwd", "-hash", "{PLAIN}third", "alice")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "warning: a {PLAIN} hash on the command line", "a cleartext password in ps is pointed out")
	require.NoError(t, login(t, b, "alice", "third"))

	hash, err := passwd.Hash("SHA512-CRYPT", []byte("fourth"))
	require.NoError(t, err)
	r = runAdmin(t, hash+"\n", "passwd", "-hash", "-", "alice")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	require.NoError(t, login(t, b, "alice", "fourth"), "-hash - reads the hash from stdin")
	r = runAdmin(t, "{NOSUCH}x\n", "passwd", "-hash", "-", "alice")
	assert.Equal(t, 2, r.code, "a bad hash from stdin is refused as from the flag")
	require.NoError(t, login(t, b, "alice", "fourth"), "unchanged")

	r = runAdmin(t, "pw\n", "passwd", "nobody")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "pop3admin: no such user \"nobody\"\n", r.stderr)

	r = runAdmin(t, "\n", "passwd", "alice")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "pop3admin: empty password")
	require.NoError(t, login(t, b, "alice", "fourth"), "unchanged")
}

func TestFlagWins(t *testing.T) {
	dsn, _ := testDB(t)
	t.Setenv(dsnEnv, "postgres://x:envsecret@127.0.0.1:1/nowhere?connect_timeout=2")
	r := runAdmin(t, "", "-postgres", dsn, "users")
	require.Equal(t, 0, r.code, r.stderr)
	r = runAdmin(t, "", "users")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `cannot reach the database "nowhere"`)
	assert.NotContains(t, r.stderr, "envsecret")
}

func TestUserdel(t *testing.T) {
	dsn, b := testDB(t)
	ctx := context.Background()
	for _, name := range []string{"alice", "bob"} {
		r := runAdmin(t, name+"'s password\n", "-postgres", dsn, "useradd", name)
		require.Equal(t, 0, r.code, r.stderr)
		require.NoError(t, b.Deliver(ctx, name, strings.NewReader("Subject: hi\n\nhi\n")))
	}
	u, err := b.Login(ctx, &pop3.ConnInfo{}, "alice", "alice's password")
	require.NoError(t, err)
	mb, err := u.Open(ctx)
	require.NoError(t, err)

	r := runAdmin(t, "", "-postgres", dsn, "userdel", "alice")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "pop3admin: the maildrop of \"alice\" is locked by a session (a client is connected); try again later\n", r.stderr)
	ok, err := b.UserExists(ctx, "alice")
	require.NoError(t, err)
	assert.True(t, ok, "a locked user is not deleted")

	r = runAdmin(t, "", "-postgres", dsn, "userdel", "Bob")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "deleted user \"bob\" and their mail\n", r.stdout)
	ok, err = b.UserExists(ctx, "bob")
	require.NoError(t, err)
	assert.False(t, ok)

	require.NoError(t, mb.Close())
	r = runAdmin(t, "", "-postgres", dsn, "userdel", "alice")
	require.Equal(t, 0, r.code, r.stderr)

	r = runAdmin(t, "", "-postgres", dsn, "userdel", "alice")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "pop3admin: no such user \"alice\"\n", r.stderr)

	r = runAdmin(t, "", "-postgres", dsn, "users")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "NAME  MESSAGES  OCTETS  LOCKED\n", r.stdout)
}
