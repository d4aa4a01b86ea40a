package pop3

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Server's fields that operators tune most, for a command's
// flag defaults and help text. One rule holds for every numeric field: zero
// means its default, and a negative value means none (no timeout, no
// delay, no limit), except for the line lengths, where it means the default
// too. A Server literal is therefore as safe as NewServer.
const (
	DefaultIdleTimeout         = 10 * time.Minute // RFC 1939 §3: at least 10 minutes
	DefaultAuthFailureDelay    = 2 * time.Second
	DefaultMaxAuthPenalty      = 15 * time.Second // like Dovecot's auth penalty
	DefaultMaxConnections      = 10000
	DefaultMaxConnectionsPerIP = 100
)

// The other fields' defaults, given in their docs.
const (
	defaultAuthTimeout               = 3 * time.Minute
	defaultWriteTimeout              = time.Minute
	defaultMaxLineLength             = 2048 // like Dovecot; RFC 2449 §4 asks for at least 255
	defaultMaxAuthLineLength         = 16 << 10
	defaultMaxAuthFailures           = 3
	defaultMaxBadCommands            = 20
	defaultMaxBadCommandsBeforeLogin = 3
)

// Server is a POP3 server. Create it with NewServer or as a literal, set
// its exported fields, then call Serve, ListenAndServe or
// ListenAndServeTLS. The fields must not change once serving has started.
// A numeric field left at zero takes its documented default; a negative
// one means none (no timeout, no delay, no limit), except that a line
// length always has one.
type Server struct {
	// Addr is the TCP address ListenAndServe and ListenAndServeTLS listen
	// on; empty means ":110" and ":995" respectively.
	Addr string
	// Domain is the server's host name, used in the APOP timestamp and
	// passed to the backend in ConnInfo. Empty means the system's host
	// name.
	Domain string
	// Backend authenticates users and opens their maildrops.
	Backend Backend
	// TLSConfig enables STLS (RFC 2595) on cleartext connections and is
	// required by ListenAndServeTLS (implicit TLS, RFC 8314). Which
	// protocol versions, cipher suites and key exchanges it offers by
	// default is decided by the go line of the main module's go.mod (see
	// the package documentation).
	TLSConfig *tls.Config
	// AllowInsecureAuth permits cleartext logins (USER/PASS, AUTH PLAIN,
	// AUTH LOGIN) on connections that are not secure: neither TLS, nor
	// from a loopback address or a unix socket, nor trusted by
	// TrustedConn. By default they are refused there with
	//
	//	-ERR [AUTH] TLS is required for cleartext login: use STLS or the TLS port
	//
	// and CAPA does not offer them.
	AllowInsecureAuth bool
	// TrustedConn, when set, is asked once per connection whether it
	// comes from a trusted proxy that terminated TLS for the client
	// (stunnel, HAProxy's "ssl" bind, a load balancer), or over a private
	// channel that needs no TLS. A trusted connection is treated as
	// secure: cleartext logins are allowed on it, STLS is not offered
	// (the client already speaks TLS to the proxy), and ConnInfo.Trusted
	// tells the backend. Its client is whatever conn.RemoteAddr reports:
	// have the proxy pass the client's address (the PROXY protocol, by a
	// listener wrapper) so that the per-address limits and penalty apply
	// to each client rather than to the proxy. See the README.
	TrustedConn func(conn net.Conn) bool
	// TrustedNetworks are client networks that the per-address auth
	// penalty (MaxAuthPenalty) spares and that may log in in cleartext
	// without TLS, like Dovecot's login_trusted_networks: a webmail host
	// or a monitoring probe on the operator's own network, which logs in
	// for many users from one address, so that one user's typos must not
	// slow every other user of that host. Their failed logins still wait
	// AuthFailureDelay and count towards MaxAuthFailures on their
	// connection, and STLS is still offered to them. The client is
	// whatever the connection's RemoteAddr reports: behind a proxy, have
	// it pass the client's address (the PROXY protocol), or the proxy's
	// own address is what matches. IPv4-mapped IPv6 addresses match as
	// IPv4. Serve refuses a prefix that is not valid.
	TrustedNetworks []netip.Prefix

	// IdleTimeout closes a connection that sends no command for this long
	// (default 10 minutes, the minimum of RFC 1939 §3). Nothing is
	// deleted when it fires.
	IdleTimeout time.Duration
	// AuthTimeout bounds the whole AUTHORIZATION state (default 3
	// minutes), so that a client trickling bytes cannot hold a connection
	// without logging in.
	AuthTimeout time.Duration
	// WriteTimeout drops a client that accepts no data for this long while
	// the server writes to it (default 1 minute).
	WriteTimeout time.Duration
	// MaxLineLength is the longest command line accepted, CRLF included
	// (default 2048; it cannot be turned off). A longer line is answered
	// "-ERR line too long", is discarded without being buffered, and
	// counts as a bad command.
	MaxLineLength int
	// MaxAuthLineLength is the longest AUTH command or SASL response line
	// (default 16 KiB), since OAuth tokens exceed MaxLineLength.
	MaxAuthLineLength int
	// MaxConnections and MaxConnectionsPerIP limit concurrent connections
	// in all (default 10,000) and from one IP address (default 100). A
	// connection over a limit is answered
	//
	//	-ERR [SYS/TEMP] too many connections
	//
	// and closed at once. Connections on a unix socket have no IP address
	// and count only towards MaxConnections.
	MaxConnections      int
	MaxConnectionsPerIP int
	// AuthFailureDelay is how long a failed login waits before its -ERR
	// (default 2 seconds).
	AuthFailureDelay time.Duration
	// MaxAuthPenalty bounds the per-address auth penalty (default 15
	// seconds). Every failed login from an address, on any connection,
	// raises the address's penalty: from the second recent failure on,
	// each login attempt from it waits 2, 4, 8 and then MaxAuthPenalty
	// seconds before its credentials are checked, and one failure is
	// forgotten per minute without failures. IPv6 addresses count per
	// /64, unix sockets not at all. This limits guessing across
	// reconnections, which MaxAuthFailures alone does not.
	//
	// The penalty is the address's, not the user's: every client behind
	// one address shares it. Behind a NAT (an office, a mobile carrier's
	// CGNAT) or a webmail host, one user's wrong password slows the
	// logins of all the others for a few minutes. Put such hosts of your
	// own in TrustedNetworks; for addresses you do not control, lower the
	// bound, or set it negative to turn the penalty off.
	MaxAuthPenalty time.Duration
	// MaxAuthFailures is how many failed logins one connection may make
	// before it is closed (default 3).
	MaxAuthFailures int
	// MaxBadCommands is how many unknown, malformed or wrong-state
	// commands a logged-in connection may send before it is closed
	// (default 20); MaxBadCommandsBeforeLogin is the same before login
	// (default 3).
	MaxBadCommands            int
	MaxBadCommandsBeforeLogin int
	// Implementation is the IMPLEMENTATION capability's text (RFC 2449
	// §6.9), shown only after login; empty shows none.
	Implementation string
	// Greeting is the text of the greeting; empty means "POP3 server
	// ready".
	Greeting string

	// LoginDelay is the least time between two successful logins of a
	// user (RFC 2449 §6.5): CAPA announces it as LOGIN-DELAY, in whole
	// seconds, and a login that comes sooner after the user's previous
	// one is refused, after its credentials were checked and before the
	// maildrop is opened, with
	//
	//	-ERR [LOGIN-DELAY] login too soon after the previous one
	//
	// A login refused for another reason, such as [ErrMailboxLocked],
	// starts no new delay. The time of a user's last login is kept by the
	// user when it implements [LoginRecorder], so that it holds across
	// restarts and servers, and otherwise by the server, in memory. Zero
	// or negative means none, the default.
	LoginDelay time.Duration
	// Expire is the retention policy announced as EXPIRE (RFC 2449 §6.7)
	// and enforced at UPDATE: see [ExpireAfter]. The zero value is
	// [ExpireNever], the default, under which the server removes only
	// what the client deleted. A number of days other than 0 needs a
	// [RetrievalBackend].
	Expire Expire
	// UserPolicies announces that users may have LOGIN-DELAY and EXPIRE
	// values of their own, which a [PolicyUser] gives: CAPA appends "USER"
	// to both before login, where LoginDelay is then the largest delay and
	// Expire the shortest retention of any user, and shows the user's own
	// values after login (RFC 2449 §6.5, §6.7).
	UserPolicies bool
	// Disable removes extensions from the server, both from CAPA and from
	// its behaviour, as if it had never had them: a removed command is
	// answered as an unknown one, and without [ExtRespCodes] no reply
	// carries a response code. It is for test servers that stand in for
	// older ones; see [Extension] for what each removes.
	Disable []Extension
	// Language is the language of the server's replies after "LANG *"
	// (RFC 6856 §3): a BCP 47 tag of one of [Languages]. Empty means
	// English. A session starts in English, as RFC 1939 requires, until
	// its client sends LANG.
	Language string
	// ClientWorkarounds changes what RETR and TOP send, for clients that
	// mishandle some messages, as Dovecot's pop3_client_workarounds does:
	// [WorkaroundOutlookNoNULs] sends NUL octets as 0x80, and
	// [WorkaroundOENSEOH] adds the empty line after the header of a
	// message that is all header. The latter sends such a message with 2
	// octets more than LIST and STAT report for it, as Dovecot does:
	// finding those messages would mean reading every message at LIST. A
	// server of pop3d is configured with [ParseWorkarounds]; Serve
	// refuses a name that is unknown. None, the default, sends every
	// message as it is stored, at no cost.
	ClientWorkarounds []Workaround

	// BaseContext, when set, returns the parent context of the sessions
	// accepted on l, as in net/http: the root of the ctx every backend
	// call receives. It must not return nil. Nil means
	// context.Background().
	BaseContext func(l net.Listener) context.Context
	// ConnContext, when set, derives a connection's context from the base
	// one, for values that a backend reads in its calls. It must not
	// return nil. The session's context is cancelled when the session
	// ends.
	ConnContext func(ctx context.Context, conn net.Conn) context.Context

	// Logger receives one record per session end, per failed login and
	// per backend error. Credentials and message content never reach it.
	// Nil means slog.Default().
	Logger *slog.Logger
	// Debug, when set, receives a protocol trace of every session, with
	// passwords, APOP digests and SASL payloads redacted.
	Debug io.Writer
	// Hooks, when set, observes connections, logins, commands and session
	// ends, for metrics; see [Hooks]. Nil costs nothing.
	Hooks *Hooks

	inShutdown atomic.Bool
	connID     atomic.Uint64
	refusing   atomic.Int32
	hostOnce   sync.Once
	hostname   string
	debugMu    sync.Mutex
	penalty    authPenalty
	// fixedTimestamp replaces the APOP timestamp for tests (see
	// internal/testhooks); nil in every real server.
	fixedTimestamp func() string
	// clock replaces time.Now for LOGIN-DELAY and EXPIRE in tests (see
	// internal/testhooks); nil in every real server.
	clock func() time.Time
	// deltas remembers what downgrading adds to messages (RFC 6858).
	deltas deltaCache
	// logins keeps the last login times of users that are not
	// LoginRecorders, for LoginDelay.
	logins loginTimes
	// trusted is TrustedNetworks made canonical by setup.
	trusted []netip.Prefix
	// setupOnce computes exts and checks the configuration once.
	setupOnce sync.Once
	exts      extensionSet // the extensions not disabled; all until setup
	setupErr  error
	// workarounds are ClientWorkarounds, checked by setup.
	workarounds workaroundSet

	mu        sync.Mutex
	listeners map[*net.Listener]struct{}
	sessions  map[*session]struct{}
	perIP     map[peerKey]int
	done      chan struct{}
	wg        sync.WaitGroup
}

