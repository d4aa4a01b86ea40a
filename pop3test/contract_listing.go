package pop3test

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gopop3/pop3"
)

func (k *kit) testListing(t *testing.T) {
	run(t, "holds the messages in delivery order", func(t *testing.T) {
		b := k.backend(t, accounts())
		for _, a := range accounts() {
			mb := open(t, b, a)
			infos := mb.Messages()
			if len(infos) != len(a.Messages) {
				t.Fatalf("%s's listing has %d messages, want %d", a.Username, len(infos), len(a.Messages))
			}
			for i, raw := range a.Messages {
				sameBytes(t, read(t, mb, i), normalize(raw), "%s's message %d (index %d)", a.Username, i+1, i)
			}
			mb.close(t)
		}
	})

	run(t, "stable while the mailbox is open", func(t *testing.T) {
		b := k.backend(t, accounts())
		mb := open(t, b, alice)
		want := slices.Clone(mb.Messages())
		requireCount(t, "alice's listing", uids(want), len(alice.Messages))
		for i := range want {
			read(t, mb, i)
		}
		if d, ok := b.(pop3.Deliverer); ok {
			if err := d.Deliver(ctx(t), alice.Username, bytes.NewReader(newMail)); err != nil {
				t.Fatalf("Deliver to alice: %v", err)
			}
		}
		if got := mb.Messages(); !slices.Equal(got, want) {
			t.Fatalf("Messages() changed while the mailbox was open:\n\tfirst: %v\n\tlater: %v", want, got)
		}
		// Message and Delete too must use the snapshot's numbering, not
		// whatever the store holds by now.
		for i, raw := range alice.Messages {
			sameBytes(t, read(t, mb, i), normalize(raw), "Message(%d) after mail arrived", i)
		}
		if err := mb.Delete(ctx(t), []int{1}); err != nil {
			t.Fatalf("Delete([1]): %v", err)
		}
		mb.close(t)
		mb = open(t, b, alice)
		if got := uids(mb.Messages()); slices.Contains(got, want[1].UID) || !slices.Contains(got, want[0].UID) || !slices.Contains(got, want[2].UID) {
			t.Errorf("Delete([1]) of the snapshot %v left %v: it must remove exactly the snapshot's message 2", uids(want), got)
		}
	})

	run(t, "new mail is listed last at the next Open", func(t *testing.T) {
		b := k.backend(t, accounts())
		d, ok := b.(pop3.Deliverer)
		if !ok {
			t.Skip("the backend does not implement pop3.Deliverer")
		}
		mb := open(t, b, alice)
		before := slices.Clone(mb.Messages())
		if err := d.Deliver(ctx(t), alice.Username, bytes.NewReader(newMail)); err != nil {
			t.Fatalf("Deliver to alice: %v", err)
		}
		if got := mb.Messages(); len(got) != len(before) {
			t.Errorf("mail delivered while the mailbox was open is in its listing (%d messages, was %d); it belongs to the next Open (RFC 1939 §4)", len(got), len(before))
		}
		mb.close(t)
		mb = open(t, b, alice)
		after := mb.Messages()
		if len(after) != len(before)+1 {
			t.Fatalf("after a delivery the next Open lists %d messages, want %d", len(after), len(before)+1)
		}
		if !slices.Equal(uids(after[:len(before)]), uids(before)) {
			t.Errorf("a delivery changed the older messages' listing: %v, was %v", uids(after[:len(before)]), uids(before))
		}
		sameBytes(t, read(t, mb, len(before)), normalize(newMail), "the delivered message, listed last")
	})
}

func (k *kit) testSize(t *testing.T) {
	run(t, "equals the octets Message yields", func(t *testing.T) {
		b := k.backend(t, accounts())
		for _, a := range accounts() {
			mb := open(t, b, a)
			for i, m := range mb.Messages() {
				if got := int64(len(read(t, mb, i))); got != m.Size {
					t.Errorf("%s's message %d: Size %d, but Message yields %d octets", a.Username, i+1, m.Size, got)
				}
			}
			mb.close(t)
		}
	})

	run(t, "octets are CRLF only and end in CRLF", func(t *testing.T) {
		b := k.backend(t, accounts())
		mb := open(t, b, alice)
		requireCount(t, "alice's listing", uids(mb.Messages()), len(alice.Messages))
		for i := range mb.Messages() {
			data := read(t, mb, i)
			if at := bareLineEnd(data); at >= 0 {
				t.Errorf("message %d has a bare CR or LF at octet %d; Message must yield CRLF line ends (it was given with %s)",
					i+1, at, lineEnds(alice.Messages[i]))
			}
			if !bytes.HasSuffix(data, []byte("\r\n")) {
				t.Errorf("message %d does not end in CRLF", i+1)
			}
		}
	})

	run(t, "STAT and LIST on the wire equal them", func(t *testing.T) {
		b := k.backend(t, accounts())
		mb := open(t, b, alice)
		infos := mb.Messages()
		mb.close(t)
		var total int64
		for _, m := range infos {
			total += m.Size
		}
		c := session(serve(t, b), alice)
		if r, want := c.OK("STAT"), fmt.Sprintf("%d %d", len(infos), total); r.Text != want {
			t.Errorf("STAT: %q, want +OK %s", r.Line, want)
		}
		lines := c.OK("LIST").Lines()
		for i, m := range infos {
			want := fmt.Sprintf("%d %d", i+1, m.Size)
			if i >= len(lines) || lines[i] != want {
				t.Errorf("LIST line %d: %q, want %q", i+1, get(lines, i), want)
			}
			if r := c.OK("LIST " + strconv.Itoa(i+1)); r.Text != want {
				t.Errorf("LIST %d: %q, want +OK %s", i+1, r.Line, want)
			}
		}
		for i, m := range infos {
			r := c.OK("RETR " + strconv.Itoa(i+1))
			if int64(len(r.Body)) != m.Size {
				t.Errorf("RETR %d sent %d octets, LIST says %d", i+1, len(r.Body), m.Size)
			}
		}
		c.Quit()
	})
}

