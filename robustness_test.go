package pop3_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/syncbuf"
	"github.com/gopop3/pop3/pop3test"
)

// goroutinesSettle waits until the goroutine count is back to at most
// baseline.
func goroutinesSettle(t testing.TB, baseline int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines leaked: %d > %d\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// captureLogs sends srv's log records, as text, to a buffer.
func captureLogs(srv *pop3.Server) *syncbuf.Buffer {
	lc := &syncbuf.Buffer{}
	srv.Logger = slog.New(slog.NewTextHandler(lc, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return lc
}

func TestLineTooLong(t *testing.T) {
	srv, _ := newMemoryServer(t, msgDots)
	srv.MaxLineLength = 100
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
	c.ReadReply()
	// The answer comes as soon as the limit is passed, before any LF.
	c.SendRaw(strings.Repeat("x", 150))
	assert.Equal(t, "-ERR line too long", c.ReadLine())
	c.SendRaw(strings.Repeat("y", 5000) + "\r\n")
	// A line of exactly the limit, CRLF included, is fine.
	c.Send("USER " + strings.Repeat("a", 100-len("USER \r\n")))
	assert.Equal(t, "+OK send PASS", c.ReadLine())
	c.Send("USER " + strings.Repeat("a", 101-len("USER \r\n")))
	assert.Equal(t, "-ERR line too long", c.ReadLine())
	c.Transcript(`
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: +OK maildrop has 1 message (82 octets)
	`)
}

// The overlong line that passes MaxBadCommands gets one -ERR, not two.
func TestLineTooLongLimitAnsweredOnce(t *testing.T) {
	srv, _ := newMemoryServer(t)
	srv.MaxLineLength = 100
	c := pop3test.Dial(t, startServer(t, srv))
	c.ReadReply()
	for range defaultMaxBadCommandsBeforeLogin {
		c.SendRaw(strings.Repeat("x", 150))
		assert.Equal(t, "-ERR line too long", c.ReadLine())
		c.SendRaw("\r\n")
	}
	c.SendRaw(strings.Repeat("x", 150))
	assert.Equal(t, "-ERR line too long; too many bad commands, closing connection", c.ReadLine())
	c.ExpectClosed()
}

// A 100 MB line without LF is discarded as it comes, not buffered.
func TestHugeLineCostsNoMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 100 MB")
	}
	srv, _ := newMemoryServer(t)
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
	c.ReadReply()
	chunk := bytes.Repeat([]byte("z"), 64<<10)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	done := make(chan error, 1)
	conn := c.Conn() // the Client itself is for this goroutine only
	go func() {
		for sent := 0; sent < 100<<20; sent += len(chunk) {
			if _, err := conn.Write(chunk); err != nil {
				done <- err
				return
			}
		}
		_, err := conn.Write([]byte("\r\nNOOP\r\n"))
		done <- err
	}()
	assert.Equal(t, "-ERR line too long", c.ReadLine())
	assert.Equal(t, "-ERR command not valid in the AUTHORIZATION state", c.ReadLine())
	require.NoError(t, <-done)
	runtime.ReadMemStats(&after)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(8<<20), "bytes allocated while discarding 100 MB")
}

