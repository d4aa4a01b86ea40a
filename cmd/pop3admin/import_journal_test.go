package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJournal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "host")
	j, err := openJournal(dir, "alice", "maildir /var/mail/%u")
	require.NoError(t, err)
	assert.False(t, j.has("a"))
	require.NoError(t, j.add("a"))
	require.NoError(t, j.add("b"))
	require.NoError(t, j.add("a"), "twice is once")
	assert.True(t, j.has("a"))
	require.NoError(t, j.close())
	path := filepath.Join(dir, "alice.journal")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "# pop3admin import journal 1: into maildir /var/mail/%u\na\nb\n", string(data))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// A line torn by a crash is dropped, and the next one starts on a
	// line of its own.
	require.NoError(t, os.WriteFile(path, append(data, "cc-torn"...), 0o600))
	j, err = openJournal(dir, "alice", "maildir /var/mail/%u")
	require.NoError(t, err)
	assert.True(t, j.has("a") && j.has("b"))
	assert.False(t, j.has("cc-torn"))
	require.NoError(t, j.add("c"))
	require.NoError(t, j.close())
	data, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "# pop3admin import journal 1: into maildir /var/mail/%u\na\nb\nc\n", string(data))

	// A header torn: the journal starts afresh.
	require.NoError(t, os.WriteFile(path, []byte("# pop3admin imp"), 0o600))
	j, err = openJournal(dir, "alice", "maildir /var/mail/%u")
	require.NoError(t, err)
	require.NoError(t, j.close())
	data, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "# pop3admin import journal 1: into maildir /var/mail/%u\n", string(data))
}

// A journal of an import into another destination is refused, and so is
// a file that is no journal: their unique-ids say nothing of this one.
func TestJournalOtherDestination(t *testing.T) {
	dir := t.TempDir()
	j, err := openJournal(dir, "alice", "maildir /srv/test/%u")
	require.NoError(t, err)
	require.NoError(t, j.add("a"))
	require.NoError(t, j.close())
	_, err = openJournal(dir, "alice", "postgres db:5432/mail")
	require.ErrorIs(t, err, errJournalOther)
	assert.Contains(t, err.Error(), "is of an import into maildir /srv/test/%u, not postgres db:5432/mail")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "bob.journal"), []byte("something else\n"), 0o600))
	_, err = openJournal(dir, "bob", "maildir /srv/test/%u")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not a journal of pop3admin import")
}

func TestJournalFileName(t *testing.T) {
	for _, tc := range []struct{ user, file string }{
		{"alice", "alice.journal"},
		{"alice@example.org", "alice@example.org.journal"},
		{"first.last+tag", "first.last+tag.journal"},
		{"Alice", "%41lice.journal"},
		{"..", "%2E..journal"},
		{".hidden", "%2Ehidden.journal"},
		{"../../etc/passwd", "%2E.%2F..%2Fetc%2Fpasswd.journal"},
		{"a%2Fb", "a%252%46b.journal"},
		{"a/b", "a%2Fb.journal"},
		{"ü", "%C3%BC.journal"},
	} {
		assert.Equal(t, tc.file, journalFileName(tc.user), tc.user)
		assert.Equal(t, tc.file, filepath.Base(tc.file), "one path element")
	}
	assert.Equal(t, "mail.example.org", journalDirName("Mail.Example.ORG"))
	assert.Equal(t, "%3A%3A1", journalDirName("::1"))
}
