package ldapdb_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/slapdtest"
	"github.com/gopop3/pop3/internal/syncbuf"
	"github.com/gopop3/pop3/ldapdb"
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/passwd"
)

// person is a posixAccount/inetOrgPerson entry under ou=people.
func person(t testing.TB, uid, password string, extra ...string) string {
	t.Helper()
	lines := []string{
		"dn: uid=" + uid + "," + slapdtest.PeopleDN,
		"objectClass: inetOrgPerson", "objectClass: posixAccount",
		"uid: " + uid, "cn: " + uid, "sn: " + uid,
		"uidNumber: 1000", "gidNumber: 1000",
		"homeDirectory: /home/" + uid,
	}
	if password != "" {
		lines = append(lines, "userPassword: "+password)
	}
	return strings.Join(append(lines, extra...), "\n") + "\n\n"
}

func hash(t testing.TB, scheme, password string) string {
	h, err := passwd.Hash(scheme, []byte(password))
	require.NoError(t, err)
	return h
}

// directory starts slapd with the test's users: alice ({SSHA}), bob
// ({CRYPT} SHA512), carol (no userPassword), erin (allow_nets in her
// description), and two entries named dup.
func directory(t testing.TB) *slapdtest.Server {
	s := slapdtest.Start(t)
	s.Add(t, person(t, "alice", hash(t, "SSHA", "alice-pw"), "mail: alice@example.org")+
		person(t, "bob", "{CRYPT}"+strings.TrimPrefix(hash(t, "SHA512-CRYPT", "bob-pw"), "{SHA512-CRYPT}"))+
		person(t, "carol", "")+
		person(t, "erin", hash(t, "SSHA", "erin-pw"), "description: 192.0.2.0/24")+
		person(t, "dup", hash(t, "SSHA", "dup-pw"))+
		"dn: ou=more,"+slapdtest.BaseDN+"\nobjectClass: organizationalUnit\nou: more\n\n"+
		"dn: uid=dup,ou=more,"+slapdtest.BaseDN+"\nobjectClass: account\nobjectClass: posixAccount\n"+
		"uid: dup\ncn: dup\nuidNumber: 1001\ngidNumber: 1001\nhomeDirectory: /home/dup2\n")
	return s
}

func writeConfig(t testing.TB, lines ...string) string {
	path := filepath.Join(t.TempDir(), "dovecot-ldap.conf.ext")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	return path
}

// serviceConfig is a lookup as the read-only service account, over
// StartTLS.
func serviceConfig(s *slapdtest.Server, extra ...string) []string {
	return append([]string{
		"uris = " + s.URI,
		"tls = yes",
		"tls_ca_cert_file = " + s.CAFile,
		"dn = " + s.ServiceDN,
		"dnpass = " + s.ServicePassword,
		"base = " + slapdtest.BaseDN,
		"pass_attrs = uid=user,userPassword=password,description=allow_nets",
	}, extra...)
}

func open(t testing.TB, path string) (*ldapdb.DB, *syncbuf.Buffer) {
	logs := &syncbuf.Buffer{}
	db, err := ldapdb.OpenFile(path, ldapdb.WithLogger(slog.New(slog.NewTextHandler(logs, nil))),
		ldapdb.WithTimeouts(2*time.Second, 5*time.Second))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db, logs
}

func TestLookup(t *testing.T) {
	t.Parallel()
	s := directory(t)
	for name, uris := range map[string][]string{
		"starttls": {"uris = " + s.URI, "tls = yes"},
		"ldaps":    {"uris = " + s.LDAPSURI},
		"plain":    {"hosts = " + s.Addr},
		"failover": {"uris = ldap://127.0.0.1:1 " + s.URI},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := append(serviceConfig(s)[2:], uris...)
			db, _ := open(t, writeConfig(t, cfg...))
			ctx := context.Background()
			require.NoError(t, db.Ping(ctx))

			e, err := db.Lookup(ctx, "alice")
			require.NoError(t, err)
			assert.Equal(t, "alice", e.User)
			require.NoError(t, passwd.Verify(e.Password, []byte("alice-pw")))
			assert.Equal(t, "/home/alice", e.Home)
			assert.Equal(t, "1000", e.UID)
			assert.Equal(t, "1000", e.GID)
			assert.Empty(t, e.DN, "no auth_bind: the hash is checked here")

			e, err = db.Lookup(ctx, "bob")
			require.NoError(t, err)
			require.NoError(t, passwd.Verify(e.Password, []byte("bob-pw")), "{CRYPT} with a SHA512 crypt hash")

			e, err = db.Lookup(ctx, "erin")
			require.NoError(t, err)
			assert.Equal(t, []string{"allow_nets=192.0.2.0/24"}, e.Extra)

			_, err = db.Lookup(ctx, "nobody")
			assert.ErrorIs(t, err, passwd.ErrNotFound)
			_, err = db.Lookup(ctx, "carol")
			assert.ErrorIs(t, err, passwd.ErrInvalidEntry, "no userPassword")
			_, err = db.Lookup(ctx, "dup")
			assert.ErrorIs(t, err, passwd.ErrInvalidEntry, "two entries")
			assert.Contains(t, err.Error(), "more than one entry")
		})
	}
}

