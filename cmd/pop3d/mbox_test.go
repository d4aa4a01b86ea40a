package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/testprog"
	"github.com/gopop3/pop3/pop3test"
)

// mboxStore is a spool directory, as /var/mail, and a -passwd file for
// -mbox: alice, bob and carol, each with the password USER-pw.
type mboxStore struct {
	dir, passwd string
}

func newMboxStore(t *testing.T) *mboxStore {
	t.Helper()
	s := &mboxStore{dir: t.TempDir(), passwd: filepath.Join(t.TempDir(), "passwd")}
	require.NoError(t, os.WriteFile(s.passwd, []byte("alice:{PLAIN}alice-pw\nbob:{PLAIN}bob-pw\ncarol:{PLAIN}carol-pw\n"), 0o600))
	return s
}

func (s *mboxStore) args() []string {
	return []string{"-addr", "127.0.0.1:0", "-mbox", filepath.Join(s.dir, "%u"), "-passwd", s.passwd}
}

func (s *mboxStore) spool(user string) string { return filepath.Join(s.dir, user) }

// postfixFrom is the From line Postfix local(8) writes: two spaces
// before the date.
const postfixFrom = "From sender@example.org  Sun Dec  6 19:22:23 2026\n"

// postfixAppend is msg (LF line ends) as Postfix local(8) appends it to a
// spool: its From line, ">From " for a body line that would start a
// message, the message ended by a line end, and an empty line.
func postfixAppend(msg string) string {
	var b strings.Builder
	b.WriteString(postfixFrom)
	lines := strings.SplitAfter(msg, "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "From ") {
			b.WriteByte('>')
		}
		b.WriteString(l)
	}
	if !strings.HasSuffix(msg, "\n") {
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	return b.String()
}

// crlf is text as RETR sends it: CRLF line ends.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// plainMessages splits a spool as a plain mail reader does: each line that
// starts with "From " starts a message (the writers of these tests escape
// such lines in bodies as ">From "). It fails the test if the file does
// not start with one.
func plainMessages(t *testing.T, data string) []string {
	t.Helper()
	if data == "" {
		return nil
	}
	require.True(t, strings.HasPrefix(data, "From "), "the spool starts with %q", data[:min(len(data), 40)])
	var msgs []string
	start := 0
	for i := 0; i < len(data); {
		j := strings.IndexByte(data[i:], '\n')
		if j < 0 {
			break
		}
		next := i + j + 1
		if next < len(data) && strings.HasPrefix(data[next:], "From ") {
			msgs = append(msgs, data[start:next])
			start = next
		}
		i = next
	}
	return append(msgs, data[start:])
}

// headerValues returns the values of the header fields called name in an
// mbox message (its From line first), unfolded and trimmed.
func headerValues(msg, name string) []string {
	header, _, _ := strings.Cut(msg, "\n\n")
	var values []string
	for _, l := range strings.Split(header, "\n")[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, name) {
			values = append(values, strings.TrimSpace(v))
		}
	}
	return values
}

// fileIdentity is what a spool keeps however it is rewritten: its inode,
// owner, group and mode.
type fileIdentity struct {
	ino         uint64
	uid, gid    uint32
	mode        os.FileMode
	description string
}

func identityOf(t *testing.T, path string) fileIdentity {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	return fileIdentity{ino: st.Ino, uid: st.Uid, gid: st.Gid, mode: fi.Mode(),
		description: fmt.Sprintf("inode %d, %d:%d, %v", st.Ino, st.Uid, st.Gid, fi.Mode())}
}

