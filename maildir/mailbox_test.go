package maildir_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/pop3test"
)

// bobsMaildir is a backend with user bob (password "pw") and his messages,
// delivered in order, and the path of his Maildir.
func bobsMaildir(t *testing.T, msgs ...string) (*maildir.Backend, string, *bytes.Buffer) {
	t.Helper()
	b, root, logs := testMaildirs(t, "bob:{PLAIN}pw")
	dir := filepath.Join(root, "bob", "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, sub), 0o700))
	}
	for _, m := range msgs {
		require.NoError(t, b.Deliver(context.Background(), "bob", strings.NewReader(m)))
	}
	return b, dir, logs
}

// messageFiles lists the message files of a Maildir in delivery order
// (seconds, then microseconds, of their names), which is message order.
func messageFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		require.NoError(t, err)
		for _, e := range entries {
			files = append(files, filepath.Join(dir, sub, e.Name()))
		}
	}
	key := func(path string) [2]int {
		var k [2]int
		fmt.Sscanf(filepath.Base(path), "%d.M%d", &k[0], &k[1])
		return k
	}
	slices.SortFunc(files, func(a, b string) int {
		ka, kb := key(a), key(b)
		return cmp.Or(cmp.Compare(ka[0], kb[0]), cmp.Compare(ka[1], kb[1]))
	})
	return files
}

// The second session reads no message file: its sizes come from the file
// names (",W=") or the W extension that the first session wrote.
func TestSecondSessionReadsNoMessage(t *testing.T) {
	b, dir, _ := bobsMaildir(t)
	for i, m := range []string{"Subject: a\n\nfirst\n", "Subject: b\n\nsecond one\n"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "new", "17000000"+string(rune('0'+i))+".M1P1.elsewhere"), []byte(m), 0o600))
	}
	srv := pop3test.NewServer(t, b)
	c := pop3test.Dial(t, srv.Addr)
	c.Login("bob", "pw")
	list := c.OK("LIST").Lines()
	c.Quit()
	uidlist, err := os.ReadFile(filepath.Join(dir, "dovecot-uidlist"))
	require.NoError(t, err)
	assert.Contains(t, string(uidlist), "1 W21 :170000000.M1P1.elsewhere\n2 W26 :")

	for _, f := range messageFiles(t, dir) {
		require.NoError(t, os.Truncate(f, 0)) // a read would see 0 octets
	}
	c = pop3test.Dial(t, srv.Addr)
	c.Login("bob", "pw")
	assert.Equal(t, list, c.OK("LIST").Lines())
	c.Quit()
}

// An unreadable file fails its RETR with [SYS/TEMP]; the session goes on.
func TestUnreadableMessage(t *testing.T) {
	b, dir, _ := bobsMaildir(t, "Subject: a\n\na\n", "Subject: b\n\nb\n")
	srv := pop3test.NewServer(t, b)
	c := pop3test.Dial(t, srv.Addr)
	c.Login("bob", "pw")
	files := messageFiles(t, dir)
	require.Len(t, files, 2)
	// A symbolic link to itself cannot be opened, even by root.
	require.NoError(t, os.Remove(files[0]))
	require.NoError(t, os.Symlink(filepath.Base(files[0]), files[0]))
	// Which of the two is message 1 depends on the microseconds in the
	// names: one RETR fails, the other is served.
	var failed, served int
	for _, n := range []string{"1", "2"} {
		r := c.Cmd("RETR " + n)
		if r.OK {
			served++
			assert.Contains(t, []string{"Subject: a\r\n\r\na\r\n", "Subject: b\r\n\r\nb\r\n"}, string(r.Body))
			continue
		}
		failed++
		assert.Equal(t, pop3.CodeSysTemp, r.Code, r.Line)
	}
	assert.Equal(t, []int{1, 1}, []int{failed, served})
	c.OK("NOOP")
	c.Quit()
}

// Another program renames files during a session (an IMAP server setting
// flags): RETR finds them, their unique-ids stay, their flags are kept and
// S is added at the end of the session. A file that it removes is no error
// for DELE.
func TestFilesRenamedDuringSession(t *testing.T) {
	b, dir, _ := bobsMaildir(t, "Subject: a\n\na\n", "Subject: b\n\nb\n", "Subject: c\n\nc\n")
	srv := pop3test.NewServer(t, b)
	c := pop3test.Dial(t, srv.Addr)
	c.Login("bob", "pw")
	uidl := c.OK("UIDL").Lines()
	files := messageFiles(t, dir)
	require.Len(t, files, 3)
	for _, f := range files {
		assert.True(t, strings.HasSuffix(f, ":2,") && strings.Contains(f, "/cur/"), "moved to cur/ as Dovecot does: %s", f)
	}
	renamed := strings.TrimSuffix(files[0], ":2,") + ":2,FR"
	require.NoError(t, os.Rename(files[0], renamed))
	require.NoError(t, os.Remove(files[1]))
	assert.Equal(t, "Subject: a\r\n\r\na\r\n", string(c.OK("RETR 1").Body))
	c.OK("DELE 2")
	c.Quit()

	files = messageFiles(t, dir)
	require.Len(t, files, 2)
	assert.True(t, strings.HasSuffix(files[0], ":2,FRS"), "flags kept, S added: %s", files[0])
	assert.True(t, strings.HasSuffix(files[1], ":2,"), "not retrieved, not seen: %s", files[1])
	c = pop3test.Dial(t, srv.Addr)
	c.Login("bob", "pw")
	assert.Equal(t, []string{uidl[0], "2 " + strings.Fields(uidl[2])[1]}, c.OK("UIDL").Lines())
	c.Quit()
}

