package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/gopop3/pop3/internal/dovecottest"
	"github.com/gopop3/pop3/internal/mariadbtest"
	"github.com/gopop3/pop3/internal/pgtest"
	"github.com/gopop3/pop3/internal/slapdtest"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/pop3test"
)

// attempt is one login tried on Dovecot and on pop3d.
type attempt struct{ user, password string }

// outcome is what a login gave: the error line, or the UIDL listing.
type outcome struct {
	refused string
	uidl    []string
}

// tryLogin logs in with USER and PASS from the loopback address from,
// and lists the UIDLs. Each attempt comes from an address of its own, so
// that neither server's penalty for failed logins from one address
// (Dovecot's grows to 15 s) slows the next.
func tryLogin(t *testing.T, addr string, from int, a attempt) outcome {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(from/250), byte(from%250+2))}}
	conn, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	c := greeted(t, pop3test.NewClient(t, conn))
	defer c.Close()
	if r := c.Cmd("USER " + a.user); !r.OK {
		return outcome{refused: "USER: " + r.Line}
	}
	if r := c.Cmd("PASS " + a.password); !r.OK {
		return outcome{refused: r.Line}
	}
	o := outcome{uidl: c.OK("UIDL").Lines()}
	c.Quit()
	return o
}

// compareWithDovecot tries every attempt on Dovecot first and then on
// pop3d, and checks that both let in the same users, who see the same
// UIDLs, and that those who should get in did.
func compareWithDovecot(t *testing.T, dovecotAddr, pop3dAddr string, attempts []attempt, want map[attempt]bool) {
	t.Helper()
	for i, a := range attempts {
		theirs := tryLogin(t, dovecotAddr, i, a)
		ours := tryLogin(t, pop3dAddr, i, a)
		assert.Equal(t, theirs.refused == "", ours.refused == "",
			"%q/%q: Dovecot said %q, pop3d %q", a.user, a.password, theirs.refused, ours.refused)
		assert.Equal(t, theirs.uidl, ours.uidl, "%q: the UIDLs", a.user)
		assert.Equal(t, want[a], ours.refused == "", "%q/%q: pop3d said %q", a.user, a.password, ours.refused)
	}
}

// maildirWith writes a Maildir with messages into home, owned by uid.
func maildirWith(t *testing.T, home string, uid, gid int, messages ...string) {
	t.Helper()
	for _, d := range []string{"cur", "new", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(home, "Maildir", d), 0o755))
	}
	for i, m := range messages {
		name := fmt.Sprintf("17000000%02d.M%dP1.test", i, i)
		require.NoError(t, os.WriteFile(filepath.Join(home, "Maildir", "new", name), []byte(m), 0o644))
	}
	require.NoError(t, filepath.Walk(home, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}))
}

// sqlUsers is the PostfixAdmin-shaped table of the SQL calibration.
func sqlUsers(t *testing.T) string {
	hash, err := passwd.Hash("SHA512-CRYPT", []byte("alice-pw"))
	require.NoError(t, err)
	return `CREATE TABLE mailbox (
	username VARCHAR(255) NOT NULL PRIMARY KEY,
	password VARCHAR(255),
	maildir VARCHAR(255) NOT NULL,
	domain VARCHAR(255) NOT NULL,
	active SMALLINT NOT NULL DEFAULT 1,
	allow_nets VARCHAR(255)
);
INSERT INTO mailbox (username, password, maildir, domain, active, allow_nets) VALUES
	('alice@example.org', '` + hash + `', 'example.org/alice', 'example.org', 1, NULL),
	('bob@example.org', 'bob-pw', 'example.org/bob', 'example.org', 1, NULL),
	('carol@example.org', '{PLAIN}carol-pw', 'example.org/carol', 'example.org', 0, NULL),
	('dave@example.org', NULL, 'example.org/dave', 'example.org', 1, NULL),
	('erin@example.org', '{PLAIN}erin-pw', 'example.org/erin', 'example.org', 1, '192.0.2.0/24'),
	('frank@example.org', '{PLAIN}frank-pw', 'example.org/frank', 'example.org', 1, '127.0.0.0/8, ::1'),
	('gina@example.org', '{NOSUCH}gina-pw', 'example.org/gina', 'example.org', 1, NULL);`
}

var sqlAttempts = []attempt{
	{"alice@example.org", "alice-pw"},
	{"alice@example.org", "wrong"},
	{"Alice@Example.ORG", "alice-pw"},
	{"bob@example.org", "bob-pw"},
	{"bob", "bob-pw"},
	{"carol@example.org", "carol-pw"},
	{"dave@example.org", "x"},
	{"erin@example.org", "erin-pw"},
	{"frank@example.org", "frank-pw"},
	{"gina@example.org", "gina-pw"},
	{"nobody@example.org", "x"},
	{"x' OR '1'='1", "x"},
	{"alice@example.org' -- ", "alice-pw"},
}

