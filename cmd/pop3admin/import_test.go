package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/syncbuf"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/pop3test"
)

// fakeTarget is a destination store in memory.
type fakeTarget struct {
	mu    sync.Mutex
	boxes map[string][]fakeMessage
	fail  map[string]error // Import of this unique-id fails, after reading the message
	// appear makes a message show this unique-id, with this content, as
	// Import of it begins: another run, or a delivery, got there first.
	appear map[string][]byte
}

type fakeMessage struct {
	uidl string
	data []byte
}

var errFakeExists = errors.New("fake: the maildrop shows that unique-id")

func newFakeTarget(users ...string) *fakeTarget {
	f := &fakeTarget{boxes: map[string][]fakeMessage{}, fail: map[string]error{}, appear: map[string][]byte{}}
	for _, u := range users {
		f.boxes[u] = nil
	}
	return f
}

func (f *fakeTarget) Listing(_ context.Context, username string) ([]pop3.MessageInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	box, ok := f.boxes[passwd.NormalizeUsername(username)]
	if !ok {
		return nil, fmt.Errorf("fake: %w: %q", pop3.ErrNoSuchUser, username)
	}
	var infos []pop3.MessageInfo
	for _, m := range box {
		size, err := pop3.CRLFSize(bytes.NewReader(m.data))
		if err != nil {
			return nil, err
		}
		infos = append(infos, pop3.MessageInfo{UID: m.uidl, Size: size})
	}
	return infos, nil
}

func (f *fakeTarget) Import(_ context.Context, username, uidl string, msg io.Reader) error {
	data, err := io.ReadAll(msg)
	if err != nil {
		return err // nothing stored
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	name := passwd.NormalizeUsername(username)
	box, ok := f.boxes[name]
	if !ok {
		return fmt.Errorf("fake: %w: %q", pop3.ErrNoSuchUser, username)
	}
	if err := f.fail[uidl]; err != nil {
		return err
	}
	if data, ok := f.appear[uidl]; ok {
		delete(f.appear, uidl)
		box = append(box, fakeMessage{uidl, data})
		f.boxes[name] = box
	}
	for _, m := range box {
		if m.uidl == uidl {
			return errFakeExists
		}
	}
	f.boxes[name] = append(box, fakeMessage{uidl, data})
	return nil
}

func (f *fakeTarget) messages(user string) []fakeMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeMessage(nil), f.boxes[user]...)
}

// put adds a message under a unique-id, as a delivery to the store (whose
// unique-id the store computes) or an earlier import would.
func (f *fakeTarget) put(user, uidl string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.boxes[user] = append(f.boxes[user], fakeMessage{uidl, data})
}

// remove deletes a message, as its user would through pop3d.
func (f *fakeTarget) remove(user, uidl string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	box := f.boxes[user]
	for i, m := range box {
		if m.uidl == uidl {
			f.boxes[user] = append(box[:i:i], box[i+1:]...)
			return
		}
	}
}

// testImporter copies from the server at addr into target, with its
// journals in a directory of the test's.
type testImporter struct {
	*importer
	out *syncbuf.Buffer
}

func newTestImporter(t *testing.T, addr string, target importTarget) *testImporter {
	out := &syncbuf.Buffer{}
	return &testImporter{&importer{
		source:   *cleartextConfig(addr),
		dest:     &importDest{target: target, exists: errFakeExists, into: "fake", close: func() {}},
		journals: t.TempDir(),
		parallel: 2,
		out:      out,
	}, out}
}

// runOnce runs the import and returns its output, resetting it for the next.
func (ti *testImporter) runOnce(t *testing.T, accounts ...importAccount) (string, error) {
	t.Helper()
	err := ti.run(context.Background(), accounts)
	out := ti.out.String()
	ti.out = &syncbuf.Buffer{}
	ti.importer.out = ti.out
	return out, err
}

// sourceWith serves a memory backend whose users have the password
// "USER-pw" and these messages.
func sourceWith(t *testing.T, mail map[string][]string, opts ...pop3test.Option) (*memory.Backend, *pop3test.Server) {
	t.Helper()
	be := memory.New()
	for user, msgs := range mail {
		require.NoError(t, be.AddUser(user, user+"-pw")) // a nil list too
		for _, m := range msgs {
			_, err := be.AppendMessage(user, []byte(m))
			require.NoError(t, err)
		}
	}
	return be, pop3test.NewServer(t, be, opts...)
}

