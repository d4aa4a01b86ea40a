package pop3_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/syncbuf"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

// The example session of RFC 1939 §10, with APOP, two messages of 120 and
// 200 octets, both retrieved and deleted.
func TestRFC1939Section10Example(t *testing.T) {
	b := memory.New()
	require.NoError(t, b.AddUser("mrose", "tanstaaf"))
	m1 := sized("Subject: first\r\n\r\n", 120)
	m2 := sized("Subject: second\r\n\r\n", 200)
	for _, m := range []string{m1, m2} {
		_, err := b.AppendMessage("mrose", []byte(m))
		require.NoError(t, err)
	}
	ts := pop3test.NewServer(t, b)

	c := ts.Dial()
	greeting := c.ReadReply().Line
	stamp := regexp.MustCompile(`<[^>]+>`).FindString(greeting)
	require.NotEmpty(t, stamp, "greeting %q has no APOP timestamp", greeting)
	c.Send("APOP mrose " + pop3.APOPDigest(stamp, "tanstaaf"))
	c.Transcript(`
		S: +OK maildrop has 2 messages (320 octets)
		C: STAT
		S: +OK 2 320
		C: LIST
		S: +OK 2 messages (320 octets)
		S: 1 120
		S: 2 200
		S: .
	`)
	c.Send("RETR 1")
	assert.Equal(t, "+OK 120 octets", c.ReadLine())
	assert.Equal(t, m1, string(c.ReadBody()))
	c.Transcript(`
		C: DELE 1
		S: +OK message 1 deleted
	`)
	c.Send("RETR 2")
	assert.Equal(t, "+OK 200 octets", c.ReadLine())
	assert.Equal(t, m2, string(c.ReadBody()))
	c.Transcript(`
		C: DELE 2
		S: +OK message 2 deleted
		C: QUIT
		S: +OK bye, 0 messages left
		S: <closed>
	`)
	left, err := b.Messages("mrose")
	require.NoError(t, err)
	assert.Empty(t, left)
}

// sized pads a message with body lines to exactly n octets.
func sized(header string, n int) string {
	body := strings.Repeat("x", n-len(header)-2) + "\r\n"
	return header + body
}

func TestGreeting(t *testing.T) {
	t.Run("APOP timestamp differs per connection", func(t *testing.T) {
		ts := pop3test.NewServer(t, aliceBackend(t))
		re := regexp.MustCompile(`^\+OK .*(<\d+\.\d+\.[0-9a-f]+@[^>]+>)$`)
		seen := map[string]bool{}
		for range 5 {
			g := ts.Dial().ReadReply().Line
			m := re.FindStringSubmatch(g)
			require.NotNil(t, m, "greeting %q", g)
			assert.False(t, seen[m[1]], "timestamp %s repeated", m[1])
			seen[m[1]] = true
		}
	})
	t.Run("no timestamp without APOP", func(t *testing.T) {
		ts := pop3test.NewServer(t, loginOnly(memory.New()))
		g := ts.Dial().ReadReply().Line
		assert.True(t, strings.HasPrefix(g, "+OK "), g)
		assert.NotContains(t, g, "<")
		assert.NotContains(t, g, ">")
	})
}

// A long greeting text is cut, never the APOP timestamp.
func TestLongGreetingKeepsTimestamp(t *testing.T) {
	ts := pop3test.NewServer(t, aliceBackend(t), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.Greeting = strings.Repeat("ü", 400)
		srv.Domain = "mail.(example).com..:;"
	}))
	g := ts.Dial().ReadReply().Line
	assert.Regexp(t, `^\+OK (ü)+ <\d+\.\d+\.[0-9a-f]+@mail\.example\.com>$`, g)
}

