package memory_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

var ctx = context.Background()

// newBackend returns a backend with the given users, each with password
// "pw-" + name.
func newBackend(t *testing.T, users ...string) *memory.Backend {
	t.Helper()
	be := memory.New()
	for _, u := range users {
		require.NoError(t, be.AddUser(u, "pw-"+u))
	}
	return be
}

// open logs in as username and opens the maildrop.
func open(t *testing.T, be *memory.Backend, username string) pop3.Mailbox {
	t.Helper()
	u, err := be.Login(ctx, &pop3.ConnInfo{}, username, "pw-"+username)
	require.NoError(t, err)
	mb, err := u.Open(ctx)
	require.NoError(t, err)
	return mb
}

// readAll reads message i of mb whole.
func readAll(t *testing.T, mb pop3.Mailbox, i int) []byte {
	t.Helper()
	r, err := mb.Message(ctx, i)
	require.NoError(t, err)
	defer r.Close()
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	return data
}

func uids(infos []pop3.MessageInfo) []string {
	out := make([]string, len(infos))
	for i, m := range infos {
		out[i] = m.UID
	}
	return out
}

func storedUIDs(t *testing.T, be *memory.Backend, username string) []string {
	t.Helper()
	msgs, err := be.Messages(username)
	require.NoError(t, err)
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.UID
	}
	return out
}

func TestAppendMessageNormalisesLineEnds(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"LF", "Subject: a\n\nbody\n", "Subject: a\r\n\r\nbody\r\n"},
		{"CRLF", "Subject: a\r\n\r\nbody\r\n", "Subject: a\r\n\r\nbody\r\n"},
		{"mixed", "a\r\nb\nc\r\n\nd\n", "a\r\nb\r\nc\r\n\r\nd\r\n"},
		{"no final line end", "a\nb", "a\r\nb\r\n"},
		{"no line end at all", "abc", "abc\r\n"},
		{"empty", "", ""},
		{"only LF", "\n", "\r\n"},
		{"leading LF", "\nx\n", "\r\nx\r\n"},
		{"blank lines", "\n\n\n", "\r\n\r\n\r\n"},
		{"lone CR inside a line", "a\rb\n", "a\r\nb\r\n"},
		{"lone CR before a CRLF", "a\r\r\nb\r\n", "a\r\n\r\nb\r\n"},
		{"lone CR at the end", "a\r", "a\r\n"},
		{"LF CR", "a\n\rb", "a\r\n\r\nb\r\n"},
		{"CR run then LF", "a\r\r\r\n", "a\r\n\r\n\r\n"},
		{"line of dots", ".\n..\n", ".\r\n..\r\n"},
		{"binary-ish", "\x00\xff\n", "\x00\xff\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be := newBackend(t, "alice")
			uid, err := be.AppendMessage("alice", []byte(tc.raw))
			require.NoError(t, err)

			msgs, err := be.Messages("alice")
			require.NoError(t, err)
			require.Len(t, msgs, 1)
			assert.Equal(t, uid, msgs[0].UID)
			assert.Equal(t, tc.want, string(msgs[0].Data))

			mb := open(t, be, "alice")
			defer mb.Close()
			infos := mb.Messages()
			require.Len(t, infos, 1)
			assert.Equal(t, uid, infos[0].UID)
			assert.Equal(t, int64(len(tc.want)), infos[0].Size, "Size must equal the octets served")
			assert.Equal(t, tc.want, string(readAll(t, mb, 0)))
		})
	}
}

func TestSizesEqualServedOctets(t *testing.T) {
	be := newBackend(t, "alice")
	raws := []string{"", "x", "a\nb\n", strings.Repeat("line\n", 1000), "no end", "a\r\nb"}
	for _, raw := range raws {
		_, err := be.AppendMessage("alice", []byte(raw))
		require.NoError(t, err)
	}
	mb := open(t, be, "alice")
	defer mb.Close()
	infos := mb.Messages()
	require.Len(t, infos, len(raws))
	for i, info := range infos {
		data := readAll(t, mb, i)
		assert.Equal(t, int64(len(data)), info.Size, "message %d", i)
	}
}

