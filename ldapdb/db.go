package ldapdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/gopop3/pop3/internal/dovecotconf"
	"github.com/gopop3/pop3/passwd"
)

// Compile-time check: a DB is a password source, and checks passwords
// itself when auth_bind is set.
var (
	_ passwd.Authenticator = (*DB)(nil)
	_ passwd.UserSource    = (*DB)(nil)
)

// Defaults of the timeouts and of the connection pools.
const (
	// DefaultDialTimeout bounds connecting to one server.
	DefaultDialTimeout = 5 * time.Second
	// DefaultRequestTimeout bounds one search or bind.
	DefaultRequestTimeout = 10 * time.Second
	// defaultMaxIdle is how many connections of each kind (lookups, and
	// auth_bind's binds as users) are kept open between lookups.
	defaultMaxIdle = 4
	// defaultMaxOpen is how many connections of each kind may be open at
	// once; more concurrent logins wait for one.
	defaultMaxOpen = 16
)

// DB is a Dovecot LDAP user database: a [passwd.Source] whose Lookup
// searches the directory with pass_filter and user_filter, and, with
// auth_bind, a [passwd.Authenticator] that checks a password by binding as
// the user. Open it with [Open] or [OpenFile]. It keeps connections open
// between lookups, tries the URIs in turn, and reconnects by itself after
// the server restarts. It is safe for concurrent use.
type DB struct {
	cfg      *compiled
	authBind bool
	logger   *slog.Logger
	dial     time.Duration
	request  time.Duration
	maxIdle  int
	lookups  *pool // bound as dn
	binds    *pool // auth_bind: each bind is a user's
}

// An Option configures a [DB].
type Option func(*DB)

// WithLogger sets where a DB logs what a client is not told (an entry
// that cannot be used); the default is [slog.Default]. Passwords and
// hashes are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(d *DB) {
		if l != nil {
			d.logger = l
		}
	}
}

// WithTimeouts sets the dial and request timeouts (see
// [DefaultDialTimeout] and [DefaultRequestTimeout]); zero keeps a default.
func WithTimeouts(dial, request time.Duration) Option {
	return func(d *DB) {
		if dial > 0 {
			d.dial = dial
		}
		if request > 0 {
			d.request = request
		}
	}
}

// Open checks cfg and returns its directory. It does not connect: a server
// that is down when Open is called makes lookups fail until it is back,
// which [DB.Ping] tells.
func Open(cfg *Config, opts ...Option) (*DB, error) {
	c, err := cfg.compile(nil)
	if err != nil {
		return nil, err
	}
	return open(cfg, c, opts), nil
}

// OpenFile reads the dovecot-ldap.conf.ext at path ([ReadConfig]) and opens
// its directory.
func OpenFile(path string, opts ...Option) (*DB, error) {
	cfg, c, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	return open(cfg, c, opts), nil
}

func open(cfg *Config, c *compiled, opts []Option) *DB {
	d := &DB{cfg: c, authBind: cfg.AuthBind, logger: slog.Default(),
		dial: DefaultDialTimeout, request: DefaultRequestTimeout, maxIdle: defaultMaxIdle}
	for _, o := range opts {
		o(d)
	}
	d.lookups = &pool{cfg: c, bindDN: cfg.DN, bindPw: cfg.DNPass, dial: d.dial, request: d.request, max: d.maxIdle,
		open: make(chan struct{}, defaultMaxOpen)}
	d.binds = &pool{cfg: c, dial: d.dial, request: d.request, max: d.maxIdle, open: make(chan struct{}, defaultMaxOpen)}
	return d
}

// Ping connects to the directory (binding as dn), if no connection is
// open, and reports whether it answers: it reads the root DSE, which
// every LDAPv3 server has (RFC 4512 §5.1).
func (d *DB) Ping(ctx context.Context) error {
	err := d.lookups.do(ctx, func(c *ldap.Conn) error {
		_, err := c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases,
			1, int(d.request/time.Second), false, "(objectClass=*)", []string{"1.1"}, nil))
		return err
	})
	if err != nil {
		return fmt.Errorf("ldapdb: %w", err)
	}
	return nil
}

// Close closes the connections.
func (d *DB) Close() error {
	d.lookups.close()
	d.binds.close()
	return nil
}

