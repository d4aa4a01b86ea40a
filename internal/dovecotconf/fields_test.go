package dovecotconf

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/passwd"
)

func TestWithScheme(t *testing.T) {
	for _, tc := range []struct {
		in       string
		noscheme bool
		want     string
	}{
		{"secret", false, "{PLAIN}secret"},
		{"{SSHA}abc", false, "{SSHA}abc"},
		{"{SSHA}abc", true, "{PLAIN}{SSHA}abc"},
		{"{notclosed", false, "{PLAIN}{notclosed"},
		{"", false, ""},
	} {
		assert.Equal(t, tc.want, WithScheme(tc.in, "PLAIN", tc.noscheme), tc.in)
	}
}

func TestAddField(t *testing.T) {
	e := &passwd.Entry{}
	AddField(e, "home", "/home/a", true)
	AddField(e, "uid", "5", true)
	AddField(e, "gid", "6", true)
	AddField(e, "mail", "maildir:~/M", true)
	AddField(e, "quota_rule", "*:storage=1G", true)
	AddField(e, "nologin", "Y", false)
	AddField(e, "home", "/ignored", false)
	assert.Equal(t, &passwd.Entry{Home: "/home/a", UID: "5", GID: "6",
		Extra: []string{"userdb_mail=maildir:~/M", "userdb_quota_rule=*:storage=1G", "nologin=Y", "home=/ignored"}}, e)
}

func TestCheckSchemeAndFailer(t *testing.T) {
	s, err := CheckScheme("sha512-crypt")
	require.NoError(t, err)
	assert.Equal(t, "SHA512-CRYPT", s)
	_, err = CheckScheme("ROT13")
	assert.ErrorContains(t, err, `"ROT13" is not a scheme pop3d knows`)

	fail := Failer("sqldb", "/etc/x.conf", func(string) int { return 7 })
	assert.EqualError(t, fail("driver", "bad %q", "y"), `sqldb: /etc/x.conf:7: driver: bad "y"`)
	assert.EqualError(t, Failer("ldapdb", "", nil)("base", "missing"), "ldapdb: ldapdb config: base: missing")
}
