package pop3test

import (
	"context"
	"errors"
	"io"
	"strconv"
	"testing"

	"github.com/gopop3/pop3"
)

func (k *kit) testMessage(t *testing.T) {
	run(t, "readable twice", func(t *testing.T) {
		mb := open(t, k.backend(t, accounts()), alice)
		for i, raw := range alice.Messages {
			first, second := read(t, mb, i), read(t, mb, i)
			sameBytes(t, first, normalize(raw), "message %d, first read", i+1)
			sameBytes(t, second, first, "message %d, second read", i+1)
		}
	})

	run(t, "readable partially, then whole", func(t *testing.T) {
		mb := open(t, k.backend(t, accounts()), alice)
		r, err := mb.Message(ctx(t), 0)
		if err != nil || r == nil {
			t.Fatalf("Message(0) = %v, %v; want a reader", r, err)
		}
		buf := make([]byte, 10)
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatalf("reading 10 octets of Message(0): %v", err)
		}
		if err := r.Close(); err != nil {
			t.Errorf("closing a reader of Message(0) after 10 octets: %v", err)
		}
		sameBytes(t, read(t, mb, 0), normalize(alice.Messages[0]), "Message(0) read whole after a partial read")
	})

	run(t, "readable out of order", func(t *testing.T) {
		mb := open(t, k.backend(t, accounts()), alice)
		for _, i := range []int{4, 0, 2, 1, 3, 4, 0} {
			sameBytes(t, read(t, mb, i), normalize(alice.Messages[i]), "Message(%d) read out of order", i)
		}
	})

	run(t, "cancelled context is respected", func(t *testing.T) {
		mb := open(t, k.backend(t, accounts()), alice)
		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		r, err := mb.Message(cancelled, 0)
		if err == nil && r == nil {
			t.Fatal("Message(0) with a cancelled context returned a nil reader and no error")
		}
		if err == nil {
			_, err = io.ReadAll(r)
			r.Close()
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Message with a cancelled context: error %v; want one that wraps context.Canceled, from Message or from reading", err)
		}
		sameBytes(t, read(t, mb, 0), normalize(alice.Messages[0]), "Message(0) after a cancelled call")
	})

	run(t, "RETR on the wire equals Message", func(t *testing.T) {
		b := k.backend(t, accounts())
		c := session(serve(t, b), alice)
		for _, i := range []int{2, 1, 5, 3, 4, 1} {
			r := c.OK("RETR " + strconv.Itoa(i))
			sameBytes(t, r.Body, normalize(alice.Messages[i-1]), "RETR %d, un-stuffed", i)
		}
		c.Quit()
	})
}

func (k *kit) testTop(t *testing.T) {
	counts := []int{0, 1, 3, 1000}
	run(t, "TopMailbox equals the header and n body lines", func(t *testing.T) {
		mb := open(t, k.backend(t, accounts()), alice)
		top, ok := mb.Mailbox.(pop3.TopMailbox)
		if !ok {
			t.Skip("the mailbox does not implement pop3.TopMailbox")
		}
		for i, raw := range alice.Messages {
			for _, n := range counts {
				sameBytes(t, readTop(t, top, i, n), expectedTop(normalize(raw), n), "Top(%d, %d)", i, n)
			}
		}
	})

	run(t, "on the wire equals the header and n body lines", func(t *testing.T) {
		c := session(serve(t, k.backend(t, accounts())), alice)
		for i, raw := range alice.Messages {
			for _, n := range counts {
				r := c.OK("TOP " + strconv.Itoa(i+1) + " " + strconv.Itoa(n))
				sameBytes(t, r.Body, expectedTop(normalize(raw), n), "TOP %d %d", i+1, n)
			}
		}
		c.Quit()
	})
}

func (k *kit) testContent(t *testing.T) {
	for _, odd := range oddContents() {
		run(t, odd.name, func(t *testing.T) {
			raw := odd.raw()
			want := normalize(raw)
			dora := Account{Username: "dora", Password: "dora-secret-4", Messages: [][]byte{raw}}
			b := k.backend(t, []Account{dora})

			mb := open(t, b, dora)
			infos := mb.Messages()
			if len(infos) != 1 {
				t.Fatalf("the maildrop holds %d messages, want 1", len(infos))
			}
			if infos[0].Size != int64(len(want)) {
				t.Errorf("Size %d, want %d (the message with CRLF line ends and a final CRLF)", infos[0].Size, len(want))
			}
			sameBytes(t, read(t, mb, 0), want, "Message(0)")
			if top, ok := mb.Mailbox.(pop3.TopMailbox); ok {
				sameBytes(t, readTop(t, top, 0, 2), expectedTop(want, 2), "Top(0, 2)")
			}
			mb.close(t)

			c := session(serve(t, b), dora)
			if r, size := c.OK("LIST 1"), "1 "+strconv.Itoa(len(want)); r.Text != size {
				t.Errorf("LIST 1: %q, want +OK %s", r.Line, size)
			}
			sameBytes(t, c.OK("RETR 1").Body, want, "RETR 1, un-stuffed")
			sameBytes(t, c.OK("TOP 1 2").Body, expectedTop(want, 2), "TOP 1 2, un-stuffed")
			c.Quit()
		})
	}
}
