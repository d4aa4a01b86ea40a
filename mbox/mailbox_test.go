package mbox_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/mbox"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/pop3test"
)

// qpopperSpool is a spool as qpopper and Postfix leave it: an X-UIDL on
// the first message, a Status, a ">From " line, no Dovecot headers.
const qpopperSpool = "From alice@example.org Sun Dec  6 19:22:23 2026\n" +
	"X-UIDL: 4f1c2a3b5d6e7f80\n" +
	"Status: O\n" +
	"Subject: one\n" +
	"\n" +
	">From the start\n" +
	"\n" +
	"From bob@example.org Sun Dec  6 19:23:00 2026\n" +
	"Subject: two\n" +
	"Content-Length: 5\n" +
	"\n" +
	"body\n" +
	"\n" +
	"From carol@example.org Sun Dec  6 19:24:00 2026\n" +
	"Subject: three\n" +
	"\n" +
	"third\n" +
	"\n"

// writeSpool writes a spool for user under root.
func writeSpool(t *testing.T, root, user, content string) string {
	t.Helper()
	path := filepath.Join(root, user)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o660))
	return path
}

// A session shows the messages as Dovecot does; its login writes what
// keeps their unique-ids (X-IMAPbase, X-UID), and its end marks what RETR
// sent (Status: RO), so the next session shows the same unique-ids.
func TestSessionShowsAndMarks(t *testing.T) {
	b, root, _ := testSpools(t, "alice:{PLAIN}pw")
	path := writeSpool(t, root, "alice", qpopperSpool)
	srv := pop3test.NewServer(t, b)

	c := srv.Dial()
	c.Login("alice", "pw")
	assert.Equal(t, []string{"1 59", "2 22", "3 25"}, c.OK("LIST").Lines())
	uidl := c.OK("UIDL").Lines()
	require.Len(t, uidl, 3)
	assert.Equal(t, "1 4f1c2a3b5d6e7f80", uidl[0], "qpopper's X-UIDL")
	assert.Regexp(t, `^2 00000002[0-9a-f]{8}$`, uidl[1], "Dovecot's %08Xu%08Xv")
	assert.Regexp(t, `^3 00000003[0-9a-f]{8}$`, uidl[2])
	assert.Equal(t, "X-UIDL: 4f1c2a3b5d6e7f80\r\nSubject: one\r\n\r\n>From the start\r\n", string(c.OK("RETR 1").Body), "Status hidden, >From as it is")
	assert.Equal(t, "Subject: two\r\n\r\nbody\r\n", string(c.OK("RETR 2").Body), "Content-Length hidden")
	c.OK("DELE 3")
	c.Quit()

	got, err := os.ReadFile(path)
	require.NoError(t, err)
	validity := regexp.MustCompile(`X-IMAPbase: (\d+) 0000000003\n`).FindStringSubmatch(string(got))
	require.NotNil(t, validity, "X-IMAPbase on the first message:\n%s", got)
	assert.Equal(t, "From alice@example.org Sun Dec  6 19:22:23 2026\n"+
		"X-UIDL: 4f1c2a3b5d6e7f80\n"+
		"Subject: one\n"+
		"X-IMAPbase: "+validity[1]+" 0000000003\n"+
		"X-UID: 1\n"+
		"Status: RO\n"+
		"\n"+
		">From the start\n"+
		"\n"+
		"From bob@example.org Sun Dec  6 19:23:00 2026\n"+
		"Subject: two\n"+
		"Content-Length: 5\n"+
		"X-UID: 2\n"+
		"Status: RO\n"+
		"\n"+
		"body\n"+
		"\n", string(got), "Dovecot's fields at the end of the header, as Dovecot writes them")

	c = srv.Dial()
	c.Login("alice", "pw")
	assert.Equal(t, uidl[:2], c.OK("UIDL").Lines(), "the same unique-ids")
	assert.Equal(t, []string{"1 59", "2 22"}, c.OK("LIST").Lines(), "the same sizes")
	c.Quit()
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(got), string(after), "a session that changes nothing writes nothing")
}

