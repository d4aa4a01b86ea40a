package dovecotconf

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The forms of Dovecot 2.3's var_expand, on "Mail.Example.org" and "42";
// maildir's TestUIDLFormatSameAsDovecot compares more with Dovecot itself.
func TestModifiers(t *testing.T) {
	for _, tc := range []struct{ mods, value, want string }{
		{"", "Mail.Example.org", "Mail.Example.org"},
		{"L", "Mail.Example.org", "mail.example.org"},
		{"U", "Mail.Éxample", "MAIL.ÉXAMPLE"},
		{"LD", "Mail.Example.org", "mail,dc=example,dc=org"},
		{"R", "abc", "cba"},
		{"X", "42", "2a"},
		{"X", "x", "0"},
		{"04", "42", "0042"},
		{"1", "42", "4"},
		{"2.3", "Mail.Example.org", "il."},
		{"-3.3", "Mail.Example.org", "org"},
		{"-3", "Mail.Example.org", "Mai"},
		{"H", "42", "372"},
		{"100H", "42", "52"},
		{"T", "trail \t", "trail"},
		{"E", `a"b'c\`, `a\"b\'c\\`},
	} {
		m, n := ParseModifiers(tc.mods + "u")
		assert.Equal(t, len(tc.mods), n, "%q", tc.mods)
		assert.Equal(t, tc.want, m.Apply(tc.value), "%%%su of %q", tc.mods, tc.value)
	}
}
