package maildir_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/pop3test"
)

// foreignMessage is message i as another delivery agent (Postfix's local)
// leaves it in cur/: LF line ends, no size in its name. Every tenth one
// has an internationalized header (RFC 6532).
func foreignMessage(i int) (name, content string) {
	subject := "message " + strconv.Itoa(i)
	if i%10 == 0 {
		subject = "сообщение " + strconv.Itoa(i)
	}
	return fmt.Sprintf("%d.V801I%dM%d.elsewhere:2,S", 1700000000+i, i, i),
		fmt.Sprintf("From: sender%d@example.com\nSubject: %s\n\nbody %d\n", i, subject, i)
}

// writeForeign puts n messages of foreignMessage in the Maildir at dir.
func writeForeign(t testing.TB, dir string, n int) {
	t.Helper()
	for _, sub := range []string{"cur", "new", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, sub), 0o700))
	}
	for i := range n {
		name, content := foreignMessage(i)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cur", name), []byte(content), 0o600))
	}
}

// downgradedOf is what DowngradedSize must be for content, stored with LF
// line ends.
func downgradedOf(t testing.TB, content string) int64 {
	crlf := strings.ReplaceAll(content, "\n", "\r\n")
	n, err := pop3.DowngradedSize(strings.NewReader(crlf), int64(len(crlf)))
	require.NoError(t, err)
	return n
}

// restarted is a new backend over the Maildirs under root, as a pop3d
// restarted: nothing of the earlier one's memory. It logs to logs.
func restarted(t testing.TB, root string, logs io.Writer) *maildir.Backend {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(logs, nil))
	pw, err := passwd.OpenFile(filepath.Join(root, "passwd"), logger)
	require.NoError(t, err)
	b, err := maildir.New(filepath.Join(root, "%u", "Maildir"), pw, maildir.WithLogger(logger))
	require.NoError(t, err)
	return b
}

// messagesOf opens bob's maildrop with b and returns its listing.
func messagesOf(t testing.TB, b *maildir.Backend) []pop3.MessageInfo {
	t.Helper()
	ctx := context.Background()
	u, err := b.Login(ctx, nil, "bob", "pw")
	require.NoError(t, err)
	box, err := u.Open(ctx)
	require.NoError(t, err)
	defer box.Close()
	return box.Messages()
}

// The listing gives every message's downgraded size: from the name of a
// file that Deliver wrote, else from reading the header once in the
// message's life. After a restart, LIST opens no message file, and shows
// the same sizes as before.
func TestDowngradedSizeLearntOnce(t *testing.T) {
	b, root, _ := testMaildirs(t, "bob:{PLAIN}pw")
	dir := filepath.Join(root, "bob", "Maildir")
	const n = 200
	writeForeign(t, dir, n)
	delivered := "From: a@example.com\nSubject: Grüße\n\nbody\n"
	require.NoError(t, b.Deliver(context.Background(), "bob", strings.NewReader(delivered)))

	check := func(infos []pop3.MessageInfo) {
		t.Helper()
		require.Len(t, infos, n+1)
		for i, info := range infos[:n] {
			_, content := foreignMessage(i)
			assert.Equal(t, downgradedOf(t, content), info.DowngradedSize, "message %d", i+1)
		}
		assert.Equal(t, downgradedOf(t, delivered), infos[n].DowngradedSize, "the delivered message")
		assert.Greater(t, infos[n].DowngradedSize, infos[n].Size)
	}
	check(messagesOf(t, b))
	saved, err := os.ReadFile(filepath.Join(dir, "pop3-downgraded-sizes"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(saved), "\n"), "\n")
	assert.Regexp(t, `^pop3-downgraded-sizes 1 \d+$`, lines[0])
	var want []string
	for i := 0; i < n; i += 10 {
		_, content := foreignMessage(i)
		want = append(want, fmt.Sprintf("%d %d", i+1, downgradedOf(t, content)), fmt.Sprintf("%d-%d", i+2, i+10))
	}
	assert.Equal(t, want, lines[1:], "the UIDs whose header is ASCII as runs, the others with their size; not the delivered message")

	// A restarted server: the listing, and LIST through the server, read
	// no message.
	opened := watchOpens(t, dir)
	check(messagesOf(t, restarted(t, root, io.Discard)))
	assert.Empty(t, opened(), "message files opened to list the maildrop after a restart")
	srv := pop3test.NewServer(t, restarted(t, root, io.Discard))
	c := pop3test.Dial(t, srv.Addr)
	c.Login("bob", "pw")
	list := c.OK("LIST").Lines()
	c.Quit()
	assert.Empty(t, opened(), "message files opened by a session's LIST after a restart")
	_, content := foreignMessage(10)
	assert.Equal(t, "11 "+strconv.FormatInt(downgradedOf(t, content), 10), list[10])

	// A message that arrives later is the only one read, once for its
	// size and its header, and is known from then on.
	name, content := foreignMessage(n + 10)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "new", name), []byte(content), 0o600))
	infos := messagesOf(t, restarted(t, root, io.Discard))
	assert.Equal(t, downgradedOf(t, content), infos[n+1].DowngradedSize)
	files := opened()
	require.NotEmpty(t, files, "the new message is read")
	for _, f := range files {
		assert.Equal(t, name, filepath.Base(f), "only the new message is read")
	}
	messagesOf(t, restarted(t, root, io.Discard))
	assert.Empty(t, opened())
}

