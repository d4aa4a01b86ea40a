package pop3test_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/pop3test"
)

func TestClientReplies(t *testing.T) {
	long := strings.Repeat("x", 5000)
	addr, received := cannedServer(t, ""+
		"+OK ready <1.2@host>\r\n"+
		"+OK 2 messages\r\n1 10\r\n2 5020\r\n.\r\n"+ // LIST
		"+OK 1 10\r\n"+ // LIST 1
		"+OK 5020 octets\r\nSubject: x\r\n\r\n..dot\r\n"+long+"\r\n...\r\n.\r\n"+ // RETR 2
		"-ERR [IN-USE] locked\r\n"+ // STAT
		"+ VXNlcm5hbWU6\r\n"+ // AUTH LOGIN
		"-ERR no code\r\n"+ // *
		"+OK\r\n") // QUIT
	c := pop3test.Dial(t, addr)

	assert.Equal(t, "<1.2@host>", c.Timestamp(), "the greeting is read on first use")
	list := c.Cmd("LIST")
	assert.True(t, list.OK)
	assert.Equal(t, []string{"1 10", "2 5020"}, list.Lines())

	one := c.Cmd("LIST 1")
	assert.Equal(t, "1 10", one.Text)
	assert.Nil(t, one.Body, "LIST with an argument has a single-line reply")

	retr := c.OK("RETR 2")
	assert.Equal(t, "Subject: x\r\n\r\n.dot\r\n"+long+"\r\n..\r\n", string(retr.Body), "un-stuffed, long lines whole")

	locked := c.Cmd("STAT")
	assert.False(t, locked.OK)
	assert.Equal(t, "IN-USE", locked.Code)
	assert.Equal(t, "locked", locked.Text)
	assert.Equal(t, "-ERR [IN-USE] locked", locked.String())

	cont := c.Cmd("AUTH LOGIN")
	assert.True(t, cont.Continuation)
	assert.False(t, cont.OK, "a challenge is not a success")
	assert.Equal(t, "VXNlcm5hbWU6", cont.Text)

	plain := c.Cmd("*")
	assert.Equal(t, "", plain.Code)
	assert.Equal(t, "no code", plain.Text)

	quit := c.Cmd("QUIT")
	assert.True(t, quit.OK)
	assert.Empty(t, quit.Text)
	c.Close()
	assert.Equal(t, "LIST\r\nLIST 1\r\nRETR 2\r\nSTAT\r\nAUTH LOGIN\r\n*\r\nQUIT\r\n", received())
}

func TestClientPipeline(t *testing.T) {
	addr, received := cannedServer(t, "+OK hi\r\n+OK 1 1\r\n+OK\r\nx\r\n.\r\n-ERR no\r\n+OK 1 uid\r\n")
	c := pop3test.Dial(t, addr)
	replies := c.Pipeline("STAT", "UIDL", "DELE 9", "UIDL 1")
	require.Len(t, replies, 4)
	assert.Equal(t, "1 1", replies[0].Text)
	assert.Equal(t, []string{"x"}, replies[1].Lines())
	assert.False(t, replies[2].OK)
	assert.Equal(t, "1 uid", replies[3].Text)
	c.Close()
	assert.Equal(t, "STAT\r\nUIDL\r\nDELE 9\r\nUIDL 1\r\n", received())
}

func TestClientCopyBody(t *testing.T) {
	addr, _ := cannedServer(t, "+OK hi\r\n+OK\r\n..a\r\nb\r\n.\r\n")
	c := pop3test.Dial(t, addr)
	c.Greeting() // Send leaves the greeting to the test
	c.Send("RETR 1")
	require.True(t, c.ReadReply().OK)
	var body strings.Builder
	assert.Equal(t, int64(7), c.CopyBody(&body))
	assert.Equal(t, ".a\r\nb\r\n", body.String())
}

func TestClientTranscript(t *testing.T) {
	addr, received := cannedServer(t, "+OK POP3 ready\r\n+OK 2 320\r\n+OK\r\nSubject: x\r\n\r\n.\r\n+OK bye\r\n")
	c := pop3test.Dial(t, addr)
	c.Transcript(`
		S: +OK POP3...
		C: STAT
		S: +OK 2 320
		C: TOP 1 0
		S: +OK
		S: Subject: x
		S:
		S: .
		C: QUIT
		S: +OK bye
		S: <closed>
	`)
	c.Close()
	assert.Equal(t, "STAT\r\nTOP 1 0\r\nQUIT\r\n", received())
}

// TestClientFailsOnBrokenServers checks that a server that breaks the
// framing fails the test, with a message that says how.
func TestClientFailsOnBrokenServers(t *testing.T) {
	tests := []struct {
		name    string
		replies string
		do      func(c *pop3test.Client)
		want    string
	}{
		{"bare LF", "+OK hi\n", func(c *pop3test.Client) { c.Greeting() }, "bare LF"},
		{"no status", "+OK hi\r\nhello\r\n", func(c *pop3test.Client) { c.Cmd("NOOP") }, "not a status line"},
		{"status line over 512 octets", "+OK hi\r\n+OK " + strings.Repeat("a", 600) + "\r\n", func(c *pop3test.Client) { c.Cmd("NOOP") }, "over the 512"},
		{"body cut short", "+OK hi\r\n+OK\r\nline\r\n", func(c *pop3test.Client) { c.Cmd("RETR 1") }, "cut short"},
		{"closed where a reply is due", "+OK hi\r\n", func(c *pop3test.Client) { c.Cmd("NOOP") }, "closed the connection"},
		{"a negative reply to OK", "+OK hi\r\n-ERR [SYS/TEMP] oops\r\n", func(c *pop3test.Client) { c.OK("STAT") }, "STAT: -ERR [SYS/TEMP] oops"},
		{"a refused login, password hidden", "+OK hi\r\n+OK\r\n-ERR [AUTH] no\r\n", func(c *pop3test.Client) { c.Login("alice", "s3cret") }, `login as "alice" refused`},
		{"data after QUIT", "+OK hi\r\n+OK bye\r\nextra\r\n", func(c *pop3test.Client) { c.Quit() }, `sent "extra\r\n" before closing`},
		{"transcript mismatch", "+OK hi\r\n+OK 1 2\r\n", func(c *pop3test.Client) {
			c.Transcript("S: +OK hi\nC: STAT\nS: +OK 0 0")
		}, "transcript line 3: want\n\tS: +OK 0 0\ngot\n\tS: +OK 1 2\nafter\n\tS: +OK hi\n\tC: STAT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, _ := cannedServer(t, tt.replies)
			got := failures(t, func(tb testing.TB) {
				c := pop3test.Dial(tb, addr)
				c.Timeout = 2 * time.Second
				tt.do(c)
			})
			require.Len(t, got, 1, "one failure")
			assert.Contains(t, got[0], tt.want)
			assert.NotContains(t, got[0], "s3cret")
		})
	}
}

// A server that closes while the client's input waits unread resets the
// connection: ExpectClosed takes that as the close it is.
func TestClientExpectClosedAfterReset(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := l.Accept()
		if err != nil {
			return
		}
		conn.Write([]byte("-ERR bye\r\n"))
		time.Sleep(100 * time.Millisecond) // the client's bytes arrive, unread
		conn.Close()                       // with unread input: a reset
	}()
	c := pop3test.Dial(t, l.Addr().String())
	c.SendRaw("NOOP\r\nNOOP\r\n")
	assert.Equal(t, "-ERR bye", c.ReadLine())
	time.Sleep(200 * time.Millisecond)
	c.ExpectClosed()
	<-done
}
