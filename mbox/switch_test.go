package mbox_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/dovecottest"
	"github.com/gopop3/pop3/internal/testprog"
	"github.com/gopop3/pop3/mbox"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/pop3test"
)

// servedMessage is one message of a maildrop as a POP3 server shows it.
type servedMessage struct {
	uidl string
	sum  [32]byte
	text string // abbreviated, for failure messages
}

// serveSession lists a maildrop at addr, reads each message whole (TOP n
// 100000000, which marks nothing), then sends RETR for the messages
// retrieve picks and DELE for those del picks (0-based), and QUIT.
func serveSession(t *testing.T, addr, user string, retrieve, del func(i int) bool) []servedMessage {
	t.Helper()
	c := pop3test.Dial(t, addr)
	c.Login(user, "secret")
	uidl := c.OK("UIDL").Lines()
	msgs := make([]servedMessage, len(uidl))
	for i, line := range uidl {
		n, id, _ := strings.Cut(line, " ")
		require.Equal(t, fmt.Sprint(i+1), n)
		body := c.OK(fmt.Sprintf("TOP %d 100000000", i+1)).Body
		msgs[i] = servedMessage{uidl: id, sum: sha256.Sum256(body), text: string(body[:min(len(body), 120)])}
	}
	for i := range msgs {
		if retrieve(i) {
			r := c.OK(fmt.Sprintf("RETR %d", i+1))
			assert.Equal(t, msgs[i].sum, sha256.Sum256(r.Body), "RETR %d sends what TOP sent", i+1)
		}
		if del(i) {
			c.OK(fmt.Sprintf("DELE %d", i+1))
		}
	}
	c.Quit()
	return msgs
}

// switchMessage is message n written by writer, with lines that the
// spool's writers escape or that RETR must stuff.
func switchMessage(writer string, n int) string {
	return fmt.Sprintf("Message-ID: <%d.%s@switch.test>\nSubject: %s %d\n\nbody of message %d\nFrom the middle of a line? No: the start.\n.a dot\n\n", n, writer, writer, n, n)
}

