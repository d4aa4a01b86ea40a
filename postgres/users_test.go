package postgres_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/postgres"
)

func TestAddUser(t *testing.T) {
	b := newBackend(t, testPool(t, ""))
	good, err := passwd.Hash("SHA512-CRYPT", []byte("pw"))
	require.NoError(t, err)
	require.NoError(t, b.AddUser(ctxFor(t), "Alice", good))
	for _, tc := range []struct {
		name, user, hash string
		want             error
	}{
		{"taken, in another case", "ALICE", good, postgres.ErrUserExists},
		{"unknown scheme", "bob", "{NOSUCH}xyz", passwd.ErrUnknownScheme},
		{"malformed hash", "bob", "{SHA512-CRYPT}$6$broken", passwd.ErrMalformedHash},
		{"no scheme", "bob", "secret", nil},
		{"empty name", "", good, nil},
		{"space in name", "bo b", good, nil},
		{"control character", "bob\x01", good, nil},
		{"too long", strings.Repeat("b", 256), good, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := b.AddUser(ctxFor(t), tc.user, tc.hash)
			require.Error(t, err)
			if tc.want != nil {
				assert.ErrorIs(t, err, tc.want)
			}
		})
	}
	users, err := b.Users(ctxFor(t))
	require.NoError(t, err)
	require.Len(t, users, 1)
	assert.Equal(t, "alice", users[0].Name, "names are stored lower-cased")
}

func TestSetPassword(t *testing.T) {
	b := newBackend(t, testPool(t, ""))
	addUser(t, b, "alice", "PLAIN", "old")
	h, err := passwd.Hash("BLF-CRYPT", []byte("new"))
	require.NoError(t, err)
	require.NoError(t, b.SetPassword(ctxFor(t), "alice", h))
	_, err = b.Login(ctxFor(t), &pop3.ConnInfo{}, "alice", "old")
	assert.ErrorIs(t, err, pop3.ErrAuthFailed)
	_, err = b.Login(ctxFor(t), &pop3.ConnInfo{}, "alice", "new")
	assert.NoError(t, err)
	assert.ErrorIs(t, b.SetPassword(ctxFor(t), "nobody", h), pop3.ErrNoSuchUser)
	assert.ErrorIs(t, b.SetPassword(ctxFor(t), "alice", "{NOSUCH}x"), passwd.ErrUnknownScheme)
}

// DeleteUser is refused by a session that took over an expired lease, and
// not by the expired lease itself.
func TestDeleteUserAfterTakeover(t *testing.T) {
	pool := testPool(t, "")
	dead := newBackend(t, pool, postgres.WithLeaseTime(time.Second))
	live := newBackend(t, pool, postgres.WithLeaseTime(time.Second))
	addUser(t, live, "alice", "PLAIN", "pw", "Subject: x\n\nx\n")
	addUser(t, live, "bob", "PLAIN", "pw")
	for _, u := range []string{"alice", "bob"} {
		_, err := open(t, dead, u, "pw")
		require.NoError(t, err)
	}
	dead.Close() // two expired lock rows remain
	time.Sleep(1200 * time.Millisecond)

	mb, err := open(t, live, "alice", "pw")
	require.NoError(t, err, "the expired lease is taken over")
	assert.ErrorIs(t, live.DeleteUser(ctxFor(t), "alice"), pop3.ErrMailboxLocked)
	require.NoError(t, mb.Close())
	assert.NoError(t, live.DeleteUser(ctxFor(t), "bob"), "an expired lease does not stop DeleteUser")
}

// DeleteUser is refused while the maildrop is open; a user added again
// under the same name gets unique-ids that the old one never had.
func TestDeleteUser(t *testing.T) {
	b := newBackend(t, testPool(t, ""))
	addUser(t, b, "alice", "PLAIN", "pw", "Subject: same\n\nsame\n")
	mb, err := open(t, b, "alice", "pw")
	require.NoError(t, err)
	oldUID := mb.Messages()[0].UID
	assert.ErrorIs(t, b.DeleteUser(ctxFor(t), "alice"), pop3.ErrMailboxLocked)
	require.NoError(t, mb.Close())

	require.NoError(t, b.DeleteUser(ctxFor(t), "ALICE"))
	assert.ErrorIs(t, b.DeleteUser(ctxFor(t), "alice"), pop3.ErrNoSuchUser)
	_, err = b.Login(ctxFor(t), &pop3.ConnInfo{}, "alice", "pw")
	assert.ErrorIs(t, err, pop3.ErrAuthFailed)
	assert.ErrorIs(t, b.Deliver(ctxFor(t), "alice", bytes.NewReader([]byte("x\n"))), pop3.ErrNoSuchUser)

	addUser(t, b, "alice", "PLAIN", "pw", "Subject: same\n\nsame\n")
	mb, err = open(t, b, "alice", "pw")
	require.NoError(t, err)
	require.Len(t, mb.Messages(), 1, "the old mail went with the old user")
	assert.NotEqual(t, oldUID, mb.Messages()[0].UID, "a client that remembers the old unique-id still sees the new message")
	require.NoError(t, mb.Close())
}

