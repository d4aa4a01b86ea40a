package maildir

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// While another live program holds dovecot-uidlist.lock, a session lists
// the messages that have UIDs and leaves the new one for later, rather
// than give it a UID that the other writer may give to something else.
func TestSyncWhileTheUIDListIsLocked(t *testing.T) {
	defer func(w time.Duration) { uidlistLockWait = w }(uidlistLockWait)
	uidlistLockWait = 50 * time.Millisecond

	dir := t.TempDir()
	require.NoError(t, ensureMaildir(dir))
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
	msgs, err := syncMaildir(context.Background(), dir, logger)
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	assert.Equal(t, []uint32{1, 2}, []uint32{msgs[0].uid, msgs[1].uid})
	assert.Contains(t, logs.String(), "locked by another program")
	assert.FileExists(t, lockPath, "another program's lock is left alone")
	data, err := os.ReadFile(filepath.Join(dir, uidlistName))
	require.NoError(t, err)
	assert.Equal(t, list, string(data), "the list is not written without the lock")

	require.NoError(t, os.Remove(lockPath))
	msgs, err = syncMaildir(context.Background(), dir, logger)
	require.NoError(t, err)
	require.Len(t, msgs, 3)
	assert.Equal(t, uint32(3), msgs[2].uid)
}
