package maildir

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/mailuser"
	"github.com/gopop3/pop3/passwd"
)

// Compile-time checks that the backend implements the pop3 interfaces.
var (
	_ pop3.Backend     = (*Backend)(nil)
	_ pop3.APOPBackend = (*Backend)(nil)
	_ pop3.Deliverer   = (*Backend)(nil)
	_ pop3.User        = (*user)(nil)
	_ pop3.TopMailbox  = (*mailbox)(nil)

	_ pop3.RetrievalBackend = (*Backend)(nil)
	_ pop3.LoginRecorder    = (*user)(nil)
	_ pop3.RetrievalMailbox = (*mailbox)(nil)
)

// Backend serves users' Maildirs. Create it with [New]; it is safe for
// concurrent use.
type Backend struct {
	// accounts logs users in and finds their Maildirs, with the code the
	// mbox store shares (internal/mailuser); template and users are what
	// New was given.
	accounts *mailuser.Accounts
	template *mailuser.Template
	users    passwd.Source
	logger   *slog.Logger

	cache   listingCache // see WithListingCache
	imports importCache  // see Backend.Import
	// verified remembers successful password checks; see WithVerifyCache.
	verified *passwd.Cache

	// Dovecot's POP3 settings that change what the maildrop shows; see
	// WithUIDLFormat, WithSaveUIDL, WithReuseXUIDL, WithDeletedFlag and
	// WithNoFlagUpdates.
	uidlFormat     *uidlFormat // nil: Dovecot's default, %08Xu%08Xv
	uidlFormatErr  error       // a format WithUIDLFormat could not read: New fails
	saveUIDL       bool
	reuseXUIDL     bool
	deletedFlag    string
	deletedFlagErr error // a keyword WithDeletedFlag refuses: New fails
	noFlagUpdates  bool
}

// An Option configures a [Backend].
type Option func(*Backend)

// WithLogger sets the logger for what a client is not told: refused user
// names, refused logins and their reasons (nologin, allow_nets, an
// unusable mail location), unknown password schemes, rebuilt uidlists,
// files that vanished. The default is [slog.Default]. Passwords and
// message contents are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(b *Backend) {
		if l != nil {
			b.logger = l
		}
	}
}

// WithVerifyCache puts c in front of the password checks of
// [Backend.Login]: a user who logs in again with the password that
// succeeded last time, against the same stored hash, is let in without the
// hash being run again (see [passwd.Cache]). When the password source
// fails (a database-backed [passwd.Source] that cannot be reached, not an
// unknown user), such a user is let in on the entry the cache kept, with a
// warning in the log, and nologin and allow_nets are applied to that
// entry; anyone else gets the source's error, which the client sees as a
// temporary failure (the SYS/TEMP response code). Give each backend a
// cache of its own: entries are keyed by user name. Nil, the default,
// checks every password with [passwd.Verify].
func WithVerifyCache(c *passwd.Cache) Option {
	return func(b *Backend) { b.verified = c }
}

