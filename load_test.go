package pop3_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

// loadMessages are what every user of the load test holds: a small one, one
// with dot lines, and a 64 KiB one.
var loadMessages = []string{
	"Subject: small\r\n\r\nhi\r\n",
	"Subject: dots\r\n\r\n.\r\n..\r\n.x\r\n",
	"Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("b", 62)+"\r\n", 1024),
}

// TestLoad runs 200 concurrent clients on loopback, each running several
// whole sessions (login, STAT, UIDL, every RETR checked byte for byte,
// QUIT), then checks that every goroutine is gone.
func TestLoad(t *testing.T) {
	clients, sessions := 200, 5
	if testing.Short() {
		clients, sessions = 50, 2
	}
	baseline := runtime.NumGoroutine()
	b := memory.New()
	for i := range clients {
		user := fmt.Sprintf("user%d", i)
		require.NoError(t, b.AddUser(user, "pw"))
		for _, m := range loadMessages {
			_, err := b.AppendMessage(user, []byte(m))
			require.NoError(t, err)
		}
	}
	srv := pop3.NewServer(b)
	srv.MaxConnectionsPerIP = -1 // every client is 127.0.0.1
	addr, served := serveUnmanaged(t, srv)

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range sessions {
				if err := loadSession(addr, fmt.Sprintf("user%d", i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d sessions in %v", clients*sessions, time.Since(start))

	require.NoError(t, srv.Close())
	assert.ErrorIs(t, <-served, pop3.ErrServerClosed)
	goroutinesSettle(t, baseline)
}

// loadSession runs one session and checks every reply.
func loadSession(addr, user string) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	readLine := func() (string, error) {
		l, err := r.ReadString('\n')
		return strings.TrimSuffix(l, "\r\n"), err
	}
	expect := func(prefix string) error {
		l, err := readLine()
		if err != nil {
			return err
		}
		if !strings.HasPrefix(l, prefix) {
			return fmt.Errorf("%s: want %q..., got %q", user, prefix, l)
		}
		return nil
	}
	readBody := func() (string, error) {
		var sb strings.Builder
		for {
			l, err := readLine()
			if err != nil {
				return "", err
			}
			if l == "." {
				return sb.String(), nil
			}
			sb.WriteString(strings.TrimPrefix(l, ".") + "\r\n")
		}
	}
	if err := expect("+OK"); err != nil {
		return err
	}
	// Pipelined, as mpop does.
	var cmds strings.Builder
	cmds.WriteString("USER " + user + "\r\nPASS pw\r\nSTAT\r\nUIDL\r\n")
	for i := range loadMessages {
		fmt.Fprintf(&cmds, "RETR %d\r\n", i+1)
	}
	cmds.WriteString("QUIT\r\n")
	if _, err := io.WriteString(conn, cmds.String()); err != nil {
		return err
	}
	for _, p := range []string{"+OK send PASS", "+OK maildrop has 3 messages", "+OK 3 ", "+OK"} {
		if err := expect(p); err != nil {
			return err
		}
	}
	if _, err := readBody(); err != nil {
		return err
	}
	for i, m := range loadMessages {
		if err := expect(fmt.Sprintf("+OK %d octets", len(m))); err != nil {
			return err
		}
		body, err := readBody()
		if err != nil {
			return err
		}
		if body != m {
			return fmt.Errorf("%s: message %d differs", user, i+1)
		}
	}
	return expect("+OK bye, 3 messages left")
}

// BenchmarkIdleConnections holds 2,000 connections that are logged in and
// idle, and reports the heap and stack they hold, per connection. Both
// ends live in this process, so the figure includes the client's socket.
func BenchmarkIdleConnections(b *testing.B) {
	var perConn float64
	for range b.N {
		perConn = idleConnectionMemory(b, 2000)
	}
	b.ReportMetric(perConn, "B/conn")
}

// An idle, logged-in connection costs at most 12 KiB of heap and stack,
// both ends of the socket included.
func TestIdleConnectionMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory makes the figure meaningless; .ci/run runs this test without it")
	}
	perConn := idleConnectionMemory(t, 1000)
	t.Logf("%.0f bytes per idle connection", perConn)
	assert.LessOrEqual(t, perConn, float64(12<<10))
}

// idleConnectionMemory logs conns users in, leaves them idle and returns
// the heap and stack in use per connection.
func idleConnectionMemory(tb testing.TB, conns int) float64 {
	be := memory.New()
	for i := range conns {
		if err := be.AddUser(fmt.Sprintf("u%d", i), "pw"); err != nil {
			tb.Fatal(err)
		}
		if _, err := be.AppendMessage(fmt.Sprintf("u%d", i), []byte(loadMessages[0])); err != nil {
			tb.Fatal(err)
		}
	}
	srv := pop3.NewServer(be)
	srv.MaxConnectionsPerIP = -1
	addr := pop3test.Start(tb, srv).Addr
	before := memInUse()
	held := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			tb.Fatal(err)
		}
		held = append(held, c)
		fmt.Fprintf(c, "USER u%d\r\nPASS pw\r\n", i)
		r := bufio.NewReaderSize(c, 16)
		for range 3 {
			if _, err := r.ReadString('\n'); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return float64(memInUse()-before) / float64(conns)
}

func memInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}

// BenchmarkRetrLarge retrieves one 20 MB message over loopback TCP, read
// and un-stuffed by the client, to compare with other servers' figures.
func BenchmarkRetrLarge(b *testing.B) {
	big := strings.Repeat(strings.Repeat("r", 76)+"\r\n.dot line\r\n", 20<<20/90)
	fb := &fakeBackend{msgs: []string{big}}
	addr := pop3test.NewServer(b, fb).Addr
	c := pop3test.Dial(b, addr)
	c.Login("alice", "secret")
	b.SetBytes(int64(len(big)))
	b.ResetTimer()
	for range b.N {
		c.Send("RETR 1")
		if r := c.ReadReply(); !r.OK {
			b.Fatal(r.Line)
		}
		c.CopyBody(io.Discard)
	}
}
