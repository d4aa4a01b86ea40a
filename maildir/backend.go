package maildir

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"

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

	decoyOnce sync.Once
	decoyHash string // see decoy
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
// returns the user of that Maildir (RFC 1939 §7, USER and PASS), subject
// to the extra fields that [New] lists. A hash in a scheme that the passwd
// package does not know, or one it cannot read, fails the login and is
// logged.
//
// So that the time a login takes does not tell which users exist, a name
// that is refused, a user the password source does not know, and a user
// whose hash cannot be checked have the password checked anyway, against
// a BLF-CRYPT hash (Dovecot's default scheme, at doveadm pw's cost) of
// random bytes that the Backend makes on the first such login; the result
// is ignored. A user whose hash is in a slower scheme or at a higher cost
// still takes longer than an unknown one.
func (b *Backend) Login(ctx context.Context, c *pop3.ConnInfo, username, password string) (pop3.User, error) {
	check := func(entry *passwd.Entry) error {
		return passwd.Verify(entry.Password, []byte(password))
	}
	decoy := func() {
		_ = passwd.Verify(b.decoy(), []byte(password))
	}
	return b.login(ctx, c, username, check, decoy)
}

// LoginAPOP checks an APOP digest (RFC 1939 §7), subject to the extra
// fields that [New] lists. Only a user whose passwd entry keeps the
// password in cleartext ({PLAIN} or {CLEARTEXT}) can use APOP, since the
// digest needs the shared secret; for the others it fails as a wrong
// password does. Unlike Login, it does no decoy check for an unknown user:
// the digest is one MD5, too fast to tell users apart by.
func (b *Backend) LoginAPOP(ctx context.Context, c *pop3.ConnInfo, username, timestamp, digest string) (pop3.User, error) {
	check := func(entry *passwd.Entry) error {
		secret, ok := passwd.Plaintext(entry.Password)
		if !ok {
			return errNoAPOPSecret
		}
		if !pop3.VerifyAPOP(timestamp, secret, digest) {
			return passwd.ErrMismatch
		}
		return nil
	}
	return b.login(ctx, c, username, check, nil)
}

// errNoAPOPSecret is why an APOP login of a user with a hashed password fails.
var errNoAPOPSecret = errors.New("maildir: APOP needs a cleartext secret and the user's password is hashed")

// decoy returns the hash that Login checks a password against when there
// is no user's hash to check: a BLF-CRYPT hash of 32 random bytes, made
// once per Backend, on first use. When it cannot be made (passwd.Hash
// failed, which it does not for these bytes), the error is logged and
// decoy returns "", against which a check returns at once.
func (b *Backend) decoy() string {
	b.decoyOnce.Do(func() {
		secret := make([]byte, 32)
		_, _ = rand.Read(secret) // crypto/rand.Read never fails (Go 1.24)
		h, err := passwd.Hash("BLF-CRYPT", secret)
		if err != nil {
			b.logger.Error("maildir: cannot make the hash that hides unknown users from timing", "err", err)
			return
		}
		b.decoyHash = h
	})
	return b.decoyHash
}

// login finds the user, checks the credentials with check, applies the
// passdb extra fields nologin and allow_nets (after check, so that they
// take no less time than a wrong password), and builds the user's Maildir
// path as maildirOf does. decoy, when not nil, is called instead of check for
// a refused name and an unknown user, and after check when check could not
// verify the user's hash (an error other than passwd.ErrMismatch). Every
// refusal is pop3.ErrAuthFailed, logged with its reason except for a wrong
// password and an unknown user; a failure of the password source is
// returned as it is.
func (b *Backend) login(ctx context.Context, c *pop3.ConnInfo, username string, check func(*passwd.Entry) error, decoy func()) (pop3.User, error) {
	if decoy == nil {
		decoy = func() {}
	}
	name := normalizeUsername(username)
	if err := checkUsername(name); err != nil {
		decoy()
		b.logger.Warn("maildir: login refused", "reason", err)
		return nil, pop3.ErrAuthFailed
	}
	entry, err := b.users.Lookup(ctx, name)
	if errors.Is(err, passwd.ErrNotFound) {
		decoy()
		return nil, pop3.ErrAuthFailed
	}
	if err != nil {
		return nil, fmt.Errorf("maildir: looking up %q: %w", name, err)
	}
	if err := check(entry); err != nil {
		if !errors.Is(err, passwd.ErrMismatch) {
			decoy()
			b.logger.Warn("maildir: login refused", "user", name, "reason", err)
		}
		return nil, pop3.ErrAuthFailed
	}
	fields := parseExtra(entry.Extra)
	if fields.nologin {
		b.logger.Warn("maildir: login refused", "user", name, "reason", "the passwd entry has nologin", "nologin_reason", fields.reason)
		return nil, pop3.ErrAuthFailed
	}
	if fields.hasAllowNets {
		if err := checkAllowNets(fields.allowNets, c); err != nil {
			b.logger.Warn("maildir: login refused", "user", name, "reason", err)
			return nil, pop3.ErrAuthFailed
		}
	}
	dir, err := b.maildir(name, entry.Home, fields)
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

// maildirOf returns the Maildir of the user name (already normalised)
// whose passwd entry is entry, for a login and for a delivery alike: the
// expansion of the template, or of the entry's userdb_mail, with the home
// directory of its userdb_home or else of its home field (see [New]). It
// does not apply nologin or allow_nets. A name that cannot fill the path
// is an error wrapping errBadUsername; an unsupported userdb_mail, one
// wrapping errUnsupportedLocation.
func (b *Backend) maildirOf(name string, entry *passwd.Entry) (string, error) {
	return b.maildir(name, entry.Home, parseExtra(entry.Extra))
}

// maildir is maildirOf with the extra fields already parsed.
func (b *Backend) maildir(name, home string, fields extraFields) (string, error) {
	if fields.hasHome {
		h, err := expandHome(name, fields.home)
		if err != nil {
			return "", err
		}
		home = h
	}
	if !fields.hasMail {
		return b.template.expand(name, home)
	}
	t, err := parseMailLocation(fields.mail)
	if err != nil {
		return "", err
	}
	dir, err := t.expand(name, home)
	if err != nil {
		return "", fmt.Errorf("userdb_mail %q: %w", fields.mail, err)
	}
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("%w: userdb_mail %q is not an absolute path", errUnsupportedLocation, fields.mail)
	}
	return dir, nil
}