func account(name string) importAccount { return importAccount{name: name, password: name + "-pw"} }

// sameMail checks that the destination holds the source's messages, in
// order, each under its unique-id and byte for byte.
func sameMail(t *testing.T, be *memory.Backend, target *fakeTarget, user string) {
	t.Helper()
	src, err := be.Messages(user)
	require.NoError(t, err)
	sameMessages(t, src, target, user)
}

func sameMessages(t *testing.T, src []memory.Message, target *fakeTarget, user string) {
	t.Helper()
	got := target.messages(user)
	require.Len(t, got, len(src), user)
	for i, m := range src {
		assert.Equal(t, m.UID, got[i].uidl, "%s message %d keeps its unique-id", user, i+1)
		assert.Equal(t, string(m.Data), string(got[i].data), "%s message %d", user, i+1)
	}
}

// userLine matches the progress line of a user that succeeded.
func userLine(user string, onSource, copied, already, deleted int) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`(?m)^%s: %d on the source, %d copied, %d already copied, %d deleted \([0-9.]+ k?B in [0-9.]+s\)$`,
		regexp.QuoteMeta(user), onSource, copied, already, deleted))
}

// awkward messages: stuffed dots, an end-line look-alike, no final line
// end, bare LF and CR, a line longer than the client's buffer, 8-bit.
var awkward = []string{
	"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\n. \r\nlast\r\n",
	"Subject: no end\n\nthe last line has no line end",
	"Subject: bare\n\nlf\nand\rcr\r\n",
	"Subject: long\r\n\r\n" + strings.Repeat("0123456789", 1000) + "\r\n." + strings.Repeat("x", 5000) + "\r\n",
	"Subject: =?UTF-8?Q?=C3=BC?=\r\n\r\nÜber\x00nul\r\n",
	"",
}

func TestImport(t *testing.T) {
	be, srv := sourceWith(t, map[string][]string{
		"alice": awkward,
		"bob":   {"Subject: b1\n\none\n", "Subject: b2\n\ntwo\n"},
		"carol": nil,
	})
	target := newFakeTarget("alice", "bob", "carol")
	ti := newTestImporter(t, srv.Addr, target)
	accounts := []importAccount{account("alice"), account("bob"), account("carol")}

	out, err := ti.runOnce(t, accounts...)
	require.NoError(t, err, out)
	assert.Regexp(t, userLine("alice", len(awkward), len(awkward), 0, 0), out)
	assert.Regexp(t, userLine("bob", 2, 2, 0, 0), out)
	assert.Regexp(t, userLine("carol", 0, 0, 0, 0), out)
	assert.Regexp(t, `(?m)^import: 3 users, 3 done, 0 failed; 8 messages copied, 0 already copied, 0 deleted, 0 skipped, 0 in conflict \(.* in .*s\)$`, out)
	for _, u := range []string{"alice", "bob", "carol"} {
		sameMail(t, be, target, u)
	}

	// A second run copies nothing.
	out, err = ti.runOnce(t, accounts...)
	require.NoError(t, err, out)
	assert.Regexp(t, userLine("alice", len(awkward), 0, len(awkward), 0), out)
	assert.Regexp(t, userLine("bob", 2, 0, 2, 0), out)

	// A message that arrived since is the only one copied.
	_, err = be.AppendMessage("bob", []byte("Subject: b3\n\nthree\n"))
	require.NoError(t, err)
	out, err = ti.runOnce(t, accounts...)
	require.NoError(t, err, out)
	assert.Regexp(t, userLine("bob", 3, 1, 2, 0), out)
	sameMail(t, be, target, "bob")

	// A message its user deleted from the destination does not come
	// back: the journal remembers it.
	src, err := be.Messages("bob")
	require.NoError(t, err)
	target.remove("bob", src[0].UID)
	out, err = ti.runOnce(t, accounts...)
	require.NoError(t, err, out)
	assert.Regexp(t, userLine("bob", 3, 0, 3, 0), out)
	assert.Len(t, target.messages("bob"), 2)

	// Without the journals (a crash between the store's commit and the
	// journal's line), the destination's unique-ids tell what is there.
	ti.journals = t.TempDir()
	out, err = ti.runOnce(t, account("alice"))
	require.NoError(t, err, out)
	assert.Regexp(t, userLine("alice", len(awkward), 0, len(awkward), 0), out)
	sameMail(t, be, target, "alice")

	left, err := be.Messages("alice")
	require.NoError(t, err)
	assert.Equal(t, len(awkward), len(left), "the source is left untouched")
}