// A corrupt dovecot-uidlist is rewritten with a warning; every record that
// still parses keeps its UID.
func TestCorruptUIDList(t *testing.T) {
	b, dir, logs := bobsMaildir(t, "Subject: a\n\na\n", "Subject: b\n\nb\n", "Subject: c\n\nc\n")
	srv := pop3test.NewServer(t, b)
	uidlOf := func() []string {
		c := pop3test.Dial(t, srv.Addr)
		c.Login("bob", "pw")
		defer c.Quit()
		return c.OK("UIDL").Lines()
	}
	before := uidlOf()
	path := filepath.Join(dir, "dovecot-uidlist")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.SplitAfter(string(data), "\n")
	require.Len(t, lines, 5) // header, 3 records, ""

	t.Run("a broken record", func(t *testing.T) {
		corrupt := lines[0] + lines[1] + "garbage without a file name\n" + lines[2] + "7 W12\n" + lines[3]
		require.NoError(t, os.WriteFile(path, []byte(corrupt), 0o600))
		assert.Equal(t, before, uidlOf())
		assert.Contains(t, logs.String(), "do not parse")
		rewritten, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.NotContains(t, string(rewritten), "garbage")
		assert.Equal(t, before, uidlOf())
	})
	t.Run("a truncated last record", func(t *testing.T) {
		require.NoError(t, os.WriteFile(path, []byte(lines[0]+lines[1]+lines[2]+lines[3][:5]), 0o600))
		after := uidlOf()
		assert.Equal(t, before[:2], after[:2], "the records that parse keep their UIDs")
		assert.NotEqual(t, before[2], after[2], "the third file gets a new UID")
		before = after
	})
	t.Run("a broken header", func(t *testing.T) {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		_, records, _ := strings.Cut(string(data), "\n")
		require.NoError(t, os.WriteFile(path, []byte("3 Vnonsense\n"+records), 0o600))
		after := uidlOf()
		assert.Contains(t, logs.String(), "new UIDVALIDITY")
		require.Len(t, after, 3)
		for i := range after {
			assert.Equal(t, before[i][:10], after[i][:10], "message %d keeps its UID, not its UIDVALIDITY", i+1)
			assert.NotEqual(t, before[i], after[i])
		}
	})
	t.Run("an empty file", func(t *testing.T) {
		require.NoError(t, os.WriteFile(path, nil, 0o600))
		assert.Len(t, uidlOf(), 3)
	})
}

// Another delivery agent drops a file into new/ while a session holds the
// maildrop: the session does not list it; the next one lists it last, and
// keeps the other unique-ids.
func TestDeliveredDuringSessionComesNextTime(t *testing.T) {
	b, dir, _ := bobsMaildir(t, "Subject: a\n\na\n", "Subject: b\n\nb\n")
	srv := pop3test.NewServer(t, b)
	c := pop3test.Dial(t, srv.Addr)
	c.Login("bob", "pw")
	before := c.OK("UIDL").Lines()
	// An older time stamp than the others: the file name does not decide.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "new", "1000000000.M1P1.mda,S=14"), []byte("Subject: c\n\nc\n"), 0o600))
	assert.Equal(t, before, c.OK("UIDL").Lines())
	assert.Equal(t, "2", strings.Fields(c.OK("STAT").Text)[0])
	c.Quit()

	c = pop3test.Dial(t, srv.Addr)
	c.Login("bob", "pw")
	after := c.OK("UIDL").Lines()
	require.Len(t, after, 3)
	assert.Equal(t, before, after[:2])
	assert.Equal(t, "Subject: c\r\n\r\nc\r\n", string(c.OK("RETR 3").Body))
	c.Quit()
}

// backendOver is a backend with opts over the Maildirs of bobsMaildir's
// dir, beside the one that delivered to it.
func backendOver(t *testing.T, dir string, opts ...maildir.Option) *maildir.Backend {
	t.Helper()
	root := filepath.Dir(filepath.Dir(dir))
	b, err := maildir.New(filepath.Join(root, "%u", "Maildir"), mustPasswd(t, filepath.Join(root, "passwd")), opts...)
	require.NoError(t, err)
	return b
}

