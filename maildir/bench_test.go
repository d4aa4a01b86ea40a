package maildir_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

// benchMessage is a message of about size octets with LF line ends, as a
// Maildir holds it.
func benchMessage(size int) string {
	line := strings.Repeat("x", 75) + "\n"
	return "Subject: bench\nFrom: a@example.com\n\n" + strings.Repeat(line, size/len(line))
}

// Login and STAT on a maildrop of 2,000 messages whose file names carry no
// size: the first session reads every file for its size and writes the
// uidlist; the second reads only the directory and the uidlist.
func BenchmarkLoginStat(b *testing.B) {
	be, root, _ := testMaildirs(b, "bob:{PLAIN}pw")
	dir := filepath.Join(root, "bob", "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		require.NoError(b, os.MkdirAll(filepath.Join(dir, sub), 0o700))
	}
	msg := benchMessage(4 << 10)
	for i := 0; i < 2000; i++ {
		name := fmt.Sprintf("%d.M%dP1.host", 1700000000+i, i)
		require.NoError(b, os.WriteFile(filepath.Join(dir, "new", name), []byte(msg), 0o600))
	}
	srv := pop3test.NewServer(b, be)
	session := func() {
		c := pop3test.Dial(b, srv.Addr)
		c.Login("bob", "pw")
		if got := c.OK("STAT").Text; got != "2000 "+fmt.Sprint(2000*(len(msg)+strings.Count(msg, "\n"))) {
			b.Fatalf("STAT %s", got)
		}
		c.Quit()
		c.Close()
	}
	b.Run("first", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			if err := os.Remove(filepath.Join(dir, "dovecot-uidlist")); err != nil && !os.IsNotExist(err) {
				b.Fatal(err)
			}
			b.StartTimer()
			session()
		}
	})
	b.Run("second", func(b *testing.B) {
		session()
		b.ResetTimer()
		for range b.N {
			session()
		}
	})
}

// RETR of one message from a Maildir and from the memory backend, over
// loopback, in one logged-in session.
func BenchmarkRetr(b *testing.B) {
	for _, size := range []int{4 << 10, 20 << 20} {
		msg := benchMessage(size)
		served := int64(len(msg) + strings.Count(msg, "\n"))
		stores := map[string]func(b *testing.B) pop3.Backend{
			"maildir": func(b *testing.B) pop3.Backend {
				be, _, _ := testMaildirs(b, "bob:{PLAIN}pw")
				require.NoError(b, be.Deliver(context.Background(), "bob", strings.NewReader(msg)))
				return be
			},
			"memory": func(b *testing.B) pop3.Backend {
				be := memory.New()
				require.NoError(b, be.AddUser("bob", "pw"))
				_, err := be.AppendMessage("bob", []byte(msg))
				require.NoError(b, err)
				return be
			},
		}
		for _, store := range []string{"maildir", "memory"} {
			b.Run(fmt.Sprintf("%s/%dKiB", store, size>>10), func(b *testing.B) {
				srv := pop3test.NewServer(b, stores[store](b))
				c := pop3test.Dial(b, srv.Addr)
				c.Login("bob", "pw")
				b.SetBytes(served)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					c.Send("RETR 1")
					if r := c.ReadReply(); !r.OK {
						b.Fatal(r.Line)
					}
					if n := c.CopyBody(io.Discard); n != served {
						b.Fatalf("RETR sent %d octets, want %d", n, served)
					}
				}
			})
		}
	}
}

// perfMessage is the i-th message of the side-by-side script's mailboxes
// (../shared/perf/gen_boxes.py): about 4 KB, LF line ends, every 25th line
// starting with a dot.
func perfMessage(i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Sender %d <s%d@example.test>\nTo: bob@example.test\nSubject: message %d\n\n", i, i, i)
	for l := 0; b.Len() < 4000; l++ {
		switch {
		case l%25 == 7:
			b.WriteString(".line with a leading dot\n")
		case l%50 == 13:
			b.WriteString(".\n")
		default:
			fmt.Fprintf(&b, "%06d %s\n", l, strings.Repeat(fmt.Sprintf("%08x", i*1000+l), 8))
		}
	}
	return b.String()
}

