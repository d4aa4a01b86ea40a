package pop3

import (
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

// expire is Expire, with its default.
func (srv *Server) expire() Expire {
	if srv.Expire.IsZero() {
		return ExpireNever
	}
	return srv.Expire
}

// notesRetrievals reports whether e is a number of days (EXPIRE 0 or n),
// under which the session notes what RETR sent: UPDATE removes it, or
// records its retrieval.
func (e Expire) notesRetrievals() bool { return e.kind == expireDays }

// expiresLater reports whether e removes messages days after their first
// retrieval (EXPIRE n, n > 0), which needs a RetrievalMailbox to remember
// it across sessions.
func (e Expire) expiresLater() bool { return e.kind == expireDays && e.days > 0 }
