package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/passwd"
)

// ErrUIDLExists is returned (wrapped) by [Backend.Import] when the
// maildrop already has a message that shows the unique-id: one imported
// with it, or one of the store's own whose "<user id>.<uid>" it is, which
// need not be the same message. A migration tool tells the two apart by
// their sizes ([Backend.Listing]), as pop3admin import does.
var ErrUIDLExists = errors.New("postgres: the maildrop already has a message with that unique-id")

// ErrInvalidUIDL is returned (wrapped) by [Backend.Import] for a unique-id
// that RFC 1939 §7 does not allow (1 to 70 octets, each from 0x21 to
// 0x7E), or one of the store's own form whose uid is too large to set
// aside (see [Backend.Import]).
var ErrInvalidUIDL = errors.New("postgres: not a unique-id this store can keep")

// maxReservedUID bounds the uid that an imported "<user id>.<uid>" sets
// aside: past it, the user's sequence would be too close to bigint's end
// for deliveries to go on. A real server's unique-ids never come near.
const maxReservedUID = 1 << 62

// Import stores msg in username's maildrop with uidl as its unique-id (a
// migration keeping the UIDL another server showed), so that clients that
// leave mail on the server do not download it again (RFC 1939 §7). The
// message goes at the end of the maildrop, as a delivery does, and by the
// same path as [Backend.Deliver]: CRLF line ends, its downgraded size,
// one transaction that leaves nothing when it fails, the same bound on
// deliveries at once.
//
// uidl must be 1 to 70 octets, each from 0x21 to 0x7E, or the error wraps
// [ErrInvalidUIDL]. A maildrop already showing uidl, on a message
// imported with it or on one of its own, is refused with an error that
// wraps [ErrUIDLExists], and nothing is stored. An unknown user wraps
// [pop3.ErrNoSuchUser].
//
// The store's own unique-ids ("<user id>.<uid>") stay distinct from the
// imported ones, now and later. Only a uidl of that very form, this user's
// id, a dot and a uid in decimal without a sign or leading zeros, could
// meet one, and Import, holding the user's row lock that deliveries take
// too, refuses it when a message of the store's own has that uid, and
// otherwise moves the user's next uid past it, so that no later delivery
// gets it; such a uid above 2^62 is refused ([ErrInvalidUIDL]). Any other
// uidl never equals one of the store's own.
//
// Nodes of a release before schema version 4 list an imported message
// under the store's own unique-id: import once every node is upgraded.
func (b *Backend) Import(ctx context.Context, username, uidl string, msg io.Reader) error {
	name := passwd.NormalizeUsername(username)
	if err := checkUIDL(uidl); err != nil {
		return fmt.Errorf("postgres: importing to %q (nothing stored): %w", name, err)
	}
	if err := b.store(ctx, name, uidl, msg); err != nil {
		if errors.Is(err, pop3.ErrNoSuchUser) {
			return err
		}
		return fmt.Errorf("postgres: importing unique-id %q to %q (nothing stored): %w", uidl, name, err)
	}
	return nil
}

