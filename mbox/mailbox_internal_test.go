package mbox

// What a session must survive: other programs rewriting the spool, crashes,
// updates that fail, connections cut in the middle of RETR, symbolic links.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/passwd"
)

// newTestBackend serves alice and bob, password pw, their spools at
// root/USER.
func newTestBackend(t *testing.T, opts ...Option) (b *Backend, root string) {
	t.Helper()
	root = t.TempDir()
	pw := filepath.Join(t.TempDir(), "passwd")
	require.NoError(t, os.WriteFile(pw, []byte("alice:{PLAIN}pw::::::\nbob:{PLAIN}pw::::::\n"), 0o600))
	users, err := passwd.OpenFile(pw, nil)
	require.NoError(t, err)
	opts = append([]Option{WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	b, err = New(filepath.Join(root, "%u"), users, opts...)
	require.NoError(t, err)
	return b, root
}

// openTestMailbox opens the maildrop of the spool at path.
func openTestMailbox(t *testing.T, b *Backend, name, path string) (*mailbox, error) {
	t.Helper()
	u := &user{backend: b, name: name, path: path}
	mb, err := u.Open(context.Background())
	if err != nil {
		return nil, err
	}
	return mb.(*mailbox), nil
}

// showMessage returns message i as TOP shows it whole, without marking it
// retrieved.
func showMessage(t *testing.T, m *mailbox, i int) (string, error) {
	t.Helper()
	r, err := m.Top(context.Background(), i, 1<<30)
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return string(b), err
}

// subjectsByUID maps each unique-id of m to its message's Subject.
func subjectsByUID(t *testing.T, m *mailbox) map[string]string {
	t.Helper()
	out := make(map[string]string)
	for i, info := range m.Messages() {
		msg, err := showMessage(t, m, i)
		require.NoError(t, err)
		_, after, _ := strings.Cut(msg, "Subject: ")
		subject, _, _ := strings.Cut(after, "\r\n")
		out[info.UID] = subject
	}
	return out
}

func numberedFromLine(n int) string {
	return fmt.Sprintf("From sender%d@example.org Sun Dec  6 19:22:%02d 2026\n", n, n)
}

// The UIDs given to messages without an X-UID are written into the spool
// before they are listed: when the session's own update never happens
// (here a mail reader rewrote the spool during the session; equally a
// lock timeout, ENOSPC or a kill -9), the next session does not give the
// same UIDs, and so the same unique-ids, to other messages, which a client
// that keeps its mail on the server would never download.
func TestUIDsWrittenBeforeListing(t *testing.T) {
	b, root := newTestBackend(t)
	path := filepath.Join(root, "alice")
	known := numberedFromLine(1) + "X-IMAPbase: 1700000000 0000000002\nX-UID: 1\nSubject: A\n\na\n\n" +
		numberedFromLine(2) + "X-UID: 2\nSubject: B\n\nb\n\n"
	d := numberedFromLine(3) + "Subject: D\n\nd\n\n"
	e := numberedFromLine(4) + "Subject: E\n\ne\n\n"
	require.NoError(t, os.WriteFile(path, []byte(known+d+e), 0o660))

	m, err := openTestMailbox(t, b, "alice", path)
	require.NoError(t, err)
	first := subjectsByUID(t, m) // the client downloads all four, keeps them on the server
	// The user removes D with a mail reader meanwhile (an in-place rewrite
	// of the spool as it is now).
	now, err := os.ReadFile(path)
	require.NoError(t, err)
	start := strings.Index(string(now), numberedFromLine(3))
	end := strings.Index(string(now), numberedFromLine(4))
	require.True(t, start > 0 && end > start, "%q", now)
	require.NoError(t, os.WriteFile(path, append(now[:start:start], now[end:]...), 0o660))
	require.NoError(t, m.Close()) // its update finds the spool changed: nothing written

	require.NoError(t, b.Deliver(context.Background(), "alice", strings.NewReader("Subject: F\n\nnew mail\n")))
	m, err = openTestMailbox(t, b, "alice", path)
	require.NoError(t, err)
	defer m.Close()
	for uid, subject := range subjectsByUID(t, m) {
		if was, ok := first[uid]; ok {
			assert.Equal(t, was, subject, "unique-id %s named message %q in the first session and %q now: a client that has it never downloads %q", uid, was, subject, subject)
		}
	}
}

// A spool without X-IMAPbase keeps the UIDVALIDITY its first session
// chose, even when that session's QUIT fails: the unique-ids the client
// saw stay.
func TestUIDLsSurviveFailedQuit(t *testing.T) {
	b, root := newTestBackend(t, WithLockTimeout(200*time.Millisecond))
	path := filepath.Join(root, "alice")
	var spool strings.Builder
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&spool, "%sSubject: %d\n\nbody %d\n\n", numberedFromLine(i), i, i)
	}
	require.NoError(t, os.WriteFile(path, []byte(spool.String()), 0o660))

	m, err := openTestMailbox(t, b, "alice", path)
	require.NoError(t, err)
	first := subjectsByUID(t, m)
	// A mail reader holds the dotlock through QUIT: Delete fails, and QUIT
	// rightly answers -ERR.
	lock := path + ".lock"
	reader := exec.Command("sleep", "60")
	require.NoError(t, reader.Start())
	t.Cleanup(func() { _ = reader.Process.Kill(); _ = reader.Wait() })
	require.NoError(t, os.WriteFile(lock, []byte(fmt.Sprintf("%d:%s\n", reader.Process.Pid, hostname)), 0o600))
	require.Error(t, m.Delete(context.Background(), []int{0}))
	require.NoError(t, os.Remove(lock))
	require.NoError(t, m.Close())

	m, err = openTestMailbox(t, b, "alice", path)
	require.NoError(t, err)
	defer m.Close()
	assert.Equal(t, first, subjectsByUID(t, m), "the same messages, nothing removed: the same unique-ids")
}

