package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/testcert"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

// scriptServer is a small POP3 server for what pop3.Server would not
// send: unique-ids that break RFC 1939, no USER, no STLS, no CAPA. It
// serves one maildrop to one user, and records the commands it got.
type scriptServer struct {
	addr       string
	capa       []string // nil: CAPA answers -ERR
	user, pass string
	msgs       []scriptMessage
	refuseDele int // DELE of this message answers -ERR
	// listSizes are sizes LIST gives instead of the true ones, by message
	// number; -1 leaves the message out of LIST.
	listSizes map[int]int64

	mu       sync.Mutex
	commands []string // PASS and AUTH with their arguments hidden
	deleted  []int    // deleted at QUIT
	closed   bool     // a session ended without QUIT
}

type scriptMessage struct {
	uidl string
	data string // as sent before stuffing, CRLF line ends
}

func newScriptServer(t *testing.T, s *scriptServer) *scriptServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.addr = l.Addr().String()
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				s.serve(c)
			})
		}
	})
	return s
}

func (s *scriptServer) record(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := strings.Fields(line); len(f) > 0 && (strings.EqualFold(f[0], "PASS") || strings.EqualFold(f[0], "AUTH")) {
		line = strings.ToUpper(f[0]) + " (hidden)"
	}
	s.commands = append(s.commands, line)
}

func (s *scriptServer) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

func (s *scriptServer) serve(c net.Conn) {
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	defer w.Flush()
	reply := func(format string, args ...any) {
		fmt.Fprintf(w, format+"\r\n", args...)
		w.Flush()
	}
	reply("+OK script ready")
	var user string
	loggedIn := false
	marked := map[int]bool{}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			s.mu.Lock()
			s.closed = true
			s.mu.Unlock()
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.record(line)
		cmd, arg, _ := strings.Cut(line, " ")
		num, _ := strconv.Atoi(arg)
		switch strings.ToUpper(cmd) {
		case "CAPA":
			if s.capa == nil {
				reply("-ERR unknown command")
				continue
			}
			reply("+OK")
			for _, c := range s.capa {
				reply("%s", c)
			}
			reply(".")
		case "USER":
			user = arg
			reply("+OK")
		case "PASS":
			if user != s.user || arg != s.pass {
				reply("-ERR [AUTH] invalid login")
				continue
			}
			loggedIn = true
			reply("+OK logged in")
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			if !strings.EqualFold(mech, "PLAIN") {
				reply("-ERR unsupported")
				continue
			}
			if resp == "" {
				reply("+ ")
				resp, _ = r.ReadString('\n')
				resp = strings.TrimRight(resp, "\r\n")
				s.record("(AUTH response)")
			}
			dec, _ := base64.StdEncoding.DecodeString(resp)
			if string(dec) != "\x00"+s.user+"\x00"+s.pass {
				reply("-ERR [AUTH] invalid login")
				continue
			}
			loggedIn = true
			reply("+OK logged in")
		case "UIDL", "LIST":
			if !loggedIn {
				reply("-ERR log in first")
				continue
			}
			reply("+OK")
			for i, m := range s.msgs {
				size, lie := s.listSizes[i+1]
				switch {
				case strings.EqualFold(cmd, "UIDL"):
					reply("%d %s", i+1, m.uidl)
				case !lie:
					reply("%d %d", i+1, len(m.data))
				case size >= 0:
					reply("%d %d", i+1, size)
				}
			}
			reply(".")
		case "RETR":
			if !loggedIn || num < 1 || num > len(s.msgs) {
				reply("-ERR no such message")
				continue
			}
			reply("+OK")
			w.WriteString(stuff(s.msgs[num-1].data))
			w.Flush()
		case "DELE":
			if num == s.refuseDele {
				reply("-ERR [SYS/TEMP] cannot")
				continue
			}
			marked[num] = true
			reply("+OK")
		case "QUIT":
			s.mu.Lock()
			for n := range marked {
				s.deleted = append(s.deleted, n)
			}
			s.mu.Unlock()
			reply("+OK bye")
			return
		default:
			reply("-ERR unknown command")
		}
	}
}

// stuff is a message as a multi-line reply (RFC 1939 §3): a line end added
// if it has none, lines beginning with "." stuffed, and the end line.
func stuff(msg string) string {
	if msg != "" && !strings.HasSuffix(msg, "\n") {
		msg += "\r\n"
	}
	var b strings.Builder
	bol := true
	for i := 0; i < len(msg); i++ {
		if bol && msg[i] == '.' {
			b.WriteByte('.')
		}
		b.WriteByte(msg[i])
		bol = msg[i] == '\n'
	}
	b.WriteString(".\r\n")
	return b.String()
}

