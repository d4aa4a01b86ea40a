package passwd_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/gopop3/pop3/passwd"
)

func TestNormalizeUsername(t *testing.T) {
	for in, want := range map[string]string{
		"alice":              "alice",
		"Alice@Example.ORG":  "alice@example.org",
		"\u212Aelvin":        "\u212Aelvin", // the Kelvin sign is not ASCII K
		"ÄLICE":              "Älice",
		"bad\xffUTF-8":       "bad\xffutf-8",
		"":                   "",
		"MIXED-123_Chars.Ok": "mixed-123_chars.ok",
	} {
		assert.Equal(t, want, passwd.NormalizeUsername(in), "%q", in)
	}
}

func FuzzNormalizeUsername(f *testing.F) {
	f.Add("Alice")
	f.Add("bad\xffUTF-8")
	f.Fuzz(func(t *testing.T, name string) {
		got := passwd.NormalizeUsername(name)
		if len(got) != len(name) {
			t.Fatalf("NormalizeUsername(%q) = %q: another length", name, got)
		}
		for i := range len(name) {
			c, g := name[i], got[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != g {
				t.Fatalf("NormalizeUsername(%q) = %q: octet %d", name, got, i)
			}
		}
	})
}
