package maildir

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// What a user may plant in a Maildir that a server running as root reads:
// a link to another file, a FIFO, a link where the uidlist's temporary file
// goes, a linked cur/. None makes it read, write or wait on anything else.
func TestPlantedFilesAreNotFollowed(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secret, []byte("root's secret\n"), 0o600))

	t.Run("a link or a FIFO as a message", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, ensureMaildir(dir, owner{}))
		link := filepath.Join(dir, "cur", "1700000001.M1P1.h:2,")
		require.NoError(t, os.Symlink(secret, link))
		fifo := filepath.Join(dir, "cur", "1700000002.M1P1.h:2,")
		require.NoError(t, syscall.Mkfifo(fifo, 0o600))
		done := make(chan error, 1)
		go func() {
			_, err := openMessageFile(fifo)
			done <- err
		}()
		select {
		case err := <-done:
			assert.Error(t, err, "a FIFO is no message")
		case <-time.After(5 * time.Second):
			t.Fatal("opening a FIFO waits for a writer")
		}
		_, err := openMessageFile(link)
		assert.Error(t, err, "a link is not followed")
		msgs, _, err := syncMaildir(context.Background(), dir, slog.New(slog.DiscardHandler), owner{}, nil)
		require.NoError(t, err)
		for _, m := range msgs {
			assert.True(t, m.unreadable, "%s is listed but not served", m.base)
		}
	})
	t.Run("a link as the uidlist's temporary file", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, ensureMaildir(dir, owner{}))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "new", "1700000001.M1P1.h"), []byte("x\n"), 0o600))
		require.NoError(t, os.Symlink(secret, filepath.Join(dir, uidlistName+".tmp")))
		require.NoError(t, os.Symlink(secret, filepath.Join(dir, uidvalidityName)))
		_, _, err := syncMaildir(context.Background(), dir, slog.New(slog.DiscardHandler), owner{}, nil)
		require.NoError(t, err)
		data, err := os.ReadFile(secret)
		require.NoError(t, err)
		assert.Equal(t, "root's secret\n", string(data))
		fi, err := os.Lstat(filepath.Join(dir, uidlistName))
		require.NoError(t, err)
		assert.True(t, fi.Mode().IsRegular())
	})
	t.Run("a linked cur/", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "new"), 0o700))
		require.NoError(t, os.Symlink(filepath.Dir(secret), filepath.Join(dir, "cur")))
		err := ensureMaildir(dir, owner{})
		assert.ErrorContains(t, err, "not a directory")
	})
}

// A server running as root leaves what it creates to the Maildir's owner,
// so that Dovecot, which serves the Maildir as that user, can still read
// and write it.
func TestFilesBelongToTheMaildirOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only a process running as root gives files away")
	}
	home := t.TempDir()
	require.NoError(t, os.Chown(home, 65534, 65534))
	dir := filepath.Join(home, "Maildir")
	o := ownerFor(dir)
	require.Equal(t, owner{uid: 65534, gid: 65534, set: true}, o)
	require.NoError(t, ensureMaildir(dir, o))
	require.NoError(t, deliver(context.Background(), dir, strings.NewReader("Subject: x\n\nx\n"), o))
	lock, err := lockMaildrop(dir, o)
	require.NoError(t, err)
	defer unlockMaildrop(lock)
	var logs bytes.Buffer
	_, _, err = syncMaildir(context.Background(), dir, slog.New(slog.NewTextHandler(&logs, nil)), o, nil)
	require.NoError(t, err)
	require.NoError(t, filepath.Walk(home, func(p string, fi os.FileInfo, err error) error {
		require.NoError(t, err)
		uid, gid, ok := fileOwner(fi)
		require.True(t, ok)
		assert.Equal(t, []int{65534, 65534}, []int{uid, gid}, p)
		return nil
	}))
}

// ownedUser is a user whose Maildir, with one message, is in a home that
// belongs to nobody (65534) when the test runs as root, as
// TestFilesBelongToTheMaildirOwner has it.
func ownedUser(t *testing.T) (*user, string) {
	t.Helper()
	home := t.TempDir()
	if os.Geteuid() == 0 {
		require.NoError(t, os.Chown(home, 65534, 65534))
	}
	dir := filepath.Join(home, "Maildir")
	o := ownerFor(dir)
	require.NoError(t, ensureMaildir(dir, o))
	require.NoError(t, deliver(context.Background(), dir, strings.NewReader("Subject: x\n\nx\n"), o))
	b := &Backend{logger: slog.New(slog.DiscardHandler)}
	return &user{backend: b, name: "owner", dir: dir}, dir
}

// ownedLikeTheLock checks that the file name in the Maildir dir has the
// owner and the mode of its pop3d.lock, which is nobody's when the test
// runs as root.
func ownedLikeTheLock(t *testing.T, dir, name string) {
	t.Helper()
	fi, err := os.Lstat(filepath.Join(dir, name))
	require.NoError(t, err)
	lock, err := os.Lstat(filepath.Join(dir, lockFileName))
	require.NoError(t, err)
	assert.True(t, fi.Mode().IsRegular())
	assert.Equal(t, lock.Mode().Perm(), fi.Mode().Perm(), "the mode of %s", name)
	uid, gid, ok := fileOwner(fi)
	require.True(t, ok)
	lockUID, lockGID, _ := fileOwner(lock)
	assert.Equal(t, []int{lockUID, lockGID}, []int{uid, gid}, "the owner of %s", name)
	if os.Geteuid() == 0 {
		assert.Equal(t, []int{65534, 65534}, []int{uid, gid}, "the owner of %s", name)
	}
}
