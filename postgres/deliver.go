package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/passwd"
)

// ChunkSize is the most octets of a message stored in one row, read into
// memory at once by Deliver and by a RETR.
const ChunkSize = 64 << 10

// Deliver stores msg at the end of username's maildrop, with CRLF line
// ends, in one transaction that commits only once the message is whole: a
// delivery it acknowledged is durable (as durable as the database's
// synchronous_commit makes a commit), and a failed one leaves nothing. It
// implements [pop3.Deliverer]. The message's header is read as it is
// stored, for its [pop3.MessageInfo.DowngradedSize], so that LIST never
// reads it.
//
// The transaction takes the uid from the user's row, whose lock it holds
// until it commits: deliveries to one user commit in uid order, so a
// listing never gains a message before one with a lower uid. At most half
// the pool's connections deliver at once; more deliveries wait. The
// transaction, and a pool connection, last while msg is read: pass a
// message already received (pop3d's LMTP listener spools it first), not a
// reader that waits on a slow client. An unknown user wraps
// [pop3.ErrNoSuchUser].
func (b *Backend) Deliver(ctx context.Context, username string, msg io.Reader) error {
	name := passwd.NormalizeUsername(username)
	if err := b.store(ctx, name, "", msg); err != nil {
		if errors.Is(err, pop3.ErrNoSuchUser) {
			return err
		}
		return fmt.Errorf("postgres: delivering to %q (nothing stored): %w", name, err)
	}
	return nil
}

// store is the one way a message enters a maildrop, for Deliver (uidl
// empty: the message shows the store's own unique-id) and Import (uidl
// checked already). It stores msg with CRLF line ends, in chunks, with its
// downgraded size, in one transaction that holds the user's row lock from
// the uid's allocation to the commit, and as one of the deliveries the
// semaphore lets run. name is normalized already. The errors are bare:
// the callers say what failed.
func (b *Backend) store(ctx context.Context, name, uidl string, msg io.Reader) error {
	select {
	case b.deliveries <- struct{}{}:
		defer func() { <-b.deliveries }()
	case <-ctx.Done():
		return ctx.Err()
	}
	return inTx(ctx, b.pool, func(tx pgx.Tx) error {
		var (
			userID, uid int64
			column      *string // pop3_messages.uidl: NULL for the store's own
			err         error
		)
		if uidl == "" {
			userID, uid, err = nextUID(ctx, tx, name)
		} else {
			userID, uid, err = importUID(ctx, tx, name, uidl)
			column = &uidl
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "INSERT INTO pop3_messages (user_id, uid, size, chunks, uidl) VALUES ($1, $2, 0, 0, $3)", userID, uid, column)
		if err != nil {
			return uidlViolation(err)
		}
		src := pop3.NewCRLFReader(msg)
		buf := make([]byte, ChunkSize)
		var size int64
		var seq int32
		var head []byte // the first chunks, until they hold the header
		for {
			n, rerr := io.ReadFull(src, buf)
			if n > 0 {
				if _, err := tx.Exec(ctx, "INSERT INTO pop3_chunks (user_id, uid, seq, data) VALUES ($1, $2, $3, $4)", userID, uid, seq, buf[:n]); err != nil {
					return err
				}
				if !enoughHead(head, math.MaxInt64) { // the size is not known yet
					head = append(head, buf[:n]...)
				}
				size += int64(n)
				seq++
			}
			if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
				break
			}
			if rerr != nil {
				return fmt.Errorf("reading the message: %w", rerr)
			}
		}
		var downgraded *int64 // NULL, unknown, when the first chunks cannot tell
		if n, ok := downgradedFromHead(head, size); ok {
			downgraded = &n
		}
		_, err = tx.Exec(ctx, "UPDATE pop3_messages SET size = $3, chunks = $4, downgraded_size = $5 WHERE user_id = $1 AND uid = $2",
			userID, uid, size, seq, downgraded)
		return err
	})
}

// nextUID takes the next uid of the user named name, locking the user's
// row until the transaction ends.
func nextUID(ctx context.Context, tx pgx.Tx, name string) (userID, uid int64, err error) {
	err = tx.QueryRow(ctx, "UPDATE pop3_users SET next_uid = next_uid + 1 WHERE name = $1 RETURNING id, next_uid - 1", name).Scan(&userID, &uid)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, fmt.Errorf("postgres: %w: %q", pop3.ErrNoSuchUser, name)
	}
	return userID, uid, err
}

// UserExists reports whether username (lower-cased as at login) is a user;
// it implements [pop3.UserChecker], so that LMTP refuses an unknown
// recipient at RCPT TO.
func (b *Backend) UserExists(ctx context.Context, username string) (bool, error) {
	var exists bool
	err := b.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pop3_users WHERE name = $1)", passwd.NormalizeUsername(username)).Scan(&exists)
	if err != nil {
		return false, fmt.Errorf("postgres: looking up %q: %w", username, err)
	}
	return exists, nil
}
