package pop3_test

import (
	"context"
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
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

func TestUserPass(t *testing.T) {
	ts := pop3test.NewServer(t, aliceBackend(t, msgDots))
	ts.Dial().Transcript(`
		S: +OK ...
		C: PASS secret
		S: -ERR PASS must follow USER
		C: USER nobody
		S: +OK send PASS
		C: PASS secret
		S: -ERR [AUTH] authentication failed
		C: USER alice
		S: +OK send PASS
		C: NOOP
		S: -ERR command not valid in the AUTHORIZATION state
		C: PASS secret
		S: -ERR PASS must follow USER
		C: user alice
		S: +OK send PASS
		C: pass secret
		S: +OK maildrop has 1 message (82 octets)
		C: QUIT
		S: +OK bye, 1 message left
		S: <closed>
	`)
}

func TestPasswordWithSpaces(t *testing.T) {
	b := memory.New()
	require.NoError(t, b.AddUser("carol", "  two words  "))
	c := pop3test.NewServer(t, b).Dial()
	c.Transcript(`
		S: +OK ...
		C: USER carol
		S: +OK send PASS
		C: PASS two words
		S: -ERR [AUTH] authentication failed
		C: USER carol
		S: +OK send PASS
	`)
	c.Send("PASS   two words  ")
	assert.Equal(t, "+OK maildrop has 0 messages (0 octets)", c.ReadLine())
}

// PASS is valid only right after a successful USER (RFC 1939 §7).
func TestPassAfterFailedUser(t *testing.T) {
	pop3test.NewServer(t, aliceBackend(t)).Dial().Transcript(`
		S: +OK ...
		C: USER alice
		S: +OK send PASS
		C: USER
		S: -ERR missing argument
		C: PASS secret
		S: -ERR PASS must follow USER
	`)
}

// A maildrop open in one session answers [IN-USE] to another, and the
// first session is untouched.
func TestMaildropLock(t *testing.T) {
	b := aliceBackend(t, msgDots, msgLF)
	ts := pop3test.NewServer(t, b)
	first := ts.Dial()
	first.Login("alice", "secret")
	first.Send("DELE 1")
	require.Equal(t, "+OK message 1 deleted", first.ReadLine())

	second := ts.Dial()
	second.Transcript(`
		S: +OK ...
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: -ERR [IN-USE] ...
		C: STAT
		S: -ERR command not valid in the AUTHORIZATION state
	`)

	first.Transcript(`
		C: STAT
		S: +OK 1 37
		C: QUIT
		S: +OK bye, 1 message left
		S: <closed>
	`)
	second.Transcript(`
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: +OK maildrop has 1 message (37 octets)
	`)
	left, err := b.Messages("alice")
	require.NoError(t, err)
	require.Len(t, left, 1)
	assert.Equal(t, msgLFasCRLF, string(left[0].Data))
}

func TestBackendErrors(t *testing.T) {
	faulty := pop3test.NewFaultBackend(aliceBackend(t, msgDots),
		pop3test.Fault{Op: pop3test.OpOpen, Err: errors.New("mount /var/mail/alice failed")})
	ts := pop3test.NewServer(t, faulty.Backend())
	ts.Dial().Transcript(`
		S: +OK ...
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: -ERR [SYS/TEMP] open failed, try again later
		C: QUIT
		S: +OK bye
	`)
	assert.Contains(t, ts.Logs(), "mount /var/mail/alice failed", "the detail goes to the log")
}

// Every credential failure waits AuthFailureDelay, and after
// MaxAuthFailures the connection is closed.
func TestAuthFailureDelayAndLimit(t *testing.T) {
	ts := pop3test.NewServer(t, aliceBackend(t), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.AuthFailureDelay = 100 * time.Millisecond
		srv.MaxAuthFailures = 3
	}))
	c := ts.Dial()
	c.ReadReply()
	stamp := c.Timestamp()
	start := time.Now()
	c.Transcript(`
		C: USER alice
		S: +OK send PASS
		C: PASS wrong
		S: -ERR [AUTH] authentication failed
		C: APOP alice ` + pop3.APOPDigest(stamp, "wrong") + `
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
		faulty := pop3test.NewFaultBackend(aliceBackend(t), pop3test.Fault{Op: pop3test.OpLogin, Err: tc.err})
		ts := pop3test.NewServer(t, faulty.Backend())
		for _, login := range []string{"USER alice\r\nPASS secret", "AUTH PLAIN " + b64("\x00alice\x00secret")} {
			c := ts.Dial()
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
				ts := pop3test.NewServer(t, failingLogins{tc.err}, pop3test.WithConfig(func(srv *pop3.Server) {
					srv.AuthFailureDelay = delay
					srv.MaxAuthFailures = 2
				}))
				c := ts.Dial()
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
				require.NoError(t, ts.Config.Close())

				logs := ts.Logs()
				assert.NotContains(t, logs, "level=ERROR")
				assert.Contains(t, logs, `msg="pop3: authentication failed"`)
				assert.Regexp(t, `method="?`+method+`"?( user=alice)?( err="[^"]*")? failures=2`, logs)
				var e *pop3.Error
				if !errors.As(tc.err, &e) && method != "AUTH XTEST" {
					assert.Contains(t, logs, "level=WARN", "the backend's error is for the operator")
					assert.Contains(t, logs, "db-7")
				}
				assert.NotContains(t, logs, "guess")
			})
		}
	}
}

// A deliberate [LOGIN-DELAY] or [IN-USE] says the credentials were right:
// it is not a failed login, so it neither waits nor counts.
func TestLoginDelayAndInUseDoNotCount(t *testing.T) {
	for _, err := range []error{pop3.ErrLoginDelay, pop3.ErrMailboxLocked} {
		for _, method := range loginMethods {
			c := pop3test.NewServer(t, failingLogins{err}, pop3test.WithConfig(func(srv *pop3.Server) {
				srv.AuthFailureDelay = time.Hour
				srv.MaxAuthFailures = 1
			})).Dial()
			c.ReadReply()
			for range 3 {
				assert.Equal(t, "-ERR "+err.Error(), loginAttempt(t, c, method), method)
			}
		}
	}
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
	ts := pop3test.NewServer(t, be)
	c := ts.Dial()
	c.ReadReply()
	c.Send("USER alice")
	c.ReadReply()
	c.Send("PASS secret")
	<-be.entered
	// Closes the server, and fails the test unless Close returned nil and
	// Serve pop3.ErrServerClosed.
	ts.Close()
	assert.NotContains(t, ts.Logs(), "authentication failed")
	assert.Contains(t, ts.Logs(), `reason=server_closed`)
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
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			var ln net.Listener = l
			if tc.remote {
				ln = remoteListener{l}
			}
			ts := pop3test.NewServer(t, aliceBackend(t, msgDots), pop3test.WithTLS(), pop3test.WithListener(ln),
				pop3test.WithConfig(func(srv *pop3.Server) {
					srv.AllowInsecureAuth = tc.allowInsecure
					for _, p := range strings.FieldsFunc(tc.trusted, func(r rune) bool { return r == ',' }) {
						srv.TrustedNetworks = append(srv.TrustedNetworks, netip.MustParsePrefix(p))
					}
				}))
			c := ts.Dial()
			c.ReadReply()
			if tc.useTLS {
				c.StartTLS(ts.ClientTLSConfig())
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
