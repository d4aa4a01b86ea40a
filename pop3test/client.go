package pop3test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// DefaultTimeout bounds each read and write of a [Client] whose Timeout is
// zero, so that a server that stops answering fails the test instead of
// hanging it.
const DefaultTimeout = 10 * time.Second

// maxStatusLine is the longest status line RFC 2449 §4 allows, CRLF
// included.
const maxStatusLine = 512

// Client is the test's side of a POP3 connection: it sends commands and
// reads replies, un-stuffing multi-line ones (RFC 1939 §3).
//
// A Client fails its test (tb.Fatal) when the connection breaks, times out
// or breaks the framing, so a test reads as the conversation it has; a
// negative reply is not a failure but a [Reply] with OK false. Like
// tb.Fatal, a Client must be used from the goroutine running the test.
//
// The first line a Client reads is the server's greeting. Methods that send
// a command read it first when the test has not; raw methods (SendRaw,
// ReadLine, Transcript) leave it to the test.
type Client struct {
	// Timeout bounds each read and each write; zero means DefaultTimeout.
	Timeout time.Duration

	tb       testing.TB
	conn     net.Conn
	r        *bufio.Reader
	greeting string
	greeted  bool
}

// Dial connects to a POP3 server at addr (host:port) over TCP. The
// connection is closed when the test ends.
func Dial(tb testing.TB, addr string) *Client {
	tb.Helper()
	return dial(tb, "tcp", addr)
}

func dial(tb testing.TB, network, addr string) *Client {
	tb.Helper()
	conn, err := net.DialTimeout(network, addr, DefaultTimeout)
	if err != nil {
		tb.Fatalf("pop3test: dial %s: %v", addr, err)
	}
	return NewClient(tb, conn)
}

// DialTLS connects to a POP3 server at addr over implicit TLS (RFC 8314).
// The connection is closed when the test ends.
func DialTLS(tb testing.TB, addr string, cfg *tls.Config) *Client {
	tb.Helper()
	d := &net.Dialer{Timeout: DefaultTimeout}
	conn, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		tb.Fatalf("pop3test: TLS dial %s: %v", addr, err)
	}
	return NewClient(tb, conn)
}

// NewClient makes a Client of an open connection, such as one end of
// net.Pipe or a unix socket. conn is closed when the test ends.
func NewClient(tb testing.TB, conn net.Conn) *Client {
	tb.Cleanup(func() { conn.Close() })
	return &Client{tb: tb, conn: conn, r: bufio.NewReader(conn)}
}

// Conn returns the connection, a *tls.Conn after StartTLS.
func (c *Client) Conn() net.Conn { return c.conn }

// Close closes the connection without QUIT: the way a client that drops
// ends a session.
func (c *Client) Close() { c.conn.Close() }

// Greeting returns the server's greeting line, reading it if the test has
// not read a line yet.
func (c *Client) Greeting() string {
	c.tb.Helper()
	if !c.greeted {
		c.ReadLine()
	}
	return c.greeting
}

// Timestamp returns the APOP timestamp of the greeting (RFC 1939 §7), the
// angle brackets included, or "" when it has none.
func (c *Client) Timestamp() string {
	c.tb.Helper()
	g := c.Greeting()
	start := strings.LastIndexByte(g, '<')
	end := strings.LastIndexByte(g, '>')
	if start < 0 || end < start {
		return ""
	}
	return g[start : end+1]
}

// SendRaw writes s to the server as it is; the caller adds the line ends.
func (c *Client) SendRaw(s string) {
	c.tb.Helper()
	c.deadline()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.tb.Fatalf("pop3test: sending %q: %v", abbreviate(s), err)
	}
}

// Send writes one command line, adding its CRLF. It reads no reply.
func (c *Client) Send(line string) {
	c.tb.Helper()
	c.SendRaw(line + "\r\n")
}

// ReadLine reads one line, which must end in CRLF, and returns it without
// the CRLF and without undoing dot-stuffing.
func (c *Client) ReadLine() string {
	c.tb.Helper()
	c.deadline()
	l, err := c.r.ReadString('\n')
	if err != nil {
		switch {
		case l != "":
			c.tb.Fatalf("pop3test: the server sent %q and then %v, not a whole line", abbreviate(l), err)
		case errors.Is(err, io.EOF):
			c.tb.Fatalf("pop3test: the server closed the connection where a reply was due")
		default:
			c.tb.Fatalf("pop3test: reading a reply: %v", err)
		}
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.tb.Fatalf("pop3test: line %q ends in a bare LF, not CRLF (RFC 1939 §3)", abbreviate(l))
	}
	l = l[:len(l)-2]
	if !c.greeted {
		c.greeted, c.greeting = true, l
	}
	return l
}

