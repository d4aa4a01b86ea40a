package maildir

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// panicOnSecondErr is a context whose Err panics from its second call on:
// the first is Open's own check, the next come from inside the listing.
type panicOnSecondErr struct {
	context.Context
	calls int
}

func (c *panicOnSecondErr) Err() error {
	if c.calls++; c.calls > 1 {
		panic("boom")
	}
	return nil
}

// A panic while the maildrop is listed (which the server recovers) leaves
// it unlocked.
func TestOpenPanicReleasesTheLock(t *testing.T) {
	b, dirs := cacheBackend(t, 1, 0)
	// A file whose size is not in its name is read, after a ctx.Err check.
	require.NoError(t, os.WriteFile(filepath.Join(dirs[0], "cur", "1800000000.M1P1.nosize:2,"), []byte("x\n"), 0o600))
	u, err := b.Login(context.Background(), nil, "u1", "pw")
	require.NoError(t, err)
	require.Panics(t, func() { _, _ = u.Open(&panicOnSecondErr{Context: context.Background()}) })
	box, err := u.Open(context.Background())
	require.NoError(t, err, "the maildrop is not left locked")
	require.NoError(t, box.Close())
}

// A mailbox that is never closed does not keep its maildrop locked, nor its
// files open, once it is lost: as with an *os.File, the descriptors are
// closed when it is collected.
func TestLostMailboxUnlocks(t *testing.T) {
	b, _ := cacheBackend(t, 1, 2)
	u, err := b.Login(context.Background(), nil, "u1", "pw")
	require.NoError(t, err)
	func() {
		box, err := u.Open(context.Background())
		require.NoError(t, err)
		r, err := box.Message(context.Background(), 0) // opens cur/ and a message
		require.NoError(t, err)
		_ = r // neither closed
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		box, err := u.Open(context.Background())
		if err == nil {
			require.NoError(t, box.Close())
			return
		}
		if time.Now().After(deadline) {
			assert.NoError(t, err, "the lost mailbox's lock was never released")
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
