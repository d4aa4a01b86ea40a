package pop3test

import (
	"slices"
	"testing"
	"time"

	"github.com/gopop3/pop3"
)

// testPolicy checks the stores of LOGIN-DELAY and EXPIRE (RFC 2449 §6.5,
// §6.7): the last login of a [pop3.LoginRecorder] and the first
// retrievals of a [pop3.RetrievalMailbox], read back at the next login and
// Open, and through a server. Times are compared to the second, the
// coarsest precision a store may keep.
func (k *kit) testPolicy(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

	run(t, "LoginRecorder keeps the last login", func(t *testing.T) {
		b := k.backend(t, accounts())
		lr, ok := login(t, b, alice).(pop3.LoginRecorder)
		if !ok {
			t.Skip("the backend's users are not pop3.LoginRecorder values")
		}
		if last, err := lr.LastLogin(ctx(t)); err != nil || !last.IsZero() {
			t.Fatalf("LastLogin() of a user who never logged in = %v, %v; want the zero Time, nil", last, err)
		}
		mb := open(t, b, alice)
		if err := lr.RecordLogin(ctx(t), t0); err != nil {
			t.Fatalf("RecordLogin(%v) = %v", t0, err)
		}
		mb.close(t)
		again := login(t, b, alice).(pop3.LoginRecorder)
		if last, err := again.LastLogin(ctx(t)); err != nil || !last.Equal(t0) {
			t.Errorf("LastLogin() at the next login = %v, %v; want %v", last, err, t0)
		}
		other := login(t, b, bob).(pop3.LoginRecorder)
		if last, err := other.LastLogin(ctx(t)); err != nil || !last.IsZero() {
			t.Errorf("alice's login shows as bob's: LastLogin() = %v, %v", last, err)
		}
	})

	run(t, "RetrievalMailbox keeps the first retrieval", func(t *testing.T) {
		b := k.backend(t, accounts())
		if rb, ok := b.(pop3.RetrievalBackend); !ok || !rb.RecordsRetrievals() {
			mb := open(t, b, alice)
			if _, ok := mb.Mailbox.(pop3.RetrievalMailbox); ok {
				t.Error("the mailbox is a pop3.RetrievalMailbox, but the backend does not say so (pop3.RetrievalBackend), so a server cannot serve EXPIRE with it")
			}
			t.Skip("the backend does not record retrievals")
		}
		mb := open(t, b, alice)
		rm, ok := mb.Mailbox.(pop3.RetrievalMailbox)
		if !ok {
			t.Fatal("RecordsRetrievals() is true, but the mailbox is not a pop3.RetrievalMailbox")
		}
		for i := range mb.Messages() {
			if got := rm.FirstRetrieved(i); !got.IsZero() {
				t.Fatalf("FirstRetrieved(%d) of a message never retrieved = %v, want the zero Time", i, got)
			}
		}
		if err := rm.Retrieved(ctx(t), []int{0, 2}, t0); err != nil {
			t.Fatalf("Retrieved([0 2], %v) = %v", t0, err)
		}
		mb.close(t)

		mb = open(t, b, alice)
		rm = mb.Mailbox.(pop3.RetrievalMailbox)
		for i, want := range []time.Time{t0, {}, t0, {}} {
			if got := rm.FirstRetrieved(i); !got.Equal(want) {
				t.Errorf("FirstRetrieved(%d) at the next Open = %v, want %v", i, got, want)
			}
		}
		later := t0.Add(48 * time.Hour)
		if err := rm.Retrieved(ctx(t), []int{0, 1}, later); err != nil {
			t.Fatalf("Retrieved([0 1], %v) = %v", later, err)
		}
		if err := rm.Delete(ctx(t), []int{2}); err != nil {
			t.Fatalf("Delete([2]) = %v", err)
		}
		mb.close(t)

		mb = open(t, b, alice)
		rm = mb.Mailbox.(pop3.RetrievalMailbox)
		for i, want := range []time.Time{t0, later, {}} {
			if got := rm.FirstRetrieved(i); !got.Equal(want) {
				t.Errorf("after a second Retrieved and a Delete, FirstRetrieved(%d) = %v, want %v (the first retrieval is kept)", i, got, want)
			}
		}
		mb.close(t)
	})

	run(t, "EXPIRE 0 through a server", func(t *testing.T) {
		b := k.backend(t, accounts())
		srv := serve(t, b, WithConfig(func(s *pop3.Server) { s.Expire = pop3.ExpireAfter(0) }))
		c := session(srv, alice)
		before := uidlOnWire(t, c)
		c.OK("RETR 1")
		c.OK("RETR 3")
		c.OK("RSET")
		c.OK("RETR 2")
		c.Quit()
		c = session(srv, alice)
		want := append([]string{before[0]}, before[2:]...)
		if got := uidlOnWire(t, c); !slices.Equal(got, want) {
			t.Errorf("after RETR 1, RETR 3, RSET, RETR 2 and QUIT under EXPIRE 0 the listing is %v, want %v", got, want)
		}
		c.Quit()
	})
}
