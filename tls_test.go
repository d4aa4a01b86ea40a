package pop3_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/testcert"
	"github.com/gopop3/pop3/pop3test"
)

// testCerts returns a server TLS config with a certificate for localhost
// and a client config that trusts its CA, all made in memory.
func testCerts(t testing.TB) (server, client *tls.Config) {
	c := testcert.New(t)
	return c.ServerTLS, c.ClientTLS
}

// tlsRecorder is a memory-like backend that records the ConnInfo of every
// login.
type tlsRecorder struct {
	fakeBackend
	mu    sync.Mutex
	infos []pop3.ConnInfo
}

func (r *tlsRecorder) Login(ctx context.Context, c *pop3.ConnInfo, username, password string) (pop3.User, error) {
	r.mu.Lock()
	r.infos = append(r.infos, *c)
	r.mu.Unlock()
	return r.fakeBackend.Login(ctx, c, username, password)
}

func (r *tlsRecorder) lastInfo() pop3.ConnInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.infos[len(r.infos)-1]
}

func TestSTLS(t *testing.T) {
	serverCfg, clientCfg := testCerts(t)
	rec := &tlsRecorder{fakeBackend: fakeBackend{msgs: []string{msgDots}}}
	srv := pop3.NewServer(rec)
	srv.TLSConfig = serverCfg
	addr := startServer(t, srv)

	c := pop3test.Dial(t, addr)
	c.ReadReply()
	assert.Contains(t, c.Capa(), "STLS")
	c.Send("USER alice")
	require.Equal(t, "+OK send PASS", c.ReadLine())
	c.StartTLS(clientCfg)

	caps := c.Capa()
	assert.NotContains(t, caps, "STLS", "CAPA reflects the new state")
	assert.Contains(t, caps, "USER")
	assert.Contains(t, caps, "SASL PLAIN LOGIN")
	c.Transcript(`
		C: PASS secret
		S: -ERR PASS must follow USER
		C: STLS
		S: -ERR TLS already active
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: +OK maildrop has 1 message (82 octets)
		C: STLS
		S: -ERR command not valid in the TRANSACTION state
	`)
	info := rec.lastInfo()
	require.NotNil(t, info.TLS, "the backend sees the TLS state")
	assert.True(t, info.TLS.HandshakeComplete)
	assert.Equal(t, "localhost", info.TLS.ServerName)
}

// Commands pipelined after STLS in cleartext are thrown away, never
// executed inside the TLS session (CVE-2011-0411).
func TestSTLSInjection(t *testing.T) {
	serverCfg, clientCfg := testCerts(t)
	srv, _ := newMemoryServer(t, msgDots)
	srv.TLSConfig = serverCfg
	addr := startServer(t, srv)

	c := pop3test.Dial(t, addr)
	c.ReadReply()
	c.SendRaw("STLS\r\nUSER alice\r\n")
	require.Equal(t, "+OK begin TLS negotiation", c.ReadLine())
	c.UpgradeTLS(clientCfg)
	c.Transcript(`
		C: NOOP
		S: -ERR command not valid in the AUTHORIZATION state
		C: PASS secret
		S: -ERR PASS must follow USER
	`)
}

func TestSTLSUnavailable(t *testing.T) {
	srv, _ := newMemoryServer(t)
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
	c.ReadReply()
	assert.NotContains(t, c.Capa(), "STLS")
	c.Transcript(`
		C: STLS
		S: -ERR STLS not available
		C: NOOP
		S: -ERR command not valid in the AUTHORIZATION state
	`)
}

func TestImplicitTLS(t *testing.T) {
	serverCfg, clientCfg := testCerts(t)
	rec := &tlsRecorder{fakeBackend: fakeBackend{msgs: []string{msgDots}}}
	srv := pop3.NewServer(rec)
	srv.TLSConfig = serverCfg
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := serveOn(t, srv, tls.NewListener(l, serverCfg))

	// A client that does not speak TLS gets no greeting and is closed.
	plain := pop3test.Dial(t, addr)
	plain.SendRaw("USER alice\r\n\r\n\r\n")
	plain.ExpectClosed()

	c := pop3test.DialTLS(t, addr, clientCfg)
	assert.True(t, strings.HasPrefix(c.ReadReply().Line, "+OK "))
	caps := c.Capa()
	assert.NotContains(t, caps, "STLS")
	assert.Contains(t, caps, "USER")
	c.Transcript(`
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: +OK maildrop has 1 message (82 octets)
	`)
	assert.NotNil(t, rec.lastInfo().TLS)
}

func TestListenAndServeTLSNeedsConfig(t *testing.T) {
	srv := pop3.NewServer(&fakeBackend{})
	assert.Error(t, srv.ListenAndServeTLS())

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	assert.EqualError(t, srv.ServeTLS(l), "pop3: ServeTLS needs Server.TLSConfig")
	_, err = l.Accept()
	assert.ErrorIs(t, err, net.ErrClosed, "ServeTLS closes its listener, as Serve does")
}

