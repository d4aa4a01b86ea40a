package pop3_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
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
		S: +OK maildrop has 1 message (82 octets)
		C: STAT
		S: +OK 1 82
	`)
	assert.Contains(t, c.Capa(), "SASL PLAIN LOGIN")
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
		S: +OK maildrop has 1 message (82 octets)
	`)
	transcript(t, addr, `
		S: +OK ...
		C: AUTH OAUTHBEARER
		S: + 
		C: `+ir+`
		S: +OK maildrop has 1 message (82 octets)
	`)
	c := transcript(t, addr, `
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

	c := pop3test.Dial(t, addr)
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
		S: +OK maildrop has 1 message (82 octets)
	`)
}

// Every credential failure waits AuthFailureDelay, and after
// MaxAuthFailures the connection is closed.
func TestAuthFailureDelayAndLimit(t *testing.T) {
	srv, _ := newMemoryServer(t)
	srv.AuthFailureDelay = 100 * time.Millisecond
	srv.MaxAuthFailures = 3
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
	c.ReadReply()
	ts := c.Timestamp()
	start := time.Now()
	c.Transcript(`
		C: USER alice
		S: +OK send PASS
		C: PASS wrong
		S: -ERR [AUTH] authentication failed
		C: APOP alice ` + pop3.APOPDigest(ts, "wrong") + `
		S: -ERR [AUTH] authentication failed
		C: AUTH PLAIN ` + b64("\x00alice\x00wrong") + `
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
			c := pop3test.Dial(t, addr)
			c.ReadReply()
			c.SendRaw(login + "\r\n")
			if strings.HasPrefix(login, "USER") {
				c.ReadReply()
			}
			got := c.ReadReply().Line
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
		S: +OK maildrop has 1 message (82 octets)
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
	c.Transcript(`
		C: AUTH OAUTHBEARER ` + bad + `
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
	c.SendRaw("AGFs\raWNlAHNlY3JldA==\r\n")
	assert.Equal(t, "-ERR invalid base64 in SASL response", c.ReadLine())
}

// failingLogins refuses every login method with err: Login (USER/PASS,
// AUTH PLAIN, AUTH LOGIN), LoginAPOP, and a SASL mechanism of its own.
type failingLogins struct{ err error }

func (b failingLogins) Login(context.Context, *pop3.ConnInfo, string, string) (pop3.User, error) {
	return nil, b.err
}

func (b failingLogins) LoginAPOP(context.Context, *pop3.ConnInfo, string, string, string) (pop3.User, error) {
	return nil, b.err
}

func (b failingLogins) SASLMechanisms(*pop3.ConnInfo) []string { return []string{"XTEST"} }

func (b failingLogins) SASLServer(context.Context, *pop3.ConnInfo, string, func(string, pop3.User)) (sasl.Server, error) {
	return saslFunc(func([]byte) ([]byte, bool, error) { return nil, true, b.err }), nil
}

// loginAttempt sends one login attempt of the given method for user alice
// and returns the reply that ends it. The greeting must have been read.
func loginAttempt(t testing.TB, c *pop3test.Client, method string) string {
	t.Helper()
	switch method {
	case "USER":
		c.Send("USER alice")
		require.Equal(t, "+OK send PASS", c.ReadLine())
		c.Send("PASS guess")
	case "APOP":
		c.Send("APOP alice " + pop3.APOPDigest(c.Timestamp(), "guess"))
	case "AUTH PLAIN":
		c.Send("AUTH PLAIN " + b64("\x00alice\x00guess"))
	case "AUTH LOGIN":
		c.Send("AUTH LOGIN " + b64("alice"))
		require.Equal(t, "+ "+b64("Password:"), c.ReadLine())
		c.Send(b64("guess"))
	case "AUTH XTEST":
		c.Send("AUTH XTEST " + b64("alice"))
	}
	return c.ReadReply().Line
}

var loginMethods = []string{"USER", "APOP", "AUTH PLAIN", "AUTH LOGIN", "AUTH XTEST"}

// Every error from a login method counts towards MaxAuthFailures and waits
// AuthFailureDelay, whatever its type: a backend that returns a plain
// error, or an *Error without code, gives no free guesses. The reply keeps
// the error's code; a plain error's detail goes only to the log, at
// warning level (not an ERROR per guess).
func TestEveryFailedLoginCounts(t *testing.T) {
	const delay = 40 * time.Millisecond
	for _, tc := range []struct {
		name      string
		err       error
		reply     string // for Login and LoginAPOP
		saslReply string // for the backend's own mechanism
	}{
		{"plain error", errors.New("wrong password for alice at db-7"),
			"-ERR [SYS/TEMP] login failed, try again later", "-ERR [AUTH] authentication failed"},
		{"Error without code", &pop3.Error{Text: "wrong password"}, "-ERR wrong password", "-ERR wrong password"},
		{"ErrAuthFailed", fmt.Errorf("checking: %w", pop3.ErrAuthFailed),
			"-ERR [AUTH] authentication failed", "-ERR [AUTH] authentication failed"},
		{"SYS/PERM", &pop3.Error{Code: pop3.CodeSysPerm, Text: "account disabled"},
			"-ERR [SYS/PERM] account disabled", "-ERR [SYS/PERM] account disabled"},
	} {
		for _, method := range loginMethods {
			t.Run(tc.name+"/"+method, func(t *testing.T) {
				srv := pop3.NewServer(failingLogins{tc.err})
				srv.AuthFailureDelay = delay
				srv.MaxAuthFailures = 2
				logs := captureLogs(srv)
				addr := startServer(t, srv)
				c := pop3test.Dial(t, addr)
				c.ReadReply()
				want := tc.reply
				if method == "AUTH XTEST" {
					want = tc.saslReply
				}
				start := time.Now()
				assert.Equal(t, want, loginAttempt(t, c, method))
				assert.GreaterOrEqual(t, time.Since(start), delay, "the failure waits AuthFailureDelay")
				assert.Equal(t, want+"; too many failed logins, closing connection", loginAttempt(t, c, method))
				c.ExpectClosed()
				require.NoError(t, srv.Close())

				assert.NotContains(t, logs.String(), "level=ERROR")
				assert.Contains(t, logs.String(), `msg="pop3: authentication failed"`)
				assert.Regexp(t, `method="?`+method+`"?( user=alice)?( err="[^"]*")? failures=2`, logs.String())
				var e *pop3.Error
				if !errors.As(tc.err, &e) && method != "AUTH XTEST" {
					assert.Contains(t, logs.String(), "level=WARN", "the backend's error is for the operator")
					assert.Contains(t, logs.String(), "db-7")
				}
				assert.NotContains(t, logs.String(), "guess")
			})
		}
	}
}

// A deliberate [LOGIN-DELAY] or [IN-USE] says the credentials were right:
// it is not a failed login, so it neither waits nor counts.
func TestLoginDelayAndInUseDoNotCount(t *testing.T) {
	for _, err := range []error{pop3.ErrLoginDelay, pop3.ErrMailboxLocked} {
		for _, method := range loginMethods {
			srv := pop3.NewServer(failingLogins{err})
			srv.AuthFailureDelay = time.Hour
			srv.MaxAuthFailures = 1
			c := pop3test.Dial(t, startServer(t, srv))
			c.ReadReply()
			for range 3 {
				assert.Equal(t, "-ERR "+err.Error(), loginAttempt(t, c, method), method)
			}
		}
	}
}

// The per-address penalty outlives the connection: after failures on one
// connection, a login from the same address on a new one waits before
// its credentials are checked, even when they are right.
func TestAuthPenaltyAcrossConnections(t *testing.T) {
	const penalty = 300 * time.Millisecond
	srv, _ := newMemoryServer(t)
	srv.MaxAuthPenalty = penalty
	srv.AuthFailureDelay = -1
	srv.MaxAuthFailures = 2
	addr := startServer(t, srv)

	login := func() time.Duration {
		c := pop3test.Dial(t, addr)
		start := time.Now()
		c.Login("alice", "secret")
		took := time.Since(start)
		c.Send("QUIT")
		c.ReadReply()
		return took
	}
	assert.Less(t, login(), penalty, "no failures yet")
	transcript(t, addr, `
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
	srv, _ := newMemoryServer(t)
	srv.MaxAuthPenalty = time.Hour
	srv.AuthFailureDelay = -1
	srv.MaxAuthFailures = 2
	srv.TrustedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	addr := startServer(t, srv)
	for range 3 {
		transcript(t, addr, `
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
	assert.Zero(t, srv.PenalizedAddresses())
	c := pop3test.Dial(t, addr)
	c.ReadReply()
	start := time.Now()
	c.Login("alice", "secret")
	assert.Less(t, time.Since(start), time.Second, "no penalty after six failures")
}

// An invalid TrustedNetworks prefix is a configuration error, reported by
// Serve rather than matching nothing.
func TestTrustedNetworksInvalid(t *testing.T) {
	for _, p := range []netip.Prefix{{}, netip.PrefixFrom(netip.MustParseAddr("::ffff:10.0.0.0"), 80)} {
		srv, _ := newMemoryServer(t)
		srv.TrustedNetworks = []netip.Prefix{p}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		err = srv.Serve(l)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "TrustedNetworks")
	}
}

// A server that asks for no penalty gets none.
func TestAuthPenaltyOff(t *testing.T) {
	srv, _ := newMemoryServer(t)
	srv.MaxAuthPenalty = -1
	srv.AuthFailureDelay = -1
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
	c.ReadReply()
	for range 5 {
		c.Send("APOP alice " + strings.Repeat("0", 32))
		require.Equal(t, "-ERR [AUTH] authentication failed", c.ReadLine())
		c = pop3test.Dial(t, addr)
		c.ReadReply()
	}
	start := time.Now()
	c.Send("USER alice")
	c.ReadReply()
	c.Send("PASS secret")
	assert.True(t, strings.HasPrefix(c.ReadReply().Line, "+OK"))
	assert.Less(t, time.Since(start), time.Second)
}

// A cancel after the client has responded counts, also when it answers
// the success-data challenge.
func TestAuthCancelAfterSuccessDataCounts(t *testing.T) {
	be := &successDataBackend{fakeBackend{msgs: []string{msgDots}}}
	srv := pop3.NewServer(be)
	srv.MaxAuthFailures = 1
	transcript(t, startServer(t, srv), `
		S: +OK ...
		C: AUTH XDATA `+b64("alice")+`
		S: + `+b64("server-signature")+`
		C: *
		S: -ERR [AUTH] authentication failed; too many failed logins, closing connection
		S: <closed>
	`)
}

// blockingLogin waits in Login until its context ends.
type blockingLogin struct{ entered chan struct{} }

func (b blockingLogin) Login(ctx context.Context, _ *pop3.ConnInfo, _, _ string) (pop3.User, error) {
	close(b.entered)
	<-ctx.Done()
	return nil, ctx.Err()
}

// A login cut short by Close is not a failed login: it is neither logged
// as one nor held against the address.
func TestLoginCutShortByCloseDoesNotCount(t *testing.T) {
	be := blockingLogin{entered: make(chan struct{})}
	srv := pop3.NewServer(be)
	logs := captureLogs(srv)
	addr, served := serveUnmanaged(t, srv)
	c := pop3test.Dial(t, addr)
	c.ReadReply()
	c.Send("USER alice")
	c.ReadReply()
	c.Send("PASS secret")
	<-be.entered
	require.NoError(t, srv.Close())
	require.ErrorIs(t, <-served, pop3.ErrServerClosed)
	assert.NotContains(t, logs.String(), "authentication failed")
	assert.Contains(t, logs.String(), `reason=server_closed`)
}

// saslMechsPanic panics when asked for its mechanisms.
type saslMechsPanic struct{ fakeBackend }

func (b *saslMechsPanic) SASLMechanisms(*pop3.ConnInfo) []string { panic("mechanisms") }

func (b *saslMechsPanic) SASLServer(context.Context, *pop3.ConnInfo, string, func(string, pop3.User)) (sasl.Server, error) {
	return nil, errors.New("unused")
}

// A bare AUTH whose backend panics gets one clean -ERR, not +OK then -ERR.
func TestBareAuthPanicOneReply(t *testing.T) {
	transcript(t, startServer(t, pop3.NewServer(&saslMechsPanic{})), `
		S: +OK ...
		C: AUTH
		S: -ERR [SYS/TEMP] internal error
		S: <closed>
	`)
}