func TestMaxBadCommands(t *testing.T) {
	t.Run("before login", func(t *testing.T) {
		srv, _ := newMemoryServer(t)
		srv.MaxBadCommandsBeforeLogin = 3
		transcript(t, startServer(t, srv), `
			S: +OK ...
			C: FOO
			S: -ERR unknown command
			C: STAT
			S: -ERR command not valid in the AUTHORIZATION state
			C: USER
			S: -ERR missing argument
			C: BAR
			S: -ERR unknown command; too many bad commands, closing connection
			S: <closed>
		`)
	})
	t.Run("after login", func(t *testing.T) {
		srv, _ := newMemoryServer(t, msgDots)
		srv.MaxBadCommands = 2
		srv.MaxBadCommandsBeforeLogin = 1
		transcript(t, startServer(t, srv), `
			S: +OK ...
			C: FOO
			S: -ERR unknown command
			C: USER alice
			S: +OK send PASS
			C: PASS secret
			S: +OK maildrop has 1 message (82 octets)
			C: RETR x
			S: -ERR invalid message number: x
			C: RETR 9
			S: -ERR no such message, only 1 in maildrop
			C: USER bob
			S: -ERR command not valid in the TRANSACTION state
			C: NOOP
			S: +OK
			C: LIST 1 2
			S: -ERR too many arguments; too many bad commands, closing connection
			S: <closed>
		`)
	})
	t.Run("default", func(t *testing.T) {
		srv, _ := newMemoryServer(t)
		c := pop3test.Dial(t, startServer(t, srv))
		c.ReadReply()
		for range defaultMaxBadCommandsBeforeLogin {
			c.Send("NOPE")
			assert.Equal(t, "-ERR unknown command", c.ReadLine())
		}
		c.Send("NOPE")
		assert.Equal(t, "-ERR unknown command; too many bad commands, closing connection", c.ReadLine())
		c.ExpectClosed()
	})
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
			srv, _ := newMemoryServer(t)
			srv.MaxConnections = tc.total
			srv.MaxConnectionsPerIP = tc.perIP
			addr := startServer(t, srv)
			first := pop3test.Dial(t, addr)
			first.ReadReply()
			second := pop3test.Dial(t, addr)
			second.ReadReply()
			third := pop3test.Dial(t, addr)
			assert.Equal(t, "-ERR [SYS/TEMP] too many connections", third.ReadLine())
			third.ExpectClosed()

			first.Send("QUIT")
			assert.Equal(t, "+OK bye", first.ReadLine())
			first.ExpectClosed()
			eventually(t, func() bool {
				c := pop3test.Dial(t, addr)
				ok := strings.HasPrefix(c.ReadReply().Line, "+OK")
				c.Close()
				return ok
			}, 5*time.Second, 10*time.Millisecond)
		})
	}
	goroutinesSettle(t, baseline)
}

func TestIdleTimeout(t *testing.T) {
	fb := &fakeBackend{msgs: []string{msgDots}}
	srv := pop3.NewServer(fb)
	srv.IdleTimeout = 200 * time.Millisecond
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
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
	assert.Empty(t, fb.deletes(), "no UPDATE after a timeout")
	require.Eventually(t, func() bool { return fb.closes.Load() == 1 }, 5*time.Second, 10*time.Millisecond)
}

// A client that trickles bytes cannot stay in AUTHORIZATION past
// AuthTimeout.
func TestAuthTimeout(t *testing.T) {
	srv, _ := newMemoryServer(t)
	srv.AuthTimeout = 300 * time.Millisecond
	srv.IdleTimeout = time.Minute
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
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
	fb := &fakeBackend{msgs: []string{big}}
	srv := pop3.NewServer(fb)
	srv.WriteTimeout = 200 * time.Millisecond
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
	c.Login("alice", "secret")
	c.Send("RETR 1")
	// Read nothing more.
	require.Eventually(t, func() bool { return fb.closes.Load() == 1 }, 10*time.Second, 10*time.Millisecond)
	c.Close()
	goroutinesSettle(t, baseline+2) // the server's accept loop and its cleanup
}

func TestBackendErrors(t *testing.T) {
	fb := &fakeBackend{msgs: []string{msgDots}, openErr: errors.New("mount /var/mail/alice failed")}
	srv := pop3.NewServer(fb)
	logs := captureLogs(srv)
	addr := startServer(t, srv)
	transcript(t, addr, `
		S: +OK ...
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: -ERR [SYS/TEMP] open failed, try again later
		C: QUIT
		S: +OK bye
	`)
	assert.Contains(t, logs.String(), "mount /var/mail/alice failed", "the detail goes to the log")
}

// A reader error in the middle of RETR closes the connection: the message
// is never terminated, so it cannot look complete.
func TestReadErrorMidMessage(t *testing.T) {
	fb := &fakeBackend{msgs: []string{msgDots}, failReadAfter: 30}
	srv := pop3.NewServer(fb)
	addr := startServer(t, srv)
	// Without UTF-8 mode the header is read ahead, to downgrade it, so a
	// failure there comes before the +OK, as a -ERR.
	c := pop3test.Dial(t, addr)
	c.Login("alice", "secret")
	assert.Equal(t, "-ERR [SYS/TEMP] read failed, try again later", c.Cmd("RETR 1").Line)
	c.Quit()
	require.Eventually(t, func() bool { return fb.closes.Load() == 1 }, 5*time.Second, 10*time.Millisecond)

	c = pop3test.Dial(t, addr)
	c.OK("UTF8")
	c.Login("alice", "secret")
	c.Send("RETR 1")
	assert.Equal(t, "+OK 82 octets", c.ReadLine())
	rest := c.ReadUntilClosed()
	assert.Equal(t, msgDots[:30], string(rest))
	assert.NotContains(t, string(rest), "\r\n.\r\n")
	assert.Equal(t, int32(2), fb.closes.Load())
	assert.Empty(t, fb.deletes())
}