// A site switches between Dovecot and pop3d on the same spool (Dovecot's
// mail_location = mbox:~/mail:INBOX=~/inbox), in either direction, and no
// client downloads its mail again: the spool first written by Dovecot's
// LDA or by Postfix-like appends (no X-UID), served first by one server,
// then by the other, then by each again, with deletions by both and mail
// delivered in between. Every session shows the same unique-ids and the
// same messages for what the sessions before kept, the deleted messages
// are gone, and new mail gets new unique-ids, the same in both. In the
// runs without Dovecot's index (removed before each of its sessions), the
// unique-ids can only come from the headers in the spool.
func TestSwitchWithDovecot(t *testing.T) {
	lda := testprog.Require(t, "/usr/lib/dovecot/dovecot-lda", "dovecot-core")
	type scenario struct {
		writer      string // "postfix" or "lda"
		first       string // "pop3d" or "dovecot"
		removeIndex bool
	}
	var scenarios []scenario
	var users []string
	for _, writer := range []string{"postfix", "lda"} {
		for _, first := range []string{"pop3d", "dovecot"} {
			for _, removeIndex := range []bool{false, true} {
				s := scenario{writer, first, removeIndex}
				scenarios = append(scenarios, s)
				users = append(users, switchUser(s.writer, s.first, s.removeIndex))
			}
		}
	}
	dc := dovecottest.StartWith(t, dovecottest.Options{Settings: "mail_location = mbox:~/mail:INBOX=~/inbox\n"}, users...)
	conf := filepath.Join(dc.Root, "dovecot.conf")
	for _, u := range users {
		require.NoError(t, os.MkdirAll(filepath.Join(dc.Root, u, "mail"), 0o700))
	}
	dc.Chown(t, users...)
	accounts, err := passwd.OpenFile(dc.Users, nil)
	require.NoError(t, err)
	backend, err := mbox.New(filepath.Join(dc.Root, "%u", "inbox"), accounts)
	require.NoError(t, err)
	ours := pop3test.NewServer(t, backend)
	uid, gid := dc.Owner()

	for _, s := range scenarios {
		user := switchUser(s.writer, s.first, s.removeIndex)
		t.Run(user, func(t *testing.T) {
			home := filepath.Join(dc.Root, user)
			spool := filepath.Join(home, "inbox")
			written := 0
			deliver := func(n int) {
				t.Helper()
				for range n {
					written++
					msg := switchMessage(s.writer, written)
					if s.writer == "lda" {
						cmd := exec.Command(lda, "-c", conf, "-d", user, "-f", "sender@example.org")
						cmd.Stdin = strings.NewReader(msg)
						out, err := cmd.CombinedOutput()
						require.NoError(t, err, "dovecot-lda: %s", out)
						continue
					}
					f, err := os.OpenFile(spool, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
					require.NoError(t, err)
					_, err = f.WriteString(postfixLine(msg))
					require.NoError(t, err)
					require.NoError(t, f.Close())
					require.NoError(t, os.Chown(spool, uid, gid))
				}
			}
			servers := map[string]string{"pop3d": ours.Addr, "dovecot": dc.Addr}
			second := map[string]string{"pop3d": "dovecot", "dovecot": "pop3d"}[s.first]
			dovecotServed := false
			serve := func(server string, retrieve, del func(int) bool) []servedMessage {
				t.Helper()
				if server == "dovecot" && s.removeIndex {
					index := filepath.Join(home, "mail", ".imap")
					if dovecotServed {
						require.DirExists(t, index, "Dovecot keeps an index")
					}
					require.NoError(t, os.RemoveAll(index))
				}
				if server == "dovecot" {
					dovecotServed = true
				}
				msgs := serveSession(t, servers[server], user, retrieve, del)
				if server == "pop3d" {
					assert.NoFileExists(t, spool+".lock")
				}
				return msgs
			}
			never := func(int) bool { return false }

			deliver(8)
			data, err := os.ReadFile(spool)
			require.NoError(t, err)
			t.Logf("as %s wrote it: X-IMAPbase %q, %d X-UID headers", s.writer, mboxHeader(string(data), "X-IMAPbase"), strings.Count(string(data), "\nX-UID: "))
			// The first server: the listing that clients download.
			seen := serve(s.first, func(i int) bool { return i%2 == 0 }, never)
			require.Len(t, seen, 8)
			data, err = os.ReadFile(spool)
			require.NoError(t, err)
			t.Logf("after %s's first session: X-IMAPbase %q, %d X-UID headers", s.first, mboxHeader(string(data), "X-IMAPbase"), strings.Count(string(data), "\nX-UID: "))

			// The other server shows the same; it retrieves some, deletes some.
			deleted := func(i int) bool { return i == 0 || i == 3 || i == 7 }
			got := serve(second, func(i int) bool { return i%3 == 1 }, deleted)
			assert.Equal(t, uidlsOf(seen), uidlsOf(got), "%s shows the unique-ids %s showed", second, s.first)
			assert.Equal(t, sumsOf(seen), sumsOf(got), "%s shows the messages %s showed", second, s.first)
			var kept []servedMessage
			for i, m := range seen {
				if !deleted(i) {
					kept = append(kept, m)
				}
			}

			// New mail, then the first server again: the kept messages
			// under the same unique-ids, the new ones under new ones. It
			// deletes one more.
			deliver(3)
			got = serve(s.first, func(i int) bool { return i == 1 }, func(i int) bool { return i == 2 })
			require.Len(t, got, len(kept)+3, "%s lists the kept messages and the new ones", s.first)
			assert.Equal(t, uidlsOf(kept), uidlsOf(got[:len(kept)]), "%s: the kept messages keep their unique-ids", s.first)
			assert.Equal(t, sumsOf(kept), sumsOf(got[:len(kept)]))
			old := make(map[string]bool)
			for _, m := range seen {
				old[m.uidl] = true
			}
			for _, m := range got[len(kept):] {
				assert.False(t, old[m.uidl], "new mail gets a new unique-id, not %s", m.uidl)
			}
			now := append(append([]servedMessage(nil), got[:2]...), got[3:]...)

			// And the other server agrees, the new mail included.
			got = serve(second, never, never)
			assert.Equal(t, uidlsOf(now), uidlsOf(got), "%s shows the unique-ids %s showed, for the new mail too", second, s.first)
			assert.Equal(t, sumsOf(now), sumsOf(got))
			if t.Failed() {
				data, _ := os.ReadFile(spool)
				t.Logf("the spool:\n%s", data)
			}
		})
	}
}

// switchUser names the user of a scenario of TestSwitchWithDovecot.
func switchUser(writer, first string, removeIndex bool) string {
	u := writer + "-" + first + "-first"
	if removeIndex {
		u += "-noindex"
	}
	return u
}

// postfixLine is msg as Postfix local(8) appends it: a From line, ">From "
// for a body line that would start a message, and an empty line after.
func postfixLine(msg string) string {
	var b strings.Builder
	b.WriteString("From sender@example.org  Mon Dec  7 10:00:00 2026\n")
	for _, l := range strings.SplitAfter(strings.TrimSuffix(msg, "\n"), "\n") {
		if strings.HasPrefix(l, "From ") {
			b.WriteByte('>')
		}
		b.WriteString(l)
	}
	b.WriteString("\n\n")
	return b.String()
}

// mboxHeader returns the values of the header fields called name in the
// spool, all messages together.
func mboxHeader(data, name string) []string {
	var values []string
	for _, l := range strings.Split(data, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, name) {
			values = append(values, strings.TrimSpace(v))
		}
	}
	return values
}

func uidlsOf(msgs []servedMessage) []string {
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.uidl
	}
	return ids
}

func sumsOf(msgs []servedMessage) []string {
	sums := make([]string, len(msgs))
	for i, m := range msgs {
		sums[i] = fmt.Sprintf("%x %q", m.sum[:4], m.text)
	}
	return sums
}
