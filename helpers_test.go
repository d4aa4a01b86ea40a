package pop3_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
)

// startServer serves srv on a loopback port and returns the address. The
// server is closed when the test ends.
func startServer(t testing.TB, srv *pop3.Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return serveOn(t, srv, l)
}

// serveOn serves srv on l until the test ends, and checks that Serve then
// returns ErrServerClosed.
func serveOn(t testing.TB, srv *pop3.Server, l net.Listener) string {
	t.Helper()
	if srv.AuthFailureDelay == 0 {
		srv.AuthFailureDelay = -1 // tests do not wait 2 s per failure
	}
	if srv.MaxAuthPenalty == 0 {
		srv.MaxAuthPenalty = -1 // every test client is 127.0.0.1
	}
	if srv.Logger == nil {
		srv.Logger = discardLogger()
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		select {
		case err := <-done:
			assert.ErrorIs(t, err, pop3.ErrServerClosed)
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return l.Addr().String()
}

// serveUnmanaged serves srv on a loopback port for a test that stops the
// server itself; Serve's result arrives on served.
func serveUnmanaged(t testing.TB, srv *pop3.Server) (addr string, served <-chan error) {
	t.Helper()
	if srv.Logger == nil {
		srv.Logger = discardLogger()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ch := make(chan error, 1)
	go func() { ch <- srv.Serve(l) }()
	return l.Addr().String(), ch
}

// newMemoryServer returns a server on a memory backend with user alice
// (password "secret") holding msgs.
func newMemoryServer(t testing.TB, msgs ...string) (*pop3.Server, *memory.Backend) {
	t.Helper()
	b := memory.New()
	require.NoError(t, b.AddUser("alice", "secret"))
	for _, m := range msgs {
		_, err := b.AppendMessage("alice", []byte(m))
		require.NoError(t, err)
	}
	return pop3.NewServer(b), b
}

// client is the test's side of a connection.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return newClient(t, conn)
}

func dialTLS(t testing.TB, addr string, cfg *tls.Config) *client {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return newClient(t, conn)
}

func newClient(t testing.TB, conn net.Conn) *client {
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	return &client{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// send writes s as it is (the caller adds line ends).
func (c *client) send(s string) {
	c.t.Helper()
	_, err := io.WriteString(c.conn, s)
	require.NoError(c.t, err)
}

// cmd sends one command line.
func (c *client) cmd(line string) { c.t.Helper(); c.send(line + "\r\n") }

// line reads one response line, checks that it ends in CRLF and is at
// most 512 octets (RFC 2449 §4), and returns it without its CRLF.
func (c *client) line() string {
	c.t.Helper()
	l := c.rawLine()
	require.LessOrEqual(c.t, len(l)+2, 512, "response line longer than 512 octets")
	return l
}

// rawLine reads one line of any length that ends in CRLF.
func (c *client) rawLine() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	require.NoError(c.t, err, "reading a response line (got %q)", l)
	require.True(c.t, strings.HasSuffix(l, "\r\n"), "line %q does not end in CRLF", l)
	return strings.TrimSuffix(l, "\r\n")
}

// body reads a multi-line body up to its terminator, undoing the
// dot-stuffing, and returns it with CRLF line ends.
func (c *client) body() string {
	c.t.Helper()
	var sb strings.Builder
	for {
		l := c.rawLine()
		if l == "." {
			return sb.String()
		}
		sb.WriteString(strings.TrimPrefix(l, "."))
		sb.WriteString("\r\n")
	}
}

// expectClosed checks that the server closes the connection.
func (c *client) expectClosed() {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(c.r)
	assert.NoError(c.t, err, "the connection should be closed, not time out")
	assert.Empty(c.t, string(rest))
}

// login logs in as alice.
func (c *client) login() {
	c.t.Helper()
	greeting := c.line()
	require.True(c.t, strings.HasPrefix(greeting, "+OK"), greeting)
	c.cmd("USER alice")
	require.Equal(c.t, "+OK send PASS", c.line())
	c.cmd("PASS secret")
	require.True(c.t, strings.HasPrefix(c.line(), "+OK maildrop has"))
}

// transcript plays a conversation. Lines "C: x" are sent; lines "S: x" are
// the expected replies, where a trailing "..." matches any rest of line;
// "S: <closed>" expects the server to close the connection. Multi-line
// bodies are written out line by line, ending with "S: .".
func transcript(t testing.TB, addr, script string) *client {
	t.Helper()
	c := dial(t, addr)
	play(t, c, script)
	return c
}

func play(t testing.TB, c *client, script string) {
	t.Helper()
	for n, raw := range strings.Split(strings.Trim(script, "\n\t"), "\n") {
		l := strings.TrimLeft(strings.TrimRight(raw, "\r"), " \t")
		switch {
		case l == "":
		case strings.HasPrefix(l, "C: "):
			c.cmd(strings.TrimPrefix(l, "C: "))
		case l == "S: <closed>":
			c.expectClosed()
		case strings.HasPrefix(l, "S: "):
			want := strings.TrimPrefix(l, "S: ")
			got := c.line()
			if prefix, ok := strings.CutSuffix(want, "..."); ok {
				require.True(t, strings.HasPrefix(got, prefix), "script line %d: want %q, got %q", n+1, want, got)
			} else {
				require.Equal(t, want, got, "script line %d", n+1)
			}
		default:
			t.Fatalf("bad script line %d: %q", n+1, l)
		}
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// contextWithTimeout is a short helper for Shutdown calls.
func contextWithTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