// RETR never sends the octets that another program's in-place rewrite put
// where the message was (Dovecot and mutt do not take the session's
// flock): the message's From line must still be where it was, whole, and
// the next one after it.
func TestRetrAfterForeignRewrite(t *testing.T) {
	b, root := newTestBackend(t)
	path := filepath.Join(root, "alice")
	a := numberedFromLine(1) + "Subject: A\n\na\n\n"
	bm := numberedFromLine(2) + "Subject: B\n\n" + strings.Repeat("the second message\n", 5) + "\n"
	c := numberedFromLine(3) + "Subject: C\n\n" + strings.Repeat("the third message, long\n", 20) + "\n"
	require.NoError(t, os.WriteFile(path, []byte(a+bm+c), 0o660))

	m, err := openTestMailbox(t, b, "alice", path)
	require.NoError(t, err)
	defer m.Close()
	want, err := showMessage(t, m, 1)
	require.NoError(t, err)
	// The user deletes A in mutt, which rewrites the spool in place.
	require.NoError(t, os.WriteFile(path, []byte(bm+c), 0o660))

	r, err := m.Message(context.Background(), 1)
	if err != nil {
		return // refused: fine
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return // failed: fine
	}
	assert.Equal(t, want, string(got), "RETR 2 after another program rewrote the spool")
}