// AppendMessage learns each message's downgraded size, so that LIST
// never reads a message of this backend.
func TestDowngradedSizeKnownAtAppend(t *testing.T) {
	be := newBackend(t, "alice")
	raws := []string{"Subject: Grüße\n\nbody\n", "Subject: plain\n\nbody\n", "x"}
	for _, raw := range raws {
		_, err := be.AppendMessage("alice", []byte(raw))
		require.NoError(t, err)
	}
	mb := open(t, be, "alice")
	defer mb.Close()
	for i, info := range mb.Messages() {
		data := readAll(t, mb, i)
		want, err := pop3.DowngradedSize(strings.NewReader(string(data)), info.Size)
		require.NoError(t, err)
		assert.Equal(t, want, info.DowngradedSize, "message %d", i+1)
	}
	assert.Greater(t, mb.Messages()[0].DowngradedSize, mb.Messages()[0].Size, "an internationalized header grows")
	assert.Equal(t, mb.Messages()[1].Size, mb.Messages()[1].DowngradedSize, "an ASCII one does not")
}

func TestAppendMessageCopiesInputAndMessagesReturnsCopies(t *testing.T) {
	be := newBackend(t, "alice")
	raw := []byte("hello\r\n")
	_, err := be.AppendMessage("alice", raw)
	require.NoError(t, err)
	raw[0] = 'J'

	msgs, err := be.Messages("alice")
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, "hello\r\n", string(msgs[0].Data), "AppendMessage must copy its input")

	msgs[0].Data[0] = 'Y'
	again, err := be.Messages("alice")
	require.NoError(t, err)
	assert.Equal(t, "hello\r\n", string(again[0].Data), "Messages must return copies")
}

// checkUID asserts the RFC 1939 §7 unique-id syntax: 1 to 70 characters in
// the range 0x21 to 0x7E.
func checkUID(t *testing.T, uid string) {
	t.Helper()
	assert.True(t, len(uid) >= 1 && len(uid) <= 70, "UID %q has length %d", uid, len(uid))
	for i := 0; i < len(uid); i++ {
		c := uid[i]
		assert.True(t, c >= 0x21 && c <= 0x7e, "UID %q has byte %#x at %d", uid, c, i)
	}
}

func TestUIDsUniqueAndWellFormed(t *testing.T) {
	users := []string{"alice", "bob", "carol"}
	be := newBackend(t, users...)
	seen := make(map[string]bool)
	add := func(user, raw string) {
		t.Helper()
		uid, err := be.AppendMessage(user, []byte(raw))
		require.NoError(t, err)
		checkUID(t, uid)
		assert.False(t, seen[uid], "UID %q given out twice", uid)
		seen[uid] = true
	}

	// Identical content must still get distinct UIDs.
	for i := 0; i < 1000; i++ {
		add(users[i%len(users)], "same content\r\n")
	}
	require.Len(t, seen, 1000)

	// Delete everything, then deliver more: no UID may come back.
	for _, u := range users {
		mb := open(t, be, u)
		all := make([]int, len(mb.Messages()))
		for i := range all {
			all[i] = i
		}
		require.NoError(t, mb.Delete(ctx, all))
		require.NoError(t, mb.Close())
		msgs, err := be.Messages(u)
		require.NoError(t, err)
		require.Empty(t, msgs)
	}
	for i := 0; i < 300; i++ {
		add(users[i%len(users)], fmt.Sprintf("message %d\n", i))
	}
	assert.Len(t, seen, 1300)
}

func TestUIDsDifferAcrossBackends(t *testing.T) {
	// A new Backend stands for a restarted process: its first UIDs must not
	// repeat the ones the old one handed out.
	a := newBackend(t, "alice")
	b := newBackend(t, "alice")
	uidA, err := a.AppendMessage("alice", []byte("x\r\n"))
	require.NoError(t, err)
	uidB, err := b.AppendMessage("alice", []byte("x\r\n"))
	require.NoError(t, err)
	assert.NotEqual(t, uidA, uidB)
}