// setup checks the fields that can be wrong and computes what every
// session shares, once.
func (srv *Server) setup() error {
	srv.setupOnce.Do(func() {
		if srv.exts, srv.setupErr = enabledExtensions(srv.Disable); srv.setupErr != nil {
			return
		}
		if srv.workarounds, srv.setupErr = workaroundsOf(srv.ClientWorkarounds); srv.setupErr != nil {
			return
		}
		if srv.setupErr = checkLanguage(srv.Language); srv.setupErr != nil {
			return
		}
		if srv.trusted, srv.setupErr = canonicalPrefixes(srv.TrustedNetworks); srv.setupErr != nil {
			return
		}
		if srv.Expire.expiresLater() {
			if rb, ok := srv.Backend.(RetrievalBackend); !ok || !rb.RecordsRetrievals() {
				srv.setupErr = fmt.Errorf("pop3: Server.Expire of %s days needs a Backend that records when messages are retrieved (pop3.RetrievalBackend)", srv.Expire)
			}
		}
	})
	return srv.setupErr
}

// NewServer returns a server for backend. Every other field is at its
// default; set the ones to change before serving.
func NewServer(backend Backend) *Server {
	return &Server{Backend: backend}
}

func (srv *Server) logger() *slog.Logger {
	if srv.Logger != nil {
		return srv.Logger
	}
	return slog.Default()
}

