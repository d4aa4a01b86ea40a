package mbox_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
)

// fromLine matches the From line Deliver writes.
var fromLine = regexp.MustCompile(`(?m)^From MAILER-DAEMON [A-Z][a-z]{2} [A-Z][a-z]{2} [ 1-3][0-9] \d\d:\d\d:\d\d \d{4}$`)

// Deliver appends as Postfix local(8) does: a From line, LF line ends,
// ">From " for a line that would start a message, an empty line after.
func TestDeliverWritesAsPostfix(t *testing.T) {
	b, root, _ := testSpools(t, "alice:{PLAIN}pw")
	ctx := context.Background()
	require.NoError(t, b.Deliver(ctx, "alice", strings.NewReader("Subject: one\r\n\r\nFrom here on\r\n>From there\r\nend\r\n")))
	require.NoError(t, b.Deliver(ctx, "Alice", strings.NewReader("Subject: two\n\nno final line end")))

	got, err := os.ReadFile(filepath.Join(root, "alice"))
	require.NoError(t, err)
	text := fromLine.ReplaceAllString(string(got), "From MAILER-DAEMON DATE")
	assert.Equal(t, "From MAILER-DAEMON DATE\nSubject: one\n\n>From here on\n>From there\nend\n\n"+
		"From MAILER-DAEMON DATE\nSubject: two\n\nno final line end\n\n", text)
	fi, err := os.Stat(filepath.Join(root, "alice"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), fi.Mode().Perm())
	assert.NoFileExists(t, filepath.Join(root, "alice.lock"))
}

// A spool whose last writer left no empty line (or no line end) gets
// them before the new From line, so that it starts a message.
func TestDeliverAfterAnUnfinishedSpool(t *testing.T) {
	for _, tail := range []string{"last line", "last line\n"} {
		b, root, _ := testSpools(t, "bob:{PLAIN}pw")
		path := filepath.Join(root, "bob")
		require.NoError(t, os.WriteFile(path, []byte("From x Sun Dec  6 19:22:23 2026\nSubject: s\n\n"+tail), 0o660))
		require.NoError(t, b.Deliver(context.Background(), "bob", strings.NewReader("Subject: t\n\nbody\n")))
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Contains(t, string(got), "last line\n\nFrom MAILER-DAEMON ")
	}
}

// failingReader fails after giving part of a message.
type failingReader struct{ r io.Reader }

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errors.New("connection lost")
	}
	return n, err
}

// A delivery that fails half way leaves the spool as it was.
func TestDeliverFailureLeavesTheSpool(t *testing.T) {
	b, root, _ := testSpools(t, "carol:{PLAIN}pw")
	ctx := context.Background()
	require.NoError(t, b.Deliver(ctx, "carol", strings.NewReader("Subject: kept\n\nbody\n")))
	path := filepath.Join(root, "carol")
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	err = b.Deliver(ctx, "carol", &failingReader{strings.NewReader("Subject: lost\n\n" + strings.Repeat("x", 200000))})
	require.ErrorContains(t, err, "connection lost")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after))
	assert.NoFileExists(t, path+".lock")
}

// Mail for an unknown user is refused with pop3.ErrNoSuchUser, and no
// spool is created.
func TestDeliverUnknownUser(t *testing.T) {
	b, root, _ := testSpools(t, "dave:{PLAIN}pw")
	err := b.Deliver(context.Background(), "nobody", strings.NewReader("Subject: x\n\n"))
	require.ErrorIs(t, err, pop3.ErrNoSuchUser)
	assert.NoFileExists(t, filepath.Join(root, "nobody"))
}

// The From line names the envelope sender of a first Return-Path header,
// as pop3d's LMTP listener writes it; the null sender and anything odd are
// MAILER-DAEMON.
func TestDeliverFromLineSender(t *testing.T) {
	for _, tc := range []struct{ header, sender string }{
		{"Return-Path: <alice@example.org>\n", "alice@example.org"},
		{"return-path:<bob@example.org>\r\n", "bob@example.org"},
		{"Return-Path: <>\n", "MAILER-DAEMON"},
		{"Return-Path: <a b@example.org>\n", "MAILER-DAEMON"},
		{"Subject: none\nReturn-Path: <late@example.org>\n", "MAILER-DAEMON"},
	} {
		b, root, _ := testSpools(t, "erin:{PLAIN}pw")
		require.NoError(t, b.Deliver(context.Background(), "erin", strings.NewReader(tc.header+"\nbody\n")))
		got, err := os.ReadFile(filepath.Join(root, "erin"))
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(string(got), "From "+tc.sender+" "), "%q: %q", tc.header, got)
	}
}

// The header fields the spool keeps for itself are dropped from what is
// delivered, as Dovecot drops them: a sender cannot forge a UID, the
// folder's UIDVALIDITY or a read mark. The same names in the body stay.
func TestDeliverDropsSpoolHeaders(t *testing.T) {
	b, root, _ := testSpools(t, "fay:{PLAIN}pw")
	msg := "X-IMAPbase: 1 99\nSubject: s\nX-UID: 77\nStatus: RO\nContent-Length: 3\nX-Keywords: a\n b\nX-Status: A\nX-Delivery-ID: x\nTo: fay\n\nStatus: RO in the body\n"
	require.NoError(t, b.Deliver(context.Background(), "fay", strings.NewReader(msg)))
	got, err := os.ReadFile(filepath.Join(root, "fay"))
	require.NoError(t, err)
	text := fromLine.ReplaceAllString(string(got), "From MAILER-DAEMON DATE")
	assert.Equal(t, "From MAILER-DAEMON DATE\nSubject: s\nTo: fay\n\nStatus: RO in the body\n\n", text)
}

// Whatever a message holds, two deliveries of it are two messages of the
// spool, the same twice, sized as they are sent: no content can end a
// message early, join two, or make the spool unreadable.
func FuzzDeliver(f *testing.F) {
	for _, s := range []string{
		"Subject: x\n\nbody\n", "", "From me\n", "Return-Path: <a@b>\r\n\r\nFrom x\r\n>From y\r\n",
		"Content-Length: 0\n\n\nFrom a Sun Dec  6 19:22:23 2026\n\n", "X-IMAPbase: 1 2\nX-UID: 1\n\n",
		"no header end", "\r\r\n\n\x00From \n", qpopperSpool,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		b, _, _ := testSpools(t, "u:{PLAIN}pw")
		ctx := context.Background()
		require.NoError(t, b.Deliver(ctx, "u", bytes.NewReader(msg)))
		require.NoError(t, b.Deliver(ctx, "u", bytes.NewReader(msg)))
		user, err := b.Login(ctx, nil, "u", "pw")
		require.NoError(t, err)
		box, err := user.Open(ctx)
		require.NoError(t, err)
		defer box.Close()
		infos := box.Messages()
		require.Len(t, infos, 2)
		var bodies [2][]byte
		for i := range bodies {
			r, err := box.Message(ctx, i)
			require.NoError(t, err)
			bodies[i], err = io.ReadAll(r)
			require.NoError(t, err)
			require.NoError(t, r.Close())
			assert.Equal(t, infos[i].Size, int64(len(bodies[i])), "message %d: size", i+1)
		}
		assert.Equal(t, string(bodies[0]), string(bodies[1]))
	})
}