// New returns a backend that serves, for each user of users, the Maildir
// that pathTemplate names. The template takes Dovecot's variables: %u the
// user name, %n its local part (before the @, the whole name when it has
// none), %d its domain (after the @), %h the home directory of the user's
// passwd entry, and %% for a percent sign; %{user}, %{username},
// %{domain} and %{home} are the long forms. Typical templates are
// "/var/mail/%d/%n/Maildir" and "%h/Maildir".
//
// User names are lower-cased before they are looked up, as Dovecot's
// default auth_username_format (%Lu) does: only the ASCII letters A to Z,
// as Dovecot's %L, so that no other character (such as the Kelvin sign
// U+212A) turns into an ASCII one. A name that could make the path leave
// the template's directory (a slash, "..", a leading dot, NUL or another
// control character) fails to log in, whatever the password. So does a
// name without a domain when the template uses %d, which Dovecot would
// expand to an empty path element; and a name with no home directory
// (or a relative one) when the template uses %h.
//
// A template that names no user is an error: every user would share one
// maildrop.
//
// These extra fields of a user's passwd entry ([passwd.Entry.Extra]) are
// honoured, as Dovecot's passdb and userdb passwd-file do; the others are
// ignored. When a key is given twice, the last one counts.
//
//   - nologin (with any value or none), and reason=TEXT: a login with the
//     right password is refused anyway, as a wrong password is
//     ([pop3.ErrAuthFailed]), and logged with the reason, which the client
//     is never shown.
//   - allow_nets=NET[,NET...]: a login with the right password is refused
//     ([pop3.ErrAuthFailed], logged) unless the client's address is in one
//     of the networks, separated by commas (or spaces, as in Dovecot), each
//     an IP address or a CIDR prefix (IPv4-mapped IPv6 addresses, of the
//     client or of a network, are compared as IPv4), or "local" for a
//     client that has no IP address: a nil [pop3.ConnInfo], a nil
//     RemoteAddr, or a RemoteAddr that is not an IP address (a unix
//     socket). An allow_nets that holds anything else (an IPv6 zone too)
//     refuses every login, with a log line: it fails closed, where Dovecot
//     skips the entries it cannot read.
//   - user=NAME (or userdb_user=NAME): the user is renamed, as Dovecot's
//     user field does: NAME's Maildir is served (an alias logging in to
//     its mailbox, a query that adds the domain), and mail for the user
//     is delivered there. A NAME that could not name a Maildir (a slash,
//     "..") refuses the login, with a log line.
//   - userdb_home=PATH: the home directory for %h and "~/", instead of the
//     entry's home field. %u, %n, %d and %% are expanded in it as in the
//     template, with the same checks of the name; %h is an error.
//   - userdb_mail=maildir:PATH[:KEY=VALUE...]: the user's Maildir is PATH
//     instead of the template's expansion, where PATH is read as the
//     template is, with the same checks of the name, except that it need
//     not name the user, "~" or a leading "~/" stands for the home
//     directory, "::" is a colon, and its expansion must be an absolute
//     path. The keys INDEX, INDEXPVT, INDEXSHARED, ITERINDEX, LISTINDEX,
//     UTF-8, BROKENCHAR, NO-NOSELECT, KEEP-NOSELECT, SUBSCRIPTIONS and
//     LAYOUT=Maildir++ are ignored; any other key (such as INBOX or
//     CONTROL, which move the INBOX or its dovecot-uidlist), another
//     driver than maildir (mbox, sdbox, ...), or a location without a
//     driver, refuses the login ([pop3.ErrAuthFailed]) with a log line
//     saying that the location is not supported.
//
// They apply to [Backend.Login] and [Backend.LoginAPOP]; to
// [Backend.Deliver] only userdb_home and userdb_mail do, so that mail goes
// where POP3 reads it, and a nologin user, or one outside allow_nets, is
// still delivered to, as by Dovecot's LDA. An error in userdb_home or
// userdb_mail fails a delivery.
func New(pathTemplate string, users passwd.Source, opts ...Option) (*Backend, error) {
	if users == nil {
		return nil, errors.New("maildir: no password source")
	}
	t, err := mailuser.ParseTemplate(pathTemplate)
	if err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	b := &Backend{template: t, users: users, logger: slog.Default()}
	b.cache.limit = DefaultListingCache
	for _, o := range opts {
		o(b)
	}
	if b.uidlFormatErr != nil {
		return nil, b.uidlFormatErr
	}
	if b.deletedFlagErr != nil {
		return nil, b.deletedFlagErr
	}
	// Built after the options, which set the logger and the cache.
	b.accounts = mailuser.New(mailuser.Config{
		Store:    "maildir",
		Users:    users,
		Verified: b.verified,
		Logger:   b.logger,
		Template: t,
		Driver:   "maildir",
	})
	return b, nil
}

// Login checks username and password against the password source and
// returns the user of that Maildir (RFC 1939 §7, USER and PASS), subject
// to the extra fields that [New] lists. A hash in a scheme that the passwd
// package does not know, or one it cannot read, fails the login and is
// logged.
//
// So that the time a login takes does not tell which users exist, a name
// that is refused, a user the password source does not know, and a user
// whose hash cannot be checked have the password checked anyway, with
// [passwd.VerifyUnknownUser]: against a BLF-CRYPT hash (Dovecot's default
// scheme, at doveadm pw's cost) of random bytes, made on the first such
// login; the result is ignored. A user whose hash is in a slower scheme or at a higher cost
// still takes longer than an unknown one.
//
// With [WithVerifyCache], a repeat login runs no hash.
func (b *Backend) Login(ctx context.Context, c *pop3.ConnInfo, username, password string) (pop3.User, error) {
	acct, err := b.accounts.Login(ctx, c, username, password)
	if err != nil {
		return nil, err
	}
	return b.userOf(acct), nil
}

// LoginAPOP checks an APOP digest (RFC 1939 §7), subject to the extra
// fields that [New] lists. Only a user whose passwd entry keeps the
// password in cleartext ({PLAIN} or {CLEARTEXT}) can use APOP, since the
// digest needs the shared secret; for the others it fails as a wrong
// password does. Unlike Login, it does no decoy check for an unknown user:
// the digest is one MD5, too fast to tell users apart by.
func (b *Backend) LoginAPOP(ctx context.Context, c *pop3.ConnInfo, username, timestamp, digest string) (pop3.User, error) {
	acct, err := b.accounts.LoginAPOP(ctx, c, username, timestamp, digest)
	if err != nil {
		return nil, err
	}
	return b.userOf(acct), nil
}

// userOf is the user of a logged-in account: its Maildir is the account's
// path, and its name the one its mail is found by.
func (b *Backend) userOf(acct *mailuser.Account) *user {
	return &user{backend: b, name: acct.Name, dir: acct.Path}
}

// user is a logged-in user; Open locks and reads the Maildir at dir.
type user struct {
	backend *Backend
	name    string
	dir     string
}
