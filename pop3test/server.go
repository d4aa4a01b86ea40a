package pop3test

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/syncbuf"
	"github.com/gopop3/pop3/internal/testcert"
	"github.com/gopop3/pop3/internal/testhooks"
)

// Server is a real [pop3.Server] serving a backend on loopback for a test,
// as httptest.Server is for net/http. NewServer starts it; it is closed
// when the test ends.
type Server struct {
	// Addr is the host:port of the cleartext listener. With [WithTLS] it
	// offers STLS (RFC 2595).
	Addr string
	// TLSAddr is the host:port of the implicit-TLS listener (RFC 8314),
	// or "" without WithTLS.
	TLSAddr string
	// Config is the server. Read it; change it only through [WithConfig],
	// before it serves.
	Config *pop3.Server

	tb        testing.TB
	clientTLS *tls.Config
	logs      *syncbuf.Buffer
	closeOnce sync.Once
	served    chan error
	listeners int
}

// Option configures a Server made by NewServer.
type Option func(*serverOptions)

type serverOptions struct {
	tls       bool
	configure []func(*pop3.Server)
	timestamp string
}

// WithTLS makes the server present a certificate for "localhost" and
// 127.0.0.1, generated for the test, both through STLS on Addr and with
// implicit TLS on TLSAddr. [Server.ClientTLSConfig] trusts it.
func WithTLS() Option {
	return func(o *serverOptions) { o.tls = true }
}

// WithConfig calls configure with the server before it serves, to set its
// fields: limits, timeouts, Logger, Debug. It may be given more than once.
func WithConfig(configure func(srv *pop3.Server)) Option {
	return func(o *serverOptions) { o.configure = append(o.configure, configure) }
}

// WithAPOPTimestamp makes the greeting of every connection carry the same
// APOP timestamp (RFC 1939 §7), such as "<1896.697170952@dbc.mtview.ca.us>",
// instead of a unique one, so that a golden transcript of an APOP login
// needs no masking. It only matters for a backend that implements
// [pop3.APOPBackend]. A real server never repeats a timestamp: a repeated
// one lets a recorded APOP login be replayed, which is why only this
// package can set it.
func WithAPOPTimestamp(timestamp string) Option {
	return func(o *serverOptions) { o.timestamp = timestamp }
}

// NewServer starts a pop3.Server for backend on 127.0.0.1 and closes it
// when the test ends, failing the test if it does not stop cleanly.
//
// Unless an option sets them, the server has these test-friendly
// settings: Domain "localhost"; no delay after a failed login and no
// per-address penalty (every test client comes from 127.0.0.1); and a
// Logger that keeps the log in memory, written to the test's output if the
// test fails and available from [Server.Logs].
func NewServer(tb testing.TB, backend pop3.Backend, opts ...Option) *Server {
	tb.Helper()
	var o serverOptions
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{
		Config: pop3.NewServer(backend),
		tb:     tb,
		logs:   &syncbuf.Buffer{},
	}
	srv := s.Config
	srv.Domain = "localhost"
	srv.AuthFailureDelay = -1
	srv.MaxAuthPenalty = -1
	srv.Logger = slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.tls {
		certs, err := testcert.Generate()
		if err != nil {
			tb.Fatalf("pop3test: generating a test certificate: %v", err)
		}
		srv.TLSConfig, s.clientTLS = certs.ServerTLS, certs.ClientTLS
	}
	if o.timestamp != "" {
		if !validTimestamp(o.timestamp) {
			tb.Fatalf("pop3test: APOP timestamp %q is not a msg-id in angle brackets (RFC 1939 §7)", o.timestamp)
		}
		testhooks.SetAPOPTimestamp(srv, func() string { return o.timestamp })
	}
	for _, configure := range o.configure {
		configure(srv)
	}

	s.served = make(chan error, 2)
	tb.Cleanup(func() {
		s.Close()
		if tb.Failed() {
			tb.Logf("pop3test: server log:\n%s", s.logs)
		}
	})
	s.Addr = s.serve(srv.Serve)
	if o.tls {
		s.TLSAddr = s.serve(srv.ServeTLS)
	}
	return s
}

// serve starts serve on a new loopback listener and returns its address.
func (s *Server) serve(serve func(net.Listener) error) string {
	s.tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.tb.Fatalf("pop3test: listening on loopback: %v", err)
	}
	s.listeners++
	go func() { s.served <- serve(l) }()
	return l.Addr().String()
}

// Close closes the listeners and every connection, waits for the sessions
// to end, and fails the test if the server did not stop as
// [pop3.Server.Close] promises. It is called when the test ends; calling
// it earlier tests what clients see when the server goes away.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		if err := s.Config.Close(); err != nil {
			s.tb.Errorf("pop3test: closing the server: %v", err)
		}
		for range s.listeners {
			select {
			case err := <-s.served:
				if !errors.Is(err, pop3.ErrServerClosed) {
					s.tb.Errorf("pop3test: Serve returned %v, want pop3.ErrServerClosed", err)
				}
			case <-time.After(DefaultTimeout):
				s.tb.Errorf("pop3test: Serve did not return within %v of Close", DefaultTimeout)
			}
		}
	})
}

// Dial connects a client to Addr.
func (s *Server) Dial() *Client {
	s.tb.Helper()
	return Dial(s.tb, s.Addr)
}

// DialTLS connects a client to TLSAddr with implicit TLS; the server must
// have been started WithTLS.
func (s *Server) DialTLS() *Client {
	s.tb.Helper()
	if s.TLSAddr == "" {
		s.tb.Fatalf("pop3test: DialTLS on a server started without WithTLS")
	}
	return DialTLS(s.tb, s.TLSAddr, s.ClientTLSConfig())
}

// ClientTLSConfig returns a client configuration that trusts the server's
// certificate, for StartTLS or DialTLS; nil without WithTLS.
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.clientTLS == nil {
		return nil
	}
	return s.clientTLS.Clone()
}

// Logs returns what the server has logged so far, as slog text records.
func (s *Server) Logs() string { return s.logs.String() }

// validTimestamp reports whether ts looks like RFC 1939's timestamp: a
// msg-id in angle brackets, printable ASCII without spaces.
func validTimestamp(ts string) bool {
	if len(ts) < 3 || len(ts) > 200 || ts[0] != '<' || ts[len(ts)-1] != '>' {
		return false
	}
	inner := ts[1 : len(ts)-1]
	return !strings.ContainsAny(inner, "<>") && strings.IndexFunc(inner, func(r rune) bool { return r <= ' ' || r >= 0x7f }) < 0
}
