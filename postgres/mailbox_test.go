package postgres_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/postgres"
)

// openRetrieval opens name's maildrop as a RetrievalMailbox.
func openRetrieval(t *testing.T, b pop3.Backend, name, password string) pop3.RetrievalMailbox {
	t.Helper()
	mb, err := open(t, b, name, password)
	require.NoError(t, err)
	rm, ok := mb.(pop3.RetrievalMailbox)
	require.True(t, ok, "a mailbox is a pop3.RetrievalMailbox")
	return rm
}

// firstRetrieved returns the snapshot's times of all messages.
func firstRetrieved(mb pop3.RetrievalMailbox) []time.Time {
	ts := make([]time.Time, len(mb.Messages()))
	for i := range ts {
		ts[i] = mb.FirstRetrieved(i)
	}
	return ts
}

// Retrieval times are kept in the database, across sessions and restarts;
// the first one recorded for a message stays.
func TestRetrieved(t *testing.T) {
	pool := testPool(t, "")
	b := newBackend(t, pool)
	addUser(t, b, "alice", "PLAIN", "pw", "Subject: 1\n\none\n", "Subject: 2\n\ntwo\n", "Subject: 3\n\nthree\n", "Subject: 4\n\nfour\n")
	addUser(t, b, "bob", "PLAIN", "pw", "Subject: 1\n\none\n")
	var never time.Time

	mb := openRetrieval(t, b, "alice", "pw")
	assert.Equal(t, []time.Time{never, never, never, never}, firstRetrieved(mb))
	t1 := time.Date(2025, 10, 26, 2, 30, 0, 999999999, time.FixedZone("CET", 3600))
	t1db := time.Date(2025, 10, 26, 1, 30, 0, 999999000, time.UTC) // to the microsecond, in UTC
	require.NoError(t, mb.Retrieved(ctxFor(t), nil, t1), "nothing to record")
	require.NoError(t, mb.Retrieved(ctxFor(t), []int{0, 2}, t1))
	assert.Equal(t, []time.Time{t1db, never, t1db, never}, firstRetrieved(mb), "the session's own record")
	require.NoError(t, mb.Close())
	require.NoError(t, b.Close())

	restarted := newBackend(t, pool)
	mb = openRetrieval(t, restarted, "alice", "pw")
	assert.Equal(t, []time.Time{t1db, never, t1db, never}, firstRetrieved(mb), "read back at Open")
	t2 := t1db.Add(48 * time.Hour)
	require.NoError(t, mb.Retrieved(ctxFor(t), []int{0, 1, 2}, t2))
	assert.Equal(t, []time.Time{t1db, t2, t1db, never}, firstRetrieved(mb), "the earlier times are kept")
	t0 := t1db.Add(-time.Hour)
	require.NoError(t, mb.Retrieved(ctxFor(t), []int{0}, t0))
	assert.Equal(t, t1db, mb.FirstRetrieved(0), "a time recorded is never replaced, even by an earlier one")
	require.NoError(t, mb.Delete(ctxFor(t), []int{2}))
	require.NoError(t, mb.Close())

	mb = openRetrieval(t, restarted, "alice", "pw")
	assert.Equal(t, []time.Time{t1db, t2, never}, firstRetrieved(mb), "message 3 deleted, the others kept theirs")
	require.NoError(t, mb.Close())
	mb = openRetrieval(t, restarted, "bob", "pw")
	assert.Equal(t, []time.Time{never}, firstRetrieved(mb), "other users are not affected")
	require.NoError(t, mb.Close())
}

// Retrieved does not need the lease, unlike Delete: a session whose lease
// was taken over still records what its client received, without undoing
// what the session now holding the maildrop records. When both record the
// same messages at once, each message keeps exactly one of the two times,
// and each session's snapshot shows the times it did record.
func TestRetrievedLeaseLostConcurrent(t *testing.T) {
	pool := testPool(t, "")
	node1 := newBackend(t, pool, postgres.WithNodeName("node1"))
	node2 := newBackend(t, pool, postgres.WithNodeName("node2"))
	msgs := make([]string, 60)
	for i := range msgs {
		msgs[i] = "Subject: m\n\nm\n"
	}
	addUser(t, node1, "alice", "PLAIN", "pw", msgs...)
	all := make([]int, len(msgs))
	for i := range all {
		all[i] = i
	}

	for round := range 5 {
		_, err := pool.Exec(ctxFor(t), "UPDATE pop3_messages SET first_retrieved = NULL")
		require.NoError(t, err)
		lost := openRetrieval(t, node1, "alice", "pw")
		_, err = pool.Exec(ctxFor(t), "UPDATE pop3_locks SET expires_at = now() - interval '1 second'")
		require.NoError(t, err)
		holder := openRetrieval(t, node2, "alice", "pw")

		t1 := time.Date(2026, 1, 1, 0, 0, round, 0, time.UTC)
		t2 := t1.Add(time.Hour)
		var wg sync.WaitGroup
		wg.Go(func() { assert.NoError(t, lost.Retrieved(ctxFor(t), all, t1), "the lease is not needed") })
		wg.Go(func() { assert.NoError(t, holder.Retrieved(ctxFor(t), all, t2)) })
		wg.Wait()
		assert.ErrorIs(t, lost.Delete(ctxFor(t), []int{0}), postgres.ErrLeaseLost, "deleting still needs it")

		require.NoError(t, lost.Close())
		require.NoError(t, holder.Close())
		fresh := openRetrieval(t, node1, "alice", "pw")
		won := map[time.Time]int{}
		for i, got := range firstRetrieved(fresh) {
			won[got]++
			switch got {
			case t1:
				assert.Equal(t, t1, lost.FirstRetrieved(i), "message %d", i)
				assert.Zero(t, holder.FirstRetrieved(i), "message %d", i)
			case t2:
				assert.Equal(t, t2, holder.FirstRetrieved(i), "message %d", i)
				assert.Zero(t, lost.FirstRetrieved(i), "message %d", i)
			default:
				t.Errorf("message %d: first retrieved %v, want %v or %v", i, got, t1, t2)
			}
		}
		t.Logf("round %d: the lost session recorded %d messages, the holder %d", round, won[t1], won[t2])
		require.Len(t, fresh.Messages(), len(msgs), "nothing deleted")
		require.NoError(t, fresh.Close())
	}
}
