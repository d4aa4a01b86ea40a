package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/downgrade"
)

// pop3_messages.downgraded_size is what LIST reports for the message to a
// client that has not enabled UTF-8 mode (pop3.MessageInfo.DowngradedSize,
// RFC 6856 §2.1): Deliver stores it with the message, and a NULL, which
// rows delivered before schema version 3 have, is unknown (the server then
// reads the message's header for LIST). Every Backend fills in the NULLs
// in the background (backfill), a batch at a time.

// headerEnd is the blank line that ends a message's header.
var headerEnd = []byte("\r\n\r\n")

// enoughHead reports whether head, the first octets of a message of size
// octets, tells its downgraded size: it holds the whole header, or the
// whole message, or more than the server ever downgrades (a longer
// header it sends as it is).
func enoughHead(head []byte, size int64) bool {
	return bytes.HasPrefix(head, headerEnd[2:]) || bytes.Contains(head, headerEnd) ||
		int64(len(head)) >= size || len(head) > downgrade.MaxHeader
}

// downgradedFromHead returns the downgraded size of a message of size
// octets whose first octets are head, if head tells it (enoughHead).
func downgradedFromHead(head []byte, size int64) (int64, bool) {
	if !enoughHead(head, size) {
		return 0, false
	}
	n, err := pop3.DowngradedSize(bytes.NewReader(head), size)
	return n, err == nil
}

// backfillBatch is how many messages one backfill transaction fills.
const backfillBatch = 200

// backfiller fills in pop3_messages.downgraded_size where it is NULL, in
// a goroutine that Close stops.
type backfiller struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	cancel context.CancelFunc
	done   sync.WaitGroup
}

func (f *backfiller) start() {
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	f.done.Go(func() { f.run(ctx) })
}

func (f *backfiller) stop() {
	f.cancel()
	f.done.Wait()
}

// run fills batches until none is left, or ctx ends. Nodes that run it
// together split the rows (SKIP LOCKED). A failure is logged and retried a
// minute later: until then, LIST reads the headers of the rows left.
func (f *backfiller) run(ctx context.Context) {
	var total int
	var after [2]int64
	started := time.Now()
	for {
		n, next, err := fillBatch(ctx, f.pool, after)
		total += n
		after = next
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			f.logger.Warn("postgres: filling in the downgraded sizes of messages stored before schema version 3 failed; retrying in a minute",
				"filled", total, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Minute):
			}
		case n == 0:
			if total > 0 {
				f.logger.Info("postgres: filled in the downgraded sizes of messages stored before schema version 3",
					"messages", total, "took", time.Since(started).Round(time.Millisecond))
			}
			return
		}
	}
}

// fillBatch fills the downgraded size of up to backfillBatch messages
// after the key (user, uid) of after, in one transaction, and returns how
// many it filled and the key to go on from. Going on from a key, not from
// the start, spares each batch the index entries of the rows filled
// before, which only VACUUM removes.
func fillBatch(ctx context.Context, pool *pgxpool.Pool, after [2]int64) (int, [2]int64, error) {
	var filled int
	err := inTx(ctx, pool, func(tx pgx.Tx) error {
		type row struct{ user, uid, size int64 }
		rows, err := tx.Query(ctx, `SELECT user_id, uid, size FROM pop3_messages
WHERE downgraded_size IS NULL AND (user_id, uid) > ($1, $2)
ORDER BY user_id, uid LIMIT $3 FOR NO KEY UPDATE SKIP LOCKED`, after[0], after[1], backfillBatch)
		if err != nil {
			return err
		}
		var r row
		todo, err := pgx.CollectRows(rows, func(rows pgx.CollectableRow) (row, error) {
			err := rows.Scan(&r.user, &r.uid, &r.size)
			return r, err
		})
		if err != nil {
			return err
		}
		for _, r := range todo {
			head, err := readHead(ctx, tx, r.user, r.uid, r.size)
			if err != nil {
				return err
			}
			// 0 when the chunks cannot tell (some are missing): unknown,
			// as NULL is, and the server reads the header for LIST.
			n, _ := downgradedFromHead(head, r.size)
			if _, err := tx.Exec(ctx, "UPDATE pop3_messages SET downgraded_size = $3 WHERE user_id = $1 AND uid = $2", r.user, r.uid, n); err != nil {
				return err
			}
			after = [2]int64{r.user, r.uid}
		}
		filled = len(todo)
		return nil
	})
	if err != nil {
		return 0, after, fmt.Errorf("postgres: filling in downgraded sizes: %w", err)
	}
	return filled, after, nil
}

// readHead reads a message's chunks in order until they tell its
// downgraded size (enoughHead), whatever their sizes: usually the first
// alone.
func readHead(ctx context.Context, tx pgx.Tx, userID, uid, size int64) ([]byte, error) {
	var head []byte
	for seq := 0; !enoughHead(head, size); seq++ {
		var data []byte
		err := tx.QueryRow(ctx, "SELECT data FROM pop3_chunks WHERE user_id = $1 AND uid = $2 AND seq = $3", userID, uid, seq).Scan(&data)
		if errors.Is(err, pgx.ErrNoRows) {
			return head, nil
		}
		if err != nil {
			return nil, err
		}
		head = append(head, data...)
	}
	return head, nil
}