// One server serves ports 110 and 995 at once: Serve and ServeTLS.
func TestServeAndServeTLS(t *testing.T) {
	serverCfg, clientCfg := testCerts(t)
	srv, _ := newMemoryServer(t, msgDots)
	srv.TLSConfig = serverCfg
	addr := startServer(t, srv)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(l) }()

	implicit := pop3test.DialTLS(t, l.Addr().String(), clientCfg)
	implicit.Login("alice", "secret")
	assert.NotContains(t, implicit.Capa(), "STLS")

	cleartext := pop3test.Dial(t, addr)
	cleartext.StartTLS(clientCfg)
	cleartext.OK("USER alice")
	assert.Equal(t, "IN-USE", cleartext.Cmd("PASS secret").Code, "one server, one lock")

	require.NoError(t, srv.Close())
	assert.ErrorIs(t, <-served, pop3.ErrServerClosed)
}

// remoteConn makes a loopback connection look as if it came from far away.
type remoteConn struct{ net.Conn }

func (remoteConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 40000} // TEST-NET-1, never dialled
}

type remoteListener struct{ net.Listener }

func (l remoteListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return remoteConn{c}, nil
}

// The cleartext policy: TLS / loopback / remote address × AllowInsecureAuth.
func TestCleartextPolicy(t *testing.T) {
	serverCfg, clientCfg := testCerts(t)
	for _, tc := range []struct {
		name           string
		remote, useTLS bool
		allowInsecure  bool
		trusted        string // Server.TrustedNetworks
		allowed        bool
	}{
		{"loopback", false, false, false, "", true},
		{"loopback, insecure allowed", false, false, true, "", true},
		{"remote", true, false, false, "", false},
		{"remote, insecure allowed", true, false, true, "", true},
		{"remote over STLS", true, true, false, "", true},
		{"remote over STLS, insecure allowed", true, true, true, "", true},
		{"loopback over STLS", false, true, false, "", true},
		{"remote in a trusted network", true, false, false, "192.0.2.0/24", true},
		{"remote, a trusted IPv4-mapped network", true, false, false, "::ffff:192.0.2.7/128", true},
		{"remote outside the trusted networks", true, false, false, "192.0.2.8/29,10.0.0.0/8", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := newMemoryServer(t, msgDots)
			srv.TLSConfig = serverCfg
			srv.AllowInsecureAuth = tc.allowInsecure
			for _, p := range strings.FieldsFunc(tc.trusted, func(r rune) bool { return r == ',' }) {
				srv.TrustedNetworks = append(srv.TrustedNetworks, netip.MustParsePrefix(p))
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			var ln net.Listener = l
			if tc.remote {
				ln = remoteListener{l}
			}
			addr := serveOn(t, srv, ln)
			c := pop3test.Dial(t, addr)
			c.ReadReply()
			if tc.useTLS {
				c.StartTLS(clientCfg)
			}
			caps := c.Capa()
			if tc.allowed {
				if !tc.useTLS {
					assert.Contains(t, caps, "STLS", "a trusted client may still choose TLS")
				}
				assert.Contains(t, caps, "USER")
				assert.Contains(t, caps, "SASL PLAIN LOGIN")
				c.Send("USER alice")
				assert.Equal(t, "+OK send PASS", c.ReadLine())
				c.Send("PASS secret")
				assert.True(t, strings.HasPrefix(c.ReadReply().Line, "+OK maildrop"))
				return
			}
			assert.NotContains(t, caps, "USER")
			assert.NotContains(t, strings.Join(caps, " "), "SASL")
			assert.Contains(t, caps, "STLS")
			for _, cmd := range []string{"USER alice", "AUTH PLAIN AGFsaWNlAHNlY3JldA==", "AUTH LOGIN"} {
				c.Send(cmd)
				assert.Equal(t, "-ERR [AUTH] TLS is required for cleartext login: use STLS or the TLS port", c.ReadLine(), cmd)
			}
			c.Send("PASS secret")
			assert.Equal(t, "-ERR PASS must follow USER", c.ReadLine())
		})
	}
}

// A failed STLS handshake ends that connection quietly; the server goes
// on.
func TestSTLSFailedHandshake(t *testing.T) {
	serverCfg, clientCfg := testCerts(t)
	srv, _ := newMemoryServer(t)
	srv.TLSConfig = serverCfg
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
	c.ReadReply()
	c.Send("STLS")
	require.Equal(t, "+OK begin TLS negotiation", c.ReadLine())
	c.SendRaw("this is not a TLS ClientHello\r\n")
	c.ExpectClosed()

	d := pop3test.Dial(t, addr)
	d.ReadReply()
	d.StartTLS(clientCfg)
	assert.Contains(t, d.Capa(), "USER")
}
