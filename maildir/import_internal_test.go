package maildir

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A uidlist lock that another goroutine of this process holds is not
// broken as stale, however old: an Import waits for it rather than write
// the list at the same time and lose one of the two writes.
func TestImportWaitsForThisProcessLock(t *testing.T) {
	b, dirs := cacheBackend(t, 1, 2)
	dir := dirs[0]
	defer func(w time.Duration) { uidlistLockWait = w }(uidlistLockWait)
	uidlistLockWait = 300 * time.Millisecond

	lock, err := lockUIDList(dir, time.Second, 0o600, ownerFor(dir))
	require.NoError(t, err)
	old := time.Now().Add(-time.Minute)
	require.NoError(t, os.Chtimes(filepath.Join(dir, uidlistLockName), old, old))
	err = b.Import(context.Background(), "u1", "imported-1", strings.NewReader("Subject: x\n\nx\n"))
	assert.ErrorIs(t, err, errUIDListBusy)
	lock.release()

	require.NoError(t, b.Import(context.Background(), "u1", "imported-1", strings.NewReader("Subject: x\n\nx\n")))
	assert.Contains(t, listUIDLs(t, b, 1), "imported-1")

	// A lock file with this process's pid that nothing here holds is
	// left over from an earlier process with the same pid: broken.
	require.NoError(t, os.WriteFile(filepath.Join(dir, uidlistLockName), []byte(ownLockContent()), 0o600))
	require.NoError(t, os.Chtimes(filepath.Join(dir, uidlistLockName), old, old))
	require.NoError(t, b.Import(context.Background(), "u1", "imported-2", strings.NewReader("Subject: y\n\ny\n")))
}

func ownLockContent() string { return strconv.Itoa(os.Getpid()) + ":" + lockHostname }

// With WithSaveUIDL, a record that has a P already keeps it, even one
// that is not a valid unique-id (Dovecot's bare P of a file name longer
// than 70 characters, which Dovecot shows as it is).
func TestSaveUIDLKeepsExistingP(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Maildir")
	base := "1172760012.M296405P5768V0000000000000803I0042C5B7_0.mail-prod-03.example.com,S=8"
	writeMaildir(t, dir, []string{"1 P :" + base, "2 :b"}, map[string]string{base: "Subject: x\n\nx\n", "b": "b\n"})
	got := syncedUIDLs(t, dir, &uidlSettings{save: true})
	assert.Equal(t, []string{"000000016553f17b", "000000026553f17b"}, got, "the bare P of a long name is not a unique-id pop3d can show")
	list, err := os.ReadFile(filepath.Join(dir, uidlistName))
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^1 P .*:`+base+`$`, string(list), "the bare P stays")
	assert.Regexp(t, `(?m)^2 .*P000000026553f17b :b$`, string(list))
}