// A panicking backend ends only its own session: the client is told, the
// maildrop is closed exactly once, nothing is deleted, and other sessions
// go on.
func TestBackendPanics(t *testing.T) {
	for _, tc := range []struct {
		panicIn string
		script  string
		opened  bool
	}{
		{"login", "C: USER alice\nS: +OK send PASS\nC: PASS secret\nS: -ERR [SYS/TEMP] internal error", false},
		{"open", "C: USER alice\nS: +OK send PASS\nC: PASS secret\nS: -ERR [SYS/TEMP] internal error", false},
		{"message", loginScript + "C: DELE 1\nS: +OK message 1 deleted\nC: RETR 2\nS: -ERR [SYS/TEMP] internal error", true},
		// A panic mid-body: the client sees the message cut short, with no
		// -ERR inside it, and the connection closes. (In UTF-8 mode, where
		// no header is read ahead to downgrade it.)
		{"read", "C: UTF8\nS: +OK UTF-8 mode enabled\n" + loginScript + "C: DELE 1\nS: +OK message 1 deleted\nC: TOP 2 1\nS: +OK top of message follows", true},
		{"delete", loginScript + "C: DELE 1\nS: +OK message 1 deleted\nC: QUIT\nS: -ERR [SYS/TEMP] internal error", true},
		{"close", loginScript + "C: DELE 1\nS: +OK message 1 deleted\nC: QUIT\nS: +OK bye, 1 message left", true},
	} {
		t.Run(tc.panicIn, func(t *testing.T) {
			fb := &fakeBackend{msgs: []string{msgDots, msgDots}, panicIn: tc.panicIn}
			srv := pop3.NewServer(fb)
			logs := captureLogs(srv)
			addr := startServer(t, srv)

			other := pop3test.Dial(t, addr) // another session, open all along
			other.ReadReply()

			c := transcript(t, addr, "S: +OK ...\n"+tc.script)
			if tc.panicIn == "read" {
				rest := c.ReadUntilClosed()
				assert.Equal(t, "From: bob@", string(rest), "the first 10 octets, then nothing")
			} else {
				c.ExpectClosed()
			}

			other.Transcript("C: USER alice\nS: +OK send PASS")
			assert.Contains(t, logs.String(), "panic")
			assert.Regexp(t, `at="github\.com/gopop3/pop3_test\.(\(\*fake\w+\)|fake\w+|panickingReader)\.\w+ \(fake_test\.go:\d+\)"`, logs.String(),
				"the panicking function is named")
			assert.Regexp(t, `stack=".* < github\.com/gopop3/pop3\.\(\*session\)\.`, logs.String(), "the stack is logged")
			assert.NotContains(t, logs.String(), `\n\t`, "on one readable line")
			if tc.panicIn == "delete" || tc.panicIn == "message" || tc.panicIn == "read" {
				assert.Empty(t, fb.deletes(), "no UPDATE after a panic")
			}
			want := int32(0)
			if tc.opened {
				want = 1
			}
			require.Eventually(t, func() bool { return fb.closes.Load() == want }, 5*time.Second, 10*time.Millisecond)
			time.Sleep(20 * time.Millisecond)
			assert.Equal(t, want, fb.closes.Load(), "Close exactly once")
		})
	}
}

const loginScript = "C: USER alice\nS: +OK send PASS\nC: PASS secret\nS: +OK maildrop has 2 messages (164 octets)\n"

