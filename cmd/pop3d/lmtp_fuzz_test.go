package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// Whatever address an MTA sends, the names it may stand for are the
// address itself, then at most one other: its local part, lower-cased.
func FuzzRecipientUsers(f *testing.F) {
	for _, s := range []string{"alice@example.org", "ALICE", "a@b@c", "@x", "", "\xff@x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		names := recipientUsers(addr)
		if len(names) == 0 || len(names) > 2 || names[0] != addr {
			t.Fatalf("recipientUsers(%q) = %q", addr, names)
		}
		if len(names) == 2 {
			local := names[1]
			if local == "" || local == addr || strings.ContainsAny(local, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
				t.Fatalf("recipientUsers(%q) = %q: a bad local part", addr, names)
			}
			if !strings.HasPrefix(strings.ToLower(addr), strings.ToLower(local)) {
				t.Fatalf("recipientUsers(%q) = %q: not its local part", addr, names)
			}
		}
	})
}

// A spooled message reads back whole, after the header, as often as
// asked, in memory or from its file.
func FuzzSpool(f *testing.F) {
	f.Add([]byte("Subject: x\r\n\r\nbody\r\n"), "Delivered-To: a@b\r\n", uint16(0))
	f.Add([]byte(""), "", uint16(3))
	f.Fuzz(func(t *testing.T, msg []byte, header string, repeat uint16) {
		// Past the memory limit sometimes, to exercise the file.
		if repeat%4 == 3 {
			msg = bytes.Repeat(append(msg, 'x'), lmtpSpoolMemory/(len(msg)+1)+1)
		}
		sp, err := spoolMessage(bytes.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		defer sp.remove()
		for range 2 {
			got, err := io.ReadAll(sp.reader(header))
			if err != nil {
				t.Fatal(err)
			}
			if want := header + string(msg); string(got) != want {
				t.Fatalf("read back %d octets, want %d", len(got), len(want))
			}
		}
	})
}