var sqlWant = map[attempt]bool{
	{"alice@example.org", "alice-pw"}: true,
	{"Alice@Example.ORG", "alice-pw"}: true,
	{"bob@example.org", "bob-pw"}:     true,
	{"bob", "bob-pw"}:                 true,
	{"frank@example.org", "frank-pw"}: true,
}

// The same dovecot-sql.conf.ext, on each driver, lets the same users into
// Dovecot and pop3d, who see the same UIDLs.
func TestSQLSameUsersAsDovecot(t *testing.T) {
	for _, driver := range []string{"sqlite", "pgsql", "mysql"} {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			conf, _ := sqlDatabase(t, driver)
			dc := dovecottest.StartAuth(t, fmt.Sprintf("passdb {\n  driver = sql\n  args = %[1]s\n}\nuserdb {\n  driver = sql\n  args = %[1]s\n}\n", conf))
			writeSQLConfig(t, conf, driver, dc.Root)
			uid, gid := dc.Owner()
			for _, u := range []string{"alice", "bob", "frank"} {
				maildirWith(t, filepath.Join(dc.Root, "example.org", u), uid, gid,
					"Subject: one for "+u+"\n\nhello\n", "Subject: two\n\n.\n")
			}
			srv := start(t, "-addr", "127.0.0.1:0", "-auth-failure-delay", "0", "-maildir", "%h/Maildir", "-sql", conf)
			compareWithDovecot(t, dc.Addr, srv.Addr, sqlAttempts, sqlWant)
			logs := srv.stderr.String()
			assert.NotContains(t, logs, "alice-pw")
			assert.NotContains(t, logs, "$6$", "no hash is logged")
			// Each refusal of an entry is logged with its cause.
			assert.Contains(t, logs, `user=dave@example.org reason="passwd: unusable user entry: password_query returned no password`)
			assert.Contains(t, logs, "user=gina@example.org reason=\"passwd: unknown password scheme (NOSUCH)")
			assert.Contains(t, logs, "user=erin@example.org reason=\"the client's address")
		})
	}
}

