package pop3

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// readBufferSize is the read buffer of a connection. It is what an idle
// connection costs, so it is small; longer command lines are gathered in
// lineBuf. The output buffer is taken only while there is output (see
// outBuffer).
const readBufferSize = 1024

// goodbyeTimeout bounds the write of a last reply to a client that may be
// gone.
const goodbyeTimeout = time.Second

var (
	errLineTooLong = errors.New("line too long")
	// errLineTooLongPending is errLineTooLong with the rest of the line
	// still to be discarded.
	errLineTooLongPending = fmt.Errorf("%w (rest pending)", errLineTooLong)
	errShutdown           = errors.New("server shutting down")
)

// conn is one client connection's I/O: a bounded line reader, a buffered
// writer that moves the write deadline as it goes, and the socket, which
// STLS may replace with a TLS one. Only the session goroutine reads and
// writes; Shutdown and Close reach the socket through interruptIdle and
// closeHard, under mu.
type conn struct {
	mu  sync.Mutex // guards nc against Shutdown and Close
	nc  net.Conn
	br  *bufio.Reader
	out outBuffer
	dot dotWriter // writes message bodies into out

	lineBuf       []byte // a command line longer than the read buffer
	writeTimeout  time.Duration
	writeDeadline time.Time // as last set, to move it less often
	bytesOut      int64
	closedHard    bool // by closeHard: the server, not the client, hung up
}

// init sets c up for nc. A conn is part of its session, not allocated on
// its own, and must not be copied.
func (c *conn) init(nc net.Conn, writeTimeout time.Duration) {
	c.nc, c.writeTimeout = nc, writeTimeout
	c.br = bufio.NewReaderSize(nc, readBufferSize)
	c.out.w = deadlineWriter{c}
	c.dot.out = &c.out
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
	if n := c.br.Buffered(); n > 0 {
		if b, _ := c.br.Peek(n); bytes.IndexByte(b, '\n') >= 0 {
			return nil
		}
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

// readLine reads one line of at most limit octets, terminator included,
// and returns it without its CRLF or LF; the result is valid until the next
// read. A line that starts "AUTH " may be as long as authLimit, when that
// is larger. A longer line returns errLineTooLong as soon as the limit is
// passed, without waiting for its end; errLineTooLongPending then tells the
// caller to answer and call discardLine. A partial line at EOF is dropped.
func (c *conn) readLine(limit, authLimit int) ([]byte, error) {
	c.lineBuf = c.lineBuf[:0]
	for {
		buf, err := c.br.Peek(max(c.br.Buffered(), 1))
		if len(buf) == 0 {
			return nil, err
		}
		i := bytes.IndexByte(buf, '\n')
		end := i + 1
		if i < 0 {
			end = len(buf)
		}
		if len(c.lineBuf)+end > limit && authLimit > limit && isAuthLine(c.lineBuf, buf[:end]) {
			limit = authLimit
		}
		if len(c.lineBuf)+end > limit {
			_, _ = c.br.Discard(end)
			if i < 0 {
				return nil, errLineTooLongPending
			}
			return nil, errLineTooLong
		}
		if i >= 0 {
			line := buf[:end]
			if len(c.lineBuf) > 0 {
				c.lineBuf = append(c.lineBuf, line...)
				line = c.lineBuf
			}
			_, _ = c.br.Discard(end)
			return trimEOL(line), nil
		}
		if len(buf) == c.br.Size() {
			// A full buffer without LF: keep it and read on.
			c.lineBuf = append(c.lineBuf, buf...)
			_, _ = c.br.Discard(len(buf))
			continue
		}
		// Wait for at least one more octet.
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			return nil, err
		}
	}
}

// discardLine reads and drops the rest of an overlong line, holding no more
// than the read buffer.
func (c *conn) discardLine() error {
	for {
		_, err := c.br.ReadSlice('\n')
		if err != bufio.ErrBufferFull {
			return err
		}
	}
}

func isAuthLine(head, frag []byte) bool {
	var b [5]byte
	n := copy(b[:], head)
	copy(b[n:], frag)
	return len(head)+len(frag) >= 5 && bytes.EqualFold(b[:], []byte("AUTH "))
}

func trimEOL(b []byte) []byte {
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b
}

// startTLS puts a server-side TLS connection over the socket (STLS). What
// the client sent after the STLS line in cleartext is dropped unread, so
// that no command can be injected into the TLS session (CVE-2011-0411).
func (c *conn) startTLS(config *tls.Config) *tls.Conn {
	tc := tls.Server(c.nc, config)
	c.mu.Lock()
	c.nc = tc
	c.mu.Unlock()
	c.br.Reset(tc)
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

// readCommand flushes pending replies unless more commands are buffered,
// arms the read deadlines, and reads one command line.
func (s *session) readCommand() ([]byte, error) {
	flush := s.c.flushUnlessPipelined
	if !s.srv.exts.has(ExtPipelining) {
		// Each reply goes out as soon as it is made, as from a server
		// that reads one command at a time.
		flush = s.c.flush
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if err := s.awaitInput(); err != nil {
		return nil, err
	}
	return s.c.readLine(s.srv.maxLineLength(), s.srv.maxAuthLineLength())
}

// awaitInput arms the idle timeout, and before login the authorization
// timeout, before a read of client input, and reports a shutdown. The check
// comes after the deadline is set: Shutdown sets its flag before it moves
// the deadline, so one of the two always stops the read.
func (s *session) awaitInput() error {
	var deadline time.Time
	if d := s.srv.idleTimeout(); d > 0 {
		deadline = time.Now().Add(d)
	}
	if s.state == stateAuthorization && !s.authDeadline.IsZero() &&
		(deadline.IsZero() || s.authDeadline.Before(deadline)) {
		deadline = s.authDeadline
	}
	s.c.setReadDeadline(deadline)
	if s.srv.shuttingDown() {
		return errShutdown
	}
	return nil
}

// readError turns a failed command read into what answer takes: an
// overlong line is a bad command, and the session goes on; anything else
// ends it, with a last -ERR where the client is still there to read it.
func (s *session) readError(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, errLineTooLong):
		s.trace("C: <line too long>")
		tooLong := syntaxError("line too long")
		if !errors.Is(err, errLineTooLongPending) {
			return tooLong
		}
		// The rest of the line may be long in coming, or never come: the
		// client is answered first, then the rest is dropped.
		if end := s.answer(tooLong); end != nil {
			return &sessionEnd{reason: end.reason, cause: end.cause} // answered already
		}
		if err := s.c.flush(); err != nil {
			return endSession(EndError, nil, err)
		}
		if err := s.c.discardLine(); err != nil {
			return s.readError(err)
		}
		return nil
	case errors.Is(err, errShutdown) || s.srv.shuttingDown():
		return endSession(EndShutdown, &Error{Code: CodeSysTemp, Text: "server shutting down"}, nil)
	case errors.As(err, &ne) && ne.Timeout():
		if s.state == stateAuthorization && !s.authDeadline.IsZero() && !time.Now().Before(s.authDeadline) {
			return endSession(EndAuthTimeout, &Error{Text: "authentication took too long"}, nil)
		}
		return endSession(EndIdleTimeout, &Error{Text: "disconnected for inactivity"}, nil)
	case errors.Is(err, io.EOF):
		return endSession(EndClientClosed, nil, nil)
	}
	return endSession(EndError, nil, err)
}
