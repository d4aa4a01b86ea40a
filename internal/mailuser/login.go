package mailuser

import (
	"context"
	"errors"
	"fmt"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/passwd"
)

// Login checks username and password against the user database (RFC 1939
// §7, USER and PASS; AUTH PLAIN) and returns the user's account, subject
// to the extra fields (see the package doc). A hash in a scheme that the
// passwd package does not know, or one it cannot read, fails the login and
// is logged.
//
// So that the time a login takes does not tell which users exist, a name
// that is refused, a user the source does not know, and a user whose hash
// cannot be checked have the password checked anyway, with
// [passwd.VerifyUnknownUserOf]; the result is ignored.
//
// With [Config.Verified], a repeat login runs no hash, and when the source
// fails, a user whose password succeeded last time is let in on the entry
// the cache kept, with a warning; anyone else gets the source's error.
func (a *Accounts) Login(ctx context.Context, c *pop3.ConnInfo, username, password string) (*Account, error) {
	pw := []byte(password)
	return a.login(ctx, c, username, loginChecks{
		check: func(name string, entry *passwd.Entry) error {
			// Keyed by the name looked up, which Offline is asked for,
			// whatever name the source put in its entry.
			e := *entry
			e.User = name
			if auth, ok := a.users.(passwd.Authenticator); ok && e.DN != "" {
				return a.verified.VerifyFunc(&e, pw, func() error {
					err := auth.Authenticate(ctx, &e, pw)
					if err != nil && !errors.Is(err, passwd.ErrMismatch) {
						return &sourceError{err}
					}
					return err
				})
			}
			return a.verified.Verify(&e, pw)
		},
		decoy:   func() { passwd.VerifyUnknownUserOf(a.users, pw) },
		offline: func(name string) (*passwd.Entry, bool) { return a.verified.Offline(name, pw) },
	})
}

// LoginAPOP checks an APOP digest (RFC 1939 §7), subject to the extra
// fields as Login is. Only a user whose passwd entry keeps the password in
// cleartext ({PLAIN} or {CLEARTEXT}) can use APOP, since the digest needs
// the shared secret; for the others it fails as a wrong password does.
// Unlike Login, it does no decoy check for an unknown user: the digest is
// one MD5, too fast to tell users apart by.
func (a *Accounts) LoginAPOP(ctx context.Context, c *pop3.ConnInfo, username, timestamp, digest string) (*Account, error) {
	check := func(_ string, entry *passwd.Entry) error {
		secret, ok := passwd.Plaintext(entry.Password)
		if !ok {
			return errNoAPOPSecret
		}
		if !pop3.VerifyAPOP(timestamp, secret, digest) {
			return passwd.ErrMismatch
		}
		return nil
	}
	return a.login(ctx, c, username, loginChecks{check: check})
}

// sourceError is a password source's [passwd.Authenticator] failing to
// tell whether a password is right (a directory that cannot be reached):
// the login fails as a lookup that fails does, not as a wrong password.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }

// errNoAPOPSecret is why an APOP login of a user with a hashed password fails.
var errNoAPOPSecret = errors.New("APOP needs a cleartext secret and the user's password is hashed")

// loginChecks are how one login method checks its credentials.
type loginChecks struct {
	// check verifies the credentials against the entry of the user
	// looked up as name.
	check func(name string, entry *passwd.Entry) error
	// decoy, when not nil, is called instead of check for a refused name
	// and an unknown user, and after check when check could not verify
	// the user's hash (an error other than passwd.ErrMismatch).
	decoy func()
	// offline, when not nil, is asked for the user's entry when the
	// password source fails; ok means the credentials were checked.
	offline func(name string) (entry *passwd.Entry, ok bool)
}

// login finds the user, checks the credentials, applies the passdb extra
// fields nologin and allow_nets (after the check, so that they take no
// less time than a wrong password), and builds the user's path as Lookup
// does. Every refusal is pop3.ErrAuthFailed, logged with its reason except
// for a wrong password and an unknown user; a failure of the password
// source is returned as it is, unless checks.offline vouches for the user.
func (a *Accounts) login(ctx context.Context, c *pop3.ConnInfo, username string, checks loginChecks) (*Account, error) {
	decoy := checks.decoy
	if decoy == nil {
		decoy = func() {}
	}
	name := NormalizeUsername(username)
	if err := CheckUsername(name); err != nil {
		decoy()
		a.logger.Warn(a.refused, "reason", err)
		return nil, pop3.ErrAuthFailed
	}
	entry, err := a.users.Lookup(ctx, name)
	if errors.Is(err, passwd.ErrNotFound) {
		decoy()
		return nil, pop3.ErrAuthFailed
	}
	if errors.Is(err, passwd.ErrInvalidEntry) {
		decoy()
		a.logger.Warn(a.refused, "user", name, "reason", err)
		return nil, pop3.ErrAuthFailed
	}
	switch {
	case err != nil && checks.offline != nil && ctx.Err() == nil:
		cached, ok := checks.offline(name)
		if !ok {
			return nil, fmt.Errorf("%s: looking up %q: %w", a.store, name, err)
		}
		a.logger.Warn(a.store+": the password source failed; letting the user in on the password that last succeeded (verification cache)",
			"user", name, "err", err)
		entry = cached
	case err != nil:
		return nil, fmt.Errorf("%s: looking up %q: %w", a.store, name, err)
	default:
		if err := checks.check(name, entry); err != nil {
			var failed *sourceError
			if errors.As(err, &failed) {
				return nil, fmt.Errorf("%s: checking the password of %q: %w", a.store, name, failed.err)
			}
			if !errors.Is(err, passwd.ErrMismatch) {
				decoy()
				a.logger.Warn(a.refused, "user", name, "reason", err)
			}
			return nil, pop3.ErrAuthFailed
		}
	}
	fields := parseExtra(entry.Extra)
	if fields.nologin {
		a.logger.Warn(a.refused, "user", name, "reason", "the passwd entry has nologin", "nologin_reason", fields.reason)
		return nil, pop3.ErrAuthFailed
	}
	if fields.hasAllowNets {
		if err := checkAllowNets(fields.allowNets, c); err != nil {
			a.logger.Warn(a.refused, "user", name, "reason", err)
			return nil, pop3.ErrAuthFailed
		}
	}
	acct, err := a.account(name, entry, fields)
	if err != nil {
		a.logger.Warn(a.refused, "user", name, "reason", err)
		return nil, pop3.ErrAuthFailed
	}
	return acct, nil
}
