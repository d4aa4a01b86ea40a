package pop3

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/gopop3/pop3/internal/wire"
)

// readBufferSize is the read buffer of a connection. It is what an idle
// connection costs, so it is small; longer command lines are gathered
// apart (see wire.LineReader). The output buffer is taken only while there
// is output (see wire.OutBuffer).
const readBufferSize = 1024

// goodbyeTimeout bounds the write of a last reply to a client that may be
// gone.
const goodbyeTimeout = time.Second

var errShutdown = errors.New("server shutting down")

// conn is one client connection's I/O: a bounded line reader, a buffered
// writer that moves the write deadline as it goes, and the socket, which
// STLS may replace with a TLS one. Only the session goroutine reads and
// writes; Shutdown and Close reach the socket through interruptIdle and
// closeHard, under mu.
type conn struct {
	mu    sync.Mutex // guards nc against Shutdown and Close
	nc    net.Conn
	lines wire.LineReader
	out   wire.OutBuffer
	dot   wire.DotWriter // writes message bodies into out

	writeTimeout  time.Duration
	writeDeadline time.Time // as last set, to move it less often
	bytesOut      int64
	closedHard    bool // by closeHard: the server, not the client, hung up
}

// init sets c up for nc. A conn is part of its session, not allocated on
// its own, and must not be copied.
func (c *conn) init(nc net.Conn, writeTimeout time.Duration) {
	c.nc, c.writeTimeout = nc, writeTimeout
	c.lines.Reset(nc, readBufferSize)
	c.out.Reset(deadlineWriter{c})
	c.dot.Reset(&c.out)
}

// deadlineWriter is what the output buffer writes to: it renews the
// write deadline for every write, so that a client that stops reading is
// dropped after WriteTimeout however large the response.
type deadlineWriter struct{ c *conn }

func (w deadlineWriter) Write(p []byte) (int, error) {
	c := w.c
	// Moving a deadline costs a timer update, so it is moved only when it
	// has come a tenth of the timeout nearer.
	if timeout := c.writeTimeout; timeout > 0 {
		if now := time.Now(); c.writeDeadline.Sub(now) < timeout-timeout/10 {
			c.setWriteDeadline(now.Add(timeout))
		}
	}
	n, err := c.nc.Write(p)
	c.bytesOut += int64(n)
	return n, err
}

func (c *conn) setWriteDeadline(t time.Time) {
	c.writeDeadline = t
	_ = c.nc.SetWriteDeadline(t)
}

// flush sends what is buffered.
func (c *conn) flush() error { return c.out.Flush() }

// flushUnlessPipelined flushes unless a whole command is already buffered:
// a pipelined batch of commands is answered with one write (RFC 2449 §6.6).
func (c *conn) flushUnlessPipelined() error {
	if c.lines.LineBuffered() {
		return nil
	}
	return c.out.Flush()
}

// goodbye flushes a last reply under a short deadline of its own.
func (c *conn) goodbye() {
	c.setWriteDeadline(time.Now().Add(goodbyeTimeout))
	_ = c.out.Flush()
}

// setReadDeadline bounds the next read; the zero time means none.
func (c *conn) setReadDeadline(t time.Time) { _ = c.nc.SetReadDeadline(t) }

// startTLS puts a server-side TLS connection over the socket (STLS). What
// the client sent after the STLS line in cleartext is dropped unread, so
// that no command can be injected into the TLS session (CVE-2011-0411).
func (c *conn) startTLS(config *tls.Config) *tls.Conn {
	tc := tls.Server(c.nc, config)
	c.mu.Lock()
	c.nc = tc
	c.mu.Unlock()
	c.lines.Reset(tc, readBufferSize)
	return tc
}

// handshake completes a TLS handshake, bounded by the write timeout.
func (c *conn) handshake(ctx context.Context, tc *tls.Conn) (*tls.ConnectionState, error) {
	if c.writeTimeout > 0 {
		_ = tc.SetDeadline(time.Now().Add(c.writeTimeout))
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	_ = tc.SetDeadline(time.Time{})
	c.writeDeadline = time.Time{}
	st := tc.ConnectionState()
	return &st, nil
}

// interruptIdle makes a read that waits for a command see a timeout, after
// which the session notices the shutdown. A session busy with a command
// finds the shutdown before it reads the next one.
func (c *conn) interruptIdle() {
	c.mu.Lock()
	_ = c.nc.SetReadDeadline(time.Unix(1, 0))
	c.mu.Unlock()
}

// closeHard closes the socket under the session's feet.
func (c *conn) closeHard() {
	c.mu.Lock()
	c.closedHard = true
	_ = c.nc.Close()
	c.mu.Unlock()
}

// close closes the socket at the session's end, and reports whether
// closeHard had already done so.
func (c *conn) close() (closedHard bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.nc.Close()
	return c.closedHard
}