func (srv *Server) domain() string {
	if srv.Domain != "" {
		return srv.Domain
	}
	srv.hostOnce.Do(func() {
		srv.hostname = "localhost"
		if h, err := os.Hostname(); err == nil && h != "" {
			srv.hostname = h
		}
	})
	return srv.hostname
}

// The accessors below apply the zero-means-default, negative-means-none
// rule. A duration of 0 they return means none; a limit of math.MaxInt
// means none.

func (srv *Server) idleTimeout() time.Duration { return duration(srv.IdleTimeout, DefaultIdleTimeout) }
func (srv *Server) authTimeout() time.Duration { return duration(srv.AuthTimeout, defaultAuthTimeout) }
func (srv *Server) writeTimeout() time.Duration {
	return duration(srv.WriteTimeout, defaultWriteTimeout)
}
func (srv *Server) authFailureDelay() time.Duration {
	return duration(srv.AuthFailureDelay, DefaultAuthFailureDelay)
}
func (srv *Server) maxAuthPenalty() time.Duration {
	return duration(srv.MaxAuthPenalty, DefaultMaxAuthPenalty)
}

// A line length always has a limit: a negative one means the default,
// since "none" would let a client make the server buffer without end.
func (srv *Server) maxLineLength() int { return lineLimit(srv.MaxLineLength, defaultMaxLineLength) }
func (srv *Server) maxAuthLineLength() int {
	return max(lineLimit(srv.MaxAuthLineLength, defaultMaxAuthLineLength), srv.maxLineLength())
}