func (k *kit) testUIDL(t *testing.T) {
	run(t, "1 to 70 characters of 0x21 to 0x7E", func(t *testing.T) {
		b := k.backend(t, accounts())
		for _, a := range accounts() {
			mb := open(t, b, a)
			for i, m := range mb.Messages() {
				if !pop3.ValidUID(m.UID) {
					t.Errorf("%s's message %d has unique-id %q: RFC 1939 §7 allows 1 to 70 characters in 0x21 to 0x7E", a.Username, i+1, m.UID)
				}
			}
			mb.close(t)
		}
	})

	run(t, "unique in the maildrop", func(t *testing.T) {
		b := k.backend(t, accounts())
		mb := open(t, b, alice)
		seen := make(map[string]int)
		for i, m := range mb.Messages() {
			if j, dup := seen[m.UID]; dup {
				t.Errorf("messages %d and %d share the unique-id %q", j+1, i+1, m.UID)
			}
			seen[m.UID] = i
		}
	})

	run(t, "stable across sessions", func(t *testing.T) {
		b := k.backend(t, accounts())
		var want []string
		for session := range 3 {
			mb := open(t, b, alice)
			got := uids(mb.Messages())
			mb.close(t)
			if session == 0 {
				want = got
			} else if !slices.Equal(got, want) {
				t.Fatalf("the unique-ids changed between sessions: %v, then %v", want, got)
			}
		}
		c := session(serve(t, b), alice)
		if got := uidlOnWire(t, c); !slices.Equal(got, want) {
			t.Errorf("UIDL on the wire: %v, want the unique-ids of Messages(): %v", got, want)
		}
		for i, uid := range want {
			if r := c.OK("UIDL " + strconv.Itoa(i+1)); r.Text != strconv.Itoa(i+1)+" "+uid {
				t.Errorf("UIDL %d: %q, want +OK %d %s", i+1, r.Line, i+1, uid)
			}
		}
		c.Quit()
	})

	run(t, "unchanged for survivors after a delete", func(t *testing.T) {
		b := k.backend(t, accounts())
		mb := open(t, b, alice)
		before := uids(mb.Messages())
		mb.close(t)
		requireCount(t, "alice's listing", before, len(alice.Messages))
		c := session(serve(t, b), alice)
		c.OK("DELE 1")
		c.OK("DELE 3")
		c.Quit()
		mb = open(t, b, alice)
		want := []string{before[1], before[3], before[4]}
		if got := uids(mb.Messages()); !slices.Equal(got, want) {
			t.Errorf("after deleting messages 1 and 3 of %v the unique-ids are %v, want %v", before, got, want)
		}
	})

	run(t, "never reused for a new message", func(t *testing.T) {
		b := k.backend(t, accounts())
		d, ok := b.(pop3.Deliverer)
		if !ok {
			t.Skip("the backend does not implement pop3.Deliverer")
		}
		used := make(map[string]bool)
		mb := open(t, b, alice)
		for _, uid := range uids(mb.Messages()) {
			used[uid] = true
		}
		if err := mb.Delete(ctx(t), []int{len(alice.Messages) - 1}); err != nil {
			t.Fatalf("Delete of the last message: %v", err)
		}
		mb.close(t)
		for round := range 3 {
			if err := d.Deliver(ctx(t), alice.Username, bytes.NewReader(newMail)); err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			mb = open(t, b, alice)
			infos := mb.Messages()
			if len(infos) == 0 {
				t.Fatalf("after a delivery (round %d) the maildrop is empty", round+1)
			}
			last := infos[len(infos)-1].UID
			if used[last] {
				t.Errorf("a message delivered after a delete (round %d) got the unique-id %q, which the maildrop gave out before", round+1, last)
			}
			used[last] = true
			if err := mb.Delete(ctx(t), []int{len(infos) - 1}); err != nil {
				t.Fatalf("Delete of the new message: %v", err)
			}
			mb.close(t)
		}
	})
}

// uidlOnWire returns the unique-ids that UIDL lists, in order.
func uidlOnWire(t *testing.T, c *Client) []string {
	t.Helper()
	var out []string
	for i, l := range c.OK("UIDL").Lines() {
		n, uid, ok := strings.Cut(l, " ")
		if !ok || n != strconv.Itoa(i+1) {
			t.Fatalf("UIDL line %d: %q, want \"%d <unique-id>\"", i+1, l, i+1)
		}
		out = append(out, uid)
	}
	return out
}

// bareLineEnd returns the offset of the first CR or LF that is not part
// of a CRLF, or -1.
func bareLineEnd(b []byte) int {
	for i, c := range b {
		switch {
		case c == '\r' && (i+1 == len(b) || b[i+1] != '\n'):
			return i
		case c == '\n' && (i == 0 || b[i-1] != '\r'):
			return i
		}
	}
	return -1
}

// lineEnds describes the line ends of a message as it was given.
func lineEnds(raw []byte) string {
	if bytes.Contains(raw, []byte("\r\n")) {
		return "CRLF line ends"
	}
	return "bare LF line ends"
}

func get(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(missing)"
}
