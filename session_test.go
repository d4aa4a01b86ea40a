package pop3_test

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

const (
	msgDots = "From: bob@example.com\r\nSubject: dots\r\n\r\nHello\r\n.starts with a dot\r\n..two\r\n.\r\nbye\r\n"
	msgLF   = "Subject: two\n\nline1\nline2\nline3\n" // stored as CRLF by the memory backend
)

var msgLFasCRLF = strings.ReplaceAll(msgLF, "\n", "\r\n")

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
	addr := startServer(t, pop3.NewServer(b))

	c := pop3test.Dial(t, addr)
	greeting := c.ReadReply().Line
	ts := regexp.MustCompile(`<[^>]+>`).FindString(greeting)
	require.NotEmpty(t, ts, "greeting %q has no APOP timestamp", greeting)
	c.Send("APOP mrose " + pop3.APOPDigest(ts, "tanstaaf"))
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
		srv, _ := newMemoryServer(t)
		addr := startServer(t, srv)
		re := regexp.MustCompile(`^\+OK .*(<\d+\.\d+\.[0-9a-f]+@[^>]+>)$`)
		seen := map[string]bool{}
		for range 5 {
			g := pop3test.Dial(t, addr).ReadReply().Line
			m := re.FindStringSubmatch(g)
			require.NotNil(t, m, "greeting %q", g)
			assert.False(t, seen[m[1]], "timestamp %s repeated", m[1])
			seen[m[1]] = true
		}
	})
	t.Run("no timestamp without APOP", func(t *testing.T) {
		addr := startServer(t, pop3.NewServer(&fakeBackend{}))
		g := pop3test.Dial(t, addr).ReadReply().Line
		assert.True(t, strings.HasPrefix(g, "+OK "), g)
		assert.NotContains(t, g, "<")
		assert.NotContains(t, g, ">")
	})
}