// leftovers lists the files of dir other than the spools in keep: locks
// and update files that a session or a crash left.
func leftovers(t *testing.T, dir string, keep ...string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if !slices.Contains(keep, e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names
}

// pop3d -mbox with -passwd, end to end: the listing, the unique-ids
// (Dovecot's from the UIDs the session gives, qpopper's X-UIDL when there
// is one), messages as Dovecot shows them, and the spool after UPDATE:
// the deleted message gone, the retrieved ones "Status: RO", Dovecot's
// UID headers written, and the unique-ids the same in the next session,
// which changes nothing in the file.
func TestMbox(t *testing.T) {
	store := newMboxStore(t)
	one := "Return-Path: <ann@example.org>\nMessage-ID: <1@example.org>\nSubject: one\n\nfirst\nFrom the start of a line\n"
	two := "Subject: two\nStatus: O\nX-Status: A\nX-Keywords: $Label1\nContent-Length: 17\n\n.dot line\nsecond\n"
	three := "Subject: three\nX-UIDL: 0c1f3b5e6a7d9e2f\n\nthird\n"
	require.NoError(t, os.WriteFile(store.spool("alice"), []byte(postfixAppend(one)+postfixAppend(two)+postfixAppend(three)), 0o660))

	srv := start(t, store.args()...)
	c := dial(t, srv.Addr)
	c.Login("alice", "alice-pw")
	// RETR shows the messages without the From line and the headers the
	// store keeps for itself; ">From " stays as it is.
	shown := []string{
		crlf("Return-Path: <ann@example.org>\nMessage-ID: <1@example.org>\nSubject: one\n\nfirst\n>From the start of a line\n"),
		crlf("Subject: two\n\n.dot line\nsecond\n"),
		crlf(three),
	}
	assert.Equal(t, fmt.Sprintf("3 %d", len(shown[0])+len(shown[1])+len(shown[2])), stat(c))
	assert.Equal(t, []string{"1 " + strconv.Itoa(len(shown[0])), "2 " + strconv.Itoa(len(shown[1])), "3 " + strconv.Itoa(len(shown[2]))}, c.OK("LIST").Lines())
	uidl := c.OK("UIDL").Lines()
	require.Len(t, uidl, 3)
	assert.Regexp(t, `^1 00000001[0-9a-f]{8}$`, uidl[0], "Dovecot's %%08Xu%%08Xv")
	assert.Regexp(t, `^2 00000002[0-9a-f]{8}$`, uidl[1])
	assert.Equal(t, uidl[0][len("1 00000001"):], uidl[1][len("2 00000002"):], "one UIDVALIDITY")
	assert.Equal(t, "3 0c1f3b5e6a7d9e2f", uidl[2], "qpopper's X-UIDL")
	validity, err := strconv.ParseUint(uidl[0][len("1 00000001"):], 16, 32)
	require.NoError(t, err)
	for i := 2; i <= 3; i++ {
		_, content := retr(t, c, i)
		assert.Equal(t, shown[i-1], content, "RETR %d", i)
	}
	c.OK("DELE 1")
	c.Quit()

	data, err := os.ReadFile(store.spool("alice"))
	require.NoError(t, err)
	msgs := plainMessages(t, string(data))
	require.Len(t, msgs, 2, "%s", data)
	assert.Equal(t, []string{"two"}, headerValues(msgs[0], "Subject"))
	assert.Equal(t, []string{fmt.Sprintf("%d 0000000003", validity)}, headerValues(msgs[0], "X-IMAPbase"), "the first message keeps the UIDVALIDITY and the last UID")
	for i, m := range msgs {
		assert.Equal(t, []string{strconv.Itoa(i + 2)}, headerValues(m, "X-UID"), "message %d", i+2)
		assert.Equal(t, []string{"RO"}, headerValues(m, "Status"), "message %d was retrieved", i+2)
	}
	assert.Equal(t, []string{"A"}, headerValues(msgs[0], "X-Status"))
	assert.Equal(t, []string{"$Label1"}, headerValues(msgs[0], "X-Keywords"))
	assert.Equal(t, []string{"0c1f3b5e6a7d9e2f"}, headerValues(msgs[1], "X-UIDL"))
	assert.True(t, strings.HasSuffix(msgs[0], "\n.dot line\nsecond\n\n"), "%q", msgs[0])
	assert.True(t, strings.HasSuffix(msgs[1], "\nthird\n\n"), "%q", msgs[1])
	assert.Empty(t, leftovers(t, store.dir, "alice"), "no lock or update file is left")

	// The next session: the same unique-ids, and nothing to write.
	c = dial(t, srv.Addr)
	c.Login("alice", "alice-pw")
	assert.Equal(t, []string{"1 " + uidl[1][2:], "2 " + uidl[2][2:]}, c.OK("UIDL").Lines())
	_, content := retr(t, c, 1)
	assert.Equal(t, shown[1], content)
	c.Quit()
	again, err := os.ReadFile(store.spool("alice"))
	require.NoError(t, err)
	assert.Equal(t, string(data), string(again), "a session that retrieves a message marked RO already changes nothing")

	// A user without a spool has an empty maildrop, and gets no file.
	c = dial(t, srv.Addr)
	c.Login("carol", "carol-pw")
	assert.Equal(t, "0 0", stat(c))
	c.Quit()
	assert.NoFileExists(t, store.spool("carol"))
}

// A second session for the same spool gets [IN-USE], from the same pop3d
// and from another one; the maildrop is free again once the first session
// quits, or its process is killed.
func TestMboxInUse(t *testing.T) {
	store := newMboxStore(t)
	require.NoError(t, os.WriteFile(store.spool("bob"), []byte(postfixAppend("Subject: x\n\nx\n")), 0o660))
	require.NoError(t, os.WriteFile(store.spool("alice"), []byte(postfixAppend("Subject: a\n\na\n")), 0o660))
	first := startProcess(t, store.args()...)
	second := startProcess(t, store.args()...)
	inUse := func(addr string) {
		t.Helper()
		c := pop3test.Dial(t, addr)
		c.OK("USER bob")
		r := c.Cmd("PASS bob-pw")
		assert.False(t, r.OK, r.Line)
		assert.Equal(t, "IN-USE", r.Code, r.Line)
		c.Quit()
	}

	c1 := pop3test.Dial(t, first.addr)
	c1.Login("bob", "bob-pw")
	inUse(first.addr)
	inUse(second.addr)
	other := pop3test.Dial(t, second.addr)
	other.Login("alice", "alice-pw") // another spool is not locked
	other.Quit()
	c1.Quit()

	c2 := pop3test.Dial(t, second.addr)
	c2.Login("bob", "bob-pw")
	inUse(first.addr)
	second.kill9(t)
	c3 := pop3test.Dial(t, first.addr)
	c3.Login("bob", "bob-pw")
	assert.Equal(t, "1 "+strconv.Itoa(len(crlf("Subject: x\n\nx\n"))), c3.OK("STAT").Text)
	c3.Quit()
}

// A spool that is not an mbox, or that ends in the middle of a message,
// gives that user -ERR [SYS/TEMP] at login, never crashes pop3d, leaves
// the other users alone, and is never changed.
func TestMboxBadSpool(t *testing.T) {
	good := postfixAppend("Subject: good\n\nfine\n")
	for _, tc := range []struct{ name, content string }{
		{"not an mbox", "Hello Bob,\n\nthis is a letter, not a mailbox.\n"},
		{"binary", "\x00\x01\x02PK\x03\x04 not mail at all\n\xff\xfe\n"},
		{"a From line without a date", "From bob\nSubject: s\n\nbody\n\n"},
		{"truncated mid-message", good + "From sender@example.org  Sun Dec  6 19:22:24 2026\nSubject: cut\n\nthe delivery was cut off he"},
		{"truncated in the header", good + "From sender@example.org  Sun Dec  6 19:22:24 2026\nSubject: cut\nReceived: from mx.exa"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newMboxStore(t)
			bad, other := store.spool("bob"), store.spool("carol")
			require.NoError(t, os.WriteFile(bad, []byte(tc.content), 0o660))
			require.NoError(t, os.WriteFile(other, []byte(good), 0o660))
			past := time.Now().Add(-time.Hour).Truncate(time.Second)
			require.NoError(t, os.Chtimes(bad, past, past))
			srv := start(t, store.args()...)

			for range 2 {
				c := dial(t, srv.Addr)
				c.OK("USER bob")
				r := c.Cmd("PASS bob-pw")
				assert.False(t, r.OK, r.Line)
				assert.Equal(t, "SYS/TEMP", r.Code, r.Line)
				c.Quit()
			}
			c := dial(t, srv.Addr)
			c.Login("carol", "carol-pw")
			assert.Equal(t, "1 "+strconv.Itoa(len(crlf("Subject: good\n\nfine\n"))), stat(c))
			c.OK("RETR 1")
			c.Quit()

			data, err := os.ReadFile(bad)
			require.NoError(t, err)
			assert.Equal(t, tc.content, string(data), "the spool is byte for byte what it was")
			fi, err := os.Stat(bad)
			require.NoError(t, err)
			assert.True(t, fi.ModTime().Equal(past), "the spool was not written: modified %v", fi.ModTime())
			assert.Empty(t, leftovers(t, store.dir, "bob", "carol"))
		})
	}
}