// -delete deletes from the source what the destination holds, and nothing
// of a user whose copy failed.
func TestImportDelete(t *testing.T) {
	be, srv := sourceWith(t, map[string][]string{
		"alice": {"Subject: a1\n\n1\n", "Subject: a2\n\n2\n", "Subject: a3\n\n3\n"},
		"bob":   {"Subject: b1\n\n1\n", "Subject: b2\n\n2\n"},
	})
	alice, err := be.Messages("alice")
	require.NoError(t, err)
	target := newFakeTarget("alice", "bob")
	target.fail[alice[1].UID] = errors.New("disk full")
	ti := newTestImporter(t, srv.Addr, target)
	ti.delete = true

	out, err := ti.runOnce(t, account("alice"), account("bob"))
	require.Error(t, err)
	assert.Equal(t, "import: 1 of 2 users failed: alice", err.Error())
	assert.Contains(t, out, "alice: FAILED: importing message 2 (unique-id \""+alice[1].UID+"\"): disk full; 3 on the source, 1 copied, 0 already copied, 0 deleted")
	assert.Contains(t, out, "failed: alice: importing message 2")
	assert.Regexp(t, userLine("bob", 2, 2, 0, 2), out)
	left, err := be.Messages("alice")
	require.NoError(t, err)
	assert.True(t, equalMessages(alice, left), "nothing deleted when a copy failed")
	left, err = be.Messages("bob")
	require.NoError(t, err)
	assert.Zero(t, len(left))
	assert.Len(t, target.messages("bob"), 2)

	// Once the destination takes it, the rerun copies the rest and
	// deletes all three, the one copied before included.
	delete(target.fail, alice[1].UID)
	out, err = ti.runOnce(t, account("alice"))
	require.NoError(t, err, out)
	assert.Regexp(t, userLine("alice", 3, 2, 1, 3), out)
	left, err = be.Messages("alice")
	require.NoError(t, err)
	assert.Zero(t, len(left))
	assert.Len(t, target.messages("alice"), 3)
}

// A source that breaks off in the middle of a message: nothing of it is
// stored, the user fails, nothing is deleted, and the rerun completes.
func TestImportSourceFails(t *testing.T) {
	be := memory.New()
	require.NoError(t, be.AddUser("alice", "alice-pw"))
	for i := range 3 {
		_, err := be.AppendMessage("alice", []byte(fmt.Sprintf("Subject: %d\n\n%s\n", i, strings.Repeat("body ", 1000))))
		require.NoError(t, err)
	}
	fb := pop3test.NewFaultBackend(be, pop3test.Fault{Op: pop3test.OpRead, Call: 2, After: 100, Err: io.ErrUnexpectedEOF})
	srv := pop3test.NewServer(t, fb.Backend())
	target := newFakeTarget("alice")
	ti := newTestImporter(t, srv.Addr, target)
	ti.delete = true
	src, err := be.Messages("alice")
	require.NoError(t, err)
	out, err := ti.runOnce(t, account("alice"))
	require.Error(t, err)
	assert.Contains(t, out, "alice: FAILED: retrieving message 2 from the source: the message ended before its end line: unexpected EOF; 3 on the source, 1 copied,")
	assert.Len(t, target.messages("alice"), 1)
	left, err := be.Messages("alice")
	require.NoError(t, err)
	assert.Equal(t, 3, len(left))

	out, err = ti.runOnce(t, account("alice"))
	require.NoError(t, err, out)
	assert.Regexp(t, userLine("alice", 3, 2, 1, 3), out)
	sameMessages(t, src, target, "alice")
	left, err = be.Messages("alice")
	require.NoError(t, err)
	assert.Zero(t, len(left))
}

