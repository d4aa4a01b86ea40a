//go:build unix

package maildir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/gopop3/pop3"
)

// lockFileName is the file in the Maildir whose flock is the maildrop lock
// (RFC 1939 §4). The kernel releases a flock when its holder exits, however
// it exits, so a crashed process leaves no stale lock to recover from; the
// file itself stays and is harmless. Each Open uses its own descriptor, so
// the lock also holds between sessions of one process.
const lockFileName = "pop3d.lock"

// lockMaildrop takes the maildrop lock of the Maildir at dir without
// waiting: a maildrop that another session holds, in this process or
// another, is pop3.ErrMailboxLocked. A lock file it creates belongs to o.
func lockMaildrop(dir string, o owner) (*os.File, error) {
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("maildir: maildrop lock: %w", err)
	}
	o.fchown(f)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, pop3.ErrMailboxLocked
		}
		return nil, fmt.Errorf("maildir: maildrop lock: %w", err)
	}
	return f, nil
}

// unlockMaildrop releases a lock of lockMaildrop.
func unlockMaildrop(f *os.File) error {
	return f.Close() // closing the only descriptor releases the flock
}