func cleartextConfig(addr string) *sourceConfig {
	host, port, _ := net.SplitHostPort(addr)
	return &sourceConfig{url: sourceURL{host: host, port: port}, tls: nil, timeout: 10 * time.Second}
}

func TestParseSourceURL(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" for an error
	}{
		{"pop3s://mail.example.org", "pop3s://mail.example.org:995"},
		{"pop3://mail.example.org", "pop3://mail.example.org:110"},
		{"POP3S://Mail.Example.ORG.:9995/", "pop3s://mail.example.org:9995"},
		{"pop3://[::1]:1100", "pop3://[::1]:1100"},
		{"pop3://192.0.2.1", "pop3://192.0.2.1:110"},
		{"imap://mail.example.org", ""},
		{"mail.example.org", ""},
		{"mail.example.org:995", ""},
		{"pop3s://alice:secret@mail.example.org", ""},
		{"pop3s://mail.example.org/INBOX", ""},
		{"pop3s://mail.example.org?tls=no", ""},
		{"pop3s://mail.example.org:0", ""},
		{"pop3s://mail.example.org:99999", ""},
		{"pop3s://mail.example.org:pop3s", ""},
		{"pop3s://", ""},
		{"pop3s:mail.example.org", ""},
		{"", ""},
	} {
		u, err := parseSourceURL(tc.in)
		if tc.want == "" {
			assert.Error(t, err, tc.in)
			assert.NotContains(t, fmt.Sprint(err), "secret")
			continue
		}
		if assert.NoError(t, err, tc.in) {
			assert.Equal(t, tc.want, u.String(), tc.in)
		}
	}
}

func TestSourceSession(t *testing.T) {
	be := memory.New()
	require.NoError(t, be.AddUser("alice", "alice pw"))
	_, err := be.AppendMessage("alice", []byte("Subject: one\n\nfirst\n"))
	require.NoError(t, err)
	_, err = be.AppendMessage("alice", []byte("Subject: two\n\n.\n..\n.x\nlast line without end"))
	require.NoError(t, err)
	srv := pop3test.NewServer(t, be)
	msgs, err := be.Messages("alice")
	require.NoError(t, err)

	c, err := dialSource(context.Background(), cleartextConfig(srv.Addr))
	require.NoError(t, err)
	defer c.Close()
	assert.False(t, c.tls)
	assert.Contains(t, c.capa, "USER")
	require.NoError(t, c.login("alice", "alice pw"))
	uidls, err := c.uidl()
	require.NoError(t, err)
	assert.Equal(t, []uidlEntry{{1, msgs[0].UID}, {2, msgs[1].UID}}, uidls)
	sizes, err := c.list()
	require.NoError(t, err)
	assert.Equal(t, []listEntry{{1, int64(len(msgs[0].Data))}, {2, int64(len(msgs[1].Data))}}, sizes)
	for i, m := range msgs {
		body, err := c.retr(i + 1)
		require.NoError(t, err)
		require.Error(t, c.cmd("NOOP"), "no command while a reply is read")
		got, err := io.ReadAll(body)
		require.NoError(t, err)
		assert.Equal(t, string(m.Data), string(got), "byte for byte, line ends included")
		assert.Equal(t, int64(len(got)), body.n)
	}
	var re *replyError
	require.ErrorAs(t, c.dele(3), &re)
	assert.Equal(t, "DELE 3", re.cmd)
	require.NoError(t, c.dele(1))
	require.NoError(t, c.quit())
	left, err := be.Messages("alice")
	require.NoError(t, err)
	assert.Equal(t, msgs[1:], left, "QUIT deleted message 1")
}

func TestSourceLoginRefused(t *testing.T) {
	be := memory.New()
	require.NoError(t, be.AddUser("alice", "alice pw"))
	srv := pop3test.NewServer(t, be)
	c, err := dialSource(context.Background(), cleartextConfig(srv.Addr))
	require.NoError(t, err)
	defer c.Close()
	err = c.login("alice", "wrong pw")
	var re *replyError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "PASS", re.cmd, "the command, not its password")
	assert.Contains(t, err.Error(), "-ERR [AUTH]")
	assert.NotContains(t, err.Error(), "wrong pw")

	for _, bad := range [][2]string{{"alice\r\nDELE 1", "pw"}, {"alice", "pw\r\nDELE 1"}, {"al ice", "pw"}, {"", "pw"}, {"alice", ""}} {
		err := c.login(bad[0], bad[1])
		require.Error(t, err, "%q", bad)
		assert.NotContains(t, err.Error(), "pw", "%q", bad)
	}
}

