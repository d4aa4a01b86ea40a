package mbox

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/passwd"
)

// Recover finishes, at start-up, the updates a crash left in the spool
// directory, keeping mail delivered since, and leaves other files alone.
func TestRecoverAtStartup(t *testing.T) {
	b, root := newTestBackend(t)
	const (
		old   = "From a Sun Dec  6 19:22:23 2026\nSubject: 1\n\none\n\nFrom b Sun Dec  6 19:22:24 2026\nSubject: 2\n\ntwo\n\n"
		newer = "From b Sun Dec  6 19:22:24 2026\nSubject: 2\n\ntwo\n\n"
		later = "From c Sun Dec  6 19:30:00 2026\nSubject: 3\n\nlate\n\n"
	)
	alice := filepath.Join(root, "alice")
	commitUpdate(t, alice, old, newer)
	require.NoError(t, os.WriteFile(alice, []byte(old+later), 0o660)) // not cut yet, and mail since
	bob := filepath.Join(root, "bob")
	require.NoError(t, os.WriteFile(bob, []byte(old), 0o660))

	n, err := b.Recover(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	got, err := os.ReadFile(alice)
	require.NoError(t, err)
	assert.Equal(t, newer+later, string(got))
	got, err = os.ReadFile(bob)
	require.NoError(t, err)
	assert.Equal(t, old, string(got))
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "the update file is gone, no lock is left")

	n, err = b.Recover(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left to do")
}

// A template whose directory depends on the user has nothing to scan.
func TestRecoverWithoutFixedDirectory(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "passwd")
	require.NoError(t, os.WriteFile(pw, []byte("alice:{PLAIN}pw::::/home/alice::\n"), 0o600))
	users, err := passwd.OpenFile(pw, nil)
	require.NoError(t, err)
	for _, template := range []string{"%h/mbox", filepath.Join(t.TempDir(), "%d", "%n")} {
		b, err := New(template, users)
		require.NoError(t, err)
		n, err := b.Recover(context.Background())
		require.NoError(t, err)
		assert.Zero(t, n, template)
	}
}
