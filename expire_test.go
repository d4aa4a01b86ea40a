package pop3_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

// subjects lists the Subject lines left in alice's maildrop.
func subjects(t *testing.T, b *memory.Backend) []string {
	t.Helper()
	msgs, err := b.Messages("alice")
	require.NoError(t, err)
	var out []string
	for _, m := range msgs {
		line, _, _ := strings.Cut(string(m.Data), "\r\n")
		out = append(out, line)
	}
	return out
}

// waitReleased waits until the session of a dropped connection has
// released alice's maildrop, which it does without UPDATE.
func waitReleased(t *testing.T, b *memory.Backend) {
	t.Helper()
	u, err := b.Login(t.Context(), &pop3.ConnInfo{}, "alice", "secret")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		mb, err := u.Open(t.Context())
		if err != nil {
			return false
		}
		return mb.Close() == nil
	}, 5*time.Second, 5*time.Millisecond)
}

func newExpireServer(t *testing.T, expire pop3.Expire) (*pop3test.Server, *memory.Backend, *fakeClock) {
	t.Helper()
	b := aliceBackend(t, "Subject: 1\r\n\r\none\r\n", "Subject: 2\r\n\r\ntwo\r\n", "Subject: 3\r\n\r\nthree\r\n")
	var clock *fakeClock
	ts := pop3test.NewServer(t, b, pop3test.WithConfig(func(srv *pop3.Server) {
		srv.Expire = expire
		clock = newFakeClock(srv)
	}))
	return ts, b, clock
}

// TestExpireZero: under EXPIRE 0 UPDATE removes every message the session
// retrieved with RETR, as if deleted (RFC 2449 §6.7); RSET undoes it, and
// nothing is removed without QUIT.
func TestExpireZero(t *testing.T) {
	ts, b, _ := newExpireServer(t, pop3.ExpireAfter(0))
	ts.Dial().Transcript("S: +OK POP3 server ready...\n" + capaScript("EXPIRE 0") + `
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: +OK maildrop has 3 messages (59 octets)
		C: RETR 1
		S: +OK 19 octets
		S: Subject: 1
		S:
		S: one
		S: .
		C: RSET
		S: +OK maildrop has 3 messages (59 octets)
		C: RETR 2
		S: +OK 19 octets
		S: Subject: 2
		S:
		S: two
		S: .
		C: TOP 3 0
		S: +OK top of message follows
		S: Subject: 3
		S:
		S: .
		C: LIST
		S: +OK 3 messages (59 octets)
		S: 1 19
		S: 2 19
		S: 3 21
		S: .
		C: QUIT
		S: +OK bye, 2 messages left
		S: <closed>`)
	assert.Equal(t, []string{"Subject: 1", "Subject: 3"}, subjects(t, b))

	// A session that ends without QUIT removes nothing.
	c := ts.Dial()
	c.ReadReply()
	c.Login("alice", "secret")
	c.OK("RETR 1")
	c.Close()
	waitReleased(t, b)
	assert.Equal(t, []string{"Subject: 1", "Subject: 3"}, subjects(t, b))
}

