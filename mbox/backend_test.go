package mbox_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/mbox"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/pop3test"
)

// testSpools makes a spool directory and a passwd-file with the given
// "user:password-hash" lines, and returns a backend on "<root>/%u".
func testSpools(t testing.TB, users ...string) (b *mbox.Backend, root string, logs *bytes.Buffer) {
	t.Helper()
	root = t.TempDir()
	var lines strings.Builder
	for _, u := range users {
		fmt.Fprintf(&lines, "%s::::::\n", u)
	}
	pwPath := filepath.Join(t.TempDir(), "passwd")
	require.NoError(t, os.WriteFile(pwPath, []byte(lines.String()), 0o600))
	logs = new(bytes.Buffer)
	logger := slog.New(slog.NewTextHandler(logs, nil))
	pw, err := passwd.OpenFile(pwPath, logger)
	require.NoError(t, err)
	b, err = mbox.New(filepath.Join(root, "%u"), pw, mbox.WithLogger(logger))
	require.NoError(t, err)
	return b, root, logs
}

func TestBackendContract(t *testing.T) {
	pop3test.TestBackend(t, func(t *testing.T, accounts []pop3test.Account) pop3.Backend {
		var users []string
		for _, a := range accounts {
			users = append(users, a.Username+":{PLAIN}"+a.Password)
		}
		b, _, _ := testSpools(t, users...)
		for _, a := range accounts {
			for _, m := range a.Messages {
				require.NoError(t, b.Deliver(context.Background(), a.Username, bytes.NewReader(m)))
			}
		}
		return b
	})
}

// A user whose spool would be another spool's dotlock ("bob.lock") is
// refused at login and at delivery, whatever the password.
func TestSpoolNamedLikeADotlock(t *testing.T) {
	b, _, logs := testSpools(t, "bob.lock:{PLAIN}pw")
	_, err := b.Login(context.Background(), nil, "bob.lock", "pw")
	require.ErrorIs(t, err, pop3.ErrAuthFailed)
	assert.Contains(t, logs.String(), "dotlock")
	err = b.Deliver(context.Background(), "bob.lock", strings.NewReader("Subject: x\n\n"))
	require.ErrorContains(t, err, "dotlock")
}

// UserExists answers for LMTP's RCPT TO.
func TestUserExists(t *testing.T) {
	b, _, _ := testSpools(t, "alice:{PLAIN}pw")
	ok, err := b.UserExists(context.Background(), "Alice")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = b.UserExists(context.Background(), "nobody")
	require.NoError(t, err)
	assert.False(t, ok)
}

// New refuses a template that names no user, and no password source.
func TestNewErrors(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "passwd")
	require.NoError(t, os.WriteFile(pw, nil, 0o600))
	users, err := passwd.OpenFile(pw, nil)
	require.NoError(t, err)
	_, err = mbox.New("/var/mail/shared", users)
	require.ErrorContains(t, err, "mbox: ")
	_, err = mbox.New("/var/mail/%u", nil)
	require.Error(t, err)
}
