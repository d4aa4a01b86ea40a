package pop3

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"time"

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
	// Bad credentials return [ErrAuthFailed]; an *[Error] with another
	// code chooses what the client sees, such as [ErrLoginDelay] or
	// [CodeSysPerm] (RFC 3206); any other error is a temporary failure
	// ([CodeSysTemp]) whose detail goes only to the log. Every error
	// except one with code [CodeLoginDelay] or [CodeInUse] counts as a
	// failed login: it waits [Server.AuthFailureDelay], adds to the
	// client address's penalty and to [Server.MaxAuthFailures]. The
	// server never tells the client whether the user exists.
	Login(ctx context.Context, c *ConnInfo, username, password string) (User, error)
}

// BackendFunc adapts a function to [Backend]: the one-line backend of a
// test, or of a server that checks passwords elsewhere.
type BackendFunc func(ctx context.Context, c *ConnInfo, username, password string) (User, error)

// Login calls f.
func (f BackendFunc) Login(ctx context.Context, c *ConnInfo, username, password string) (User, error) {
	return f(ctx, c, username, password)
}

// User is an authenticated user.
type User interface {
	// Open takes the maildrop's exclusive lock (RFC 1939 §4) and returns a
	// snapshot of it. A maildrop that another session holds returns
	// [ErrMailboxLocked], which the client sees as
	//
	//	-ERR [IN-USE] maildrop already locked by another session
	//
	// [ConnInfoFromContext] gives the connection, for a policy applied at
	// open time.
	Open(ctx context.Context) (Mailbox, error)
}

// MessageInfo describes one message of a maildrop snapshot.
type MessageInfo struct {
	// Size is the exact number of octets that Message yields, which is
	// what the client receives as the message before dot-stuffing (RFC 1939
	// §11). For a message stored with CRLF line ends that is its length; a
	// store of LF files computes it with [CRLFSize]. STAT, LIST and the
	// RETR reply report it, and clients rely on it; the server logs a
	// warning when a RETR sends another number of octets.
	Size int64
	// UID is the message's unique-id (RFC 1939 §7, UIDL): 1 to 70
	// characters in the range 0x21 to 0x7E ([ValidUID]), the same for the
	// same message in every session and never reused for another message
	// of the maildrop.
	UID string
	// DowngradedSize is the size LIST reports for the message to a client
	// that has not enabled UTF-8 mode (RFC 6856 §2.1): the octets RETR
	// sends once the header is downgraded (RFC 6858), which is Size for a
	// message whose header is ASCII. A store that knows it, because it
	// called [DowngradedSize] when the message arrived, fills it in; 0 (or
	// less) means that the store does not know, and the server reads the
	// header when a LIST needs it (see [Mailbox.Message]).
	//
	// LIST takes the value as it is. RETR and TOP still downgrade the
	// header they read, so a wrong value cannot send 8-bit octets to
	// such a client, but it makes LIST and RETR disagree on the size:
	// the server logs that once per maildrop, and from then on prefers
	// what it has read itself. pop3test.TestBackend checks the value.
	DowngradedSize int64
}

// ValidUID reports whether uid can be a unique-id, as [MessageInfo.UID]
// must be: 1 to 70 octets, each from 0x21 to 0x7E (RFC 1939 §7). A store
// that keeps another server's unique-ids checks them with it.
func ValidUID(uid string) bool {
	if len(uid) == 0 || len(uid) > 70 {
		return false
	}
	for i := 0; i < len(uid); i++ {
		if uid[i] < 0x21 || uid[i] > 0x7e {
			return false
		}
	}
	return true
}

// Mailbox is an open, locked maildrop. The session owns message numbers,
// deletion marks and LAST; the mailbox only serves a snapshot, reads it, and
// is told once, at UPDATE, which messages to remove.
//
// A Mailbox is used by a single session goroutine.
type Mailbox interface {
	// Messages is the listing at open time, message 1 first. It must not
	// change while the mailbox is open. The server does not modify it, so
	// a backend may share one slice between sessions.
	Messages() []MessageInfo
	// Message opens message i (a 0-based index into Messages) for reading:
	// exactly Size octets, every line ended by CRLF, the last one too, and
	// not dot-stuffed. A store of files with LF line ends returns them
	// through [NewCRLFReader]. (The server sends a stray bare LF as CRLF, but
	// pop3test.TestBackend fails a backend that yields one.) The server
	// closes the reader.
	//
	// RETR and TOP call it (TOP only without [TopMailbox]). The one other
	// caller is LIST, in a session that has not enabled UTF-8 mode (RFC
	// 6856), for a non-empty message whose [MessageInfo.DowngradedSize]
	// is 0: the server then reads the message's header, through Top with
	// 0 lines for a TopMailbox, to learn its downgraded size. The
	// [Server] remembers the answer (for up to 100,000 messages, by user,
	// unique-id and size; not for a maildrop whose unique-ids it had to
	// repair), so that it reads each header once while it runs; a store
	// that fills in DowngradedSize is never read for LIST.
	Message(ctx context.Context, i int) (io.ReadCloser, error)
	// Delete removes the given messages (0-based, ascending) permanently.
	// It is called at most once, in the UPDATE state after QUIT (RFC 1939
	// §6), and only when some message was marked. When it returns an
	// error the client is told that the removal failed.
	Delete(ctx context.Context, indexes []int) error
	// Close releases the maildrop's lock. It is called exactly once per
	// opened mailbox, however the session ends. After QUIT it is called
	// before the server replies, so a slow Close delays QUIT's +OK (RFC
	// 1939 §6: the reply comes once UPDATE is done).
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
	//
	// A user name with UTF-8 arrives normalised (RFC 6856 §2.2, PRECIS
	// UsernameCasePreserved); a secret with UTF-8 must be stored
	// normalised too (PRECIS OpaqueString, as clients compute the digest
	// with), unless the server has [ExtUTF8] disabled.
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
	// An *[Error] from Next is shown to the client as it is; any other
	// error is a refused login ([ErrAuthFailed]). Either counts as a
	// failed login as for [Backend.Login]. A panic in Next ends the
	// session.
	SASLServer(ctx context.Context, c *ConnInfo, mech string, authenticated func(username string, user User)) (sasl.Server, error)
}