func TestDeterministicUIDs(t *testing.T) {
	for range 2 { // the same in every run
		be := memory.New(memory.DeterministicUIDs())
		require.NoError(t, be.AddUser("alice", "pw"))
		require.NoError(t, be.AddUser("bob", "pw"))
		var got []string
		for _, user := range []string{"alice", "bob", "alice"} {
			uid, err := be.AppendMessage(user, []byte("x\r\n"))
			require.NoError(t, err)
			got = append(got, uid)
		}
		assert.Equal(t, []string{"uid-1", "uid-2", "uid-3"}, got, "numbered across the Backend, never reused")
	}
}

func TestDeliver(t *testing.T) {
	be := newBackend(t, "alice")
	var d pop3.Deliverer = be
	require.NoError(t, d.Deliver(ctx, "alice", strings.NewReader("Subject: x\n\nbody")))
	msgs, err := be.Messages("alice")
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, "Subject: x\r\n\r\nbody\r\n", string(msgs[0].Data), "stored as AppendMessage stores it")

	err = d.Deliver(ctx, "bob", strings.NewReader("x"))
	assert.ErrorIs(t, err, pop3.ErrNoSuchUser)
	assert.ErrorIs(t, err, pop3.ErrNoSuchUser)
	assert.EqualError(t, err, `memory: no such user: "bob"`)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, d.Deliver(cancelled, "alice", strings.NewReader("x")), context.Canceled)
	assert.ErrorContains(t, d.Deliver(ctx, "alice", iotest.ErrReader(errors.New("broken pipe"))), "broken pipe")
	msgs, err = be.Messages("alice")
	require.NoError(t, err)
	assert.Len(t, msgs, 1, "failed deliveries store nothing")
}

func TestUIDsStableAcrossOpens(t *testing.T) {
	be := newBackend(t, "alice")
	var want []string
	for i := 0; i < 5; i++ {
		uid, err := be.AppendMessage("alice", []byte(fmt.Sprintf("m%d\n", i)))
		require.NoError(t, err)
		want = append(want, uid)
	}

	mb := open(t, be, "alice")
	assert.Equal(t, want, uids(mb.Messages()))
	require.NoError(t, mb.Delete(ctx, []int{1}))
	require.NoError(t, mb.Close())

	mb = open(t, be, "alice")
	defer mb.Close()
	assert.Equal(t, []string{want[0], want[2], want[3], want[4]}, uids(mb.Messages()))
	assert.Equal(t, "m2\r\n", string(readAll(t, mb, 1)))
}

func TestLogin(t *testing.T) {
	be := newBackend(t, "alice", "bob")
	tests := []struct {
		name     string
		user     string
		password string
		ok       bool
	}{
		{"right password", "alice", "pw-alice", true},
		{"other user", "bob", "pw-bob", true},
		{"wrong password", "alice", "pw-bob", false},
		{"empty password", "alice", "", false},
		{"password prefix", "alice", "pw-alic", false},
		{"password longer", "alice", "pw-alice ", false},
		{"unknown user", "mallory", "pw-alice", false},
		{"unknown user empty password", "mallory", "", false},
		{"user name case matters", "Alice", "pw-alice", false},
		{"empty user name", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := be.Login(ctx, &pop3.ConnInfo{}, tc.user, tc.password)
			if tc.ok {
				require.NoError(t, err)
				assert.NotNil(t, u)
				return
			}
			// Exactly the sentinel, the same for an unknown user and a
			// wrong password.
			assert.Same(t, pop3.ErrAuthFailed, err)
			assert.Nil(t, u)
		})
	}
}

