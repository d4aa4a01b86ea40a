package pop3test

import (
	"slices"
	"strconv"
	"testing"
)

func (k *kit) testDele(t *testing.T) {
	run(t, "Delete removes exactly the given messages", func(t *testing.T) {
		b := k.backend(t, accounts())
		mb := open(t, b, alice)
		before := uids(mb.Messages())
		requireCount(t, "alice's listing", before, len(alice.Messages))
		if err := mb.Delete(ctx(t), []int{1, 3}); err != nil {
			t.Fatalf("Delete([1 3]): %v", err)
		}
		mb.close(t)
		mb = open(t, b, alice)
		wantUIDs := []string{before[0], before[2], before[4]}
		if got := uids(mb.Messages()); !slices.Equal(got, wantUIDs) {
			t.Fatalf("after Delete([1 3]) of %v the next Open lists %v, want %v", before, got, wantUIDs)
		}
		for i, orig := range []int{0, 2, 4} {
			sameBytes(t, read(t, mb, i), normalize(alice.Messages[orig]), "message %d after the delete (was %d)", i+1, orig+1)
		}
		mb.close(t)
		other := open(t, b, bob)
		if got := len(other.Messages()); got != len(bob.Messages) {
			t.Errorf("deleting alice's mail left bob %d messages, want %d", got, len(bob.Messages))
		}
	})

	run(t, "persists across sessions", func(t *testing.T) {
		b := k.backend(t, accounts())
		srv := serve(t, b)
		c := session(srv, alice)
		before := uidlOnWire(t, c)
		requireCount(t, "UIDL of alice's maildrop", before, len(alice.Messages))
		c.OK("DELE 2")
		c.OK("DELE 4")
		c.Quit()
		want := []string{before[0], before[2], before[4]}
		for n := range 2 {
			c = session(srv, alice)
			if got := uidlOnWire(t, c); !slices.Equal(got, want) {
				t.Errorf("session %d after DELE 2, DELE 4 and QUIT lists %v, want %v", n+2, got, want)
			}
			c.Quit()
		}
	})

	run(t, "nothing removed without QUIT", func(t *testing.T) {
		b := k.backend(t, accounts())
		ends := []struct {
			how string
			end func(srv *Server, c *Client)
		}{
			{"the client dropped the connection", func(_ *Server, c *Client) { c.Close() }},
			{"the server was closed", func(srv *Server, _ *Client) { srv.Close() }},
		}
		for _, e := range ends {
			srv := serve(t, b)
			c := session(srv, alice)
			for i := range alice.Messages {
				c.OK("RETR " + strconv.Itoa(i+1))
				c.OK("TOP " + strconv.Itoa(i+1) + " 1")
				c.OK("DELE " + strconv.Itoa(i+1))
			}
			e.end(srv, c)
			if ok, err := waitUnlocked(t, b, alice); !ok {
				t.Fatalf("the maildrop stayed locked after %s: %v", e.how, err)
			}
			mb := open(t, b, alice)
			if got := len(mb.Messages()); got != len(alice.Messages) {
				t.Errorf("after RETR, TOP and DELE of every message and %s, without QUIT, %d of %d messages are left; nothing may be removed", e.how, got, len(alice.Messages))
			}
			mb.close(t)
		}
	})

	run(t, "RSET undoes the marks", func(t *testing.T) {
		b := k.backend(t, accounts())
		srv := serve(t, b)
		c := session(srv, alice)
		c.OK("DELE 1")
		c.OK("DELE 2")
		c.OK("RSET")
		c.Quit()
		mb := open(t, b, alice)
		if got := len(mb.Messages()); got != len(alice.Messages) {
			t.Errorf("after DELE 1, DELE 2, RSET and QUIT, %d of %d messages are left", got, len(alice.Messages))
		}
	})

	run(t, "deleting every message empties the maildrop", func(t *testing.T) {
		b := k.backend(t, accounts())
		srv := serve(t, b)
		c := session(srv, alice)
		for i := range alice.Messages {
			c.OK("DELE " + strconv.Itoa(i+1))
		}
		c.Quit()
		c = session(srv, alice)
		if r := c.OK("STAT"); r.Text != "0 0" {
			t.Errorf("STAT after deleting every message: %q, want +OK 0 0", r.Line)
		}
		c.Quit()
	})
}