// A server that offers SASL PLAIN and not USER gets AUTH PLAIN, with the
// initial response when it fits in 255 octets and after "+ " otherwise.
func TestSourceAuthPlain(t *testing.T) {
	for _, pass := range []string{"short pw", strings.Repeat("long pw ", 40)} {
		s := newScriptServer(t, &scriptServer{capa: []string{"SASL PLAIN LOGIN", "UIDL"}, user: "alice", pass: pass})
		c, err := dialSource(context.Background(), cleartextConfig(s.addr))
		require.NoError(t, err)
		require.NoError(t, c.login("alice", pass))
		require.NoError(t, c.quit())
		if len(pass) < 100 {
			assert.Equal(t, []string{"CAPA", "AUTH (hidden)", "QUIT"}, s.got(), "the initial response")
		} else {
			assert.Equal(t, []string{"CAPA", "AUTH (hidden)", "(AUTH response)", "QUIT"}, s.got(), "the response after the challenge")
		}
		c, err = dialSource(context.Background(), cleartextConfig(s.addr))
		require.NoError(t, err)
		err = c.login("alice", "wrong")
		var re *replyError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, "AUTH PLAIN", re.cmd)
		c.Close()
	}
}

// Without CAPA, USER and PASS are used, and STLS is tried.
func TestSourceNoCapa(t *testing.T) {
	s := newScriptServer(t, &scriptServer{user: "alice", pass: "pw", msgs: []scriptMessage{{"a", "x\r\n"}}})
	c, err := dialSource(context.Background(), cleartextConfig(s.addr))
	require.NoError(t, err)
	assert.Nil(t, c.capa)
	require.NoError(t, c.login("alice", "pw"))
	require.NoError(t, c.quit())
	assert.Equal(t, []string{"CAPA", "STLS", "USER alice", "PASS (hidden)", "QUIT"}, s.got())
}

// notLoopback makes a loopback connection look like one to 192.0.2.1.
type notLoopback struct{ net.Conn }

func (notLoopback) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 110} }

// A server that is not on loopback and offers no STLS gets no password
// without -insecure.
func TestSourceCleartextRefused(t *testing.T) {
	s := newScriptServer(t, &scriptServer{capa: []string{"USER", "UIDL"}, user: "alice", pass: "pw"})
	for _, insecure := range []bool{false, true} {
		raw, err := net.Dial("tcp", s.addr)
		require.NoError(t, err)
		cfg := cleartextConfig(s.addr)
		cfg.cleartext = insecure
		c, err := startSource(context.Background(), notLoopback{raw}, cfg)
		if !insecure {
			require.Error(t, err)
			assert.Contains(t, err.Error(), "offers no STLS: refusing to send passwords in cleartext (give -insecure")
			continue
		}
		require.NoError(t, err)
		require.NoError(t, c.login("alice", "pw"))
		require.NoError(t, c.quit())
	}
	assert.Equal(t, []string{"CAPA", "CAPA", "USER alice", "PASS (hidden)", "QUIT"}, s.got(),
		"the first session sends no USER or PASS; STLS is not tried when CAPA does not offer it")
}

// STLS when the server offers it, then the capabilities again; implicit
// TLS with pop3s; verification against the CA given.
func TestSourceTLS(t *testing.T) {
	certs := testcert.New(t)
	be := memory.New()
	require.NoError(t, be.AddUser("alice", "pw"))
	srv := pop3test.NewServer(t, be, pop3test.WithConfig(func(s *pop3.Server) { s.TLSConfig = certs.ServerTLS }))
	for _, tc := range []struct {
		name     string
		addr     string
		implicit bool
	}{{"STLS", srv.Addr, false}, {"pop3s", srv.TLSAddr, true}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := cleartextConfig(tc.addr)
			cfg.url.implicitTLS = tc.implicit
			cfg.tls = &tls.Config{RootCAs: certs.CAPool}
			c, err := dialSource(context.Background(), cfg)
			require.NoError(t, err)
			assert.True(t, c.tls)
			assert.NotContains(t, c.capa, "STLS", "the capabilities after TLS")
			require.NoError(t, c.login("alice", "pw"))
			require.NoError(t, c.quit())

			cfg.tls = &tls.Config{} // the system's roots: the test CA is not one
			_, err = dialSource(context.Background(), cfg)
			var unknown x509.UnknownAuthorityError
			assert.ErrorAs(t, err, &unknown)

			cfg.tls = &tls.Config{InsecureSkipVerify: true}
			c, err = dialSource(context.Background(), cfg)
			require.NoError(t, err)
			require.NoError(t, c.quit())
		})
	}
}

