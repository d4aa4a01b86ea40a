package pop3_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
)

// halfConn is one end of an in-memory connection that, unlike net.Pipe,
// can close its writing side alone, so that a client can send all its
// bytes and still read every reply. Deadlines are ignored: the fuzz input
// always ends.
type halfConn struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func halfPipe() (client, server *halfConn) {
	c2sR, c2sW := io.Pipe()
	s2cR, s2cW := io.Pipe()
	return &halfConn{r: s2cR, w: c2sW}, &halfConn{r: c2sR, w: s2cW}
}

func (c *halfConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *halfConn) Write(p []byte) (int, error) { return c.w.Write(p) }
func (c *halfConn) CloseWrite() error           { return c.w.Close() }
func (c *halfConn) Close() error {
	c.w.Close()
	return c.r.Close()
}
func (c *halfConn) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 110} }
func (c *halfConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}
}
func (c *halfConn) SetDeadline(time.Time) error      { return nil }
func (c *halfConn) SetReadDeadline(time.Time) error  { return nil }
func (c *halfConn) SetWriteDeadline(time.Time) error { return nil }

// fuzzMessages never hold a line that could pass for a status line.
var fuzzMessages = []string{
	"Subject: one\r\n\r\nbody\r\n.dot\r\n",
	"Subject: two\n\nx\n.\n..\n",
	"",
	// Internationalized (RFC 6532): downgraded unless in UTF8 mode.
	"From: J\u00f6ran <j\u00f6ran@ex\u00e4mple.se>\r\nSubject: \u041f\u0440\u0438\u0432\u0435\u0442 " + strings.Repeat("\u043c\u0438\u0440 ", 30) + "\r\n\r\nx\r\n",
}

// FuzzSession feeds arbitrary client bytes to a whole session on the
// memory backend. Invariants: no panic; the session ends when the input
// does; every reply line ends in CRLF, is at most 512 octets, and is a
// status line ("+OK", "-ERR", "+ ") or a line of a multi-line body; no
// message is deleted unless the client sent QUIT; the maildrop is always
// released.
func FuzzSession(f *testing.F) {
	for _, seed := range []string{
		"USER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nTOP 2 1\r\nDELE 1\r\nQUIT\r\n",
		"USER alice\r\nPASS secret\r\nDELE 1\r\nDELE 2\r\nRSET\r\nLAST\r\nNOOP\r\n",
		"USER alice\nPASS secret\nLIST 0\nRETR 1a\nTOP 1 -1\nDELE 9\nquit\n",
		"CAPA\r\nAUTH\r\nAUTH PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\nRETR 3\r\nQUIT\r\n",
		"AUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\nLIST\r\n",
		"AUTH PLAIN =\r\nAUTH PLAIN\r\n*\r\nAPOP alice 0123456789abcdef0123456789abcdef\r\nSTLS\r\n",
		"USER alice\r\nPASS secret\r\nUSER x\r\nPASS y\r\nCAPA\r\nTOP 1 99999999\r\nQUIT\r\n",
		strings.Repeat("A", 3000) + "\r\nNOOP\r\n",
		"UTF8\r\nLANG\r\nLANG bg\r\nUSER alice\r\nPASS secret\r\nLIST\r\nRETR 4\r\nLANG *\r\nRETR 9\r\nLANG en\r\nQUIT\r\n",
		"USER alice\r\nPASS secret\r\nLIST 4\r\nTOP 4 0\r\nRETR 4\r\nLIST\r\nLANG bg-BG\r\nUTF8\r\nQUIT\r\n",
		"USER j\xc3\xb6ran\r\nPASS p\xe4ss\r\nUSER \xff\r\nLANG xx\r\nLANG\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		b := memory.New()
		require.NoError(t, b.AddUser("alice", "secret"))
		for _, m := range fuzzMessages {
			_, err := b.AppendMessage("alice", []byte(m))
			require.NoError(t, err)
		}
		srv := pop3.NewServer(b)
		srv.Logger = discardLogger()
		srv.AuthFailureDelay = -1
		srv.MaxAuthPenalty = -1
		l := newPipeListener()
		go srv.Serve(l)
		defer srv.Close()

		client, server := halfPipe()
		l.conns <- server
		go func() {
			_, _ = client.Write(input)
			_ = client.CloseWrite()
		}()
		out := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(client.r)
			out <- b
		}()
		var replies []byte
		select {
		case replies = <-out:
		case <-time.After(10 * time.Second):
			t.Fatal("the session did not end with its input")
		}
		checkReplies(t, replies)

		left, err := b.Messages("alice")
		require.NoError(t, err)
		if !bytes.Contains(bytes.ToUpper(input), []byte("QUIT")) {
			require.Len(t, left, len(fuzzMessages), "deleted without QUIT")
		}
		require.NoError(t, srv.Close())
		// The maildrop was released.
		u, err := b.Login(context.Background(), &pop3.ConnInfo{}, "alice", "secret")
		require.NoError(t, err)
		mb, err := u.Open(context.Background())
		require.NoError(t, err, "maildrop still locked after the session")
		require.NoError(t, mb.Close())
	})
}

// checkReplies checks the framing of everything a server sent.
func checkReplies(t *testing.T, replies []byte) {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(replies))
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			require.Empty(t, line, "a reply without CRLF at the end")
			return
		}
		require.True(t, strings.HasSuffix(line, "\r\n"), "line %q", line)
		require.LessOrEqual(t, len(line), 512, "line %q", line)
		l := strings.TrimSuffix(line, "\r\n")
		switch {
		case strings.HasPrefix(l, "+OK"), strings.HasPrefix(l, "-ERR"), strings.HasPrefix(l, "+ "):
		case l == "." || strings.HasPrefix(l, ".."):
		case l == "" || l[0] >= '0' && l[0] <= '9': // listing lines, blank message lines
		case l[0] >= 'A' && l[0] <= 'Z': // capabilities, mechanisms, headers
		case l[0] == ' ': // a folded header line
		case strings.HasPrefix(l, "en ") || strings.HasPrefix(l, "bg "): // the LANG listing
		case l == "body" || l == "x":
		default:
			t.Fatalf("unexpected reply line %q", l)
		}
	}
}
