package postgres_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/pop3test"
)

// Two thousand sessions logged in and idle at once, served by a pool of
// 20 connections: an idle session holds none.
func TestIdleSessionsHoldNoConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 sessions")
	}
	const sessions = 2000
	pool := testPool(t, "&pool_max_conns=20")
	require.EqualValues(t, 20, pool.Config().MaxConns)
	b := newBackend(t, pool)
	parallel(t, sessions, func(i int) error {
		name := fmt.Sprintf("user%04d", i)
		if err := b.AddUser(ctxFor(t), name, "{PLAIN}pw"); err != nil {
			return err
		}
		return b.Deliver(ctxFor(t), name, strings.NewReader("Subject: hi\n\nhello\n"))
	})
	srv := pop3test.NewServer(t, b, pop3test.WithConfig(func(s *pop3.Server) { s.MaxConnectionsPerIP = 2 * sessions }))

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	clients := make([]*pop3test.Client, sessions)
	parallel(t, sessions, func(i int) error {
		c := srv.Dial()
		c.Login(fmt.Sprintf("user%04d", i), "pw")
		if r := c.Cmd("STAT"); r.Text != "1 22" {
			return fmt.Errorf("STAT = %q", r.Text)
		}
		clients[i] = c
		return nil
	})
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)

	stat := pool.Stat()
	for deadline := time.Now().Add(2 * time.Second); stat.AcquiredConns() > 0 && time.Now().Before(deadline); stat = pool.Stat() {
		time.Sleep(10 * time.Millisecond) // a lease renewal may hold one for a moment
	}
	assert.Zero(t, stat.AcquiredConns(), "idle sessions hold no connection")
	assert.LessOrEqual(t, stat.TotalConns(), int32(20))
	var locks int
	require.NoError(t, pool.QueryRow(ctxFor(t), "SELECT count(*) FROM pop3_locks").Scan(&locks))
	assert.Equal(t, sessions, locks, "every session holds its lease")
	t.Logf("%d idle sessions on %d connections: %.1f KiB of heap per session (server and test client together)",
		sessions, stat.TotalConns(), float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc))/sessions/1024)

	parallel(t, sessions, func(i int) error {
		clients[i].OK("RETR 1")
		clients[i].Quit()
		return nil
	})
	require.NoError(t, pool.QueryRow(ctxFor(t), "SELECT count(*) FROM pop3_locks").Scan(&locks))
	assert.Zero(t, locks, "QUIT released every lease")
}

// parallel runs f(0) to f(n-1) on 32 goroutines and fails the test on the
// first error.
func parallel(t *testing.T, n int, f func(i int) error) {
	t.Helper()
	next := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
