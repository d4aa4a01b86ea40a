package mbox

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// commitUpdate writes a committed update file for spool, made from old
// (the spool's content then) and giving it newContent.
func commitUpdate(t *testing.T, spool, old, newContent string) {
	t.Helper()
	u, err := createUpdate(spool)
	require.NoError(t, err)
	_, err = u.Write([]byte(newContent))
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(old))
	_, err = u.commit(int64(len(old)), sum[:])
	require.NoError(t, err)
}

// Every state a crash can leave an update in is finished by the next
// taker of the lock, keeping mail that was appended after the crash, and
// leaving no update file behind.
func TestRecoverUpdate(t *testing.T) {
	const (
		old    = "From a Sun Dec  6 19:22:23 2026\nSubject: 1\n\nbody one\n\nFrom b Sun Dec  6 19:22:24 2026\nSubject: 2\n\nbody two\n\n"
		shrunk = "From b Sun Dec  6 19:22:24 2026\nSubject: 2\n\nbody two\n\n"
		grown  = "From a Sun Dec  6 19:22:23 2026\nX-UID: 1\nStatus: RO\nSubject: 1\n\nbody one\n\nFrom b Sun Dec  6 19:22:24 2026\nX-UID: 2\nSubject: 2\n\nbody two\n\n"
		later  = "From c Sun Dec  6 19:30:00 2026\nSubject: 3\n\nlate\n\n"
	)
	tests := []struct {
		name        string
		newContent  string
		spoolBefore string // what the crash left
		want        string
	}{
		{"not started, shrinking", shrunk, old, shrunk},
		{"not started, shrinking, mail appended", shrunk, old + later, shrunk + later},
		{"cut, nothing written", shrunk, old[:len(shrunk)], shrunk},
		{"cut, half written", shrunk, shrunk[:10] + old[10:len(shrunk)], shrunk},
		{"cut, half written, mail appended", shrunk, shrunk[:10] + old[10:len(shrunk)] + later, shrunk + later},
		{"cut, fully written, mail appended", shrunk, shrunk + later, shrunk + later},
		{"not started, growing", grown, old, grown},
		{"not started, growing, mail appended", grown, old + later, grown + later},
		{"grown, nothing written", grown, old + strings.Repeat("\x00", len(grown)-len(old)), grown},
		{"grown, half written, mail appended", grown, grown[:40] + old[40:] + strings.Repeat("\x00", len(grown)-len(old)) + later, grown + later},
		{"same size, half written", strings.ToUpper(old[:5]) + old[5:], old, strings.ToUpper(old[:5]) + old[5:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "user")
			commitUpdate(t, path, old, tt.newContent)
			require.NoError(t, os.WriteFile(path, []byte(tt.spoolBefore), 0o660))
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			require.NoError(t, err)
			defer f.Close()

			recovered, err := recoverUpdate(f, path, nil)
			require.NoError(t, err)
			assert.True(t, recovered)
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Len(t, entries, 1, "only the spool is left")
		})
	}
}

// An update file that was never committed is dropped: the spool had not
// been touched.
func TestRecoverDropsUncommittedUpdate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "user")
	require.NoError(t, os.WriteFile(path, []byte("From a Sun Dec  6 19:22:23 2026\n\nx\n"), 0o660))
	u, err := createUpdate(path)
	require.NoError(t, err)
	_, err = u.Write([]byte("half"))
	require.NoError(t, err)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()

	recovered, err := recoverUpdate(f, path, nil)
	require.NoError(t, err)
	assert.False(t, recovered)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "From a Sun Dec  6 19:22:23 2026\n\nx\n", string(got))
	writing, _ := updatePaths(path)
	assert.NoFileExists(t, writing)
}

// A spool shorter than both what it was and what the update makes it was
// rewritten by another program after the crash: it is left alone, with
// the update file, and the error says so.
func TestRecoverRefusesARewrittenSpool(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "user")
	commitUpdate(t, path, strings.Repeat("x", 100), strings.Repeat("y", 80))
	require.NoError(t, os.WriteFile(path, []byte("From a Sun Dec  6 19:22:23 2026\n\nx\n"), 0o660))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()

	_, err = recoverUpdate(f, path, nil)
	require.ErrorContains(t, err, "another program rewrote it")
	_, committed := updatePaths(path)
	assert.FileExists(t, committed)
}

// A damaged update file (its trailer gone) is an error, not a guess.
func TestReadTrailerRefusesDamage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "user")
	commitUpdate(t, path, "old", "new content")
	_, committed := updatePaths(path)
	fi, err := os.Stat(committed)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(committed, fi.Size()-1))
	f, err := os.Open(committed)
	require.NoError(t, err)
	defer f.Close()
	_, err = readTrailer(f)
	assert.Error(t, err)
}