func TestTransactionCommands(t *testing.T) {
	ts := pop3test.NewServer(t, aliceBackend(t, msgDots, msgLF))
	c := ts.Dial()
	c.Login("alice", "secret")
	size1, size2 := len(msgDots), len(msgLFasCRLF)
	c.Transcript(fmt.Sprintf(`
		C: STAT
		S: +OK 2 %[3]d
		C: LIST
		S: +OK 2 messages (%[3]d octets)
		S: 1 %[1]d
		S: 2 %[2]d
		S: .
		C: LIST 2
		S: +OK 2 %[2]d
		C: LIST 3
		S: -ERR no such message, only 2 in maildrop
		C: UIDL
		S: +OK unique-id listing follows
		S: 1 ...
		S: 2 ...
		S: .
		C: LAST
		S: +OK 0
		C: NOOP
		S: +OK
	`, size1, size2, size1+size2))

	c.Send("RETR 1")
	assert.Equal(t, fmt.Sprintf("+OK %d octets", size1), c.ReadLine())
	assert.Equal(t, msgDots, string(c.ReadBody()))
	c.Send("LAST")
	assert.Equal(t, "+OK 1", c.ReadLine())

	c.Send("TOP 2 1")
	assert.Equal(t, "+OK top of message follows", c.ReadLine())
	assert.Equal(t, "Subject: two\r\n\r\nline1\r\n", string(c.ReadBody()))
	c.Send("LAST")
	assert.Equal(t, "+OK 1", c.ReadLine(), "TOP does not count for LAST")

	c.Transcript(fmt.Sprintf(`
		C: DELE 2
		S: +OK message 2 deleted
		C: LAST
		S: +OK 2
		C: DELE 2
		S: -ERR message 2 already deleted
		C: RETR 2
		S: -ERR message 2 already deleted
		C: TOP 2 0
		S: -ERR message 2 already deleted
		C: LIST 2
		S: -ERR message 2 already deleted
		C: UIDL 2
		S: -ERR message 2 already deleted
		C: STAT
		S: +OK 1 %[1]d
		C: LIST
		S: +OK 1 message (%[1]d octets)
		S: 1 %[1]d
		S: .
		C: UIDL
		S: +OK unique-id listing follows
		S: 1 ...
		S: .
		C: RSET
		S: +OK maildrop has 2 messages (%[2]d octets)
		C: LAST
		S: +OK 0
		C: LIST 2
		S: +OK 2 %[3]d
		C: QUIT
		S: +OK bye, 2 messages left
		S: <closed>
	`, size1, size1+size2, size2))
}

// Every command is -ERR in the state it does not belong to.
func TestWrongState(t *testing.T) {
	ts := pop3test.NewServer(t, aliceBackend(t, msgDots), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.MaxBadCommandsBeforeLogin = 100
	}))
	c := ts.Dial()
	c.ReadReply()
	for _, cmd := range []string{"STAT", "LIST", "LIST 1", "RETR 1", "TOP 1 0", "UIDL", "UIDL 1", "DELE 1", "NOOP", "RSET", "LAST"} {
		c.Send(cmd)
		assert.Equal(t, "-ERR command not valid in the AUTHORIZATION state", c.ReadLine(), cmd)
	}
	c.Send("USER alice")
	c.ReadReply()
	c.Send("PASS secret")
	require.True(t, strings.HasPrefix(c.ReadReply().Line, "+OK"))
	for _, cmd := range []string{"USER alice", "PASS secret", "APOP alice 0123", "AUTH PLAIN", "AUTH", "STLS"} {
		c.Send(cmd)
		assert.Equal(t, "-ERR command not valid in the TRANSACTION state", c.ReadLine(), cmd)
	}
	c.Send("NOOP")
	assert.Equal(t, "+OK", c.ReadLine())
}

// Pipelined commands are all answered, in order.
func TestPipelining(t *testing.T) {
	ts := pop3test.NewServer(t, aliceBackend(t, msgDots, msgLF))
	c := ts.Dial()
	c.ReadReply()
	c.SendRaw("USER alice\r\nPASS secret\r\nSTAT\r\nRETR 1\r\nRETR 2\r\nDELE 1\r\nLIST\r\nNOOP\r\nBOGUS\r\nQUIT\r\n")
	assert.Equal(t, "+OK send PASS", c.ReadLine())
	assert.True(t, strings.HasPrefix(c.ReadReply().Line, "+OK maildrop has 2"))
	assert.Equal(t, fmt.Sprintf("+OK 2 %d", len(msgDots)+len(msgLFasCRLF)), c.ReadLine())
	assert.Equal(t, fmt.Sprintf("+OK %d octets", len(msgDots)), c.ReadLine())
	assert.Equal(t, msgDots, string(c.ReadBody()))
	assert.Equal(t, fmt.Sprintf("+OK %d octets", len(msgLFasCRLF)), c.ReadLine())
	assert.Equal(t, msgLFasCRLF, string(c.ReadBody()))
	assert.Equal(t, "+OK message 1 deleted", c.ReadLine())
	assert.True(t, strings.HasPrefix(c.ReadReply().Line, "+OK 1 message ("))
	assert.Equal(t, "2 "+strconv.Itoa(len(msgLFasCRLF))+"\r\n", string(c.ReadBody()))
	assert.Equal(t, "+OK", c.ReadLine())
	assert.Equal(t, "-ERR unknown command", c.ReadLine())
	assert.Equal(t, "+OK bye, 1 message left", c.ReadLine())
	c.ExpectClosed()
}

