package maildir

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/passwd"
)

// Compile-time checks that the backend implements the pop3 interfaces.
var (
	_ pop3.Backend     = (*Backend)(nil)
	_ pop3.APOPBackend = (*Backend)(nil)
	_ pop3.Deliverer   = (*Backend)(nil)
	_ pop3.User        = (*user)(nil)
	_ pop3.TopMailbox  = (*mailbox)(nil)
)

// Backend serves users' Maildirs. Create it with [New]; it is safe for
// concurrent use.
type Backend struct {
	template *template
	users    passwd.Source
	logger   *slog.Logger
}

// An Option configures a [Backend].
type Option func(*Backend)

// WithLogger sets the logger for what a client is not told: refused user
// names, unknown password schemes, rebuilt uidlists, files that vanished.
// The default is [slog.Default]. Passwords and message contents are never
// logged.
func WithLogger(l *slog.Logger) Option {
	return func(b *Backend) {
		if l != nil {
			b.logger = l
		}
	}
}

// New returns a backend that serves, for each user of users, the Maildir
// that pathTemplate names. The template takes Dovecot's variables: %u the
// user name, %n its local part (before the @), %d its domain (after it), %h
// the home directory of the user's passwd entry, and %% for a percent sign;
// %{user}, %{username}, %{domain} and %{home} are the long forms. Typical
// templates are "/var/mail/%d/%n/Maildir" and "%h/Maildir".
//
// User names are lower-cased before they are looked up, as Dovecot's default
// auth_username_format (%Lu) does. A name that could make the path leave
// the template's directory (a slash, "..", a leading dot, NUL or another
// control character) fails to log in, whatever the password.
//
// A template that names no user is an error: every user would share one
// maildrop.
func New(pathTemplate string, users passwd.Source, opts ...Option) (*Backend, error) {
	if users == nil {
		return nil, errors.New("maildir: no password source")
	}
	t, err := parseTemplate(pathTemplate)
	if err != nil {
		return nil, err
	}
	b := &Backend{template: t, users: users, logger: slog.Default()}
	for _, o := range opts {
		o(b)
	}
	return b, nil
}

// Login checks username and password against the password source and
// returns the user of that Maildir (RFC 1939 §7, USER and PASS). A hash in
// a scheme that the passwd package does not know fails the login and is
// logged.
func (b *Backend) Login(ctx context.Context, c *pop3.ConnInfo, username, password string) (pop3.User, error) {
	return b.login(ctx, username, func(entry *passwd.Entry) error {
		return passwd.Verify(entry.Password, []byte(password))
	})
}

// LoginAPOP checks an APOP digest (RFC 1939 §7). Only a user whose passwd
// entry keeps the password in cleartext ({PLAIN} or {CLEARTEXT}) can use
// APOP, since the digest needs the shared secret; for the others it fails
// as a wrong password does.
func (b *Backend) LoginAPOP(ctx context.Context, c *pop3.ConnInfo, username, timestamp, digest string) (pop3.User, error) {
	return b.login(ctx, username, func(entry *passwd.Entry) error {
		secret, ok := passwd.Plaintext(entry.Password)
		if !ok {
			return errNoAPOPSecret
		}
		if !pop3.VerifyAPOP(timestamp, secret, digest) {
			return passwd.ErrMismatch
		}
		return nil
	})
}

// errNoAPOPSecret is why an APOP login of a user with a hashed password fails.
var errNoAPOPSecret = errors.New("maildir: APOP needs a cleartext secret and the user's password is hashed")

// login finds the user, checks the credentials with check and builds the
// user's Maildir path. Every refusal is pop3.ErrAuthFailed, logged with its
// reason; a failure of the password source is returned as it is.
func (b *Backend) login(ctx context.Context, username string, check func(*passwd.Entry) error) (pop3.User, error) {
	name := normalizeUsername(username)
	if err := checkUsername(name); err != nil {
		b.logger.Warn("maildir: login refused", "reason", err)
		return nil, pop3.ErrAuthFailed
	}
	entry, err := b.users.Lookup(ctx, name)
	if errors.Is(err, passwd.ErrNotFound) {
		return nil, pop3.ErrAuthFailed
	}
	if err != nil {
		return nil, fmt.Errorf("maildir: looking up %q: %w", name, err)
	}
	if err := check(entry); err != nil {
		if !errors.Is(err, passwd.ErrMismatch) {
			b.logger.Warn("maildir: login refused", "user", name, "reason", err)
		}
		return nil, pop3.ErrAuthFailed
	}
	dir, err := b.template.expand(name, entry.Home)
	if err != nil {
		b.logger.Warn("maildir: login refused", "user", name, "reason", err)
		return nil, pop3.ErrAuthFailed
	}
	return &user{backend: b, name: name, dir: dir}, nil
}

// lookup finds a user for delivery: an unknown one is pop3.ErrNoSuchUser.
func (b *Backend) lookup(ctx context.Context, name string) (*passwd.Entry, error) {
	if err := checkUsername(name); err != nil {
		return nil, fmt.Errorf("maildir: %w: %q (%v)", pop3.ErrNoSuchUser, name, err)
	}
	entry, err := b.users.Lookup(ctx, name)
	if errors.Is(err, passwd.ErrNotFound) {
		return nil, fmt.Errorf("maildir: %w: %q", pop3.ErrNoSuchUser, name)
	}
	if err != nil {
		return nil, fmt.Errorf("maildir: looking up %q: %w", name, err)
	}
	return entry, nil
}

// normalizeUsername is Dovecot's default auth_username_format, %Lu.
func normalizeUsername(name string) string { return strings.ToLower(name) }

// user is a logged-in user; Open locks and reads the Maildir at dir.
type user struct {
	backend *Backend
	name    string
	dir     string
}
