// Package mailuser is what the stores that keep mail on disk (maildir,
// mbox) do with their users, at login and at delivery alike, so that
// both behave as Dovecot does with the same user database:
//
//   - User names are lower-cased (A to Z only) as Dovecot's default
//     auth_username_format %Lu does ([NormalizeUsername]), and refused when
//     they could not name a path ([CheckUsername]).
//   - Users come from a [passwd.Source]. Passwords are checked with
//     [passwd.Verify] through an optional [passwd.Cache], or by the source
//     itself when it is a [passwd.Authenticator] (LDAP's auth_bind) and the
//     entry has a DN. A refused name, an unknown user and a hash that
//     cannot be checked cost a decoy hash ([passwd.VerifyUnknownUserOf]), so
//     that the time of a login does not tell which users exist. When the
//     source fails, the cache may vouch for a user whose password it saw
//     succeed ([passwd.Cache.Offline]).
//   - APOP (RFC 1939 §7) needs the cleartext secret ({PLAIN} or
//     {CLEARTEXT}).
//   - The extra fields nologin (with reason) and allow_nets refuse a login
//     with the right password; user (or userdb_user) renames the user;
//     userdb_home and userdb_mail move the user's mail, within what the
//     store's driver can serve ([Config.Driver]). Delivery applies only the
//     rename, userdb_home and userdb_mail, as Dovecot's LDA does.
//   - The mail path is the expansion of the store's [Template], such as
//     "/var/mail/%d/%n/Maildir" or "/var/mail/%u", which never leaves the
//     template's [Template.Root].
//
// Every refusal of a login is [pop3.ErrAuthFailed], logged with its reason
// (except a wrong password and an unknown user) under the store's name
// ([Config.Store]), which also starts the errors of the user database and
// [pop3.ErrNoSuchUser]. Errors of a template have no store name: the
// store says what it was doing.
package mailuser

import (
	"fmt"
	"log/slog"

	"github.com/gopop3/pop3/passwd"
)

// Config says how a store finds its users.
type Config struct {
	// Store is the store's name, which starts its log messages and errors
	// ("maildir", "mbox").
	Store string
	// Users is the user database; it must not be nil. A
	// [passwd.UserSource] is asked with LookupUser for a delivery, and a
	// [passwd.Authenticator] checks the passwords of the entries with a
	// DN.
	Users passwd.Source
	// Verified remembers successful password checks; nil: every password
	// is hashed.
	Verified *passwd.Cache
	// Logger gets the refusals and their reasons; nil: [slog.Default].
	Logger *slog.Logger
	// Template is where a user's mail is, unless userdb_mail says; it
	// must not be nil.
	Template *Template
	// Driver is the mail_location driver a userdb_mail extra field may
	// name, "maildir" or "mbox"; any other location refuses the login.
	//
	// For "maildir", userdb_mail=maildir:PATH[:KEY=VALUE...]: the path is
	// PATH. For "mbox", userdb_mail=mbox:ROOT[:KEY=VALUE...]: the path is
	// the value of INBOX=, which is required, and ROOT is ignored. Either
	// path may start with "~" for the home directory, takes the variables
	// of the template (without having to name the user) and must expand
	// to an absolute path; "::" is a colon. The keys INDEX, INDEXPVT,
	// INDEXSHARED, ITERINDEX, LISTINDEX, UTF-8, BROKENCHAR, NO-NOSELECT,
	// KEEP-NOSELECT, SUBSCRIPTIONS and LAYOUT=Maildir++ are ignored; any
	// other key (CONTROL, another LAYOUT, INBOX for maildir, ...) refuses
	// the login.
	Driver string
}

// Accounts logs users in and finds them for delivery, for one store. Make
// it with [New]; it is safe for concurrent use.
type Accounts struct {
	store    string
	users    passwd.Source
	verified *passwd.Cache
	logger   *slog.Logger
	template *Template
	driver   string

	// refused is the message of a refused login's log line.
	refused string
}

// New returns the accounts of cfg. It panics when cfg.Driver is neither
// "maildir" nor "mbox": that is a store's mistake, not a user's.
func New(cfg Config) *Accounts {
	if cfg.Driver != driverMaildir && cfg.Driver != driverMbox {
		panic(fmt.Sprintf("mailuser: unknown driver %q", cfg.Driver))
	}
	a := &Accounts{
		store:    cfg.Store,
		users:    cfg.Users,
		verified: cfg.Verified,
		logger:   cfg.Logger,
		template: cfg.Template,
		driver:   cfg.Driver,
		refused:  cfg.Store + ": login refused",
	}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	return a
}

// Account is a user who logged in, or is delivered to.
type Account struct {
	// Name is the name the user's mail is found by: the name looked up,
	// normalised, or the one its user field renames it to.
	Name string
	// Path is the user's Maildir or spool: the expansion of the template
	// or of the userdb_mail field. It is clean, and absolute unless the
	// store's template is relative (such as "mail/%u").
	Path string
	// Entry is the user's passwd entry (with UID and GID, the owner of
	// the files a store creates); after a login that the verification
	// cache let in while the source failed, the entry the cache kept.
	Entry *passwd.Entry
}

// NormalizeUsername is Dovecot's default auth_username_format, %Lu: the
// ASCII letters A to Z lower-cased, and no other character changed (see
// [passwd.NormalizeUsername]).
func NormalizeUsername(name string) string { return passwd.NormalizeUsername(name) }