// A damaged or stale file of downgraded sizes costs reading the headers
// again, and is written anew; nothing else changes.
func TestDowngradedSizesFileDamaged(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content func(saved string) string
		warns   bool
	}{
		{"garbage", func(string) string { return "not this file\n" }, true},
		{"truncated record", func(saved string) string { return saved + "12" }, true},
		{"records out of order", func(saved string) string { return saved + "3 7\n" }, true},
		{"other UIDVALIDITY", func(saved string) string {
			head, rest, _ := strings.Cut(saved, "\n")
			f := strings.Fields(head)
			f[2] = "1"
			return strings.Join(f, " ") + "\n" + rest
		}, false},
		{"removed", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, root, _ := testMaildirs(t, "bob:{PLAIN}pw")
			dir := filepath.Join(root, "bob", "Maildir")
			writeForeign(t, dir, 30)
			want := messagesOf(t, b)
			path := filepath.Join(dir, "pop3-downgraded-sizes")
			saved, err := os.ReadFile(path)
			require.NoError(t, err)
			if tc.content == nil {
				require.NoError(t, os.Remove(path))
			} else {
				require.NoError(t, os.WriteFile(path, []byte(tc.content(string(saved))), 0o600))
			}
			opened := watchOpens(t, dir)
			var logs bytes.Buffer
			assert.Equal(t, want, messagesOf(t, restarted(t, root, &logs)))
			assert.Len(t, opened(), 30, "every header is read again")
			now, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, string(saved), string(now), "and the file is written anew")
			assert.Equal(t, tc.warns, strings.Contains(logs.String(), "pop3-downgraded-sizes is unreadable"), logs.String())
		})
	}
}

// A message whose header could not be read is not taken for one whose
// header is ASCII: the next session reads it.
func TestDowngradedSizeUnreadableReadLater(t *testing.T) {
	b, root, _ := testMaildirs(t, "bob:{PLAIN}pw")
	dir := filepath.Join(root, "bob", "Maildir")
	writeForeign(t, dir, 3)
	content := "From: a@example.com\nSubject: Grüße\n\nbody\n"
	crlfSize := len(content) + strings.Count(content, "\n")
	name := fmt.Sprintf("1600000000.V1I1M1.elsewhere,W=%d:2,S", crlfSize) // first by UID
	real := filepath.Join(root, "elsewhere")
	require.NoError(t, os.WriteFile(real, []byte(content), 0o600))
	// A symbolic link is not opened (O_NOFOLLOW): its header is unread.
	require.NoError(t, os.Symlink(real, filepath.Join(dir, "cur", name)))
	infos := messagesOf(t, b)
	require.Len(t, infos, 4)
	assert.Zero(t, infos[0].DowngradedSize, "unknown")
	assert.NotZero(t, infos[1].DowngradedSize)

	require.NoError(t, os.Remove(filepath.Join(dir, "cur", name)))
	require.NoError(t, os.Rename(real, filepath.Join(dir, "cur", name)))
	for range 2 {
		infos = messagesOf(t, restarted(t, root, io.Discard))
		assert.Equal(t, downgradedOf(t, content), infos[0].DowngradedSize)
	}
}
