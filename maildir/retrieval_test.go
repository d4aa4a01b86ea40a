package maildir

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
)

// openBox logs user ui of b in and opens the maildrop, as a
// RetrievalMailbox; the caller closes it.
func openBox(t *testing.T, b *Backend, i int) pop3.RetrievalMailbox {
	t.Helper()
	u, err := b.Login(context.Background(), nil, fmt.Sprintf("u%d", i), "pw")
	require.NoError(t, err)
	box, err := u.Open(context.Background())
	require.NoError(t, err)
	r, ok := box.(pop3.RetrievalMailbox)
	require.True(t, ok, "the mailbox is a pop3.RetrievalMailbox")
	return r
}

// firstRetrievals are the FirstRetrieved times of a mailbox's messages, in
// unix seconds, 0 for none.
func firstRetrievals(box pop3.RetrievalMailbox) []int64 {
	var out []int64
	for i := range box.Messages() {
		s := int64(0)
		if t := box.FirstRetrieved(i); !t.IsZero() {
			s = t.Unix()
		}
		out = append(out, s)
	}
	return out
}

// retrieveAndClose records t for the messages of user ui and closes.
func retrieveAndClose(t *testing.T, b *Backend, i int, indexes []int, at time.Time) {
	t.Helper()
	box := openBox(t, b, i)
	require.NoError(t, box.Retrieved(context.Background(), indexes, at))
	require.NoError(t, box.Close())
}

var (
	t1 = time.Unix(1732400000, 900_000_000) // recorded as 1732400001, rounded up
	t2 = time.Unix(1732500000, 0)
)

func TestBackendRecordsRetrievals(t *testing.T) {
	b, _ := cacheBackend(t, 1, 0)
	var be pop3.Backend = b
	r, ok := be.(pop3.RetrievalBackend)
	require.True(t, ok)
	assert.True(t, r.RecordsRetrievals())
}

// The times that Retrieved records, to the second, are those that the next
// sessions see, also those of a new backend (a restart); the other
// messages have none.
func TestRetrievedThenFirstRetrieved(t *testing.T) {
	b, dirs := cacheBackend(t, 1, 3)
	box := openBox(t, b, 1)
	assert.Equal(t, []int64{0, 0, 0}, firstRetrievals(box), "no file: never retrieved")
	require.NoError(t, box.Retrieved(context.Background(), []int{0, 2}, t1))
	uidls := make([]string, 3)
	for i, m := range box.Messages() {
		uidls[i] = m.UID
	}
	require.NoError(t, box.Close())

	data, err := os.ReadFile(filepath.Join(dirs[0], retrievedName))
	require.NoError(t, err)
	assert.Equal(t, uidls[0]+" 1732400001\n"+uidls[2]+" 1732400001\n", string(data))
	assert.NoFileExists(t, filepath.Join(dirs[0], retrievedName+".tmp"))

	for _, be := range []*Backend{b, restarted(t, b)} {
		box := openBox(t, be, 1)
		assert.Equal(t, []int64{1732400001, 0, 1732400001}, firstRetrievals(box))
		assert.True(t, box.FirstRetrieved(0).Equal(t1.Truncate(time.Second).Add(time.Second)))
		for _, i := range []int{-1, 3} {
			assert.True(t, box.FirstRetrieved(i).IsZero(), "no message %d", i)
		}
		require.NoError(t, box.Close())
	}
}

// A message that has a first retrieval keeps it, whether Retrieved is
// called again in the same session or in a later one.
func TestRetrievedKeepsTheFirstTime(t *testing.T) {
	for _, sameSession := range []bool{true, false} {
		t.Run(fmt.Sprintf("same session %v", sameSession), func(t *testing.T) {
			b, _ := cacheBackend(t, 1, 2)
			box := openBox(t, b, 1)
			require.NoError(t, box.Retrieved(context.Background(), []int{0}, t1))
			if !sameSession {
				require.NoError(t, box.Close())
				box = openBox(t, b, 1)
			}
			require.NoError(t, box.Retrieved(context.Background(), []int{0, 1}, t2))
			assert.Equal(t, []int64{t1.Unix() + 1, t2.Unix()}, firstRetrievals(box))
			require.NoError(t, box.Close())
			box = openBox(t, b, 1)
			defer box.Close()
			assert.Equal(t, []int64{t1.Unix() + 1, t2.Unix()}, firstRetrievals(box))
		})
	}
}

// Delete leaves the file alone; the next Retrieved drops the lines of the
// messages that are gone, and the file when none is left.
func TestRetrievedPrunesRemovedMessages(t *testing.T) {
	ctx := context.Background()
	b, dirs := cacheBackend(t, 1, 3)
	path := filepath.Join(dirs[0], retrievedName)
	retrieveAndClose(t, b, 1, []int{0, 1, 2}, t1)
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	box := openBox(t, b, 1)
	var uidls []string
	for _, m := range box.Messages() {
		uidls = append(uidls, m.UID)
	}
	require.NoError(t, box.Delete(ctx, []int{1}))
	require.NoError(t, box.Close())
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "Delete does not touch the file")

	retrieveAndClose(t, b, 1, []int{0}, t2) // nothing new, but a line to drop
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, uidls[0]+" 1732400001\n"+uidls[2]+" 1732400001\n", string(data))

	box = openBox(t, b, 1)
	require.NoError(t, box.Delete(ctx, []int{0, 1}))
	require.NoError(t, box.Close())
	retrieveAndClose(t, b, 1, nil, t2)
	assert.NoFileExists(t, path, "no message left to remember")
}

