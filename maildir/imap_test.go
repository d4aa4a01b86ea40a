package maildir_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/dovecottest"
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/pop3test"
)

// imapClient is just enough IMAP (RFC 3501) for these tests: tagged
// commands whose untagged responses are single lines.
type imapClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	tag  int
}

// dialIMAP connects to Dovecot's IMAP and logs in.
func dialIMAP(t *testing.T, addr, user, password string) *imapClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	c := &imapClient{t: t, conn: conn, r: bufio.NewReader(conn)}
	greeting := c.line()
	require.True(t, strings.HasPrefix(greeting, "* OK"), "greeting: %q", greeting)
	c.cmd("LOGIN " + user + " " + password)
	return c
}

func (c *imapClient) line() string {
	c.t.Helper()
	require.NoError(c.t, c.conn.SetReadDeadline(time.Now().Add(30*time.Second)))
	l, err := c.r.ReadString('\n')
	require.NoError(c.t, err, "reading from IMAP")
	require.False(c.t, strings.HasSuffix(strings.TrimRight(l, "\r\n"), "}"), "a literal, which this client does not read: %q", l)
	return strings.TrimRight(l, "\r\n")
}

// cmd sends a command, requires its tagged OK and returns the untagged
// responses.
func (c *imapClient) cmd(command string) []string {
	c.t.Helper()
	c.tag++
	tag := "a" + strconv.Itoa(c.tag)
	_, err := fmt.Fprintf(c.conn, "%s %s\r\n", tag, command)
	require.NoError(c.t, err)
	var untagged []string
	for {
		l := c.line()
		if rest, ok := strings.CutPrefix(l, tag+" "); ok {
			require.True(c.t, strings.HasPrefix(rest, "OK"), "%s: %s", strings.Fields(command)[0], l)
			return untagged
		}
		untagged = append(untagged, l)
	}
}

var fetchFlags = regexp.MustCompile(`^\* \d+ FETCH \((?:.* )?UID (\d+)(?: .*)? FLAGS \(([^)]*)\)|^\* \d+ FETCH \(FLAGS \(([^)]*)\) UID (\d+)\)`)

// flags returns every message's flags by UID, as UID FETCH 1:* (FLAGS)
// shows them after SELECT (or EXAMINE, which changes nothing).
func (c *imapClient) flags(selectCmd string) map[int][]string {
	c.t.Helper()
	c.cmd(selectCmd + " INBOX")
	out := make(map[int][]string)
	for _, l := range c.cmd("UID FETCH 1:* (FLAGS)") {
		m := fetchFlags.FindStringSubmatch(l)
		if m == nil {
			continue // an untagged EXISTS, FLAGS ...
		}
		uid, flags := m[1], m[2]
		if uid == "" {
			uid, flags = m[4], m[3]
		}
		n, err := strconv.Atoi(uid)
		require.NoError(c.t, err)
		out[n] = strings.Fields(flags)
	}
	return out
}

// count is how many times s is in list.
func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func (c *imapClient) logout() {
	c.t.Helper()
	c.cmd("LOGOUT")
}

// uidlUIDs returns the UIDs in the unique-ids that UIDL shows (Dovecot's
// default %08Xu%08Xv).
func uidlUIDs(t *testing.T, lines []string) []int {
	t.Helper()
	var uids []int
	for _, l := range lines {
		f := strings.Fields(l)
		require.Len(t, f, 2)
		uid, err := strconv.ParseUint(f[1][:8], 16, 32)
		require.NoError(t, err)
		uids = append(uids, int(uid))
	}
	return uids
}

