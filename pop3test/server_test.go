package pop3test_test

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

// TestGoldenTranscript shows a whole session that needs no masking: a
// fixed APOP timestamp and deterministic unique-ids.
func TestGoldenTranscript(t *testing.T) {
	b := memory.New(memory.DeterministicUIDs())
	require.NoError(t, b.AddUser("mrose", "tanstaaf"))
	for _, m := range []string{"Subject: one\n\nHello.\n", "Subject: two\n\n.dot\n"} {
		_, err := b.AppendMessage("mrose", []byte(m))
		require.NoError(t, err)
	}
	srv := pop3test.NewServer(t, b, pop3test.WithAPOPTimestamp("<1896.697170952@dbc.mtview.ca.us>"))
	srv.Dial().Transcript(`
		S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
		C: APOP mrose c4c9334bac560ecc979e58001b3e22fb
		S: +OK maildrop has 2 messages (46 octets)
		C: UIDL
		S: +OK unique-id listing follows
		S: 1 uid-1
		S: 2 uid-2
		S: .
		C: RETR 2
		S: +OK 22 octets
		S: Subject: two
		S: 
		S: ..dot
		S: .
		C: QUIT
		S: +OK bye, 2 messages left
		S: <closed>
	`)
}

func TestServerTLS(t *testing.T) {
	srv := pop3test.NewServer(t, newMemory(t), pop3test.WithTLS())
	require.NotEmpty(t, srv.TLSAddr)

	c := srv.Dial()
	assert.Contains(t, c.Capa(), "STLS")
	c.StartTLS(srv.ClientTLSConfig())
	assert.NotContains(t, c.Capa(), "STLS", "no STLS once in TLS")
	c.Login("alice", "alice-pw")
	c.Quit()

	d := srv.DialTLS()
	require.IsType(t, &tls.Conn{}, d.Conn())
	assert.Equal(t, uint16(tls.VersionTLS13), d.Conn().(*tls.Conn).ConnectionState().Version)
	d.Login("bob", "bob-pw")
	d.Quit()

	assert.Nil(t, pop3test.NewServer(t, newMemory(t)).ClientTLSConfig(), "no TLS without WithTLS")
}

func TestServerDefaultsAndConfig(t *testing.T) {
	srv := pop3test.NewServer(t, newMemory(t))
	assert.Equal(t, "localhost", srv.Config.Domain)
	assert.Negative(t, srv.Config.AuthFailureDelay, "no delay after a failed login")
	assert.Negative(t, srv.Config.MaxAuthPenalty, "no per-address penalty on loopback")
	assert.Empty(t, srv.TLSAddr)

	srv = pop3test.NewServer(t, newMemory(t),
		pop3test.WithConfig(func(s *pop3.Server) { s.Implementation = "test-impl" }),
		pop3test.WithConfig(func(s *pop3.Server) { s.AuthFailureDelay = time.Second }))
	c := srv.Dial()
	c.Login("alice", "alice-pw")
	assert.Contains(t, c.Capa(), "IMPLEMENTATION test-impl")
	assert.Equal(t, time.Second, srv.Config.AuthFailureDelay, "options override the defaults")
}

func TestServerLogs(t *testing.T) {
	srv := pop3test.NewServer(t, newMemory(t))
	c := srv.Dial()
	c.Login("alice", "alice-pw")
	c.Quit()
	require.Eventually(t, func() bool { return strings.Contains(srv.Logs(), "session ended") },
		5*time.Second, 10*time.Millisecond, "logs: %s", srv.Logs())
	assert.Contains(t, srv.Logs(), "user=alice")
	assert.NotContains(t, srv.Logs(), "alice-pw")

	// A failing test gets the server's log in its output.
	var inner *recordingTB
	t.Run("failing", func(t *testing.T) {
		got := failures(t, func(tb testing.TB) {
			inner = tb.(*recordingTB)
			srv := pop3test.NewServer(tb, newMemory(t))
			srv.Dial().Login("alice", "wrong")
		})
		require.Len(t, got, 1)
	})
	require.NotNil(t, inner)
	assert.Contains(t, inner.logs(), "pop3test: server log:\n")
	assert.Contains(t, inner.logs(), "authentication failed")
}

func TestServerClose(t *testing.T) {
	srv := pop3test.NewServer(t, newMemory(t))
	c := srv.Dial()
	c.Login("alice", "alice-pw")
	srv.Close()
	c.ExpectClosed()
	srv.Close() // again, and at the end of the test: no-ops
}

func TestServerMisuse(t *testing.T) {
	tests := []struct {
		name string
		do   func(tb testing.TB)
		want string
	}{
		{"a timestamp that is not one", func(tb testing.TB) {
			pop3test.NewServer(tb, newMemory(t), pop3test.WithAPOPTimestamp("1896.697170952"))
		}, "not a msg-id in angle brackets"},
		{"DialTLS without TLS", func(tb testing.TB) {
			pop3test.NewServer(tb, newMemory(t)).DialTLS()
		}, "without WithTLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := failures(t, tt.do)
			require.Len(t, got, 1)
			assert.Contains(t, got[0], tt.want)
		})
	}
}