// BenchmarkSession runs whole sessions over loopback, one after another, as
// the side-by-side script's cases do: "full" is USER, PASS, STAT, UIDL,
// 100 RETR of 4 KB and QUIT; "pipelined" sends the RETRs at once; "login"
// stops after UIDL. The Maildir has the file names Dovecot gives (S= and
// W=) and a uidlist; the memory backend holds the same messages.
func BenchmarkSession(b *testing.B) {
	msgs := make([]string, 100)
	for i := range msgs {
		msgs[i] = perfMessage(i)
	}
	stores := map[string]func(b *testing.B) pop3.Backend{
		"maildir": func(b *testing.B) pop3.Backend {
			be, root, _ := testMaildirs(b, "bob:{PLAIN}pw")
			dir := filepath.Join(root, "bob", "Maildir")
			for _, sub := range []string{"cur", "new", "tmp"} {
				require.NoError(b, os.MkdirAll(filepath.Join(dir, sub), 0o700))
			}
			for i, m := range msgs {
				name := fmt.Sprintf("%d.M%dP1.host,S=%d,W=%d:2,S", 1700000000+i, i, len(m), len(m)+strings.Count(m, "\n"))
				require.NoError(b, os.WriteFile(filepath.Join(dir, "cur", name), []byte(m), 0o600))
			}
			// A first session writes the uidlist; then the Maildir is
			// left alone, as one that a user polls is between deliveries.
			srv := pop3test.NewServer(b, be)
			c := pop3test.Dial(b, srv.Addr)
			c.Login("bob", "pw")
			c.Quit()
			settle(b, dir)
			return be
		},
		"memory": func(b *testing.B) pop3.Backend {
			be := memory.New()
			require.NoError(b, be.AddUser("bob", "pw"))
			for _, m := range msgs {
				_, err := be.AppendMessage("bob", []byte(strings.ReplaceAll(m, "\n", "\r\n")))
				require.NoError(b, err)
			}
			return be
		},
	}
	retrs := make([]string, len(msgs))
	for i := range retrs {
		retrs[i] = fmt.Sprintf("RETR %d", i+1)
	}
	for _, store := range []string{"maildir", "memory"} {
		srv := pop3test.NewServer(b, stores[store](b))
		for _, mode := range []string{"full", "pipelined", "login"} {
			b.Run(store+"/"+mode, func(b *testing.B) {
				b.ReportAllocs()
				for range b.N {
					c := pop3test.Dial(b, srv.Addr)
					c.Login("bob", "pw")
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
}

// settle dates the Maildir at dir back, as if it had not changed for a
// while, so that its listing can be cached (see WithListingCache).
func settle(tb testing.TB, dir string) {
	past := time.Now().Add(-time.Hour)
	for _, name := range []string{"new", "cur", "dovecot-uidlist"} {
		require.NoError(tb, os.Chtimes(filepath.Join(dir, name), past, past))
	}
}

// LIST on a maildrop of 10,000 messages that another MDA delivered (no
// size in their names), in a session without UTF8, where LIST reports
// downgraded sizes (RFC 6856 §2.1). "restarted" serves each session from
// a new backend and server, as after a restart of pop3d: nothing cached
// in memory; "later" is a later session of one server. The first session,
// before both, has read every file once. Only LIST is timed; the
// "session" cases time the login, LIST and QUIT. BenchmarkListAfterRestartDovecot
// is the same for Dovecot.
func BenchmarkListAfterRestart(b *testing.B) {
	_, root, _ := testMaildirs(b, "bob:{PLAIN}pw")
	const n = 10_000
	writeForeign(b, filepath.Join(root, "bob", "Maildir"), n)
	stop := func() {}
	defer func() { stop() }()
	benchListAfterRestart(b, filepath.Join(root, "bob", "Maildir"), "bob", "pw", n, func() string {
		stop()
		srv := pop3.NewServer(restarted(b, root, io.Discard))
		srv.Logger = slog.New(slog.DiscardHandler)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(b, err)
		go srv.Serve(l)
		stop = func() { srv.Close() }
		return l.Addr().String()
	})
}

// benchListAfterRestart runs BenchmarkListAfterRestart's cases on the
// Maildir at dir of a maildrop of n messages, served at the address that
// restart returns, after it has started the server anew.
func benchListAfterRestart(b *testing.B, dir, user, pw string, n int, restart func() string) {
	list := func(b *testing.B, addr string, timeLoginToo bool) {
		if !timeLoginToo {
			b.StopTimer()
		}
		c := pop3test.Dial(b, addr)
		c.Timeout = time.Minute
		c.Login(user, pw)
		b.StartTimer()
		if got := len(c.OK("LIST").Lines()); got != n {
			b.Fatalf("LIST has %d lines", got)
		}
		if !timeLoginToo {
			b.StopTimer()
		}
		c.Quit()
		c.Close()
		b.StartTimer()
	}
	addr := restart()
	list(b, addr, true) // reads every file once, as the first session after delivery does
	settle(b, dir)
	for _, mode := range []string{"LIST", "session"} {
		b.Run("restarted/"+mode, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				addr = restart()
				b.StartTimer()
				list(b, addr, mode == "session")
			}
		})
		b.Run("later/"+mode, func(b *testing.B) {
			for range b.N {
				list(b, addr, mode == "session")
			}
		})
	}
}

// BenchmarkImport imports b.N messages into one Maildir, as pop3admin
// import does: the cost of one stays the same however many came before
// (the list is appended to, and not read again while nothing else
// writes it).
func BenchmarkImport(b *testing.B) {
	be, _, _ := testMaildirs(b, "alice:{PLAIN}secret")
	ctx := context.Background()
	msg := []byte("Subject: imported\n\nbody\n")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := be.Import(ctx, "alice", "uidl-"+strconv.Itoa(i), bytes.NewReader(msg)); err != nil {
			b.Fatal(err)
		}
	}
}
