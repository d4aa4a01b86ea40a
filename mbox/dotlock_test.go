package mbox

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The dotlock is SPOOL.lock holding "pid:host", as Dovecot writes it, and
// it is gone once released, with no temporary file left.
func TestDotlockTakeAndRelease(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "user")
	l, err := takeDotlock(context.Background(), spool)
	require.NoError(t, err)
	b, err := os.ReadFile(spool + ".lock")
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(os.Getpid())+":"+hostname+"\n", string(b))
	require.NoError(t, l.release())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// A held dotlock is waited for until the context ends; a second taker
// gets it once it is released.
func TestDotlockWaits(t *testing.T) {
	spool := filepath.Join(t.TempDir(), "user")
	l, err := takeDotlock(context.Background(), spool)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = takeDotlock(ctx, spool)
	require.ErrorIs(t, err, errLockTimeout)

	got := make(chan error, 1)
	go func() {
		l2, err := takeDotlock(context.Background(), spool)
		if err == nil {
			err = l2.release()
		}
		got <- err
	}()
	require.NoError(t, l.release())
	require.NoError(t, <-got)
}

// Stale dotlocks are broken as the host's programs break them: a dead
// holder of this host at once; one that cannot be checked (Postfix's
// empty lock, another host's) only once it is old.
func TestDotlockBreaksStaleLocks(t *testing.T) {
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	deadPid := dead.Process.Pid

	tests := []struct {
		name    string
		content string
		age     time.Duration
		broken  bool
	}{
		{"dead holder of this host", strconv.Itoa(deadPid) + ":" + hostname + "\n", 0, true},
		{"dead holder, pid alone (dotlockfile)", strconv.Itoa(deadPid) + "\n", 0, true},
		{"live holder", "1:" + hostname + "\n", time.Hour, false},
		{"our own pid, not held here (a restart with the same pid)", strconv.Itoa(os.Getpid()) + ":" + hostname + "\n", 0, true},
		{"empty (Postfix), fresh", "", time.Second, false},
		{"empty (Postfix), old", "", DefaultStaleDotlock + time.Minute, true},
		{"another host's, fresh", "1:elsewhere.example\n", time.Second, false},
		{"another host's, old", "1:elsewhere.example\n", DefaultStaleDotlock + time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spool := filepath.Join(t.TempDir(), "user")
			require.NoError(t, os.WriteFile(spool+".lock", []byte(tt.content), 0o600))
			then := time.Now().Add(-tt.age)
			require.NoError(t, os.Chtimes(spool+".lock", then, then))
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			l, err := takeDotlock(ctx, spool)
			if !tt.broken {
				require.ErrorIs(t, err, errLockTimeout)
				b, err := os.ReadFile(spool + ".lock")
				require.NoError(t, err)
				assert.Equal(t, tt.content, string(b), "the lock is left alone")
				return
			}
			require.NoError(t, err)
			require.NoError(t, l.release())
		})
	}
}

// A lock that another program took over (it judged ours stale) is not
// removed by our release.
func TestDotlockReleaseLeavesAnotherHoldersLock(t *testing.T) {
	spool := filepath.Join(t.TempDir(), "user")
	l, err := takeDotlock(context.Background(), spool)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(spool+".lock", []byte("1:elsewhere.example\n"), 0o600))
	assert.Error(t, l.release())
	b, err := os.ReadFile(spool + ".lock")
	require.NoError(t, err)
	assert.Equal(t, "1:elsewhere.example\n", string(b))
}