func TestUsers(t *testing.T) {
	b := newBackend(t, testPool(t, ""))
	addUser(t, b, "carol", "PLAIN", "pw")
	addUser(t, b, "alice", "PLAIN", "pw", "a\n", "bb\n")
	mb, err := open(t, b, "carol", "pw")
	require.NoError(t, err)
	defer mb.Close()
	users, err := b.Users(ctxFor(t))
	require.NoError(t, err)
	assert.Equal(t, []postgres.UserInfo{
		{Name: "alice", Messages: 2, Size: 3 + 4},
		{Name: "carol", Locked: true},
	}, users)
}

// A deleted user's last login and retrieval times go with the user: a
// user added again under the same name starts afresh. A session of the
// deleted user that is still logged in is told that the user is gone.
func TestDeleteUserRemovesTimes(t *testing.T) {
	pool := testPool(t, "")
	b := newBackend(t, pool)
	addUser(t, b, "alice", "PLAIN", "pw", "Subject: 1\n\none\n")
	u := loginRecorder(t, b, "alice", "pw")
	mb, err := u.Open(ctxFor(t))
	require.NoError(t, err)
	require.NoError(t, u.RecordLogin(ctxFor(t), time.Now()))
	require.NoError(t, mb.(pop3.RetrievalMailbox).Retrieved(ctxFor(t), []int{0}, time.Now()))
	require.NoError(t, mb.Close())

	require.NoError(t, b.DeleteUser(ctxFor(t), "alice"))
	_, err = u.LastLogin(ctxFor(t))
	assert.ErrorIs(t, err, pop3.ErrNoSuchUser)
	assert.ErrorIs(t, u.RecordLogin(ctxFor(t), time.Now()), pop3.ErrNoSuchUser)
	var n int
	require.NoError(t, pool.QueryRow(ctxFor(t), "SELECT count(*) FROM pop3_messages WHERE first_retrieved IS NOT NULL").Scan(&n))
	assert.Zero(t, n)

	addUser(t, b, "alice", "PLAIN", "pw", "Subject: 1\n\none\n")
	u = loginRecorder(t, b, "alice", "pw")
	last, err := u.LastLogin(ctxFor(t))
	require.NoError(t, err)
	assert.True(t, last.IsZero(), "the new user never logged in")
	mb, err = u.Open(ctxFor(t))
	require.NoError(t, err)
	assert.True(t, mb.(pop3.RetrievalMailbox).FirstRetrieved(0).IsZero())
	require.NoError(t, mb.Close())
}

// HasCleartextPassword finds exactly the passwords passwd.Plaintext
// recovers a secret from, also among rows written by other means than
// AddUser (which refuses some of these).
func TestHasCleartextPassword(t *testing.T) {
	pool := testPool(t, "")
	b := newBackend(t, pool)
	for _, stored := range []string{
		"{PLAIN}secret", "{plain}secret", "{Clear}x", "{CLEARTEXT}with:colon", "{PLAIN.B64}c2VjcmV0",
		"{plain.base64}c2VjcmV0", "{PLAIN.HEX}736563726574", "{PLAIN}", "{PLAIN.ROT13}frperg",
		"{PLAIN-MD5}5ebe2294ecd0e0f08eab7690d2a6ee69", "{SHA512-CRYPT}$6$x$y", "$6$x$y", "secret",
		"x{PLAIN}secret", "{PLAINTEXT}secret",
	} {
		_, err := pool.Exec(ctxFor(t), "DELETE FROM pop3_users")
		require.NoError(t, err)
		got, err := b.HasCleartextPassword(ctxFor(t))
		require.NoError(t, err)
		require.False(t, got, "no user")
		_, err = pool.Exec(ctxFor(t), "INSERT INTO pop3_users (name, password) VALUES ('alice', $1)", stored)
		require.NoError(t, err)
		got, err = b.HasCleartextPassword(ctxFor(t))
		require.NoError(t, err)
		_, want := passwd.Plaintext(stored)
		assert.Equal(t, want, got, "%q", stored)
	}
}