// A wrong password fails that user, and the others are copied.
func TestImportWrongPassword(t *testing.T) {
	_, srv := sourceWith(t, map[string][]string{"alice": {"a\n"}, "bob": {"b\n"}, "carol": {"c\n"}})
	target := newFakeTarget("alice", "bob", "carol")
	ti := newTestImporter(t, srv.Addr, target)
	out, err := ti.runOnce(t, account("alice"), importAccount{name: "bob", password: "not bob's"}, account("carol"))
	require.Error(t, err)
	assert.Equal(t, "import: 1 of 3 users failed: bob", err.Error())
	assert.Contains(t, out, `bob: FAILED: logging in to the source as "bob": PASS: -ERR [AUTH]`)
	assert.NotContains(t, out, "not bob's")
	assert.Regexp(t, userLine("alice", 1, 1, 0, 0), out)
	assert.Regexp(t, userLine("carol", 1, 1, 0, 0), out)
	assert.Contains(t, out, "import: 3 users, 2 done, 1 failed;")
}

// A user the destination does not have fails before the source is asked.
func TestImportNoSuchUser(t *testing.T) {
	_, srv := sourceWith(t, map[string][]string{"dave": {"d\n"}})
	ti := newTestImporter(t, srv.Addr, newFakeTarget())
	out, err := ti.runOnce(t, account("dave"))
	require.Error(t, err)
	assert.Contains(t, out, "dave: FAILED: no such user in the destination (add the user first)")
}

// Unique-ids that RFC 1939 forbids, or that two messages share, are
// reported and skipped: the user fails, and with -delete only the messages
// copied are deleted; the skipped ones stay on the source.
func TestImportBadUIDLs(t *testing.T) {
	s := newScriptServer(t, &scriptServer{capa: []string{"USER", "UIDL"}, user: "alice", pass: "alice-pw", msgs: []scriptMessage{
		{"good-1", "Subject: 1\r\n\r\none\r\n"},
		{"has space", "Subject: 2\r\n\r\ntwo\r\n"},
		{"", "Subject: 3\r\n\r\nthree\r\n"},
		{"twin", "Subject: 4\r\n\r\nfour\r\n"},
		{strings.Repeat("L", 71), "Subject: 5\r\n\r\nfive\r\n"},
		{"twin", "Subject: 6\r\n\r\nsix\r\n"},
		{"good-2", "Subject: 7\r\n\r\n.seven\r\n"},
	}})
	target := newFakeTarget("alice")
	ti := newTestImporter(t, s.addr, target)
	ti.delete = true
	out, err := ti.runOnce(t, account("alice"))
	require.Error(t, err)
	for _, want := range []string{
		`alice: message 2 skipped: its unique-id "has space" breaks RFC 1939 §7`,
		`alice: message 3 skipped: its unique-id "" breaks RFC 1939 §7`,
		`alice: messages 4, 6 skipped: they share the unique-id "twin"`,
		`alice: message 5 skipped: its unique-id "LLLL`,
		`alice: FAILED: 5 messages skipped for their unique-ids (listed above); they are still on the source; 7 on the source, 2 copied, 0 already copied, 2 deleted, 5 skipped (`,
	} {
		assert.Contains(t, out, want)
	}
	assert.Equal(t, []fakeMessage{{"good-1", []byte("Subject: 1\r\n\r\none\r\n")}, {"good-2", []byte("Subject: 7\r\n\r\n.seven\r\n")}}, target.messages("alice"))
	assert.ElementsMatch(t, []int{1, 7}, s.deleted)
	got := s.got()
	assert.Equal(t, []string{"DELE 1", "DELE 7", "QUIT"}, got[len(got)-3:], "the session ends cleanly")
}

// journaled reads the unique-ids of the user's journal, after its header.
func journaled(t *testing.T, dir, user string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, journalFileName(user)))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	require.True(t, strings.HasPrefix(lines[0], journalMagic), "%q", lines[0])
	return lines[1:]
}

func crlfSize(t *testing.T, data []byte) int {
	t.Helper()
	n, err := pop3.CRLFSize(bytes.NewReader(data))
	require.NoError(t, err)
	return int(n)
}

// conflictLine is the report of a message left on the source because the
// destination shows its unique-id on a message of another size.
func conflictLine(user string, num int, uidl string, destSize, srcSize int) string {
	return fmt.Sprintf("%s: message %d: the destination has another message under unique-id %q (%d octets, the source's has %d): not copied, left on the source\n",
		user, num, uidl, destSize, srcSize)
}