// Filter values are escaped: a name cannot widen the search.
func TestLookupInjection(t *testing.T) {
	t.Parallel()
	s := directory(t)
	db, _ := open(t, writeConfig(t, serviceConfig(s)...))
	for _, name := range []string{"*", "a*", "*)(uid=*", "alice)(|(uid=*", "alice)", `\2a`, "alice\x00", "*))%00"} {
		_, err := db.Lookup(context.Background(), name)
		assert.ErrorIs(t, err, passwd.ErrNotFound, "%q", name)
	}
}

// Separate pass and user searches, and prefetch with userdb_ fields and
// templates.
func TestLookupUserAttrs(t *testing.T) {
	t.Parallel()
	s := directory(t)
	db, _ := open(t, writeConfig(t, serviceConfig(s,
		"user_filter = (&(objectClass=inetOrgPerson)(uid=%n))",
		"user_attrs = homeDirectory=home,=mail=maildir:~/Mail/%{ldap:uid},uidNumber=uid=%$0")...))
	e, err := db.Lookup(context.Background(), "alice")
	require.NoError(t, err)
	assert.Equal(t, "/home/alice", e.Home)
	assert.Equal(t, "10000", e.UID)
	assert.Equal(t, []string{"userdb_mail=maildir:~/Mail/alice"}, e.Extra)

	db, _ = open(t, writeConfig(t, serviceConfig(s,
		"pass_attrs = userPassword=password,homeDirectory=userdb_home,=userdb_mail=maildir:/srv/%u",
		"user_filter = (&(objectClass=nosuchclass)(uid=%u))")...))
	e, err = db.Lookup(context.Background(), "alice")
	require.NoError(t, err, "prefetch: user_filter, which finds no one, is not searched")
	assert.Equal(t, "/home/alice", e.Home)
	assert.Equal(t, []string{"userdb_mail=maildir:/srv/alice"}, e.Extra)
}

func TestAuthBind(t *testing.T) {
	t.Parallel()
	s := directory(t)
	for name, extra := range map[string][]string{
		"search": {"auth_bind = yes"},
		"userdn": {"auth_bind = yes", "auth_bind_userdn = uid=%u," + slapdtest.PeopleDN},
	} {
		t.Run(name, func(t *testing.T) {
			db, _ := open(t, writeConfig(t, serviceConfig(s, extra...)...))
			ctx := context.Background()
			e, err := db.Lookup(ctx, "alice")
			require.NoError(t, err)
			assert.Equal(t, "uid=alice,"+slapdtest.PeopleDN, e.DN)
			assert.Empty(t, e.Password)
			assert.Equal(t, "/home/alice", e.Home)
			require.NoError(t, db.Authenticate(ctx, e, []byte("alice-pw")))
			assert.ErrorIs(t, db.Authenticate(ctx, e, []byte("wrong")), passwd.ErrMismatch)
			assert.ErrorIs(t, db.Authenticate(ctx, e, nil), passwd.ErrMismatch, "an empty password is not an anonymous bind")

			e, err = db.Lookup(ctx, "carol")
			require.NoError(t, err, "carol has no userPassword: the directory refuses her bind")
			assert.ErrorIs(t, db.Authenticate(ctx, e, []byte("anything")), passwd.ErrMismatch)
		})
	}
}

