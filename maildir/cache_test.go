package maildir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/passwd"
)

// cacheBackend is a backend for users u1..un (password "pw"), each with
// msgs messages, whose Maildirs have settled; it returns their Maildirs.
func cacheBackend(t *testing.T, users, msgs int, opts ...Option) (*Backend, []string) {
	t.Helper()
	root := t.TempDir()
	var lines strings.Builder
	for i := 1; i <= users; i++ {
		fmt.Fprintf(&lines, "u%d:{PLAIN}pw::::::\n", i)
	}
	pwPath := filepath.Join(root, "passwd")
	require.NoError(t, os.WriteFile(pwPath, []byte(lines.String()), 0o600))
	pw, err := passwd.OpenFile(pwPath, nil)
	require.NoError(t, err)
	b, err := New(filepath.Join(root, "%u", "Maildir"), pw, opts...)
	require.NoError(t, err)
	var dirs []string
	for i := 1; i <= users; i++ {
		for j := range msgs {
			require.NoError(t, b.Deliver(context.Background(), fmt.Sprintf("u%d", i), strings.NewReader(fmt.Sprintf("Subject: %d\n\nbody\n", j))))
		}
		dir := filepath.Join(root, fmt.Sprintf("u%d", i), "Maildir")
		listUIDLs(t, b, i) // moves the messages to cur/ and writes the uidlist
		settleMaildir(t, dir)
		dirs = append(dirs, dir)
	}
	return b, dirs
}

// listUIDLs opens user ui's maildrop and returns its unique-ids.
func listUIDLs(t *testing.T, b *Backend, i int) []string {
	t.Helper()
	u, err := b.Login(context.Background(), nil, fmt.Sprintf("u%d", i), "pw")
	require.NoError(t, err)
	box, err := u.Open(context.Background())
	require.NoError(t, err)
	defer box.Close()
	var uids []string
	for _, m := range box.Messages() {
		uids = append(uids, m.UID)
	}
	return uids
}

var settledTime = time.Now().Add(-time.Hour).Truncate(time.Second)

// settleMaildir dates new/, cur/ and dovecot-uidlist back to settledTime.
func settleMaildir(t *testing.T, dir string) {
	t.Helper()
	for _, name := range []string{"new", "cur", uidlistName} {
		require.NoError(t, os.Chtimes(filepath.Join(dir, name), settledTime, settledTime))
	}
}

// plantHidden adds a message file to cur/ behind the cache's back: cur/
// keeps its settled time, so only a session that reads the directory again
// lists it.
func plantHidden(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cur", "1800000000.M1P1.planted:2,"), []byte("Subject: planted\n\n"), 0o600))
	require.NoError(t, os.Chtimes(filepath.Join(dir, "cur"), settledTime, settledTime))
}

func TestListingCacheServesAnUnchangedMaildir(t *testing.T) {
	b, dirs := cacheBackend(t, 1, 3)
	first := listUIDLs(t, b, 1) // listed from the files, and cached
	require.Len(t, first, 3)
	plantHidden(t, dirs[0])
	assert.Equal(t, first, listUIDLs(t, b, 1), "the unchanged stamps served the cached listing")

	// Any change to the stamps is seen: here cur/'s time.
	now := time.Now()
	require.NoError(t, os.Chtimes(filepath.Join(dirs[0], "cur"), now, now))
	assert.Len(t, listUIDLs(t, b, 1), 4)
}

// Every way the Maildir changes under a cached listing shows in the next
// session.
func TestListingCacheSeesChanges(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, b *Backend, dir string)
		want   int
	}{
		{"delivery", func(t *testing.T, b *Backend, dir string) {
			require.NoError(t, b.Deliver(context.Background(), "u1", strings.NewReader("Subject: new\n\n")))
		}, 4},
		{"removal by another program", func(t *testing.T, b *Backend, dir string) {
			entries, err := os.ReadDir(filepath.Join(dir, "cur"))
			require.NoError(t, err)
			require.NoError(t, os.Remove(filepath.Join(dir, "cur", entries[0].Name())))
		}, 2},
		{"DELE and QUIT", func(t *testing.T, b *Backend, dir string) {
			u, err := b.Login(context.Background(), nil, "u1", "pw")
			require.NoError(t, err)
			box, err := u.Open(context.Background())
			require.NoError(t, err)
			require.NoError(t, box.Delete(context.Background(), []int{0}))
			require.NoError(t, box.Close())
		}, 2},
		{"a flag set by an IMAP client", func(t *testing.T, b *Backend, dir string) {
			entries, err := os.ReadDir(filepath.Join(dir, "cur"))
			require.NoError(t, err)
			old := filepath.Join(dir, "cur", entries[0].Name())
			require.NoError(t, os.Rename(old, old+"F"))
			// The message is the same; the listing must still find it
			// under its new name.
		}, 3},
		{"uidlist rewritten by Dovecot", func(t *testing.T, b *Backend, dir string) {
			path := filepath.Join(dir, uidlistName)
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			rewritten := strings.Replace(string(data), " V", " V1", 1) // a new UIDVALIDITY
			require.NoError(t, os.WriteFile(path+".tmp", []byte(rewritten), 0o600))
			require.NoError(t, os.Rename(path+".tmp", path))
			require.NoError(t, os.Chtimes(path, settledTime, settledTime))
		}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, dirs := cacheBackend(t, 1, 3)
			before := listUIDLs(t, b, 1)
			tc.change(t, b, dirs[0])
			after := listUIDLs(t, b, 1)
			assert.Len(t, after, tc.want)
			if tc.name == "uidlist rewritten by Dovecot" {
				assert.NotEqual(t, before, after, "the new UIDVALIDITY shows in the unique-ids")
			}
			// And the message files the listing names are there to read.
			u, err := b.Login(context.Background(), nil, "u1", "pw")
			require.NoError(t, err)
			box, err := u.Open(context.Background())
			require.NoError(t, err)
			defer box.Close()
			for i := range box.Messages() {
				r, err := box.Message(context.Background(), i)
				require.NoError(t, err)
				require.NoError(t, r.Close())
			}
		})
	}
}

