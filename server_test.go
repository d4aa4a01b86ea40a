package pop3_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/testcert"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

// A Server literal is as safe as NewServer: its connection limits are the
// defaults, not "unlimited".
// The documented defaults of Server fields that the tests rely on.
const (
	defaultMaxBadCommandsBeforeLogin = 3
	defaultMaxLineLength             = 2048
)

func TestServerLiteralHasDefaultLimits(t *testing.T) {
	be := memory.New()
	ts := pop3test.Start(t, &pop3.Server{Backend: be})
	for range pop3.DefaultMaxConnectionsPerIP {
		c := ts.Dial()
		require.True(t, strings.HasPrefix(c.ReadReply().Line, "+OK"))
	}
	c := ts.Dial()
	assert.Equal(t, "-ERR [SYS/TEMP] too many connections", c.ReadLine())
	c.ExpectClosed()
}

// A unix socket is local: cleartext logins are allowed without TLS, and
// its clients, which share no IP address, are not lumped under one
// MaxConnectionsPerIP.
func TestUnixSocket(t *testing.T) {
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "pop3.sock"))
	require.NoError(t, err)
	ts := pop3test.NewServer(t, aliceBackend(t, msgDots), pop3test.WithTLS(), pop3test.WithListener(l),
		pop3test.WithConfig(func(srv *pop3.Server) { srv.MaxConnectionsPerIP = 1 }))

	first := ts.Dial()
	first.Login("alice", "secret")
	second := ts.Dial()
	require.True(t, strings.HasPrefix(second.ReadReply().Line, "+OK"), "a second unix client is not over the per-IP limit")
	assert.Contains(t, second.Capa(), "USER")
	first.Transcript(`
		C: STAT
		S: +OK 1 82
		C: QUIT
		S: +OK bye, 1 message left
	`)
}

// proxiedListener pretends that every connection comes from a client on
// another network, as a listener wrapper that reads the PROXY protocol
// does.
type proxiedListener struct{ net.Listener }

var proxiedClient = &net.TCPAddr{IP: net.ParseIP("203.0.113.9"), Port: 40000}

func (l proxiedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return proxiedConn{c}, nil
}

type proxiedConn struct{ net.Conn }

func (proxiedConn) RemoteAddr() net.Addr { return proxiedClient }

// connInfoBackend records what its calls see of the connection.
type connInfoBackend struct {
	pop3.Backend
	mu      sync.Mutex
	login   pop3.ConnInfo
	open    *pop3.ConnInfo
	openCtx context.Context
}

type ctxKey string

func (b *connInfoBackend) Login(ctx context.Context, c *pop3.ConnInfo, username, password string) (pop3.User, error) {
	b.mu.Lock()
	b.login = *c
	b.mu.Unlock()
	u, err := b.Backend.Login(ctx, c, username, password)
	if err != nil {
		return nil, err
	}
	return openRecorder{u, b}, nil
}

type openRecorder struct {
	pop3.User
	b *connInfoBackend
}

func (u openRecorder) Open(ctx context.Context) (pop3.Mailbox, error) {
	u.b.mu.Lock()
	u.b.open = pop3.ConnInfoFromContext(ctx)
	u.b.openCtx = ctx
	u.b.mu.Unlock()
	return u.User.Open(ctx)
}

// Connections from a trusted TLS-terminating proxy are secure: cleartext
// login is allowed although the client's address is not loopback, STLS is
// not offered, and the backend sees ConnInfo.Trusted and the client's
// address. Without TrustedConn the same connection must use TLS.
func TestTrustedConn(t *testing.T) {
	for _, trusted := range []bool{false, true} {
		be := &connInfoBackend{Backend: aliceBackend(t, msgDots)}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ts := pop3test.NewServer(t, be, pop3test.WithTLS(), pop3test.WithListener(proxiedListener{l}),
			pop3test.WithConfig(func(srv *pop3.Server) {
				if trusted {
					srv.TrustedConn = func(c net.Conn) bool { return c.RemoteAddr().String() == proxiedClient.String() }
				}
			}))
		c := ts.Dial()
		c.ReadReply()
		if !trusted {
			assert.NotContains(t, c.Capa(), "USER")
			assert.Contains(t, c.Capa(), "STLS")
			c.Send("USER alice")
			assert.Equal(t, "-ERR [AUTH] TLS is required for cleartext login: use STLS or the TLS port", c.ReadLine())
			continue
		}
		assert.Contains(t, c.Capa(), "USER")
		assert.NotContains(t, c.Capa(), "STLS", "the proxy already terminated TLS")
		c.Send("USER alice")
		c.ReadReply()
		c.Send("PASS secret")
		assert.Equal(t, "+OK maildrop has 1 message (82 octets)", c.ReadLine())
		be.mu.Lock()
		assert.True(t, be.login.Trusted)
		assert.Equal(t, proxiedClient.String(), be.login.RemoteAddr.String())
		be.mu.Unlock()
	}
}