func TestShutdown(t *testing.T) {
	baseline := runtime.NumGoroutine()
	fb := &fakeBackend{msgs: []string{msgDots}, block: make(chan struct{}), entered: make(chan struct{}, 1)}
	srv := pop3.NewServer(fb)
	addr, served := serveUnmanaged(t, srv)

	idle := pop3test.Dial(t, addr)
	idle.Login("alice", "secret")
	busy := pop3test.Dial(t, addr)
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
	<-fb.entered // the RETR is in progress

	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	assert.Equal(t, "-ERR [SYS/TEMP] server shutting down", idle.ReadLine())
	idle.ExpectClosed()
	select {
	case <-shut:
		t.Fatal("Shutdown returned while a RETR was in progress")
	case <-time.After(100 * time.Millisecond):
	}
	close(fb.block)
	assert.Equal(t, "+OK 82 octets", busy.ReadLine())
	assert.Equal(t, msgDots, string(busy.ReadBody()), "the RETR in progress completes")
	assert.Equal(t, "-ERR [SYS/TEMP] server shutting down", busy.ReadLine())
	busy.ExpectClosed()
	require.NoError(t, <-shut)
	assert.ErrorIs(t, <-served, pop3.ErrServerClosed)
	assert.Empty(t, fb.deletes())
	assert.Equal(t, int32(2), fb.closes.Load())

	_, err := net.Dial("tcp", addr)
	assert.Error(t, err, "no longer accepting")
	require.NoError(t, srv.Shutdown(context.Background()), "idempotent")
	require.NoError(t, srv.Close(), "idempotent")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	assert.ErrorIs(t, srv.Serve(l), pop3.ErrServerClosed)
	goroutinesSettle(t, baseline)
}

// QUIT's UPDATE completes before Shutdown closes the session.
func TestShutdownDuringUpdate(t *testing.T) {
	fb := &fakeBackend{msgs: []string{msgDots}, blockDelete: make(chan struct{}), entered: make(chan struct{}, 1)}
	srv := pop3.NewServer(fb)
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
	c.Login("alice", "secret")
	c.Send("DELE 1")
	c.ReadReply()
	c.Send("QUIT")
	<-fb.entered
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	close(fb.blockDelete)
	assert.Equal(t, "+OK bye, 0 messages left", c.ReadLine())
	c.ExpectClosed()
	require.NoError(t, <-shut)
	assert.Equal(t, [][]int{{0}}, fb.deletes())
}

// When Shutdown's context ends first, the remaining sessions are closed at
// once.
func TestShutdownDeadline(t *testing.T) {
	baseline := runtime.NumGoroutine()
	fb := &fakeBackend{msgs: []string{msgDots}, block: make(chan struct{}), entered: make(chan struct{}, 1)}
	srv := pop3.NewServer(fb)
	addr, _ := serveUnmanaged(t, srv)
	c := pop3test.Dial(t, addr)
	c.Login("alice", "secret")
	c.Send("RETR 1")
	<-fb.entered // stuck in the backend for good
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, srv.Shutdown(ctx), context.DeadlineExceeded)
	c.ExpectClosed()
	require.Eventually(t, func() bool { return fb.closes.Load() == 1 }, 5*time.Second, 10*time.Millisecond)
	goroutinesSettle(t, baseline)
}

func TestCloseEndsEverything(t *testing.T) {
	baseline := runtime.NumGoroutine()
	srv, b := newMemoryServer(t, msgDots)
	addr, served := serveUnmanaged(t, srv)
	c := pop3test.Dial(t, addr)
	c.Login("alice", "secret")
	c.Send("DELE 1")
	c.ReadReply()
	require.NoError(t, srv.Close())
	c.ExpectClosed()
	assert.ErrorIs(t, <-served, pop3.ErrServerClosed)
	require.NoError(t, srv.Close())
	left, err := b.Messages("alice")
	require.NoError(t, err)
	assert.Len(t, left, 1)
	goroutinesSettle(t, baseline)
}