// ReadReply reads a status line ("+OK ...", "-ERR ..." or a "+ " SASL
// continuation) and checks that it fits the 512 octets of RFC 2449 §4.
// It does not read a multi-line body; see ReadBody.
func (c *Client) ReadReply() Reply {
	c.tb.Helper()
	line := c.ReadLine()
	if len(line)+2 > maxStatusLine {
		c.tb.Fatalf("pop3test: status line of %d octets, over the %d of RFC 2449 §4: %q", len(line)+2, maxStatusLine, abbreviate(line))
	}
	r, ok := parseReply(line)
	if !ok {
		c.tb.Fatalf("pop3test: %q is not a status line (+OK, -ERR or a \"+ \" continuation)", abbreviate(line))
	}
	return r
}

// ReadBody reads the body of a multi-line reply up to its terminating
// ".", and returns it un-stuffed, each line ended by CRLF: the octets that
// RETR's message or TOP's excerpt holds.
func (c *Client) ReadBody() []byte {
	c.tb.Helper()
	return c.readBody(0)
}

// CopyBody reads the body of a multi-line reply as ReadBody does, but
// writes it to w instead of holding it, and returns its length: for a body
// too big to keep, or a benchmark that discards it.
func (c *Client) CopyBody(w io.Writer) int64 {
	c.tb.Helper()
	return c.copyBody(w)
}

// readBody reads a multi-line body, with room for sizeHint octets.
func (c *Client) readBody(sizeHint int64) []byte {
	c.tb.Helper()
	var body bytes.Buffer
	if sizeHint > 0 && sizeHint <= 64<<20 {
		body.Grow(int(sizeHint))
	}
	c.copyBody(&body)
	return body.Bytes()
}

func (c *Client) copyBody(w io.Writer) int64 {
	c.tb.Helper()
	var n, refreshed int64
	c.deadline()
	for {
		if n-refreshed > 1<<20 { // the deadline bounds each MiB, not each line: timers cost
			c.deadline()
			refreshed = n
		}
		l, err := c.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it whole, copying
			// the first part before reading on reuses the buffer.
			first := bytes.Clone(l)
			var rest []byte
			rest, err = c.r.ReadBytes('\n')
			l = append(first, rest...)
		}
		if err != nil {
			c.tb.Fatalf("pop3test: multi-line reply cut short after %d octets: %v", n, err)
		}
		if !bytes.HasSuffix(l, []byte("\r\n")) {
			c.tb.Fatalf("pop3test: line %q of a multi-line reply ends in a bare LF, not CRLF", abbreviate(string(l)))
		}
		if len(l) == 3 && l[0] == '.' {
			return n
		}
		if l[0] == '.' {
			l = l[1:]
		}
		if _, err := w.Write(l); err != nil {
			c.tb.Fatalf("pop3test: writing a multi-line reply: %v", err)
		}
		n += int64(len(l))
	}
}

// Cmd sends one command and reads its reply: the status line and, for a
// positive reply to a command that has a multi-line one (CAPA, LIST and
// UIDL without an argument, RETR, TOP, AUTH and LANG without one), its
// body.
func (c *Client) Cmd(line string) Reply {
	c.tb.Helper()
	c.Greeting()
	c.Send(line)
	return c.readReplyTo(line)
}

// OK sends one command as Cmd does and fails the test unless the reply is
// +OK.
func (c *Client) OK(line string) Reply {
	c.tb.Helper()
	r := c.Cmd(line)
	if !r.OK {
		c.tb.Fatalf("pop3test: %s: %s", redactCommand(line), r.Line)
	}
	return r
}

// Pipeline sends the commands in one write (RFC 2449 §6.6, PIPELINING)
// and then reads their replies, in order.
func (c *Client) Pipeline(lines ...string) []Reply {
	c.tb.Helper()
	c.Greeting()
	var batch strings.Builder
	for _, l := range lines {
		batch.WriteString(l)
		batch.WriteString("\r\n")
	}
	c.SendRaw(batch.String())
	replies := make([]Reply, len(lines))
	for i, l := range lines {
		replies[i] = c.readReplyTo(l)
	}
	return replies
}