// kill9Message is message i of the big spool of TestMboxKill9DuringUpdate:
// one to three KB, every 97th some 150 KB, with lines that RETR must send
// as they are (">From ", a leading dot).
func kill9Message(i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Return-Path: <sender%d@example.org>\nMessage-ID: <%d@kill9.test>\nSubject: message %d\n\n", i, i, i)
	lines := 10 + i%30
	if i%97 == 13 {
		lines = 2000
	}
	for l := range lines {
		switch l % 25 {
		case 7:
			fmt.Fprintf(&b, ">From line %d of message %d\n", l, i)
		case 11:
			b.WriteString(".a line with a leading dot\n")
		default:
			fmt.Fprintf(&b, "%d.%d 0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\n", i, l)
		}
	}
	return b.String()
}

// lateMessage is the message a delivery agent appends after the kill of
// round r: small, or of about size octets (a quarter of the spool: more
// than a rewrite removes, so that the spool, once cut, grows past its old
// size again).
func lateMessage(r, size int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Message-ID: <late-%d@kill9.test>\nSubject: late %d\n\nafter the crash\n", r, r)
	for l := 0; r%2 == 1 && b.Len() < size; l++ {
		fmt.Fprintf(&b, "%d 0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\n", l)
	}
	return b.String()
}

var messageIDField = regexp.MustCompile(`(?mi)^Message-ID: (\S+)\r?$`)