// Every backend call can see its connection: ConnInfo carries the ID that
// the logs print as conn=N, Open reads it from its context, and the
// contexts descend from BaseContext and ConnContext.
func TestConnInfoAndContexts(t *testing.T) {
	be := &connInfoBackend{Backend: aliceBackend(t, msgDots)}
	var baseListener net.Listener
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ts := pop3test.NewServer(t, be, pop3test.WithListener(l), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.BaseContext = func(l net.Listener) context.Context {
			baseListener = l
			return context.WithValue(context.Background(), ctxKey("base"), "server-wide")
		}
		srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, ctxKey("conn"), c.RemoteAddr().String())
		}
	}))
	c := ts.Dial()
	c.Login("alice", "secret")
	c.Send("QUIT")
	c.ReadReply()
	c.ExpectClosed()
	require.NoError(t, ts.Config.Close())

	be.mu.Lock()
	defer be.mu.Unlock()
	assert.Equal(t, l, baseListener)
	require.NotNil(t, be.open, "Open sees the ConnInfo")
	assert.NotZero(t, be.open.ID)
	assert.Equal(t, be.login.ID, be.open.ID)
	assert.Equal(t, c.Conn().LocalAddr().String(), be.open.RemoteAddr.String())
	assert.Contains(t, ts.Logs(), "conn="+itoa(be.open.ID)+" ")
	assert.Equal(t, "server-wide", be.openCtx.Value(ctxKey("base")))
	assert.Equal(t, c.Conn().LocalAddr().String(), be.openCtx.Value(ctxKey("conn")))
	assert.Error(t, be.openCtx.Err(), "the session's context ends with the session")
	assert.Nil(t, pop3.ConnInfoFromContext(context.Background()))
	info := &pop3.ConnInfo{ID: 7}
	assert.Same(t, info, pop3.ConnInfoFromContext(pop3.ContextWithConnInfo(context.Background(), info)))
}

// BaseContext must not return nil: Serve says so rather than panic.
func TestBaseContextNil(t *testing.T) {
	srv := pop3.NewServer(memory.New())
	srv.BaseContext = func(net.Listener) context.Context { return nil }
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	err = srv.Serve(l)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "BaseContext")
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// Negative means none: no limit on bad commands here. A line length
// always has a limit, so a negative one is the default.
func TestNegativeMeansNone(t *testing.T) {
	c := pop3test.NewServer(t, aliceBackend(t), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.MaxBadCommandsBeforeLogin = -1
		srv.MaxLineLength = -1
	})).Dial()
	c.ReadReply()
	for range 2 * defaultMaxBadCommandsBeforeLogin * 10 {
		c.Send("XXXX")
		require.Equal(t, "-ERR unknown command", c.ReadLine())
	}
	c.Send("NOOP " + strings.Repeat("x", defaultMaxLineLength))
	assert.Equal(t, "-ERR line too long", c.ReadLine())
}

func TestConnectionLimits(t *testing.T) {
	baseline := runtime.NumGoroutine()
	for _, tc := range []struct {
		name  string
		total int
		perIP int
	}{
		{"MaxConnections", 2, -1},
		{"MaxConnectionsPerIP", -1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := pop3test.NewServer(t, aliceBackend(t), pop3test.WithConfig(func(srv *pop3.Server) {
				srv.MaxConnections = tc.total
				srv.MaxConnectionsPerIP = tc.perIP
			}))
			first := ts.Dial()
			first.ReadReply()
			second := ts.Dial()
			second.ReadReply()
			third := ts.Dial()
			assert.Equal(t, "-ERR [SYS/TEMP] too many connections", third.ReadLine())
			third.ExpectClosed()

			first.Send("QUIT")
			assert.Equal(t, "+OK bye", first.ReadLine())
			first.ExpectClosed()
			eventually(t, func() bool {
				c := ts.Dial()
				ok := strings.HasPrefix(c.ReadReply().Line, "+OK")
				c.Close()
				return ok
			}, 5*time.Second, 10*time.Millisecond)
		})
	}
	goroutinesSettle(t, baseline)
}