// Mail delivered during a session is kept by its UPDATE, and listed by
// the next session only.
func TestDeliveryDuringSession(t *testing.T) {
	b, root, _ := testSpools(t, "bob:{PLAIN}pw")
	writeSpool(t, root, "bob", qpopperSpool)
	srv := pop3test.NewServer(t, b)
	ctx := context.Background()

	c := srv.Dial()
	c.Login("bob", "pw")
	require.NoError(t, b.Deliver(ctx, "bob", strings.NewReader("Subject: late\n\nlate body\n")))
	assert.Len(t, c.OK("UIDL").Lines(), 3, "not listed in this session")
	c.OK("DELE 1")
	c.OK("DELE 2")
	c.OK("DELE 3")
	c.Quit()

	c = srv.Dial()
	c.Login("bob", "pw")
	uidl := c.OK("UIDL").Lines()
	require.Len(t, uidl, 1)
	assert.Equal(t, "Subject: late\r\n\r\nlate body\r\n", string(c.OK("RETR 1").Body))
	c.Quit()

	// Its unique-id is new: the spool kept the folder's UIDs although
	// every message before it was removed.
	c = srv.Dial()
	c.Login("bob", "pw")
	assert.Equal(t, uidl, c.OK("UIDL").Lines())
	assert.Regexp(t, `^1 00000004`, uidl[0], "UID 4: after the three the folder gave")
	c.Quit()
}

// A second session of the same maildrop is told [IN-USE].
func TestSecondSessionInUse(t *testing.T) {
	b, root, _ := testSpools(t, "carol:{PLAIN}pw")
	writeSpool(t, root, "carol", qpopperSpool)
	srv := pop3test.NewServer(t, b)
	c := srv.Dial()
	c.Login("carol", "pw")
	c2 := srv.Dial()
	c2.OK("USER carol")
	r := c2.Cmd("PASS pw")
	assert.False(t, r.OK)
	assert.Contains(t, r.Line, "[IN-USE]")
	c.Quit()
}

// A spool that is not an mbox, or ends in the middle of a message, is a
// temporary failure for its user, and is never written.
func TestBadSpools(t *testing.T) {
	for name, content := range map[string]string{
		"not an mbox": "Subject: no From line\n\nbody\n",
		"truncated":   "From a Sun Dec  6 19:22:23 2026\nSubject: x\n\nhalf a li",
	} {
		t.Run(name, func(t *testing.T) {
			b, root, _ := testSpools(t, "dave:{PLAIN}pw")
			path := writeSpool(t, root, "dave", content)
			srv := pop3test.NewServer(t, b)
			c := srv.Dial()
			c.OK("USER dave")
			r := c.Cmd("PASS pw")
			assert.False(t, r.OK)
			assert.Contains(t, r.Line, "[SYS/TEMP]")
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, content, string(got))
		})
	}
}

// A user without a spool has an empty maildrop.
func TestNoSpool(t *testing.T) {
	b, _, _ := testSpools(t, "erin:{PLAIN}pw")
	srv := pop3test.NewServer(t, b)
	c := srv.Dial()
	c.Login("erin", "pw")
	assert.Equal(t, "+OK 0 0", c.Cmd("STAT").Line)
	c.Quit()
}

// A spool that another program rewrote during the session (a mail reader
// removing a message) is left alone: QUIT says so, and nothing the
// session marked is removed.
func TestSpoolRewrittenDuringSession(t *testing.T) {
	b, root, _ := testSpools(t, "frank:{PLAIN}pw")
	path := writeSpool(t, root, "frank", qpopperSpool)
	srv := pop3test.NewServer(t, b)
	c := srv.Dial()
	c.Login("frank", "pw")
	c.OK("DELE 1")
	rewritten := strings.Replace(qpopperSpool, "Subject: two", "Subject: 2!!", 1)
	require.NoError(t, os.WriteFile(path, []byte(rewritten), 0o660))
	r := c.Cmd("QUIT")
	assert.False(t, r.OK, r.Line)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, rewritten, string(got))
}