// A unique-id the destination shows is the source's message only when the
// sizes agree. Another message under it (one the store numbered itself,
// before the run or during it) is a conflict: not copied, not journaled,
// not deleted with -delete, and the user fails; the other messages are
// copied and deleted. The same unique-id and size (an import cut short
// before its journal line, or another run meanwhile) counts as copied.
func TestImportUIDLConflict(t *testing.T) {
	msgs := []scriptMessage{
		{"1", "Subject: 1\r\n\r\nthe source's first\r\n"},
		{"2", "Subject: 2\r\n\r\nleft over by a killed run\r\n"},
		{"3", "Subject: 3\r\n\r\nimported meanwhile by another run\r\n"},
		{"4", "Subject: 4\r\n\r\nits unique-id taken meanwhile\r\n"},
		{"5", "Subject: 5\r\n\r\nnew\r\n"},
	}
	s := newScriptServer(t, &scriptServer{capa: []string{"USER", "UIDL"}, user: "alice", pass: "alice-pw", msgs: msgs})
	local := []byte("Subject: delivered to the destination\n\nwhose unique-id is 1\n")
	other := []byte("Subject: another\n\ndelivered while the import ran\n")
	target := newFakeTarget("alice")
	target.put("alice", "1", local)
	target.put("alice", "2", []byte(msgs[1].data))
	target.appear["3"] = []byte(msgs[2].data)
	target.appear["4"] = other
	ti := newTestImporter(t, s.addr, target)
	ti.delete = true

	out, err := ti.runOnce(t, account("alice"))
	require.Error(t, err)
	assert.Equal(t, "import: 1 of 1 users failed: alice", err.Error())
	assert.Contains(t, out, conflictLine("alice", 1, "1", crlfSize(t, local), len(msgs[0].data)))
	assert.Contains(t, out, conflictLine("alice", 4, "4", crlfSize(t, other), len(msgs[3].data)))
	assert.Contains(t, out, "alice: FAILED: 2 messages not copied: the destination has other messages under their unique-ids (listed above); they are still on the source; "+
		"5 on the source, 1 copied, 2 already copied, 3 deleted, 2 in conflict (")
	assert.Regexp(t, `(?m)^import: 1 users, 0 done, 1 failed; 1 messages copied, 2 already copied, 3 deleted, 0 skipped, 2 in conflict \(`, out)
	assert.Equal(t, []fakeMessage{
		{"1", local}, {"2", []byte(msgs[1].data)}, {"3", []byte(msgs[2].data)}, {"4", other}, {"5", []byte(msgs[4].data)},
	}, target.messages("alice"))
	assert.Equal(t, []string{"2", "3", "5"}, journaled(t, ti.journals, "alice"))
	assert.ElementsMatch(t, []int{2, 3, 5}, s.deleted, "the conflicts stay on the source")

	// A rerun finds the same conflicts: they were not journaled.
	s.deleted = nil
	out, err = ti.runOnce(t, account("alice"))
	require.Error(t, err)
	assert.Contains(t, out, conflictLine("alice", 1, "1", crlfSize(t, local), len(msgs[0].data)))
	assert.Contains(t, out, conflictLine("alice", 4, "4", crlfSize(t, other), len(msgs[3].data)))
	assert.Contains(t, out, "5 on the source, 0 copied, 3 already copied, 3 deleted, 2 in conflict (")
	assert.ElementsMatch(t, []int{2, 3, 5}, s.deleted)
	assert.Len(t, target.messages("alice"), 5)
}

// A source whose LIST sizes are not what it serves (LF sizes, or no CRLF
// counted after a last line without one): the message is retrieved and
// its size with CRLF line ends, what a store holds of it, decides.
func TestImportListSizeDiffers(t *testing.T) {
	msgs := []scriptMessage{
		{"a", "Subject: a\r\n\r\nthe same message\r\n"},
		{"b", "Subject: b\r\n\r\nanother one\r\n"},
	}
	s := newScriptServer(t, &scriptServer{capa: []string{"USER", "UIDL"}, user: "alice", pass: "alice-pw", msgs: msgs,
		listSizes: map[int]int64{1: int64(len(msgs[0].data) - 3), 2: int64(len(msgs[1].data) - 3)}})
	target := newFakeTarget("alice")
	target.put("alice", "a", []byte(msgs[0].data))
	target.put("alice", "b", []byte("Subject: b\r\n\r\nnot the source's\r\n"))
	ti := newTestImporter(t, s.addr, target)
	ti.delete = true
	out, err := ti.runOnce(t, account("alice"))
	require.Error(t, err)
	assert.Contains(t, out, conflictLine("alice", 2, "b", len("Subject: b\r\n\r\nnot the source's\r\n"), len(msgs[1].data)-3))
	assert.Contains(t, out, "2 on the source, 0 copied, 1 already copied, 1 deleted, 1 in conflict (")
	assert.Equal(t, []int{1}, s.deleted)
	assert.Subset(t, s.got(), []string{"LIST", "RETR 1", "RETR 2", "DELE 1"})
	assert.Equal(t, []string{"a"}, journaled(t, ti.journals, "alice"))
	assert.Len(t, target.messages("alice"), 2)
}