// Nothing that can hold a credential reaches the log or the Debug trace.
func TestCredentialsNeverLogged(t *testing.T) {
	const password = "S3cr3t-P4ss word"
	b := &apopFake{secret: password}
	srv := pop3.NewServer(b)
	logs := captureLogs(srv)
	trace := &syncbuf.Buffer{}
	srv.Debug = trace
	addr := startServer(t, srv)

	c := pop3test.Dial(t, addr)
	c.ReadReply()
	digest := pop3.APOPDigest(c.Timestamp(), password)
	plain := b64("\x00alice\x00" + password)
	c.Transcript(`
		C: USER alice
		S: +OK send PASS
		C: PASS ` + password + `x
		S: -ERR [AUTH] authentication failed
		C: AUTH PLAIN ` + plain + `
		S: +OK maildrop has 0 messages (0 octets)
		C: QUIT
		S: +OK bye, 0 messages left
	`)
	c = pop3test.Dial(t, addr)
	c.ReadReply()
	c.Transcript(`
		C: AUTH LOGIN
		S: + ` + b64("Username:") + `
		C: ` + b64("alice") + `
		S: + ` + b64("Password:") + `
		C: ` + b64(password) + `
		S: +OK maildrop has 0 messages (0 octets)
		C: QUIT
		S: +OK bye, 0 messages left
	`)
	c = pop3test.Dial(t, addr)
	c.ReadReply()
	digest = pop3.APOPDigest(c.Timestamp(), password)
	c.Transcript(`
		C: APOP alice ` + digest + `
		S: +OK maildrop has 0 messages (0 octets)
		C: QUIT
		S: +OK bye, 0 messages left
		S: <closed>
	`)
	require.NoError(t, srv.Close())

	all := logs.String() + trace.String()
	for _, secret := range []string{"S3cr3t", plain, b64(password), digest} {
		assert.NotContains(t, all, secret)
	}
	assert.Contains(t, trace.String(), "C: USER alice")
	assert.Contains(t, trace.String(), "C: PASS <redacted>")
	assert.Contains(t, trace.String(), "C: AUTH PLAIN <redacted>")
	assert.Contains(t, trace.String(), "C: APOP alice <redacted>")
	assert.Contains(t, trace.String(), "S: +OK maildrop has 0 messages")
	assert.Contains(t, logs.String(), "session ended")
	assert.Contains(t, logs.String(), "user=alice")
}

// apopFake is a backend with one empty maildrop and APOP.
type apopFake struct {
	fakeBackend
	secret string
}

func (a *apopFake) Login(_ context.Context, _ *pop3.ConnInfo, username, password string) (pop3.User, error) {
	if username != "alice" || password != a.secret {
		return nil, pop3.ErrAuthFailed
	}
	return fakeUser{&a.fakeBackend}, nil
}

func (a *apopFake) LoginAPOP(_ context.Context, _ *pop3.ConnInfo, username, timestamp, digest string) (pop3.User, error) {
	if username != "alice" || !pop3.VerifyAPOP(timestamp, a.secret, digest) {
		return nil, pop3.ErrAuthFailed
	}
	return fakeUser{&a.fakeBackend}, nil
}

// The end-of-session log line carries the counts.
func TestSessionLogLine(t *testing.T) {
	srv, _ := newMemoryServer(t, msgDots, msgLF)
	logs := captureLogs(srv)
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
	c.Login("alice", "secret")
	c.SendRaw("RETR 1\r\nTOP 2 0\r\nDELE 1\r\nQUIT\r\n")
	c.ReadReply()
	c.ReadBody()
	c.ReadReply()
	c.ReadBody()
	c.ReadReply()
	c.ReadReply()
	c.ExpectClosed()
	require.NoError(t, srv.Close())
	assert.Regexp(t, `session ended" conn=\d+ remote=127\.0\.0\.1:\d+ user=alice reason=quit duration=\S+ method=USER tls=false retr=1 top=1 deleted=1 bytes_out=\d+\n`, logs.String())
}

// Lines that are not commands may be credentials sent out of turn: the
// trace shows only their length.
func TestTraceHidesUnrecognisedLines(t *testing.T) {
	srv, _ := newMemoryServer(t)
	srv.MaxBadCommandsBeforeLogin = 10
	trace := &syncbuf.Buffer{}
	srv.Debug = trace
	c := pop3test.Dial(t, startServer(t, srv))
	c.ReadReply()
	for _, l := range []string{"PASS\tsecret2", "AHVzZXIAcGFzcw==", " PASS secret3"} {
		c.Send(l)
		c.ReadReply()
	}
	require.NoError(t, srv.Close())
	for _, secret := range []string{"secret2", "AHVzZXIAcGFzcw==", "secret3"} {
		assert.NotContains(t, trace.String(), secret)
	}
	assert.Contains(t, trace.String(), "C: <unrecognised line of 12 octets>")
}

