package dovecotconf

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTemplateExpand(t *testing.T) {
	vals := &Values{
		User:    "Ann@Mail.Example.org",
		Service: "pop3",
		Local:   netip.MustParseAddrPort("[::ffff:10.0.0.1]:110"),
		Remote:  netip.MustParseAddrPort("192.0.2.7:51000"),
		LDAP: func(attr string) (string, bool) {
			if attr == "mailMessageStore" {
				return "ann", true
			}
			return "", false
		},
		Attr: "1024",
	}
	for _, tc := range []struct{ in, want string }{
		{"%u", "Ann@Mail.Example.org"},
		{"%Lu", "ann@mail.example.org"},
		{"%n/%d", "Ann/Mail.Example.org"},
		{"%{user}|%{username}|%{domain}|%{service}", "Ann@Mail.Example.org|Ann|Mail.Example.org|pop3"},
		{"%L{username}", "ann"},
		{"%Ud", "MAIL.EXAMPLE.ORG"},
		{"%Rn", "nnA"},
		{"dc=%LDd", "dc=mail,dc=example,dc=org"},
		{"%l %r %a %b", "10.0.0.1 192.0.2.7 110 51000"},
		{"%{rip}:%{real_rport}", "192.0.2.7:51000"},
		{"100%% %Eu", "100% Ann@Mail.Example.org"},
		{"/v/%{ldap:mailMessageStore}/%{ldap:missing:none}/%{ldap:missing}", "/v/ann/none/"},
		{"*:bytes=%$", "*:bytes=1024"},
		{"%c", ""},
	} {
		tpl, err := ParseTemplate(tc.in, true)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, tpl.Expand(vals, nil), tc.in)
	}
	tpl, err := ParseTemplate("(uid=%n)", false)
	require.NoError(t, err)
	assert.Equal(t, "(uid=ANN)", tpl.Expand(vals, strings.ToUpper), "escape applies to values only")
	assert.True(t, tpl.HasVars())
	assert.Equal(t, "", (&Var{Name: "rip"}).Expand(&Values{}), "no connection: empty")
}

func TestParseTemplateErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"%w", "password"},
		{"%{password}", "password"},
		{"%h", "home directory"},
		{"%{session}", "not supported"},
		{"%q", "unknown variable"},
		{"%{nope}", "unknown variable"},
		{"%{user", "no closing brace"},
		{"50%", "lone %"},
		{"%Xu", "modifier is not supported"},
		{"%1n", "widths"},
		{"%{ldap:uid}", "only for LDAP"},
		{"%$", "unknown variable"},
	} {
		_, err := ParseTemplate(tc.in, false)
		require.Error(t, err, tc.in)
		assert.Contains(t, err.Error(), tc.want, tc.in)
	}
}

func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"%u", "%L{user}", "a%%b", "%{ldap:x:y}", "%Dd", "%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tpl, err := ParseTemplate(s, true)
		if err != nil {
			return
		}
		// Without variables, expansion gives the text back with %% made %.
		if !tpl.HasVars() {
			assert.Equal(t, strings.ReplaceAll(s, "%%", "%"), tpl.Expand(&Values{}, nil))
		}
		_ = tpl.Expand(&Values{User: "a@b"}, nil)
	})
}

// The value is escaped before the modifiers, as Dovecot does: %D's ",dc="
// stays a DN separator, the domain's own characters are escaped.
func TestExpandEscapesBeforeModifiers(t *testing.T) {
	tpl, err := ParseTemplate("ou=people,dc=%Dd", false)
	require.NoError(t, err)
	esc := func(s string) string { return strings.ReplaceAll(s, ",", `\,`) }
	assert.Equal(t, "ou=people,dc=example,dc=org", tpl.Expand(&Values{User: "a@example.org"}, esc))
	assert.Equal(t, `ou=people,dc=ex\,ample,dc=org`, tpl.Expand(&Values{User: "a@ex,ample.org"}, esc))
}