// Through the maildir store: auth_bind logins, cached after the first.
func TestMaildirAuthBind(t *testing.T) {
	t.Parallel()
	s := directory(t)
	db, _ := open(t, writeConfig(t, serviceConfig(s, "auth_bind = yes")...))
	cache := passwd.NewCache(10, time.Hour)
	b, err := maildir.New(filepath.Join(t.TempDir(), "%u"), db, maildir.WithVerifyCache(cache),
		maildir.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		_, err = b.Login(ctx, nil, "Alice", "alice-pw")
		require.NoError(t, err)
	}
	assert.EqualValues(t, 2, cache.Stats().Hits)
	_, err = b.Login(ctx, nil, "alice", "wrong")
	assert.ErrorIs(t, err, pop3.ErrAuthFailed)
	_, err = b.Login(ctx, nil, "nobody", "x")
	assert.ErrorIs(t, err, pop3.ErrAuthFailed)
	_, err = b.Login(ctx, nil, "dup", "dup-pw")
	assert.ErrorIs(t, err, pop3.ErrAuthFailed)

	// The directory goes away: alice is let in from the cache; bob, who
	// never logged in, is told to try later.
	s.Stop(t)
	_, err = b.Login(ctx, nil, "alice", "alice-pw")
	require.NoError(t, err)
	_, err = b.Login(ctx, nil, "bob", "bob-pw")
	require.Error(t, err)
	assert.NotErrorIs(t, err, pop3.ErrAuthFailed)
	s.Restart(t)
	_, err = b.Login(ctx, nil, "bob", "bob-pw")
	require.NoError(t, err, "reconnected after the restart")
}

// A restarted server is reconnected to; while it is down, lookups fail
// with an error that is not ErrNotFound.
func TestReconnect(t *testing.T) {
	t.Parallel()
	s := directory(t)
	db, _ := open(t, writeConfig(t, serviceConfig(s)...))
	ctx := context.Background()
	_, err := db.Lookup(ctx, "alice")
	require.NoError(t, err)
	s.Restart(t)
	_, err = db.Lookup(ctx, "alice")
	require.NoError(t, err, "the pooled connection died with the server; a new one is made")
	s.Stop(t)
	_, err = db.Lookup(ctx, "alice")
	require.Error(t, err)
	assert.NotErrorIs(t, err, passwd.ErrNotFound)
	assert.Error(t, db.Ping(ctx))
	s.Restart(t)
	_, err = db.Lookup(ctx, "alice")
	require.NoError(t, err)
}

// A wrong service password, or a certificate not trusted, fails lookups
// with an error that names the cause.
func TestConnectFailures(t *testing.T) {
	t.Parallel()
	s := directory(t)
	cfg := serviceConfig(s)
	cfg[4] = "dnpass = wrong"
	db, _ := open(t, writeConfig(t, cfg...))
	_, err := db.Lookup(context.Background(), "alice")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Invalid Credentials")
	assert.NotContains(t, err.Error(), "wrong")

	cfg = serviceConfig(s)
	cfg[2] = "tls_ca_cert_file ="
	db, _ = open(t, writeConfig(t, cfg...))
	_, err = db.Lookup(context.Background(), "alice")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")
}

