package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/pop3test"
	"github.com/gopop3/pop3/postgres"
)

// userID reads name's id, the "<user id>" of the store's own unique-ids.
func userID(t *testing.T, pool *pgxpool.Pool, name string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, pool.QueryRow(ctxFor(t), "SELECT id FROM pop3_users WHERE name = $1", name).Scan(&id))
	return id
}

// stored counts the rows of a user's messages and of their chunks, and
// reads the user's next uid: what an import that failed must leave as it
// was.
func stored(t *testing.T, pool *pgxpool.Pool, name string) (messages, chunks, nextUID int64) {
	t.Helper()
	require.NoError(t, pool.QueryRow(ctxFor(t), `SELECT
	(SELECT count(*) FROM pop3_messages m WHERE m.user_id = u.id),
	(SELECT count(*) FROM pop3_chunks c WHERE c.user_id = u.id),
	u.next_uid
FROM pop3_users u WHERE u.name = $1`, name).Scan(&messages, &chunks, &nextUID))
	return messages, chunks, nextUID
}

// uidls returns name's unique-ids, requiring no error.
func uidls(t *testing.T, b *postgres.Backend, name string) []string {
	t.Helper()
	ids, err := uidlsOf(b.Listing(ctxFor(t), name))
	require.NoError(t, err)
	return ids
}

// An imported message is listed, through a POP3 session, with the
// unique-id it was imported with, between the messages delivered before
// and after it, and RETR sends it with CRLF line ends, its size as LIST
// counts it.
func TestImport(t *testing.T) {
	pool := testPool(t, "")
	b := newBackend(t, pool)
	addUser(t, b, "alice", "PLAIN", "pw", "Subject: before\n\nnative\n")
	const msg = "Subject: imported\n\nbody\n.dot\n"
	require.NoError(t, b.Import(ctxFor(t), "ALICE", "00000001507c7a3c", strings.NewReader(msg)))
	require.NoError(t, b.Deliver(ctxFor(t), "alice", strings.NewReader("Subject: after\n\nnative\n")))
	id := userID(t, pool, "alice")

	srv := pop3test.NewServer(t, b)
	srv.Dial().Transcript(fmt.Sprintf(`
S: +OK...
C: USER alice
S: +OK...
C: PASS pw
S: +OK...
C: UIDL
S: +OK...
S: 1 %[1]d.1
S: 2 00000001507c7a3c
S: 3 %[1]d.3
S: .
C: UIDL 2
S: +OK 2 00000001507c7a3c
C: LIST 2
S: +OK 2 33
C: RETR 2
S: +OK...
S: Subject: imported
S:
S: body
S: ..dot
S: .
C: QUIT
S: +OK...
S: <closed>
`, id))
	assert.Equal(t, []string{fmt.Sprintf("%d.1", id), "00000001507c7a3c", fmt.Sprintf("%d.3", id)}, uidls(t, b, "alice"))

	mb, err := open(t, b, "alice", "pw")
	require.NoError(t, err)
	defer mb.Close()
	r, err := mb.Message(ctxFor(t), 1)
	require.NoError(t, err)
	body, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "Subject: imported\r\n\r\nbody\r\n.dot\r\n", string(body), "stored with CRLF, not dot-stuffed")
	assert.EqualValues(t, len(body), mb.Messages()[1].Size)
	assert.Equal(t, mb.Messages()[1].Size, mb.Messages()[1].DowngradedSize, "an ASCII header: stored as Deliver stores it")
}

