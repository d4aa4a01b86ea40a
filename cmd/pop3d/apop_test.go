package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/pgtest"
	"github.com/gopop3/pop3/internal/testprog"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/pop3test"
	"github.com/gopop3/pop3/postgres"
)

// timestampPattern is the greeting's APOP timestamp (RFC 1939 §7).
const timestampPattern = `^<\d+\.\d+\.[0-9a-f]+@localhost>$`

// checkAPOPOffered checks, on a new connection to addr, that the greeting
// has a timestamp and that user logs in with APOP and secret.
func checkAPOPOffered(t *testing.T, addr, user, secret string) {
	t.Helper()
	c := dial(t, addr)
	ts := c.Timestamp()
	require.Regexp(t, timestampPattern, ts, "greeting %q", c.Greeting())
	c.OK("APOP " + user + " " + pop3.APOPDigest(ts, secret))
	c.Quit()
}

// checkAPOPNotOffered checks, on new connections to addr, that APOP is
// nowhere: no timestamp in the greeting, not in CAPA, an unknown command.
func checkAPOPNotOffered(t *testing.T, addr string) {
	t.Helper()
	c := dial(t, addr)
	assert.Empty(t, c.Timestamp(), "greeting %q", c.Greeting())
	for _, capability := range c.Capa() {
		assert.NotContains(t, capability, "APOP")
	}
	c.Quit()
	pop3test.Dial(t, addr).Transcript(`
		S: +OK POP3 server ready
		C: APOP alice 0123456789abcdef0123456789abcdef
		S: -ERR unknown command
		C: QUIT
		S: +OK...
		S: <closed>`)
}

// With -passwd, APOP is offered when some user has a cleartext password,
// and never with -disable APOP; start-up logs the decision and its
// reason.
func TestAPOPOfferPasswd(t *testing.T) {
	hash, err := passwd.Hash("SHA512-CRYPT", []byte("alice-pw"))
	require.NoError(t, err)
	hashed := "alice:" + hash + "\ncarol:{SSHA256}c2FsdHNhbHRzYWx0c2FsdHNhbHRzYWx0c2FsdHNhbHQ=\n"
	for _, tc := range []struct {
		name    string
		users   string
		disable bool
		offered bool
		log     string // the reason logged, with "FILE" for the passwd-file
	}{
		{"hashes only", hashed, false, false,
			`msg="pop3d: APOP not offered" reason="no user of FILE has a cleartext password ({PLAIN}, {CLEARTEXT}); restart pop3d once one has to offer APOP"`},
		{"one cleartext user", hashed + "bob:{PLAIN}bob-pw\n", false, true,
			`msg="pop3d: APOP offered" reason="1 user of FILE with a cleartext password"`},
		{"base64 cleartext", hashed + "bob:{PLAIN.B64}Ym9iLXB3\n", false, true,
			`msg="pop3d: APOP offered" reason="1 user of FILE with a cleartext password"`},
		{"cleartext, -disable APOP", hashed + "bob:{PLAIN}bob-pw\n", true, false,
			`msg="pop3d: APOP not offered" reason="-disable APOP"`},
		{"hashes only, -disable APOP", hashed, true, false,
			`msg="pop3d: APOP not offered" reason="-disable APOP"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			file := filepath.Join(root, "passwd")
			require.NoError(t, os.WriteFile(file, []byte(tc.users), 0o600))
			args := []string{"-addr", "127.0.0.1:0", "-maildir", filepath.Join(root, "%n", "Maildir"), "-passwd", file}
			if tc.disable {
				args = append(args, "-disable", "APOP")
			}
			srv := start(t, args...)
			if tc.offered {
				checkAPOPOffered(t, srv.Addr, "bob", "bob-pw")
			} else {
				checkAPOPNotOffered(t, srv.Addr)
			}
			c := dial(t, srv.Addr)
			c.Login("alice", "alice-pw") // USER and PASS, either way
			c.Quit()
			logs := srv.stderr.String()
			assert.Contains(t, logs, "level=INFO "+strings.ReplaceAll(tc.log, "FILE", file))
			assert.Equal(t, 1, strings.Count(logs, `msg="pop3d: APOP`), "logged once:\n%s", logs)
		})
	}
}