// With a deleted flag, DELE and QUIT keep the message, flagged with the
// keyword, and the next session does not list it; when dovecot-keywords
// has no letter left for the keyword, QUIT answers -ERR and nothing is
// lost.
func TestDeletedFlagTranscript(t *testing.T) {
	_, dir, _ := bobsMaildir(t, "Subject: a\n\na\n", "Subject: b\n\nb\n", "Subject: c\n\nc\n")
	srv := pop3test.NewServer(t, backendOver(t, dir, maildir.WithDeletedFlag("$POP3Deleted")))
	kwPath := filepath.Join(dir, "dovecot-keywords")

	// 26 other keywords: no letter for $POP3Deleted.
	var full strings.Builder
	for i := range 26 {
		fmt.Fprintf(&full, "%d Other%d\n", i, i)
	}
	require.NoError(t, os.WriteFile(kwPath, []byte(full.String()), 0o600))
	c := srv.Dial()
	c.Login("bob", "pw")
	uidl := c.OK("UIDL").Lines()
	require.Len(t, uidl, 3)
	files := messageFiles(t, dir)
	c.Transcript(`
		C: DELE 1
		S: +OK message 1 deleted
		C: QUIT
		S: -ERR [SYS/TEMP] some deleted messages not removed
		S: <closed>
	`)
	assert.Equal(t, files, messageFiles(t, dir), "kept as they were")
	require.NoError(t, os.Remove(kwPath))

	c = srv.Dial()
	c.Login("bob", "pw")
	assert.Equal(t, uidl, c.OK("UIDL").Lines())
	c.Transcript(`
		C: DELE 2
		S: +OK message 2 deleted
		C: QUIT
		S: +OK ...
		S: <closed>
	`)
	after := messageFiles(t, dir)
	require.Len(t, after, 3, "no file removed")
	assert.Equal(t, files[1]+"a", after[1])
	kw, err := os.ReadFile(kwPath)
	require.NoError(t, err)
	assert.Equal(t, "0 $POP3Deleted\n", string(kw))

	c = srv.Dial()
	c.Login("bob", "pw")
	assert.Equal(t, []string{uidl[0], "2 " + strings.Fields(uidl[2])[1]}, c.OK("UIDL").Lines())
	c.Quit()
}

// With no flag updates, a session that retrieves every message leaves the
// files in new/, without the S flag, and the next session lists them all.
func TestNoFlagUpdatesTranscript(t *testing.T) {
	_, dir, _ := bobsMaildir(t, "Subject: a\n\na\n", "Subject: b\n\nb\n")
	delivered := messageFiles(t, dir)
	srv := pop3test.NewServer(t, backendOver(t, dir, maildir.WithNoFlagUpdates()))
	c := srv.Dial()
	c.Login("bob", "pw")
	c.Transcript(`
		C: RETR 1
		S: +OK ...
		S: Subject: a
		S:
		S: a
		S: .
		C: RETR 2
		S: +OK ...
		S: Subject: b
		S:
		S: b
		S: .
		C: QUIT
		S: +OK ...
		S: <closed>
	`)
	assert.Equal(t, delivered, messageFiles(t, dir), "not moved, not marked seen")
	for _, f := range delivered {
		assert.Equal(t, "new", filepath.Base(filepath.Dir(f)))
	}
	c = srv.Dial()
	c.Login("bob", "pw")
	assert.Equal(t, "2", strings.Fields(c.OK("STAT").Text)[0])
	c.Quit()
}

// The backend keeps every promise of the pop3 interfaces beside an IMAP
// server too: a deleted message that stays, flagged, is deleted for POP3,
// and leaving the flags alone changes nothing a POP3 client sees.
func TestBackendContractBesideIMAP(t *testing.T) {
	for name, opts := range map[string][]maildir.Option{
		"deleted flag":    {maildir.WithDeletedFlag("$POP3Deleted")},
		"no flag updates": {maildir.WithNoFlagUpdates()},
	} {
		t.Run(name, func(t *testing.T) {
			pop3test.TestBackend(t, func(t *testing.T, accounts []pop3test.Account) pop3.Backend {
				var users []string
				for _, a := range accounts {
					users = append(users, a.Username+":{PLAIN}"+a.Password)
				}
				_, root, _ := testMaildirs(t, users...)
				b, err := maildir.New(filepath.Join(root, "%u", "Maildir"), mustPasswd(t, filepath.Join(root, "passwd")), opts...)
				require.NoError(t, err)
				for _, a := range accounts {
					for _, m := range a.Messages {
						require.NoError(t, b.Deliver(context.Background(), a.Username, bytes.NewReader(m)))
					}
				}
				return b
			})
		})
	}
}

func mustPasswd(t *testing.T, path string) passwd.Source {
	t.Helper()
	pw, err := passwd.OpenFile(path, nil)
	require.NoError(t, err)
	return pw
}
