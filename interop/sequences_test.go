package interop

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/pop3test"
)

// This file replays the command sequences of clients that cannot run here
// (Thunderbird, Outlook; see CLIENTS.md) over a real connection, with a
// real STLS upgrade done by crypto/tls, and checks every reply.

// dialPOP connects to addr, with implicit TLS when cfg is set, and checks
// the greeting, which the Client keeps (Greeting, Timestamp).
func dialPOP(t *testing.T, addr string, cfg *tls.Config) *pop3test.Client {
	t.Helper()
	var c *pop3test.Client
	if cfg != nil {
		c = pop3test.DialTLS(t, addr, cfg)
	} else {
		c = pop3test.Dial(t, addr)
	}
	greeting := c.Greeting()
	require.True(t, strings.HasPrefix(greeting, "+OK "), "greeting %q", greeting)
	return c
}

// startTLS sends STLS and upgrades the connection with cfg, checking that
// the certificate verified.
func startTLS(t *testing.T, c *pop3test.Client, cfg *tls.Config) {
	t.Helper()
	c.StartTLS(cfg)
	st := c.Conn().(*tls.Conn).ConnectionState()
	require.NotEmpty(t, st.VerifiedChains, "the server certificate chains to the test CA")
}

// okReply sends cmd and requires a +OK status line, which it returns
// with the body of a multi-line reply.
func okReply(t *testing.T, c *pop3test.Client, cmd string) pop3test.Reply {
	t.Helper()
	r := c.Cmd(cmd)
	require.True(t, strings.HasPrefix(r.Line, "+OK"), "%s: got %q", cmd, r.Line)
	return r
}

// challenge reads a SASL continuation ("+ base64") and returns the decoded
// challenge.
func challenge(t *testing.T, c *pop3test.Client) string {
	t.Helper()
	r := c.ReadReply()
	require.True(t, r.Continuation, "a continuation, got %q", r.Line)
	ch, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.Text))
	require.NoError(t, err, "challenge %q is base64", r.Line)
	return string(ch)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// login logs in as Thunderbird or Outlook may, and checks the reply.
func login(t *testing.T, c *pop3test.Client, method string) {
	t.Helper()
	switch method {
	case "AUTH PLAIN": // no initial response: Thunderbird, mpop
		c.Send("AUTH PLAIN")
		assert.Equal(t, "", challenge(t, c), "PLAIN starts with an empty challenge")
		c.Send(b64("\x00" + testUser + "\x00" + testPassword))
	case "AUTH LOGIN": // Outlook
		c.Send("AUTH LOGIN")
		assert.Equal(t, "Username:", challenge(t, c))
		c.Send(b64(testUser))
		assert.Equal(t, "Password:", challenge(t, c))
		c.Send(b64(testPassword))
	case "USER":
		okReply(t, c, "USER "+testUser)
		c.Send("PASS " + testPassword)
	case "APOP":
		ts := c.Timestamp()
		require.NotEmpty(t, ts, "an APOP timestamp in %q", c.Greeting())
		c.Send("APOP " + testUser + " " + pop3.APOPDigest(ts, testPassword))
	default:
		t.Fatalf("unknown login method %q", method)
	}
	r := c.ReadReply()
	assert.True(t, strings.HasPrefix(r.Line, "+OK"), "%s: got %q", method, r.Line)
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
func checkListings(t *testing.T, c *pop3test.Client, srv *testServer) {
	t.Helper()
	total := 0
	var list, uidl []string
	for i, m := range srv.loaded {
		total += len(m.Data)
		list = append(list, fmt.Sprintf("%d %d", i+1, len(m.Data)))
		uidl = append(uidl, fmt.Sprintf("%d %s", i+1, m.UID))
	}
	assert.Equal(t, fmt.Sprintf("+OK %d %d", len(srv.loaded), total), okReply(t, c, "STAT").Line)
	assert.Equal(t, list, okReply(t, c, "LIST").Lines())
	assert.Equal(t, uidl, okReply(t, c, "UIDL").Lines())
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
			c := dialPOP(t, srv.addr(), nil)
			checkCapa(t, okReply(t, c, "CAPA").Lines(), true)
			startTLS(t, c, srv.certs.ClientTLS)
			checkCapa(t, okReply(t, c, "CAPA").Lines(), false)
			login(t, c, method)

			checkListings(t, c, srv)
			for i, m := range srv.loaded {
				top := okReply(t, c, fmt.Sprintf("TOP %d 0", i+1))
				assertSameBytes(t, topOf(m.Data, 0), top.Body, "TOP %d 0", i+1)
			}
			last := len(srv.loaded)
			top := okReply(t, c, fmt.Sprintf("TOP %d 20", last))
			assertSameBytes(t, topOf(srv.loaded[last-1].Data, 20), top.Body, "TOP %d 20", last)
			for i, m := range srv.loaded {
				r := okReply(t, c, fmt.Sprintf("RETR %d", i+1))
				assert.Equal(t, fmt.Sprintf("+OK %d octets", len(m.Data)), r.Line)
				assertSameBytes(t, m.Data, r.Body, "RETR %d", i+1)
				okReply(t, c, "NOOP")
				okReply(t, c, fmt.Sprintf("DELE %d", i+1))
			}
			assert.Equal(t, "+OK 0 0", okReply(t, c, "STAT").Line, "deleted messages are hidden")

			start := time.Now()
			okReply(t, c, "QUIT")
			assert.Less(t, time.Since(start), 3*time.Second, "QUIT answered before Thunderbird gives up")
			c.ExpectClosed()
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
			var c *pop3test.Client
			if implicit {
				c = dialPOP(t, srv.tlsAddr(), srv.certs.ClientTLS)
			} else {
				c = dialPOP(t, srv.addr(), nil)
				checkCapa(t, okReply(t, c, "CAPA").Lines(), true)
				startTLS(t, c, srv.certs.ClientTLS)
			}
			checkCapa(t, okReply(t, c, "CAPA").Lines(), false)

			mechs := okReply(t, c, "AUTH").Lines()
			assert.Contains(t, mechs, "PLAIN")
			assert.Contains(t, mechs, "LOGIN")
			login(t, c, "AUTH LOGIN")

			checkListings(t, c, srv)
			for i, m := range srv.loaded {
				r := okReply(t, c, fmt.Sprintf("RETR %d", i+1))
				assert.Equal(t, fmt.Sprintf("+OK %d octets", len(m.Data)), r.Line)
				assertSameBytes(t, m.Data, r.Body, "RETR %d", i+1)
			}
			okReply(t, c, "QUIT")
			c.ExpectClosed()
			srv.assertUnchanged(t)
		})
	}
}
