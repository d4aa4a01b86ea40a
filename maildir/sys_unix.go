//go:build unix

package maildir

import (
	"errors"
	"os"
	"syscall"
)

// Flags that keep a user's Maildir from redirecting a server that runs as
// root: the last element of a path is never followed if it is a symbolic
// link, and opening a FIFO does not wait for a writer.
const (
	oNoFollow = syscall.O_NOFOLLOW
	oNonblock = syscall.O_NONBLOCK
)

// processExists reports whether a process with that pid runs on this host.
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// fileOwner returns the owner of what fi describes.
func fileOwner(fi os.FileInfo) (uid, gid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}
