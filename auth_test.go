package pop3_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestAuthPlain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script string
	}{
		{"initial response", `
			C: AUTH PLAIN ` + b64("\x00alice\x00secret") + `
			S: +OK maildrop has 1 messages (82 octets)`},
		{"lower-case mechanism, authzid equal to the user", `
			C: auth plain ` + b64("alice\x00alice\x00secret") + `
			S: +OK maildrop has 1 messages (82 octets)`},
		{"no initial response", `
			C: AUTH PLAIN
			S: + 
			C: ` + b64("\x00alice\x00secret") + `
			S: +OK maildrop has 1 messages (82 octets)`},
		{"wrong password", `
			C: AUTH PLAIN ` + b64("\x00alice\x00wrong") + `
			S: -ERR [AUTH] authentication failed
			C: AUTH PLAIN ` + b64("\x00alice\x00secret") + `
			S: +OK maildrop has 1 messages (82 octets)`},
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
			S: +OK maildrop has 1 messages (82 octets)`},
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
			S: +OK maildrop has 1 messages (82 octets)
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
			srv, _ := newMemoryServer(t, msgDots)
			transcript(t, startServer(t, srv), "S: +OK ...\n"+tc.script)
		})
	}
}

// After a successful AUTH the maildrop works as after PASS, and the SASL
// capability is still listed (RFC 5034 §3).
func TestAuthThenTransaction(t *testing.T) {
	srv, _ := newMemoryServer(t, msgDots)
	addr := startServer(t, srv)
	c := transcript(t, addr, `
		S: +OK ...
		C: AUTH PLAIN `+b64("\x00alice\x00secret")+`
		S: +OK maildrop has 1 messages (82 octets)
		C: STAT
		S: +OK 1 82
	`)
	assert.Contains(t, c.capa(), "SASL PLAIN LOGIN")
}

// A SASL response may be longer than MaxLineLength, up to
// MaxAuthLineLength.
func TestAuthLongLines(t *testing.T) {
	be := &oauthBackend{fakeBackend: fakeBackend{msgs: []string{msgDots}}, token: strings.Repeat("t", 6000)}
	srv := pop3.NewServer(be)
	addr := startServer(t, srv)
	ir := b64("n,a=alice,\x01auth=Bearer " + be.token + "\x01\x01")
	require.Greater(t, len(ir), 2048)
	transcript(t, addr, `
		S: +OK ...
		C: AUTH OAUTHBEARER `+ir+`
		S: +OK maildrop has 1 messages (82 octets)
	`)
	transcript(t, addr, `
		S: +OK ...
		C: AUTH OAUTHBEARER
		S: + 
		C: `+ir+`
		S: +OK maildrop has 1 messages (82 octets)
	`)
	c := transcript(t, addr, `
		S: +OK ...
		C: AUTH OAUTHBEARER
		S: + 
	`)
	c.cmd(strings.Repeat("A", 20<<10))
	play(t, c, `
		S: -ERR SASL response too long
		C: NOOP
		S: -ERR command not valid in the AUTHORIZATION state
	`)
	// Other commands keep the normal limit.
	c.cmd("NOOP " + strings.Repeat("x", 3000))
	assert.Equal(t, "-ERR line too long", c.line())
}

// oauthBackend offers OAUTHBEARER through SASLBackend with go-sasl's
// server, accepting one token for alice.
type oauthBackend struct {
	fakeBackend
	token string
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
		authenticated(o.Username, fakeUser{&b.fakeBackend})
		return nil
	}), nil
}

func TestAuthOAuthBearer(t *testing.T) {
	be := &oauthBackend{fakeBackend: fakeBackend{msgs: []string{msgDots}}, token: "good-token"}
	srv := pop3.NewServer(be)
	addr := startServer(t, srv)
	good := b64("n,a=alice,\x01auth=Bearer good-token\x01\x01")
	bad := b64("n,a=alice,\x01auth=Bearer bad-token\x01\x01")
	blob, err := json.Marshal(sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"})
	require.NoError(t, err)
	failure := base64.StdEncoding.EncodeToString(blob)

	c := dial(t, addr)
	c.line()
	assert.Contains(t, c.capa(), "SASL PLAIN LOGIN OAUTHBEARER")
	play(t, c, `
		C: AUTH OAUTHBEARER `+bad+`
		S: + `+failure+`
		C: `+b64("\x01")+`
		S: -ERR [AUTH] authentication failed
		C: AUTH OAUTHBEARER `+good+`
		S: +OK maildrop has 1 messages (82 octets)
	`)

	// go-sasl's OAUTHBEARER server panics on an empty response after a
	// failure: the panic is recovered, and only this session ends.
	transcript(t, addr, `
		S: +OK ...
		C: AUTH OAUTHBEARER `+bad+`
		S: + `+failure+`
		C: =
		S: -ERR [SYS/TEMP] internal error
		S: <closed>
	`)
	transcript(t, addr, `
		S: +OK ...
		C: AUTH OAUTHBEARER `+good+`
		S: +OK maildrop has 1 messages (82 octets)
	`)
}

// Every credential failure waits AuthFailureDelay, and after
// MaxAuthFailures the connection is closed.
func TestAuthFailureDelayAndLimit(t *testing.T) {
	srv, _ := newMemoryServer(t)
	srv.AuthFailureDelay = 100 * time.Millisecond
	srv.MaxAuthFailures = 3
	addr := startServer(t, srv)
	c := dial(t, addr)
	g := c.line()
	ts := g[strings.Index(g, "<"):]
	start := time.Now()
	play(t, c, `
		C: USER alice
		S: +OK send PASS
		C: PASS wrong
		S: -ERR [AUTH] authentication failed
		C: APOP alice `+pop3.APOPDigest(ts, "wrong")+`
		S: -ERR [AUTH] authentication failed
		C: AUTH PLAIN `+b64("\x00alice\x00wrong")+`
		S: -ERR [AUTH] authentication failed; too many failed logins, closing connection
		S: <closed>
	`)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
}

// Backend *Errors reach the client with their code; a failure text never
// says "lock" or "wait", which fetchmail would read as a busy mailbox.
func TestLoginErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{pop3.ErrAuthFailed, "-ERR [AUTH] authentication failed"},
		{pop3.ErrLoginDelay, "-ERR [LOGIN-DELAY] login too soon after the previous one"},
		{&pop3.Error{Code: pop3.CodeSysPerm, Text: "account disabled"}, "-ERR [SYS/PERM] account disabled"},
		{errors.New("database is down at 10.0.0.5"), "-ERR [SYS/TEMP] login failed, try again later"},
	} {
		addr := startServer(t, pop3.NewServer(&fakeBackend{loginErr: tc.err}))
		for _, login := range []string{"USER alice\r\nPASS secret", "AUTH PLAIN " + b64("\x00alice\x00secret")} {
			c := dial(t, addr)
			c.line()
			c.send(login + "\r\n")
			if strings.HasPrefix(login, "USER") {
				c.line()
			}
			got := c.line()
			assert.Equal(t, tc.want, got, login)
			if tc.err == pop3.ErrAuthFailed {
				assert.NotContains(t, strings.ToLower(got), "lock")
				assert.NotContains(t, strings.ToLower(got), "wait")
			}
		}
	}
}

// successDataBackend offers XDATA, a mechanism that succeeds at once with
// additional data, as SCRAM's last step does.
type successDataBackend struct{ fakeBackend }

func (b *successDataBackend) SASLMechanisms(*pop3.ConnInfo) []string { return []string{"XDATA"} }

func (b *successDataBackend) SASLServer(_ context.Context, _ *pop3.ConnInfo, _ string, authenticated func(string, pop3.User)) (sasl.Server, error) {
	return saslFunc(func(response []byte) ([]byte, bool, error) {
		if string(response) != "alice" {
			return nil, true, errors.New("who?")
		}
		authenticated("alice", fakeUser{&b.fakeBackend})
		return []byte("server-signature"), true, nil
	}), nil
}

type saslFunc func([]byte) ([]byte, bool, error)

func (f saslFunc) Next(r []byte) ([]byte, bool, error) { return f(r) }

// Additional data with success goes out as a last challenge, answered by
// an empty response (RFC 5034 §4, RFC 4422 §5).
func TestAuthSuccessWithData(t *testing.T) {
	be := &successDataBackend{fakeBackend{msgs: []string{msgDots}}}
	addr := startServer(t, pop3.NewServer(be))
	transcript(t, addr, `
		S: +OK ...
		C: AUTH XDATA `+b64("alice")+`
		S: + `+b64("server-signature")+`
		C: =
		S: +OK maildrop has 1 messages (82 octets)
	`)
	transcript(t, addr, `
		S: +OK ...
		C: AUTH XDATA `+b64("alice")+`
		S: + `+b64("server-signature")+`
		C: `+b64("not empty")+`
		S: -ERR [AUTH] authentication failed
	`)
}

// A cancel after the client has answered counts as a failed login, so that
// a reject-then-wait mechanism cannot be used to guess without limit.
func TestAuthCancelAfterResponseCounts(t *testing.T) {
	be := &oauthBackend{fakeBackend: fakeBackend{msgs: []string{msgDots}}, token: "good"}
	srv := pop3.NewServer(be)
	srv.MaxAuthFailures = 2
	bad := b64("n,a=alice,\x01auth=Bearer bad\x01\x01")
	c := transcript(t, startServer(t, srv), `
		S: +OK ...
		C: AUTH OAUTHBEARER
		S: + 
		C: *
		S: -ERR authentication cancelled
		C: AUTH OAUTHBEARER `+bad+`
		S: + ...
		C: *
		S: -ERR [AUTH] authentication failed
	`)
	play(t, c, `
		C: AUTH OAUTHBEARER `+bad+`
		S: + ...
		C: *
		S: -ERR [AUTH] authentication failed; too many failed logins, closing connection
		S: <closed>
	`)
}

func TestSASLResponseWithCR(t *testing.T) {
	srv, _ := newMemoryServer(t)
	c := transcript(t, startServer(t, srv), `
		S: +OK ...
		C: AUTH PLAIN
		S: + 
	`)
	c.send("AGFs\raWNlAHNlY3JldA==\r\n")
	assert.Equal(t, "-ERR invalid base64 in SASL response", c.line())
}
