package mbox_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/dovecottest"
	"github.com/gopop3/pop3/pop3test"
)

// benchSpool is a spool of n messages of about 2.6 KB as Postfix local(8)
// writes them, with Dovecot's headers on every message, as any session
// leaves them.
func benchSpool(n int) []byte {
	var b bytes.Buffer
	body := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod\n", 28)
	for i := range n {
		fmt.Fprintf(&b, "From sender%d@example.org  Sun Dec  6 19:22:23 2026\n", i)
		if i == 0 {
			fmt.Fprintf(&b, "X-IMAPbase: 1796587314 %010d\n", n)
		}
		fmt.Fprintf(&b, "X-UID: %d\nStatus: RO\n", i+1)
		fmt.Fprintf(&b, "Return-Path: <sender%d@example.org>\nDelivered-To: alice@example.com\n", i)
		b.WriteString("Received: from mx.example.org (mx.example.org [192.0.2.1])\n\tby mail.example.com (Postfix) with ESMTPS id 4ABCDEF\n\tfor <alice@example.com>; Sun,  6 Dec 2026 19:22:23 +0000 (UTC)\n")
		fmt.Fprintf(&b, "Message-ID: <%d@example.org>\nDate: Sun, 6 Dec 2026 19:22:23 +0000\nFrom: Sender <sender%d@example.org>\nTo: alice@example.com\nSubject: message %d\n\n", i, i, i)
		b.WriteString(body)
		b.WriteString(">From the body\n\n")
	}
	return b.Bytes()
}

// A session of a client that polls a spool of 100 messages: login, STAT,
// UIDL, and RETR of each ("full", one at a time; "pipelined") or none
// ("login"), then QUIT. Every message is already read and has its UID, so
// the sessions write nothing, as the polls of a client that keeps its
// mail on the server. BenchmarkSessionDovecot is the same for Dovecot.
func BenchmarkSession(b *testing.B) {
	be, root, _ := testSpools(b, "bob:{PLAIN}pw")
	require.NoError(b, os.WriteFile(filepath.Join(root, "bob"), benchSpool(100), 0o660))
	srv := pop3test.NewServer(b, be)
	benchSessions(b, srv.Addr, "bob", "pw")
}

// BenchmarkSession for Dovecot 2.3 on the same spool (mail_location
// mbox, INBOX the spool; its index, as a first session leaves it).
func BenchmarkSessionDovecot(b *testing.B) {
	dc := dovecottest.StartWith(b, dovecottest.Options{Settings: "mail_location = mbox:~/mail:INBOX=~/inbox\n"}, "bob")
	home := filepath.Join(dc.Root, "bob")
	require.NoError(b, os.MkdirAll(filepath.Join(home, "mail"), 0o700))
	require.NoError(b, os.WriteFile(filepath.Join(home, "inbox"), benchSpool(100), 0o600))
	dc.Chown(b, "bob")
	c := pop3test.Dial(b, dc.Addr)
	c.Login("bob", "secret")
	c.Quit()
	benchSessions(b, dc.Addr, "bob", "secret")
}

// benchSessions runs the sessions of BenchmarkSession against addr.
func benchSessions(b *testing.B, addr, user, pass string) {
	retrs := make([]string, 100)
	for i := range retrs {
		retrs[i] = fmt.Sprintf("RETR %d", i+1)
	}
	for _, mode := range []string{"full", "pipelined", "login"} {
		b.Run(mode, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				c := pop3test.Dial(b, addr)
				c.Login(user, pass)
				c.OK("STAT")
				c.OK("UIDL")
				switch mode {
				case "full":
					for _, r := range retrs {
						c.Send(r)
						if r := c.ReadReply(); !r.OK {
							b.Fatal(r.Line)
						}
						c.CopyBody(io.Discard)
					}
				case "pipelined":
					c.SendRaw(strings.Join(retrs, "\r\n") + "\r\n")
					for range retrs {
						if r := c.ReadReply(); !r.OK {
							b.Fatal(r.Line)
						}
						c.CopyBody(io.Discard)
					}
				}
				c.Quit()
				c.Close()
			}
		})
	}
}

// UPDATE of a session that deletes the first of n messages: the rewrite
// of the whole spool (about 2.6 KB a message) through the update file,
// with its syncs.
func BenchmarkUpdate(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			be, root, _ := testSpools(b, "bob:{PLAIN}pw")
			srv := pop3test.NewServer(b, be)
			spool := benchSpool(n)
			b.SetBytes(int64(len(spool)))
			b.ReportAllocs()
			for range b.N {
				b.StopTimer()
				require.NoError(b, os.WriteFile(filepath.Join(root, "bob"), spool, 0o660))
				c := pop3test.Dial(b, srv.Addr)
				c.Login("bob", "pw")
				c.OK("DELE 1")
				b.StartTimer()
				c.Quit()
				b.StopTimer()
				c.Close()
			}
		})
	}
}
