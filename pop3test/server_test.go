package pop3test_test

import (
	"crypto/tls"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/syncbuf"
	"github.com/gopop3/pop3/internal/testcert"
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
		}, "DialTLS on a server without TLS"},
		{"DialTLS with the caller's certificate", func(tb testing.TB) {
			certs := testcert.New(t)
			pop3test.NewServer(tb, newMemory(t), pop3test.WithConfig(func(s *pop3.Server) { s.TLSConfig = certs.ServerTLS })).DialTLS()
		}, "call pop3test.DialTLS"},
		{"Start of nil", func(tb testing.TB) {
			pop3test.Start(tb, nil)
		}, "Start of a nil *pop3.Server"},
		{"Start without a backend", func(tb testing.TB) {
			pop3test.Start(tb, &pop3.Server{})
		}, "without a Backend"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := failures(t, tt.do)
			require.Len(t, got, 1)
			assert.Contains(t, got[0], tt.want)
		})
	}
}

// TestStart serves a server configured by the caller, and changes none of
// its settings.
func TestStart(t *testing.T) {
	var own syncbuf.Buffer
	ready := pop3.NewServer(newMemory(t))
	ready.Greeting = "Example POP3 ready"
	ready.Implementation = "example"
	ready.Logger = slog.New(slog.NewTextHandler(&own, nil))
	logger := ready.Logger

	t.Run("serving", func(t *testing.T) {
		srv := pop3test.Start(t, ready)
		require.Same(t, ready, srv.Config)
		assert.Empty(t, srv.TLSAddr)
		assert.Empty(t, ready.Domain, "Domain is left alone")
		assert.Zero(t, ready.AuthFailureDelay, "the delays are left alone")
		assert.Zero(t, ready.MaxAuthPenalty)
		assert.Empty(t, ready.Addr, "Addr is left alone, and not listened on")

		c := srv.Dial()
		assert.True(t, strings.HasPrefix(c.Greeting(), "+OK Example POP3 ready"), c.Greeting())
		c.Login("alice", "alice-pw")
		assert.Contains(t, c.Capa(), "IMPLEMENTATION example")
		c.Quit()

		require.Eventually(t, func() bool { return strings.Contains(own.String(), "session ended") },
			5*time.Second, 10*time.Millisecond, "the server's own Logger gets the log: %s", own.String())
		assert.Contains(t, srv.Logs(), "session ended", "and the test server keeps it too")
		assert.NotSame(t, logger, ready.Logger, "through a logger that writes to both")
	})

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	assert.ErrorIs(t, ready.Serve(l), pop3.ErrServerClosed, "the server is closed when the test ends")
}