func TestLoginAPOP(t *testing.T) {
	// The example of RFC 1939 §7.
	const (
		timestamp = "<1896.697170952@dbc.mtview.ca.us>"
		digest    = "c4c9334bac560ecc979e58001b3e22fb"
	)
	be := memory.New()
	require.NoError(t, be.AddUser("mrose", "tanstaaf"))
	var _ pop3.APOPBackend = be

	tests := []struct {
		name      string
		user      string
		timestamp string
		digest    string
		ok        bool
	}{
		{"RFC 1939 vector", "mrose", timestamp, digest, true},
		{"upper-case hex", "mrose", timestamp, strings.ToUpper(digest), true},
		{"wrong digest", "mrose", timestamp, "c4c9334bac560ecc979e58001b3e22fc", false},
		{"empty digest", "mrose", timestamp, "", false},
		{"other timestamp", "mrose", "<1897.697170952@dbc.mtview.ca.us>", digest, false},
		{"unknown user", "mallory", timestamp, digest, false},
		{"unknown user digest of empty secret", "mallory", timestamp, pop3.APOPDigest(timestamp, ""), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := be.LoginAPOP(ctx, &pop3.ConnInfo{}, tc.user, tc.timestamp, tc.digest)
			if tc.ok {
				require.NoError(t, err)
				require.NotNil(t, u)
				mb, err := u.Open(ctx)
				require.NoError(t, err)
				assert.NoError(t, mb.Close())
				return
			}
			assert.Same(t, pop3.ErrAuthFailed, err)
			assert.Nil(t, u)
		})
	}
}

func TestOpenLocksMaildrop(t *testing.T) {
	be := newBackend(t, "alice", "bob")
	mb := open(t, be, "alice")

	// A second session of the same user, through a second login.
	u2, err := be.Login(ctx, &pop3.ConnInfo{}, "alice", "pw-alice")
	require.NoError(t, err)
	mb2, err := u2.Open(ctx)
	assert.ErrorIs(t, err, pop3.ErrMailboxLocked)
	assert.Nil(t, mb2)

	// Another user's maildrop is not affected.
	other := open(t, be, "bob")
	require.NoError(t, other.Close())

	require.NoError(t, mb.Close())
	mb2, err = u2.Open(ctx)
	require.NoError(t, err, "Open must work once the holder has closed")
	require.NoError(t, mb2.Close())
}

func TestDoubleCloseDoesNotUnlockAnotherHolder(t *testing.T) {
	be := newBackend(t, "alice")
	first := open(t, be, "alice")
	require.NoError(t, first.Close())

	second := open(t, be, "alice")
	assert.Error(t, first.Close(), "a second Close must fail")

	u, err := be.Login(ctx, &pop3.ConnInfo{}, "alice", "pw-alice")
	require.NoError(t, err)
	_, err = u.Open(ctx)
	assert.ErrorIs(t, err, pop3.ErrMailboxLocked, "the stale Close must not have released the second holder's lock")

	require.NoError(t, second.Close())
	third, err := u.Open(ctx)
	require.NoError(t, err)
	require.NoError(t, third.Close())
}

func TestMethodsAfterCloseFail(t *testing.T) {
	be := newBackend(t, "alice")
	_, err := be.AppendMessage("alice", []byte("x\n"))
	require.NoError(t, err)
	mb := open(t, be, "alice")
	require.Len(t, mb.Messages(), 1)
	require.NoError(t, mb.Close())

	assert.Empty(t, mb.Messages())
	r, err := mb.Message(ctx, 0)
	assert.Error(t, err)
	assert.Nil(t, r)
	assert.Error(t, mb.Delete(ctx, []int{0}))
	assert.Error(t, mb.Close())

	msgs, err := be.Messages("alice")
	require.NoError(t, err)
	assert.Len(t, msgs, 1, "a Delete after Close must remove nothing")
}

func TestOpenWithCancelledContext(t *testing.T) {
	be := newBackend(t, "alice")
	u, err := be.Login(ctx, &pop3.ConnInfo{}, "alice", "pw-alice")
	require.NoError(t, err)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = u.Open(cctx)
	assert.ErrorIs(t, err, context.Canceled)

	// The failed Open took no lock.
	mb, err := u.Open(ctx)
	require.NoError(t, err)
	require.NoError(t, mb.Close())
}

