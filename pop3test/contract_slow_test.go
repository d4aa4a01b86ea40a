package pop3test_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowNote matches the kit's note of a slow Close or QUIT.
var slowNote = regexp.MustCompile(`pop3test: (Mailbox\.Close|QUIT) took \S+`)

// TestKitNotesSlowClose runs the kit, in a child process, on a backend
// whose Close takes twice the threshold the kit is given, and checks that
// each check says so once, and passes.
func TestKitNotesSlowClose(t *testing.T) {
	t.Parallel()
	kit := runBrokenBackend(t, closeIsSlow, "^TestBrokenBackend$/^(Open|Close)$",
		slowCloseEnv+"="+(slowCloseTime/2).String())
	require.Equal(t, 0, kit.exit, "a slow Close is noted, not failed:\n%s", kit.out)
	checks := 0
	for check := range kit.result {
		if !strings.Contains(check, "/") {
			continue // a group
		}
		checks++
		assert.Len(t, slowNote.FindAllString(kit.output[check], -1), 1, "%s must note a slow call once:\n%s", check, kit.output[check])
	}
	assert.Equal(t, 7, checks, "the checks of Open and Close:\n%s", kit.out)

	direct := kit.output["Close/releases_the_lock"]
	assert.Contains(t, direct, "pop3test: Mailbox.Close took ")
	assert.Contains(t, direct, "more than "+(slowCloseTime/2).String())
	assert.Contains(t, direct, "before it answers QUIT (RFC 1939 §6)")
	quit := kit.output["Close/releases_the_lock_after_QUIT"]
	assert.Contains(t, quit, "pop3test: QUIT took ")
	assert.Contains(t, quit, "only after UPDATE, which calls Mailbox.Delete and then Mailbox.Close")
}

// TestKitQuietWhenCloseIsFast: under the threshold (a second by default),
// the kit says nothing.
func TestKitQuietWhenCloseIsFast(t *testing.T) {
	t.Parallel()
	kit := runBrokenBackend(t, closeIsSlow, "^TestBrokenBackend$/^(Open|Close)$/^(other_users_are_unaffected|releases_the_lock_after_QUIT)$")
	require.Equal(t, 0, kit.exit, kit.out)
	for _, check := range []string{"Open/other_users_are_unaffected", "Close/releases_the_lock_after_QUIT"} {
		assert.Equal(t, "PASS", kit.result[check], "%s:\n%s", check, kit.out)
	}
	assert.Empty(t, slowNote.FindAllString(kit.out, -1))
}
