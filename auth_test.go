package pop3_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestAuthPlain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script string
	}{
		{"initial response", `
			C: AUTH PLAIN ` + b64("\x00alice\x00secret") + `
			S: +OK maildrop has 1 message (82 octets)`},
		{"lower-case mechanism, authzid equal to the user", `
			C: auth plain ` + b64("alice\x00alice\x00secret") + `
			S: +OK maildrop has 1 message (82 octets)`},
		{"no initial response", `
			C: AUTH PLAIN
			S: + 
			C: ` + b64("\x00alice\x00secret") + `
			S: +OK maildrop has 1 message (82 octets)`},
		{"wrong password", `
			C: AUTH PLAIN ` + b64("\x00alice\x00wrong") + `
			S: -ERR [AUTH] authentication failed
			C: AUTH PLAIN ` + b64("\x00alice\x00secret") + `
			S: +OK maildrop has 1 message (82 octets)`},
		{"another authzid", `
			C: AUTH PLAIN ` + b64("root\x00alice\x00secret") + `
			S: -ERR [AUTH] authentication failed`},
		{"empty initial response", `
			C: AUTH PLAIN =
			S: -ERR [AUTH] authentication failed
			C: STAT
			S: -ERR command not valid in the AUTHORIZATION state`},
		{"cancelled", `
			C: AUTH PLAIN
			S: + 
			C: *
			S: -ERR authentication cancelled
			C: USER alice
			S: +OK send PASS
			C: PASS secret
			S: +OK maildrop has 1 message (82 octets)`},
		{"invalid base64 inline", `
			C: AUTH PLAIN !!!notbase64
			S: -ERR invalid base64 in SASL response`},
		{"invalid base64 in continuation", `
			C: AUTH PLAIN
			S: + 
			C: %%%
			S: -ERR invalid base64 in SASL response
			C: NOOP
			S: -ERR command not valid in the AUTHORIZATION state`},
		{"unknown mechanism", `
			C: AUTH CRAM-MD5
			S: -ERR unsupported SASL mechanism`},
		{"too many arguments", `
			C: AUTH PLAIN a b
			S: -ERR too many arguments`},
		{"bare AUTH lists mechanisms", `
			C: AUTH
			S: +OK SASL mechanisms follow
			S: PLAIN
			S: LOGIN
			S: .`},
		{"LOGIN", `
			C: AUTH LOGIN
			S: + ` + b64("Username:") + `
			C: ` + b64("alice") + `
			S: + ` + b64("Password:") + `
			C: ` + b64("secret") + `
			S: +OK maildrop has 1 message (82 octets)
			C: AUTH PLAIN
			S: -ERR command not valid in the TRANSACTION state`},
		{"LOGIN with initial response", `
			C: AUTH LOGIN ` + b64("alice") + `
			S: + ` + b64("Password:") + `
			C: ` + b64("wrong") + `
			S: -ERR [AUTH] authentication failed`},
		{"LOGIN cancelled", `
			C: AUTH LOGIN
			S: + ` + b64("Username:") + `
			C: *
			S: -ERR authentication cancelled`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pop3test.NewServer(t, aliceBackend(t, msgDots)).Dial().Transcript("S: +OK ...\n" + tc.script)
		})
	}
}

// After a successful AUTH the maildrop works as after PASS, and the SASL
// capability is still listed (RFC 5034 §3).
func TestAuthThenTransaction(t *testing.T) {
	c := pop3test.NewServer(t, aliceBackend(t, msgDots)).Dial()
	c.Transcript(`
		S: +OK ...
		C: AUTH PLAIN ` + b64("\x00alice\x00secret") + `
		S: +OK maildrop has 1 message (82 octets)
		C: STAT
		S: +OK 1 82
	`)
	assert.Contains(t, c.Capa(), "SASL PLAIN LOGIN")
}

// withAlice returns a memory backend in which alice (password "secret")
// holds msgDots, and alice as a User, for a SASL mechanism of a test's to
// log in.
func withAlice(t *testing.T) (pop3.Backend, pop3.User) {
	t.Helper()
	b := aliceBackend(t, msgDots)
	alice, err := b.Login(t.Context(), &pop3.ConnInfo{}, "alice", "secret")
	require.NoError(t, err)
	return b, alice
}