// sqlDatabase makes a database of driver with the sqlUsers table and
// returns the path its dovecot-sql.conf.ext is to be written to, and how
// to make the database unreachable.
func sqlDatabase(t *testing.T, driver string) (conf string, disconnect func(*testing.T) func()) {
	dir, err := os.MkdirTemp("", "pop3d-sql-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	conf = filepath.Join(dir, "dovecot-sql.conf.ext")
	var connect string
	switch driver {
	case "sqlite":
		path := filepath.Join(dir, "users.sqlite")
		db, err := sql.Open("sqlite", path)
		require.NoError(t, err)
		_, err = db.Exec(sqlUsers(t))
		require.NoError(t, err)
		require.NoError(t, db.Close())
		require.NoError(t, os.Chmod(path, 0o644))
		connect = path
		disconnect = func(t *testing.T) func() {
			require.NoError(t, os.Rename(path, path+".away"))
			return func() { require.NoError(t, os.Rename(path+".away", path)) }
		}
	case "pgsql":
		dsn := pgtest.NewDatabase(t)
		db, err := sql.Open("pgx", dsn)
		require.NoError(t, err)
		_, err = db.Exec(sqlUsers(t))
		require.NoError(t, err)
		require.NoError(t, db.Close())
		cfg, err := pgx.ParseConfig(dsn)
		require.NoError(t, err)
		connect = fmt.Sprintf("host=%s port=%d dbname=%s user=%s", cfg.Host, cfg.Port, cfg.Database, cfg.User)
		if cfg.Password != "" {
			connect += " password=" + cfg.Password
		}
		disconnect = func(t *testing.T) func() { return pgtest.Disconnect(t, dsn) }
	case "mysql":
		d := mariadbtest.NewDatabase(t)
		d.Exec(t, sqlUsers(t))
		connect = d.DovecotConnect()
		disconnect = func(t *testing.T) func() { return d.Disconnect(t) }
	}
	require.NoError(t, os.WriteFile(conf, []byte("driver = "+driver+"\nconnect = "+connect+"\n"), 0o644))
	return conf, disconnect
}

// writeSQLConfig completes the configuration with PostfixAdmin's queries,
// homes under root.
func writeSQLConfig(t *testing.T, conf, driver, root string) {
	head, err := os.ReadFile(conf)
	require.NoError(t, err)
	home := "'" + root + "/' || maildir"
	if driver == "mysql" {
		home = "CONCAT('" + root + "/', maildir)"
	}
	content := string(head) + `default_pass_scheme = PLAIN
# PostfixAdmin's queries, as its documentation gives them.
# With one change: a name without a domain is the example.org mailbox of
# that name (a rename, through the user column).
password_query = SELECT username AS user, password, allow_nets \
  FROM mailbox WHERE (username = '%u' OR username = '%u@example.org') AND active = '1'
user_query = SELECT ` + home + ` AS home \
  FROM mailbox WHERE username = '%u' AND active = '1'
iterate_query = SELECT username AS user FROM mailbox
`
	require.NoError(t, os.WriteFile(conf, []byte(content), 0o644))
}

// ldapPeople are the directory's users: alice ({SSHA}), bob ({CRYPT}
// SHA512), carol (no userPassword), erin (allow_nets elsewhere).
func ldapPeople(t *testing.T, s *slapdtest.Server, root string) {
	entry := func(uid, password string, extra ...string) string {
		lines := []string{"dn: uid=" + uid + "," + slapdtest.PeopleDN,
			"objectClass: inetOrgPerson", "objectClass: posixAccount",
			"uid: " + uid, "cn: " + uid, "sn: " + uid, "uidNumber: 1000", "gidNumber: 1000",
			"homeDirectory: " + filepath.Join(root, uid)}
		if password != "" {
			lines = append(lines, "userPassword: "+password)
		}
		return strings.Join(append(lines, extra...), "\n") + "\n\n"
	}
	ssha, err := passwd.Hash("SSHA", []byte("alice-pw"))
	require.NoError(t, err)
	crypt, err := passwd.Hash("SHA512-CRYPT", []byte("bob-pw"))
	require.NoError(t, err)
	erin, err := passwd.Hash("SSHA", []byte("erin-pw"))
	require.NoError(t, err)
	s.Add(t, entry("alice", ssha)+
		entry("bob", "{CRYPT}"+strings.TrimPrefix(crypt, "{SHA512-CRYPT}"))+
		entry("carol", "")+
		entry("erin", erin, "description: 192.0.2.0/24"))
}

var ldapAttempts = []attempt{
	{"alice", "alice-pw"},
	{"ALICE", "alice-pw"},
	{"alice", "wrong"},
	{"bob", "bob-pw"},
	{"carol", "x"},
	{"erin", "erin-pw"},
	{"nobody", "x"},
	{"*", "alice-pw"},
	{"alice)(uid=*", "alice-pw"},
}

var ldapWant = map[attempt]bool{
	{"alice", "alice-pw"}: true,
	{"ALICE", "alice-pw"}: true,
	{"bob", "bob-pw"}:     true,
}

// The same dovecot-ldap.conf.ext, with the hashes read by the server or
// with auth_bind, lets the same users into Dovecot and pop3d.
func TestLDAPSameUsersAsDovecot(t *testing.T) {
	for name, extra := range map[string]string{
		"hashes":    "",
		"auth_bind": "auth_bind = yes\n",
		"userdn":    "auth_bind = yes\nauth_bind_userdn = uid=%u," + slapdtest.PeopleDN + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := slapdtest.Start(t)
			dir, err := os.MkdirTemp("", "pop3d-ldap-")
			require.NoError(t, err)
			t.Cleanup(func() { os.RemoveAll(dir) })
			require.NoError(t, os.Chmod(dir, 0o755))
			conf := filepath.Join(dir, "dovecot-ldap.conf.ext")
			require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`uris = %s
tls = yes
tls_ca_cert_file = %s
dn = %s
dnpass = %s
base = %s
pass_attrs = uid=user,userPassword=password,description=allow_nets
user_attrs = homeDirectory=home
%s`, s.URI, s.CAFile, s.ServiceDN, s.ServicePassword, slapdtest.BaseDN, extra)), 0o644))
			dc := dovecottest.StartAuth(t, fmt.Sprintf("passdb {\n  driver = ldap\n  args = %[1]s\n}\nuserdb {\n  driver = ldap\n  args = %[1]s\n}\n", conf))
			ldapPeople(t, s, dc.Root)
			uid, gid := dc.Owner()
			for _, u := range []string{"alice", "bob", "erin"} {
				maildirWith(t, filepath.Join(dc.Root, u), uid, gid, "Subject: for "+u+"\n\nhi\n")
			}
			want := ldapWant
			if name == "userdn" {
				// With auth_bind_userdn there is no passdb search, so
				// pass_attrs, and erin's allow_nets, are not read: Dovecot
				// lets her in, and so does pop3d.
				want = maps.Clone(ldapWant)
				want[attempt{"erin", "erin-pw"}] = true
			}
			srv := start(t, "-addr", "127.0.0.1:0", "-auth-failure-delay", "0", "-maildir", "%h/Maildir", "-ldap", conf)
			compareWithDovecot(t, dc.Addr, srv.Addr, ldapAttempts, want)
		})
	}
}

