package pop3

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Expire is a message retention policy: the argument of the EXPIRE
// capability (RFC 2449 §6.7). Its zero value means "the default": NEVER in
// [Server.Expire], the server's value in a [UserPolicy]. Make one with
// [ExpireAfter] or [ParseExpire], or use [ExpireNever].
type Expire struct {
	days int32
	kind uint8 // expireDefault, expireNever or expireDays
}

const (
	expireDefault uint8 = iota
	expireNever
	expireDays
)

// ExpireNever is EXPIRE NEVER: the server never deletes a message on its
// own.
var ExpireNever = Expire{kind: expireNever}

// maxExpireDays bounds EXPIRE n so that n days always fit a time.Duration.
const maxExpireDays = 100 * 365

// ExpireAfter is EXPIRE days. With 0, every message a session retrieves
// with RETR is removed when the session enters UPDATE, as if the client
// had sent DELE for it. With n > 0, a message first retrieved more than n
// days ago is removed at the next UPDATE of its maildrop. A negative days
// is [ExpireNever]: a mistake must err on the side of keeping mail.
func ExpireAfter(days int) Expire {
	if days < 0 {
		return ExpireNever
	}
	return Expire{days: int32(min(days, maxExpireDays)), kind: expireDays}
}

// ParseExpire parses "NEVER" (in any case) or a number of days, as the
// EXPIRE capability writes them and pop3d's -expire flag takes them.
func ParseExpire(s string) (Expire, error) {
	if strings.EqualFold(s, "never") {
		return ExpireNever, nil
	}
	n, ok := parseNumber(s)
	if !ok || n > maxExpireDays {
		return Expire{}, errors.New("pop3: EXPIRE must be NEVER or a number of days from 0 to " + strconv.Itoa(maxExpireDays) + ": " + strconv.Quote(s))
	}
	return ExpireAfter(n), nil
}

// Days returns the retention in days; ok is false for NEVER and for the
// zero Expire.
func (e Expire) Days() (days int, ok bool) {
	return int(e.days), e.kind == expireDays
}

// IsZero reports whether e is the zero Expire, which stands for a default.
func (e Expire) IsZero() bool { return e.kind == expireDefault }

// String is the capability's argument: "NEVER" or the number of days. The
// zero Expire is "NEVER".
func (e Expire) String() string {
	if e.kind != expireDays {
		return "NEVER"
	}
	return strconv.Itoa(int(e.days))
}

// shorter reports whether e keeps messages for less time than o; neither
// is the zero Expire.
func (e Expire) shorter(o Expire) bool {
	switch {
	case e.kind != expireDays:
		return false
	case o.kind != expireDays:
		return true
	}
	return e.days < o.days
}

// retention is the age past which a retrieved message expires, for EXPIRE
// n with n > 0.
func (e Expire) retention() time.Duration {
	return time.Duration(e.days) * 24 * time.Hour
}

// UserPolicy is one user's own LOGIN-DELAY and EXPIRE (RFC 2449 §6.5 and
// §6.7), which a [PolicyUser] returns. A zero field keeps the server's
// value.
type UserPolicy struct {
	// LoginDelay is the least time between two logins of the user. Zero
	// keeps [Server.LoginDelay]; a negative value is none. It is held to
	// at most Server.LoginDelay, the largest value that CAPA announced
	// before login.
	LoginDelay time.Duration
	// Expire is the user's retention. The zero value keeps
	// [Server.Expire]. It is held to at least Server.Expire, the
	// smallest value that CAPA announced before login.
	Expire Expire
}

// PolicyUser is a [User] with its own LOGIN-DELAY or EXPIRE (RFC 2449 §6.5,
// §6.7). The server asks for it after a successful authentication when
// [Server.UserPolicies] is set, and ignores it otherwise.
type PolicyUser interface {
	User
	// Policy returns the user's values. It is called once per login.
	Policy() UserPolicy
}

// LoginRecorder is a [User] whose store keeps the time of the user's last
// successful login, so that LOGIN-DELAY (RFC 2449 §6.5) holds across
// restarts of the server and across the servers that share the store.
// Without it the server keeps these times itself, in memory.
type LoginRecorder interface {
	User
	// LastLogin returns when the user last logged in, as recorded by
	// RecordLogin; the zero Time if never.
	LastLogin(ctx context.Context) (time.Time, error)
	// RecordLogin records t as the user's last login. The server calls it
	// with the maildrop open, after [User.Open] succeeded and just before
	// it answers +OK: a login refused, for example with [ErrMailboxLocked],
	// starts no new delay.
	RecordLogin(ctx context.Context, t time.Time) error
}

// RetrievalMailbox is a [Mailbox] that remembers when each of its
// messages was first retrieved, which EXPIRE with a number of days needs
// (RFC 2449 §6.7): the server removes, at UPDATE, the messages first
// retrieved longer ago than that.
type RetrievalMailbox interface {
	Mailbox
	// FirstRetrieved returns when message i of the snapshot was first
	// retrieved, as recorded by Retrieved; the zero Time if never.
	FirstRetrieved(i int) time.Time
	// Retrieved records t as the first retrieval of the given messages
	// (0-based, ascending), except for those that already have one. The
	// server calls it in UPDATE, before [Mailbox.Delete], for the
	// messages that the session sent whole with RETR and does not remove.
	// A session that ends without QUIT records nothing, so a message is
	// kept longer rather than removed too soon.
	Retrieved(ctx context.Context, indexes []int, t time.Time) error
}

// RetrievalBackend is a [Backend] whose mailboxes are all
// [RetrievalMailbox] values. Only such a backend can serve EXPIRE with a
// number of days: Serve refuses a [Server.Expire] of n > 0 days without it.
type RetrievalBackend interface {
	Backend
	// RecordsRetrievals reports whether every Mailbox that the backend's
	// users open implements RetrievalMailbox. A wrapper around another
	// backend answers for the one it wraps.
	RecordsRetrievals() bool
}
