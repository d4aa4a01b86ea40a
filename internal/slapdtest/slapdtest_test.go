package slapdtest_test

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/slapdtest"
	"github.com/gopop3/pop3/internal/testprog"
)

const aliceDN = "uid=alice,ou=people,dc=example,dc=org"

// ssha hashes as slappasswd does, so that binds are checked against a
// stored hash as in a real directory.
func ssha(t *testing.T, password string) string {
	salt := make([]byte, 8)
	_, err := rand.Read(salt)
	require.NoError(t, err)
	sum := sha1.Sum(append([]byte(password), salt...))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(sum[:], salt...))
}

func addAlice(t *testing.T, s *slapdtest.Server, password string) {
	s.Add(t, `dn: `+aliceDN+`
objectClass: inetOrgPerson
objectClass: posixAccount
uid: alice
cn: Alice Example
sn: Example
mail: alice@example.org
uidNumber: 1000
gidNumber: 1000
homeDirectory: /home/alice
userPassword: `+ssha(t, password)+`
`)
}

// ldap runs an ldap-utils program trusting only the server's CA, and
// returns its output and exit code.
func ldap(t *testing.T, s *slapdtest.Server, program string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(testprog.Require(t, program, "slapd ldap-utils"), append(args, "-o", "nettimeout=10")...)
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+s.CAFile, "LDAPTLS_REQCERT=demand")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	require.NoError(t, err)
	return string(out), 0
}

// whoami binds as dn, as Dovecot's auth_bind does, and returns
// ldapwhoami's output and exit code.
func whoami(t *testing.T, s *slapdtest.Server, uri, dn, password string, extra ...string) (string, int) {
	t.Helper()
	return ldap(t, s, "ldapwhoami", append([]string{"-x", "-H", uri, "-D", dn, "-w", password}, extra...)...)
}

// userPasswords returns the userPassword values of alice's entry that the
// bind dn may read (none for anonymous, when dn is "").
func userPasswords(t *testing.T, s *slapdtest.Server, dn, password string) []string {
	t.Helper()
	args := []string{"-x", "-LLL", "-o", "ldif_wrap=no", "-H", s.URI, "-b", s.PeopleDN, "(uid=alice)", "userPassword"}
	if dn != "" {
		args = append(args, "-D", dn, "-w", password)
	}
	out, code := ldap(t, s, "ldapsearch", args...)
	require.Equal(t, 0, code, out)
	var values []string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "userPassword:: "); ok {
			b, err := base64.StdEncoding.DecodeString(v)
			require.NoError(t, err)
			values = append(values, string(b))
		} else if v, ok := strings.CutPrefix(line, "userPassword: "); ok {
			values = append(values, v)
		}
	}
	return values
}

func TestServer(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t)
	addAlice(t, s, "alice-pw")

	t.Run("access", func(t *testing.T) {
		pw := userPasswords(t, s, s.ServiceDN, s.ServicePassword)
		require.Len(t, pw, 1)
		assert.True(t, strings.HasPrefix(pw[0], "{SSHA}"), pw[0])
		assert.Equal(t, pw, userPasswords(t, s, s.AdminDN, s.AdminPassword))
		assert.Empty(t, userPasswords(t, s, aliceDN, "alice-pw"), "users must not read hashes")

		// Anonymous connections may bind but not search: slapd hides
		// even the base then (noSuchObject).
		out, code := ldap(t, s, "ldapsearch", "-x", "-LLL", "-H", s.URI, "-b", s.PeopleDN, "(uid=alice)", "uid")
		assert.Equal(t, 32, code, out)
		assert.NotContains(t, out, "alice")
		out, code = ldap(t, s, "ldapsearch", "-x", "-LLL", "-H", s.URI, "-b", s.PeopleDN,
			"-D", s.ServiceDN, "-w", s.ServicePassword, "(uid=alice)", "uid", "homeDirectory")
		require.Equal(t, 0, code, out)
		assert.Contains(t, out, "homeDirectory: /home/alice")
	})

	t.Run("bind", func(t *testing.T) {
		for _, tc := range []struct {
			name, uri string
			extra     []string
		}{
			{"ldap", s.URI, nil},
			{"starttls", s.URI, []string{"-ZZ"}},
			{"ldaps", s.LDAPSURI, nil},
			{"ldapi", s.LDAPIURI, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				out, code := whoami(t, s, tc.uri, aliceDN, "alice-pw", tc.extra...)
				require.Equal(t, 0, code, out)
				assert.Equal(t, "dn:"+aliceDN, strings.TrimSpace(out))
				out, code = whoami(t, s, tc.uri, aliceDN, "wrong", tc.extra...)
				assert.Equal(t, 49, code, "invalidCredentials expected: %s", out)
			})
		}
	})

	t.Run("modify", func(t *testing.T) {
		s.Modify(t, `dn: `+aliceDN+`
changetype: modify
replace: userPassword
userPassword: `+ssha(t, "new-pw")+`
`)
		out, code := whoami(t, s, s.URI, aliceDN, "new-pw")
		require.Equal(t, 0, code, out)
		_, code = whoami(t, s, s.URI, aliceDN, "alice-pw")
		assert.Equal(t, 49, code)
	})

	t.Run("restart", func(t *testing.T) {
		s.Stop(t)
		out, code := whoami(t, s, s.URI, s.ServiceDN, s.ServicePassword)
		assert.NotEqual(t, 0, code, "bound to a stopped server: %s", out)
		s.Stop(t) // no-op
		s.Restart(t)
		out, code = whoami(t, s, s.LDAPSURI, s.ServiceDN, s.ServicePassword)
		require.Equal(t, 0, code, out)
		// The database survives.
		out, code = whoami(t, s, s.URI, aliceDN, "new-pw", "-ZZ")
		require.Equal(t, 0, code, out)
		s.Restart(t) // while running
		out, code = whoami(t, s, s.URI, aliceDN, "new-pw")
		require.Equal(t, 0, code, out)
	})
}

// TestIsolated checks that each Start has a tree of its own.
func TestIsolated(t *testing.T) {
	t.Parallel()
	a, b := slapdtest.Start(t), slapdtest.Start(t)
	assert.NotEqual(t, a.URI, b.URI)
	assert.NotEqual(t, a.AdminPassword, b.AdminPassword)
	addAlice(t, a, "pw")
	addAlice(t, b, "pw") // would fail if the entry already existed
	_, code := whoami(t, b, b.URI, a.ServiceDN, a.ServicePassword)
	assert.Equal(t, 49, code, "a's service password works on b")
}
