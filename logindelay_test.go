package pop3_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/testhooks"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock(srv *pop3.Server) *fakeClock {
	c := &fakeClock{now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	testhooks.SetClock(srv, c.Now)
	return c
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestLoginDelay is RFC 2449 §6.5 and §8.1.1 with the delay kept by the
// user (memory's users are LoginRecorders) and by the server (loginOnly's
// are not).
func TestLoginDelay(t *testing.T) {
	for _, tc := range []struct {
		name    string
		backend func(t *testing.T) pop3.Backend
	}{
		{"kept by the backend", func(t *testing.T) pop3.Backend {
			return aliceBackend(t, "Subject: a\r\n\r\nA\r\n")
		}},
		{"kept by the server", func(t *testing.T) pop3.Backend {
			return loginOnly(aliceBackend(t, "Subject: a\r\n\r\nA\r\n"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var clock *fakeClock
			ts := pop3test.NewServer(t, tc.backend(t), pop3test.WithConfig(func(srv *pop3.Server) {
				srv.LoginDelay = time.Minute
				clock = newFakeClock(srv)
			}))
			capa := capaScript("LOGIN-DELAY 60", "EXPIRE NEVER")
			ts.Dial().Transcript("S: +OK POP3 server ready...\n" + capa + `
				C: USER alice
				S: +OK send PASS
				C: PASS secret
				S: +OK maildrop has 1 message...
				` + capa + `
				C: QUIT
				S: +OK bye, 1 message left
				S: <closed>`)

			clock.Advance(20 * time.Second)
			ts.Dial().Transcript(`
				S: +OK POP3 server ready...
				C: USER alice
				S: +OK send PASS
				C: PASS wrong
				S: -ERR [AUTH] authentication failed
				C: USER alice
				S: +OK send PASS
				C: PASS secret
				S: -ERR [LOGIN-DELAY] login too soon after the previous one, try again in 40 seconds
				C: STAT
				S: -ERR command not valid in the AUTHORIZATION state
				C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
				S: -ERR [LOGIN-DELAY] login too soon after the previous one, try again in 40 seconds
				C: QUIT
				S: +OK bye
				S: <closed>`)

			clock.Advance(40 * time.Second)
			ts.Dial().Transcript(`
				S: +OK POP3 server ready...
				C: USER alice
				S: +OK send PASS
				C: PASS secret
				S: +OK maildrop has 1 message...
				C: QUIT
				S: +OK bye, 1 message left`)
		})
	}
}

// TestLoginDelayInUse: a login refused with [IN-USE] had the right
// credentials but starts no delay (RFC 2449 §6.5: the delay runs from a
// +OK).
func TestLoginDelayInUse(t *testing.T) {
	var clock *fakeClock
	ts := pop3test.NewServer(t, aliceBackend(t, "Subject: a\r\n\r\nA\r\n"), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.LoginDelay = time.Minute
		clock = newFakeClock(srv)
	}))

	holder := ts.Dial()
	holder.ReadReply()
	holder.Login("alice", "secret")
	clock.Advance(2 * time.Minute)
	ts.Dial().Transcript(`
		S: +OK POP3 server ready...
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: -ERR [IN-USE] maildrop already locked by another session`)
	holder.OK("QUIT")

	// The refused login did not start a delay: the maildrop opens now.
	ts.Dial().Transcript(`
		S: +OK POP3 server ready...
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: +OK maildrop has 1 message...`)
}

// TestLoginDelayPerUser is the USER suffix of RFC 2449 §6.5 and §6.7: the
// bound before login, the user's own value after it, held within the bound.
func TestLoginDelayPerUser(t *testing.T) {
	b := memory.New()
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		require.NoError(t, b.AddUser(name, "secret"))
	}
	require.NoError(t, b.SetPolicy("alice", pop3.UserPolicy{LoginDelay: 90 * time.Second, Expire: pop3.ExpireAfter(30)}))
	require.NoError(t, b.SetPolicy("bob", pop3.UserPolicy{LoginDelay: time.Hour, Expire: pop3.ExpireAfter(1)}))
	require.NoError(t, b.SetPolicy("carol", pop3.UserPolicy{LoginDelay: -1, Expire: pop3.ExpireNever}))
	var clock *fakeClock
	ts := pop3test.NewServer(t, b, pop3test.WithConfig(func(srv *pop3.Server) {
		srv.LoginDelay = 5 * time.Minute
		srv.Expire = pop3.ExpireAfter(7)
		srv.UserPolicies = true
		clock = newFakeClock(srv)
	}))

	capa := func(c *pop3test.Client) []string {
		var policy []string
		for _, l := range c.OK("CAPA").Lines() {
			if strings.HasPrefix(l, "LOGIN-DELAY") || strings.HasPrefix(l, "EXPIRE") {
				policy = append(policy, l)
			}
		}
		return policy
	}
	for _, tc := range []struct {
		user string
		want []string
	}{
		{"alice", []string{"LOGIN-DELAY 90", "EXPIRE 30"}},
		{"bob", []string{"LOGIN-DELAY 300", "EXPIRE 7"}}, // held within the bounds
		{"carol", []string{"EXPIRE NEVER"}},
		{"dave", []string{"LOGIN-DELAY 300", "EXPIRE 7"}}, // the server's
	} {
		t.Run(tc.user, func(t *testing.T) {
			c := ts.Dial()
			c.ReadReply()
			assert.Equal(t, []string{"LOGIN-DELAY 300 USER", "EXPIRE 7 USER"}, capa(c))
			c.Login(tc.user, "secret")
			assert.Equal(t, tc.want, capa(c))
			c.OK("QUIT")
		})
	}

	// Each user's own delay applies: carol has none, alice 90 seconds.
	clock.Advance(time.Minute)
	for user, want := range map[string]string{
		"carol": "+OK maildrop has 0 messages (0 octets)",
		"alice": "-ERR [LOGIN-DELAY] login too soon after the previous one, try again in 30 seconds",
	} {
		c := ts.Dial()
		c.ReadReply()
		c.OK("USER " + user)
		c.Send("PASS secret")
		assert.Equal(t, want, c.ReadLine(), user)
	}
}