// expandHome expands %u, %n, %d and %% in a userdb_home value, as Dovecot
// expands the variables of a passwd-file's userdb extra fields, with the
// checks of template.expand; %h is an error.
func expandHome(name, value string) (string, error) {
	t, err := parsePath(value)
	if err != nil {
		return "", fmt.Errorf("userdb_home: %w", err)
	}
	if t.uses['h'] {
		return "", fmt.Errorf("userdb_home %q refers to itself (%%h)", value)
	}
	home, err := t.expand(name, "")
	if err != nil {
		return "", fmt.Errorf("userdb_home %q: %w", value, err)
	}
	return home, nil
}

// extraFields are the extra fields of a passwd entry that this package
// honours; see New.
type extraFields struct {
	nologin      bool
	reason       string
	hasAllowNets bool
	allowNets    string
	hasHome      bool
	home         string
	hasMail      bool
	mail         string
}

// parseExtra reads the extra fields, each "key=value" or a flag "key";
// keys are matched exactly, and the last of a key counts.
func parseExtra(extra []string) extraFields {
	var f extraFields
	for _, field := range extra {
		key, value, _ := strings.Cut(field, "=")
		switch key {
		case "nologin":
			f.nologin = true
		case "reason":
			f.reason = value
		case "allow_nets":
			f.hasAllowNets, f.allowNets = true, value
		case "userdb_home":
			f.hasHome, f.home = true, value
		case "userdb_mail":
			f.hasMail, f.mail = true, value
		}
	}
	return f
}

// checkAllowNets returns nil when the client of c may log in under
// allow_nets=nets: a comma-separated list (spaces are separators too, as
// in Dovecot) of IP addresses, CIDR prefixes and "local". An address or
// prefix that does not parse, or has an IPv6 zone, refuses the login
// whatever the client's address. An IPv4-mapped IPv6 address, of the
// client or in nets, is compared as the IPv4 address.
func checkAllowNets(nets string, c *pop3.ConnInfo) error {
	var (
		prefixes []netip.Prefix
		local    bool
	)
	for _, n := range strings.FieldsFunc(nets, func(r rune) bool { return r == ',' || r == ' ' }) {
		if n == "local" {
			local = true
			continue
		}
		p, err := parseNet(n)
		if err != nil {
			return fmt.Errorf("allow_nets %q is malformed (%v); refusing every login", nets, err)
		}
		prefixes = append(prefixes, p)
	}
	ip, isLocal := remoteIP(c)
	if isLocal {
		if local {
			return nil
		}
		return fmt.Errorf("the connection is local (no IP address) and allow_nets %q has no \"local\"", nets)
	}
	for _, p := range prefixes {
		if p.Contains(ip) {
			return nil
		}
	}
	return fmt.Errorf("the client's address %s is not in allow_nets %q", ip, nets)
}

// parseNet reads an IP address, as a prefix of its full length, or a CIDR
// prefix, with IPv4-mapped IPv6 ones made IPv4.
func parseNet(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q has an IPv6 zone", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("%q is an IPv4-mapped prefix shorter than 96 bits", s)
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// remoteIP returns the client's IP address (IPv4-mapped ones made IPv4,
// without a zone), or local true for a connection without one: a nil c, a
// nil RemoteAddr, a *net.UnixAddr, or an address of another type whose
// String is not an IP address with or without a port. A *net.TCPAddr,
// *net.UDPAddr or *net.IPAddr without a valid IP returns the zero Addr,
// which no network contains, and local false.
func remoteIP(c *pop3.ConnInfo) (ip netip.Addr, local bool) {
	if c == nil || c.RemoteAddr == nil {
		return netip.Addr{}, true
	}
	switch a := c.RemoteAddr.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.IPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.UnixAddr:
		return netip.Addr{}, true
	default:
		s := a.String()
		if ap, err := netip.ParseAddrPort(s); err == nil {
			ip = ap.Addr()
		} else if ip, err = netip.ParseAddr(s); err != nil {
			return netip.Addr{}, true
		}
	}
	return ip.Unmap().WithZone(""), false
}

// normalizeUsername is Dovecot's default auth_username_format, %Lu: it
// lower-cases the ASCII letters A to Z and leaves every other byte as it
// is, as Dovecot's %L does (strings.ToLower would also map non-ASCII
// letters, such as the Kelvin sign U+212A, to ASCII ones).
func normalizeUsername(name string) string {
	i := strings.IndexFunc(name, func(r rune) bool { return 'A' <= r && r <= 'Z' })
	if i < 0 {
		return name
	}
	b := []byte(name)
	for ; i < len(b); i++ {
		if c := b[i]; 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// user is a logged-in user; Open locks and reads the Maildir at dir.
type user struct {
	backend *Backend
	name    string
	dir     string
}
