package passwd

import (
	"encoding/base64"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/testprog"
)

// hashNames are the names TestHash and TestHashDoveadm try: every scheme,
// and some with an encoding suffix or in lower case.
func hashNames() []string {
	return append(Schemes(), "sha256.hex", "SSHA512.B64", "PLAIN.BASE64", "plain.hex", "blf-crypt", "LDAP-MD5.HEX")
}

func TestHash(t *testing.T) {
	password := []byte(doveadmPassword)
	for _, name := range hashNames() {
		t.Run(name, func(t *testing.T) {
			stored, err := Hash(name, password)
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(stored, "{"+strings.ToUpper(name)+"}"), stored)
			assert.NoError(t, Verify(stored, password))
			assert.ErrorIs(t, Verify(stored, []byte("wrong")), ErrMismatch)

			again, err := Hash(name, password)
			require.NoError(t, err)
			if _, plain := Plaintext(stored); !plain && !strings.Contains(name, "MD5") && !strings.HasPrefix(strings.ToUpper(name), "SHA") {
				assert.NotEqual(t, stored, again, "a fresh salt each time")
			}
		})
	}
}

// The shapes doveadm pw -s prints (see doveadmHashes).
func TestHashFormat(t *testing.T) {
	tests := []struct{ scheme, pattern string }{
		{"BLF-CRYPT", `^\{BLF-CRYPT\}\$2y\$05\$[./A-Za-z0-9]{53}$`},
		{"CRYPT", `^\{CRYPT\}\$2y\$05\$[./A-Za-z0-9]{53}$`},
		{"SHA512-CRYPT", `^\{SHA512-CRYPT\}\$6\$[./A-Za-z0-9]{16}\$[./A-Za-z0-9]{86}$`},
		{"SHA256-CRYPT", `^\{SHA256-CRYPT\}\$5\$[./A-Za-z0-9]{16}\$[./A-Za-z0-9]{43}$`},
		{"MD5-CRYPT", `^\{MD5-CRYPT\}\$1\$[./A-Za-z0-9]{8}\$[./A-Za-z0-9]{22}$`},
		{"ARGON2ID", `^\{ARGON2ID\}\$argon2id\$v=19\$m=65536,t=3,p=1\$[+/A-Za-z0-9]{22}\$[+/A-Za-z0-9]{43}$`},
		{"ARGON2I", `^\{ARGON2I\}\$argon2i\$v=19\$m=32768,t=4,p=1\$[+/A-Za-z0-9]{22}\$[+/A-Za-z0-9]{43}$`},
		{"SSHA512", `^\{SSHA512\}[+/A-Za-z0-9]{91}=$`}, // 64 + 4 bytes
		{"SSHA", `^\{SSHA\}[+/A-Za-z0-9]{32}$`},        // 20 + 4 bytes
		{"PLAIN", `^\{PLAIN\}secret$`},
		{"plain.b64", `^\{PLAIN\.B64\}c2VjcmV0$`},
		{"PLAIN-MD5", `^\{PLAIN-MD5\}5ebe2294ecd0e0f08eab7690d2a6ee69$`},
		{"LDAP-MD5", `^\{LDAP-MD5\}Xr4ilOzQ4PCOq3aQ0qbuaQ==$`},
		{"SHA256.HEX", `^\{SHA256\.HEX\}2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b$`},
	}
	for _, tc := range tests {
		stored, err := Hash(tc.scheme, []byte("secret"))
		require.NoError(t, err, tc.scheme)
		assert.Regexp(t, regexp.MustCompile(tc.pattern), stored)
	}
	stored, err := Hash("SSHA512", []byte("secret"))
	require.NoError(t, err)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(stored, "{SSHA512}"))
	require.NoError(t, err)
	assert.Len(t, raw, 64+4)
}

func TestHashErrors(t *testing.T) {
	_, err := Hash("ROT13", []byte("secret"))
	assert.ErrorIs(t, err, ErrUnknownScheme)
	_, err = Hash("SHA256.ROT13", []byte("secret"))
	assert.ErrorIs(t, err, ErrUnknownScheme)
	_, err = Hash("DES-CRYPT", []byte("secret"))
	assert.ErrorIs(t, err, ErrUnknownScheme)
	_, err = Hash("PLAIN", nil)
	assert.Error(t, err, "empty password")
	_, err = Hash("BLF-CRYPT", []byte(strings.Repeat("x", 73)))
	assert.Error(t, err, "bcrypt over 72 bytes")
	_, err = Hash("BLF-CRYPT", []byte(strings.Repeat("x", 72)))
	assert.NoError(t, err)
}

// doveadm returns the path of Dovecot's doveadm, skipping the test when it
// is not installed, except in CI, where it must be.
func doveadm(t *testing.T) string {
	t.Helper()
	return testprog.Require(t, "doveadm", "dovecot-core")
}

// doveadmVerifies reports whether `doveadm pw -t stored -p password`
// accepts the password.
func doveadmVerifies(t *testing.T, doveadm, stored, password string) bool {
	t.Helper()
	out, err := exec.Command(doveadm, "pw", "-t", stored, "-p", password).CombinedOutput()
	if err != nil {
		t.Logf("doveadm pw -t: %v: %s", err, out)
		return false
	}
	return strings.Contains(string(out), "(verified)")
}

// Dovecot itself accepts the hashes Hash makes.
func TestHashDoveadm(t *testing.T) {
	bin := doveadm(t)
	for _, name := range hashNames() {
		t.Run(name, func(t *testing.T) {
			stored, err := Hash(name, []byte(doveadmPassword))
			require.NoError(t, err)
			assert.True(t, doveadmVerifies(t, bin, stored, doveadmPassword), "doveadm rejects %s", stored)
			assert.False(t, doveadmVerifies(t, bin, stored, "wrong"), "doveadm accepts a wrong password for %s", stored)
		})
	}
	// Argon2 with several lanes and another key length, as Verify reads them.
	h := &argon2Hash{variant: "argon2id", memory: 1024, time: 2, threads: 4, salt: []byte("0123456789abcdef")}
	h.key = h.derive([]byte(doveadmPassword), 32)
	assert.True(t, doveadmVerifies(t, bin, "{ARGON2ID}"+h.String(), doveadmPassword), h.String())
}