// Lookup finds user (a name already normalised by the store, Dovecot's
// %Lu). Without auth_bind_userdn it searches base for pass_filter and
// reads pass_attrs; unless those gave a userdb_ field (Dovecot's
// prefetch), it reads user_attrs from the user_filter search too (one
// search when the two filters are the same). With auth_bind_userdn, only
// the user_filter search is made. It returns:
//
//   - an error wrapping [passwd.ErrNotFound] when the search finds no
//     entry;
//   - one wrapping [passwd.ErrInvalidEntry] when it finds more than one,
//     or, without auth_bind, when the entry has no password: the store
//     refuses such a login and logs why;
//   - any other error when the directory fails, which a store reports as
//     a temporary failure.
//
// The entry's fields map as in the sqldb package: password (with
// default_pass_scheme in front when it has no {SCHEME}), home, uid, gid,
// mail as "userdb_mail=...", a user field that differs from the name as
// "user=NAME" (Dovecot's rename), and the other fields as extra fields. With
// auth_bind, the entry carries the user's DN and no password:
// [DB.Authenticate] checks it.
func (d *DB) Lookup(ctx context.Context, user string) (*passwd.Entry, error) {
	vals := dovecotconf.ValuesFor(ctx, user)
	e := &passwd.Entry{User: user}
	c := d.cfg
	if c.userDN != nil {
		e.DN = c.userDN.Expand(vals, ldap.EscapeDN)
		return e, d.readUser(ctx, e, vals, nil)
	}
	found, err := d.search(ctx, "pass_filter", c.passFilter, c.passSearchAttrs, vals)
	if err != nil {
		return nil, err
	}
	if d.authBind {
		e.DN = found.DN
	}
	prefetch := false
	password, havePassword := "", false
	renamed := ""
	for _, f := range c.passAttrs.apply(found, vals) {
		switch {
		case f.name == "password":
			password, havePassword = dovecotconf.WithScheme(f.value, d.cfg.defaultScheme, false), true
		case f.name == "password_noscheme":
			password, havePassword = dovecotconf.WithScheme(f.value, d.cfg.defaultScheme, true), true
		case f.name == "user":
			// Dovecot's rename: the store serves the mail of the name
			// returned.
			if f.value != user {
				renamed = f.value
				e.Extra = append(e.Extra, "user="+f.value)
			}
		case f.name == "nopassword":
			return nil, fmt.Errorf("%w: pass_attrs returned nopassword, which pop3d does not honour", passwd.ErrInvalidEntry)
		case strings.HasPrefix(f.name, "userdb_"):
			prefetch = true
			dovecotconf.AddField(e, strings.TrimPrefix(f.name, "userdb_"), f.value, true)
		default:
			dovecotconf.AddField(e, f.name, f.value, false)
		}
	}
	if !d.authBind {
		if !havePassword || password == "" {
			return nil, fmt.Errorf("%w: the entry has no password (its pass_attrs attribute for password is missing or empty)", passwd.ErrInvalidEntry)
		}
		e.Password = password
	}
	if prefetch {
		return e, nil
	}
	if c.oneSearch {
		return e, d.readUser(ctx, e, vals, found)
	}
	if renamed != "" {
		// Dovecot asks the userdb for the renamed user.
		vals = dovecotconf.ValuesFor(ctx, renamed)
	}
	if err := d.readUser(ctx, e, vals, nil); err != nil {
		if errors.Is(err, passwd.ErrNotFound) {
			return nil, fmt.Errorf("%w: pass_filter found the user and user_filter did not", passwd.ErrInvalidEntry)
		}
		return nil, err
	}
	return e, nil
}

// LookupUser finds user for delivery, as Dovecot's LMTP does: with the
// user_filter search alone, reading user_attrs. Its errors are Lookup's.
func (d *DB) LookupUser(ctx context.Context, user string) (*passwd.Entry, error) {
	e := &passwd.Entry{User: user}
	if err := d.readUser(ctx, e, dovecotconf.ValuesFor(ctx, user), nil); err != nil {
		return nil, err
	}
	return e, nil
}

// readUser adds the user_attrs fields to e, from found or from a
// user_filter search.
func (d *DB) readUser(ctx context.Context, e *passwd.Entry, vals *dovecotconf.Values, found *ldap.Entry) error {
	if found == nil {
		var err error
		found, err = d.search(ctx, "user_filter", d.cfg.userFilter, d.cfg.userSearchAttrs, vals)
		if err != nil {
			return err
		}
	}
	for _, f := range d.cfg.userAttrs.apply(found, vals) {
		dovecotconf.AddField(e, strings.TrimPrefix(f.name, "userdb_"), f.value, true)
	}
	return nil
}

// search finds the one entry of filter.
func (d *DB) search(ctx context.Context, name string, filter *dovecotconf.Template, attrs []string, vals *dovecotconf.Values) (*ldap.Entry, error) {
	c := d.cfg
	req := ldap.NewSearchRequest(c.base.Expand(vals, ldap.EscapeDN), c.scope, c.deref,
		2, int(d.request/time.Second), false, filter.Expand(vals, ldap.EscapeFilter), attrs, nil)
	var res *ldap.SearchResult
	err := d.lookups.do(ctx, func(conn *ldap.Conn) error {
		var err error
		res, err = conn.Search(req)
		if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) && res != nil && len(res.Entries) > 1 {
			return nil
		}
		if ldap.IsErrorAnyOf(err, ldap.LDAPResultNoSuchObject, ldap.LDAPResultInvalidDNSyntax) {
			// The base does not exist (%d of an unknown domain), or the
			// name makes it no DN (%d of a name without a domain): no
			// such user.
			res, err = &ldap.SearchResult{}, nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ldapdb: %s search: %w", name, err)
	}
	switch len(res.Entries) {
	case 0:
		return nil, fmt.Errorf("%w (ldapdb %s)", passwd.ErrNotFound, name)
	case 1:
		return res.Entries[0], nil
	}
	return nil, fmt.Errorf("%w: the %s search found more than one entry for the user; Dovecot refuses such a login too", passwd.ErrInvalidEntry, name)
}

// Authenticate checks password by binding as entry.DN, for auth_bind. An
// empty password is refused without asking the server, which would take
// it as an unauthenticated bind that always succeeds (RFC 4513 §5.1.2).
func (d *DB) Authenticate(ctx context.Context, entry *passwd.Entry, password []byte) error {
	if entry.DN == "" || !d.authBind {
		return fmt.Errorf("%w: the entry has no DN to bind as (auth_bind is not set)", passwd.ErrInvalidEntry)
	}
	if len(password) == 0 {
		return fmt.Errorf("%w (an empty password)", passwd.ErrMismatch)
	}
	err := d.binds.do(ctx, func(c *ldap.Conn) error { return c.Bind(entry.DN, string(password)) })
	switch {
	case err == nil:
		return nil
	case ldap.IsErrorAnyOf(err, ldap.LDAPResultInvalidCredentials, ldap.LDAPResultInvalidDNSyntax):
		return fmt.Errorf("%w (ldap bind)", passwd.ErrMismatch)
	}
	return fmt.Errorf("ldapdb: binding as the user: %w", err)
}