// The decision is made at start-up: a cleartext user added to the
// passwd-file later can log in (with USER and PASS), but APOP waits for a
// restart.
func TestAPOPOfferPasswdDecidedAtStart(t *testing.T) {
	store := newMailStore(t)
	hash, err := passwd.Hash("SHA512-CRYPT", []byte("alice-pw"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(store.passwd, []byte("alice:"+hash+"\n"), 0o600))
	srv := start(t, store.args()...)
	checkAPOPNotOffered(t, srv.Addr)

	require.NoError(t, os.WriteFile(store.passwd, []byte("alice:"+hash+"\nbob:{PLAIN}bob-pw\n"), 0o600))
	c := dial(t, srv.Addr)
	assert.Empty(t, c.Timestamp(), "not until a restart")
	c.Login("bob", "bob-pw")
	c.Quit()
	require.NoError(t, srv.stop(t))

	srv = start(t, store.args()...)
	checkAPOPOffered(t, srv.Addr, "bob", "bob-pw")
}

// With -sql and -ldap, whose users cannot be listed, APOP is offered when
// default_pass_scheme is a cleartext scheme (and, for LDAP, auth_bind is
// off). The LDAP directory is down: the decision reads only the file.
func TestAPOPOfferUserDatabases(t *testing.T) {
	conf, _ := sqlDatabase(t, "sqlite")
	root := t.TempDir()
	writeSQLConfig(t, conf, "sqlite", root) // default_pass_scheme = PLAIN
	sqlPLAIN, err := os.ReadFile(conf)
	require.NoError(t, err)
	require.Contains(t, string(sqlPLAIN), "default_pass_scheme = PLAIN\n")
	require.NoError(t, os.MkdirAll(filepath.Join(root, "example.org", "bob", "Maildir"), 0o755))

	ldapBase := fmt.Sprintf("uris = ldap://127.0.0.1:%d\nbase = dc=example,dc=org\n", closedPort(t))
	for _, tc := range []struct {
		name, flag, conf string
		offered          bool
		reason           string
		apopUser         string // who logs in with APOP, "" for no one
	}{
		{"sql PLAIN", "-sql", string(sqlPLAIN), true, "-sql has default_pass_scheme = PLAIN, a cleartext scheme", "bob@example.org"},
		{"sql CLEARTEXT.B64", "-sql", strings.Replace(string(sqlPLAIN), "= PLAIN", "= cleartext.b64", 1), true,
			"-sql has default_pass_scheme = cleartext.b64, a cleartext scheme", ""},
		{"sql default", "-sql", strings.Replace(string(sqlPLAIN), "default_pass_scheme = PLAIN\n", "", 1), false,
			"-sql has default_pass_scheme = MD5, the default, not a cleartext scheme such as PLAIN", ""},
		{"sql SHA512-CRYPT", "-sql", strings.Replace(string(sqlPLAIN), "= PLAIN", "= SHA512-CRYPT", 1), false,
			"-sql has default_pass_scheme = SHA512-CRYPT, not a cleartext scheme", ""},
		{"ldap default", "-ldap", ldapBase, false, "-ldap has default_pass_scheme = CRYPT, the default, not a cleartext scheme", ""},
		{"ldap PLAIN", "-ldap", ldapBase + "default_pass_scheme = PLAIN\n", true, "-ldap has default_pass_scheme = PLAIN, a cleartext scheme", ""},
		{"ldap PLAIN auth_bind", "-ldap", ldapBase + "default_pass_scheme = PLAIN\nauth_bind = yes\n", false,
			"-ldap has auth_bind = yes: the directory checks the passwords, and APOP needs to read them", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "dovecot.conf.ext")
			require.NoError(t, os.WriteFile(file, []byte(tc.conf), 0o600))
			srv := start(t, "-addr", "127.0.0.1:0", "-maildir", "%h/Maildir", tc.flag, file)
			switch {
			case tc.apopUser != "":
				checkAPOPOffered(t, srv.Addr, tc.apopUser, "bob-pw")
			case tc.offered:
				c := dial(t, srv.Addr)
				assert.Regexp(t, timestampPattern, c.Timestamp())
				c.Quit()
			default:
				checkAPOPNotOffered(t, srv.Addr)
			}
			verdict := "APOP not offered"
			if tc.offered {
				verdict = "APOP offered"
			}
			assert.Regexp(t, `level=INFO msg="pop3d: `+verdict+`" reason="`+regexp.QuoteMeta(tc.reason), srv.stderr.String())
		})
	}
}

// With -postgres, APOP is offered when some user's stored password is
// cleartext, as found at start-up.
func TestAPOPOfferPostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	pool, err := postgres.Connect(t.Context(), dsn)
	require.NoError(t, err)
	defer pool.Close()
	_, err = postgres.Migrate(t.Context(), pool)
	require.NoError(t, err)
	admin, err := postgres.New(t.Context(), pool)
	require.NoError(t, err)
	defer admin.Close()
	hash, err := passwd.Hash("SHA512-CRYPT", []byte("alice-pw"))
	require.NoError(t, err)
	require.NoError(t, admin.AddUser(t.Context(), "alice", hash))
	require.NoError(t, admin.AddUser(t.Context(), "carol", "{PLAIN-MD5}5ebe2294ecd0e0f08eab7690d2a6ee69"))

	srv := start(t, "-addr", "127.0.0.1:0", "-postgres", dsn)
	checkAPOPNotOffered(t, srv.Addr)
	assert.Contains(t, srv.stderr.String(), `level=INFO msg="pop3d: APOP not offered" reason="no user of PostgreSQL has a cleartext password`)
	require.NoError(t, srv.stop(t))

	require.NoError(t, admin.AddUser(t.Context(), "bob", "{plain.b64}Ym9iLXB3"))
	srv = start(t, "-addr", "127.0.0.1:0", "-postgres", dsn)
	checkAPOPOffered(t, srv.Addr, "bob", "bob-pw")
	assert.Contains(t, srv.stderr.String(), `level=INFO msg="pop3d: APOP offered" reason="some users of PostgreSQL have a cleartext password"`)
}

// closedPort returns a loopback port that nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	port, err := testprog.FreePort()
	require.NoError(t, err)
	return port
}