func TestLineTooLong(t *testing.T) {
	ts := pop3test.NewServer(t, aliceBackend(t, msgDots), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.MaxLineLength = 100
	}))
	c := ts.Dial()
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
	ts := pop3test.NewServer(t, aliceBackend(t), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.MaxLineLength = 100
	}))
	c := ts.Dial()
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
	ts := pop3test.NewServer(t, aliceBackend(t))
	c := ts.Dial()
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
		ts := pop3test.NewServer(t, aliceBackend(t), pop3test.WithConfig(func(srv *pop3.Server) {
			srv.MaxBadCommandsBeforeLogin = 3
		}))
		ts.Dial().Transcript(`
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
		ts := pop3test.NewServer(t, aliceBackend(t, msgDots), pop3test.WithConfig(func(srv *pop3.Server) {
			srv.MaxBadCommands = 2
			srv.MaxBadCommandsBeforeLogin = 1
		}))
		ts.Dial().Transcript(`
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
		c := pop3test.NewServer(t, aliceBackend(t)).Dial()
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

// A panicking backend ends only its own session: the client is told, the
// maildrop is closed exactly once, nothing is deleted, and other sessions
// go on.
func TestBackendPanics(t *testing.T) {
	for _, tc := range []struct {
		panicIn string
		fault   pop3test.Fault
		script  string
		opened  bool
	}{
		{"login", pop3test.Fault{Op: pop3test.OpLogin, Panic: "fake: panic in Login"},
			"C: USER alice\nS: +OK send PASS\nC: PASS secret\nS: -ERR [SYS/TEMP] internal error", false},
		{"open", pop3test.Fault{Op: pop3test.OpOpen, Panic: "fake: panic in Open"},
			"C: USER alice\nS: +OK send PASS\nC: PASS secret\nS: -ERR [SYS/TEMP] internal error", false},
		{"message", pop3test.Fault{Op: pop3test.OpMessage, Panic: "fake: panic in Message"},
			loginScript + "C: DELE 1\nS: +OK message 1 deleted\nC: RETR 2\nS: -ERR [SYS/TEMP] internal error", true},
		// A panic mid-body: the client sees the message cut short, with no
		// -ERR inside it, and the connection closes. (In UTF-8 mode, where
		// no header is read ahead to downgrade it.)
		{"read", pop3test.Fault{Op: pop3test.OpRead, After: 10, Panic: "fake: panic while reading"},
			"C: UTF8\nS: +OK UTF-8 mode enabled\n" + loginScript + "C: DELE 1\nS: +OK message 1 deleted\nC: TOP 2 1\nS: +OK top of message follows", true},
		{"delete", pop3test.Fault{Op: pop3test.OpDelete, Panic: "fake: panic in Delete"},
			loginScript + "C: DELE 1\nS: +OK message 1 deleted\nC: QUIT\nS: -ERR [SYS/TEMP] internal error", true},
		{"close", pop3test.Fault{Op: pop3test.OpClose, Panic: "fake: panic in Close"},
			loginScript + "C: DELE 1\nS: +OK message 1 deleted\nC: QUIT\nS: +OK bye, 1 message left", true},
	} {
		t.Run(tc.panicIn, func(t *testing.T) {
			b := aliceBackend(t, msgDots, msgDots)
			faulty := pop3test.NewFaultBackend(b, tc.fault)
			ts := pop3test.NewServer(t, faulty.Backend())

			other := ts.Dial() // another session, open all along
			other.ReadReply()

			c := ts.Dial()
			c.Transcript("S: +OK ...\n" + tc.script)
			if tc.panicIn == "read" {
				rest := c.ReadUntilClosed()
				assert.Equal(t, "From: bob@", string(rest), "the first 10 octets, then nothing")
			} else {
				c.ExpectClosed()
			}

			other.Transcript("C: USER alice\nS: +OK send PASS")
			logs := ts.Logs()
			assert.Contains(t, logs, "panic")
			assert.Regexp(t, `at="github\.com/gopop3/pop3/pop3test\.\S+ \(fault\.go:\d+\)"`, logs,
				"the panicking function is named")
			assert.Regexp(t, `stack=".* < github\.com/gopop3/pop3\.\(\*session\)\.`, logs, "the stack is logged")
			assert.NotContains(t, logs, `\n\t`, "on one readable line")
			if tc.panicIn == "delete" || tc.panicIn == "message" || tc.panicIn == "read" {
				left, err := b.Messages("alice")
				require.NoError(t, err)
				assert.Len(t, left, 2, "no UPDATE after a panic")
			}
			want := 0
			if tc.opened {
				want = 1
			}
			require.Eventually(t, func() bool { return faulty.Calls(pop3test.OpClose) == want }, 5*time.Second, 10*time.Millisecond)
			time.Sleep(20 * time.Millisecond)
			assert.Equal(t, want, faulty.Calls(pop3test.OpClose), "Close exactly once")
		})
	}
}

const loginScript = "C: USER alice\nS: +OK send PASS\nC: PASS secret\nS: +OK maildrop has 2 messages (164 octets)\n"

// The session-ended record says why the session ended, how long it took
// and how the user logged in.
func TestSessionEndReasons(t *testing.T) {
	for _, tc := range []struct {
		reason string
		setup  func(srv *pop3.Server)
		script string
		stop   func(srv *pop3.Server)
	}{
		{reason: "quit", script: "C: QUIT\nS: +OK bye\nS: <closed>"},
		{reason: "client_closed", script: "C: NOOP\nS: -ERR command not valid in the AUTHORIZATION state"},
		{reason: "idle_timeout", setup: func(srv *pop3.Server) { srv.IdleTimeout = 50 * time.Millisecond },
			script: "S: -ERR disconnected for inactivity\nS: <closed>"},
		{reason: "auth_timeout", setup: func(srv *pop3.Server) { srv.AuthTimeout = 50 * time.Millisecond },
			script: "S: -ERR authentication took too long\nS: <closed>"},
		{reason: "too_many_failed_logins", setup: func(srv *pop3.Server) { srv.MaxAuthFailures = 1 },
			script: "C: USER alice\nS: +OK send PASS\nC: PASS wrong\nS: -ERR [AUTH] authentication failed; too many failed logins, closing connection\nS: <closed>"},
		{reason: "too_many_bad_commands", setup: func(srv *pop3.Server) { srv.MaxBadCommandsBeforeLogin = 1 },
			script: "C: XXXX\nS: -ERR unknown command\nC: XXXX\nS: -ERR unknown command; too many bad commands, closing connection\nS: <closed>"},
		{reason: "shutdown", script: "C: NOOP\nS: -ERR ...",
			stop: func(srv *pop3.Server) { _ = srv.Shutdown(context.Background()) }},
		{reason: "server_closed", script: "C: NOOP\nS: -ERR ...",
			stop: func(srv *pop3.Server) { _ = srv.Close() }},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			ts := pop3test.NewServer(t, aliceBackend(t), pop3test.WithConfig(func(srv *pop3.Server) {
				if tc.setup != nil {
					tc.setup(srv)
				}
			}))
			c := ts.Dial()
			c.ReadReply()
			c.Transcript(tc.script)
			if tc.stop != nil {
				tc.stop(ts.Config)
			}
			c.Close()
			require.Eventually(t, func() bool { return strings.Contains(ts.Logs(), "session ended") }, 5*time.Second, 5*time.Millisecond)
			require.NoError(t, ts.Config.Close())
			assert.Regexp(t, `session ended" .*reason="?`+tc.reason+`"? duration=\S+ tls=false`, ts.Logs())
		})
	}

	// After login, the method is there too.
	ts := pop3test.NewServer(t, aliceBackend(t))
	ts.Dial().Transcript(`
		S: +OK ...
		C: AUTH PLAIN ` + b64("\x00alice\x00secret") + `
		S: +OK ...
		C: QUIT
		S: +OK bye, 0 messages left
		S: <closed>
	`)
	require.NoError(t, ts.Config.Close())
	assert.Regexp(t, `session ended" .*user=alice reason=quit duration=\S+ method="AUTH PLAIN" tls=false`, ts.Logs())
}

