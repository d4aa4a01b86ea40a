package pop3_test

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/pop3test"
)

// writeCountingListener records the size of every write the server makes
// to its connections.
type writeCountingListener struct {
	net.Listener
	mu     sync.Mutex
	writes []int
}

func (l *writeCountingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &writeCountingConn{Conn: c, l: l}, nil
}

// take returns the writes since the last call.
func (l *writeCountingListener) take() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.writes
	l.writes = nil
	return w
}

type writeCountingConn struct {
	net.Conn
	l *writeCountingListener
}

func (c *writeCountingConn) Write(p []byte) (int, error) {
	c.l.mu.Lock()
	c.l.writes = append(c.l.writes, len(p))
	c.l.mu.Unlock()
	return c.Conn.Write(p)
}

// Every reply goes out in one write: a small RETR with its status line and
// terminator, and a pipelined batch of them; a large message in writes of
// at least 224 KiB (of the largest buffer, 256 KiB).
func TestRepliesInFewWrites(t *testing.T) {
	small := "Subject: small\r\n\r\n" + strings.Repeat(strings.Repeat("s", 70)+"\r\n.dot\r\n", 50)
	large := strings.Repeat(strings.Repeat("l", 76)+"\r\n", 20<<20/78)
	fb := &fakeBackend{msgs: []string{small, small, small, large}}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := &writeCountingListener{Listener: tcp}
	addr := pop3test.NewServer(t, fb, pop3test.WithListener(l)).Addr

	c := pop3test.Dial(t, addr)
	c.Login("alice", "secret")
	assert.Len(t, l.take(), 3, "greeting, USER and PASS: a write each")

	c.Send("RETR 1")
	require.True(t, c.ReadReply().OK)
	assert.Equal(t, small, string(c.ReadBody()))
	assert.Len(t, l.take(), 1, "status line, body and terminator in one write")

	replies := c.Pipeline("RETR 1", "RETR 2", "RETR 3", "STAT", "NOOP")
	for _, r := range replies {
		require.True(t, r.OK, r.Line)
	}
	assert.Len(t, l.take(), 1, "a pipelined batch in one write")

	c.Send("RETR 4")
	require.True(t, c.ReadReply().OK)
	assert.Equal(t, int64(len(large)), c.CopyBody(io.Discard))
	writes := l.take()
	for i, n := range writes[:len(writes)-1] {
		assert.GreaterOrEqual(t, n, 224<<10, "write %d of %d", i, len(writes))
	}
	assert.LessOrEqual(t, len(writes), len(large)/(224<<10)+2)
	c.Quit()
}

// countingServer serves srv on a listener that counts writes.
func countingServer(t *testing.T, srv *pop3.Server) (*writeCountingListener, *pop3test.Client) {
	t.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := &writeCountingListener{Listener: tcp}
	c := pop3test.Start(t, srv, pop3test.WithListener(l)).Dial()
	c.Login("alice", "secret")
	l.take()
	return l, c
}

// Without PIPELINING every reply goes out in a write of its own, as from
// a server that reads one command at a time.
func TestRepliesOneByOneWithoutPipelining(t *testing.T) {
	srv := pop3.NewServer(aliceBackend(t, "Subject: 1\r\n\r\none\r\n"))
	srv.Disable = []pop3.Extension{pop3.ExtPipelining}
	l, c := countingServer(t, srv)
	for _, r := range c.Pipeline("STAT", "NOOP", "LIST 1") {
		require.True(t, r.OK, r.Line)
	}
	assert.Len(t, l.take(), 3, "a write per reply")
}

// Before EXPIRE 0 removes what a pipelined RETR sent, that RETR is on its
// way: the body goes out before UPDATE, the bye after it.
func TestExpireSendsRetrievedBeforeRemoving(t *testing.T) {
	b := aliceBackend(t, "Subject: 1\r\n\r\none\r\n")
	srv := pop3.NewServer(b)
	srv.Expire = pop3.ExpireAfter(0)
	l, c := countingServer(t, srv)
	replies := c.Pipeline("RETR 1", "QUIT")
	require.True(t, replies[1].OK, replies[1].Line)
	writes := l.take()
	require.Len(t, writes, 2, "the RETR flushed before UPDATE, then the bye")
	assert.Equal(t, len("+OK 19 octets\r\nSubject: 1\r\n\r\none\r\n.\r\n"), writes[0])
	msgs, err := b.Messages("alice")
	require.NoError(t, err)
	assert.Empty(t, msgs)
}
