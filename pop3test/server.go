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
// as httptest.Server is for net/http. [NewServer] and [Start] start it; it
// is closed when the test ends.
type Server struct {
	// Addr is the host:port of the cleartext listener, or the address of
	// the listener given by [WithListener]. When the server has TLS it
	// offers STLS there (RFC 2595).
	Addr string
	// TLSAddr is the host:port of the implicit-TLS listener (RFC 8314),
	// opened when the server has TLS: [WithTLS], or a TLSConfig of the
	// caller's. It is "" without TLS.
	TLSAddr string
	// Config is the server, serving. Read it; set its fields through
	// [WithConfig], or on the server before it is given to [Start].
	Config *pop3.Server

	tb        testing.TB
	clientTLS *tls.Config
	log       *serverLog
	closeOnce sync.Once
	served    chan error
	listeners int
	network   string // Addr's, for Dial
}

// Option configures a Server made by [NewServer] or [Start].
type Option func(*serverOptions)

type serverOptions struct {
	tls       bool
	listener  net.Listener
	configure []func(*pop3.Server)
	timestamp string

	// What the contract kit watches (see serve in contract_guard.go).
	failOnPanic  bool                // a panic a session recovered fails the test
	allowedPanic any                 // except one of this value
	onQuit       func(time.Duration) // called with the time each QUIT took
}

// WithTLS gives the server TLS with a certificate for "localhost" and
// 127.0.0.1 generated for the test: STLS (RFC 2595) on Addr and implicit
// TLS (RFC 8314) on TLSAddr. [Server.ClientTLSConfig] trusts it.
//
// WithTLS is for a server whose certificate does not matter to the test.
// A server that has a TLSConfig of the caller's, set by [WithConfig] or
// on the server given to [Start], serves TLS with that one and needs no
// WithTLS; given both, one certificate would replace the other, so
// NewServer and Start fail the test instead, naming both. [WithConfig]
// may still change fields of the TLSConfig that WithTLS made, such as
// MinVersion, in place.
func WithTLS() Option {
	return func(o *serverOptions) { o.tls = true }
}

// WithConfig calls configure with the server before it serves, to set its
// fields: limits, timeouts, Hooks, Logger, Debug. It may be given more
// than once; the calls are made in order, after [NewServer]'s defaults
// and after [WithTLS], so that they override the first and see the
// second.
//
// A TLSConfig that configure sets gives the server TLS with it, as
// [WithTLS] does with a generated certificate; the two cannot be
// combined (see WithTLS). A Logger that configure sets receives the
// server's records, which the test server keeps too (see [NewServer]).
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

// WithListener makes the server serve Addr on l instead of on a loopback
// listener of its own: a unix socket, or a listener that wraps a loopback
// one as an application's does (one that reads a proxy's PROXY protocol
// header, or tls.NewListener), to test the server as it is deployed. Addr
// is then l's address, which [Server.Dial] dials on l's network; over a
// listener that speaks TLS, dial with the package's [DialTLS] instead. The
// server closes l when it is closed. A server with TLS serves implicit TLS
// on a loopback listener of its own all the same (see TLSAddr).
func WithListener(l net.Listener) Option {
	return func(o *serverOptions) { o.listener = l }
}

// NewServer starts a [pop3.Server] for backend on 127.0.0.1 and closes it
// when the test ends, failing the test if it does not stop cleanly.
//
// The server has settings made for tests, which options may override:
// Domain "localhost"; no delay after a failed login and no per-address
// penalty, since every test client comes from 127.0.0.1 (AuthFailureDelay
// and MaxAuthPenalty negative); every other field at pop3's default. Its
// log is kept in memory, written to the test's output if the test fails
// and available from [Server.Logs]; a Logger set by [WithConfig] receives
// it too, Config.Logger being then a logger that writes to both.
//
// To test a server that is configured already, such as the one an
// application builds from its configuration, use [Start].
func NewServer(tb testing.TB, backend pop3.Backend, opts ...Option) *Server {
	tb.Helper()
	srv := pop3.NewServer(backend)
	srv.Domain = "localhost"
	srv.AuthFailureDelay = -1
	srv.MaxAuthPenalty = -1
	return start(tb, srv, opts)
}

// Start serves srv, a server that the caller has configured and that is
// not serving yet, on 127.0.0.1, and closes it when the test ends, failing
// the test if it does not stop cleanly, as [NewServer] does. It is the way
// to test a server as an application builds it (its greeting, limits,
// delays, TLSConfig, Hooks) with the package's client and transcripts.
//
// Start changes srv's Logger: the log is kept in memory, for
// [Server.Logs] and the output of a failed test, and a Logger that srv has
// receives it too, Config.Logger being then a logger that writes to both.
// The options given change what they name: [WithTLS] sets TLSConfig,
// [WithAPOPTimestamp] the greeting's timestamp, and [WithConfig] whatever
// it sets. Other fields are left as they are.
// Addr is not listened on; the server listens on loopback ports of its
// own, or on the listener of [WithListener]. NewServer's settings for
// tests do not apply: a Domain left empty means the host's name, and
// delays left at zero are pop3's defaults (two seconds after a failed
// login, for one), which [WithConfig] can turn off.
//
// A TLSConfig of srv's gives the test server TLS with it: STLS on Addr and
// implicit TLS on TLSAddr. [Server.ClientTLSConfig] is then nil, since
// only the caller knows what trusts its certificate. [WithTLS] gives TLS
// to a server that has no TLSConfig; given a server that has one, Start
// fails the test. The other options apply as they do to NewServer.
func Start(tb testing.TB, srv *pop3.Server, opts ...Option) *Server {
	tb.Helper()
	switch {
	case srv == nil:
		tb.Fatalf("pop3test: Start of a nil *pop3.Server")
	case srv.Backend == nil:
		tb.Fatalf("pop3test: Start of a pop3.Server without a Backend")
	}
	return start(tb, srv, opts)
}

