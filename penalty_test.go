package pop3_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/pop3test"
)

// The per-address penalty outlives the connection: after failures on one
// connection, a login from the same address on a new one waits before
// its credentials are checked, even when they are right.
func TestAuthPenaltyAcrossConnections(t *testing.T) {
	const penalty = 300 * time.Millisecond
	ts := pop3test.NewServer(t, aliceBackend(t), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.MaxAuthPenalty = penalty
		srv.AuthFailureDelay = -1
		srv.MaxAuthFailures = 2
	}))

	login := func() time.Duration {
		c := ts.Dial()
		start := time.Now()
		c.Login("alice", "secret")
		took := time.Since(start)
		c.Send("QUIT")
		c.ReadReply()
		return took
	}
	assert.Less(t, login(), penalty, "no failures yet")
	ts.Dial().Transcript(`
		S: +OK ...
		C: USER alice
		S: +OK send PASS
		C: PASS wrong
		S: -ERR [AUTH] authentication failed
		C: USER alice
		S: +OK send PASS
		C: PASS wrong
		S: -ERR [AUTH] authentication failed; too many failed logins, closing connection
		S: <closed>
	`)
	assert.GreaterOrEqual(t, login(), penalty, "a new connection from the same address pays the penalty")
}

// A client in TrustedNetworks (a webmail host) pays no per-address
// penalty for its failures, however many; it still waits AuthFailureDelay
// and is cut off after MaxAuthFailures on one connection.
func TestAuthPenaltySparesTrustedNetworks(t *testing.T) {
	ts := pop3test.NewServer(t, aliceBackend(t), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.MaxAuthPenalty = time.Hour
		srv.AuthFailureDelay = -1
		srv.MaxAuthFailures = 2
		srv.TrustedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}))
	for range 3 {
		ts.Dial().Transcript(`
			S: +OK ...
			C: USER alice
			S: +OK send PASS
			C: PASS wrong
			S: -ERR [AUTH] authentication failed
			C: USER bob
			S: +OK send PASS
			C: PASS wrong
			S: -ERR [AUTH] authentication failed; too many failed logins, closing connection
			S: <closed>
		`)
	}
	assert.Zero(t, ts.Config.PenalizedAddresses())
	c := ts.Dial()
	c.ReadReply()
	start := time.Now()
	c.Login("alice", "secret")
	assert.Less(t, time.Since(start), time.Second, "no penalty after six failures")
}

// A server that asks for no penalty gets none.
func TestAuthPenaltyOff(t *testing.T) {
	ts := pop3test.NewServer(t, aliceBackend(t), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.MaxAuthPenalty = -1
		srv.AuthFailureDelay = -1
	}))
	c := ts.Dial()
	c.ReadReply()
	for range 5 {
		c.Send("APOP alice " + strings.Repeat("0", 32))
		require.Equal(t, "-ERR [AUTH] authentication failed", c.ReadLine())
		c = ts.Dial()
		c.ReadReply()
	}
	start := time.Now()
	c.Send("USER alice")
	c.ReadReply()
	c.Send("PASS secret")
	assert.True(t, strings.HasPrefix(c.ReadReply().Line, "+OK"))
	assert.Less(t, time.Since(start), time.Second)
}