// A message that UIDL lists and LIST does not: the server contradicts
// itself, and nothing of the user is copied or deleted.
func TestImportListMissesMessage(t *testing.T) {
	s := newScriptServer(t, &scriptServer{capa: []string{"USER", "UIDL"}, user: "alice", pass: "alice-pw",
		msgs:      []scriptMessage{{"a", "Subject: a\r\n\r\na\r\n"}, {"b", "Subject: b\r\n\r\nb\r\n"}},
		listSizes: map[int]int64{2: -1}})
	target := newFakeTarget("alice")
	ti := newTestImporter(t, s.addr, target)
	ti.delete = true
	out, err := ti.runOnce(t, account("alice"))
	require.Error(t, err)
	assert.Contains(t, out, "alice: FAILED: listing the source's sizes: the server broke the POP3 protocol: UIDL lists message 2 and LIST does not; 2 on the source, 0 copied")
	assert.Empty(t, target.messages("alice"))
	assert.Empty(t, s.deleted)
	assert.Equal(t, "QUIT", s.got()[len(s.got())-1])
}

// A DELE refused ends the session without QUIT: the server deletes
// nothing, not even the messages marked before.
func TestImportDeleRefused(t *testing.T) {
	s := newScriptServer(t, &scriptServer{capa: []string{"USER", "UIDL"}, user: "alice", pass: "alice-pw", refuseDele: 2, msgs: []scriptMessage{
		{"m1", "Subject: 1\r\n\r\none\r\n"}, {"m2", "Subject: 2\r\n\r\ntwo\r\n"}, {"m3", "Subject: 3\r\n\r\nthree\r\n"},
	}})
	target := newFakeTarget("alice")
	ti := newTestImporter(t, s.addr, target)
	ti.delete = true
	out, err := ti.runOnce(t, account("alice"))
	require.Error(t, err)
	assert.Contains(t, out, "alice: FAILED: deleting from the source (nothing was deleted): DELE 2: -ERR [SYS/TEMP] cannot; 3 on the source, 3 copied")
	got := s.got()
	assert.Equal(t, []string{"DELE 1", "DELE 2"}, got[len(got)-2:], "no QUIT after the refusal")
	require.Eventually(t, func() bool { // the server sees the connection close
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.closed
	}, 10*time.Second, time.Millisecond)
	assert.Empty(t, s.deleted)
	assert.Len(t, target.messages("alice"), 3)
}

// Many users at once, each copied whole.
func TestImportParallel(t *testing.T) {
	mail := map[string][]string{}
	var accounts []importAccount
	var users []string
	for i := range 12 {
		u := fmt.Sprintf("user%02d", i)
		mail[u] = []string{}
		for j := range i {
			mail[u] = append(mail[u], fmt.Sprintf("Subject: %s %d\n\nbody\n", u, j))
		}
		accounts = append(accounts, account(u))
		users = append(users, u)
	}
	be, srv := sourceWith(t, mail)
	target := newFakeTarget(users...)
	ti := newTestImporter(t, srv.Addr, target)
	ti.parallel = 5
	out, err := ti.runOnce(t, accounts...)
	require.NoError(t, err, out)
	for _, u := range users {
		sameMail(t, be, target, u)
	}
	assert.Contains(t, out, "import: 12 users, 12 done, 0 failed; 66 messages copied")
}