func lineLimit(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}
func (srv *Server) maxConnections() int { return limit(srv.MaxConnections, DefaultMaxConnections) }
func (srv *Server) maxConnectionsPerIP() int {
	return limit(srv.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP)
}
func (srv *Server) maxAuthFailures() int { return limit(srv.MaxAuthFailures, defaultMaxAuthFailures) }

// maxBadCommands is the bad-command limit of a session in state st.
func (srv *Server) maxBadCommands(st state) int {
	if st == stateTransaction {
		return limit(srv.MaxBadCommands, defaultMaxBadCommands)
	}
	return limit(srv.MaxBadCommandsBeforeLogin, defaultMaxBadCommandsBeforeLogin)
}

// duration applies the field rule to a timeout or delay: 0 means def, and
// a negative value none (0).
func duration(v, def time.Duration) time.Duration {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// limit applies the field rule to a count: 0 means def, and a negative
// value none (math.MaxInt).
func limit(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return math.MaxInt
	}
	return v
}

// ListenAndServe listens on Addr (default ":110") and serves cleartext
// connections, with STLS when TLSConfig is set.
func (srv *Server) ListenAndServe() error {
	return srv.listenAndServe(":110", srv.Serve)
}

// ListenAndServeTLS listens on Addr (default ":995") and serves implicit
// TLS connections (RFC 8314 §3.3) with TLSConfig.
func (srv *Server) ListenAndServeTLS() error {
	if srv.TLSConfig == nil {
		return errors.New("pop3: ListenAndServeTLS needs Server.TLSConfig")
	}
	return srv.listenAndServe(":995", srv.ServeTLS)
}