// After a crash between an update's commit and its end, another program
// (mutt) may rewrite the spool before pop3d locks it again: recovery then
// keeps as new mail only what starts with a From line, and otherwise
// leaves the spool and the update file alone, with an error, rather than
// glue a fragment of a message to another.
func TestRecoverRefusesForeignRewrite(t *testing.T) {
	b, root := newTestBackend(t)
	path := filepath.Join(root, "alice")
	a := numberedFromLine(1) + "Subject: A\n\na\n\n"
	bm := numberedFromLine(2) + "Subject: B\n\nb\n\n"
	c := numberedFromLine(3) + "Subject: C\n\n" + strings.Repeat("the third message, long\n", 10) + "\n"
	old := a + bm + c
	// The session removed C and marked A and B read: committed, then the
	// process was killed before it touched the spool.
	newContent := numberedFromLine(1) + "Status: RO\nSubject: A\n\na\n\n" + numberedFromLine(2) + "Status: RO\nSubject: B\n\nb\n\n"
	require.NoError(t, os.WriteFile(path, []byte(old), 0o660))
	commitUpdate(t, path, old, newContent)
	// Before pop3d's next session, the user deletes A in mutt.
	mutt := bm + c
	require.NoError(t, os.WriteFile(path, []byte(mutt), 0o660))
	require.GreaterOrEqual(t, len(mutt), len(newContent))
	require.Less(t, len(mutt), len(old))

	m, err := openTestMailbox(t, b, "alice", path)
	if err != nil {
		return // refused, the spool left alone: fine
	}
	m.Close()
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	fragment := mutt[len(newContent):]
	assert.NotContains(t, string(got), fragment, "a piece of message C, without its From line, glued to message B:\n%s", got)
}

// A RETR that ends before the message was read to its end (a dropped
// connection) does not mark it "Status: RO": LAST (pop3.SeenMailbox)
// would count it, and fetchmail without UIDL would skip it for good.
func TestUnfinishedRetrNotMarked(t *testing.T) {
	b, root := newTestBackend(t)
	path := filepath.Join(root, "alice")
	spool := numberedFromLine(1) + "Subject: 1\n\n" + strings.Repeat("a long message\n", 1000) + "\n"
	require.NoError(t, os.WriteFile(path, []byte(spool), 0o660))

	m, err := openTestMailbox(t, b, "alice", path)
	require.NoError(t, err)
	r, err := m.Message(context.Background(), 0) // RETR 1 ...
	require.NoError(t, err)
	_, err = r.Read(make([]byte, 100)) // ... and the connection drops
	require.NoError(t, err)
	r.Close()
	require.NoError(t, m.Close()) // no QUIT

	m, err = openTestMailbox(t, b, "alice", path)
	require.NoError(t, err)
	defer m.Close()
	assert.False(t, m.Seen(0), "LAST would say message 1 was retrieved: the client never gets it")
}

// A spool is never opened through a symbolic link: a user who can write
// the spool's directory (-mbox '%h/mbox') cannot point it at another
// user's spool, nor make a delivery as root create a file elsewhere.
func TestSpoolSymlinkRefused(t *testing.T) {
	root := t.TempDir()
	for _, home := range []string{"alice", "bob"} {
		require.NoError(t, os.Mkdir(filepath.Join(root, home), 0o755))
	}
	pw := filepath.Join(t.TempDir(), "passwd")
	require.NoError(t, os.WriteFile(pw, []byte(fmt.Sprintf("alice:{PLAIN}pw::::%s/alice::\nbob:{PLAIN}pw::::%s/bob::\n", root, root)), 0o600))
	users, err := passwd.OpenFile(pw, nil)
	require.NoError(t, err)
	b, err := New("%h/mbox", users, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	bobs := filepath.Join(root, "bob", "mbox")
	require.NoError(t, os.WriteFile(bobs, []byte(numberedFromLine(1)+"Subject: for bob only\n\nsecret\n\n"), 0o660))
	// Alice, in her own home:
	require.NoError(t, os.Symlink(bobs, filepath.Join(root, "alice", "mbox")))

	u, err := b.Login(context.Background(), nil, "alice", "pw")
	require.NoError(t, err)
	mb, err := u.Open(context.Background())
	if err != nil {
		return // refused: fine
	}
	defer mb.Close()
	assert.Empty(t, mb.Messages(), "alice's maildrop lists bob's mail")
}