func (c *Client) readReplyTo(line string) Reply {
	c.tb.Helper()
	r := c.ReadReply()
	if r.OK && hasMultiLineReply(line) {
		// "+OK 1234 octets", as most servers answer RETR, sizes the
		// buffer.
		size, _, _ := strings.Cut(r.Text, " ")
		hint, _ := strconv.ParseInt(size, 10, 64)
		r.Body = c.readBody(hint)
	}
	return r
}

// Login logs in with USER and PASS (RFC 1939 §7) and fails the test unless
// both are accepted.
func (c *Client) Login(username, password string) {
	c.tb.Helper()
	c.OK("USER " + username)
	if r := c.Cmd("PASS " + password); !r.OK {
		c.tb.Fatalf("pop3test: login as %q refused: %s", username, r.Line)
	}
}

// StartTLS sends STLS (RFC 2595 §4), requires +OK and upgrades the
// connection with cfg.
func (c *Client) StartTLS(cfg *tls.Config) {
	c.tb.Helper()
	c.OK("STLS")
	c.UpgradeTLS(cfg)
}

// UpgradeTLS makes the TLS handshake on the connection now, for a test
// that sent STLS itself (in a pipelined batch, say) and read its +OK. It
// fails the test if the server sent anything after that +OK, as RFC 2595
// §4 forbids.
func (c *Client) UpgradeTLS(cfg *tls.Config) {
	c.tb.Helper()
	if n := c.r.Buffered(); n != 0 {
		c.tb.Fatalf("pop3test: the server sent %d octets after +OK to STLS, before the TLS handshake", n)
	}
	tc := tls.Client(c.conn, cfg)
	c.deadline()
	if err := tc.Handshake(); err != nil {
		c.tb.Fatalf("pop3test: TLS handshake after STLS: %v", err)
	}
	c.conn, c.r = tc, bufio.NewReader(tc)
}

// Capa sends CAPA (RFC 2449 §5) and returns the capability lines.
func (c *Client) Capa() []string {
	c.tb.Helper()
	return c.OK("CAPA").Lines()
}

// Quit sends QUIT, requires +OK and that the server then closes the
// connection (RFC 1939 §6).
func (c *Client) Quit() {
	c.tb.Helper()
	c.OK("QUIT")
	c.ExpectClosed()
}

// ReadUntilClosed returns everything the server sends until it closes the
// connection, such as the part of a message sent before a failure cut it
// short.
func (c *Client) ReadUntilClosed() []byte {
	c.tb.Helper()
	c.deadline()
	rest, err := io.ReadAll(c.r)
	// A server that closes while input it has not read waits (a client
	// that kept writing) resets the connection (RFC 1122 §4.2.2.13):
	// that is a close too.
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		c.tb.Fatalf("pop3test: the server did not close the connection: %v", err)
	}
	return rest
}

// ExpectClosed fails the test unless the server closes the connection
// without sending anything more.
func (c *Client) ExpectClosed() {
	c.tb.Helper()
	if rest := c.ReadUntilClosed(); len(rest) > 0 {
		c.tb.Fatalf("pop3test: the server sent %q before closing, expected nothing", abbreviate(string(rest)))
	}
}

func (c *Client) deadline() {
	t := c.Timeout
	if t == 0 {
		t = DefaultTimeout
	}
	_ = c.conn.SetDeadline(time.Now().Add(t))
}

// hasMultiLineReply reports whether a positive reply to line has a body.
func hasMultiLineReply(line string) bool {
	name, args, _ := strings.Cut(line, " ")
	switch strings.ToUpper(name) {
	case "CAPA", "RETR", "TOP":
		return true
	case "LIST", "UIDL", "AUTH", "LANG":
		return strings.TrimSpace(args) == ""
	}
	return false
}

// redactCommand hides the credentials of a command line in a failure
// message.
func redactCommand(line string) string {
	name, _, _ := strings.Cut(line, " ")
	switch strings.ToUpper(name) {
	case "PASS", "APOP", "AUTH":
		return name + " ..."
	}
	return line
}

// abbreviate keeps a failure message short when a line is long.
func abbreviate(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