func TestSnapshotIsolation(t *testing.T) {
	be := newBackend(t, "alice")
	uid1, err := be.AppendMessage("alice", []byte("one\n"))
	require.NoError(t, err)
	uid2, err := be.AppendMessage("alice", []byte("two\n"))
	require.NoError(t, err)

	mb := open(t, be, "alice")
	uid3, err := be.AppendMessage("alice", []byte("three\n"))
	require.NoError(t, err, "delivery must work while the maildrop is locked")

	assert.Equal(t, []string{uid1, uid2}, uids(mb.Messages()), "a message delivered after Open is not in the snapshot")
	_, err = mb.Message(ctx, 2)
	assert.Error(t, err)

	require.NoError(t, mb.Delete(ctx, []int{0, 1}))
	assert.Equal(t, []string{uid1, uid2}, uids(mb.Messages()), "the listing does not change while open")
	require.NoError(t, mb.Close())

	assert.Equal(t, []string{uid3}, storedUIDs(t, be, "alice"), "Delete must leave the message delivered meanwhile")

	mb = open(t, be, "alice")
	defer mb.Close()
	assert.Equal(t, []string{uid3}, uids(mb.Messages()), "the new message shows up at the next Open")
	assert.Equal(t, "three\r\n", string(readAll(t, mb, 0)))
}

func TestMessagesListingIsACopy(t *testing.T) {
	be := newBackend(t, "alice")
	uid, err := be.AppendMessage("alice", []byte("x\n"))
	require.NoError(t, err)
	mb := open(t, be, "alice")
	defer mb.Close()
	infos := mb.Messages()
	require.Len(t, infos, 1)
	infos[0].UID = "changed"
	assert.Equal(t, uid, mb.Messages()[0].UID)
}

func TestDelete(t *testing.T) {
	tests := []struct {
		name    string
		delete  []int
		wantErr bool
		keep    []int // indexes of the appended messages left afterwards
	}{
		{"none", []int{}, false, []int{0, 1, 2, 3}},
		{"first", []int{0}, false, []int{1, 2, 3}},
		{"some", []int{1, 3}, false, []int{0, 2}},
		{"all", []int{0, 1, 2, 3}, false, nil},
		{"duplicate index", []int{2, 2}, false, []int{0, 1, 3}},
		{"out of range removes nothing", []int{0, 4}, true, []int{0, 1, 2, 3}},
		{"negative removes nothing", []int{-1, 1}, true, []int{0, 1, 2, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be := newBackend(t, "alice")
			var all []string
			for i := 0; i < 4; i++ {
				uid, err := be.AppendMessage("alice", []byte(fmt.Sprintf("m%d\n", i)))
				require.NoError(t, err)
				all = append(all, uid)
			}
			mb := open(t, be, "alice")
			err := mb.Delete(ctx, tc.delete)
			if tc.wantErr {
				assert.Error(t, err)
			} else {
				assert.NoError(t, err)
			}
			require.NoError(t, mb.Close())

			want := []string{}
			for _, i := range tc.keep {
				want = append(want, all[i])
			}
			assert.Equal(t, want, storedUIDs(t, be, "alice"))
		})
	}
}

func TestMessageOutOfRange(t *testing.T) {
	be := newBackend(t, "alice")
	_, err := be.AppendMessage("alice", []byte("x\n"))
	require.NoError(t, err)
	mb := open(t, be, "alice")
	defer mb.Close()
	for _, i := range []int{-1, 1, 100} {
		r, err := mb.Message(ctx, i)
		assert.Error(t, err, "index %d", i)
		assert.Nil(t, r, "index %d", i)
	}
}

func TestUnknownUserAndDuplicateUser(t *testing.T) {
	be := newBackend(t, "alice")

	_, err := be.AppendMessage("bob", []byte("x\n"))
	assert.ErrorIs(t, err, pop3.ErrNoSuchUser)
	_, err = be.Messages("bob")
	assert.ErrorIs(t, err, pop3.ErrNoSuchUser)

	assert.ErrorIs(t, be.AddUser("alice", "other"), memory.ErrUserExists)
	// The failed AddUser left the password alone.
	_, err = be.Login(ctx, &pop3.ConnInfo{}, "alice", "pw-alice")
	assert.NoError(t, err)
	_, err = be.Login(ctx, &pop3.ConnInfo{}, "alice", "other")
	assert.Same(t, pop3.ErrAuthFailed, err)
}

