package pop3test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/gopop3/pop3"
)

// dora's messages have internationalized headers (RFC 6532), whose size
// grows when the server downgrades them for a client without UTF8.
var dora = Account{Username: "dora", Password: "dora-secret-4", Messages: [][]byte{
	[]byte("From: Jöran Åberg <joran@example.se>\r\nTo: dora@example.org\r\nSubject: Grüße\r\n\r\nHej.\r\n"),
	[]byte("From: \xd0\x90\xd0\xbd\xd0\xbd\xd0\xb0 <anna@example.org>\nSubject: LF line ends, Привет\n\nТело.\n"),
	[]byte("Subject: plain ASCII\r\n\r\nbody\r\n"),
	[]byte("Subject: header only, caf\xc3\xa9\r\n"),
	[]byte("\r\nno header, caf\xc3\xa9\r\n"),
}}

// testDowngradedSize checks MessageInfo.DowngradedSize: 0 (unknown, and
// the server reads the header for LIST) or the size of the message with
// its header downgraded, which is what LIST shows a client without UTF8.
func (k *kit) testDowngradedSize(t *testing.T) {
	check := func(t *testing.T, mb *openBox, i int, what string) {
		t.Helper()
		info := mb.Messages()[i]
		if info.DowngradedSize == 0 {
			return
		}
		want, err := pop3.DowngradedSize(bytes.NewReader(read(t, mb, i)), info.Size)
		if err != nil {
			t.Fatalf("pop3.DowngradedSize of %s: %v", what, err)
		}
		if info.DowngradedSize != want {
			t.Errorf("%s: DowngradedSize is %d, want %d (pop3.DowngradedSize of the message Message yields) or 0 for unknown; "+
				"LIST would report it, and RETR send another number of octets", what, info.DowngradedSize, want)
		}
	}

	run(t, "0 or the downgraded size", func(t *testing.T) {
		b := k.backend(t, []Account{alice, dora})
		unknown := 0
		for _, a := range []Account{alice, dora} {
			mb := open(t, b, a)
			for i := range a.Messages {
				check(t, mb, i, fmt.Sprintf("%s's message %d", a.Username, i+1))
				if mb.Messages()[i].DowngradedSize == 0 {
					unknown++
				}
			}
			mb.close(t)
		}
		if unknown > 0 {
			t.Logf("%d messages have no DowngradedSize: LIST in a session without UTF8 reads each of them once per server process; "+
				"a store that calls pop3.DowngradedSize when a message arrives saves those reads", unknown)
		}
	})

	run(t, "of delivered mail", func(t *testing.T) {
		b := k.backend(t, []Account{dora})
		d, ok := b.(pop3.Deliverer)
		if !ok {
			t.Skip("the backend does not implement pop3.Deliverer")
		}
		for _, msg := range dora.Messages {
			if err := d.Deliver(ctx(t), dora.Username, bytes.NewReader(msg)); err != nil {
				t.Fatalf("Deliver to dora: %v", err)
			}
		}
		mb := open(t, b, dora)
		infos := mb.Messages()
		unknown := 0
		for i := len(dora.Messages); i < len(infos); i++ {
			check(t, mb, i, fmt.Sprintf("delivered message %d", i+1))
			if infos[i].DowngradedSize == 0 {
				unknown++
			}
		}
		mb.close(t)
		if unknown > 0 {
			t.Logf("%d delivered messages have no DowngradedSize: LIST in a session without UTF8 reads each of them once per server process; "+
				"a store that calls pop3.DowngradedSize in Deliver saves those reads", unknown)
		}
	})
}
