package interop

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
)

// This file replays the command sequences of clients that cannot run here
// (Thunderbird, Outlook; see CLIENTS.md) over a real connection, with a
// real STLS upgrade done by crypto/tls, and checks every reply.

// popConn is the client side of a POP3 connection, one command at a time.
type popConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// dialPOP connects to addr, with implicit TLS when cfg is set, and returns
// the connection and the greeting.
func dialPOP(t *testing.T, addr string, cfg *tls.Config) (*popConn, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	require.NoError(t, err)
	if cfg != nil {
		tc := tls.Client(conn, cfg)
		require.NoError(t, tc.Handshake())
		conn = tc
	}
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	c := &popConn{t: t, conn: conn, r: bufio.NewReader(conn)}
	greeting := c.line()
	require.True(t, strings.HasPrefix(greeting, "+OK "), "greeting %q", greeting)
	return c, greeting
}

// send writes one command line.
func (c *popConn) send(line string) {
	c.t.Helper()
	_, err := io.WriteString(c.conn, line+"\r\n")
	require.NoError(c.t, err, "sending %q", line)
}

// line reads one reply line, which must end in CRLF and be at most 512
// octets (RFC 2449 §4), and returns it without the CRLF.
func (c *popConn) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	require.NoError(c.t, err, "reading a reply line (got %q)", l)
	require.True(c.t, strings.HasSuffix(l, "\r\n"), "line %q ends in CRLF", l)
	return strings.TrimSuffix(l, "\r\n")
}

// ok sends cmd and requires a +OK status line, which it returns.
func (c *popConn) ok(cmd string) string {
	c.t.Helper()
	c.send(cmd)
	l := c.line()
	require.True(c.t, strings.HasPrefix(l, "+OK"), "%s: got %q", cmd, l)
	require.LessOrEqual(c.t, len(l)+2, 512, "a status line fits in 512 octets")
	return l
}

// body reads the rest of a multi-line reply up to the terminating
// ".CRLF", undoes the dot-stuffing and returns the content with CRLF line
// ends.
func (c *popConn) body() []byte {
	c.t.Helper()
	var out bytes.Buffer
	for {
		l := c.line()
		if l == "." {
			return out.Bytes()
		}
		out.WriteString(strings.TrimPrefix(l, "."))
		out.WriteString("\r\n")
	}
}

// lines reads a multi-line reply of short lines, such as CAPA or LIST.
func (c *popConn) lines() []string {
	c.t.Helper()
	b := c.body()
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n")
}

// capa sends CAPA and returns the capability lines.
func (c *popConn) capa() []string {
	c.t.Helper()
	c.ok("CAPA")
	return c.lines()
}

// startTLS sends STLS and upgrades the connection with cfg, checking that
// the certificate verified.
func (c *popConn) startTLS(cfg *tls.Config) {
	c.t.Helper()
	c.ok("STLS")
	require.Zero(c.t, c.r.Buffered(), "nothing may follow +OK before the handshake")
	tc := tls.Client(c.conn, cfg)
	require.NoError(c.t, tc.Handshake())
	st := tc.ConnectionState()
	require.NotEmpty(c.t, st.VerifiedChains, "the server certificate chains to the test CA")
	c.conn, c.r = tc, bufio.NewReader(tc)
}

// continuation reads a SASL continuation ("+ base64") and returns the
// decoded challenge.
func (c *popConn) continuation() string {
	c.t.Helper()
	l := c.line()
	require.True(c.t, strings.HasPrefix(l, "+ ") || l == "+", "a continuation, got %q", l)
	ch, err := base64.StdEncoding.DecodeString(strings.TrimSpace(strings.TrimPrefix(l, "+")))
	require.NoError(c.t, err, "challenge %q is base64", l)
	return string(ch)
}

