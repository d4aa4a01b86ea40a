package mailuser

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTemplateExpand(t *testing.T) {
	for _, tc := range []struct {
		template, user, home string
		want                 string // "" for errBadUsername
	}{
		{"/var/mail/%u/Maildir", "bob", "", "/var/mail/bob/Maildir"},
		{"/var/mail/%u", "alice@example.com", "", "/var/mail/alice@example.com"},
		{"/var/mail/%d/%n/Maildir", "alice@example.com", "", "/var/mail/example.com/alice/Maildir"},
		{"/var/mail/%n", "bob", "", "/var/mail/bob"},
		{"/var/mail/%d/%n", "bob", "", ""}, // no domain to fill %d
		{"%h/Maildir", "bob", "/home/bob", "/home/bob/Maildir"},
		{"%h/Maildir", "bob", "/home/bob/", "/home/bob/Maildir"},
		{"%h/Maildir", "bob", "/home/./bob", "/home/bob/Maildir"},
		{"%h", "bob", "/home/bob", "/home/bob"},
		{"%h/Maildir", "bob", "home/bob", ""}, // not absolute
		{"%h/Maildir", "bob", "", ""},         // no home
		{"/var/100%%/%u", "bob", "", "/var/100%/bob"},
		{"/var/mail/%%u/%u", "bob", "", "/var/mail/%u/bob"},
		{"/var/mail/%{user}/Maildir", "alice@example.com", "", "/var/mail/alice@example.com/Maildir"},
		{"/var/mail/%{domain}/%{username}", "alice@example.com", "", "/var/mail/example.com/alice"},
		{"%{home}/Maildir", "bob", "/home/bob", "/home/bob/Maildir"},
		{"/var/mail/%u/", "bob", "", "/var/mail/bob"},
		{"/var/mail//%u", "bob", "", "/var/mail/bob"},
		{"/var/mail/%u.d", "bob", "", "/var/mail/bob.d"},
		{"/var/mail-%u", "bob", "", "/var/mail-bob"},
		{"mail/%u", "bob", "", "mail/bob"},
		{"%u", "bob", "", "bob"},
		{"/var/mail/%u", "bob.smith", "", "/var/mail/bob.smith"},
		{"/var/mail/%u", "a..b", "", "/var/mail/a..b"},
		{"/var/mail/%u", "ünïcødé", "", "/var/mail/ünïcødé"},
		{"/var/mail/%u", "..", "", ""},
	} {
		t.Run(tc.template+" "+tc.user, func(t *testing.T) {
			tmpl, err := ParseTemplate(tc.template)
			require.NoError(t, err)
			got, err := tmpl.Expand(tc.user, tc.home)
			if tc.want == "" {
				assert.ErrorIs(t, err, errBadUsername)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseTemplateRefuses(t *testing.T) {
	for _, s := range []string{
		"/var/mail/shared",  // no user
		"/var/mail/%d",      // a domain is no user
		"/var/mail/%%u",     // a literal %u
		"/var/mail/%x",      // unknown variable
		"/var/mail/%",       // ends in %
		"/var/mail/%{nope}", // unknown long variable
		"/var/mail/%{user",  // unclosed
		"/var/mail/%{}",     // empty long name
		"",
	} {
		_, err := ParseTemplate(s)
		assert.Error(t, err, "%q", s)
	}
}

func TestTemplateRoot(t *testing.T) {
	for _, tc := range []struct{ template, root string }{
		{"/var/mail/%u/Maildir", "/var/mail/"},
		{"/var/mail/%d/%n", "/var/mail/"},
		{"/var/mail-%u", "/var/"},
		{"/%u", "/"},
		{"mail/%u", "mail/"},
		{"%u", ""},
		{"%h/Maildir", ""},
	} {
		tmpl, err := ParseTemplate(tc.template)
		require.NoError(t, err, tc.template)
		assert.Equal(t, tc.root, tmpl.Root(), tc.template)
	}
}

func TestCheckUsernameRefuses(t *testing.T) {
	for _, name := range []string{
		"",
		"..",
		"../x",
		"../../etc",
		"a/b",
		"/abs",
		`a\b`,
		`..\x`,
		".hidden",
		".",
		"a\x00b",
		"\x00",
		"a\x01b",
		"a\tb",
		"a\nb",
		"a\x7fb",
		"a b",
		" bob",
		"a:b",
		"a%b",
		"%u",
		"a@b@c",
		"@example.com",
		"bob@",
		"@",
		"bob@.example.com",
		"bob@..",
		".bob@example.com",
		strings.Repeat("a", 256),
		"bob\xff",
		"\xc3\x28",
	} {
		err := CheckUsername(name)
		assert.ErrorIs(t, err, errBadUsername, "%q", name)
		tmpl, perr := ParseTemplate("/srv/mail/%u/Maildir")
		require.NoError(t, perr)
		path, err := tmpl.Expand(name, "/home/x")
		assert.ErrorIs(t, err, errBadUsername, "%q", name)
		assert.Empty(t, path)
	}
}

func TestCheckUsernameAccepts(t *testing.T) {
	for _, name := range []string{
		"bob",
		"bob.smith",
		"bob-smith_2",
		"bob@example.com",
		"b.o.b@mail.example.com",
		"a..b",
		"a.",
		"ünïcødé",
		strings.Repeat("a", 255),
		"bob+tag@example.com",
	} {
		assert.NoError(t, CheckUsername(name), "%q", name)
	}
}

// Whatever the name, an expansion is refused or stays under the template's
// root directory without a ".." element.
func TestTemplateExpandStaysUnderItsRoot(t *testing.T) {
	const alphabet = "a./@\\%:\x00"
	templates := []string{
		"/srv/mail/%u",
		"/srv/mail/%u/Maildir",
		"/srv/mail/%d/%n/Maildir",
		"/srv/mail/%{domain}/%{username}",
		"/srv/mail/%n.%d",
		"/srv/mail-%u",
		"mail/%u/Maildir",
	}
	var names []string
	// Every name of up to 4 octets, then random ones of 5 to 8.
	var all func(prefix string, n int)
	all = func(prefix string, n int) {
		if prefix != "" {
			names = append(names, prefix)
		}
		if n == 0 {
			return
		}
		for i := 0; i < len(alphabet); i++ {
			all(prefix+alphabet[i:i+1], n-1)
		}
	}
	all("", 4)
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		b := make([]byte, 1+r.IntN(8))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		names = append(names, string(b))
	}
	// Names that get through must exist, or the property is empty.
	accepted := 0
	for _, s := range templates {
		tmpl, err := ParseTemplate(s)
		require.NoError(t, err)
		root := tmpl.Root()
		require.NotEmpty(t, root)
		for _, name := range names {
			path, err := tmpl.Expand(name, "")
			if err != nil {
				require.ErrorIs(t, err, errBadUsername, "template %q, name %q", s, name)
				continue
			}
			accepted++
			require.True(t, strings.HasPrefix(path, root), "template %q, name %q: %q leaves %q", s, name, path, root)
			require.NotContains(t, strings.Split(path, "/"), "..", "template %q, name %q: %q", s, name, path)
			require.Equal(t, filepath.Clean(path), path)
			require.NotContains(t, path, "\x00")
			require.NotContains(t, path, `\`)
		}
	}
	assert.Greater(t, accepted, 1000)
}

// A template with ".." in its literal part is either refused when it is
// parsed or expanded like any other; it must not accept every name and
// then refuse them all.
func TestTemplateWithDotDotLiteral(t *testing.T) {
	_, err := ParseTemplate("/var/mail/../vmail/%u")
	assert.ErrorContains(t, err, `".."`, "refused when configured, not at every login")
}