// TopMailbox is a Mailbox that can serve TOP (RFC 1939 §7) without reading
// whole messages, for stores that keep headers apart from bodies.
type TopMailbox interface {
	Mailbox
	// Top opens the header of message i, the blank line after it, and at
	// most lines lines of its body, with CRLF line ends and no
	// dot-stuffing: the start of what Message yields. A message without a
	// blank line is all header, and Top yields it whole. Besides TOP, LIST
	// calls Top with 0 lines where it would call [Mailbox.Message] to
	// read a header.
	Top(ctx context.Context, i int, lines int) (io.ReadCloser, error)
}

// Deliverer is a Backend that takes new mail for its users at any time,
// also while a session holds the maildrop. Mail enters a store through it:
// the LMTP listener and pop3test's contract kit deliver with it.
type Deliverer interface {
	Backend
	// Deliver adds the message read from msg at the end of username's
	// maildrop. It returns only once the message is stored durably: a
	// delivery it acknowledged survives a crash. The message keeps its
	// content, which [Mailbox.Message] later yields with CRLF line ends.
	//
	// A session that holds the maildrop does not see the message: its
	// listing is the snapshot of [User.Open] (RFC 1939 §4). The next Open
	// lists it last, with a unique-id the maildrop has never used.
	//
	// username is the name [Backend.Login] accepts. A user who does not
	// exist returns an error that wraps [ErrNoSuchUser].
	Deliver(ctx context.Context, username string, msg io.Reader) error
}

// UserChecker is a [Deliverer] that tells whether a user exists without
// delivering anything, so that an LMTP server refuses an unknown recipient
// at RCPT TO (RFC 2033 §4.2), before the message is sent, and chooses
// between the names an address could stand for. Without it, the recipient
// is accepted and refused after DATA, when Deliver reports
// [ErrNoSuchUser].
type UserChecker interface {
	Deliverer
	// UserExists reports whether username names a user that Deliver
	// accepts. An error is a temporary failure (the recipient is deferred,
	// not refused).
	UserExists(ctx context.Context, username string) (bool, error)
}

// ConnInfo describes the client connection to a backend, so that it can
// rate-limit, log or refuse by address. The server fills it in; a backend
// must not change it. Login methods receive it as an argument; every
// backend call can read it from its context with [ConnInfoFromContext].
type ConnInfo struct {
	// ID is the connection's number, unique within the process's Server
	// and printed as "conn" in the server's log records, so that a
	// backend can correlate its own logs with them.
	ID uint64
	// RemoteAddr and LocalAddr are the connection's addresses. Behind a
	// listener that reports the client's real address (the PROXY
	// protocol), RemoteAddr is that address.
	RemoteAddr net.Addr
	LocalAddr  net.Addr
	// TLS is the TLS state, or nil while the connection is in cleartext.
	// It is set for implicit TLS (RFC 8314) and after STLS (RFC 2595).
	TLS *tls.ConnectionState
	// Trusted is true when [Server.TrustedConn] vouched for the
	// connection: a proxy in front of the server terminated TLS for it,
	// or it comes over a private channel that needs none.
	Trusted bool
	// Domain is the server's [Server.Domain].
	Domain string
}

// connInfoKey is the context key of a session's *ConnInfo.
type connInfoKey struct{}

// ConnInfoFromContext returns the connection of the session that made a
// backend call, from the ctx the call received, or nil outside a session.
// It is how [User.Open], [Mailbox.Message] and [Mailbox.Delete] see the
// connection that [Backend.Login] is given as an argument.
func ConnInfoFromContext(ctx context.Context) *ConnInfo {
	c, _ := ctx.Value(connInfoKey{}).(*ConnInfo)
	return c
}

// ContextWithConnInfo returns a copy of ctx that carries c, as the ctx of
// a session's backend calls does: for a tool or a test that calls a
// backend outside a session, and wants [ConnInfoFromContext] to find the
// connection it stands for (a user database whose queries name the
// client's address, for one).
func ContextWithConnInfo(ctx context.Context, c *ConnInfo) context.Context {
	return context.WithValue(ctx, connInfoKey{}, c)
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

// SeenMailbox is a [Mailbox] that knows which of its messages earlier
// sessions retrieved, as the "Status: RO" header that qpopper writes into
// a Unix mail spool records it. LAST (RFC 1460) then starts from the
// highest of them, "the highest message number accessed ... during this
// or any previous session", so that a client without UIDL (fetchmail in
// its default mode) fetches only the messages after it. RSET sets LAST
// back to 0, as RFC 1460 and qpopper do.
type SeenMailbox interface {
	Mailbox
	// Seen reports whether an earlier session retrieved message i
	// (0-based) of the snapshot.
	Seen(i int) bool
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