// trackedContext counts the contexts that hang from it: context.WithCancel
// registers a child through AfterFunc, and stops it when the child is
// cancelled.
type trackedContext struct {
	context.Context
	done     chan struct{}
	children *atomic.Int32
}

func (c trackedContext) Done() <-chan struct{} { return c.done }

func (c trackedContext) AfterFunc(func()) func() bool {
	c.children.Add(1)
	var once sync.Once
	return func() bool {
		once.Do(func() { c.children.Add(-1) })
		return true
	}
}

// A refused connection leaves nothing hanging from the connection
// context, even under a BaseContext that lives on; and a ConnContext that
// panics does not take the accept loop with it.
func TestConnContextRefusedAndPanicking(t *testing.T) {
	var (
		calls    atomic.Int32
		children [2]atomic.Int32
	)
	ts := pop3test.NewServer(t, aliceBackend(t, msgDots), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.MaxConnections = 1
		srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			n := calls.Add(1)
			if n == 3 {
				panic("ConnContext bug")
			}
			if n > 3 {
				return ctx
			}
			return trackedContext{Context: ctx, done: make(chan struct{}), children: &children[n-1]}
		}
	}))
	first := ts.Dial()
	first.ReadReply()
	refused := ts.Dial()
	assert.Equal(t, "-ERR [SYS/TEMP] too many connections", refused.ReadLine())
	assert.Equal(t, int32(1), children[0].Load(), "the served session's context is live")
	assert.Equal(t, int32(0), children[1].Load(), "the refused one's is gone")

	first.Send("QUIT")
	first.ReadReply()
	first.ExpectClosed()
	require.Eventually(t, func() bool { return children[0].Load() == 0 }, 5*time.Second, 10*time.Millisecond)
	eventually(t, func() bool {
		c := ts.Dial() // the third ConnContext call panics
		ok := strings.HasPrefix(c.ReadReply().Line, "+OK")
		c.Close()
		return ok
	}, 5*time.Second, 20*time.Millisecond)
}

// slowAddrListener yields a first connection whose RemoteAddr blocks
// until release is closed, as a PROXY protocol listener's does until the
// proxy's header has arrived; the later ones answer at once.
type slowAddrListener struct {
	net.Listener
	release  chan struct{}
	accepted *atomic.Int32
}

func (l slowAddrListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if l.accepted.Add(1) == 1 {
		return slowAddrConn{c, l.release}, nil
	}
	return c, nil
}

type slowAddrConn struct {
	net.Conn
	release chan struct{}
}

func (c slowAddrConn) RemoteAddr() net.Addr {
	<-c.release
	return c.Conn.RemoteAddr()
}

// The accept loop asks nothing of a connection that may block: a client
// whose address is slow in coming holds up only itself.
func TestAcceptDoesNotWaitForRemoteAddr(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	release := make(chan struct{})
	ts := pop3test.NewServer(t, aliceBackend(t), pop3test.WithListener(slowAddrListener{l, release, new(atomic.Int32)}))

	slow := ts.Dial()
	greeted := make(chan string, 1)
	go func() { greeted <- slow.ReadLine() }()
	ts.Dial().Transcript("S: +OK POP3 server ready...\nC: QUIT\nS: +OK...")
	select {
	case line := <-greeted:
		t.Fatalf("the slow connection was greeted before its address was known: %q", line)
	default:
	}
	close(release)
	assert.Contains(t, <-greeted, "+OK POP3 server ready")
}