// An interrupt stops the users being copied, without QUIT, and starts no
// other.
func TestImportInterrupted(t *testing.T) {
	be := memory.New()
	require.NoError(t, be.AddUser("alice", "alice-pw"))
	require.NoError(t, be.AddUser("bob", "bob-pw"))
	for range 3 {
		_, err := be.AppendMessage("alice", []byte("x\n"))
		require.NoError(t, err)
	}
	block := make(chan struct{})
	fb := pop3test.NewFaultBackend(be, pop3test.Fault{Op: pop3test.OpMessage, Call: 2, Block: block})
	srv := pop3test.NewServer(t, fb.Backend())
	defer close(block)
	target := newFakeTarget("alice", "bob")
	ti := newTestImporter(t, srv.Addr, target)
	ti.parallel = 1
	ti.delete = true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- ti.run(ctx, []importAccount{account("alice"), account("bob")}) }()
	require.Eventually(t, func() bool { return fb.Calls(pop3test.OpMessage) >= 2 }, 10*time.Second, time.Millisecond)
	cancel()
	err := <-done
	require.Error(t, err)
	out := ti.out.String()
	assert.Contains(t, out, "alice: FAILED: interrupted")
	assert.Contains(t, out, "not started (interrupted): 1 users")
	assert.Equal(t, "import: 2 of 2 users failed: alice, bob", err.Error())
	left, err := be.Messages("alice")
	require.NoError(t, err)
	assert.Equal(t, 3, len(left))
	assert.Len(t, target.messages("alice"), 1)
}

