package pop3_test

import (
	"context"
	"net"
	"path/filepath"
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
	srv := &pop3.Server{Backend: be}
	addr := startServer(t, srv)
	for range pop3.DefaultMaxConnectionsPerIP {
		c := pop3test.Dial(t, addr)
		require.True(t, strings.HasPrefix(c.ReadReply().Line, "+OK"))
	}
	c := pop3test.Dial(t, addr)
	assert.Equal(t, "-ERR [SYS/TEMP] too many connections", c.ReadLine())
	c.ExpectClosed()
}

// serveUnix serves srv on a unix socket until the test ends.
func serveUnix(t *testing.T, srv *pop3.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pop3.sock")
	l, err := net.Listen("unix", path)
	require.NoError(t, err)
	serveOn(t, srv, l)
	return path
}

func dialUnix(t *testing.T, path string) *pop3test.Client {
	t.Helper()
	conn, err := net.Dial("unix", path)
	require.NoError(t, err)
	return pop3test.NewClient(t, conn)
}

// A unix socket is local: cleartext logins are allowed without TLS, and
// its clients, which share no IP address, are not lumped under one
// MaxConnectionsPerIP.
func TestUnixSocket(t *testing.T) {
	srv, _ := newMemoryServer(t, msgDots)
	srv.TLSConfig = testcert.New(t).ServerTLS
	srv.MaxConnectionsPerIP = 1
	path := serveUnix(t, srv)

	first := dialUnix(t, path)
	first.Login("alice", "secret")
	second := dialUnix(t, path)
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
	fakeBackend
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
	u, err := b.fakeBackend.Login(ctx, c, username, password)
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
		be := &connInfoBackend{fakeBackend: fakeBackend{msgs: []string{msgDots}}}
		srv := pop3.NewServer(be)
		srv.TLSConfig = testcert.New(t).ServerTLS
		if trusted {
			srv.TrustedConn = func(c net.Conn) bool { return c.RemoteAddr().String() == proxiedClient.String() }
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := serveOn(t, srv, proxiedListener{l})
		c := pop3test.Dial(t, addr)
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
	be := &connInfoBackend{fakeBackend: fakeBackend{msgs: []string{msgDots}}}
	srv := pop3.NewServer(be)
	logs := captureLogs(srv)
	var baseListener net.Listener
	srv.BaseContext = func(l net.Listener) context.Context {
		baseListener = l
		return context.WithValue(context.Background(), ctxKey("base"), "server-wide")
	}
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, ctxKey("conn"), c.RemoteAddr().String())
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := serveOn(t, srv, l)
	c := pop3test.Dial(t, addr)
	c.Login("alice", "secret")
	c.Send("QUIT")
	c.ReadReply()
	c.ExpectClosed()
	require.NoError(t, srv.Close())

	be.mu.Lock()
	defer be.mu.Unlock()
	assert.Equal(t, l, baseListener)
	require.NotNil(t, be.open, "Open sees the ConnInfo")
	assert.NotZero(t, be.open.ID)
	assert.Equal(t, be.login.ID, be.open.ID)
	assert.Equal(t, c.Conn().LocalAddr().String(), be.open.RemoteAddr.String())
	assert.Contains(t, logs.String(), "conn="+itoa(be.open.ID)+" ")
	assert.Equal(t, "server-wide", be.openCtx.Value(ctxKey("base")))
	assert.Equal(t, c.Conn().LocalAddr().String(), be.openCtx.Value(ctxKey("conn")))
	assert.Error(t, be.openCtx.Err(), "the session's context ends with the session")
	assert.Nil(t, pop3.ConnInfoFromContext(context.Background()))
	info := &pop3.ConnInfo{ID: 7}
	assert.Same(t, info, pop3.ConnInfoFromContext(pop3.ContextWithConnInfo(context.Background(), info)))
}

// BaseContext must not return nil: Serve says so rather than panic.
func TestBaseContextNil(t *testing.T) {
	srv := pop3.NewServer(&fakeBackend{})
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
	srv, _ := newMemoryServer(t)
	srv.MaxBadCommandsBeforeLogin = -1
	srv.MaxLineLength = -1
	c := pop3test.Dial(t, startServer(t, srv))
	c.ReadReply()
	for range 2 * defaultMaxBadCommandsBeforeLogin * 10 {
		c.Send("XXXX")
		require.Equal(t, "-ERR unknown command", c.ReadLine())
	}
	c.Send("NOOP " + strings.Repeat("x", defaultMaxLineLength))
	assert.Equal(t, "-ERR line too long", c.ReadLine())
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
	be := &fakeBackend{msgs: []string{msgDots}}
	srv := pop3.NewServer(be)
	srv.MaxConnections = 1
	var (
		calls    atomic.Int32
		children [2]atomic.Int32
	)
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
	addr := startServer(t, srv)
	first := pop3test.Dial(t, addr)
	first.ReadReply()
	refused := pop3test.Dial(t, addr)
	assert.Equal(t, "-ERR [SYS/TEMP] too many connections", refused.ReadLine())
	assert.Equal(t, int32(1), children[0].Load(), "the served session's context is live")
	assert.Equal(t, int32(0), children[1].Load(), "the refused one's is gone")

	first.Send("QUIT")
	first.ReadReply()
	first.ExpectClosed()
	require.Eventually(t, func() bool { return children[0].Load() == 0 }, 5*time.Second, 10*time.Millisecond)
	eventually(t, func() bool {
		c := pop3test.Dial(t, addr) // the third ConnContext call panics
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
	srv, _ := newMemoryServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	release := make(chan struct{})
	addr := serveOn(t, srv, slowAddrListener{l, release, new(atomic.Int32)})

	slow := pop3test.Dial(t, addr)
	greeted := make(chan string, 1)
	go func() { greeted <- slow.ReadLine() }()
	transcript(t, addr, "S: +OK POP3 server ready...\nC: QUIT\nS: +OK...")
	select {
	case line := <-greeted:
		t.Fatalf("the slow connection was greeted before its address was known: %q", line)
	default:
	}
	close(release)
	assert.Contains(t, <-greeted, "+OK POP3 server ready")
}
