package pop3_test

import (
	"bufio"
	"io"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

// pipeListener hands out the server ends of net.Pipe connections.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	select {
	case <-l.closed:
	default:
		close(l.closed)
	}
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial() net.Conn {
	client, server := net.Pipe()
	l.conns <- server
	return client
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// BenchmarkSession runs whole sessions over net.Pipe: login, STAT, UIDL,
// LIST, 10 RETR of 4 KiB messages, QUIT.
func BenchmarkSession(b *testing.B) {
	be := memory.New()
	if err := be.AddUser("alice", "secret"); err != nil {
		b.Fatal(err)
	}
	msg := "Subject: bench\r\n\r\n" + strings.Repeat(strings.Repeat("y", 62)+"\r\n", 64)
	for range 10 {
		if _, err := be.AppendMessage("alice", []byte(msg)); err != nil {
			b.Fatal(err)
		}
	}
	srv := pop3.NewServer(be)
	srv.AllowInsecureAuth = true // net.Pipe is not loopback TCP
	// Every pipe client is the one address "pipe", and a session may still
	// be ending when the next one starts: the per-address limit is not
	// what this measures.
	srv.MaxConnectionsPerIP = -1
	l := newPipeListener()
	pop3test.Start(b, srv, pop3test.WithListener(l))

	script := "USER alice\r\nPASS secret\r\nSTAT\r\nUIDL\r\nLIST\r\n"
	for i := 1; i <= 10; i++ {
		script += "RETR " + string(rune('0'+i%10)) + "\r\n"
	}
	script = strings.Replace(script, "RETR 0", "RETR 10", 1) + "QUIT\r\n"

	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		conn := l.dial()
		go func() {
			_, _ = io.WriteString(conn, script)
		}()
		r := bufio.NewReader(conn)
		n, err := io.Copy(io.Discard, r)
		if err != nil || n < 10*int64(len(msg)) {
			b.Fatalf("session read %d bytes: %v", n, err)
		}
		conn.Close()
	}
}

// rawClient is a client that allocates nothing per command, so that a
// benchmark's allocs/op are the server's.
type rawClient struct {
	b    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(b testing.TB, addr string) *rawClient {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	c := &rawClient{b: b, conn: conn, r: bufio.NewReaderSize(conn, 4096)}
	c.line() // greeting
	return c
}

// line reads one line and fails unless it is a positive status.
func (c *rawClient) line() []byte {
	l, err := c.r.ReadSlice('\n')
	if err != nil {
		c.b.Fatal(err)
	}
	return l
}

// do sends cmd, a whole command line, and reads the reply: its status
// line, and with multi the lines up to the terminator. It returns the
// octets read.
func (c *rawClient) do(cmd []byte, multi bool) int {
	if _, err := c.conn.Write(cmd); err != nil {
		c.b.Fatal(err)
	}
	l := c.line()
	if l[0] != '+' {
		c.b.Fatalf("%q: %q", cmd, l)
	}
	n := len(l)
	for multi {
		l = c.line()
		n += len(l)
		multi = len(l) != 3 || l[0] != '.'
	}
	return n
}

// BenchmarkCommand runs one command at a time over loopback TCP in a
// session with 100 messages of 4 KiB on the memory backend. allocs/op is
// what the server allocates per command (the client allocates nothing).
func BenchmarkCommand(b *testing.B) {
	msg := "Subject: bench\r\n\r\n" + strings.Repeat(strings.Repeat("y", 62)+"\r\n.dot line\r\n", 55)
	addr := pop3test.NewServer(b, aliceBackend(b, slices.Repeat([]string{msg}, 100)...)).Addr
	for _, bc := range []struct {
		name  string
		cmds  []string
		multi []bool
	}{
		{"STAT", []string{"STAT"}, []bool{false}},
		{"LIST_n", []string{"LIST 42"}, []bool{false}},
		{"LIST", []string{"LIST"}, []bool{true}},
		{"UIDL_n", []string{"UIDL 42"}, []bool{false}},
		{"UIDL", []string{"UIDL"}, []bool{true}},
		{"NOOP", []string{"NOOP"}, []bool{false}},
		{"DELE+RSET", []string{"DELE 42", "RSET"}, []bool{false, false}},
		{"RETR_4KiB", []string{"RETR 42"}, []bool{true}},
		{"TOP", []string{"TOP 42 10"}, []bool{true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := dialRaw(b, addr)
			c.do([]byte("USER alice\r\n"), false)
			c.do([]byte("PASS secret\r\n"), false)
			cmds := make([][]byte, len(bc.cmds))
			for i, s := range bc.cmds {
				cmds[i] = []byte(s + "\r\n")
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for i, cmd := range cmds {
					c.do(cmd, bc.multi[i])
				}
			}
			b.StopTimer()
			c.do([]byte("QUIT\r\n"), false)
		})
	}
}

// BenchmarkConnect opens a connection, reads the greeting and quits: the
// cost of accepting a client, up to the greeting, and of ending the
// session, over loopback TCP.
func BenchmarkConnect(b *testing.B) {
	addr := pop3test.NewServer(b, memory.New()).Addr
	quit := []byte("QUIT\r\n")
	b.ReportAllocs()
	for range b.N {
		c := dialRaw(b, addr)
		c.do(quit, false)
		c.conn.Close()
	}
}

// BenchmarkLogin is BenchmarkConnect with USER, PASS and STAT before QUIT,
// on the memory backend.
func BenchmarkLogin(b *testing.B) {
	addr := pop3test.NewServer(b, aliceBackend(b)).Addr
	cmds := [][]byte{[]byte("USER alice\r\n"), []byte("PASS secret\r\n"), []byte("STAT\r\n"), []byte("QUIT\r\n")}
	b.ReportAllocs()
	for range b.N {
		c := dialRaw(b, addr)
		for _, cmd := range cmds {
			c.do(cmd, false)
		}
		c.conn.Close()
	}
}
