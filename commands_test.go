package pop3_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

// Every malformed or out-of-range argument is -ERR and the session goes
// on.
func TestBadArguments(t *testing.T) {
	b := aliceBackend(t, msgDots, msgLF)
	ts := pop3test.NewServer(t, b, pop3test.WithConfig(func(srv *pop3.Server) {
		srv.MaxBadCommands = 1000
	}))
	c := ts.Dial()
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
	require.NoError(t, ts.Config.Close())
	left, err := b.Messages("alice")
	require.NoError(t, err)
	assert.Len(t, left, 2, "no QUIT, nothing deleted")
}

func TestCaseAndLineEnds(t *testing.T) {
	c := pop3test.NewServer(t, aliceBackend(t, msgDots)).Dial()
	c.ReadReply()
	c.SendRaw("uSeR alice\npAsS secret\n")
	assert.Equal(t, "+OK send PASS", c.ReadLine())
	assert.Equal(t, "+OK maildrop has 1 message (82 octets)", c.ReadLine())
	c.SendRaw("stat\nStAt\r\n")
	assert.Equal(t, "+OK 1 82", c.ReadLine())
	assert.Equal(t, "+OK 1 82", c.ReadLine())
}

// Control characters are refused (RFC 1939 §3: printable characters); UTF-8
// passes.
func TestControlCharacters(t *testing.T) {
	b := memory.New()
	require.NoError(t, b.AddUser("zoë", "pässwörd"))
	c := pop3test.NewServer(t, b, pop3test.WithConfig(func(srv *pop3.Server) {
		srv.MaxBadCommandsBeforeLogin = 10
	})).Dial()
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
