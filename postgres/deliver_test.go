package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/pop3test"
	"github.com/gopop3/pop3/postgres"
)

// lines yields size octets of numbered 76-character lines with LF ends,
// made as they are read: the test holds no copy of the message.
type lines struct {
	size, off int64
	pending   []byte
	n         int
}

func (l *lines) Read(p []byte) (int, error) {
	if l.off >= l.size {
		return 0, io.EOF
	}
	if len(l.pending) == 0 {
		l.pending = fmt.Appendf(nil, "%08d %s\n", l.n, strings.Repeat("x", 67))
		l.n++
	}
	n := copy(p, l.pending[:min(int64(len(l.pending)), l.size-l.off)])
	l.pending = l.pending[n:]
	l.off += int64(n)
	return n, nil
}

// peakHeap runs f while sampling the live heap, as the collector measured
// it at the end of a collection it is made to run every few milliseconds
// (so garbage made since is not counted), and returns how far it rose
// above what it was before f.
func peakHeap(f func()) uint64 {
	live := func() uint64 {
		runtime.GC()
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	base := live()
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			peak = max(peak, live())
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	if peak < base {
		return 0
	}
	return peak - base
}

// A 50 MB message goes in and out holding about one chunk of it in memory
// at a time: Deliver reads it chunk by chunk, RETR fetches it chunk by
// chunk.
func TestFiftyMegabytesStream(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB through PostgreSQL")
	}
	const size = 50 << 20
	b := newBackend(t, testPool(t, ""))
	addUser(t, b, "alice", "PLAIN", "pw", "Subject: warm-up\n\nconnections and buffers made before measuring\n")

	deliverPeak := peakHeap(func() {
		require.NoError(t, b.Deliver(ctxFor(t), "alice", &lines{size: size}))
	})
	srv := pop3test.NewServer(t, b)
	c := srv.Dial()
	c.Login("alice", "pw")
	c.OK("RETR 1")
	smallPeak := peakHeap(func() { c.OK("RETR 1") })
	var got int64
	retrPeak := peakHeap(func() {
		c.Send("RETR 2")
		require.True(t, c.ReadReply().OK)
		got = c.CopyBody(io.Discard)
	})
	c.Quit()
	assert.EqualValues(t, size+size/77+2, got, "every LF became CRLF, and the last line got one")
	t.Logf("50 MB message: live heap rose by %.2f MiB during Deliver, %.2f MiB during RETR (%.2f MiB for a RETR of 60 octets; chunks of %d KiB)",
		float64(deliverPeak)/(1<<20), float64(retrPeak)/(1<<20), float64(smallPeak)/(1<<20), postgres.ChunkSize>>10)
	assert.Less(t, deliverPeak, uint64(3<<20), "Deliver holds about a chunk")
	assert.Less(t, retrPeak, uint64(3<<20), "RETR holds about a chunk")
}

// Concurrent deliveries to one user get distinct unique-ids, listed in
// the order they committed.
func TestDeliverConcurrently(t *testing.T) {
	b := newBackend(t, testPool(t, ""))
	addUser(t, b, "alice", "PLAIN", "pw")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 {
				assert.NoError(t, b.Deliver(context.Background(), "alice", strings.NewReader(fmt.Sprintf("Subject: %d-%d\n\n", g, i))))
			}
		})
	}
	wg.Wait()
	mb, err := open(t, b, "alice", "pw")
	require.NoError(t, err)
	defer mb.Close()
	seen := map[string]bool{}
	last := 0
	for _, m := range mb.Messages() {
		assert.False(t, seen[m.UID], "unique-id %s twice", m.UID)
		seen[m.UID] = true
		_, n, _ := strings.Cut(m.UID, ".")
		uid, err := strconv.Atoi(n)
		require.NoError(t, err, m.UID)
		assert.Greater(t, uid, last, "listed in uid order")
		last = uid
	}
	assert.Len(t, seen, 80)
	assert.Equal(t, 80, last, "no uid skipped: each delivery took the next")
}

// A delivery that fails part-way stores nothing and uses no unique-id.
func TestDeliverFailsWhole(t *testing.T) {
	b := newBackend(t, testPool(t, ""))
	addUser(t, b, "alice", "PLAIN", "pw")
	broken := io.MultiReader(&lines{size: 3 * postgres.ChunkSize}, iotest.ErrReader(errors.New("connection reset")))
	err := b.Deliver(ctxFor(t), "alice", broken)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection reset")
	assert.Contains(t, err.Error(), "nothing stored")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.Error(t, b.Deliver(ctx, "alice", strings.NewReader("x\n")))

	require.NoError(t, b.Deliver(ctxFor(t), "alice", strings.NewReader("Subject: ok\n\n")))
	mb, err := open(t, b, "alice", "pw")
	require.NoError(t, err)
	defer mb.Close()
	require.Len(t, mb.Messages(), 1)
	assert.True(t, strings.HasSuffix(mb.Messages()[0].UID, ".1"), "the failed deliveries used no uid: %s", mb.Messages()[0].UID)
	r, err := mb.Message(ctxFor(t), 0)
	require.NoError(t, err)
	body, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "Subject: ok\r\n\r\n", string(body))
}

// Messages of every size round-trip across chunk boundaries, CRLF-exact.
func TestChunkBoundaries(t *testing.T) {
	b := newBackend(t, testPool(t, ""))
	addUser(t, b, "alice", "PLAIN", "pw")
	sizes := []int{0, 1, postgres.ChunkSize - 1, postgres.ChunkSize, postgres.ChunkSize + 1, 2*postgres.ChunkSize + 7}
	var want [][]byte
	for _, n := range sizes {
		msg := bytes.Repeat([]byte("a\r\n"), n/3+1)[:n]
		require.NoError(t, b.Deliver(ctxFor(t), "alice", bytes.NewReader(msg)))
		var crlf bytes.Buffer
		_, err := io.Copy(&crlf, pop3.NewCRLFReader(bytes.NewReader(msg)))
		require.NoError(t, err)
		want = append(want, crlf.Bytes())
	}
	mb, err := open(t, b, "alice", "pw")
	require.NoError(t, err)
	defer mb.Close()
	for i, info := range mb.Messages() {
		r, err := mb.Message(ctxFor(t), i)
		require.NoError(t, err)
		got, err := io.ReadAll(r)
		require.NoError(t, err)
		require.NoError(t, r.Close())
		assert.Equal(t, want[i], got, "message of %d octets", sizes[i])
		assert.EqualValues(t, len(want[i]), info.Size)
	}
}
