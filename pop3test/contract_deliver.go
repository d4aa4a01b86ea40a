package pop3test

import (
	"bytes"
	"errors"
	"strconv"
	"testing"

	"github.com/gopop3/pop3"
)

func (k *kit) testDeliver(t *testing.T) {
	deliverer := func(t *testing.T) (pop3.Backend, pop3.Deliverer) {
		t.Helper()
		b := k.backend(t, accounts())
		d, ok := b.(pop3.Deliverer)
		if !ok {
			t.Skip("the backend does not implement pop3.Deliverer")
		}
		return b, d
	}

	run(t, "unknown user wraps ErrNoSuchUser", func(t *testing.T) {
		_, d := deliverer(t)
		err := d.Deliver(ctx(t), "nobody", bytes.NewReader(newMail))
		if !errors.Is(err, pop3.ErrNoSuchUser) {
			t.Errorf("Deliver to an unknown user = %v, want an error that wraps pop3.ErrNoSuchUser", err)
		}
	})

	run(t, "a session sees new mail at its next login, last", func(t *testing.T) {
		b, d := deliverer(t)
		srv := serve(t, b)
		c := session(srv, alice)
		stat := c.OK("STAT").Text
		if err := d.Deliver(ctx(t), alice.Username, bytes.NewReader(newMail)); err != nil {
			t.Fatalf("Deliver while a session holds the maildrop: %v", err)
		}
		if got := c.OK("STAT").Text; got != stat {
			t.Errorf("STAT changed from %q to %q after a delivery during the session; the listing is the one of the login (RFC 1939 §4)", stat, got)
		}
		c.Quit()

		c = session(srv, alice)
		n := len(alice.Messages) + 1
		want := normalize(newMail)
		if r, size := c.OK("LIST "+strconv.Itoa(n)), strconv.Itoa(n)+" "+strconv.Itoa(len(want)); r.Text != size {
			t.Errorf("LIST %d of the new message: %q, want +OK %s", n, r.Line, size)
		}
		sameBytes(t, c.OK("RETR "+strconv.Itoa(n)).Body, want, "RETR %d, the new message", n)
		c.Quit()
	})

	run(t, "reaches only its user", func(t *testing.T) {
		b, d := deliverer(t)
		if err := d.Deliver(ctx(t), bob.Username, bytes.NewReader(newMail)); err != nil {
			t.Fatalf("Deliver to bob: %v", err)
		}
		for _, a := range []Account{alice, bob, carol} {
			want := len(a.Messages)
			if a.Username == bob.Username {
				want++
			}
			mb := open(t, b, a)
			if got := len(mb.Messages()); got != want {
				t.Errorf("after a delivery to bob, %s has %d messages, want %d", a.Username, got, want)
			}
			mb.close(t)
		}
	})
}
