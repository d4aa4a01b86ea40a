package mbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gopop3/pop3"
)

// lockSession takes the maildrop lock (RFC 1939 §4) on the spool without
// waiting: a flock, which the kernel releases when its holder dies. On
// Linux a flock and the fcntl locks of delivery agents do not interact,
// so holding it for a whole session delays no delivery. A spool that
// another session holds, in this process or another, is
// pop3.ErrMailboxLocked.
func lockSession(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case err == unix.EINTR:
			continue
		case err == unix.EWOULDBLOCK:
			return pop3.ErrMailboxLocked
		default:
			return fmt.Errorf("mbox: locking %s: %w", f.Name(), err)
		}
	}
}

// fcntlLock takes a record lock on the whole spool, of the kind Postfix
// local(8), procmail, mutt and Dovecot take (fcntl), a shared one for
// reading or an exclusive one for writing, retrying until ctx ends. It is
// an open file description lock (F_OFD_SETLK), which conflicts with theirs
// as a classic one does, but belongs to f alone: closing another
// descriptor of the spool in this process does not release it.
func fcntlLock(ctx context.Context, f *os.File, write bool) error {
	lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: 0}
	if write {
		lk.Type = unix.F_WRLCK
	}
	delay := 5 * time.Millisecond
	for {
		err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
		if err == nil {
			return nil
		}
		if err != unix.EAGAIN && err != unix.EACCES && err != unix.EINTR {
			return fmt.Errorf("mbox: fcntl lock of %s: %w", f.Name(), err)
		}
		if err == unix.EINTR {
			continue
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("mbox: fcntl lock of %s: %w", f.Name(), errLockTimeout)
		case <-t.C:
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// fcntlUnlock releases fcntlLock's lock.
func fcntlUnlock(f *os.File) error {
	lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: 0}
	return unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
}

// processExists tells whether pid is a live process of this host.
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// chown gives a spool that pop3d created the owner of the user's passwd
// entry when the process may (it runs as root); otherwise the file keeps
// pop3d's user and the directory's group.
func chown(f *os.File, uid, gid int) {
	if os.Geteuid() == 0 {
		_ = f.Chown(uid, gid)
	}
}

// linkCount is the number of hard links of the file fi describes.
func linkCount(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 0
}

// noFollow makes an open fail on a symbolic link.
const noFollow = unix.O_NOFOLLOW