// A directory that is down when pop3d starts: pop3d starts and says so,
// logins are told to try later, and work once it is back, without a
// restart. Users the verification cache knows log in while it is down.
func TestUserDatabaseDown(t *testing.T) {
	s := slapdtest.Start(t)
	root := t.TempDir()
	ldapPeople(t, s, root)
	conf := filepath.Join(t.TempDir(), "dovecot-ldap.conf.ext")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf("uris = %s\ndn = %s\ndnpass = %s\nbase = %s\n",
		s.URI, s.ServiceDN, s.ServicePassword, slapdtest.BaseDN)), 0o600))
	s.Stop(t)
	srv := start(t, "-addr", "127.0.0.1:0", "-maildir", "%h/Maildir", "-ldap", conf)
	assert.Contains(t, srv.stderr.String(), "the user database is not usable now")
	assert.Contains(t, srv.stdout.String(), "the LDAP directory of "+conf)
	assert.Equal(t, "-ERR [SYS/TEMP] login failed, try again later", login(t, srv.Addr, "alice", "alice-pw"))

	s.Restart(t)
	require.Empty(t, login(t, srv.Addr, "alice", "alice-pw"))
	s.Stop(t)
	assert.Empty(t, login(t, srv.Addr, "alice", "alice-pw"), "alice is in the verification cache")
	assert.Contains(t, login(t, srv.Addr, "bob", "bob-pw"), "[SYS/TEMP]", "bob is not")
	s.Restart(t)
	assert.Empty(t, login(t, srv.Addr, "bob", "bob-pw"))
}

// The same with an SQL database that is down at start-up.
func TestSQLDatabaseDownAtStart(t *testing.T) {
	for _, driver := range []string{"pgsql", "mysql"} {
		t.Run(driver, func(t *testing.T) {
			conf, disconnect := sqlDatabase(t, driver)
			root := t.TempDir()
			writeSQLConfig(t, conf, driver, root)
			reconnect := disconnect(t)
			srv := start(t, "-addr", "127.0.0.1:0", "-maildir", "%h/Maildir", "-sql", conf)
			assert.Contains(t, srv.stderr.String(), "the user database is not usable now")
			assert.Contains(t, login(t, srv.Addr, "bob@example.org", "bob-pw"), "[SYS/TEMP]")
			reconnect()
			assert.Empty(t, login(t, srv.Addr, "bob@example.org", "bob-pw"))
		})
	}
}

// A configuration that does not parse stops pop3d at start-up with the
// file, the line and the key; wrong flag combinations are usage errors.
func TestUserDatabaseStartErrors(t *testing.T) {
	dir := t.TempDir()
	sqlConf := filepath.Join(dir, "dovecot-sql.conf.ext")
	require.NoError(t, os.WriteFile(sqlConf, []byte("driver = sqlite\nconnect = /x\n\npasword_query = SELECT 1\n"), 0o600))
	ldapConf := filepath.Join(dir, "dovecot-ldap.conf.ext")
	require.NoError(t, os.WriteFile(ldapConf, []byte("uris = ldap://127.0.0.1\n"), 0o600))
	for _, tc := range []struct {
		flag, path, want string
	}{
		{"-sql", sqlConf, sqlConf + ":4: pasword_query: unknown setting"},
		{"-ldap", ldapConf, ldapConf + ": base: missing"},
		{"-sql", filepath.Join(dir, "missing"), "no such file"},
	} {
		err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-maildir", "%h/Maildir", tc.flag, tc.path}, io.Discard, io.Discard, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
		assert.True(t, strings.HasPrefix(err.Error(), tc.flag+": "), err.Error())
	}
	for _, args := range [][]string{
		{"-maildir", "%h/Maildir", "-sql", sqlConf, "-ldap", ldapConf},
		{"-maildir", "%h/Maildir", "-sql", sqlConf, "-passwd", sqlConf},
		{"-sql", sqlConf},
		{"-ldap", ldapConf},
	} {
		err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, args...), io.Discard, io.Discard, nil)
		var ue *usageError
		assert.ErrorAs(t, err, &ue, "%q", args)
	}
}