// messageID returns the Message-ID of a message, "" when it has none.
func messageID(msg []byte) string {
	header, _, _ := strings.Cut(string(msg), "\r\n\r\n")
	if m := messageIDField.FindStringSubmatch(header); m != nil {
		return m[1]
	}
	return ""
}

// seenMessage is one message of a maildrop, as a client sees it.
type seenMessage struct {
	uid string
	id  string // Message-ID
	sum [32]byte
}

// listMaildrop returns the unique-id, Message-ID and content digest of
// every message, in order, read with TOP n 100000000 (the whole message,
// as fetchmail asks for it), which, unlike RETR, does not mark a message
// read.
func listMaildrop(t *testing.T, addr, user, pass string) []seenMessage {
	t.Helper()
	c := pop3test.Dial(t, addr)
	c.Timeout = time.Minute
	c.Login(user, pass)
	uidl := c.OK("UIDL").Lines()
	seen := make([]seenMessage, len(uidl))
	for start := 0; start < len(uidl); start += 200 {
		var cmds []string
		for i := start; i < min(start+200, len(uidl)); i++ {
			cmds = append(cmds, fmt.Sprintf("TOP %d 100000000", i+1))
		}
		for k, r := range c.Pipeline(cmds...) {
			require.True(t, r.OK, r.Line)
			i := start + k
			n, uid, _ := strings.Cut(uidl[i], " ")
			require.Equal(t, strconv.Itoa(i+1), n)
			seen[i] = seenMessage{uid: uid, id: messageID(r.Body), sum: sha256.Sum256(r.Body)}
		}
	}
	c.Quit()
	return seen
}

