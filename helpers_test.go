package pop3_test

import (
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
	"github.com/gopop3/pop3/pop3test"
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

// transcript dials addr and plays script on the new connection (see
// pop3test.Client.Transcript), which begins with the greeting.
func transcript(t testing.TB, addr, script string) *pop3test.Client {
	t.Helper()
	c := pop3test.Dial(t, addr)
	c.Transcript(script)
	return c
}

// eventually is require.Eventually for a condition that uses a
// pop3test.Client: it checks cond in the test's goroutine, where a Client
// may fail the test, not in a goroutine of its own.
func eventually(t testing.TB, cond func() bool, waitFor, tick time.Duration) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			require.FailNow(t, "Condition never satisfied")
		}
		time.Sleep(tick)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// hasAnyPrefix reports whether s starts with one of prefixes.
func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// capaScript is the transcript of a CAPA answered by a memory server over
// loopback, with policy (the LOGIN-DELAY and EXPIRE lines) in its place.
func capaScript(policy ...string) string {
	lines := []string{"+OK capability list follows", "TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING",
		"AUTH-RESP-CODE", "SASL PLAIN LOGIN"}
	lines = append(lines, policy...)
	lines = append(lines, "UTF8 USER", "LANG", ".")
	return "C: CAPA\nS: " + strings.Join(lines, "\nS: ") + "\n"
}
