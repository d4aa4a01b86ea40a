package pop3_test

import (
	"crypto/tls"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/testcert"
	"github.com/gopop3/pop3/pop3test"
)

func TestIdleTimeout(t *testing.T) {
	faulty := pop3test.NewFaultBackend(aliceBackend(t, msgDots))
	ts := pop3test.NewServer(t, faulty.Backend(), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.IdleTimeout = 200 * time.Millisecond
	}))
	c := ts.Dial()
	c.Login("alice", "secret")
	c.Transcript(`
		C: DELE 1
		S: +OK message 1 deleted
	`)
	// Commands reset the timer.
	for range 4 {
		time.Sleep(100 * time.Millisecond)
		c.Send("NOOP")
		require.Equal(t, "+OK", c.ReadLine())
	}
	start := time.Now()
	assert.Equal(t, "-ERR disconnected for inactivity", c.ReadLine())
	c.ExpectClosed()
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Zero(t, faulty.Calls(pop3test.OpDelete), "no UPDATE after a timeout")
	require.Eventually(t, func() bool { return faulty.Calls(pop3test.OpClose) == 1 }, 5*time.Second, 10*time.Millisecond)
}

// A client that trickles bytes cannot stay in AUTHORIZATION past
// AuthTimeout.
func TestAuthTimeout(t *testing.T) {
	ts := pop3test.NewServer(t, aliceBackend(t), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.AuthTimeout = 300 * time.Millisecond
		srv.IdleTimeout = time.Minute
	}))
	c := ts.Dial()
	c.ReadReply()
	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	conn := c.Conn() // the Client itself is for this goroutine only
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				if _, err := conn.Write([]byte("N")); err != nil {
					return
				}
			}
		}
	}()
	assert.Equal(t, "-ERR authentication took too long", c.ReadLine())
	c.ExpectClosed()
	assert.Less(t, time.Since(start), 3*time.Second)
}

// A client that stops reading in the middle of a large RETR is dropped
// after WriteTimeout, and its maildrop is closed.
func TestWriteTimeout(t *testing.T) {
	baseline := runtime.NumGoroutine()
	big := strings.Repeat(strings.Repeat("w", 98)+"\r\n", 500_000) // 50 MB
	// The fake serves the 50 MB as they are; the memory backend would
	// spend longer on storing them than the test on the rest.
	faulty := pop3test.NewFaultBackend(&fakeBackend{msgs: []string{big}})
	ts := pop3test.NewServer(t, faulty.Backend(), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.WriteTimeout = 200 * time.Millisecond
	}))
	c := ts.Dial()
	c.Login("alice", "secret")
	c.Send("RETR 1")
	// Read nothing more.
	require.Eventually(t, func() bool { return faulty.Calls(pop3test.OpClose) == 1 }, 10*time.Second, 10*time.Millisecond)
	c.Close()
	goroutinesSettle(t, baseline+2) // the server's accept loop and its cleanup
}

func TestImplicitTLS(t *testing.T) {
	certs := testcert.New(t)
	rec := &tlsRecorder{Backend: aliceBackend(t, msgDots)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ts := pop3test.NewServer(t, rec, pop3test.WithListener(tls.NewListener(l, certs.ServerTLS)),
		pop3test.WithConfig(func(srv *pop3.Server) { srv.TLSConfig = certs.ServerTLS }))

	// A client that does not speak TLS gets no greeting and is closed.
	plain := ts.Dial()
	plain.SendRaw("USER alice\r\n\r\n\r\n")
	plain.ExpectClosed()

	c := pop3test.DialTLS(t, ts.Addr, certs.ClientTLS)
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
