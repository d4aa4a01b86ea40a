package pop3_test

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
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
	l := newPipeListener()
	serveOn(b, srv, l)

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
