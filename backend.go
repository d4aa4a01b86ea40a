package pop3

import (
	"context"
	"crypto/tls"
	"io"
	"net"

	"github.com/emersion/go-sasl"
)

// Backend authenticates users. It is the one interface a server needs; the
// optional interfaces APOPBackend and SASLBackend add login methods and are
// found by type assertion.
//
// A Backend is called from many sessions at once and must be safe for
// concurrent use.
type Backend interface {
	// Login checks a username and a cleartext password, as given by USER and
	// PASS (RFC 1939 §7) or by AUTH PLAIN and AUTH LOGIN (RFC 5034).
	//
	// Bad credentials return ErrAuthFailed, or an *Error with another
	// response code such as [LOGIN-DELAY] or [SYS/PERM] (RFC 3206). The
	// server never tells the client whether the user exists.
	Login(ctx context.Context, c *ConnInfo, username, password string) (User, error)
}

// User is an authenticated user.
type User interface {
	// Open takes the maildrop's exclusive lock (RFC 1939 §4) and returns a
	// snapshot of it. A maildrop that another session holds returns
	// ErrMailboxLocked, which the client sees as "-ERR [IN-USE] ...".
	Open(ctx context.Context) (Mailbox, error)
}

// MessageInfo describes one message of a maildrop snapshot.
type MessageInfo struct {
	// Size is the exact number of octets that Message yields: the message
	// with CRLF line ends and before dot-stuffing (RFC 1939 §11). STAT,
	// LIST and the RETR reply report it.
	Size int64
	// UID is the message's unique-id (RFC 1939 §7, UIDL): 1 to 70
	// characters in the range 0x21 to 0x7E, the same for the same message
	// in every session and never reused for another message of the
	// maildrop.
	UID string
}

// Mailbox is an open, locked maildrop. The session owns message numbers,
// deletion marks and LAST; the mailbox only serves a snapshot, reads it, and
// is told once, at UPDATE, which messages to remove.
//
// A Mailbox is used by a single session goroutine.
type Mailbox interface {
	// Messages is the listing at open time, message 1 first. It must not
	// change while the mailbox is open.
	Messages() []MessageInfo
	// Message opens message i (a 0-based index into Messages) for reading:
	// lines end in CRLF and are not dot-stuffed. The server closes the
	// reader.
	Message(ctx context.Context, i int) (io.ReadCloser, error)
	// Delete removes the given messages (0-based, ascending) permanently.
	// It is called at most once, in the UPDATE state after QUIT (RFC 1939
	// §6), and only when some message was marked. When it returns an
	// error the client is told that the removal failed.
	Delete(ctx context.Context, indexes []int) error
	// Close releases the maildrop's lock. It is called exactly once per
	// opened mailbox, however the session ends.
	Close() error
}

// APOPBackend is a Backend that also supports the APOP command (RFC 1939
// §7). When the backend implements it, the greeting carries a timestamp and
// APOP is accepted.
type APOPBackend interface {
	Backend
	// LoginAPOP checks an APOP digest: the lower-case hex MD5 of timestamp
	// followed by the user's shared secret. A backend that stores the
	// secret can call VerifyAPOP. Failures are reported as for Login.
	LoginAPOP(ctx context.Context, c *ConnInfo, username, timestamp, digest string) (User, error)
}

// SASLBackend is a Backend that offers SASL mechanisms of its own through
// the AUTH command (RFC 5034), such as OAUTHBEARER or XOAUTH2. PLAIN and
// LOGIN are always provided by the server on top of Backend.Login; a
// mechanism listed here with one of those names replaces the built-in one.
type SASLBackend interface {
	Backend
	// SASLMechanisms lists the extra mechanisms offered on this
	// connection, in upper case. A backend that wants a mechanism only
	// over TLS checks c.TLS.
	SASLMechanisms(c *ConnInfo) []string
	// SASLServer starts the server side of mech, one of SASLMechanisms.
	// Before its Next reports success, the mechanism must call
	// authenticated with the user it logged in (username is for logs).
	// An *Error from Next is shown to the client as it is; any other error
	// is a refused login ([AUTH]). A panic in Next ends the session.
	SASLServer(ctx context.Context, c *ConnInfo, mech string, authenticated func(username string, user User)) (sasl.Server, error)
}

// TopMailbox is a Mailbox that can serve TOP (RFC 1939 §7) without reading
// whole messages, for stores that keep headers apart from bodies.
type TopMailbox interface {
	Mailbox
	// Top opens the header of message i, the blank line after it, and at
	// most lines lines of its body, with CRLF line ends and no
	// dot-stuffing.
	Top(ctx context.Context, i int, lines int) (io.ReadCloser, error)
}

// ConnInfo describes the client connection to a backend, so that it can
// rate-limit, log or refuse by address. The server fills it in; a backend
// must not change it.
type ConnInfo struct {
	// RemoteAddr and LocalAddr are the connection's addresses.
	RemoteAddr net.Addr
	LocalAddr  net.Addr
	// TLS is the TLS state, or nil while the connection is in cleartext.
	// It is set for implicit TLS (RFC 8314) and after STLS (RFC 2595).
	TLS *tls.ConnectionState
	// Domain is the server's Server.Domain.
	Domain string
}
