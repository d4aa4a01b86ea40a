package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gopop3/pop3"
)

// mailbox is an open maildrop: the listing read at Open and the lease.
type mailbox struct {
	backend *Backend
	user    *user
	lease   *lease
	msgs    []pop3.MessageInfo
	uids    []int64 // the messages' uid column, by index
	chunks  []int32 // their number of chunks
	// retrieved is when each message was first retrieved (UTC, to the
	// microsecond; zero for never): read at Open, and updated by
	// Retrieved for the messages it recorded.
	retrieved []time.Time
	closed    bool
}

// listing reads a maildrop's messages into mb, in uid order, which is
// delivery order: deliveries to one user commit one after another (see
// Deliver).
func (b *Backend) listing(ctx context.Context, mb *mailbox) error {
	userID := mb.user.id
	rows, err := b.pool.Query(ctx, "SELECT uid, coalesce(uidl, ''), size, chunks, first_retrieved, coalesce(downgraded_size, 0) FROM pop3_messages WHERE user_id = $1 ORDER BY uid", userID)
	if err != nil {
		return fmt.Errorf("postgres: listing the maildrop: %w", err)
	}
	var uid, size, downgraded int64
	var uidl string
	var n int32
	var retrieved *time.Time
	prefix := nativePrefix(userID)
	_, err = pgx.ForEachRow(rows, []any{&uid, &uidl, &size, &n, &retrieved, &downgraded}, func() error {
		mb.msgs = append(mb.msgs, pop3.MessageInfo{Size: size, UID: uniqueID(prefix, uid, uidl), DowngradedSize: downgraded})
		mb.uids = append(mb.uids, uid)
		mb.chunks = append(mb.chunks, n)
		var t time.Time
		if retrieved != nil {
			t = retrieved.UTC()
		}
		mb.retrieved = append(mb.retrieved, t)
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: listing the maildrop: %w", err)
	}
	return nil
}

// nativePrefix is what the store's own unique-ids of a user's messages
// start with: "<user id>.".
func nativePrefix(userID int64) string { return strconv.FormatInt(userID, 10) + "." }

// uniqueID is the unique-id a message shows (RFC 1939 §7): the one it was
// imported with (uidl; the listing reads NULL as empty), or else the
// store's own, "<user id>.<uid>", whose "<user id>." is prefix.
func uniqueID(prefix string, uid int64, uidl string) string {
	if uidl != "" { // the CHECK constraint refuses an empty one
		return uidl
	}
	return prefix + strconv.FormatInt(uid, 10)
}

// Messages returns the listing read at Open.
func (mb *mailbox) Messages() []pop3.MessageInfo { return mb.msgs }

// Message returns a reader that fetches the message one chunk at a time,
// each with a connection borrowed for that one query.
func (mb *mailbox) Message(ctx context.Context, i int) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &chunkReader{ctx: ctx, backend: mb.backend, userID: mb.user.id, uid: mb.uids[i], chunks: mb.chunks[i]}, nil
}

// FirstRetrieved returns when message i was first retrieved, in UTC and to
// the microsecond, as the listing read at Open had it (and as Retrieved
// then recorded it); the zero Time if never. It implements
// [pop3.RetrievalMailbox].
func (mb *mailbox) FirstRetrieved(i int) time.Time { return mb.retrieved[i] }

// Retrieved records t (to the microsecond) as the first retrieval of the
// messages, in one statement that leaves alone those that have one
// already: a time once recorded never changes, and of two sessions
// recording the same message the first to commit wins. It implements
// [pop3.RetrievalMailbox].
//
// Unlike Delete, it does not confirm the lease. The time is true (the
// client did receive these messages whole and sent QUIT) whether or not
// this session still holds the maildrop; the write only fills an empty
// column, so it cannot undo what a session holding the lease now has
// done; and a message that session deleted is simply not found. What the
// lease guards is the deletions, which a lost lease still stops. t is this
// node's clock: the nodes' clocks must agree (NTP) for EXPIRE to count its
// days right.
func (mb *mailbox) Retrieved(ctx context.Context, indexes []int, t time.Time) error {
	if len(indexes) == 0 {
		return nil
	}
	uids := make([]int64, len(indexes))
	index := make(map[int64]int, len(indexes))
	for k, i := range indexes {
		uids[k] = mb.uids[i]
		index[mb.uids[i]] = i
	}
	t = dbTime(t)
	rows, err := mb.backend.pool.Query(ctx, `
UPDATE pop3_messages SET first_retrieved = $3
WHERE user_id = $1 AND uid = ANY($2) AND first_retrieved IS NULL
RETURNING uid`, mb.user.id, uids, t)
	if err != nil {
		return fmt.Errorf("postgres: recording the retrieval of %d messages: %w", len(uids), err)
	}
	recorded, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("postgres: recording the retrieval of %d messages: %w", len(uids), err)
	}
	for _, uid := range recorded {
		mb.retrieved[index[uid]] = t
	}
	return nil
}

// Delete removes the messages in one transaction that first confirms the
// lease: all of them, or none when the lease is lost.
func (mb *mailbox) Delete(ctx context.Context, indexes []int) error {
	uids := make([]int64, len(indexes))
	for k, i := range indexes {
		uids[k] = mb.uids[i]
	}
	err := inTx(ctx, mb.backend.pool, func(tx pgx.Tx) error {
		if err := mb.backend.leases.confirm(ctx, tx, mb.lease); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "DELETE FROM pop3_messages WHERE user_id = $1 AND uid = ANY($2)", mb.user.id, uids)
		return err
	})
	if errors.Is(err, ErrLeaseLost) {
		mb.backend.logger.Warn("postgres: QUIT deleted nothing: the maildrop lease was lost (not renewed in time)",
			"user", mb.user.name, "marked", len(uids))
		return fmt.Errorf("%w: %w", ErrLeaseLost, &pop3.Error{Code: pop3.CodeSysTemp,
			Text: "the maildrop lock expired before QUIT, so nothing was deleted"})
	}
	if err != nil {
		return fmt.Errorf("postgres: deleting %d messages (none was deleted): %w", len(uids), err)
	}
	return nil
}

// Close releases the lease.
func (mb *mailbox) Close() error {
	if mb.closed {
		return nil
	}
	mb.closed = true
	return mb.backend.leases.release(mb.lease)
}

// chunkReader reads a message chunk by chunk, holding one chunk in memory
// and no connection between reads.
type chunkReader struct {
	ctx     context.Context
	backend *Backend
	userID  int64
	uid     int64
	chunks  int32
	next    int32 // the chunk to fetch next
	buf     []byte
	off     int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for r.off == len(r.buf) {
		if r.next == r.chunks {
			return 0, io.EOF
		}
		if err := r.fetch(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

// fetch reads the next chunk into buf.
func (r *chunkReader) fetch() error {
	var data []byte
	err := r.backend.pool.QueryRow(r.ctx, "SELECT data FROM pop3_chunks WHERE user_id = $1 AND uid = $2 AND seq = $3",
		r.userID, r.uid, r.next).Scan(&data)
	if err != nil {
		return fmt.Errorf("postgres: reading chunk %d of message %d.%d: %w", r.next, r.userID, r.uid, err)
	}
	r.buf, r.off = data, 0
	r.next++
	return nil
}

// Close drops the chunk held.
func (r *chunkReader) Close() error {
	r.buf, r.off, r.next = nil, 0, r.chunks
	return nil
}