func TestUserPass(t *testing.T) {
	srv, _ := newMemoryServer(t, msgDots)
	addr := startServer(t, srv)
	transcript(t, addr, `
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
	addr := startServer(t, pop3.NewServer(b))
	c := transcript(t, addr, `
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

func TestAPOPFailure(t *testing.T) {
	srv, _ := newMemoryServer(t)
	addr := startServer(t, srv)
	transcript(t, addr, `
		S: +OK ...
		C: APOP alice c4c9334bac560ecc979e58001b3e22fb
		S: -ERR [AUTH] authentication failed
		C: APOP alice
		S: -ERR missing argument
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: +OK ...
	`)
	addr = startServer(t, pop3.NewServer(&fakeBackend{}))
	transcript(t, addr, `
		S: +OK ...
		C: APOP alice c4c9334bac560ecc979e58001b3e22fb
		S: -ERR APOP not supported
	`)
}

func TestTransactionCommands(t *testing.T) {
	srv, _ := newMemoryServer(t, msgDots, msgLF)
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
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

func TestTop(t *testing.T) {
	const noBody = "Subject: only a header\r\nX: y\r\n"
	srv, _ := newMemoryServer(t, msgDots, noBody, msgLF)
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
	c.Login("alice", "secret")
	for _, tc := range []struct {
		cmd, want string
	}{
		{"TOP 1 0", "From: bob@example.com\r\nSubject: dots\r\n\r\n"},
		{"TOP 1 2", "From: bob@example.com\r\nSubject: dots\r\n\r\nHello\r\n.starts with a dot\r\n"},
		{"TOP 1 4", "From: bob@example.com\r\nSubject: dots\r\n\r\nHello\r\n.starts with a dot\r\n..two\r\n.\r\n"},
		{"TOP 1 99999999", msgDots},
		{"TOP 1 123456789012345678901234567890", msgDots},
		{"TOP 2 0", noBody},
		{"TOP 2 5", noBody},
		{"top 3 2", "Subject: two\r\n\r\nline1\r\nline2\r\n"},
	} {
		c.Send(tc.cmd)
		require.Equal(t, "+OK top of message follows", c.ReadLine(), tc.cmd)
		assert.Equal(t, tc.want, string(c.ReadBody()), tc.cmd)
	}
}

// Every malformed or out-of-range argument is -ERR and the session goes
// on.
func TestBadArguments(t *testing.T) {
	srv, _ := newMemoryServer(t, msgDots, msgLF)
	srv.MaxBadCommands = 1000
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
	c.Login("alice", "secret")
	for _, tc := range []struct{ cmd, want string }{
		{"LIST 0", "-ERR no such message, only 2 in maildrop"},
		{"LIST 3", "-ERR no such message, only 2 in maildrop"},
		{"LIST -1", "-ERR invalid message number: -1"},
		{"LIST +1", "-ERR invalid message number: +1"},
		{"LIST 1a", "-ERR invalid message number: 1a"},
		{"LIST 123456789012345678901234567890", "-ERR no such message, only 2 in maildrop"},
		{"LIST 1 2", "-ERR too many arguments"},
		{"RETR", "-ERR missing argument"},
		{"RETR 0", "-ERR no such message, only 2 in maildrop"},
		{"RETR x", "-ERR invalid message number: x"},
		{"RETR 1 1", "-ERR too many arguments"},
		{"TOP 1", "-ERR missing argument"},
		{"TOP 1 x", "-ERR invalid line count: x"},
		{"TOP 1 -1", "-ERR invalid line count: -1"},
		{"TOP 9 1", "-ERR no such message, only 2 in maildrop"},
		{"TOP 1 1 1", "-ERR too many arguments"},
		{"DELE", "-ERR missing argument"},
		{"DELE 3", "-ERR no such message, only 2 in maildrop"},
		{"DELE 1x", "-ERR invalid message number: 1x"},
		{"UIDL 0", "-ERR no such message, only 2 in maildrop"},
		{"UIDL 1 2", "-ERR too many arguments"},
		{"STAT 1", "-ERR too many arguments"},
		{"NOOP 1", "-ERR too many arguments"},
		{"RSET 1", "-ERR too many arguments"},
		{"LAST 1", "-ERR too many arguments"},
		{"QUIT now", "-ERR too many arguments"},
		{"XYZZY", "-ERR unknown command"},
		{"RETRIEVE 1", "-ERR unknown command"},
		{"", "-ERR unknown command"},
	} {
		c.Send(tc.cmd)
		assert.Equal(t, tc.want, c.ReadLine(), tc.cmd)
	}
	c.Transcript(`
		C: STAT
		S: +OK 2 ...
		C: DELE 1
		S: +OK message 1 deleted
	`)
	c.Close()
	require.NoError(t, srv.Close())
	left, err := srv.Backend.(*memory.Backend).Messages("alice")
	require.NoError(t, err)
	assert.Len(t, left, 2, "no QUIT, nothing deleted")
}

// Every command is -ERR in the state it does not belong to.
func TestWrongState(t *testing.T) {
	srv, _ := newMemoryServer(t, msgDots)
	srv.MaxBadCommandsBeforeLogin = 100
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
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

func TestCaseAndLineEnds(t *testing.T) {
	srv, _ := newMemoryServer(t, msgDots)
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
	c.ReadReply()
	c.SendRaw("uSeR alice\npAsS secret\n")
	assert.Equal(t, "+OK send PASS", c.ReadLine())
	assert.Equal(t, "+OK maildrop has 1 message (82 octets)", c.ReadLine())
	c.SendRaw("stat\nStAt\r\n")
	assert.Equal(t, "+OK 1 82", c.ReadLine())
	assert.Equal(t, "+OK 1 82", c.ReadLine())
}

func TestCapa(t *testing.T) {
	srv, _ := newMemoryServer(t)
	srv.Implementation = "gopop3 test"
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
	c.ReadReply()
	c.Send("CAPA")
	require.Equal(t, "+OK capability list follows", c.ReadLine())
	before := strings.Split(strings.TrimSpace(string(c.ReadBody())), "\r\n")
	assert.Equal(t, []string{"TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "SASL PLAIN LOGIN",
		"EXPIRE NEVER", "UTF8 USER", "LANG"}, before)

	c.Send("USER alice")
	c.ReadReply()
	c.Send("PASS secret")
	c.ReadReply()
	c.Send("capa")
	require.Equal(t, "+OK capability list follows", c.ReadLine())
	after := strings.Split(strings.TrimSpace(string(c.ReadBody())), "\r\n")
	// RFC 2449 §5: what AUTHORIZATION offers is announced in both states.
	assert.Equal(t, []string{"TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "SASL PLAIN LOGIN",
		"EXPIRE NEVER", "UTF8 USER", "LANG", "IMPLEMENTATION gopop3 test"}, after)
	assert.NotContains(t, after, "LAST")
}

func TestQuitInAuthorization(t *testing.T) {
	srv, _ := newMemoryServer(t)
	addr := startServer(t, srv)
	transcript(t, addr, `
		S: +OK ...
		C: USER alice
		S: +OK send PASS
		C: QUIT
		S: +OK bye
		S: <closed>
	`)
}

// A maildrop open in one session answers [IN-USE] to another, and the
// first session is untouched.
func TestMaildropLock(t *testing.T) {
	srv, b := newMemoryServer(t, msgDots, msgLF)
	addr := startServer(t, srv)
	first := pop3test.Dial(t, addr)
	first.Login("alice", "secret")
	first.Send("DELE 1")
	require.Equal(t, "+OK message 1 deleted", first.ReadLine())

	second := transcript(t, addr, `
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

// UIDs are the same in every session and survive the deletion of others.
func TestUIDLStable(t *testing.T) {
	srv, _ := newMemoryServer(t, msgDots, msgLF, "Subject: 3\r\n\r\nthree\r\n")
	addr := startServer(t, srv)
	uidl := func(deleteFirst bool) map[string]string {
		c := pop3test.Dial(t, addr)
		c.Login("alice", "secret")
		c.Send("UIDL")
		require.Equal(t, "+OK unique-id listing follows", c.ReadLine())
		out := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(string(c.ReadBody())), "\r\n") {
			n, uid, ok := strings.Cut(l, " ")
			require.True(t, ok, l)
			require.Regexp(t, `^[\x21-\x7e]{1,70}$`, uid)
			out[n] = uid
			c.Send("UIDL " + n)
			assert.Equal(t, "+OK "+n+" "+uid, c.ReadLine())
		}
		if deleteFirst {
			c.Send("DELE 1")
			c.ReadReply()
		}
		c.Send("QUIT")
		require.True(t, strings.HasPrefix(c.ReadReply().Line, "+OK"))
		c.ExpectClosed()
		return out
	}
	first := uidl(false)
	require.Len(t, first, 3)
	assert.Len(t, map[string]bool{first["1"]: true, first["2"]: true, first["3"]: true}, 3, "UIDs are unique")
	assert.Equal(t, first, uidl(true))
	assert.Equal(t, map[string]string{"1": first["2"], "2": first["3"]}, uidl(false))
}

// Pipelined commands are all answered, in order.
func TestPipelining(t *testing.T) {
	srv, _ := newMemoryServer(t, msgDots, msgLF)
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
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

// Nothing is deleted when the connection drops without QUIT.
func TestDropWithoutQuit(t *testing.T) {
	srv, b := newMemoryServer(t, msgDots, msgLF)
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
	c.Login("alice", "secret")
	c.Send("DELE 1")
	require.Equal(t, "+OK message 1 deleted", c.ReadLine())
	c.Send("DELE 2")
	require.Equal(t, "+OK message 2 deleted", c.ReadLine())
	require.NoError(t, c.Conn().Close())

	// The maildrop is released once the session notices the drop.
	eventually(t, func() bool {
		d := pop3test.Dial(t, addr)
		d.ReadReply()
		d.Send("USER alice")
		d.ReadReply()
		d.Send("PASS secret")
		return strings.HasPrefix(d.ReadReply().Line, "+OK")
	}, 5*time.Second, 20*time.Millisecond)
	left, err := b.Messages("alice")
	require.NoError(t, err)
	assert.Len(t, left, 2)
}

// QUIT answers -ERR when the backend could not remove the messages, and
// still releases the maildrop.
func TestQuitWithFailingDelete(t *testing.T) {
	fb := &fakeBackend{msgs: []string{msgDots, msgDots, msgDots}, deleteErr: fmt.Errorf("disk full")}
	addr := startServer(t, pop3.NewServer(fb))
	c := pop3test.Dial(t, addr)
	c.Login("alice", "secret")
	c.Transcript(`
		C: DELE 1
		S: +OK message 1 deleted
		C: DELE 3
		S: +OK message 3 deleted
		C: QUIT
		S: -ERR [SYS/TEMP] some deleted messages not removed
		S: <closed>
	`)
	assert.Equal(t, [][]int{{0, 2}}, fb.deletes())
	assert.Equal(t, int32(1), fb.opens.Load())
	assert.Equal(t, int32(1), fb.closes.Load())
}

// QUIT without marks does not call Delete.
func TestQuitWithoutMarks(t *testing.T) {
	fb := &fakeBackend{msgs: []string{msgDots}}
	addr := startServer(t, pop3.NewServer(fb))
	c := pop3test.Dial(t, addr)
	c.Login("alice", "secret")
	c.Transcript(`
		C: DELE 1
		S: +OK message 1 deleted
		C: RSET
		S: +OK maildrop has 1 message (82 octets)
		C: QUIT
		S: +OK bye, 1 message left
		S: <closed>
	`)
	assert.Empty(t, fb.deletes())
	assert.Equal(t, int32(1), fb.closes.Load())
}

// LIST and STAT sizes are the octets RETR sends before dot-stuffing.
func TestSizesEqualRetrOctets(t *testing.T) {
	msgs := []string{
		msgDots,
		msgLF,
		"no final newline",
		"bare\rCR\r\n",
		".\r\n..\r\n...\n",
		"",
		strings.Repeat("long line with .dots. ", 4000) + "\n.\n",
	}
	srv, b := newMemoryServer(t, msgs...)
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
	c.Login("alice", "secret")
	stored, err := b.Messages("alice")
	require.NoError(t, err)
	var total int
	for i := range msgs {
		n := strconv.Itoa(i + 1)
		c.Send("LIST " + n)
		l := c.ReadReply().Line
		_, sizeText, _ := strings.Cut(strings.TrimPrefix(l, "+OK "), " ")
		size, err := strconv.Atoi(sizeText)
		require.NoError(t, err, l)
		c.Send("RETR " + n)
		assert.Equal(t, "+OK "+sizeText+" octets", c.ReadLine())
		body := string(c.ReadBody())
		assert.Equal(t, size, len(body), "message %d", i+1)
		assert.Equal(t, string(stored[i].Data), body, "message %d", i+1)
		total += size
	}
	c.Send("STAT")
	assert.Equal(t, fmt.Sprintf("+OK %d %d", len(msgs), total), c.ReadLine())
}

// PASS is valid only right after a successful USER (RFC 1939 §7).
func TestPassAfterFailedUser(t *testing.T) {
	srv, _ := newMemoryServer(t)
	transcript(t, startServer(t, srv), `
		S: +OK ...
		C: USER alice
		S: +OK send PASS
		C: USER
		S: -ERR missing argument
		C: PASS secret
		S: -ERR PASS must follow USER
	`)
}

// Control characters are refused (RFC 1939 §3: printable characters); UTF-8
// passes.
func TestControlCharacters(t *testing.T) {
	b := memory.New()
	require.NoError(t, b.AddUser("zoë", "pässwörd"))
	srv := pop3.NewServer(b)
	srv.MaxBadCommandsBeforeLogin = 10
	c := pop3test.Dial(t, startServer(t, srv))
	c.ReadReply()
	for _, line := range []string{"USER al\x00ice", "USER\talice", "PASS a\x01b", "\x7f"} {
		c.Send(line)
		assert.Equal(t, "-ERR control character in command", c.ReadLine(), "%q", line)
	}
	c.Transcript(`
		C: USER zoë
		S: +OK send PASS
		C: PASS pässwörd
		S: +OK maildrop has 0 messages (0 octets)
	`)
}

// A long greeting text is cut, never the APOP timestamp.
func TestLongGreetingKeepsTimestamp(t *testing.T) {
	srv, _ := newMemoryServer(t)
	srv.Greeting = strings.Repeat("ü", 400)
	srv.Domain = "mail.(example).com..:;"
	c := pop3test.Dial(t, startServer(t, srv))
	g := c.ReadReply().Line
	assert.Regexp(t, `^\+OK (ü)+ <\d+\.\d+\.[0-9a-f]+@mail\.example\.com>$`, g)
}

// Unique-ids that would break the framing are repaired, not sent.
func TestInvalidUIDsRepaired(t *testing.T) {
	fb := &fakeBackend{msgs: []string{msgDots, msgDots, msgDots}, uids: []string{"good", "bad uid\r\n.", ""}}
	srv := pop3.NewServer(fb)
	logs := captureLogs(srv)
	c := pop3test.Dial(t, startServer(t, srv))
	c.Login("alice", "secret")
	c.Transcript(`
		C: UIDL
		S: +OK unique-id listing follows
		S: 1 good
		S: 2 bad_uid__.
		S: 3 _3
		S: .
	`)
	assert.Contains(t, logs.String(), "invalid unique-ids")
}

// A backend that lists a size other than what RETR sends (here: the size
// of an LF file, which goes out as CRLF) is logged once per maildrop, with
// the UID and both numbers and never the content.
func TestRetrSizeMismatchIsLogged(t *testing.T) {
	be := &fakeBackend{msgs: []string{"Subject: lf\n\nsecret body\n", "Subject: lf2\n\nmore\n", "Subject: ok\r\n\r\nfine\r\n"}}
	srv := pop3.NewServer(be)
	logs := captureLogs(srv)
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
	c.Login("alice", "secret")
	for _, n := range []string{"3", "1", "2"} {
		c.Send("RETR " + n)
		require.True(t, strings.HasPrefix(c.ReadReply().Line, "+OK"))
		c.ReadBody()
	}
	c.Send("QUIT")
	c.ReadReply()
	c.ExpectClosed()
	require.NoError(t, srv.Close())
	assert.Equal(t, 1, strings.Count(logs.String(), "level=WARN"), logs.String())
	assert.Regexp(t, `level=WARN msg=".*size.*" .*uid=uid-1 listed=25 sent=28`, logs.String())
	assert.NotContains(t, logs.String(), "secret body")
}

// CRLFSize is what RETR sends, for every way of ending lines.
func TestCRLFSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"", 0},
		{"a\r\n", 3},
		{"a\n", 3},
		{"a", 3},
		{"a\nb\n", 6},
		{"a\r\nb", 6},
		{".\n..\n", 7},
		{"x\ry", 5},
		{"a\r", 3},
		{msgDots, int64(len(msgDots))},
		{msgLF, int64(len(msgLFasCRLF))},
	} {
		got, err := pop3.CRLFSize(strings.NewReader(tc.in))
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "%q", tc.in)
	}
	_, err := pop3.CRLFSize(iotest.ErrReader(io.ErrUnexpectedEOF))
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

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
			srv, _ := newMemoryServer(t)
			logs := captureLogs(srv)
			if tc.setup != nil {
				tc.setup(srv)
			}
			addr := startServer(t, srv)
			c := pop3test.Dial(t, addr)
			c.ReadReply()
			c.Transcript(tc.script)
			if tc.stop != nil {
				tc.stop(srv)
			}
			c.Close()
			require.Eventually(t, func() bool { return strings.Contains(logs.String(), "session ended") }, 5*time.Second, 5*time.Millisecond)
			require.NoError(t, srv.Close())
			assert.Regexp(t, `session ended" .*reason="?`+tc.reason+`"? duration=\S+ tls=false`, logs.String())
		})
	}

	// After login, the method is there too.
	srv, _ := newMemoryServer(t)
	logs := captureLogs(srv)
	addr := startServer(t, srv)
	transcript(t, addr, `
		S: +OK ...
		C: AUTH PLAIN `+b64("\x00alice\x00secret")+`
		S: +OK ...
		C: QUIT
		S: +OK bye, 0 messages left
		S: <closed>
	`)
	require.NoError(t, srv.Close())
	assert.Regexp(t, `session ended" .*user=alice reason=quit duration=\S+ method="AUTH PLAIN" tls=false`, logs.String())
}

// TestMessageCountGrammar: a count of one message is singular, in English
// and in Bulgarian, in the greeting after login, LIST and QUIT.
func TestMessageCountGrammar(t *testing.T) {
	for _, tc := range []struct {
		msgs                    int
		lang                    string
		maildrop, list, goodbye string
	}{
		{0, "", "+OK maildrop has 0 messages (0 octets)", "+OK 0 messages (0 octets)", "+OK bye, 0 messages left"},
		{1, "", "+OK maildrop has 1 message (3 octets)", "+OK 1 message (3 octets)", "+OK bye, 1 message left"},
		{2, "", "+OK maildrop has 2 messages (6 octets)", "+OK 2 messages (6 octets)", "+OK bye, 2 messages left"},
		{1, "bg", "+OK пощенската кутия съдържа 1 съобщение (3 октета)", "+OK 1 съобщение (3 октета)", "+OK довиждане, остава 1 съобщение"},
		{2, "bg", "+OK пощенската кутия съдържа 2 съобщения (6 октета)", "+OK 2 съобщения (6 октета)", "+OK довиждане, остават 2 съобщения"},
	} {
		t.Run(fmt.Sprintf("%d %s", tc.msgs, tc.lang), func(t *testing.T) {
			srv, _ := newMemoryServer(t, slices.Repeat([]string{"a\r\n"}, tc.msgs)...)
			srv.Logger = discardLogger()
			c := pop3test.Dial(t, startServer(t, srv))
			if tc.lang != "" {
				c.OK("LANG " + tc.lang)
			}
			c.OK("USER alice")
			assert.Equal(t, tc.maildrop, c.Cmd("PASS secret").Line)
			assert.Equal(t, tc.list, c.OK("LIST").Line)
			assert.Equal(t, tc.goodbye, c.Cmd("QUIT").Line)
		})
	}
}