// listenAndServe listens on Addr, or defaultAddr, and serves with serve.
func (srv *Server) listenAndServe(defaultAddr string, serve func(net.Listener) error) error {
	addr := srv.Addr
	if addr == "" {
		addr = defaultAddr
	}
	if srv.shuttingDown() {
		return ErrServerClosed
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return serve(l)
}

// ServeTLS serves implicit TLS connections (RFC 8314 §3.3) with TLSConfig
// on l, as Serve does on a tls.Listener; a server may Serve one listener
// and ServeTLS another, such as ports 110 and 995. ServeTLS closes l.
func (srv *Server) ServeTLS(l net.Listener) error {
	if srv.TLSConfig == nil {
		l.Close()
		return errors.New("pop3: ServeTLS needs Server.TLSConfig")
	}
	return srv.Serve(tls.NewListener(l, srv.TLSConfig))
}

// Serve accepts connections on l and serves each in its own goroutine
// until l fails or the server is closed; it then returns ErrServerClosed.
// When l yields *tls.Conn (a tls.Listener), each connection is implicit TLS
// (RFC 8314): the greeting is sent only after the handshake, and a failed
// handshake closes the connection quietly. Serve closes l.
func (srv *Server) Serve(l net.Listener) error {
	if err := srv.setup(); err != nil {
		l.Close()
		return err
	}
	base := context.Background()
	if srv.BaseContext != nil {
		if base = srv.BaseContext(l); base == nil {
			l.Close()
			return errors.New("pop3: Server.BaseContext returned a nil context")
		}
	}
	if !srv.trackListener(&l, true) {
		l.Close()
		return ErrServerClosed
	}
	defer func() {
		srv.trackListener(&l, false)
		l.Close()
	}()

	var delay time.Duration
	for {
		conn, err := l.Accept()
		if err != nil {
			if srv.shuttingDown() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Anything else (EMFILE, ECONNABORTED, a timeout) may pass:
			// back off and go on rather than stop serving for good.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			srv.logger().Warn("pop3: accept failed; retrying", "err", err, "delay", delay)
			select {
			case <-time.After(delay):
			case <-srv.doneChan():
				return ErrServerClosed
			}
			continue
		}
		delay = 0
		srv.startSession(base, conn)
	}
}

// startSession registers conn and starts its session, or refuses it when
// MaxConnections is reached or the server is shutting down. It runs in the
// accept loop, so it calls nothing that may block: not even
// conn.RemoteAddr, which a PROXY protocol listener answers only once the
// client's header has arrived. The per-address limit is checked by the
// session's own goroutine, once that address is known.
func (srv *Server) startSession(base context.Context, conn net.Conn) {
	s := newSession(srv, base, conn)

	srv.mu.Lock()
	var refuse RefuseReason
	switch {
	case srv.shuttingDown():
		refuse = RefusedShuttingDown
	case len(srv.sessions) >= srv.maxConnections():
		refuse = RefusedMaxConnections
	default:
		if srv.sessions == nil {
			srv.sessions = make(map[*session]struct{})
			srv.perIP = make(map[peerKey]int)
		}
		srv.sessions[s] = struct{}{}
		srv.wg.Add(1)
	}
	srv.mu.Unlock()

	if refuse != "" {
		s.cancel() // its context may hang from a BaseContext that lives on
		srv.refuseLater(conn, refuse)
		return
	}
	go func() {
		defer srv.wg.Done()
		defer srv.forget(s)
		s.setup()
		if !srv.admit(s) {
			s.cancel()
			srv.refuse(conn, s.info.RemoteAddr, RefusedMaxConnectionsPerIP)
			return
		}
		s.serve()
	}()
}

// admit counts s towards MaxConnectionsPerIP, or reports that its address
// has reached the limit.
func (srv *Server) admit(s *session) bool {
	ip := remoteIP(s.info.RemoteAddr)
	if ip == (peerKey{}) {
		return true
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.perIP[ip] >= srv.maxConnectionsPerIP() {
		return false
	}
	srv.perIP[ip]++
	s.peer = ip
	return true
}

// forget unregisters a session that has ended or been refused.
func (srv *Server) forget(s *session) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	delete(srv.sessions, s)
	if s.peer != (peerKey{}) {
		if srv.perIP[s.peer]--; srv.perIP[s.peer] <= 0 {
			delete(srv.perIP, s.peer)
		}
	}
}

// maxRefusing bounds the goroutines that refuse connections from the
// accept loop.
const maxRefusing = 64

// refuseLater refuses a connection from the accept loop. The refusal is
// made by a goroutine of its own, since asking for the client's address
// (behind a PROXY protocol listener) and writing the reply (after an
// implicit TLS handshake) may take a while, which must not stall
// accepting. Those goroutines are bounded by a deadline and in number:
// past maxRefusing, the connection is just closed and reported without
// its address.
func (srv *Server) refuseLater(conn net.Conn, reason RefuseReason) {
	if srv.refusing.Add(1) > maxRefusing {
		srv.refusing.Add(-1)
		_ = conn.Close()
		srv.reportRefused(ConnRefusedEvent{Reason: reason})
		return
	}
	srv.wg.Add(1)
	go func() {
		defer srv.wg.Done()
		defer srv.refusing.Add(-1)
		_ = conn.SetDeadline(time.Now().Add(time.Second))
		srv.refuse(conn, conn.RemoteAddr(), reason)
	}()
}

// refuse logs and reports a refused connection, answers it
//
//	-ERR [SYS/TEMP] too many connections
//
// (or "server shutting down") and closes it.
func (srv *Server) refuse(conn net.Conn, remote net.Addr, reason RefuseReason) {
	srv.logger().Warn("pop3: connection refused", "remote", addrString(remote), "reason", string(reason))
	srv.reportRefused(ConnRefusedEvent{RemoteAddr: remote, LocalAddr: conn.LocalAddr(), Reason: reason})
	text := "too many connections"
	if reason == RefusedShuttingDown {
		text = "server shutting down"
	}
	if srv.exts.has(ExtRespCodes) {
		text = "[" + CodeSysTemp + "] " + text
	}
	_ = conn.SetDeadline(time.Now().Add(time.Second)) // an implicit TLS handshake reads too
	_, _ = io.WriteString(conn, "-ERR "+text+"\r\n")
	_ = conn.Close()
}

func (srv *Server) reportRefused(ev ConnRefusedEvent) {
	if h := srv.Hooks; h != nil && h.ConnRefused != nil {
		callHook(srv, "ConnRefused", h.ConnRefused, ev)
	}
}

// peerKey is what MaxConnectionsPerIP counts by: the IP address of a
// connection's remote end, or the string of an address of some other kind.
// It is compared without being formatted, so that counting allocates
// nothing.
type peerKey struct {
	ip    netip.Addr
	other string
}

// remoteIP is the peerKey of a, or the zero key for a connection without
// an address (a unix socket), which only MaxConnections counts: all unix
// clients share one address and must not share a limit.
func remoteIP(a net.Addr) peerKey {
	if ip, ok := clientIP(a); ok {
		return peerKey{ip: ip}
	}
	if _, unix := a.(*net.UnixAddr); unix || a == nil {
		return peerKey{}
	}
	return peerKey{other: a.String()} // an address of some other kind: counted as it is
}

// clientIP is the IP address of a connection's remote end, from a TCP
// address or any address of the "host:port" form, or false for one
// without (a unix socket). It is what the per-address limit, the auth
// penalty and the loopback check of the cleartext policy all go by.
func clientIP(a net.Addr) (netip.Addr, bool) {
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.Unmap(), ok
	case *net.UnixAddr, nil:
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// canonicalPrefixes returns prefixes masked, with IPv4-mapped IPv6 ones
// made IPv4, as clientIP makes the addresses they are matched against.
func canonicalPrefixes(prefixes []netip.Prefix) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		if !p.IsValid() {
			return nil, fmt.Errorf("pop3: Server.TrustedNetworks has an invalid prefix %q", p.String())
		}
		if a := p.Addr(); a.Is4In6() {
			if p.Bits() < 96 {
				return nil, fmt.Errorf("pop3: Server.TrustedNetworks has %s, an IPv4-mapped prefix shorter than 96 bits", p)
			}
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// inTrustedNetwork reports whether the client at a is in TrustedNetworks.
func (srv *Server) inTrustedNetwork(a net.Addr) bool {
	if len(srv.trusted) == 0 {
		return false
	}
	ip, ok := clientIP(a)
	if !ok {
		return false
	}
	ip = ip.WithZone("")
	for _, p := range srv.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// PenalizedAddresses reports how many client addresses have an auth
// penalty in force: their next login attempt will wait (see
// [Server.MaxAuthPenalty]). It walks the penalty table, which holds at
// most 16,384 addresses, so it suits a metrics scrape rather than a hot
// path.
func (srv *Server) PenalizedAddresses() int {
	return srv.penalty.inForce(time.Now(), srv.maxAuthPenalty())
}

func (srv *Server) shuttingDown() bool { return srv.inShutdown.Load() }

// isClosed reports whether ch is closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// doneChan returns the channel that is closed when the listeners close.
func (srv *Server) doneChan() chan struct{} {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.doneChanLocked()
}

// doneChanLocked is doneChan with srv.mu held. The channel is made on
// first use, so that the zero Server works, as an http.Server does.
func (srv *Server) doneChanLocked() chan struct{} {
	if srv.done == nil {
		srv.done = make(chan struct{})
	}
	return srv.done
}

func (srv *Server) trackListener(l *net.Listener, add bool) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.listeners == nil {
		srv.listeners = make(map[*net.Listener]struct{})
	}
	if add {
		if srv.shuttingDown() {
			return false
		}
		srv.listeners[l] = struct{}{}
	} else {
		delete(srv.listeners, l)
	}
	return true
}

// closeListenersLocked stops accepting; srv.mu is held.
func (srv *Server) closeListenersLocked() {
	for l := range srv.listeners {
		_ = (*l).Close()
	}
	if done := srv.doneChanLocked(); !isClosed(done) {
		close(done)
	}
}

// Close stops the listeners and closes every connection at once, without
// UPDATE: nothing is deleted, every open maildrop is closed. It waits for
// the sessions to end and is safe to call more than once.
func (srv *Server) Close() error {
	srv.inShutdown.Store(true)
	srv.mu.Lock()
	srv.closeListenersLocked()
	srv.mu.Unlock()
	for _, s := range srv.activeSessions() {
		s.closeHard()
	}
	srv.wg.Wait()
	return nil
}

// activeSessions lists the sessions, so that they can be closed without
// holding srv.mu (closing a TLS connection may take a while).
func (srv *Server) activeSessions() []*session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	list := make([]*session, 0, len(srv.sessions))
	for s := range srv.sessions {
		list = append(list, s)
	}
	return list
}

// Shutdown stops the listeners, then ends every session gracefully: a
// session waiting for a command is told
//
//	-ERR [SYS/TEMP] server shutting down
//
// and closed without UPDATE; a command in progress (a RETR, the
// UPDATE after QUIT) completes first. When ctx ends before all sessions
// have, the rest are closed at once and ctx's error is returned without
// waiting further. Shutdown is safe to call more than once.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.inShutdown.Store(true)
	srv.mu.Lock()
	srv.closeListenersLocked()
	srv.mu.Unlock()
	for _, s := range srv.activeSessions() {
		s.interruptIdle()
	}

	finished := make(chan struct{})
	go func() {
		srv.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		// Like net/http, return at once: a backend call that ignores its
		// cancelled context must not hold Shutdown.
		for _, s := range srv.activeSessions() {
			s.closeHard()
		}
		return ctx.Err()
	}
}

// now is the time LOGIN-DELAY and EXPIRE go by.
func (srv *Server) now() time.Time {
	if srv.clock != nil {
		return srv.clock()
	}
	return time.Now()
}
