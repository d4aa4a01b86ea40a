//go:build unix

package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/gopop3/pop3"
)

// lockFileName is the file in the Maildir whose flock is the maildrop lock
// (RFC 1939 §4). The kernel releases a flock when its holder exits, however
// it exits, so a crashed process leaves no stale lock to recover from; the
// file itself stays and is harmless. Each Open uses its own descriptor, so
// the lock also holds between sessions of one process.
const lockFileName = "pop3d.lock"

// maildropLock is a held maildrop lock: the descriptor whose flock it is.
// It is a plain descriptor, not an *os.File, which would try to add it to
// the network poller and fail, at five system calls per login. Like an
// *os.File it is closed, and the maildrop unlocked, if it is lost: a
// mailbox that is never closed must not lock its maildrop for the life of
// the process.
type maildropLock struct {
	fd      int
	cleanup runtime.Cleanup
}

// lockMaildrop takes the maildrop lock of the Maildir at dir without
// waiting: a maildrop that another session holds, in this process or
// another, is pop3.ErrMailboxLocked. A lock file it creates belongs to o.
func lockMaildrop(dir string, o owner) (*maildropLock, error) {
	path := filepath.Join(dir, lockFileName)
	fd, err := openRetry(unix.AT_FDCWD, path, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == unix.ENOENT {
		fd, err = openRetry(unix.AT_FDCWD, path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err == nil && o.set {
			_ = unix.Fchown(fd, o.uid, o.gid)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("maildir: maildrop lock: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		if err == unix.EWOULDBLOCK {
			return nil, pop3.ErrMailboxLocked
		}
		return nil, fmt.Errorf("maildir: maildrop lock: %w", err)
	}
	l := &maildropLock{fd: fd}
	l.cleanup = runtime.AddCleanup(l, closeFD, fd)
	return l, nil
}

// unlockMaildrop releases a lock of lockMaildrop.
func unlockMaildrop(l *maildropLock) error {
	l.cleanup.Stop()
	return unix.Close(l.fd) // closing the only descriptor releases the flock
}
