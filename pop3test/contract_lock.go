package pop3test

import (
	"errors"
	"testing"
	"time"

	"github.com/gopop3/pop3"
)

func (k *kit) testOpen(t *testing.T) {
	run(t, "second Open fails with ErrMailboxLocked", func(t *testing.T) {
		b := k.backend(t, accounts())
		first := open(t, b, alice)
		for _, u := range []pop3.User{login(t, b, alice), login(t, b, alice)} {
			mb, err := u.Open(ctx(t))
			if err == nil {
				_ = closeBox(t, mb)
				t.Fatal("a second Open of alice's maildrop succeeded while the first was open; Open must lock it (RFC 1939 §4)")
			}
			if !errors.Is(err, pop3.ErrMailboxLocked) {
				t.Errorf("a second Open of a locked maildrop = %v, want pop3.ErrMailboxLocked", err)
			}
		}
		c := serve(t, b).Dial()
		c.OK("USER " + alice.Username)
		if r := c.Cmd("PASS " + alice.Password); r.OK || r.Code != pop3.CodeInUse {
			t.Errorf("logging in to a locked maildrop: %q, want -ERR [IN-USE] ...", r.Line)
		}
		first.close(t)
	})

	run(t, "other users are unaffected", func(t *testing.T) {
		b := k.backend(t, accounts())
		open(t, b, alice)
		open(t, b, bob).close(t)
		c := session(serve(t, b), carol)
		c.Quit()
	})
}

func (k *kit) testClose(t *testing.T) {
	run(t, "releases the lock", func(t *testing.T) {
		b := k.backend(t, accounts())
		u := login(t, b, alice)
		for range 3 {
			openUser(t, u, alice.Username).close(t)
		}
		open(t, b, alice).close(t)
	})

	// Each way a session ends; after it, the next session must get in.
	ends := []struct {
		name  string
		opts  []Option
		fault *Fault
		end   func(t *testing.T, c *Client)
	}{
		{name: "releases the lock after QUIT", end: func(t *testing.T, c *Client) {
			c.OK("DELE 1")
			c.Quit()
		}},
		{name: "releases the lock after the client drops", end: func(t *testing.T, c *Client) {
			c.OK("DELE 1")
			c.Close()
		}},
		{
			name: "releases the lock after an idle timeout",
			opts: []Option{WithConfig(func(srv *pop3.Server) { srv.IdleTimeout = 200 * time.Millisecond })},
			end: func(t *testing.T, c *Client) {
				c.Timeout = 5 * time.Second
				r := c.ReadReply() // the server's notice before it closes
				if r.OK {
					t.Errorf("idle timeout: the server sent %q", r.Line)
				}
				c.ExpectClosed()
			},
		},
		{
			name:  "releases the lock after a panic in the session",
			fault: &Fault{Op: OpMessage, Panic: "pop3test: a panic injected in Message"},
			end: func(t *testing.T, c *Client) {
				if r := c.Cmd("RETR 1"); r.OK {
					t.Errorf("RETR that panics: %q", r.Line)
				}
				c.ExpectClosed()
			},
		},
	}
	for _, e := range ends {
		run(t, e.name, func(t *testing.T) {
			b := k.backend(t, accounts())
			served, opts := b, e.opts
			if e.fault != nil {
				served = NewFaultBackend(b, *e.fault).Backend()
				opts = append(opts, allowPanic(e.fault.Panic))
			}
			srv := serve(t, served, opts...)
			c := srv.Dial()
			// One write, so that a slow test machine cannot hit the short
			// idle timeout between USER and PASS.
			if r := c.Pipeline("USER "+alice.Username, "PASS "+alice.Password); !r[1].OK {
				t.Fatalf("login: %s", r[1].Line)
			}
			e.end(t, c)
			ok, err := waitUnlocked(t, b, alice)
			if !ok {
				t.Fatalf("the maildrop is still locked 5 s after the session ended (Open: %v): Close did not release it", err)
			}
			if err != nil {
				t.Errorf("Close of a mailbox: %v", err)
			}
			next := session(srv, alice)
			next.Quit()
		})
	}
}
