package maildir_test

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/gopop3/pop3/pop3test"
)

// watchOpens watches the message directories of the Maildir at dir with
// inotify, and returns a function that lists the message files opened
// since (new/NAME or cur/NAME), in the order they were opened. The kernel
// queues an event as the file is opened, so what a call made before stop
// opened is in the list.
func watchOpens(t testing.TB, dir string) (stop func() []string) {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	subs := map[int32]string{}
	for _, sub := range []string{"new", "cur"} {
		wd, err := unix.InotifyAddWatch(fd, filepath.Join(dir, sub), unix.IN_OPEN)
		require.NoError(t, err)
		subs[int32(wd)] = sub
	}
	return func() []string {
		var opened []string
		buf := make([]byte, 64<<10)
		for {
			n, err := unix.Read(fd, buf)
			if err == unix.EAGAIN {
				return opened
			}
			require.NoError(t, err)
			for off := 0; off < n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				require.Zero(t, ev.Mask&unix.IN_Q_OVERFLOW, "inotify's queue overflowed")
				name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
				name = bytes.TrimRight(name, "\x00")
				if ev.Mask&unix.IN_ISDIR == 0 && len(name) > 0 {
					opened = append(opened, subs[ev.Wd]+"/"+strings.Clone(string(name)))
				}
				off += unix.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
}

// The target of LIST after a restart, on a maildrop of 10,000 messages
// that another MDA delivered: once a session has listed them, a restarted
// server's LIST (without UTF8, so with downgraded sizes) opens no message
// file. BenchmarkListAfterRestart times it.
func TestListAfterRestartOpensNoMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 messages")
	}
	_, root, _ := testMaildirs(t, "bob:{PLAIN}pw")
	dir := filepath.Join(root, "bob", "Maildir")
	const n = 10_000
	writeForeign(t, dir, n)
	list := func() []string {
		srv := pop3test.NewServer(t, restarted(t, root, io.Discard))
		c := pop3test.Dial(t, srv.Addr)
		c.Timeout = time.Minute
		c.Login("bob", "pw")
		lines := c.OK("LIST").Lines()
		c.Quit()
		require.Len(t, lines, n)
		return lines
	}
	first := list()
	opened := watchOpens(t, dir)
	assert.Equal(t, first, list(), "the same sizes after a restart")
	assert.Empty(t, opened(), "message files opened by LIST after a restart")
}
