package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/postgres"
)

// Two Backends on one database are two nodes: a maildrop open on one is
// locked on the other until it is closed.
func TestLeaseAcrossNodes(t *testing.T) {
	pool := testPool(t, "")
	node1 := newBackend(t, pool, postgres.WithNodeName("node1"))
	node2 := newBackend(t, pool, postgres.WithNodeName("node2"))
	addUser(t, node1, "alice", "PLAIN", "pw", "Subject: 1\n\none\n")
	addUser(t, node1, "bob", "PLAIN", "pw")

	mb, err := open(t, node1, "alice", "pw")
	require.NoError(t, err)
	_, err = open(t, node2, "alice", "pw")
	assert.ErrorIs(t, err, pop3.ErrMailboxLocked)
	_, err = open(t, node1, "alice", "pw")
	assert.ErrorIs(t, err, pop3.ErrMailboxLocked, "a second session on the same node")
	other, err := open(t, node2, "bob", "pw")
	require.NoError(t, err, "other users are not affected")
	require.NoError(t, other.Close())

	require.NoError(t, mb.Close())
	mb2, err := open(t, node2, "alice", "pw")
	require.NoError(t, err, "Close frees the lock for every node")
	require.NoError(t, mb2.Close())
}

// A lease is renewed while the maildrop is open, however long that is.
func TestLeaseRenewed(t *testing.T) {
	pool := testPool(t, "")
	node1 := newBackend(t, pool, postgres.WithLeaseTime(2*time.Second))
	node2 := newBackend(t, pool, postgres.WithLeaseTime(2*time.Second))
	addUser(t, node1, "alice", "PLAIN", "pw", "Subject: 1\n\none\n", "Subject: 2\n\ntwo\n")
	mb, err := open(t, node1, "alice", "pw")
	require.NoError(t, err)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		_, err := open(t, node2, "alice", "pw")
		require.ErrorIs(t, err, pop3.ErrMailboxLocked, "two and a half lease times later, still locked")
	}
	require.NoError(t, mb.Delete(ctxFor(t), []int{0}), "the renewed lease still allows UPDATE")
	require.NoError(t, mb.Close())
	mb, err = open(t, node2, "alice", "pw")
	require.NoError(t, err)
	assert.Len(t, mb.Messages(), 1)
	require.NoError(t, mb.Close())
}

// A node that dies stops renewing: its users' locks free themselves when
// the lease expires, and the maildrop is whole.
func TestLeaseExpiresWhenNodeDies(t *testing.T) {
	pool := testPool(t, "")
	dead := newBackend(t, pool, postgres.WithLeaseTime(time.Second))
	live := newBackend(t, pool, postgres.WithLeaseTime(time.Second))
	addUser(t, live, "alice", "PLAIN", "pw", "Subject: 1\n\none\n")
	_, err := open(t, dead, "alice", "pw")
	require.NoError(t, err)
	dead.Close() // renewals stop, the mailbox is never closed: as after kill -9

	start := time.Now()
	var mb pop3.Mailbox
	for {
		mb, err = open(t, live, "alice", "pw")
		if !errors.Is(err, pop3.ErrMailboxLocked) {
			break
		}
		require.Less(t, time.Since(start), 5*time.Second, "the lock never freed")
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, err)
	t.Logf("the dead node's lock freed after %v (lease 1s)", time.Since(start).Round(time.Millisecond))
	assert.Len(t, mb.Messages(), 1)
	require.NoError(t, mb.Close())
}

// A session whose lease expired (its node paused past the lease) deletes
// nothing at QUIT and says so, whether or not another session took the
// maildrop meanwhile.
func TestLostLeaseDeletesNothing(t *testing.T) {
	for _, takenOver := range []bool{false, true} {
		name := map[bool]string{false: "expired", true: "taken over"}[takenOver]
		t.Run(name, func(t *testing.T) {
			pool := testPool(t, "")
			paused := newBackend(t, pool, postgres.WithLeaseTime(time.Second))
			other := newBackend(t, pool, postgres.WithLeaseTime(time.Second))
			addUser(t, other, "alice", "PLAIN", "pw", "Subject: 1\n\none\n", "Subject: 2\n\ntwo\n")
			mb, err := open(t, paused, "alice", "pw")
			require.NoError(t, err)
			paused.Close() // no more renewals: the node is paused
			time.Sleep(1500 * time.Millisecond)
			if takenOver {
				mb2, err := open(t, other, "alice", "pw")
				require.NoError(t, err)
				t.Cleanup(func() { mb2.Close() })
			}

			err = mb.Delete(ctxFor(t), []int{0, 1})
			require.ErrorIs(t, err, postgres.ErrLeaseLost)
			var perr *pop3.Error
			require.ErrorAs(t, err, &perr, "the client is told")
			assert.Equal(t, pop3.CodeSysTemp, perr.Code)
			assert.Contains(t, perr.Text, "nothing was deleted")
			require.NoError(t, mb.Close())

			users, err := other.Users(ctxFor(t))
			require.NoError(t, err)
			require.Len(t, users, 1)
			assert.EqualValues(t, 2, users[0].Messages, "nothing was deleted")
		})
	}
}

// The lease is checked in the deleting transaction itself: a lease the
// database no longer has as this session's (another holder's, or expired
// by the database's clock) refuses the delete even when the local clock
// still trusts it.
func TestDeleteChecksLeaseInDatabase(t *testing.T) {
	for _, tc := range []struct{ name, change string }{
		{"taken", "UPDATE pop3_locks SET holder = 'someone else'"},
		{"expired", "UPDATE pop3_locks SET expires_at = now() - interval '1 second'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := testPool(t, "")
			b := newBackend(t, pool)
			addUser(t, b, "alice", "PLAIN", "pw", "Subject: 1\n\none\n")
			mb, err := open(t, b, "alice", "pw")
			require.NoError(t, err)
			_, err = pool.Exec(ctxFor(t), tc.change)
			require.NoError(t, err)
			assert.ErrorIs(t, mb.Delete(ctxFor(t), []int{0}), postgres.ErrLeaseLost)
			require.NoError(t, mb.Close())
			var n int
			require.NoError(t, pool.QueryRow(ctxFor(t), "SELECT count(*) FROM pop3_messages").Scan(&n))
			assert.Equal(t, 1, n, "nothing deleted")
		})
	}
}

// Many sessions racing for one maildrop on several nodes: exactly one wins.
func TestLeaseRace(t *testing.T) {
	pool := testPool(t, "")
	nodes := []*postgres.Backend{newBackend(t, pool), newBackend(t, pool), newBackend(t, pool)}
	addUser(t, nodes[0], "alice", "PLAIN", "pw")
	users := make([]pop3.User, 30)
	for i := range users {
		u, err := nodes[i%3].Login(ctxFor(t), &pop3.ConnInfo{}, "alice", "pw")
		require.NoError(t, err)
		users[i] = u
	}
	results := make(chan error, len(users))
	boxes := make(chan pop3.Mailbox, len(users))
	for _, u := range users {
		go func() {
			mb, err := u.Open(ctxFor(t))
			if err == nil {
				boxes <- mb
			}
			results <- err
		}()
	}
	won := 0
	for range users {
		err := <-results
		if err == nil {
			won++
		} else {
			assert.ErrorIs(t, err, pop3.ErrMailboxLocked)
		}
	}
	assert.Equal(t, 1, won)
	close(boxes)
	for mb := range boxes {
		require.NoError(t, mb.Close())
	}
}