func TestConcurrentUse(t *testing.T) {
	const (
		perUser   = 4  // sessions and deliverers sharing each maildrop
		rounds    = 50 // deliveries and open attempts per goroutine
		userCount = 4
	)
	be := memory.New()
	var users []string
	for i := 0; i < userCount; i++ {
		name := fmt.Sprintf("user%d", i)
		require.NoError(t, be.AddUser(name, "pw-"+name))
		users = append(users, name)
	}

	var (
		wg        sync.WaitGroup
		delivered [userCount]atomic.Int64
		deleted   [userCount]atomic.Int64
		holders   [userCount]atomic.Int32
		uidMu     sync.Mutex
		allUIDs   = make(map[string]bool)
	)
	errs := make(chan error, userCount*perUser*rounds*2)
	report := func(format string, args ...any) { errs <- fmt.Errorf(format, args...) }

	for ui, name := range users {
		for g := 0; g < perUser; g++ {
			// A deliverer.
			wg.Add(1)
			go func(ui int, name string, g int) {
				defer wg.Done()
				for r := 0; r < rounds; r++ {
					uid, err := be.AppendMessage(name, []byte(fmt.Sprintf("from %d round %d\n", g, r)))
					if err != nil {
						report("append: %v", err)
						return
					}
					delivered[ui].Add(1)
					uidMu.Lock()
					if allUIDs[uid] {
						report("UID %q given out twice", uid)
					}
					allUIDs[uid] = true
					uidMu.Unlock()
				}
			}(ui, name, g)

			// A session that logs in, opens, reads, deletes every other
			// message and closes; a locked maildrop is a normal outcome.
			wg.Add(1)
			go func(ui int, name string) {
				defer wg.Done()
				for r := 0; r < rounds; r++ {
					u, err := be.Login(ctx, &pop3.ConnInfo{}, name, "pw-"+name)
					if err != nil {
						report("login: %v", err)
						return
					}
					mb, err := u.Open(ctx)
					if err != nil {
						if !errIsLocked(err) {
							report("open: %v", err)
							return
						}
						continue
					}
					if n := holders[ui].Add(1); n != 1 {
						report("%d holders of %s at once", n, name)
					}
					infos := mb.Messages()
					var del []int
					for i, info := range infos {
						rc, err := mb.Message(ctx, i)
						if err != nil {
							report("message: %v", err)
							continue
						}
						data, _ := io.ReadAll(rc)
						_ = rc.Close()
						if int64(len(data)) != info.Size {
							report("size %d, served %d", info.Size, len(data))
						}
						if i%2 == 0 {
							del = append(del, i)
						}
					}
					if len(del) > 0 {
						if err := mb.Delete(ctx, del); err != nil {
							report("delete: %v", err)
						} else {
							deleted[ui].Add(int64(len(del)))
						}
					}
					holders[ui].Add(-1)
					if err := mb.Close(); err != nil {
						report("close: %v", err)
					}
				}
			}(ui, name)
		}
		// Someone inspecting with Messages all the while.
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				if _, err := be.Messages(name); err != nil {
					report("messages: %v", err)
					return
				}
			}
		}(name)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	total := 0
	for ui, name := range users {
		msgs, err := be.Messages(name)
		require.NoError(t, err)
		assert.Equal(t, delivered[ui].Load()-deleted[ui].Load(), int64(len(msgs)), "user %s", name)
		total += int(delivered[ui].Load())
		// Every maildrop is unlocked at the end.
		mb := open(t, be, name)
		require.NoError(t, mb.Close())
	}
	assert.Len(t, allUIDs, total)
}

func errIsLocked(err error) bool {
	return errors.Is(err, pop3.ErrMailboxLocked)
}

// TestBackendContract runs the pop3test contract kit on the backend.
func TestBackendContract(t *testing.T) {
	pop3test.TestBackend(t, func(t *testing.T, accounts []pop3test.Account) pop3.Backend {
		b := memory.New()
		for _, a := range accounts {
			require.NoError(t, b.AddUser(a.Username, a.Password))
			for _, m := range a.Messages {
				_, err := b.AppendMessage(a.Username, m)
				require.NoError(t, err)
			}
		}
		return b
	})
}

func TestUserExists(t *testing.T) {
	b := memory.New()
	require.NoError(t, b.AddUser("alice", "pw"))
	var _ pop3.UserChecker = b
	ok, err := b.UserExists(context.Background(), "alice")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = b.UserExists(context.Background(), "bob")
	require.NoError(t, err)
	assert.False(t, ok)
}
