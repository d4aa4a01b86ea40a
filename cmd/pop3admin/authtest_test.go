package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/gopop3/pop3/internal/slapdtest"
	"github.com/gopop3/pop3/passwd"
)

// authTestFiles writes a passwd-file and an SQLite user database with the
// same users: alice (BLF-CRYPT "alice-pw", home /home/alice), bob
// (nologin), erin (allow_nets 192.0.2.0/24).
func authTestFiles(t *testing.T) (passwdFile, sqlConf, hash string) {
	dir := t.TempDir()
	hash, err := passwd.Hash("BLF-CRYPT", []byte("alice-pw"))
	require.NoError(t, err)
	passwdFile = filepath.Join(dir, "users")
	require.NoError(t, os.WriteFile(passwdFile, []byte("alice:"+hash+":1000:1000::/home/alice::userdb_quota_rule=*:storage=1G\n"+
		"bob:{PLAIN}bob-pw::::/home/bob::nologin reason=moved\n"+
		"erin:{PLAIN}erin-pw::::/home/erin::allow_nets=192.0.2.0/24\n"), 0o600))

	dbPath := filepath.Join(dir, "users.sqlite")
	db, err := sql.Open("sqlite", dbPath)
	require.NoError(t, err)
	_, err = db.Exec(`CREATE TABLE users (name TEXT PRIMARY KEY, pw TEXT, home TEXT, nologin TEXT, allow_nets TEXT);
		INSERT INTO users VALUES ('alice', '` + hash + `', '/home/alice', NULL, NULL),
			('bob', '{PLAIN}bob-pw', '/home/bob', 'Y', NULL),
			('erin', '{PLAIN}erin-pw', '/home/erin', NULL, '192.0.2.0/24');`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	sqlConf = filepath.Join(dir, "dovecot-sql.conf.ext")
	require.NoError(t, os.WriteFile(sqlConf, []byte("driver = sqlite\nconnect = "+dbPath+"\n"+
		"password_query = SELECT pw AS password, nologin, allow_nets FROM users WHERE name = '%u'\n"+
		"user_query = SELECT home, 1000 AS uid, 1000 AS gid FROM users WHERE name = '%u'\n"), 0o600))
	return passwdFile, sqlConf, hash
}

func TestAuthTest(t *testing.T) {
	passwdFile, sqlConf, hash := authTestFiles(t)
	for _, db := range [][]string{{"-passwd", passwdFile}, {"-sql", sqlConf}} {
		t.Run(db[0], func(t *testing.T) {
			args := func(rest ...string) []string { return append(append([]string{"auth-test"}, db...), rest...) }

			r := runAdmin(t, "alice-pw\n", args("Alice")...)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Contains(t, r.stdout, "user: alice\n")
			assert.Contains(t, r.stdout, "  home: /home/alice\n")
			assert.Contains(t, r.stdout, "  uid: 1000\n")
			assert.Contains(t, r.stdout, "result: login succeeded\n")
			assert.NotContains(t, r.stdout+r.stderr, hash)
			assert.NotContains(t, r.stdout+r.stderr, "alice-pw")

			r = runAdmin(t, "wrong\n", args("alice")...)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stdout, "result: login refused")

			r = runAdmin(t, "x\n", args("nobody")...)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stdout, "result: login refused: no such user")

			r = runAdmin(t, "bob-pw\n", args("bob")...)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "nologin", "the reason is shown")

			r = runAdmin(t, "erin-pw\n", args("-remote", "198.51.100.1", "erin")...)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "allow_nets")
			r = runAdmin(t, "erin-pw\n", args("-remote", "192.0.2.9", "erin")...)
			assert.Equal(t, 0, r.code, r.stderr)
		})
	}
}

func TestAuthTestUsage(t *testing.T) {
	passwdFile, sqlConf, _ := authTestFiles(t)
	for _, args := range [][]string{
		{"auth-test", "alice"},
		{"auth-test", "-passwd", passwdFile, "-sql", sqlConf, "alice"},
		{"auth-test", "-passwd", passwdFile},
		{"auth-test", "-passwd", passwdFile, "-remote", "nowhere", "alice"},
		{"auth-test", "-passwd", passwdFile, "-maildir", "/var/mail/shared", "alice"},
		{"auth-test", "-passwd", passwdFile, "-mbox", "/var/mail/shared", "alice"},
		{"auth-test", "-passwd", passwdFile, "-system-users", "alice"},
	} {
		r := runAdmin(t, "pw\n", args...)
		assert.Equal(t, 2, r.code, "%q: %s", args, r.stderr)
	}
	r := runAdmin(t, "pw\n", "auth-test", "-sql", filepath.Join(t.TempDir(), "missing.conf"), "alice")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "missing.conf")
	r = runAdmin(t, "", "auth-test", "-passwd", passwdFile, "alice")
	assert.Equal(t, 1, r.code, "no password on stdin")
}

// auth-test with the system's accounts and an mbox template: root is
// refused, with the reason (below the first valid uid), and the login of
// a passwd-file user checks the spool path of -mbox.
func TestAuthTestSystemUsersAndMbox(t *testing.T) {
	if _, err := os.ReadFile("/etc/shadow"); err != nil {
		t.Skip("/etc/shadow cannot be read here:", err)
	}
	r := runAdmin(t, "anything\n", "auth-test", "-system-users", "-mbox", "/var/mail/%u", "root")
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stdout, "below FirstValidUID")
	r = runAdmin(t, "anything\n", "auth-test", "-system-users", "-first-valid-uid", "0", "root")
	assert.Equal(t, 1, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "below FirstValidUID", "root may try with -first-valid-uid 0: only the password is wrong")

	passwdFile, _, _ := authTestFiles(t)
	r = runAdmin(t, "alice-pw\n", "auth-test", "-passwd", passwdFile, "-mbox", "/var/mail/%u", "alice")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "result: login succeeded\n")
}

// auth-test with -ldap, against a real slapd, with auth_bind.
func TestAuthTestLDAP(t *testing.T) {
	s := slapdtest.Start(t)
	ssha, err := passwd.Hash("SSHA", []byte("alice-pw"))
	require.NoError(t, err)
	s.Add(t, "dn: uid=alice,"+slapdtest.PeopleDN+"\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n"+
		"uid: alice\ncn: alice\nsn: alice\nuidNumber: 1000\ngidNumber: 1000\nhomeDirectory: /home/alice\nuserPassword: "+ssha+"\n")
	conf := filepath.Join(t.TempDir(), "dovecot-ldap.conf.ext")
	require.NoError(t, os.WriteFile(conf, []byte("uris = "+s.URI+"\ndn = "+s.ServiceDN+"\ndnpass = "+s.ServicePassword+
		"\nbase = "+slapdtest.BaseDN+"\nauth_bind = yes\n"), 0o600))
	r := runAdmin(t, "alice-pw\n", "auth-test", "-ldap", conf, "alice")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "  dn: uid=alice,"+slapdtest.PeopleDN+"\n")
	assert.Contains(t, r.stdout, "  home: /home/alice\n")
	assert.NotContains(t, r.stdout, "SSHA")
	r = runAdmin(t, "wrong\n", "auth-test", "-ldap", conf, "alice")
	assert.Equal(t, 1, r.code)
	s.Stop(t)
	r = runAdmin(t, "alice-pw\n", "auth-test", "-ldap", conf, "alice")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "the user database failed")
}