// start applies opts to srv and serves it. A TLSConfig that srv has
// already is the one of the server given to Start.
func start(tb testing.TB, srv *pop3.Server, opts []Option) *Server {
	tb.Helper()
	var o serverOptions
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{Config: srv, tb: tb, log: &serverLog{text: &syncbuf.Buffer{}}}
	if o.tls && srv.TLSConfig != nil {
		tb.Fatalf("pop3test: WithTLS, and a TLSConfig on the server given to Start: " +
			"both give the server TLS, with different certificates; drop WithTLS to serve the server's own")
	}
	var generated *tls.Config
	if o.tls {
		certs, err := testcert.Generate()
		if err != nil {
			tb.Fatalf("pop3test: generating a test certificate: %v", err)
		}
		generated, s.clientTLS = certs.ServerTLS, certs.ClientTLS
		srv.TLSConfig = generated
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
	if o.tls && srv.TLSConfig != generated {
		tb.Fatalf("pop3test: WithTLS, and a TLSConfig set by WithConfig: " +
			"both give the server TLS, with different certificates; use one of the two " +
			"(WithConfig may change the fields of the TLSConfig that WithTLS made, not replace it)")
	}
	var user slog.Handler
	if srv.Logger != nil {
		user = srv.Logger.Handler()
	}
	srv.Logger = s.log.logger(user)
	if o.onQuit != nil {
		srv.Hooks = timeQuit(srv.Hooks, o.onQuit)
	}

	s.served = make(chan error, 2)
	tb.Cleanup(func() {
		s.Close()
		if o.failOnPanic {
			for _, p := range s.log.unreported(o.allowedPanic) {
				tb.Errorf("%s", p.report())
			}
		}
		if tb.Failed() {
			tb.Logf("pop3test: server log:\n%s", s.log.text)
			for _, p := range s.log.unreported(nil) {
				tb.Logf("pop3test: %s", p.report())
			}
		}
	})
	s.Addr, s.network = s.serve(o.listener, srv.Serve)
	if srv.TLSConfig != nil {
		s.TLSAddr, _ = s.serve(nil, srv.ServeTLS)
	}
	return s
}

// timeQuit returns hooks (which may be nil) with a Command hook that also
// calls onQuit with the time each QUIT took, from the command read to its
// reply: UPDATE's Delete and Close included.
func timeQuit(hooks *pop3.Hooks, onQuit func(time.Duration)) *pop3.Hooks {
	var h pop3.Hooks
	if hooks != nil {
		h = *hooks
	}
	next := h.Command
	h.Command = func(ev pop3.CommandEvent) {
		if next != nil {
			next(ev)
		}
		if ev.Name == "QUIT" {
			onQuit(ev.Duration)
		}
	}
	return &h
}

// serve starts serve on l, or on a new loopback listener when l is nil,
// and returns its address and network.
func (s *Server) serve(l net.Listener, serve func(net.Listener) error) (addr, network string) {
	s.tb.Helper()
	if l == nil {
		var err error
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			s.tb.Fatalf("pop3test: listening on loopback: %v", err)
		}
	}
	s.listeners++
	go func() { s.served <- serve(l) }()
	return l.Addr().String(), l.Addr().Network()
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

// Dial connects a client to Addr: over TCP, or on the network of the
// listener given by [WithListener], such as a unix socket.
func (s *Server) Dial() *Client {
	s.tb.Helper()
	return dial(s.tb, s.network, s.Addr)
}

// DialTLS connects a client to TLSAddr with implicit TLS, trusting the
// certificate of [WithTLS]. For a server with a TLSConfig of the caller's,
// call the package's [DialTLS] with a client configuration that trusts
// its certificate.
func (s *Server) DialTLS() *Client {
	s.tb.Helper()
	switch {
	case s.TLSAddr == "":
		s.tb.Fatalf("pop3test: DialTLS on a server without TLS (neither WithTLS nor a TLSConfig)")
	case s.clientTLS == nil:
		s.tb.Fatalf("pop3test: Server.DialTLS trusts only the certificate of WithTLS; " +
			"for a TLSConfig of your own, call pop3test.DialTLS(t, srv.TLSAddr, a client configuration that trusts it)")
	}
	return DialTLS(s.tb, s.TLSAddr, s.ClientTLSConfig())
}

// ClientTLSConfig returns a client configuration that trusts the
// certificate of [WithTLS], for StartTLS or DialTLS; nil without WithTLS,
// and for a server with a TLSConfig of the caller's.
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.clientTLS == nil {
		return nil
	}
	return s.clientTLS.Clone()
}

// Logs returns what the server has logged so far, as slog text records.
func (s *Server) Logs() string { return s.log.text.String() }

// validTimestamp reports whether ts looks like RFC 1939's timestamp: a
// msg-id in angle brackets, printable ASCII without spaces.
func validTimestamp(ts string) bool {
	if len(ts) < 3 || len(ts) > 200 || ts[0] != '<' || ts[len(ts)-1] != '>' {
		return false
	}
	inner := ts[1 : len(ts)-1]
	return !strings.ContainsAny(inner, "<>") && strings.IndexFunc(inner, func(r rune) bool { return r <= ' ' || r >= 0x7f }) < 0
}
