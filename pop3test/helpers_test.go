package pop3test_test

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cannedServer accepts one connection on loopback, sends it replies at
// once and shuts its side down, and records what the client sends until it closes. received
// returns that, once the client has closed the connection.
func cannedServer(t *testing.T, replies string) (addr string, received func() string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	var (
		mu  sync.Mutex
		got strings.Builder
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = io.WriteString(conn, replies)
		_ = conn.(*net.TCPConn).CloseWrite() // then the client reads EOF
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			mu.Lock()
			got.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return l.Addr().String(), func() string {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the client did not close the connection")
		}
		mu.Lock()
		defer mu.Unlock()
		return got.String()
	}
}

// recordingTB is a testing.TB that records failures instead of failing the
// test, so that a test can check how pop3test reports a broken server.
// Methods it does not override go to the real test.
type recordingTB struct {
	testing.TB
	mu       sync.Mutex
	failures []string
	logged   strings.Builder
}

func (r *recordingTB) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(&r.logged, format+"\n", args...)
}

// logs returns what was logged through Logf.
func (r *recordingTB) logs() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logged.String()
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recordingTB) Fatal(args ...any) {
	r.Errorf("%s", fmt.Sprint(args...))
	runtime.Goexit()
}

func (r *recordingTB) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.failures) > 0
}

// failures runs fn as a test body with a recordingTB and returns the
// failures it reported; a Fatal ends fn as it would end a test.
func failures(t *testing.T, fn func(tb testing.TB)) []string {
	t.Helper()
	tb := &recordingTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(tb)
	}()
	<-done
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.failures
}