// A response code that is not RFC 2449 syntax is dropped, not sent.
func TestInvalidResponseCodeDropped(t *testing.T) {
	fb := &fakeBackend{loginErr: &pop3.Error{Code: "BAD] CODE", Text: "nope"}}
	transcript(t, startServer(t, pop3.NewServer(fb)), `
		S: +OK ...
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: -ERR nope
	`)
}

// Refusing implicit TLS connections over the limit must not stall the
// accept loop: each needs a handshake that a silent client never does.
func TestTLSRefusalDoesNotStallAccept(t *testing.T) {
	serverCfg, clientCfg := testCerts(t)
	srv, _ := newMemoryServer(t)
	srv.TLSConfig = serverCfg
	srv.MaxConnections = 1
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := serveOn(t, srv, tls.NewListener(l, serverCfg))
	holder := pop3test.DialTLS(t, addr, clientCfg)
	holder.ReadReply()
	for range 5 {
		silent, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer silent.Close()
	}
	time.Sleep(50 * time.Millisecond)
	holder.Send("QUIT")
	holder.ReadReply()
	start := time.Now()
	eventually(t, func() bool {
		c := pop3test.DialTLS(t, addr, clientCfg)
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
	srv, _ := newMemoryServer(t)
	logs := captureLogs(srv)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := serveOn(t, srv, &flakyListener{Listener: l, failures: 3})
	c := pop3test.Dial(t, addr)
	assert.True(t, strings.HasPrefix(c.ReadReply().Line, "+OK"))
	assert.Contains(t, logs.String(), "too many open files")
}

// nilUser is a User whose Open breaks the contract: no Mailbox, no error.
type nilUser struct{}

func (nilUser) Open(context.Context) (pop3.Mailbox, error) { return nil, nil }

// nilReaderBox is a Mailbox whose Message breaks the contract: no reader,
// no error.
type nilReaderBox struct{}

func (nilReaderBox) Messages() []pop3.MessageInfo {
	return []pop3.MessageInfo{{Size: 3, UID: "a"}}
}
func (nilReaderBox) Message(context.Context, int) (io.ReadCloser, error) { return nil, nil }
func (nilReaderBox) Delete(context.Context, []int) error                 { return nil }
func (nilReaderBox) Close() error                                        { return nil }

type nilReaderUser struct{}

func (nilReaderUser) Open(context.Context) (pop3.Mailbox, error) { return nilReaderBox{}, nil }

// TestBackendNilResults: a backend method that returns neither a result
// nor an error is a bug the log names, method and all, rather than a nil
// pointer panic; the client is told to try again later.
func TestBackendNilResults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		user   pop3.User
		script string
		log    string
	}{
		{"Login", nil, "C: USER alice\nS: +OK send PASS\nC: PASS secret\nS: -ERR [SYS/TEMP] login failed, try again later",
			"Backend.Login returned a nil User and a nil error"},
		{"Open", nilUser{}, "C: USER alice\nS: +OK send PASS\nC: PASS secret\nS: -ERR [SYS/TEMP] open failed, try again later",
			"User.Open returned a nil Mailbox and a nil error"},
		{"Message", nilReaderUser{}, "C: USER alice\nS: +OK send PASS\nC: PASS secret\nS: +OK maildrop has 1 message (3 octets)\n" +
			"C: RETR 1\nS: -ERR [SYS/TEMP] read failed, try again later\nC: TOP 1 0\nS: -ERR [SYS/TEMP] read failed, try again later\nC: QUIT\nS: +OK bye, 1 message left",
			"Mailbox.Message returned a nil reader and a nil error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := pop3.NewServer(pop3.BackendFunc(func(context.Context, *pop3.ConnInfo, string, string) (pop3.User, error) {
				return tc.user, nil
			}))
			logs := captureLogs(srv)
			addr := startServer(t, srv)
			transcript(t, addr, "S: +OK POP3 server ready\n"+tc.script)
			assert.Contains(t, logs.String(), tc.log)
			assert.NotContains(t, logs.String(), "panic")
		})
	}
}