// expectClosed checks that the server closed the connection.
func (c *popConn) expectClosed() {
	c.t.Helper()
	_, err := c.r.ReadByte()
	assert.ErrorIs(c.t, err, io.EOF, "the server closes the connection after QUIT")
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

var apopTimestamp = regexp.MustCompile(`<[^<>]*>`)

// login logs in as Thunderbird or Outlook may, and checks the reply.
func (c *popConn) login(method, greeting string) {
	c.t.Helper()
	switch method {
	case "AUTH PLAIN": // no initial response: Thunderbird, mpop
		c.send("AUTH PLAIN")
		assert.Equal(c.t, "", c.continuation(), "PLAIN starts with an empty challenge")
		c.send(b64("\x00" + testUser + "\x00" + testPassword))
	case "AUTH LOGIN": // Outlook
		c.send("AUTH LOGIN")
		assert.Equal(c.t, "Username:", c.continuation())
		c.send(b64(testUser))
		assert.Equal(c.t, "Password:", c.continuation())
		c.send(b64(testPassword))
	case "USER":
		c.ok("USER " + testUser)
		c.send("PASS " + testPassword)
	case "APOP":
		ts := apopTimestamp.FindString(greeting)
		require.NotEmpty(c.t, ts, "an APOP timestamp in %q", greeting)
		c.send("APOP " + testUser + " " + pop3.APOPDigest(ts, testPassword))
	default:
		c.t.Fatalf("unknown login method %q", method)
	}
	l := c.line()
	assert.True(c.t, strings.HasPrefix(l, "+OK"), "%s: got %q", method, l)
}

// checkCapa checks a CAPA listing for the capabilities every sequence
// relies on, and that STLS is offered exactly when wanted.
func checkCapa(t *testing.T, caps []string, stls bool) {
	t.Helper()
	for _, want := range []string{"TOP", "UIDL", "USER", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE"} {
		assert.Contains(t, caps, want)
	}
	var sasl []string
	for _, c := range caps {
		if rest, ok := strings.CutPrefix(c, "SASL "); ok {
			sasl = strings.Fields(rest)
		}
	}
	assert.Contains(t, sasl, "PLAIN")
	assert.Contains(t, sasl, "LOGIN")
	if stls {
		assert.Contains(t, caps, "STLS")
	} else {
		assert.NotContains(t, caps, "STLS")
	}
}

// checkListings checks STAT, LIST and UIDL against the loaded maildrop.
func checkListings(t *testing.T, c *popConn, srv *testServer) {
	t.Helper()
	total := 0
	var list, uidl []string
	for i, m := range srv.loaded {
		total += len(m.Data)
		list = append(list, fmt.Sprintf("%d %d", i+1, len(m.Data)))
		uidl = append(uidl, fmt.Sprintf("%d %s", i+1, m.UID))
	}
	assert.Equal(t, fmt.Sprintf("+OK %d %d", len(srv.loaded), total), c.ok("STAT"))
	c.ok("LIST")
	assert.Equal(t, list, c.lines())
	c.ok("UIDL")
	assert.Equal(t, uidl, c.lines())
}

// topOf returns the header, the blank line and n lines of body of a CRLF
// message, as TOP msg n must.
func topOf(msg []byte, n int) []byte {
	header, body, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	lines := bytes.SplitAfter(body, []byte("\r\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	out := append(append([]byte{}, header...), "\r\n\r\n"...)
	return append(out, bytes.Join(lines[:min(n, len(lines))], nil)...)
}

// TestThunderbirdSequence replays Thunderbird: CAPA, STLS, CAPA, a login
// (AUTH PLAIN without initial response by default, or USER/PASS or APOP),
// STAT, LIST, UIDL, TOP n 0 for every message (TOP n 20 for a big one),
// RETR, DELE, NOOP (sent when busy), QUIT; then the maildrop is empty.
// Thunderbird drops the connection 3 s after QUIT, so UPDATE must be quick.
func TestThunderbirdSequence(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"AUTH PLAIN", "USER", "APOP"} {
		t.Run(strings.ReplaceAll(method, " ", "-"), func(t *testing.T) {
			t.Parallel()
			srv := startServer(t)
			c, greeting := dialPOP(t, srv.addr(), nil)
			checkCapa(t, c.capa(), true)
			c.startTLS(srv.certs.ClientTLS)
			checkCapa(t, c.capa(), false)
			c.login(method, greeting)

			checkListings(t, c, srv)
			for i, m := range srv.loaded {
				c.ok(fmt.Sprintf("TOP %d 0", i+1))
				assertSameBytes(t, topOf(m.Data, 0), c.body(), "TOP %d 0", i+1)
			}
			last := len(srv.loaded)
			c.ok(fmt.Sprintf("TOP %d 20", last))
			assertSameBytes(t, topOf(srv.loaded[last-1].Data, 20), c.body(), "TOP %d 20", last)
			for i, m := range srv.loaded {
				assert.Equal(t, fmt.Sprintf("+OK %d octets", len(m.Data)), c.ok(fmt.Sprintf("RETR %d", i+1)))
				assertSameBytes(t, m.Data, c.body(), "RETR %d", i+1)
				c.ok("NOOP")
				c.ok(fmt.Sprintf("DELE %d", i+1))
			}
			assert.Equal(t, "+OK 0 0", c.ok("STAT"), "deleted messages are hidden")

			start := time.Now()
			c.ok("QUIT")
			assert.Less(t, time.Since(start), 3*time.Second, "QUIT answered before Thunderbird gives up")
			c.expectClosed()
			srv.assertEmptied(t)
		})
	}
}

// TestOutlookSequence replays Outlook: CAPA, STLS, CAPA, a bare AUTH to
// list the mechanisms, AUTH LOGIN, STAT, LIST, UIDL, RETR of every message,
// QUIT, leaving a copy on the server (its default); and the same over
// implicit TLS (port 995 in Outlook's settings).
func TestOutlookSequence(t *testing.T) {
	t.Parallel()
	for _, implicit := range []bool{false, true} {
		t.Run("implicit-TLS-"+strconv.FormatBool(implicit), func(t *testing.T) {
			t.Parallel()
			srv := startServer(t)
			var c *popConn
			if implicit {
				c, _ = dialPOP(t, srv.tlsAddr(), srv.certs.ClientTLS)
			} else {
				c, _ = dialPOP(t, srv.addr(), nil)
				checkCapa(t, c.capa(), true)
				c.startTLS(srv.certs.ClientTLS)
			}
			checkCapa(t, c.capa(), false)

			c.ok("AUTH")
			mechs := c.lines()
			assert.Contains(t, mechs, "PLAIN")
			assert.Contains(t, mechs, "LOGIN")
			c.login("AUTH LOGIN", "")

			checkListings(t, c, srv)
			for i, m := range srv.loaded {
				assert.Equal(t, fmt.Sprintf("+OK %d octets", len(m.Data)), c.ok(fmt.Sprintf("RETR %d", i+1)))
				assertSameBytes(t, m.Data, c.body(), "RETR %d", i+1)
			}
			c.ok("QUIT")
			c.expectClosed()
			srv.assertUnchanged(t)
		})
	}
}