// A server that answers nothing is given up on after the timeout, and a
// context that ends closes the connection.
func TestSourceTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		var conns []net.Conn // silent until the test ends
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	cfg := cleartextConfig(l.Addr().String())
	cfg.timeout = 50 * time.Millisecond
	_, err = dialSource(context.Background(), cfg)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())

	cfg.timeout = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = dialSource(ctx, cfg)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
		text string
		err  bool
	}{
		{"+OK", true, "", false},
		{"+OK ready", true, "ready", false},
		{"+ok lower case", true, "lower case", false},
		{"-ERR [AUTH] no", false, "[AUTH] no", false},
		{"-ERR", false, "", false},
		{"-ERR bell\a", false, "bell?", false},
		{"+OKAY", false, "", true},
		{"+ ", false, "", true},
		{"", false, "", true},
		{"* OK IMAP", false, "", true},
	} {
		ok, text, err := parseStatus([]byte(tc.line))
		if tc.err {
			assert.ErrorIs(t, err, errProtocol, tc.line)
			continue
		}
		require.NoError(t, err, tc.line)
		assert.Equal(t, tc.ok, ok, tc.line)
		assert.Equal(t, tc.text, text, tc.line)
	}
}

func TestParseUIDLListing(t *testing.T) {
	lines := func(s ...string) [][]byte {
		var b [][]byte
		for _, l := range s {
			b = append(b, []byte(l))
		}
		return b
	}
	got, err := parseUIDLListing(lines("1 abc", "2  spaced ", "3 ", "5 has space", "7 "+strings.Repeat("x", 71)))
	require.NoError(t, err)
	assert.Equal(t, []uidlEntry{{1, "abc"}, {2, "spaced"}, {3, ""}, {5, "has space"}, {7, strings.Repeat("x", 71)}}, got,
		"unique-ids that break RFC 1939 are returned for the caller to report")
	for _, bad := range [][]string{{"x abc"}, {"0 abc"}, {"-1 abc"}, {"+1 abc"}, {"1 a", "1 b"}, {""}} {
		_, err := parseUIDLListing(lines(bad...))
		assert.ErrorIs(t, err, errProtocol, "%q", bad)
	}
	assert.True(t, pop3.ValidUID("!"))
	assert.True(t, pop3.ValidUID(strings.Repeat("~", 70)))
	for _, bad := range []string{"", strings.Repeat("x", 71), "a b", "a\x7f", "é"} {
		assert.False(t, pop3.ValidUID(bad), "%q", bad)
	}
}

// The message reader keeps every octet but the stuffing dots and the end
// line, whatever the buffer size, lines longer than it included.
func TestDotReader(t *testing.T) {
	for _, tc := range []struct{ wire, want string }{
		{".\r\n", ""},
		{"a\r\n.\r\n", "a\r\n"},
		{"..\r\n...\r\n..x\r\n.\r\n", ".\r\n..\r\n.x\r\n"},
		{"bare\nlf\n.\n", "bare\nlf\n"},
		{"cr\rinside\r\n.\r\n", "cr\rinside\r\n"},
		{"x.\r\n.y\r\n.\r\n", "x.\r\ny\r\n"},
		{"\r\n\r\n.\r\n", "\r\n\r\n"},
		{strings.Repeat("L", 100) + "\r\n.." + strings.Repeat("M", 100) + "\r\n.\r\n", strings.Repeat("L", 100) + "\r\n." + strings.Repeat("M", 100) + "\r\n"},
	} {
		for _, size := range []int{16, 17, 4096} {
			r := bufio.NewReaderSize(strings.NewReader(tc.wire+"+OK next"), size)
			done := false
			d := newDotReader(r, func() { done = true })
			got, err := io.ReadAll(iotestOneByte(d))
			require.NoError(t, err, "%q", tc.wire)
			assert.Equal(t, tc.want, string(got), "%q with a %d-octet buffer", tc.wire, size)
			assert.True(t, done && d.atEnd())
			rest, _ := io.ReadAll(r)
			assert.Equal(t, "+OK next", string(rest), "the reader stops at the end line")
		}
	}
	for _, cut := range []string{"", "abc", "abc\r\n", "abc\r\n.", "abc\r\n.\r"} {
		d := newDotReader(bufio.NewReaderSize(strings.NewReader(cut), 16), nil)
		_, err := io.ReadAll(d)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "%q", cut)
	}
}

// iotestOneByte reads r a byte at a time, as a store might.
func iotestOneByte(r io.Reader) io.Reader {
	return readerFunc(func(p []byte) (int, error) {
		if len(p) > 1 {
			p = p[:1]
		}
		return r.Read(p)
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestReadLineLimit(t *testing.T) {
	r := bufio.NewReaderSize(strings.NewReader(strings.Repeat("x", maxReplyLine+10)+"\r\n"), 16)
	_, err := readLine(r)
	assert.ErrorIs(t, err, errProtocol)
	line, err := readLine(bufio.NewReaderSize(strings.NewReader(strings.Repeat("y", 100)+"\r\n"), 16))
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("y", 100), string(line))
	_, err = readLine(bufio.NewReader(strings.NewReader("no end")))
	assert.True(t, errors.Is(err, io.EOF))
}
