package pop3test_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKitRecoversPanics runs the kit on backends that panic, in a child
// process, and checks that each panic fails the check that made the call,
// named for the method, while the checks after it still run and the test
// binary lives on: it exits 1, as for any failure, not 2, as for a panic.
func TestKitRecoversPanics(t *testing.T) {
	tests := []struct {
		defect defect
		// checks are the groups of checks that run, as a -test.run
		// pattern.
		checks string
		// fail maps the checks that must fail to what their failure says;
		// pass lists checks that must pass.
		fail map[string]string
		pass []string
	}{
		{
			defect: messagePanics,
			checks: "Login|Message",
			fail: map[string]string{
				"Message/readable_twice":                  "Message panicked: boom",
				"Message/cancelled_context_is_respected":  "Message panicked: boom",
				"Message/RETR_on_the_wire_equals_Message": "Message panicked: boom\n        in a session: the server recovered the panic",
			},
			pass: []string{"Login/right_password_gives_the_user", "Login/unknown_user_fails_like_a_wrong_password"},
		},
		{
			defect: closePanics,
			checks: "Login|Open|Message",
			fail: map[string]string{
				"Open/other_users_are_unaffected": "Close panicked: boom", // closing bob's maildrop
				"Message/readable_twice":          "Close panicked: boom", // in the cleanup that closes the maildrop
			},
			pass: []string{"Login/wrong_password_fails_with_ErrAuthFailed"},
		},
		{
			defect: bobLoginPanics,
			checks: "Login|Close",
			fail: map[string]string{
				"Login/right_password_gives_the_user":        "Login panicked: boom",
				"Login/concurrent_logins_of_different_users": "Login panicked: boom", // in the kit's goroutines
			},
			pass: []string{"Login/wrong_password_fails_with_ErrAuthFailed", "Close/releases_the_lock", "Close/releases_the_lock_after_QUIT"},
		},
		{
			defect: newBackendPanics,
			checks: "Login|DELE",
			fail: map[string]string{
				"Login/right_password_gives_the_user":              "newBackend panicked: boom",
				"DELE/deleting_every_message_empties_the_maildrop": "newBackend panicked: boom",
			},
		},
	}
	for _, tt := range tests {
		t.Run(string(tt.defect), func(t *testing.T) {
			t.Parallel()
			kit := runBrokenBackend(t, tt.defect, "^TestBrokenBackend$/^("+tt.checks+")$")
			require.Equal(t, 1, kit.exit, "the kit must fail, and the binary not die:\n%s", kit.out)
			assert.NotRegexp(t, `(?m)^panic: `, kit.out)
			for check, want := range tt.fail {
				assert.Equal(t, "FAIL", kit.result[check], "%s:\n%s", check, kit.out)
				assert.Contains(t, kit.output[check], want, "what %s reports", check)
			}
			for _, check := range tt.pass {
				assert.Equal(t, "PASS", kit.result[check], "%s:\n%s", check, kit.output[check])
			}
		})
	}
}

// TestKitPanicReport checks the form of the report: the method and the
// value on the first line, then the stack, one line per call and one per
// place, with real line ends.
func TestKitPanicReport(t *testing.T) {
	kit := runBrokenBackend(t, messagePanics, "^TestBrokenBackend$/^Message$/^readable_twice$")
	got := kit.output["Message/readable_twice"]
	assert.Regexp(t, `(?m)^    contract_test\.go:\d+: Message panicked: boom$`, got,
		"the failure is reported where the backend panicked")
	assert.Regexp(t, `(?m)^\s+github\.com/gopop3/pop3/pop3test_test\.\(\*kitMailbox\)\.Message\n\s+\S*contract_test\.go:\d+$`, got)
	assert.Regexp(t, `(?m)^\s+github\.com/gopop3/pop3/pop3test\.read\n\s+\S*contract\.go:\d+$`, got,
		"the stack goes on to the kit's call")
	assert.NotContains(t, got, `\n`, "no escaped line ends")
	assert.NotContains(t, got, "testing.tRunner", "the stack stops at the test runner")
}
