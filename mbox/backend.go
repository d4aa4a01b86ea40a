package mbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/mailuser"
	"github.com/gopop3/pop3/passwd"
)

// Compile-time checks that the backend implements the pop3 interfaces.
var (
	_ pop3.Backend     = (*Backend)(nil)
	_ pop3.APOPBackend = (*Backend)(nil)
	_ pop3.Deliverer   = (*Backend)(nil)
	_ pop3.UserChecker = (*Backend)(nil)
	_ pop3.User        = (*user)(nil)
	_ pop3.TopMailbox  = (*mailbox)(nil)
	_ pop3.SeenMailbox = (*mailbox)(nil)
)

// DefaultLockTimeout is how long a session or a delivery waits for a
// spool that another program has locked, before it gives up with a
// temporary error: Postfix's deliver_lock_attempts times
// deliver_lock_delay.
const DefaultLockTimeout = 20 * time.Second

// Backend serves users' mbox spools. Create it with [New]; it is safe for
// concurrent use.
type Backend struct {
	template    *mailuser.Template
	accounts    *mailuser.Accounts
	logger      *slog.Logger
	verified    *passwd.Cache
	lockTimeout time.Duration
	ignoreXUIDL bool

	mu sync.Mutex
	// validities remembers the UIDVALIDITY given to each spool that had
	// none, so that a spool emptied and refilled within one second does
	// not get the same one again, and with it the same unique-ids.
	validities map[string]uint32
}

// An Option configures a [Backend].
type Option func(*Backend)

// WithLogger sets the logger for what a client is not told: refused
// logins and their reasons, spools that could not be read or locked,
// updates finished after a crash. The default is [slog.Default].
// Passwords and message contents are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(b *Backend) {
		if l != nil {
			b.logger = l
		}
	}
}

// WithVerifyCache puts c in front of the password checks of
// [Backend.Login], as maildir.WithVerifyCache does: a repeat login with
// the password that succeeded last time runs no hash.
func WithVerifyCache(c *passwd.Cache) Option {
	return func(b *Backend) { b.verified = c }
}

// WithLockTimeout sets how long opening a maildrop, its update at the end
// of a session, and a delivery wait for the spool's locks (its dotlock
// and its fcntl lock) while a delivery agent or a mail reader holds them.
// The default is [DefaultLockTimeout].
func WithLockTimeout(d time.Duration) Option {
	return func(b *Backend) {
		if d > 0 {
			b.lockTimeout = d
		}
	}
}

// WithoutXUIDL shows every message's unique-id as Dovecot computes it,
// %08Xu%08Xv, even for a message with an X-UIDL header, as Dovecot does by
// default (pop3_reuse_xuidl = no). Use it for spools that Dovecot served
// with that default, whose clients know those unique-ids; by default the
// X-UIDL header that qpopper wrote is shown, which is what qpopper's
// clients know.
func WithoutXUIDL() Option {
	return func(b *Backend) { b.ignoreXUIDL = true }
}

// New returns a backend that serves, for each user of users, the mbox
// spool that pathTemplate names, such as "/var/mail/%u" (Debian's and
// Postfix's mail spool) or "%h/mbox". The template takes the variables of
// maildir.New: %u, %n, %d, %h and %%, with the same checks of the user
// name, and a template that names no user is an error. A user's passwd
// entry may name another spool with the extra field
// userdb_mail=mbox:ROOT:INBOX=PATH, Dovecot's mail_location for a spool
// (PATH is taken as the template is; ROOT is ignored, since POP3 serves
// the INBOX only); the extra fields nologin, allow_nets, user and
// userdb_home are honoured as maildir.New describes.
//
// Users and passwords come from a [passwd.Source]: a Dovecot passwd-file
// ([passwd.OpenFile]), the SQL and LDAP user databases, or the system's
// accounts ([passwd.OpenSystem]).
func New(pathTemplate string, users passwd.Source, opts ...Option) (*Backend, error) {
	if users == nil {
		return nil, errors.New("mbox: no password source")
	}
	t, err := mailuser.ParseTemplate(pathTemplate)
	if err != nil {
		return nil, fmt.Errorf("mbox: %w", err)
	}
	b := &Backend{
		template:    t,
		logger:      slog.Default(),
		lockTimeout: DefaultLockTimeout,
		validities:  make(map[string]uint32),
	}
	for _, o := range opts {
		o(b)
	}
	b.accounts = mailuser.New(mailuser.Config{
		Store:    "mbox",
		Users:    users,
		Verified: b.verified,
		Logger:   b.logger,
		Template: t,
		Driver:   "mbox",
	})
	return b, nil
}

// Login checks username and password against the password source and
// returns the user of that spool (RFC 1939 §7, USER and PASS), with the
// same rules as maildir's Backend.Login: user names lower-cased, a decoy
// hash for unknown users so that timing tells nothing, the extra fields.
func (b *Backend) Login(ctx context.Context, c *pop3.ConnInfo, username, password string) (pop3.User, error) {
	a, err := b.accounts.Login(ctx, c, username, password)
	if err != nil {
		return nil, err
	}
	return b.userOf(a)
}

// LoginAPOP checks an APOP digest (RFC 1939 §7). Only a user whose passwd
// entry keeps the password in cleartext ({PLAIN} or {CLEARTEXT}) can use
// it; system accounts never can.
func (b *Backend) LoginAPOP(ctx context.Context, c *pop3.ConnInfo, username, timestamp, digest string) (pop3.User, error) {
	a, err := b.accounts.LoginAPOP(ctx, c, username, timestamp, digest)
	if err != nil {
		return nil, err
	}
	return b.userOf(a)
}

// userOf is the user of an account that logged in. A spool whose name
// ends in ".lock" would be another spool's dotlock: such a user is
// refused, as a wrong password is, with a log line.
func (b *Backend) userOf(a *mailuser.Account) (pop3.User, error) {
	if err := checkSpoolPath(a.Path); err != nil {
		b.logger.Warn("mbox: login refused", "user", a.Name, "reason", err)
		return nil, pop3.ErrAuthFailed
	}
	return &user{backend: b, name: a.Name, path: a.Path}, nil
}

// checkSpoolPath refuses a spool path that names a dotlock.
func checkSpoolPath(path string) error {
	if strings.HasSuffix(path, ".lock") {
		return fmt.Errorf("the spool %s would be another spool's dotlock", path)
	}
	return nil
}

// UserExists reports whether Deliver accepts mail for username
// (pop3.UserChecker), so that pop3d's LMTP listener refuses an unknown
// recipient at RCPT TO.
func (b *Backend) UserExists(ctx context.Context, username string) (bool, error) {
	return b.accounts.Exists(ctx, username)
}

// newValidity returns a UIDVALIDITY for a spool that has none: the time,
// as Dovecot gives it, but never one this backend gave the same spool.
func (b *Backend) newValidity(path string, now time.Time) uint32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	v := uint32(now.Unix())
	if last := b.validities[path]; v <= last {
		v = last + 1
	}
	b.validities[path] = v
	return v
}

// lockContext bounds a wait for a spool's locks.
func (b *Backend) lockContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.lockTimeout)
}

// user is a logged-in user; Open locks and reads the spool at path.
type user struct {
	backend *Backend
	name    string
	path    string
}