// A SASL response may be longer than MaxLineLength, up to
// MaxAuthLineLength.
func TestAuthLongLines(t *testing.T) {
	be := newOAuthBackend(t, strings.Repeat("t", 6000))
	ts := pop3test.NewServer(t, be)
	ir := b64("n,a=alice,\x01auth=Bearer " + be.token + "\x01\x01")
	require.Greater(t, len(ir), 2048)
	c := ts.Dial()
	c.Transcript(`
		S: +OK ...
		C: AUTH OAUTHBEARER ` + ir + `
		S: +OK maildrop has 1 message (82 octets)
	`)
	c.Quit() // releases alice's maildrop for the next session
	c = ts.Dial()
	c.Transcript(`
		S: +OK ...
		C: AUTH OAUTHBEARER
		S: + 
		C: ` + ir + `
		S: +OK maildrop has 1 message (82 octets)
	`)
	c.Quit()
	c = ts.Dial()
	c.Transcript(`
		S: +OK ...
		C: AUTH OAUTHBEARER
		S: + 
	`)
	c.Send(strings.Repeat("A", 20<<10))
	c.Transcript(`
		S: -ERR SASL response too long
		C: NOOP
		S: -ERR command not valid in the AUTHORIZATION state
	`)
	// Other commands keep the normal limit.
	c.Send("NOOP " + strings.Repeat("x", 3000))
	assert.Equal(t, "-ERR line too long", c.ReadLine())
}

// oauthBackend offers OAUTHBEARER through SASLBackend with go-sasl's
// server, accepting one token for alice.
type oauthBackend struct {
	pop3.Backend
	alice pop3.User
	token string
}

func newOAuthBackend(t *testing.T, token string) *oauthBackend {
	b, alice := withAlice(t)
	return &oauthBackend{Backend: b, alice: alice, token: token}
}

func (b *oauthBackend) SASLMechanisms(*pop3.ConnInfo) []string { return []string{"OAUTHBEARER"} }

func (b *oauthBackend) SASLServer(_ context.Context, _ *pop3.ConnInfo, mech string, authenticated func(string, pop3.User)) (sasl.Server, error) {
	if mech != "OAUTHBEARER" {
		return nil, errors.New("unexpected mechanism")
	}
	return sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
		if o.Username != "alice" || o.Token != b.token {
			return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"}
		}
		authenticated(o.Username, b.alice)
		return nil
	}), nil
}

