//go:build unix

package maildir

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
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

// fileID is the inode number of what fi describes.
func fileID(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}

// messageFile is a message file opened for serving, read with plain system
// calls: it is not offered to the network poller (which refuses regular
// files, at a system call per open), and it stops at the size fstat gave,
// without a last read to find the end.
type messageFile struct {
	fd      int
	left    int64
	cleanup runtime.Cleanup // closes fd if the file is lost unclosed
}

// messageDir is a directory that message files are opened in by name,
// with openat, so that the kernel does not walk the whole path again for
// every message. The zero value is not open: files are opened by path.
type messageDir struct {
	fd      int    // valid when prefix is set
	prefix  string // the directory's path and a slash
	cleanup runtime.Cleanup
}

// openMessageDir opens dir for openMessage; on failure the files are
// opened by path. The descriptor is closed when owner is lost without
// close, as an *os.File's is.
func openMessageDir(dir string, owner *mailbox) messageDir {
	fd, err := openRetry(unix.AT_FDCWD, dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return messageDir{}
	}
	return messageDir{fd: fd, prefix: dir + string(filepath.Separator), cleanup: runtime.AddCleanup(owner, closeFD, fd)}
}

func (d *messageDir) close() {
	if d.prefix != "" {
		d.cleanup.Stop()
		unix.Close(d.fd)
		*d = messageDir{}
	}
}

// closeFD is the cleanup of a descriptor whose owner was lost unclosed.
func closeFD(fd int) { unix.Close(fd) }

// openMessage opens a message file for serving, under the rules of
// openMessageFile: relative to d when path is in it.
func (d *messageDir) openMessage(path string) (*messageFile, error) {
	dirfd, name := unix.AT_FDCWD, path
	if rest, ok := strings.CutPrefix(path, d.prefix); ok && d.prefix != "" && !strings.Contains(rest, string(filepath.Separator)) {
		dirfd, name = d.fd, rest
	}
	fd, err := openRetry(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		if err == nil {
			return nil, fmt.Errorf("%s is not a regular file", filepath.Base(path))
		}
		return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	f := &messageFile{fd: fd, left: st.Size}
	f.cleanup = runtime.AddCleanup(f, closeFD, fd)
	return f, nil
}

func (f *messageFile) Read(p []byte) (int, error) {
	if f.fd < 0 {
		return 0, os.ErrClosed
	}
	if f.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > f.left {
		p = p[:f.left]
	}
	for {
		n, err := unix.Read(f.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, &os.PathError{Op: "read", Path: "message file", Err: err}
		case n == 0:
			f.left = 0 // cut short since it was opened
			return 0, io.EOF
		}
		f.left -= int64(n)
		return n, nil
	}
}

func (f *messageFile) Close() error {
	if f.fd < 0 {
		return os.ErrClosed
	}
	f.cleanup.Stop()
	err := unix.Close(f.fd)
	f.fd = -1
	return err
}

// openRetry is openat, retried when a signal interrupts it.
func openRetry(dirfd int, path string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, path, flags, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}