// Listing returns the messages of username's maildrop as a session's LIST
// and UIDL would show them (their Size and UID; not DowngradedSize), in
// the listing's order: the imported ones and the store's own alike,
// including messages that a session has marked for deletion but not yet
// deleted. It reads no message, only the rows that describe them: what
// pop3admin import compares with the source's, to copy each message once.
// An empty maildrop gives none; an unknown user wraps [pop3.ErrNoSuchUser].
func (b *Backend) Listing(ctx context.Context, username string) ([]pop3.MessageInfo, error) {
	name := passwd.NormalizeUsername(username)
	// One statement, so that the user and the messages are one snapshot:
	// a user with no message is a row whose uid is NULL.
	rows, err := b.pool.Query(ctx, `
SELECT u.id, m.uid, coalesce(m.uidl, ''), coalesce(m.size, 0) FROM pop3_users u LEFT JOIN pop3_messages m ON m.user_id = u.id
WHERE u.name = $1 ORDER BY m.uid`, name)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing %q: %w", name, err)
	}
	var (
		userID int64
		uid    *int64
		uidl   string
		size   int64
		prefix string
		infos  []pop3.MessageInfo
		found  bool
	)
	_, err = pgx.ForEachRow(rows, []any{&userID, &uid, &uidl, &size}, func() error {
		found = true
		if uid == nil {
			return nil
		}
		if prefix == "" {
			prefix = nativePrefix(userID)
		}
		infos = append(infos, pop3.MessageInfo{Size: size, UID: uniqueID(prefix, *uid, uidl)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: listing %q: %w", name, err)
	}
	if !found {
		return nil, fmt.Errorf("postgres: %w: %q", pop3.ErrNoSuchUser, name)
	}
	return infos, nil
}

// checkUIDL returns an error wrapping ErrInvalidUIDL unless uidl is 1 to 70
// octets from 0x21 to 0x7E (RFC 1939 §7), as the CHECK constraint on
// pop3_messages.uidl requires too.
func checkUIDL(uidl string) error {
	if !pop3.ValidUID(uidl) {
		return fmt.Errorf("%w: %q (RFC 1939 §7: 1 to 70 octets, each from 0x21 to 0x7E)", ErrInvalidUIDL, uidl)
	}
	return nil
}

// nativeUID returns the uid n when uidl is "<userID>.<n>" with n as
// strconv.FormatInt writes a uid (decimal, no sign, no leading zero, at
// least 1): the store's own unique-id of that uid. Any other uidl is
// never one of the store's own, whatever uids it gives later.
func nativeUID(uidl string, userID int64) (int64, bool) {
	digits, ok := strings.CutPrefix(uidl, nativePrefix(userID))
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 1 || strconv.FormatInt(n, 10) != digits {
		return 0, false // not a number, past bigint, or not written as a uid is
	}
	return n, true
}

// importUID takes, for an import of uidl, the user's row lock (which
// deliveries take too, so that they wait) and the next uid, after the
// checks that keep uidl unique in the maildrop and distinct from the
// store's own unique-ids (see Backend.Import).
func importUID(ctx context.Context, tx pgx.Tx, name, uidl string) (userID, uid int64, err error) {
	err = tx.QueryRow(ctx, "SELECT id, next_uid FROM pop3_users WHERE name = $1 FOR UPDATE", name).Scan(&userID, &uid)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, fmt.Errorf("postgres: %w: %q", pop3.ErrNoSuchUser, name)
	}
	if err != nil {
		return 0, 0, err
	}
	next := uid + 1
	if n, ok := nativeUID(uidl, userID); ok {
		if n > maxReservedUID {
			return 0, 0, fmt.Errorf("%w: %q has the form of this store's own unique-ids, with a uid above 2^62 that it cannot set aside", ErrInvalidUIDL, uidl)
		}
		var native bool
		err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pop3_messages WHERE user_id = $1 AND uid = $2 AND uidl IS NULL)", userID, n).Scan(&native)
		if err != nil {
			return 0, 0, err
		}
		if native {
			return 0, 0, fmt.Errorf("%w (a message delivered here, uid %d)", ErrUIDLExists, n)
		}
		// No delivery from now on gets uid n, which would show uidl.
		next = max(next, n+1)
	}
	var taken bool
	err = tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pop3_messages WHERE user_id = $1 AND uidl = $2)", userID, uidl).Scan(&taken)
	if err != nil {
		return 0, 0, err
	}
	if taken {
		return 0, 0, fmt.Errorf("%w (a message imported before)", ErrUIDLExists)
	}
	if _, err := tx.Exec(ctx, "UPDATE pop3_users SET next_uid = $2 WHERE id = $1", userID, next); err != nil {
		return 0, 0, err
	}
	return userID, uid, nil
}

// uidlViolation returns err, or ErrUIDLExists in its place when it is the
// unique index on (user_id, uidl) refusing uidl: the explicit check of
// importUID, under the user's row lock, comes first, so the index only
// backs it up (against rows written by SQL directly).
func uidlViolation(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "pop3_messages_uidl_unique" {
		return fmt.Errorf("%w (%w)", ErrUIDLExists, err)
	}
	return err
}