// deliverWithDotlockfile appends msg to spool as a delivery agent does,
// under the dotlock that dotlockfile takes. With -p it breaks a lock
// whose holder has died, as a killed pop3d leaves it.
func deliverWithDotlockfile(t *testing.T, spool, msg string) {
	t.Helper()
	out, err := exec.Command("dotlockfile", "-p", "-r", "2", "-l", spool+".lock").CombinedOutput()
	require.NoError(t, err, "dotlockfile -l: %s", out)
	f, err := os.OpenFile(spool, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(msg)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	out, err = exec.Command("dotlockfile", "-u", spool+".lock").CombinedOutput()
	require.NoError(t, err, "dotlockfile -u: %s", out)
}

// killAt is when a round of TestMboxKill9DuringUpdate kills pop3d: delay
// after QUIT, or after the update was committed; or never.
type killAt struct {
	never, afterCommit bool
	delay              time.Duration
}

// updateTiming is how long, after QUIT, the update took to be committed
// (its new content durable beside the spool), and then to be written
// over the spool.
type updateTiming struct{ commit, apply time.Duration }

// waitForCommit polls for the committed update file until it appears, and
// returns when it saw it; the zero time if stop is closed first, or after
// 20 seconds.
func waitForCommit(path string, stop <-chan struct{}) time.Time {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Lstat(path); err == nil {
			return time.Now()
		}
		select {
		case <-stop:
			return time.Time{}
		default:
		}
		time.Sleep(50 * time.Microsecond)
	}
	return time.Time{}
}