// TestLoginDelayFutureLastLogin: a last login recorded in the future (a
// clock that was wrong, a restored store) does not lock the user out.
func TestLoginDelayFutureLastLogin(t *testing.T) {
	b := aliceBackend(t)
	var clock *fakeClock
	ts := pop3test.NewServer(t, b, pop3test.WithConfig(func(srv *pop3.Server) {
		srv.LoginDelay = time.Hour
		clock = newFakeClock(srv)
	}))
	u, err := b.Login(t.Context(), &pop3.ConnInfo{}, "alice", "secret")
	require.NoError(t, err)
	require.NoError(t, u.(pop3.LoginRecorder).RecordLogin(t.Context(), clock.Now().Add(30*24*time.Hour)))
	ts.Dial().Transcript(`
		S: +OK POP3 server ready...
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: +OK maildrop has 0 messages (0 octets)
		C: QUIT
		S: +OK bye, 0 messages left`)
	last, err := u.(pop3.LoginRecorder).LastLogin(t.Context())
	require.NoError(t, err)
	assert.Equal(t, clock.Now(), last, "the login recorded a time of its own")
	ts.Dial().Transcript(`
		S: +OK POP3 server ready...
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: -ERR [LOGIN-DELAY] login too soon after the previous one, try again in 3600 seconds`)
}

// racedUser is a LoginRecorder that another session logs in as between
// the check before Open and the one after it.
type racedUser struct {
	pop3.User
	now   func() time.Time
	reads int
}

func (u *racedUser) LastLogin(context.Context) (time.Time, error) {
	u.reads++
	if u.reads == 1 {
		return time.Time{}, nil
	}
	return u.now(), nil
}

func (u *racedUser) RecordLogin(context.Context, time.Time) error { return nil }

// TestLoginDelayCheckedAgainWhenOpen: of two logins that pass the first
// check together, the second to open the maildrop is refused, and the
// maildrop it opened is closed again.
func TestLoginDelayCheckedAgainWhenOpen(t *testing.T) {
	faulty := pop3test.NewFaultBackend(aliceBackend(t, "a\r\n"))
	var clock *fakeClock
	be := pop3.BackendFunc(func(ctx context.Context, c *pop3.ConnInfo, username, password string) (pop3.User, error) {
		u, err := faulty.Backend().Login(ctx, c, username, password)
		if err != nil {
			return nil, err
		}
		return &racedUser{User: u, now: clock.Now}, nil
	})
	ts := pop3test.NewServer(t, be, pop3test.WithConfig(func(srv *pop3.Server) {
		srv.LoginDelay = time.Minute
		clock = newFakeClock(srv)
	}))
	ts.Dial().Transcript(`
		S: +OK POP3 server ready
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: -ERR [LOGIN-DELAY] login too soon after the previous one, try again in 60 seconds
		C: STAT
		S: -ERR command not valid in the AUTHORIZATION state`)
	assert.Equal(t, 1, faulty.Calls(pop3test.OpOpen))
	assert.Equal(t, 1, faulty.Calls(pop3test.OpClose), "the maildrop opened for the second check is closed")
}
