package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/passwd"
)

// ErrUserExists is returned by [Backend.AddUser] for a name already taken.
var ErrUserExists = errors.New("postgres: user already exists")

// UserInfo is one line of [Backend.Users].
type UserInfo struct {
	Name     string
	Messages int64 // in the maildrop, counting those a session has marked but not yet deleted
	Size     int64 // their octets, as LIST counts them
	Locked   bool  // a session holds the maildrop now
}

// checkName refuses names no client could type at USER: empty, too long,
// or with spaces or control characters.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("postgres: empty user name")
	case len(name) > 255:
		return errors.New("postgres: user name longer than 255 octets")
	case strings.IndexFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return fmt.Errorf("postgres: user name %q has a space or a control character", name)
	}
	return nil
}

// AddUser adds a user with an empty maildrop. name is lower-cased (see
// [passwd.NormalizeUsername]); passwordHash is a "{SCHEME}..." string as
// [passwd.Hash] makes it (or doveadm pw, or a Dovecot passwd-file holds).
// A name that exists is [ErrUserExists].
func (b *Backend) AddUser(ctx context.Context, name, passwordHash string) error {
	name = passwd.NormalizeUsername(name)
	if err := checkName(name); err != nil {
		return err
	}
	if err := passwd.CheckHash(passwordHash); err != nil {
		return fmt.Errorf("postgres: not a usable password hash: %w", err)
	}
	_, err := b.pool.Exec(ctx, "INSERT INTO pop3_users (name, password) VALUES ($1, $2)", name, passwordHash)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
		return fmt.Errorf("%w: %q", ErrUserExists, name)
	}
	if err != nil {
		return fmt.Errorf("postgres: adding %q: %w", name, err)
	}
	return nil
}

// SetPassword replaces a user's password hash; sessions already logged in
// go on. An unknown user wraps [pop3.ErrNoSuchUser].
func (b *Backend) SetPassword(ctx context.Context, name, passwordHash string) error {
	name = passwd.NormalizeUsername(name)
	if err := passwd.CheckHash(passwordHash); err != nil {
		return fmt.Errorf("postgres: not a usable password hash: %w", err)
	}
	tag, err := b.pool.Exec(ctx, "UPDATE pop3_users SET password = $2 WHERE name = $1", name, passwordHash)
	if err != nil {
		return fmt.Errorf("postgres: setting the password of %q: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %w: %q", pop3.ErrNoSuchUser, name)
	}
	return nil
}

// DeleteUser removes a user and all of their mail. It is refused with
// [pop3.ErrMailboxLocked] while a session holds the maildrop, and the check
// is atomic: the user's row and lock row stay locked until the user is
// gone, and a session opening the maildrop meanwhile waits, then fails. An
// unknown user wraps [pop3.ErrNoSuchUser].
func (b *Backend) DeleteUser(ctx context.Context, name string) error {
	name = passwd.NormalizeUsername(name)
	err := inTx(ctx, b.pool, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, "SELECT id FROM pop3_users WHERE name = $1 FOR UPDATE", name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: %w: %q", pop3.ErrNoSuchUser, name)
		}
		if err != nil {
			return err
		}
		// Locking the lock row, not only reading it, waits for a session
		// taking over an expired lease (which changes that row and not the
		// user's) and then sees its lease.
		var locked bool
		err = tx.QueryRow(ctx, "SELECT expires_at > now() FROM pop3_locks WHERE user_id = $1 FOR UPDATE", id).Scan(&locked)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if locked {
			return fmt.Errorf("postgres: deleting %q: %w", name, pop3.ErrMailboxLocked)
		}
		_, err = tx.Exec(ctx, "DELETE FROM pop3_users WHERE id = $1", id)
		return err
	})
	if err != nil && !errors.Is(err, pop3.ErrNoSuchUser) && !errors.Is(err, pop3.ErrMailboxLocked) {
		return fmt.Errorf("postgres: deleting %q: %w", name, err)
	}
	return err
}

// Users lists the users by name, with what their maildrops hold.
func (b *Backend) Users(ctx context.Context) ([]UserInfo, error) {
	rows, err := b.pool.Query(ctx, `
SELECT u.name, count(m.uid), coalesce(sum(m.size), 0)::bigint,
	EXISTS (SELECT 1 FROM pop3_locks l WHERE l.user_id = u.id AND l.expires_at > now())
FROM pop3_users u LEFT JOIN pop3_messages m ON m.user_id = u.id
GROUP BY u.id, u.name ORDER BY u.name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing users: %w", err)
	}
	users, err := pgx.CollectRows(rows, pgx.RowToStructByPos[UserInfo])
	if err != nil {
		return nil, fmt.Errorf("postgres: listing users: %w", err)
	}
	return users, nil
}

// cleartextPattern matches, in PostgreSQL's case-insensitive regular
// expressions (~*), the stored passwords from which [passwd.Plaintext]
// recovers the secret: {PLAIN}, {CLEAR} or {CLEARTEXT}, with or without
// an encoding suffix, and not empty.
const cleartextPattern = `^\{(plain|clear|cleartext)(\.(hex|b64|base64))?\}.`

// HasCleartextPassword reports whether some user's password is stored in
// a cleartext scheme, the only one [Backend.LoginAPOP] can check: a server
// offers APOP (RFC 1939 §7) only when it does. It reads every row of the
// users' table once and returns no password.
func (b *Backend) HasCleartextPassword(ctx context.Context) (bool, error) {
	var some bool
	err := b.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pop3_users WHERE password ~* $1)", cleartextPattern).Scan(&some)
	if err != nil {
		return false, fmt.Errorf("postgres: looking for a cleartext password: %w", err)
	}
	return some, nil
}