// Real Dovecot IMAP on the Maildir that we serve with -deleted-flag: a
// message deleted through our POP3 shows the keyword in IMAP, and stays;
// a message an IMAP client gives the keyword disappears from our POP3,
// as from Dovecot's own POP3 with the same pop3_deleted_flag. With
// -no-flag-updates, RETR leaves IMAP's \Seen alone. Dovecot runs its IMAP
// as the Maildir's owner (not root): the files we write stay usable to it.
func TestIMAPSeesDeletedFlag(t *testing.T) {
	ctx := context.Background()
	dc := dovecottest.StartWith(t, dovecottest.Options{
		IMAP:     true,
		Settings: `pop3_deleted_flag = "$POP3Deleted"`, // quoted: not a variable
	}, "alice", "bob")
	pw, err := passwd.OpenFile(dc.Users, nil)
	require.NoError(t, err)
	template := filepath.Join(dc.Root, "%u", "Maildir")
	flagging, err := maildir.New(template, pw, maildir.WithDeletedFlag("$POP3Deleted"))
	require.NoError(t, err)
	for i := 1; i <= 3; i++ {
		require.NoError(t, flagging.Deliver(ctx, "alice", strings.NewReader(fmt.Sprintf("Subject: %d\n\nmessage %d\n", i, i))))
	}
	dc.Chown(t, "alice")
	srv := pop3test.NewServer(t, flagging)

	c := pop3test.Dial(t, srv.Addr)
	c.Login("alice", "secret")
	require.Equal(t, []int{1, 2, 3}, uidlUIDs(t, c.OK("UIDL").Lines()))
	c.OK("DELE 2")
	c.Quit()

	imap := dialIMAP(t, dc.IMAPAddr, "alice", "secret")
	flags := imap.flags("SELECT")
	require.Len(t, flags, 3, "Dovecot's IMAP still has the three messages: %v", flags)
	assert.Contains(t, flags[2], "$POP3Deleted")
	assert.NotContains(t, flags[1], "$POP3Deleted")
	assert.NotContains(t, flags[3], "$POP3Deleted")

	ours := func() []int {
		t.Helper()
		c := pop3test.Dial(t, srv.Addr)
		c.Login("alice", "secret")
		defer c.Quit()
		return uidlUIDs(t, c.OK("UIDL").Lines())
	}
	theirs := func() []int {
		t.Helper()
		c := pop3test.Dial(t, dc.Addr)
		c.Login("alice", "secret")
		defer c.Quit()
		return uidlUIDs(t, c.OK("UIDL").Lines())
	}
	assert.Equal(t, []int{1, 3}, ours())
	assert.Equal(t, []int{1, 3}, theirs(), "Dovecot's POP3 with pop3_deleted_flag agrees")

	// The other way: an IMAP client flags message 3 (UID 3).
	imap.cmd("UID STORE 3 +FLAGS ($POP3Deleted)")
	imap.logout()
	assert.Equal(t, []int{1}, ours())
	assert.Equal(t, []int{1}, theirs())

	// And a DELE of ours after Dovecot wrote dovecot-keywords reuses its
	// letter: IMAP sees the same keyword on all three.
	c = pop3test.Dial(t, srv.Addr)
	c.Login("alice", "secret")
	c.OK("DELE 1")
	c.Quit()
	assert.Empty(t, ours())
	imap = dialIMAP(t, dc.IMAPAddr, "alice", "secret")
	flags = imap.flags("EXAMINE")
	imap.logout()
	require.Len(t, flags, 3)
	for uid, f := range flags {
		assert.Equal(t, 1, count(f, "$POP3Deleted"), "UID %d: %v", uid, f)
	}

	// -no-flag-updates: RETR and QUIT leave no \Seen for IMAP.
	plain, err := maildir.New(template, pw, maildir.WithNoFlagUpdates())
	require.NoError(t, err)
	for i := 1; i <= 2; i++ {
		require.NoError(t, plain.Deliver(ctx, "bob", strings.NewReader(fmt.Sprintf("Subject: %d\n\nfor bob\n", i))))
	}
	dc.Chown(t, "bob")
	srv2 := pop3test.NewServer(t, plain)
	c = pop3test.Dial(t, srv2.Addr)
	c.Login("bob", "secret")
	c.OK("RETR 1")
	c.OK("RETR 2")
	c.Quit()
	entries, err := os.ReadDir(filepath.Join(dc.Root, "bob", "Maildir", "new"))
	require.NoError(t, err)
	assert.Len(t, entries, 2, "left in new/")
	imap = dialIMAP(t, dc.IMAPAddr, "bob", "secret")
	flags = imap.flags("EXAMINE")
	imap.logout()
	require.Len(t, flags, 2)
	for uid, f := range flags {
		assert.NotContains(t, f, `\Seen`, "UID %d", uid)
	}

	// Dovecot read and wrote what we wrote without a complaint.
	kw, err := os.ReadFile(filepath.Join(dc.Root, "alice", "Maildir", "dovecot-keywords"))
	require.NoError(t, err)
	assert.Equal(t, "0 $POP3Deleted\n", string(kw))
	dovecotLog, err := os.ReadFile(filepath.Join(dc.Root, "log", "dovecot.log"))
	require.NoError(t, err)
	assert.NotContains(t, string(dovecotLog), "rror:")
	assert.NotContains(t, string(dovecotLog), "Permission denied")
}