func TestReadImportUsers(t *testing.T) {
	dir := t.TempDir()
	write := func(content string) string {
		p := filepath.Join(dir, fmt.Sprintf("users%d", len(content)))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	var stderr bytes.Buffer
	got, err := readImportUsers(write("# users\n\nalice:pw:with:colons\r\n  bob :  spaced pw \n\t# indented comment\n"), false, &stderr)
	require.NoError(t, err)
	assert.Equal(t, []importAccount{{"alice", "pw:with:colons"}, {"bob", "  spaced pw "}}, got)
	assert.Empty(t, stderr.String())

	got, err = readImportUsers(write("alice\nbob\n"), true, &stderr)
	require.NoError(t, err)
	assert.Equal(t, []importAccount{{"alice", ""}, {"bob", ""}}, got)

	for _, tc := range []struct {
		content string
		master  bool
		msg     string
	}{
		{"alice\n", false, ":1: not user:password"},
		{"alice:secret1\nbob:\n", false, `:2: the password of "bob" is empty`},
		{":secret2\n", false, ":1: no valid user name"},
		{"al ice:secret3\n", false, ":1: no valid user name"},
		{"alice:sec\x01ret4\n", false, `:1: the password of "alice" holds a control character`},
		{"alice:secret5\n", true, ":1: with -master, the file lists user names, without passwords"},
	} {
		_, err := readImportUsers(write(tc.content), tc.master, &stderr)
		var ue *usageError
		require.ErrorAs(t, err, &ue, "%q", tc.content)
		assert.Contains(t, err.Error(), tc.msg)
		assert.NotContains(t, err.Error(), "secret")
	}

	p := write("alice:pw\n")
	require.NoError(t, os.Chmod(p, 0o644))
	_, err = readImportUsers(p, false, &stderr)
	require.NoError(t, err)
	assert.Contains(t, stderr.String(), "holds passwords and every local user can read it")
}

func TestImportUsage(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	require.NoError(t, os.WriteFile(users, []byte("alice:pw\nALICE:pw2\n"), 0o600))
	one := filepath.Join(dir, "one")
	require.NoError(t, os.WriteFile(one, []byte("alice:pw\n"), 0o600))
	pw := filepath.Join(dir, "passwd")
	require.NoError(t, os.WriteFile(pw, []byte("alice:{PLAIN}x\n"), 0o600))
	notPEM := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600))
	md := filepath.Join(dir, "%u")
	from := "pop3s://127.0.0.1:1"
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no -from", []string{"-users", one, "-maildir", md, "-passwd", pw}, 2, "give the source server"},
		{"bad -from", []string{"-from", "imaps://host", "-users", one, "-maildir", md, "-passwd", pw}, 2, "give pop3s://HOST[:PORT]"},
		{"-from without scheme", []string{"-from", "host:995", "-users", one, "-maildir", md, "-passwd", pw}, 2, "-from"},
		{"no users", []string{"-from", from, "-maildir", md, "-passwd", pw}, 2, "give the users"},
		{"missing users file", []string{"-from", from, "-users", filepath.Join(dir, "nope"), "-maildir", md, "-passwd", pw}, 1, "nope: no such file"},
		{"a user twice", []string{"-from", from, "-users", users, "-maildir", md, "-passwd", pw}, 2, `the user "alice" is listed twice`},
		{"names without -master", []string{"-from", from, "-users", one, "-maildir", md, "-passwd", pw, "bob"}, 2, "never from the command line"},
		{"-master without names", []string{"-from", from, "-master", "admin", "-maildir", md, "-passwd", pw}, 2, "-master needs the user names"},
		{"no destination", []string{"-from", from, "-users", one}, 2, "give the destination"},
		{"two destinations", []string{"-from", from, "-users", one, "-maildir", md, "-passwd", pw, "-postgres", "postgres://x@127.0.0.1:1/db"}, 2, "two destinations"},
		{"two destinations, -postgres first", []string{"-postgres", "postgres://x@127.0.0.1:1/db", "import", "-from", from, "-users", one, "-maildir", md, "-passwd", pw}, 2, "two destinations"},
		{"-maildir without users", []string{"-from", from, "-users", one, "-maildir", md}, 2, "-maildir needs its users"},
		{"-passwd without -maildir", []string{"-from", from, "-users", one, "-passwd", pw}, 2, "which is missing"},
		{"-parallel 0", []string{"-from", from, "-users", one, "-maildir", md, "-passwd", pw, "-parallel", "0"}, 2, "-parallel must be 1 to 64"},
		{"-parallel 1000", []string{"-from", from, "-users", one, "-maildir", md, "-passwd", pw, "-parallel", "1000"}, 2, "-parallel must be 1 to 64"},
		{"-timeout 0", []string{"-from", from, "-users", one, "-maildir", md, "-passwd", pw, "-timeout", "0s"}, 2, "-timeout"},
		{"-ca and skip", []string{"-from", from, "-users", one, "-maildir", md, "-passwd", pw, "-ca", notPEM, "-insecure-skip-verify"}, 2, "not both"},
		{"-ca not PEM", []string{"-from", from, "-users", one, "-maildir", md, "-passwd", pw, "-ca", notPEM}, 2, "no PEM certificate"},
		{"-master with *", []string{"-from", from, "-master", "a*b", "-maildir", md, "-passwd", pw, "alice"}, 2, "not a user name"},
		{"user with * and -master", []string{"-from", from, "-master", "admin", "-maildir", md, "-passwd", pw, "al*ice"}, 2, `"al*ice" holds the master separator`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(dsnEnv, "")
			args := tc.args
			if args[0] != "-postgres" {
				args = append([]string{"import"}, args...)
			}
			r := runAdmin(t, "master pw\n", append(args, "-state", dir)...)
			assert.Equal(t, tc.code, r.code, r.stderr)
			assert.Contains(t, r.stderr, tc.msg)
			assert.Empty(t, r.stdout)
			assert.NotContains(t, r.stderr, "pw2")
		})
	}
	r := runAdmin(t, "", "import", "-h")
	require.Equal(t, 0, r.code)
	for _, want := range []string{"not migrate's schema upgrade", "-from URL", "-users FILE", "-master NAME", "-state DIR", "~/.local/state/pop3admin/import", "-delete", "-parallel N", "-ca FILE", "-insecure-skip-verify", "-insecure", "-timeout DURATION"} {
		assert.Contains(t, r.stdout, want)
	}
	r = runAdmin(t, "", "help")
	assert.Contains(t, r.stdout, "import -from URL")
}

func TestImportStateDir(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/var/lib/state")
	d, err := importStateDir("")
	require.NoError(t, err)
	assert.Equal(t, "/var/lib/state/pop3admin/import", d)
	t.Setenv("XDG_STATE_HOME", "relative") // ignored, as the XDG spec says
	t.Setenv("HOME", "/home/op")
	d, err = importStateDir("")
	require.NoError(t, err)
	assert.Equal(t, "/home/op/.local/state/pop3admin/import", d)
	d, err = importStateDir("/srv/journals")
	require.NoError(t, err)
	assert.Equal(t, "/srv/journals", d)
}

func TestFormatOctets(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 3_240_000: "3.2 MB", 5_500_000_000: "5.5 GB", 7e12: "7.0 TB", 8e15: "8000.0 TB"} {
		assert.Equal(t, want, formatOctets(n))
	}
}

// equalMessages compares without printing whole messages on failure.
func equalMessages(a, b []memory.Message) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].UID != b[i].UID || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}