func TestAuthOAuthBearer(t *testing.T) {
	ts := pop3test.NewServer(t, newOAuthBackend(t, "good-token"))
	good := b64("n,a=alice,\x01auth=Bearer good-token\x01\x01")
	bad := b64("n,a=alice,\x01auth=Bearer bad-token\x01\x01")
	blob, err := json.Marshal(sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"})
	require.NoError(t, err)
	failure := base64.StdEncoding.EncodeToString(blob)

	c := ts.Dial()
	c.ReadReply()
	assert.Contains(t, c.Capa(), "SASL PLAIN LOGIN OAUTHBEARER")
	c.Transcript(`
		C: AUTH OAUTHBEARER ` + bad + `
		S: + ` + failure + `
		C: ` + b64("\x01") + `
		S: -ERR [AUTH] authentication failed
		C: AUTH OAUTHBEARER ` + good + `
		S: +OK maildrop has 1 message (82 octets)
	`)
	c.Quit() // releases alice's maildrop for the last session

	// go-sasl's OAUTHBEARER server panics on an empty response after a
	// failure: the panic is recovered, and only this session ends.
	ts.Dial().Transcript(`
		S: +OK ...
		C: AUTH OAUTHBEARER ` + bad + `
		S: + ` + failure + `
		C: =
		S: -ERR [SYS/TEMP] internal error
		S: <closed>
	`)
	ts.Dial().Transcript(`
		S: +OK ...
		C: AUTH OAUTHBEARER ` + good + `
		S: +OK maildrop has 1 message (82 octets)
	`)
}

// successDataBackend offers XDATA, a mechanism that succeeds at once with
// additional data, as SCRAM's last step does.
type successDataBackend struct {
	pop3.Backend
	alice pop3.User
}

func newSuccessDataBackend(t *testing.T) successDataBackend {
	b, alice := withAlice(t)
	return successDataBackend{b, alice}
}

func (b successDataBackend) SASLMechanisms(*pop3.ConnInfo) []string { return []string{"XDATA"} }

func (b successDataBackend) SASLServer(_ context.Context, _ *pop3.ConnInfo, _ string, authenticated func(string, pop3.User)) (sasl.Server, error) {
	return saslFunc(func(response []byte) ([]byte, bool, error) {
		if string(response) != "alice" {
			return nil, true, errors.New("who?")
		}
		authenticated("alice", b.alice)
		return []byte("server-signature"), true, nil
	}), nil
}

type saslFunc func([]byte) ([]byte, bool, error)

func (f saslFunc) Next(r []byte) ([]byte, bool, error) { return f(r) }

// Additional data with success goes out as a last challenge, answered by
// an empty response (RFC 5034 §4, RFC 4422 §5).
func TestAuthSuccessWithData(t *testing.T) {
	ts := pop3test.NewServer(t, newSuccessDataBackend(t))
	ts.Dial().Transcript(`
		S: +OK ...
		C: AUTH XDATA ` + b64("alice") + `
		S: + ` + b64("server-signature") + `
		C: =
		S: +OK maildrop has 1 message (82 octets)
	`)
	ts.Dial().Transcript(`
		S: +OK ...
		C: AUTH XDATA ` + b64("alice") + `
		S: + ` + b64("server-signature") + `
		C: ` + b64("not empty") + `
		S: -ERR [AUTH] authentication failed
	`)
}

// A cancel after the client has answered counts as a failed login, so that
// a reject-then-wait mechanism cannot be used to guess without limit.
func TestAuthCancelAfterResponseCounts(t *testing.T) {
	ts := pop3test.NewServer(t, newOAuthBackend(t, "good"), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.MaxAuthFailures = 2
	}))
	bad := b64("n,a=alice,\x01auth=Bearer bad\x01\x01")
	c := ts.Dial()
	c.Transcript(`
		S: +OK ...
		C: AUTH OAUTHBEARER
		S: + 
		C: *
		S: -ERR authentication cancelled
		C: AUTH OAUTHBEARER ` + bad + `
		S: + ...
		C: *
		S: -ERR [AUTH] authentication failed
	`)
	c.Transcript(`
		C: AUTH OAUTHBEARER ` + bad + `
		S: + ...
		C: *
		S: -ERR [AUTH] authentication failed; too many failed logins, closing connection
		S: <closed>
	`)
}

// A cancel after the client has responded counts, also when it answers
// the success-data challenge.
func TestAuthCancelAfterSuccessDataCounts(t *testing.T) {
	ts := pop3test.NewServer(t, newSuccessDataBackend(t), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.MaxAuthFailures = 1
	}))
	ts.Dial().Transcript(`
		S: +OK ...
		C: AUTH XDATA ` + b64("alice") + `
		S: + ` + b64("server-signature") + `
		C: *
		S: -ERR [AUTH] authentication failed; too many failed logins, closing connection
		S: <closed>
	`)
}

func TestSASLResponseWithCR(t *testing.T) {
	c := pop3test.NewServer(t, aliceBackend(t)).Dial()
	c.Transcript(`
		S: +OK ...
		C: AUTH PLAIN
		S: + 
	`)
	c.SendRaw("AGFs\raWNlAHNlY3JldA==\r\n")
	assert.Equal(t, "-ERR invalid base64 in SASL response", c.ReadLine())
}

// saslMechsPanic panics when asked for its mechanisms.
type saslMechsPanic struct{ pop3.Backend }

func (saslMechsPanic) SASLMechanisms(*pop3.ConnInfo) []string { panic("mechanisms") }

func (saslMechsPanic) SASLServer(context.Context, *pop3.ConnInfo, string, func(string, pop3.User)) (sasl.Server, error) {
	return nil, errors.New("unused")
}

// A bare AUTH whose backend panics gets one clean -ERR, not +OK then -ERR.
func TestBareAuthPanicOneReply(t *testing.T) {
	pop3test.NewServer(t, saslMechsPanic{memory.New()}).Dial().Transcript(`
		S: +OK ...
		C: AUTH
		S: -ERR [SYS/TEMP] internal error
		S: <closed>
	`)
}
