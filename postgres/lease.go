package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gopop3/pop3"
)

// ErrLeaseLost is wrapped by the error of a Delete whose session no longer
// holds its maildrop's lease: it was not renewed in time (the node paused,
// or lost the database), so another session may hold the maildrop now, and
// nothing was deleted.
var ErrLeaseLost = errors.New("postgres: maildrop lease lost")

// lease is one open maildrop's lock.
type lease struct {
	userID int64
	holder string

	mu         sync.Mutex
	validUntil time.Time // local clock: start of the last renewal + the lease time
	lost       bool
}

// valid reports whether the lease is still ours by the local clock, which
// keeps running while the process is stopped (SIGSTOP, a long GC pause):
// a node that resumes after the expiry knows its lease is gone before it
// asks. The clock stops while the whole machine is suspended, so this is a
// shortcut only; the database's own check in confirm is what makes a
// delete safe.
func (l *lease) valid() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.lost && time.Now().Before(l.validUntil)
}

// renewed records a renewal sent at sent.
func (l *lease) renewed(sent time.Time, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.lost {
		l.validUntil = sent.Add(d)
	}
}

// markLost records that the lease is gone; it reports whether it was not
// known before.
func (l *lease) markLost() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	was := l.lost
	l.lost = true
	return !was
}

// leases takes, renews and releases a Backend's maildrop locks.
type leases struct {
	pool     *pgxpool.Pool
	duration time.Duration
	logger   *slog.Logger

	mu   sync.Mutex
	held map[*lease]struct{}

	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

func newLeases(pool *pgxpool.Pool, d time.Duration) *leases {
	return &leases{pool: pool, duration: d, held: make(map[*lease]struct{}),
		done: make(chan struct{}), stopped: make(chan struct{})}
}

// seconds is the lease time as PostgreSQL's make_interval takes it.
func (ls *leases) seconds() float64 { return ls.duration.Seconds() }

// acquire takes the lock of userID's maildrop, or returns
// pop3.ErrMailboxLocked when a live lease of any node holds it. One
// statement does it, so two nodes cannot both win: the row is inserted, or
// taken over only when its lease has expired.
func (ls *leases) acquire(ctx context.Context, userID int64, node string) (*lease, error) {
	l := &lease{userID: userID, holder: node + "/" + rand.Text()[:16]}
	sent := time.Now()
	tag, err := ls.pool.Exec(ctx, `
INSERT INTO pop3_locks AS l (user_id, holder, expires_at)
VALUES ($1, $2, now() + make_interval(secs => $3))
ON CONFLICT (user_id) DO UPDATE
	SET holder = excluded.holder, taken_at = now(), expires_at = excluded.expires_at
	WHERE l.expires_at <= now()`, userID, l.holder, ls.seconds())
	if err != nil {
		// The statement may have taken the lock before the error (a
		// cancelled context, a broken connection): give it back, or the
		// user is locked out until the lease expires.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
		defer cancel()
		_, _ = ls.pool.Exec(cctx, "DELETE FROM pop3_locks WHERE user_id = $1 AND holder = $2", userID, l.holder)
		return nil, fmt.Errorf("postgres: locking the maildrop: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil, pop3.ErrMailboxLocked
	}
	l.validUntil = sent.Add(ls.duration)
	ls.mu.Lock()
	ls.held[l] = struct{}{}
	ls.mu.Unlock()
	return l, nil
}

// release drops the lock, if it is still ours, with a context of its own:
// the session's may be cancelled already.
func (ls *leases) release(l *lease) error {
	ls.mu.Lock()
	delete(ls.held, l)
	ls.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := ls.pool.Exec(ctx, "DELETE FROM pop3_locks WHERE user_id = $1 AND holder = $2", l.userID, l.holder)
	if err != nil {
		return fmt.Errorf("postgres: unlocking the maildrop (it frees itself when the lease expires): %w", err)
	}
	return nil
}

// holds reports whether l is open (not released).
func (ls *leases) holds(l *lease) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	_, ok := ls.held[l]
	return ok
}

// confirm extends l within tx and takes its row lock until tx ends, so that
// no other session can take the maildrop while tx deletes. It fails with
// ErrLeaseLost when the lease has expired or belongs to another session.
func (ls *leases) confirm(ctx context.Context, tx pgx.Tx, l *lease) error {
	if !l.valid() {
		return ErrLeaseLost
	}
	tag, err := tx.Exec(ctx, `
UPDATE pop3_locks SET expires_at = now() + make_interval(secs => $3)
WHERE user_id = $1 AND holder = $2 AND expires_at > now()`, l.userID, l.holder, ls.seconds())
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		l.markLost()
		return ErrLeaseLost
	}
	return nil
}

// start runs the renewer until stop.
func (ls *leases) start() { go ls.renewLoop() }

// stop ends the renewer and waits for it.
func (ls *leases) stop() {
	ls.once.Do(func() { close(ls.done) })
	<-ls.stopped
}

// renewLoop renews every held lease each third of the lease time, in one
// statement for all of them, so that a node's load on the database does
// not grow with its sessions.
func (ls *leases) renewLoop() {
	defer close(ls.stopped)
	t := time.NewTicker(ls.duration / 3)
	defer t.Stop()
	for {
		select {
		case <-ls.done:
			return
		case <-t.C:
			ls.renew()
		}
	}
}

// renew renews the held leases; those the database no longer has as ours
// are lost.
func (ls *leases) renew() {
	ls.mu.Lock()
	held := make([]*lease, 0, len(ls.held))
	for l := range ls.held {
		held = append(held, l)
	}
	ls.mu.Unlock()
	if len(held) == 0 {
		return
	}
	ids := make([]int64, len(held))
	holders := make([]string, len(held))
	for i, l := range held {
		ids[i], holders[i] = l.userID, l.holder
	}
	ctx, cancel := context.WithTimeout(context.Background(), ls.duration/3)
	defer cancel()
	sent := time.Now()
	rows, err := ls.pool.Query(ctx, `
UPDATE pop3_locks AS l SET expires_at = now() + make_interval(secs => $3)
FROM unnest($1::bigint[], $2::text[]) AS h (user_id, holder)
WHERE l.user_id = h.user_id AND l.holder = h.holder AND l.expires_at > now()
RETURNING l.holder`, ids, holders, ls.seconds())
	if err != nil {
		ls.logger.Warn("postgres: renewing maildrop leases failed; they expire unless a later renewal succeeds", "leases", len(held), "err", err)
		return
	}
	renewed, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		ls.logger.Warn("postgres: renewing maildrop leases failed; they expire unless a later renewal succeeds", "leases", len(held), "err", err)
		return
	}
	ok := make(map[string]bool, len(renewed))
	for _, h := range renewed {
		ok[h] = true
	}
	for _, l := range held {
		if ok[l.holder] {
			l.renewed(sent, ls.duration)
		} else if ls.holds(l) && l.markLost() {
			ls.logger.Warn("postgres: maildrop lease lost: this session will delete nothing", "user_id", l.userID, "holder", l.holder)
		}
	}
}
