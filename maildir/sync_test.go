package maildir

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
)

// While another live program holds dovecot-uidlist.lock, a session lists
// the messages that have UIDs and leaves the new one for later, rather
// than give it a UID that the other writer may give to something else.
func TestSyncWhileTheUIDListIsLocked(t *testing.T) {
	defer func(w time.Duration) { uidlistLockWait = w }(uidlistLockWait)
	uidlistLockWait = 50 * time.Millisecond

	dir := t.TempDir()
	require.NoError(t, ensureMaildir(dir, owner{}))
	for _, name := range []string{"1700000001.M1P1.h", "1700000002.M1P1.h", "1700000003.M1P1.h"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cur", name+":2,"), []byte("Subject: x\n\nx\n"), 0o600))
	}
	list := "3 V1000 N3 G0123456789abcdef0123456789abcdef\n1 W15 :1700000001.M1P1.h\n2 W15 :1700000002.M1P1.h\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, uidlistName), []byte(list), 0o600))
	// pid 1 is alive, and the lock is fresh: not stale.
	lockPath := filepath.Join(dir, uidlistLockName)
	require.NoError(t, os.WriteFile(lockPath, []byte("1:"+lockHostname), 0o600))

	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	msgs, _, err := syncMaildir(context.Background(), dir, logger, owner{}, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	assert.Equal(t, []uint32{1, 2}, []uint32{msgs[0].uid, msgs[1].uid})
	assert.Contains(t, logs.String(), "locked by another program")
	assert.FileExists(t, lockPath, "another program's lock is left alone")
	data, err := os.ReadFile(filepath.Join(dir, uidlistName))
	require.NoError(t, err)
	assert.Equal(t, list, string(data), "the list is not written without the lock")

	require.NoError(t, os.Remove(lockPath))
	msgs, _, err = syncMaildir(context.Background(), dir, logger, owner{}, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 3)
	assert.Equal(t, uint32(3), msgs[2].uid)
}

// A file that Dovecot would count otherwise (no final LF, CR CR LF) is
// served with this package's size, and that size is not written into the
// uidlist, where Dovecot would take it for its own.
func TestSizeDovecotCountsOtherwiseIsNotShared(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, ensureMaildir(dir, owner{}))
	files := map[string]string{
		"1700000001.M1P1.h": "Subject: a\n\nno final line end",
		"1700000002.M1P1.h": "Subject: b\n\nx\r\r\ny\n",
		"1700000003.M1P1.h": "Subject: c\n\nplain\n",
	}
	for name, data := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "new", name), []byte(data), 0o600))
	}
	msgs, _, err := syncMaildir(context.Background(), dir, slog.New(slog.DiscardHandler), owner{}, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 3)
	for _, m := range msgs {
		n, err := pop3CRLFSize(files[m.base])
		require.NoError(t, err)
		assert.Equal(t, n, m.size, m.base)
	}
	data, err := os.ReadFile(filepath.Join(dir, uidlistName))
	require.NoError(t, err)
	assert.Contains(t, string(data), "3 W21 :1700000003.M1P1.h\n")
	assert.Contains(t, string(data), "\n1 :1700000001.M1P1.h\n")
	assert.Contains(t, string(data), "\n2 :1700000002.M1P1.h\n")
}

// With the uidlist's header unreadable and its lock held by another live
// program, no unique-id can be shown that the next session would keep.
func TestUnreadableHeaderWhileLocked(t *testing.T) {
	defer func(w time.Duration) { uidlistLockWait = w }(uidlistLockWait)
	uidlistLockWait = 50 * time.Millisecond
	dir := t.TempDir()
	require.NoError(t, ensureMaildir(dir, owner{}))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cur", "1700000001.M1P1.h:2,"), []byte("x\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, uidlistName), []byte("3 Vx N5\n1 :1700000001.M1P1.h\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, uidlistLockName), []byte("1:"+lockHostname), 0o600))
	_, _, err := syncMaildir(context.Background(), dir, slog.New(slog.DiscardHandler), owner{}, nil)
	assert.ErrorIs(t, err, errUIDListBusy)
}

func pop3CRLFSize(s string) (int64, error) { return pop3.CRLFSize(strings.NewReader(s)) }

// Two files under one base name (a copy restored beside the original): the
// second is renamed, as Dovecot does, and listed as a message of its own;
// the first keeps its UID.
func TestDuplicateBaseNames(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, ensureMaildir(dir, owner{}))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cur", "1700000001.M1P1.h:2,S"), []byte("first\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, uidlistName), []byte("3 V1000 N2 G0123456789abcdef0123456789abcdef\n1 :1700000001.M1P1.h\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cur", "1700000001.M1P1.h:2,T"), []byte("second copy\n"), 0o600))
	var logs bytes.Buffer
	msgs, _, err := syncMaildir(context.Background(), dir, slog.New(slog.NewTextHandler(&logs, nil)), owner{}, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	assert.Equal(t, uint32(1), msgs[0].uid)
	assert.Equal(t, uint32(2), msgs[1].uid)
	assert.NotEqual(t, msgs[0].base, msgs[1].base)
	assert.Contains(t, logs.String(), "renamed")
	again, _, err := syncMaildir(context.Background(), dir, slog.New(slog.DiscardHandler), owner{}, nil)
	require.NoError(t, err)
	assert.Equal(t, msgs, again, "stable from then on")
}

// Dovecot appends a second record when a file it had dropped comes back,
// and uses the later UID; so do we, so that the unique-id does not change
// between the two servers.
func TestDuplicateRecordLaterWins(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, ensureMaildir(dir, owner{}))
	for _, name := range []string{"1700000001.M1P1.a", "1700000002.M1P1.b"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cur", name+":2,"), []byte("x\n"), 0o600))
	}
	list := "3 V1000 N22 G0123456789abcdef0123456789abcdef\n1 :1700000001.M1P1.a\n9 :1700000002.M1P1.b\n21 :1700000001.M1P1.a\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, uidlistName), []byte(list), 0o600))
	msgs, _, err := syncMaildir(context.Background(), dir, slog.New(slog.DiscardHandler), owner{}, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	assert.Equal(t, []string{"1700000002.M1P1.b", "1700000001.M1P1.a"}, []string{msgs[0].base, msgs[1].base})
	assert.Equal(t, "00000015000003e8", msgs[1].uidl)
	data, err := os.ReadFile(filepath.Join(dir, uidlistName))
	require.NoError(t, err)
	assert.Equal(t, "3 V1000 N22 G0123456789abcdef0123456789abcdef\n9 W3 :1700000002.M1P1.b\n21 W3 :1700000001.M1P1.a\n", string(data))
}