// A kill -9 at many moments of the update that QUIT starts, on a big
// spool: before its new content is committed, while it is written over the
// spool (the kill timed from the moment the committed file appears), and
// after. Every message that was not deleted is intact (same unique-id,
// same content) exactly once, no message appears twice or in part, the
// deleted messages are all gone or all there (and the session's RO marks
// with them), mail that a delivery agent appends during the session, and
// right after the crash (dotlockfile -p breaking the dead pop3d's
// dotlock), is kept, the spool keeps its inode, owner and mode, and a
// plain reader of the file, after the next session, finds each message
// once.
func TestMboxKill9DuringUpdate(t *testing.T) {
	testprog.Require(t, "dotlockfile", "liblockfile-bin")
	if testing.Short() {
		t.Skip("a big spool, rewritten and killed some twenty times")
	}
	store := newMboxStore(t)
	spool := store.spool("bob")
	const count = 2000
	var initial strings.Builder
	want := make(map[string][32]byte, count) // Message-ID: the digest of what RETR sends
	for i := range count {
		m := kill9Message(i)
		initial.WriteString(postfixAppend(m))
		want[fmt.Sprintf("<%d@kill9.test>", i)] = sha256.Sum256([]byte(crlf(m)))
	}
	require.NoError(t, os.WriteFile(spool, []byte(initial.String()), 0o660))
	require.NoError(t, os.Chmod(spool, 0o660))
	if os.Geteuid() == 0 {
		require.NoError(t, os.Chown(spool, 4242, 8)) // Debian's USER:mail
	}
	identity := identityOf(t, spool)
	t.Logf("a spool of %d messages, %.1f MB; %s", count, float64(initial.Len())/1e6, identity.description)

	round := 0
	// run plays one round: a fresh spool whose messages have UIDs already,
	// a session that retrieves and deletes some and sends QUIT, a kill -9
	// (or none: QUIT is answered, and the update timed), a delivery, a new
	// pop3d, and the checks.
	committed := filepath.Join(store.dir, ".bob.pop3d-update") // doc.go: ".SPOOL.pop3d-update"
	run := func(t *testing.T, retrieve, del func(i int) bool, kill killAt) (timing updateTiming) {
		t.Helper()
		round++
		// In place: the inode, owner and mode stay.
		require.NoError(t, os.WriteFile(spool, []byte(initial.String()), 0o660))
		p := startProcess(t, store.args()...)
		c := pop3test.Dial(t, p.addr)
		c.Timeout = time.Minute
		c.Login("bob", "bob-pw")
		c.Quit() // writes the UIDs, so that the unique-ids stay whatever happens next

		primed, err := os.ReadFile(spool)
		require.NoError(t, err)
		c = pop3test.Dial(t, p.addr)
		c.Timeout = time.Minute
		c.Login("bob", "bob-pw")
		uidl := c.OK("UIDL").Lines()
		require.Len(t, uidl, count)
		before := make([]seenMessage, count) // message i is kill9Message(i)
		for i, line := range uidl {
			_, uid, _ := strings.Cut(line, " ")
			id := fmt.Sprintf("<%d@kill9.test>", i)
			before[i] = seenMessage{uid: uid, id: id, sum: want[id]}
		}
		marked, retrieved := make(map[string]bool), make(map[string]bool)
		var cmds, ids []string
		for i, m := range before {
			if retrieve(i) {
				cmds, ids = append(cmds, fmt.Sprintf("RETR %d", i+1)), append(ids, m.id)
				retrieved[m.id] = true
			}
			if del(i) {
				cmds, ids = append(cmds, fmt.Sprintf("DELE %d", i+1)), append(ids, m.id)
				marked[m.id] = true
			}
		}
		for i, r := range c.Pipeline(cmds...) {
			require.True(t, r.OK, r.Line)
			if r.Body != nil {
				require.Equal(t, want[ids[i]], sha256.Sum256(r.Body), "%s sends message %s", cmds[i], ids[i])
			}
		}
		// Mail delivered during the session, which its update keeps.
		during := fmt.Sprintf("Message-ID: <during-%d@kill9.test>\nSubject: during %d\n\ndelivered during the session\n", round, round)
		deliverWithDotlockfile(t, spool, postfixAppend(during))
		began := time.Now()
		c.Send("QUIT")
		switch {
		case kill.never:
			// Measure: when the update is committed, and when QUIT is answered.
			seen := make(chan time.Time, 1)
			stop := make(chan struct{})
			go func() { seen <- waitForCommit(committed, stop) }()
			r := c.ReadReply()
			answered := time.Now()
			close(stop)
			require.True(t, r.OK, r.Line)
			at := <-seen
			if at.IsZero() {
				at = answered
			}
			timing = updateTiming{commit: at.Sub(began), apply: answered.Sub(at)}
		case kill.afterCommit:
			require.False(t, waitForCommit(committed, nil).IsZero())
			time.Sleep(kill.delay)
		default:
			time.Sleep(kill.delay)
		}
		p.kill9(t)
		left := leftovers(t, store.dir, "bob")
		atKill, err := os.ReadFile(spool)
		require.NoError(t, err)
		spoolState := "untouched"
		if !bytes.Equal(atKill, primed) {
			spoolState = "rewritten"
			if slices.Contains(left, ".bob.pop3d-update") {
				spoolState = "being rewritten"
			}
		}
		assert.Equal(t, identity, identityOf(t, spool), "after the kill")

		late := lateMessage(round, initial.Len()/4)
		deliverWithDotlockfile(t, spool, postfixAppend(late))
		lateID, lateSum := fmt.Sprintf("<late-%d@kill9.test>", round), sha256.Sum256([]byte(crlf(late)))

		p = startProcess(t, store.args()...)
		after := listMaildrop(t, p.addr, "bob", "bob-pw")
		p.kill9(t) // idle: the session above has ended
		byID := make(map[string]seenMessage, len(after))
		for _, m := range after {
			_, twice := byID[m.id]
			assert.False(t, twice, "message %s appears twice", m.id)
			byID[m.id] = m
		}
		for _, m := range []struct {
			id   string
			sum  [32]byte
			when string
		}{
			{fmt.Sprintf("<during-%d@kill9.test>", round), sha256.Sum256([]byte(crlf(during))), "during the session"},
			{lateID, lateSum, "after the crash"},
		} {
			got, ok := byID[m.id]
			if assert.True(t, ok, "the message delivered %s is kept", m.when) {
				assert.Equal(t, m.sum, got.sum, "the message delivered %s is intact", m.when)
			}
		}
		removed := 0
		for _, m := range before {
			got, ok := byID[m.id]
			switch {
			case ok:
				assert.Equal(t, m.uid, got.uid, "message %s keeps its unique-id", m.id)
				assert.Equal(t, m.sum, got.sum, "message %s is intact", m.id)
			case marked[m.id]:
				removed++
			default:
				t.Errorf("message %s is gone but was not deleted", m.id)
			}
		}
		assert.Len(t, after, len(before)-removed+2, "no message appeared")
		assert.True(t, removed == 0 || removed == len(marked), "the deleted messages are all gone or all there: %d of %d gone", removed, len(marked))

		// A plain reader of the file, after the session that recovered it.
		data, err := os.ReadFile(spool)
		require.NoError(t, err)
		inFile := make(map[string]int)
		readMarks := 0
		for _, m := range plainMessages(t, string(data)) {
			ids := headerValues(m, "Message-ID")
			require.Len(t, ids, 1, "a message of the file without one Message-ID: %.200q", m)
			inFile[ids[0]]++
			if slices.Contains(headerValues(m, "Status"), "RO") {
				readMarks++
				assert.True(t, retrieved[ids[0]], "message %s is marked read but was not retrieved", ids[0])
			}
		}
		for id, n := range inFile {
			assert.Equal(t, 1, n, "message %s is in the file %d times", id, n)
			_, listed := byID[id]
			assert.True(t, listed, "message %s is in the file but was not listed", id)
		}
		assert.Len(t, inFile, len(after))
		keptRetrieved := 0
		for id := range retrieved {
			if _, ok := byID[id]; ok {
				keptRetrieved++
			}
		}
		updated := readMarks > 0 || (len(marked) > 0 && removed == len(marked))
		if updated {
			assert.Equal(t, keptRetrieved, readMarks, "the update marked every message it kept that was retrieved")
			assert.Equal(t, len(marked), removed, "the update with the RO marks removed the deleted messages")
		} else {
			assert.Zero(t, readMarks)
		}
		assert.Equal(t, identity, identityOf(t, spool), "after the recovery")
		assert.Empty(t, leftovers(t, store.dir, "bob"), "no lock or update file is left after the recovery")
		when := fmt.Sprintf("no kill: QUIT answered (the update committed after %v, written %v later)", timing.commit, timing.apply)
		switch {
		case kill.afterCommit:
			when = fmt.Sprintf("kill %v after the update was committed", kill.delay)
		case !kill.never:
			when = fmt.Sprintf("kill %v after QUIT", kill.delay)
		}
		t.Logf("round %d: %s; the spool %s, files left beside it: %q; updated: %v (%d of %d deleted removed, %d RO marks); %d octets delivered after",
			round, when, spoolState, left, updated, removed, len(marked), readMarks, len(late))
		return timing
	}

	for _, tc := range []struct {
		name          string
		retrieve, del func(i int) bool
	}{
		// The spool shrinks: the rewrite cuts it.
		{"delete every 5th, retrieve every 3rd", func(i int) bool { return i%3 == 1 }, func(i int) bool { return i%5 == 0 }},
		// The spool grows ("Status: RO" on every message): the rewrite
		// extends it before it writes.
		{"retrieve all", func(int) bool { return true }, func(int) bool { return false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			timing := run(t, tc.retrieve, tc.del, killAt{never: true})
			// Before the commit (the update file being written), then
			// while the spool is rewritten in place, then after.
			kills := []killAt{{delay: 0}, {delay: timing.commit / 3}, {delay: timing.commit * 2 / 3}}
			for _, f := range []float64{0, 0.2, 0.4, 0.6, 0.8} {
				kills = append(kills, killAt{afterCommit: true, delay: time.Duration(f * float64(timing.apply))})
			}
			kills = append(kills, killAt{delay: (timing.commit + timing.apply) * 13 / 10})
			for _, k := range kills {
				if t.Failed() {
					break
				}
				run(t, tc.retrieve, tc.del, k)
			}
		})
	}
}
