package pop3

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestShorten(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 40, "short"},
		{strings.Repeat("x", 40), 40, strings.Repeat("x", 40)},
		{strings.Repeat("x", 41), 40, strings.Repeat("x", 40) + "..."},
		// A character across the limit is left out whole.
		{strings.Repeat("x", 39) + "é", 40, strings.Repeat("x", 39) + "..."},
		// Not UTF-8 at all: a plain cut, not an empty one.
		{strings.Repeat("\x80", 50), 40, strings.Repeat("\x80", 40) + "..."},
	} {
		got := shorten(tc.in, tc.n)
		assert.Equal(t, tc.want, got, "%q", tc.in)
		if utf8.ValidString(tc.in) {
			assert.True(t, utf8.ValidString(got), "UTF-8 in, UTF-8 out: %q", got)
		}
	}
}