// The end-of-session log line carries the counts.
func TestSessionLogLine(t *testing.T) {
	ts := pop3test.NewServer(t, aliceBackend(t, msgDots, msgLF))
	c := ts.Dial()
	c.Login("alice", "secret")
	c.SendRaw("RETR 1\r\nTOP 2 0\r\nDELE 1\r\nQUIT\r\n")
	c.ReadReply()
	c.ReadBody()
	c.ReadReply()
	c.ReadBody()
	c.ReadReply()
	c.ReadReply()
	c.ExpectClosed()
	require.NoError(t, ts.Config.Close())
	assert.Regexp(t, `session ended" conn=\d+ remote=127\.0\.0\.1:\d+ user=alice reason=quit duration=\S+ method=USER tls=false retr=1 top=1 deleted=1 bytes_out=\d+\n`, ts.Logs())
}

// Lines that are not commands may be credentials sent out of turn: the
// trace shows only their length.
func TestTraceHidesUnrecognisedLines(t *testing.T) {
	trace := &syncbuf.Buffer{}
	ts := pop3test.NewServer(t, aliceBackend(t), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.MaxBadCommandsBeforeLogin = 10
		srv.Debug = trace
	}))
	c := ts.Dial()
	c.ReadReply()
	for _, l := range []string{"PASS\tsecret2", "AHVzZXIAcGFzcw==", " PASS secret3"} {
		c.Send(l)
		c.ReadReply()
	}
	require.NoError(t, ts.Config.Close())
	for _, secret := range []string{"secret2", "AHVzZXIAcGFzcw==", "secret3"} {
		assert.NotContains(t, trace.String(), secret)
	}
	assert.Contains(t, trace.String(), "C: <unrecognised line of 12 octets>")
}
