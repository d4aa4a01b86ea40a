package maildir_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/dovecottest"
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/pop3test"
)

// Imported messages show the source's unique-ids, between the Maildir's
// own, and are served as delivered ones are.
func TestImport(t *testing.T) {
	ctx := context.Background()
	b, _, _ := testMaildirs(t, "alice:{PLAIN}secret")
	require.NoError(t, b.Deliver(ctx, "alice", strings.NewReader("Subject: native\n\nfirst\n")))
	require.NoError(t, b.Import(ctx, "Alice", "source-0001", strings.NewReader("Subject: imported\n\n.dot\nsecond\n")))
	require.NoError(t, b.Import(ctx, "alice", "source-0002", strings.NewReader("Subject: no final line end")))
	require.NoError(t, b.Deliver(ctx, "alice", strings.NewReader("Subject: native\n\nlast\n")))

	uidls, err := uidlsOf(b.Listing(ctx, "alice"))
	require.NoError(t, err)
	require.Len(t, uidls, 4)
	assert.Equal(t, []string{"source-0001", "source-0002"}, uidls[1:3])

	srv := pop3test.NewServer(t, b)
	c := pop3test.Dial(t, srv.Addr)
	c.Login("alice", "secret")
	lines := c.OK("UIDL").Lines()
	for i, u := range uidls {
		assert.Equal(t, fmt.Sprintf("%d %s", i+1, u), lines[i])
	}
	assert.Equal(t, "Subject: imported\r\n\r\n.dot\r\nsecond\r\n", string(c.OK("RETR 2").Body))
	assert.Equal(t, "Subject: no final line end\r\n", string(c.OK("RETR 3").Body))
	c.Quit()
}

func TestImportRefuses(t *testing.T) {
	ctx := context.Background()
	b, root, _ := testMaildirs(t, "alice:{PLAIN}secret")
	require.NoError(t, b.Import(ctx, "alice", "once", strings.NewReader("one\n")))
	require.NoError(t, b.Deliver(ctx, "alice", strings.NewReader("native\n")))
	native, err := uidlsOf(b.Listing(ctx, "alice"))
	require.NoError(t, err)

	for _, tc := range []struct {
		uidl string
		want error
	}{
		{"once", maildir.ErrUIDLExists},
		{native[1], maildir.ErrUIDLExists},
		{"", maildir.ErrInvalidUIDL},
		{"has space", maildir.ErrInvalidUIDL},
		{strings.Repeat("x", 71), maildir.ErrInvalidUIDL},
		{"tab\there", maildir.ErrInvalidUIDL},
		{"del\x7f", maildir.ErrInvalidUIDL},
		{"é", maildir.ErrInvalidUIDL},
	} {
		err := b.Import(ctx, "alice", tc.uidl, strings.NewReader("again\n"))
		assert.ErrorIs(t, err, tc.want, "%q", tc.uidl)
	}
	err = b.Import(ctx, "nobody", "x", strings.NewReader("x\n"))
	assert.ErrorIs(t, err, pop3.ErrNoSuchUser)

	after, err := uidlsOf(b.Listing(ctx, "alice"))
	require.NoError(t, err)
	assert.Equal(t, native, after, "nothing was stored")
	for _, sub := range []string{"tmp", "new"} {
		entries, err := os.ReadDir(filepath.Join(root, "alice", "Maildir", sub))
		require.NoError(t, err)
		if sub == "tmp" {
			assert.Empty(t, entries, "nothing left in tmp/")
		}
	}
	assert.NoError(t, b.Import(ctx, "alice", strings.Repeat("x", 70), strings.NewReader("70 is the most\n")))
}