// TestExpireDays: under EXPIRE n a message first retrieved more than n
// days ago is removed at the next UPDATE (RFC 2449 §6.7).
func TestExpireDays(t *testing.T) {
	ts, b, clock := newExpireServer(t, pop3.ExpireAfter(3))
	session := func(script string) {
		t.Helper()
		ts.Dial().Transcript("S: +OK POP3 server ready...\nC: USER alice\nS: +OK send PASS\nC: PASS secret\n" + script)
	}
	session(`
		S: +OK maildrop has 3 messages (59 octets)
		C: RETR 1
		S: +OK 19 octets...
		S: Subject: 1
		S:
		S: one
		S: .
		C: QUIT
		S: +OK bye, 3 messages left`)

	clock.Advance(2 * 24 * time.Hour)
	session(`
		S: +OK maildrop has 3 messages (59 octets)
		C: RETR 1
		S: +OK 19 octets
		S: Subject: 1
		S:
		S: one
		S: .
		C: RETR 2
		S: +OK 19 octets
		S: Subject: 2
		S:
		S: two
		S: .
		C: QUIT
		S: +OK bye, 3 messages left`)
	assert.Len(t, subjects(t, b), 3, "nothing is older than 3 days yet")

	// Message 1 was first retrieved 3 days and an hour ago; message 2
	// only a day and an hour ago, its second retrieval not counting.
	clock.Advance(24*time.Hour + time.Hour)
	session(`
		S: +OK maildrop has 3 messages (59 octets)
		` + capaScript("EXPIRE 3") + `
		C: QUIT
		S: +OK bye, 2 messages left`)
	assert.Equal(t, []string{"Subject: 2", "Subject: 3"}, subjects(t, b))

	// Nothing is removed by a session that does not QUIT, however old.
	clock.Advance(30 * 24 * time.Hour)
	c := ts.Dial()
	c.ReadReply()
	c.Login("alice", "secret")
	c.Close()
	waitReleased(t, b)
	assert.Equal(t, []string{"Subject: 2", "Subject: 3"}, subjects(t, b))
	session(`
		S: +OK maildrop has 2 messages (40 octets)
		C: QUIT
		S: +OK bye, 1 message left`)
	assert.Equal(t, []string{"Subject: 3"}, subjects(t, b))
}

// TestExpireNeedsRetrievalBackend: EXPIRE n cannot be served by a backend
// that does not record retrievals; Serve says so at once.
func TestExpireNeedsRetrievalBackend(t *testing.T) {
	srv := pop3.NewServer(loginOnly(memory.New()))
	srv.Expire = pop3.ExpireAfter(30)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	err = srv.Serve(l)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pop3.RetrievalBackend")

	// EXPIRE 0 needs nothing of the backend.
	ts := pop3test.NewServer(t, loginOnly(aliceBackend(t, "a\r\n")), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.Expire = pop3.ExpireAfter(0)
	}))
	ts.Dial().Transcript(`
		S: +OK POP3 server ready
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: +OK maildrop has 1 message (3 octets)
		C: RETR 1
		S: +OK 3 octets
		S: a
		S: .
		C: QUIT
		S: +OK bye, 0 messages left`)
}

func TestParseExpire(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		err  bool
	}{
		{"never", "NEVER", false},
		{"NEVER", "NEVER", false},
		{"0", "0", false},
		{"30", "30", false},
		{"-1", "", true},
		{"3d", "", true},
		{"", "", true},
		{"99999999", "", true},
	} {
		e, err := pop3.ParseExpire(tc.in)
		if tc.err {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, e.String())
	}
	assert.Equal(t, pop3.ExpireNever, pop3.ExpireAfter(-5), "a negative retention keeps mail")
	days, ok := pop3.ExpireAfter(7).Days()
	assert.True(t, ok)
	assert.Equal(t, 7, days)
	_, ok = pop3.ExpireNever.Days()
	assert.False(t, ok)
	assert.True(t, pop3.Expire{}.IsZero())
	assert.Equal(t, "NEVER", pop3.Expire{}.String())
}

// TestExpireBoundary: "more than n days": a message retrieved exactly n
// days ago stays, one a second older goes.
func TestExpireBoundary(t *testing.T) {
	ts, b, clock := newExpireServer(t, pop3.ExpireAfter(1))
	login := "S: +OK POP3 server ready...\nC: USER alice\nS: +OK send PASS\nC: PASS secret\nS: +OK maildrop...\n"
	ts.Dial().Transcript(login + "C: RETR 1\nS: +OK 19 octets\nS: Subject: 1\nS:\nS: one\nS: .\nC: QUIT\nS: +OK bye, 3 messages left")
	clock.Advance(24 * time.Hour)
	ts.Dial().Transcript(login + "C: QUIT\nS: +OK bye, 3 messages left")
	clock.Advance(time.Second)
	ts.Dial().Transcript(login + "C: QUIT\nS: +OK bye, 2 messages left")
	assert.Equal(t, []string{"Subject: 2", "Subject: 3"}, subjects(t, b))
}