func TestShutdown(t *testing.T) {
	baseline := runtime.NumGoroutine()
	release := make(chan struct{})
	b := aliceBackend(t, msgDots)
	require.NoError(t, b.AddUser("bob", "secret"))
	faulty := pop3test.NewFaultBackend(b, pop3test.Fault{Op: pop3test.OpMessage, Block: release})
	ts := pop3test.NewServer(t, faulty.Backend())
	srv := ts.Config

	idle := ts.Dial()
	idle.Login("bob", "secret")
	busy := ts.Dial()
	busy.ReadReply()
	busy.SendRaw("USER alice\r\nPASS secret\r\n")
	busy.ReadReply()
	assert.Equal(t, "+OK maildrop has 1 message (82 octets)", busy.ReadLine())
	busy.Send("DELE 1")
	busy.ReadReply()
	busy.Send("RETR 1")
	assert.Equal(t, "-ERR message 1 already deleted", busy.ReadLine())
	busy.Send("RSET")
	busy.ReadReply()
	busy.Send("RETR 1")
	require.Eventually(t, func() bool { return faulty.Calls(pop3test.OpMessage) == 1 },
		5*time.Second, time.Millisecond, "the RETR is in progress")

	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	assert.Equal(t, "-ERR [SYS/TEMP] server shutting down", idle.ReadLine())
	idle.ExpectClosed()
	select {
	case <-shut:
		t.Fatal("Shutdown returned while a RETR was in progress")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	assert.Equal(t, "+OK 82 octets", busy.ReadLine())
	assert.Equal(t, msgDots, string(busy.ReadBody()), "the RETR in progress completes")
	assert.Equal(t, "-ERR [SYS/TEMP] server shutting down", busy.ReadLine())
	busy.ExpectClosed()
	require.NoError(t, <-shut)
	assert.Zero(t, faulty.Calls(pop3test.OpDelete))
	assert.Equal(t, 2, faulty.Calls(pop3test.OpClose))

	_, err := net.Dial("tcp", ts.Addr)
	assert.Error(t, err, "no longer accepting")
	require.NoError(t, srv.Shutdown(context.Background()), "idempotent")
	require.NoError(t, srv.Close(), "idempotent")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	assert.ErrorIs(t, srv.Serve(l), pop3.ErrServerClosed)
	goroutinesSettle(t, baseline)
	// Serve's own pop3.ErrServerClosed, when Shutdown stopped it, is
	// checked by pop3test when the test ends.
}

// QUIT's UPDATE completes before Shutdown closes the session.
func TestShutdownDuringUpdate(t *testing.T) {
	release := make(chan struct{})
	b := aliceBackend(t, msgDots)
	faulty := pop3test.NewFaultBackend(b, pop3test.Fault{Op: pop3test.OpDelete, Block: release})
	ts := pop3test.NewServer(t, faulty.Backend())
	c := ts.Dial()
	c.Login("alice", "secret")
	c.Send("DELE 1")
	c.ReadReply()
	c.Send("QUIT")
	require.Eventually(t, func() bool { return faulty.Calls(pop3test.OpDelete) == 1 }, 5*time.Second, time.Millisecond)
	shut := make(chan error, 1)
	go func() { shut <- ts.Config.Shutdown(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	close(release)
	assert.Equal(t, "+OK bye, 0 messages left", c.ReadLine())
	c.ExpectClosed()
	require.NoError(t, <-shut)
	assert.Equal(t, 1, faulty.Calls(pop3test.OpDelete), "one Delete")
	left, err := b.Messages("alice")
	require.NoError(t, err)
	assert.Empty(t, left, "of message 1")
}

// When Shutdown's context ends first, the remaining sessions are closed at
// once.
func TestShutdownDeadline(t *testing.T) {
	baseline := runtime.NumGoroutine()
	faulty := pop3test.NewFaultBackend(aliceBackend(t, msgDots), pop3test.Fault{Op: pop3test.OpMessage, Block: make(chan struct{})})
	ts := pop3test.NewServer(t, faulty.Backend())
	c := ts.Dial()
	c.Login("alice", "secret")
	c.Send("RETR 1")
	// Stuck in the backend for good.
	require.Eventually(t, func() bool { return faulty.Calls(pop3test.OpMessage) == 1 }, 5*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, ts.Config.Shutdown(ctx), context.DeadlineExceeded)
	c.ExpectClosed()
	require.Eventually(t, func() bool { return faulty.Calls(pop3test.OpClose) == 1 }, 5*time.Second, 10*time.Millisecond)
	goroutinesSettle(t, baseline)
}

func TestCloseEndsEverything(t *testing.T) {
	baseline := runtime.NumGoroutine()
	b := aliceBackend(t, msgDots)
	ts := pop3test.NewServer(t, b)
	c := ts.Dial()
	c.Login("alice", "secret")
	c.Send("DELE 1")
	c.ReadReply()
	require.NoError(t, ts.Config.Close())
	c.ExpectClosed()
	// Closes the server again, which must return nil, and fails the test
	// unless Serve has returned pop3.ErrServerClosed.
	ts.Close()
	left, err := b.Messages("alice")
	require.NoError(t, err)
	assert.Len(t, left, 1)
	goroutinesSettle(t, baseline)
}

// Refusing implicit TLS connections over the limit must not stall the
// accept loop: each needs a handshake that a silent client never does.
func TestTLSRefusalDoesNotStallAccept(t *testing.T) {
	certs := testcert.New(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ts := pop3test.NewServer(t, aliceBackend(t), pop3test.WithListener(tls.NewListener(l, certs.ServerTLS)),
		pop3test.WithConfig(func(srv *pop3.Server) {
			srv.TLSConfig = certs.ServerTLS
			srv.MaxConnections = 1
		}))
	holder := pop3test.DialTLS(t, ts.Addr, certs.ClientTLS)
	holder.ReadReply()
	for range 5 {
		silent, err := net.Dial("tcp", ts.Addr)
		require.NoError(t, err)
		defer silent.Close()
	}
	time.Sleep(50 * time.Millisecond)
	holder.Send("QUIT")
	holder.ReadReply()
	start := time.Now()
	eventually(t, func() bool {
		c := pop3test.DialTLS(t, ts.Addr, certs.ClientTLS)
		return strings.HasPrefix(c.ReadReply().Line, "+OK")
	}, 5*time.Second, 10*time.Millisecond)
	assert.Less(t, time.Since(start), 900*time.Millisecond, "the accept loop waited on silent TLS clients")
}

// flakyListener fails its first Accepts with a non-timeout error, as
// EMFILE does.
type flakyListener struct {
	net.Listener
	failures int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.failures > 0 {
		l.failures--
		return nil, errors.New("accept4: too many open files")
	}
	return l.Listener.Accept()
}

func TestServeSurvivesAcceptErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ts := pop3test.NewServer(t, aliceBackend(t), pop3test.WithListener(&flakyListener{Listener: l, failures: 3}))
	c := ts.Dial()
	assert.True(t, strings.HasPrefix(c.ReadReply().Line, "+OK"))
	assert.Contains(t, ts.Logs(), "too many open files")
}

func TestListenAndServeTLSNeedsConfig(t *testing.T) {
	srv := pop3.NewServer(memory.New())
	assert.Error(t, srv.ListenAndServeTLS())

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	assert.EqualError(t, srv.ServeTLS(l), "pop3: ServeTLS needs Server.TLSConfig")
	_, err = l.Accept()
	assert.ErrorIs(t, err, net.ErrClosed, "ServeTLS closes its listener, as Serve does")
}

// One server serves ports 110 and 995 at once: Serve and ServeTLS.
func TestServeAndServeTLS(t *testing.T) {
	ts := pop3test.NewServer(t, aliceBackend(t, msgDots), pop3test.WithTLS())

	implicit := ts.DialTLS()
	implicit.Login("alice", "secret")
	assert.NotContains(t, implicit.Capa(), "STLS")

	cleartext := ts.Dial()
	cleartext.StartTLS(ts.ClientTLSConfig())
	cleartext.OK("USER alice")
	assert.Equal(t, "IN-USE", cleartext.Cmd("PASS secret").Code, "one server, one lock")

	// Closes the server, and fails the test unless Close returned nil and
	// both Serve and ServeTLS pop3.ErrServerClosed.
	ts.Close()
}

// An invalid TrustedNetworks prefix is a configuration error, reported by
// Serve rather than matching nothing.
func TestTrustedNetworksInvalid(t *testing.T) {
	for _, p := range []netip.Prefix{{}, netip.PrefixFrom(netip.MustParseAddr("::ffff:10.0.0.0"), 80)} {
		srv := pop3.NewServer(aliceBackend(t))
		srv.TrustedNetworks = []netip.Prefix{p}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		err = srv.Serve(l)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "TrustedNetworks")
	}
}