// Lines that do not parse are ignored, with one warning; those of other
// unique-ids too, without one; of two lines for one message, the earlier
// time counts. The next Retrieved writes the file without them.
func TestRetrievalFileBadLines(t *testing.T) {
	var logs bytes.Buffer
	b, dirs := cacheBackend(t, 1, 3, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	box := openBox(t, b, 1)
	var u []string
	for _, m := range box.Messages() {
		u = append(u, m.UID)
	}
	require.NoError(t, box.Close())
	path := filepath.Join(dirs[0], retrievedName)
	lines := []string{
		u[0] + " 1700000000",
		"garbage",
		u[1] + " not-a-number",
		u[1] + " -5",
		u[1] + " 0",
		u[1] + "  1700000000",
		" 1700000000",
		strings.Repeat("x", 10000) + " 1700000000",
		"ffffffff00000000 1700000001", // a message removed since
		u[1] + " 1700000050",
		u[1] + " 1700000040",
		u[2] + " 1700000060", // no newline at the end
	}
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600))

	box = openBox(t, b, 1)
	assert.Equal(t, []int64{1700000000, 1700000040, 1700000060}, firstRetrievals(box))
	assert.Equal(t, []int64{1700000000, 1700000040, 1700000060}, firstRetrievals(box))
	assert.Equal(t, 1, strings.Count(logs.String(), "do not parse"), logs.String())
	assert.Contains(t, logs.String(), "lines=7")
	require.NoError(t, box.Retrieved(context.Background(), nil, t2))
	require.NoError(t, box.Close())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, u[0]+" 1700000000\n"+u[1]+" 1700000040\n"+u[2]+" 1700000060\n", string(data))
}

// A file that cannot be read counts as empty, with a warning, and the next
// Retrieved replaces it.
func TestRetrievalFileUnreadable(t *testing.T) {
	var logs bytes.Buffer
	b, dirs := cacheBackend(t, 1, 1, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	path := filepath.Join(dirs[0], retrievedName)
	require.NoError(t, os.Symlink(filepath.Join(t.TempDir(), "elsewhere"), path))
	box := openBox(t, b, 1)
	assert.Equal(t, []int64{0}, firstRetrievals(box))
	assert.Contains(t, logs.String(), "could not read "+retrievedName)
	require.NoError(t, box.Retrieved(context.Background(), []int{0}, t1))
	require.NoError(t, box.Close())
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	assert.True(t, fi.Mode().IsRegular(), "the link is replaced, not written through")
}

// The file is read by each session, apart from the listing cache: a
// session listed from the cache sees what an earlier session, or another
// backend on the same Maildir, recorded.
func TestRetrievalsWithTheListingCache(t *testing.T) {
	b, dirs := cacheBackend(t, 1, 2)
	openBox(t, b, 1).Close() // lists the settled Maildir into the cache
	cached := b.cache.get(dirs[0], mustStamps(t, dirs[0]))
	require.NotNil(t, cached)

	retrieveAndClose(t, b, 1, []int{0}, t1)
	retrieveAndClose(t, restarted(t, b), 1, []int{1}, t2)

	box := openBox(t, b, 1)
	defer box.Close()
	assert.Same(t, cached, b.cache.get(dirs[0], mustStamps(t, dirs[0])), "the file is no part of the cached listing")
	assert.Equal(t, []int64{t1.Unix() + 1, t2.Unix()}, firstRetrievals(box))
}

func mustStamps(t *testing.T, dir string) maildirStamps {
	t.Helper()
	s, _, err := takeStamps(dir, time.Now())
	require.NoError(t, err)
	return s
}

func TestRetrievedErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		indexes []int
		at      time.Time
		closed  bool
		want    []int64 // what the next session sees
	}{
		{"a message that does not exist", []int{-1, 0, 5}, t1, false, []int64{t1.Unix() + 1, 0}},
		{"the zero time", []int{0}, time.Time{}, false, []int64{0, 0}},
		{"after Close", []int{0}, t1, true, []int64{0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := cacheBackend(t, 1, 2)
			box := openBox(t, b, 1)
			if tc.closed {
				require.NoError(t, box.Close())
			}
			assert.Error(t, box.Retrieved(context.Background(), tc.indexes, tc.at))
			if !tc.closed {
				require.NoError(t, box.Close())
			}
			box = openBox(t, b, 1)
			defer box.Close()
			assert.Equal(t, tc.want, firstRetrievals(box))
		})
	}
}

// The file belongs to the Maildir's owner, with the mode of pop3d.lock.
func TestRetrievalFileOwner(t *testing.T) {
	u, dir := ownedUser(t)
	box, err := u.Open(context.Background())
	require.NoError(t, err)
	require.NoError(t, box.(pop3.RetrievalMailbox).Retrieved(context.Background(), []int{0}, time.Now()))
	require.NoError(t, box.Close())
	ownedLikeTheLock(t, dir, retrievedName)
}

// Whatever the file holds, only listed unique-ids get times, all positive,
// and every line is counted once at most.
func FuzzParseRetrievals(f *testing.F) {
	f.Add([]byte("a 1\nb 2\r\nc 3\nzz 4\nbad\n\na  5\nb 1"))
	f.Add([]byte(strings.Repeat("y", 5000) + " 1\na 2"))
	f.Fuzz(func(t *testing.T, data []byte) {
		listed := map[string]bool{"a": true, "b": true, "c": true}
		times, bad, unlisted, err := parseRetrievals(bytes.NewReader(data), listed)
		require.NoError(t, err)
		for uidl, s := range times {
			assert.True(t, listed[uidl], uidl)
			assert.Positive(t, s)
		}
		assert.LessOrEqual(t, len(times)+bad+unlisted, bytes.Count(data, []byte("\n"))+1)
	})
}