// A Maildir that changed within the last seconds is read again each time:
// a change in the same timestamp tick would not show in its stamps.
func TestListingCacheSkipsAFreshMaildir(t *testing.T) {
	b, dirs := cacheBackend(t, 1, 2)
	fresh := time.Now()
	require.NoError(t, os.Chtimes(filepath.Join(dirs[0], "cur"), fresh, fresh))
	require.Len(t, listUIDLs(t, b, 1), 2)
	require.NoError(t, os.WriteFile(filepath.Join(dirs[0], "cur", "1800000000.M1P1.planted:2,"), []byte("x\n"), 0o600))
	require.NoError(t, os.Chtimes(filepath.Join(dirs[0], "cur"), fresh, fresh))
	assert.Len(t, listUIDLs(t, b, 1), 3)
}

func TestListingCacheOff(t *testing.T) {
	b, dirs := cacheBackend(t, 1, 2, WithListingCache(0))
	require.Len(t, listUIDLs(t, b, 1), 2)
	plantHidden(t, dirs[0])
	assert.Len(t, listUIDLs(t, b, 1), 3)
}

// The cache holds at most its limit in messages, each listing counting one
// more, and drops the least recently used listings first.
func TestListingCacheLimit(t *testing.T) {
	b, dirs := cacheBackend(t, 3, 2, WithListingCache(6))
	for i := 1; i <= 3; i++ {
		require.Len(t, listUIDLs(t, b, i), 2) // u3's listing pushes u1's out
	}
	assert.Equal(t, 6, b.cache.held)
	for _, dir := range dirs {
		plantHidden(t, dir)
	}
	assert.Len(t, listUIDLs(t, b, 1), 3, "u1's listing was dropped")
	assert.Len(t, listUIDLs(t, b, 3), 2, "u3's listing is cached")
	assert.LessOrEqual(t, b.cache.held, 6)

	big, bigDirs := cacheBackend(t, 1, 5, WithListingCache(5))
	require.Len(t, listUIDLs(t, big, 1), 5)
	plantHidden(t, bigDirs[0])
	assert.Len(t, listUIDLs(t, big, 1), 6, "a listing over the limit is not kept")
	assert.Zero(t, big.cache.held)
}

// Empty maildrops, as download-and-delete users leave them, count against
// the limit too: the cache cannot grow by one entry per user forever.
func TestListingCacheBoundsEmptyMaildrops(t *testing.T) {
	b, _ := cacheBackend(t, 10, 0, WithListingCache(3))
	for i := 1; i <= 10; i++ {
		require.Empty(t, listUIDLs(t, b, i))
	}
	assert.Equal(t, 3, b.cache.held, "the last three are cached")
	assert.Len(t, b.cache.byDir, 3)
	assert.Equal(t, len(b.cache.byDir), b.cache.lru.Len())
}

// A listing made while another program held the uidlist lock leaves out
// the new messages; it is not cached, so they come once the lock is gone.
func TestListingCacheSkipsAPartialListing(t *testing.T) {
	defer func(w time.Duration) { uidlistLockWait = w }(uidlistLockWait)
	uidlistLockWait = 50 * time.Millisecond
	b, dirs := cacheBackend(t, 1, 2)
	require.NoError(t, os.WriteFile(filepath.Join(dirs[0], "new", "1800000000.M1P1.new"), []byte("x\n"), 0o600))
	lockPath := filepath.Join(dirs[0], uidlistLockName)
	require.NoError(t, os.WriteFile(lockPath, []byte("1:"+lockHostname), 0o600)) // pid 1 lives
	settleMaildir(t, dirs[0])
	require.Len(t, listUIDLs(t, b, 1), 2)
	require.NoError(t, os.Remove(lockPath))
	assert.Len(t, listUIDLs(t, b, 1), 3)
}

// Each session gets its own copy of a cached listing: a file that one
// session finds under a new name does not change another's.
func TestListingCacheCopiesPerSession(t *testing.T) {
	b, _ := cacheBackend(t, 1, 1)
	open := func() *mailbox {
		u, err := b.Login(context.Background(), nil, "u1", "pw")
		require.NoError(t, err)
		box, err := u.Open(context.Background())
		require.NoError(t, err)
		return box.(*mailbox)
	}
	box := open()
	box.msgs[0].path = "changed by this session"
	require.NoError(t, box.Close())
	box = open()
	defer box.Close()
	assert.NotEqual(t, "changed by this session", box.msgs[0].path)
	var _ pop3.Mailbox = box
}