func TestOpenFileErrors(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"unknown key", "uris = ldap://x\nbase = dc=x\nbsae = dc=y\n", ":3: bsae: unknown setting"},
		{"no uris", "base = dc=x\n", "uris: missing"},
		{"no base", "uris = ldap://x\n", "base: missing"},
		{"bad uri", "uris = http://x\nbase = dc=x\n", ":1: uris: \"http://x\" is not an ldap://"},
		{"bad filter", "uris = ldap://x\nbase = dc=x\npass_filter = (uid=%u\n", ":3: pass_filter: not an LDAP filter"},
		{"bad variable", "uris = ldap://x\nbase = dc=x\npass_filter = (uid=%w)\n", ":3: pass_filter: %w"},
		{"sasl", "uris = ldap://x\nbase = dc=x\nsasl_bind = yes\n", ":3: sasl_bind: SASL binds are not supported"},
		{"no password", "uris = ldap://x\nbase = dc=x\npass_attrs = uid=user\n", "pass_attrs: maps no attribute to password"},
		{"bad scope", "uris = ldap://x\nbase = dc=x\nscope = everything\n", ":3: scope: \"everything\""},
		{"bad tls", "uris = ldap://x\nbase = dc=x\ntls = maybe\n", ":3: tls: \"maybe\" is neither yes nor no"},
		{"missing CA", "uris = ldap://x\nbase = dc=x\ntls_ca_cert_file = /nonexistent/ca.pem\n", ":3: tls_ca_cert_file:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ldapdb.OpenFile(writeConfig(t, tc.content))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "dovecot-ldap.conf.ext")
		})
	}
	_, err := ldapdb.OpenFile(filepath.Join(t.TempDir(), "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// Many concurrent logins share a bounded number of connections, and all
// get their answer.
func TestConcurrentLookups(t *testing.T) {
	t.Parallel()
	s := directory(t)
	db, _ := open(t, writeConfig(t, serviceConfig(s, "auth_bind = yes")...))
	ctx := context.Background()
	errs := make(chan error, 100)
	for i := 0; i < cap(errs); i++ {
		go func() {
			e, err := db.Lookup(ctx, "alice")
			if err == nil {
				err = db.Authenticate(ctx, e, []byte("alice-pw"))
			}
			errs <- err
		}()
	}
	for i := 0; i < cap(errs); i++ {
		require.NoError(t, <-errs)
	}
}

// A base or bind DN made from the name (%d, auth_bind_userdn) that the
// name makes invalid, or that does not exist, is an unknown user, not a
// failure of the directory.
func TestNameMakesNoDN(t *testing.T) {
	t.Parallel()
	s := directory(t)
	db, _ := open(t, writeConfig(t, append(serviceConfig(s)[:5], "base = ou=%d,"+slapdtest.BaseDN)...))
	for _, name := range []string{"alice", "alice@example.org", "alice@,,", "alice@=x"} {
		_, err := db.Lookup(context.Background(), name)
		assert.ErrorIs(t, err, passwd.ErrNotFound, name)
	}
}

// Delivery searches user_filter alone: carol, who has no password, is
// found; a pass_filter match that user_filter does not find is unusable
// for a login.
func TestLookupUser(t *testing.T) {
	t.Parallel()
	s := directory(t)
	db, _ := open(t, writeConfig(t, serviceConfig(s)...))
	e, err := db.LookupUser(context.Background(), "carol")
	require.NoError(t, err)
	assert.Equal(t, "/home/carol", e.Home)
	_, err = db.LookupUser(context.Background(), "nobody")
	assert.ErrorIs(t, err, passwd.ErrNotFound)

	db, _ = open(t, writeConfig(t, serviceConfig(s, "user_filter = (&(objectClass=nosuchclass)(uid=%u))")...))
	_, err = db.Lookup(context.Background(), "alice")
	assert.ErrorIs(t, err, passwd.ErrInvalidEntry)
}

// A server that accepts the connection and then says nothing (here in
// StartTLS) fails the lookup within the request timeout, and frees the
// connection's place.
func TestStalledServer(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // read nothing, answer nothing
		}
	}()
	path := writeConfig(t, "uris = ldap://"+l.Addr().String(), "tls = yes", "base = dc=example,dc=org")
	db, err := ldapdb.OpenFile(path, ldapdb.WithLogger(slog.New(slog.DiscardHandler)),
		ldapdb.WithTimeouts(time.Second, 300*time.Millisecond))
	require.NoError(t, err)
	defer db.Close()
	for range 20 { // more than the connections the pool may open
		start := time.Now()
		_, err = db.Lookup(context.Background(), "alice")
		require.Error(t, err)
		assert.Less(t, time.Since(start), 3*time.Second)
	}
}

// scope decides how deep under base the search looks.
func TestScope(t *testing.T) {
	t.Parallel()
	s := directory(t)
	for _, tc := range []struct {
		base, scope string
		found       bool
	}{
		{slapdtest.BaseDN, "subtree", true},
		{slapdtest.BaseDN, "onelevel", false}, // alice is two levels down
		{slapdtest.PeopleDN, "onelevel", true},
		{"uid=%u," + slapdtest.PeopleDN, "base", true},
		{slapdtest.PeopleDN, "base", false},
	} {
		cfg := append(serviceConfig(s)[:5], "base = "+tc.base, "scope = "+tc.scope,
			"pass_attrs = uid=user,userPassword=password")
		db, _ := open(t, writeConfig(t, cfg...))
		_, err := db.Lookup(context.Background(), "alice")
		if tc.found {
			assert.NoError(t, err, "%s %s", tc.scope, tc.base)
		} else {
			assert.ErrorIs(t, err, passwd.ErrNotFound, "%s %s", tc.scope, tc.base)
		}
	}
}