// TestServerTLSOptions checks every way of giving a test server TLS: no
// TLS, the certificate of WithTLS, the caller's own TLSConfig (by
// WithConfig, or on the server given to Start), and WithTLS together with
// the caller's, which fails the test.
func TestServerTLSOptions(t *testing.T) {
	own := testcert.New(t)
	ownTLS := pop3test.WithConfig(func(s *pop3.Server) { s.TLSConfig = own.ServerTLS })
	tls13 := pop3test.WithConfig(func(s *pop3.Server) { s.TLSConfig.MinVersion = tls.VersionTLS13 })
	newServer := func(opts ...pop3test.Option) func(tb testing.TB) *pop3test.Server {
		return func(tb testing.TB) *pop3test.Server { return pop3test.NewServer(tb, newMemory(t), opts...) }
	}
	start := func(withTLS bool, opts ...pop3test.Option) func(tb testing.TB) *pop3test.Server {
		return func(tb testing.TB) *pop3test.Server {
			srv := pop3.NewServer(newMemory(t))
			if withTLS {
				srv.TLSConfig = own.ServerTLS
			}
			return pop3test.Start(tb, srv, opts...)
		}
	}
	const (
		none      = "no TLS"
		generated = "WithTLS's certificate"
		caller    = "the caller's certificate"
	)
	tests := []struct {
		name  string
		serve func(tb testing.TB) *pop3test.Server
		want  string // none, generated, caller, or what the failure says
	}{
		{"NewServer", newServer(), none},
		{"NewServer WithTLS", newServer(pop3test.WithTLS()), generated},
		{"NewServer WithConfig's TLSConfig", newServer(ownTLS), caller},
		{"NewServer WithTLS, WithConfig changing its TLSConfig", newServer(pop3test.WithTLS(), tls13), generated},
		{"NewServer WithTLS and WithConfig's TLSConfig", newServer(pop3test.WithTLS(), ownTLS), "WithTLS, and a TLSConfig set by WithConfig"},
		{"NewServer WithConfig's TLSConfig and WithTLS", newServer(ownTLS, pop3test.WithTLS()), "WithTLS, and a TLSConfig set by WithConfig"},
		{"Start", start(false), none},
		{"Start WithTLS", start(false, pop3test.WithTLS()), generated},
		{"Start of a server with a TLSConfig", start(true), caller},
		{"Start WithConfig's TLSConfig", start(false, ownTLS), caller},
		{"Start of a server with a TLSConfig, WithTLS", start(true, pop3test.WithTLS()), "WithTLS, and a TLSConfig on the server given to Start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			switch tt.want {
			case none:
				srv := tt.serve(t)
				assert.Empty(t, srv.TLSAddr)
				assert.Nil(t, srv.ClientTLSConfig())
				assert.NotContains(t, srv.Dial().Capa(), "STLS")
			case generated:
				srv := tt.serve(t)
				require.NotNil(t, srv.ClientTLSConfig())
				c := srv.Dial()
				c.StartTLS(srv.ClientTLSConfig())
				c.Login("alice", "alice-pw")
				srv.DialTLS().Login("bob", "bob-pw")
			case caller:
				srv := tt.serve(t)
				assert.Same(t, own.ServerTLS, srv.Config.TLSConfig, "kept")
				assert.Nil(t, srv.ClientTLSConfig(), "only the caller knows what trusts its certificate")
				c := srv.Dial()
				c.StartTLS(own.ClientTLS)
				c.Login("alice", "alice-pw")
				require.NotEmpty(t, srv.TLSAddr)
				pop3test.DialTLS(t, srv.TLSAddr, own.ClientTLS).Login("bob", "bob-pw")
			default:
				got := failures(t, func(tb testing.TB) { tt.serve(tb) })
				require.Len(t, got, 1)
				assert.Contains(t, got[0], tt.want)
			}
		})
	}
}

// acceptCounter counts the connections it accepts, as a stand-in for a
// listener an application wraps around its own.
type acceptCounter struct {
	net.Listener
	accepted atomic.Int32
}

func (l *acceptCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// TestServerWithListener serves on listeners of the test's: a unix
// socket, which Dial reaches, and one that wraps loopback, as an
// application's PROXY protocol listener does.
func TestServerWithListener(t *testing.T) {
	var unix net.Listener
	t.Run("unix socket", func(t *testing.T) {
		var err error
		unix, err = net.Listen("unix", filepath.Join(t.TempDir(), "pop3.sock"))
		require.NoError(t, err)
		srv := pop3test.NewServer(t, newMemory(t), pop3test.WithListener(unix))
		assert.Equal(t, unix.Addr().String(), srv.Addr)
		c := srv.Dial()
		c.Login("alice", "alice-pw")
		c.Quit()
	})
	_, err := unix.Accept()
	assert.ErrorIs(t, err, net.ErrClosed, "the server closes the listener")

	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	wrapped := &acceptCounter{Listener: tcp}
	srv := pop3test.NewServer(t, newMemory(t), pop3test.WithListener(wrapped), pop3test.WithTLS())
	assert.Equal(t, tcp.Addr().String(), srv.Addr)
	srv.Dial().Login("bob", "bob-pw")
	assert.Equal(t, int32(1), wrapped.accepted.Load())
	srv.DialTLS().Login("alice", "alice-pw")
	assert.Equal(t, int32(1), wrapped.accepted.Load(), "implicit TLS has a listener of its own")
}