// LAST (RFC 1460) starts from the highest message an earlier session
// retrieved, which its "Status: RO" records, as qpopper's does; so
// fetchmail without UIDL fetches only the messages after it.
func TestLastFromStatus(t *testing.T) {
	b, root, _ := testSpools(t, "gina:{PLAIN}pw")
	writeSpool(t, root, "gina", qpopperSpool)
	srv := pop3test.NewServer(t, b)
	c := srv.Dial()
	c.Login("gina", "pw")
	assert.Equal(t, "+OK 0", c.Cmd("LAST").Line, "Status: O is not read")
	c.OK("RETR 2")
	c.Quit()

	c = srv.Dial()
	c.Login("gina", "pw")
	assert.Equal(t, "+OK 2", c.Cmd("LAST").Line)
	c.OK("RSET")
	assert.Equal(t, "+OK 0", c.Cmd("LAST").Line, "RSET sets it back to 0")
	c.Quit()
}

// WithoutXUIDL shows Dovecot's unique-id for a message with an X-UIDL
// header too, as Dovecot does by default.
func TestWithoutXUIDL(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "passwd")
	require.NoError(t, os.WriteFile(pw, []byte("hank:{PLAIN}pw::::::\n"), 0o600))
	users, err := passwd.OpenFile(pw, nil)
	require.NoError(t, err)
	root := t.TempDir()
	b, err := mbox.New(filepath.Join(root, "%u"), users, mbox.WithoutXUIDL())
	require.NoError(t, err)
	writeSpool(t, root, "hank", qpopperSpool)
	srv := pop3test.NewServer(t, b)
	c := srv.Dial()
	c.Login("hank", "pw")
	uidl := c.OK("UIDL").Lines()
	require.Len(t, uidl, 3)
	assert.Regexp(t, `^1 00000001[0-9a-f]{8}$`, uidl[0], "not the X-UIDL")
	c.Quit()
}

// A spool that starts with UW-IMAP's pseudo message keeps the folder's
// UIDs in its X-IMAP header: a new message's UID raises it there, no
// X-IMAPbase is added, and the pseudo message is never listed.
func TestPseudoMessageKeepsTheUIDs(t *testing.T) {
	b, root, _ := testSpools(t, "ivy:{PLAIN}pw")
	pseudo := "From MAILER_DAEMON Sun Dec  6 19:00:00 2026\n" +
		"Date: Sun, 6 Dec 2026 19:00:00 +0000\n" +
		"From: Mail System Internal Data <MAILER-DAEMON@localhost>\n" +
		"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n" +
		"X-IMAP: 1700000000 0000000002\n" +
		"Status: RO\n\nThis text is part of the internal format of your mail folder.\n\n"
	path := writeSpool(t, root, "ivy", pseudo+
		"From a Sun Dec  6 19:22:23 2026\nX-UID: 1\nSubject: one\n\n1\n\n"+
		"From b Sun Dec  6 19:22:24 2026\nX-UID: 2\nSubject: two\n\n2\n\n"+
		"From c Sun Dec  6 19:22:25 2026\nSubject: three\n\n3\n\n")
	srv := pop3test.NewServer(t, b)
	c := srv.Dial()
	c.Login("ivy", "pw")
	uidl := c.OK("UIDL").Lines()
	assert.Equal(t, []string{"1 000000016553f100", "2 000000026553f100", "3 000000036553f100"}, uidl)
	c.Quit()

	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(got), "X-IMAP: 1700000000 0000000003\n")
	assert.NotContains(t, string(got), "X-IMAPbase")
	assert.Equal(t, 1, strings.Count(string(got), "X-IMAP:"))

	c = srv.Dial()
	c.Login("ivy", "pw")
	assert.Equal(t, uidl, c.OK("UIDL").Lines())
	c.Quit()
}