// An imported unique-id of the default format with the Maildir's own
// UIDVALIDITY makes later deliveries skip its UID, so that none shows it.
func TestImportDefaultFormatSkipsUID(t *testing.T) {
	ctx := context.Background()
	b, root, _ := testMaildirs(t, "alice:{PLAIN}secret")
	require.NoError(t, b.Deliver(ctx, "alice", strings.NewReader("native\n")))
	uidls, err := uidlsOf(b.Listing(ctx, "alice"))
	require.NoError(t, err)
	validity := uidls[0][8:]
	require.NoError(t, b.Import(ctx, "alice", "00000004"+validity, strings.NewReader("imported\n")))
	for i := 0; i < 6; i++ {
		require.NoError(t, b.Deliver(ctx, "alice", strings.NewReader(fmt.Sprintf("native %d\n", i))))
	}
	uidls, err = uidlsOf(b.Listing(ctx, "alice"))
	require.NoError(t, err)
	require.Len(t, uidls, 8)
	seen := make(map[string]bool)
	for _, u := range uidls {
		assert.False(t, seen[u], "unique-id %s shown twice", u)
		seen[u] = true
	}
	list, err := os.ReadFile(filepath.Join(root, "alice", "Maildir", "dovecot-uidlist"))
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^5 P00000004`+validity, string(list), "the imported message has the UID after the one its unique-id names")
}

// A crash after the record is written and before the file is renamed
// into new/ leaves a record without a file: it is not listed, and the
// message can be imported again, once.
func TestImportAfterCrashBetweenRecordAndFile(t *testing.T) {
	ctx := context.Background()
	b, root, _ := testMaildirs(t, "alice:{PLAIN}secret")
	require.NoError(t, b.Import(ctx, "alice", "first", strings.NewReader("one\n")))
	path := filepath.Join(root, "alice", "Maildir", "dovecot-uidlist")
	list, err := os.ReadFile(path)
	require.NoError(t, err)
	list = append(list, []byte("7 Plost W5 :1700000000.M1P1.host,S=4,W=5,D=5\n")...)
	require.NoError(t, os.WriteFile(path, list, 0o600))

	uidls, err := uidlsOf(b.Listing(ctx, "alice"))
	require.NoError(t, err)
	assert.Equal(t, []string{"first"}, uidls)
	require.NoError(t, b.Import(ctx, "alice", "lost", strings.NewReader("two\n")))
	uidls, err = uidlsOf(b.Listing(ctx, "alice"))
	require.NoError(t, err)
	assert.Equal(t, []string{"first", "lost"}, uidls)
}

// An import that died after its record was written, with its file still
// in tmp/, is finished by the next import of the same unique-id, which
// then finds it there.
func TestImportFinishesInterruptedImport(t *testing.T) {
	ctx := context.Background()
	b, root, _ := testMaildirs(t, "alice:{PLAIN}secret")
	require.NoError(t, b.Import(ctx, "alice", "first", strings.NewReader("one\n")))
	dir := filepath.Join(root, "alice", "Maildir")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tmp", "1700000000.M1P1.host"), []byte("Subject: half\n\nway\n"), 0o600))
	list, err := os.ReadFile(filepath.Join(dir, "dovecot-uidlist"))
	require.NoError(t, err)
	list = append(list, []byte("7 Phalfway W23 :1700000000.M1P1.host,S=20,W=23,D=23\n")...)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dovecot-uidlist"), list, 0o600))

	err = b.Import(ctx, "alice", "halfway", strings.NewReader("Subject: half\n\nway\n"))
	assert.ErrorIs(t, err, maildir.ErrUIDLExists)
	infos, err := b.Listing(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, infos, 2)
	assert.Equal(t, pop3.MessageInfo{UID: "halfway", Size: 23}, infos[1])
	entries, err := os.ReadDir(filepath.Join(dir, "tmp"))
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// Imports one after another append to dovecot-uidlist; when something
// else wrote it in between (here a listing that gives a delivered message
// its UID), the next import reads it again, so that no two records share
// a UID.
func TestImportAfterAnotherWriter(t *testing.T) {
	ctx := context.Background()
	b, root, _ := testMaildirs(t, "alice:{PLAIN}secret")
	require.NoError(t, b.Import(ctx, "alice", "first", strings.NewReader("one\n")))
	require.NoError(t, b.Import(ctx, "alice", "second", strings.NewReader("two\n")))
	require.NoError(t, b.Deliver(ctx, "alice", strings.NewReader("native\n")))
	_, err := b.Listing(ctx, "alice") // gives the native message the next UID
	require.NoError(t, err)
	require.NoError(t, b.Import(ctx, "alice", "third", strings.NewReader("three\n")))

	infos, err := b.Listing(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, infos, 4)
	assert.Equal(t, "first", infos[0].UID)
	assert.Equal(t, "second", infos[1].UID)
	assert.Equal(t, "third", infos[3].UID)
	list, err := os.ReadFile(filepath.Join(root, "alice", "Maildir", "dovecot-uidlist"))
	require.NoError(t, err)
	assert.Regexp(t, `^3 V\d+ N\d+ G[0-9a-f]+\n1 .*Pfirst .*\n2 .*Psecond .*\n3 .*:\S+\n4 .*Pthird .*\n$`, string(list))
}

// Dovecot serving the Maildir shows the imported unique-ids, with its
// default pop3_uidl_format.
func TestDovecotShowsImportedUIDLs(t *testing.T) {
	ctx := context.Background()
	dc := dovecottest.Start(t, "alice")
	pw, err := passwd.OpenFile(dc.Users, nil)
	require.NoError(t, err)
	b, err := maildir.New(filepath.Join(dc.Root, "%u", "Maildir"), pw)
	require.NoError(t, err)
	want := []string{"1 cyrus.1234.1", "2 00000001abcdef12", "3 courier-1700000000.M1P1.host"}
	for i, line := range want {
		_, uidl, _ := strings.Cut(line, " ")
		require.NoError(t, b.Import(ctx, "alice", uidl, strings.NewReader(fmt.Sprintf("Subject: %d\n\nbody\n", i))))
	}
	dc.Chown(t, "alice")
	assert.Equal(t, want, uidls(t, dc.Addr, "alice"))
}

// uidlsOf returns the unique-ids of a listing.
func uidlsOf(infos []pop3.MessageInfo, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	uidls := make([]string, len(infos))
	for i, m := range infos {
		uidls[i] = m.UID
	}
	return uidls, nil
}
