package pop3_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/pop3test"
)

// tlsRecorder is a backend that records the ConnInfo of every login.
type tlsRecorder struct {
	pop3.Backend
	mu    sync.Mutex
	infos []pop3.ConnInfo
}

func (r *tlsRecorder) Login(ctx context.Context, c *pop3.ConnInfo, username, password string) (pop3.User, error) {
	r.mu.Lock()
	r.infos = append(r.infos, *c)
	r.mu.Unlock()
	return r.Backend.Login(ctx, c, username, password)
}

func (r *tlsRecorder) lastInfo() pop3.ConnInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.infos[len(r.infos)-1]
}

func TestSTLS(t *testing.T) {
	rec := &tlsRecorder{Backend: aliceBackend(t, msgDots)}
	ts := pop3test.NewServer(t, rec, pop3test.WithTLS())

	c := ts.Dial()
	c.ReadReply()
	assert.Contains(t, c.Capa(), "STLS")
	c.Send("USER alice")
	require.Equal(t, "+OK send PASS", c.ReadLine())
	c.StartTLS(ts.ClientTLSConfig())

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
	ts := pop3test.NewServer(t, aliceBackend(t, msgDots), pop3test.WithTLS())

	c := ts.Dial()
	c.ReadReply()
	c.SendRaw("STLS\r\nUSER alice\r\n")
	require.Equal(t, "+OK begin TLS negotiation", c.ReadLine())
	c.UpgradeTLS(ts.ClientTLSConfig())
	c.Transcript(`
		C: NOOP
		S: -ERR command not valid in the AUTHORIZATION state
		C: PASS secret
		S: -ERR PASS must follow USER
	`)
}

func TestSTLSUnavailable(t *testing.T) {
	c := pop3test.NewServer(t, aliceBackend(t)).Dial()
	c.ReadReply()
	assert.NotContains(t, c.Capa(), "STLS")
	c.Transcript(`
		C: STLS
		S: -ERR STLS not available
		C: NOOP
		S: -ERR command not valid in the AUTHORIZATION state
	`)
}

// A failed STLS handshake ends that connection quietly; the server goes
// on.
func TestSTLSFailedHandshake(t *testing.T) {
	ts := pop3test.NewServer(t, aliceBackend(t), pop3test.WithTLS())
	c := ts.Dial()
	c.ReadReply()
	c.Send("STLS")
	require.Equal(t, "+OK begin TLS negotiation", c.ReadLine())
	c.SendRaw("this is not a TLS ClientHello\r\n")
	c.ExpectClosed()

	d := ts.Dial()
	d.ReadReply()
	d.StartTLS(ts.ClientTLSConfig())
	assert.Contains(t, d.Capa(), "USER")
}
