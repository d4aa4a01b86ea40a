package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/pgtest"
	"github.com/gopop3/pop3/postgres"
)

// downgradedMessages cover the cases of where a header ends: an ASCII
// one, an internationalized one, none at all, a header longer than a
// chunk, and one longer than the server ever downgrades.
func downgradedMessages() []string {
	filler := func(n int) string {
		return strings.Repeat("X-Filler: "+strings.Repeat("z", 88)+"\r\n", n)
	}
	return []string{
		"Subject: plain\r\n\r\nbody\r\n",
		"From: Jöran <joran@example.se>\r\nSubject: Grüße\r\n\r\nТело.\r\n",
		"\r\nno header\r\n",
		"Subject: Grüße\r\n" + filler(1000) + "\r\n" + strings.Repeat("body\r\n", 20000),
		"Subject: Grüße\r\n" + filler(3000) + "\r\nbody\r\n",
		"",
	}
}

func wantDowngraded(t testing.TB, msg string) int64 {
	n, err := pop3.DowngradedSize(strings.NewReader(msg), int64(len(msg)))
	require.NoError(t, err)
	return n
}

// Deliver stores each message's downgraded size, which the listing gives.
func TestDeliverStoresDowngradedSize(t *testing.T) {
	b := newBackend(t, testPool(t, ""))
	msgs := downgradedMessages()
	addUser(t, b, "alice", "PLAIN", "pw", msgs...)
	mb, err := open(t, b, "alice", "pw")
	require.NoError(t, err)
	defer mb.Close()
	infos := mb.Messages()
	require.Len(t, infos, len(msgs))
	for i, m := range msgs {
		if m == "" {
			assert.Zero(t, infos[i].DowngradedSize, "an empty message: 0, nothing to read")
			continue
		}
		assert.Equal(t, wantDowngraded(t, m), infos[i].DowngradedSize, "message %d", i+1)
	}
	assert.Greater(t, infos[1].DowngradedSize, infos[1].Size)
}

// Rows stored before schema version 3 have no downgraded size: after the
// migration, a Backend fills them in in the background, and the listing
// gives them from then on. alice's messages are stored as Deliver stores
// them; bob's in chunks of 1000 octets, as an import in SQL might; carol
// has a message whose chunks are missing, whose size stays unknown (0).
func TestBackfillDowngradedSizes(t *testing.T) {
	pool, err := postgres.Connect(ctxFor(t), pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = postgres.MigrateTo(ctxFor(t), pool, 2)
	require.NoError(t, err)
	msgs := downgradedMessages()
	store := func(user string, chunkSize int, msgs []string) {
		var id int64
		require.NoError(t, pool.QueryRow(ctxFor(t), "INSERT INTO pop3_users (name, password, next_uid) VALUES ($1, '{PLAIN}pw', $2) RETURNING id",
			user, len(msgs)+1).Scan(&id))
		for i, m := range msgs {
			chunks := (len(m) + chunkSize - 1) / chunkSize
			_, err := pool.Exec(ctxFor(t), "INSERT INTO pop3_messages (user_id, uid, size, chunks) VALUES ($1, $2, $3, $4)", id, i+1, len(m), chunks)
			require.NoError(t, err)
			for seq := range chunks {
				_, err := pool.Exec(ctxFor(t), "INSERT INTO pop3_chunks (user_id, uid, seq, data) VALUES ($1, $2, $3, $4)",
					id, i+1, seq, []byte(m[seq*chunkSize:min((seq+1)*chunkSize, len(m))]))
				require.NoError(t, err)
			}
		}
	}
	store("alice", postgres.ChunkSize, msgs)
	store("bob", 1000, msgs)
	_, err = pool.Exec(ctxFor(t), `INSERT INTO pop3_users (name, password, next_uid) VALUES ('carol', '{PLAIN}pw', 2);
INSERT INTO pop3_messages (user_id, uid, size, chunks) SELECT id, 1, 5000, 3 FROM pop3_users WHERE name = 'carol'`)
	require.NoError(t, err)

	_, err = postgres.Migrate(ctxFor(t), pool)
	require.NoError(t, err)
	unknown := func() int {
		var n int
		require.NoError(t, pool.QueryRow(ctxFor(t), "SELECT count(*) FROM pop3_messages WHERE downgraded_size IS NULL").Scan(&n))
		return n
	}
	require.Equal(t, 2*len(msgs)+1, unknown(), "the migration adds the column empty")

	b := newBackend(t, pool)
	require.Eventually(t, func() bool { return unknown() == 0 }, time.Minute, 20*time.Millisecond, "the backend fills every row in")
	for _, user := range []string{"alice", "bob"} {
		mb, err := open(t, b, user, "pw")
		require.NoError(t, err)
		for i, info := range mb.Messages() {
			assert.Equal(t, wantDowngraded(t, msgs[i]), info.DowngradedSize, "%s's message %d", user, i+1)
		}
		require.NoError(t, mb.Close())
	}
	mb, err := open(t, b, "carol", "pw")
	require.NoError(t, err)
	assert.Zero(t, mb.Messages()[0].DowngradedSize, "chunks missing: unknown")
	require.NoError(t, mb.Close())
}
