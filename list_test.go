package pop3_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/pop3test"
)

// UIDs are the same in every session and survive the deletion of others.
func TestUIDLStable(t *testing.T) {
	ts := pop3test.NewServer(t, aliceBackend(t, msgDots, msgLF, "Subject: 3\r\n\r\nthree\r\n"))
	uidl := func(deleteFirst bool) map[string]string {
		c := ts.Dial()
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
	b := aliceBackend(t, msgs...)
	c := pop3test.NewServer(t, b).Dial()
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

// Unique-ids that would break the framing are repaired, not sent.
func TestInvalidUIDsRepaired(t *testing.T) {
	fb := &fakeBackend{msgs: []string{msgDots, msgDots, msgDots}, uids: []string{"good", "bad uid\r\n.", ""}}
	ts := pop3test.NewServer(t, fb)
	c := ts.Dial()
	c.Login("alice", "secret")
	c.Transcript(`
		C: UIDL
		S: +OK unique-id listing follows
		S: 1 good
		S: 2 bad_uid__.
		S: 3 _3
		S: .
	`)
	assert.Contains(t, ts.Logs(), "invalid unique-ids")
}