// A unique-id that the maildrop shows already is refused, whoever tries
// it and however many at once, and nothing is stored; unique-ids differ
// by case (RFC 1939 compares them octet for octet), and another user's
// maildrop is another namespace.
func TestImportDuplicate(t *testing.T) {
	pool := testPool(t, "")
	b := newBackend(t, pool)
	addUser(t, b, "alice", "PLAIN", "pw")
	addUser(t, b, "bob", "PLAIN", "pw")
	require.NoError(t, b.Import(ctxFor(t), "alice", "UID-1", strings.NewReader("Subject: first\n\n")))
	messages, chunks, next := stored(t, pool, "alice")

	err := b.Import(ctxFor(t), "alice", "UID-1", strings.NewReader("Subject: again\n\n"+strings.Repeat("x", 3*postgres.ChunkSize)))
	require.ErrorIs(t, err, postgres.ErrUIDLExists)
	assert.Contains(t, err.Error(), "nothing stored")
	m, c, n := stored(t, pool, "alice")
	assert.Equal(t, []int64{messages, chunks, next}, []int64{m, c, n}, "nothing stored, no uid used")

	require.NoError(t, b.Import(ctxFor(t), "alice", "uid-1", strings.NewReader("Subject: other case\n\n")))
	require.NoError(t, b.Import(ctxFor(t), "bob", "UID-1", strings.NewReader("Subject: bob's\n\n")))
	assert.Equal(t, []string{"UID-1", "uid-1"}, uidls(t, b, "alice"))
	assert.Equal(t, []string{"UID-1"}, uidls(t, b, "bob"))

	// Concurrent imports of one unique-id: one wins, the others are told.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won, refused int
	for range 8 {
		wg.Go(func() {
			err := b.Import(context.Background(), "alice", "race", strings.NewReader("Subject: race\n\n"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, postgres.ErrUIDLExists):
				refused++
			default:
				t.Errorf("import: %v", err)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, won)
	assert.Equal(t, 7, refused)
	assert.Equal(t, []string{"UID-1", "uid-1", "race"}, uidls(t, b, "alice"))
}

// A unique-id outside RFC 1939 §7 (1 to 70 octets of 0x21 to 0x7E) is
// refused before anything is stored; the bounds themselves are taken.
func TestImportInvalidUIDL(t *testing.T) {
	pool := testPool(t, "")
	b := newBackend(t, pool)
	addUser(t, b, "alice", "PLAIN", "pw")
	for _, tc := range []struct{ name, uidl string }{
		{"empty", ""},
		{"71 octets", strings.Repeat("a", 71)},
		{"space", "a b"},
		{"tab", "a\tb"},
		{"DEL 0x7f", "a\x7f"},
		{"NUL", "\x00"},
		{"non-ASCII", "grüße"},
		{"CRLF", "a\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := b.Import(ctxFor(t), "alice", tc.uidl, strings.NewReader("Subject: x\n\n"))
			require.ErrorIs(t, err, postgres.ErrInvalidUIDL)
			assert.Contains(t, err.Error(), "nothing stored")
			m, c, n := stored(t, pool, "alice")
			assert.Equal(t, []int64{0, 0, 1}, []int64{m, c, n}, "nothing stored, no uid used")
		})
	}
	valid := []string{strings.Repeat("z", 70), "!", "~", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"}
	for _, uidl := range valid {
		require.NoError(t, b.Import(ctxFor(t), "alice", uidl, strings.NewReader("Subject: x\n\n")), "%q", uidl)
	}
	assert.Equal(t, valid, uidls(t, b, "alice"))
}

// An imported "<user id>.<n>" never meets the store's own unique-id of
// uid n: it is refused when a message delivered here has that uid, and
// otherwise no later delivery gets it.
func TestImportKeepsNativeUnique(t *testing.T) {
	pool := testPool(t, "")
	b := newBackend(t, pool)
	addUser(t, b, "alice", "PLAIN", "pw", "Subject: 1\n\n", "Subject: 2\n\n", "Subject: 3\n\n")
	id := userID(t, pool, "alice")
	native := func(n int64) string { return fmt.Sprintf("%d.%d", id, n) }

	t.Run("a delivered message has the uid", func(t *testing.T) {
		before := uidls(t, b, "alice")
		m, c, n := stored(t, pool, "alice")
		for _, uid := range []int64{1, 3} {
			err := b.Import(ctxFor(t), "alice", native(uid), strings.NewReader("Subject: clash\n\n"))
			require.ErrorIs(t, err, postgres.ErrUIDLExists, native(uid))
		}
		assert.Equal(t, before, uidls(t, b, "alice"))
		m2, c2, n2 := stored(t, pool, "alice")
		assert.Equal(t, []int64{m, c, n}, []int64{m2, c2, n2}, "nothing stored")
	})

	t.Run("a uid to come is set aside", func(t *testing.T) {
		_, _, next := stored(t, pool, "alice")
		ahead := native(next + 5)
		require.NoError(t, b.Import(ctxFor(t), "alice", ahead, strings.NewReader("Subject: from the old server\n\n")))
		for i := range 6 {
			require.NoError(t, b.Deliver(ctxFor(t), "alice", strings.NewReader(fmt.Sprintf("Subject: new %d\n\n", i))))
		}
		ids := uidls(t, b, "alice")
		require.Len(t, ids, 3+1+6)
		assert.Equal(t, ahead, ids[3])
		seen := map[string]bool{}
		for _, uid := range ids {
			assert.False(t, seen[uid], "unique-id %s twice in %v", uid, ids)
			seen[uid] = true
		}
		for _, uid := range ids[4:] {
			n, err := strconv.ParseInt(strings.TrimPrefix(uid, fmt.Sprintf("%d.", id)), 10, 64)
			require.NoError(t, err, uid)
			assert.Greater(t, n, next+5, "delivered after: past the uid set aside")
		}
	})

	t.Run("other forms are never the store's own", func(t *testing.T) {
		other := []string{
			fmt.Sprintf("%d.02", id), fmt.Sprintf("%d.+2", id), fmt.Sprintf("%d.-2", id), fmt.Sprintf("%d.0", id),
			fmt.Sprintf("%d.2.0", id), fmt.Sprintf("0%d.2", id), fmt.Sprintf("%d.2", id+1), fmt.Sprintf("%d.", id),
			fmt.Sprintf("%d.99999999999999999999", id), // past bigint: no uid
		}
		_, _, next := stored(t, pool, "alice")
		for _, uidl := range other {
			require.NoError(t, b.Import(ctxFor(t), "alice", uidl, strings.NewReader("Subject: x\n\n")), uidl)
		}
		_, _, after := stored(t, pool, "alice")
		assert.Equal(t, next+int64(len(other)), after, "one uid each, none set aside")
	})

	t.Run("a uid too large to set aside", func(t *testing.T) {
		for _, n := range []int64{1<<62 + 1, 1<<63 - 1} {
			err := b.Import(ctxFor(t), "alice", native(n), strings.NewReader("Subject: x\n\n"))
			require.ErrorIs(t, err, postgres.ErrInvalidUIDL, native(n))
		}
		require.NoError(t, b.Import(ctxFor(t), "alice", native(1<<62), strings.NewReader("Subject: x\n\n")), "2^62 is the last")
		require.NoError(t, b.Deliver(ctxFor(t), "alice", strings.NewReader("Subject: still\n\n")), "deliveries go on")
		ids := uidls(t, b, "alice")
		assert.Equal(t, native(1<<62+1), ids[len(ids)-1])
	})
}

// Imports of "<user id>.<n>" racing deliveries to the same user: each
// import is refused exactly when a delivered message has uid n, and no
// unique-id is shown twice.
func TestImportDeliverConcurrently(t *testing.T) {
	pool := testPool(t, "")
	b := newBackend(t, pool)
	addUser(t, b, "alice", "PLAIN", "pw")
	id := userID(t, pool, "alice")
	const deliverers, each, imports = 4, 10, 60
	var wg sync.WaitGroup
	for g := range deliverers {
		wg.Go(func() {
			for i := range each {
				assert.NoError(t, b.Deliver(context.Background(), "alice", strings.NewReader(fmt.Sprintf("Subject: %d-%d\n\n", g, i))))
			}
		})
	}
	var imported []string
	wg.Go(func() {
		for n := 1; n <= imports; n++ {
			uidl := fmt.Sprintf("%d.%d", id, n)
			err := b.Import(context.Background(), "alice", uidl, strings.NewReader("Subject: imported\n\n"))
			if err == nil {
				imported = append(imported, uidl)
			} else {
				assert.ErrorIs(t, err, postgres.ErrUIDLExists, uidl)
			}
		}
	})
	wg.Wait()
	ids := uidls(t, b, "alice")
	assert.Len(t, ids, deliverers*each+len(imported))
	seen := map[string]bool{}
	for _, uid := range ids {
		assert.False(t, seen[uid], "unique-id %s twice", uid)
		seen[uid] = true
	}
	for _, uidl := range imported {
		assert.True(t, seen[uidl], "imported %s listed", uidl)
	}
	var natives int
	require.NoError(t, pool.QueryRow(ctxFor(t), "SELECT count(*) FROM pop3_messages WHERE uidl IS NULL AND uid <= $1", imports).Scan(&natives))
	assert.Equal(t, imports, natives+len(imported), "each n is one delivered message's uid or one import's, never both")
}

// An unknown user is pop3.ErrNoSuchUser, as for Deliver.
func TestImportUnknownUser(t *testing.T) {
	b := newBackend(t, testPool(t, ""))
	err := b.Import(ctxFor(t), "nobody", "x", strings.NewReader("Subject: x\n\n"))
	assert.ErrorIs(t, err, pop3.ErrNoSuchUser)
	_, err = uidlsOf(b.Listing(ctxFor(t), "nobody"))
	assert.ErrorIs(t, err, pop3.ErrNoSuchUser)
}

// A failed import stores nothing and uses no uid.
func TestImportFailsWhole(t *testing.T) {
	pool := testPool(t, "")
	b := newBackend(t, pool)
	addUser(t, b, "alice", "PLAIN", "pw")
	broken := io.MultiReader(&lines{size: 2 * postgres.ChunkSize}, iotest.ErrReader(errors.New("connection reset")))
	err := b.Import(ctxFor(t), "alice", "broken", broken)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nothing stored")
	m, c, n := stored(t, pool, "alice")
	assert.Equal(t, []int64{0, 0, 1}, []int64{m, c, n})
	require.NoError(t, b.Import(ctxFor(t), "alice", "broken", strings.NewReader("Subject: whole\n\n")), "the unique-id is free")
}

// UIDLs gives the unique-ids as UIDL shows them, in the listing's order,
// and follows deletions.
func TestUIDLs(t *testing.T) {
	pool := testPool(t, "")
	b := newBackend(t, pool)
	addUser(t, b, "alice", "PLAIN", "pw")
	assert.Empty(t, uidls(t, b, "alice"), "an empty maildrop")
	id := userID(t, pool, "alice")
	require.NoError(t, b.Deliver(ctxFor(t), "alice", strings.NewReader("Subject: 1\n\n")))
	require.NoError(t, b.Import(ctxFor(t), "alice", "zz-old", strings.NewReader("Subject: 2\n\n")))
	require.NoError(t, b.Import(ctxFor(t), "alice", "aa-old", strings.NewReader("Subject: 3\n\n")))
	require.NoError(t, b.Deliver(ctxFor(t), "alice", strings.NewReader("Subject: 4\n\n")))
	want := []string{fmt.Sprintf("%d.1", id), "zz-old", "aa-old", fmt.Sprintf("%d.4", id)}
	assert.Equal(t, want, uidls(t, b, "Alice"))

	mb, err := open(t, b, "alice", "pw")
	require.NoError(t, err)
	listed := make([]string, len(mb.Messages()))
	for i, m := range mb.Messages() {
		listed[i] = m.UID
	}
	assert.Equal(t, want, listed, "as the listing has them")
	require.NoError(t, mb.Delete(ctxFor(t), []int{0, 2}))
	require.NoError(t, mb.Close())
	assert.Equal(t, []string{"zz-old", fmt.Sprintf("%d.4", id)}, uidls(t, b, "alice"))
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
