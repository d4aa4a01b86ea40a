package maildir_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
