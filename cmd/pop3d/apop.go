package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/ldapdb"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/postgres"
	"github.com/gopop3/pop3/sqldb"
)

// apopOffer is whether pop3d offers APOP (RFC 1939 §7): a timestamp in
// the greeting, and the APOP command. APOP needs the user's cleartext
// secret, so pop3d offers it only when some user of the store can have
// one: a client that sees the timestamp may try APOP first, and every
// attempt would fail, count as a failed login and delay the next one.
//
// It is decided once, at start-up: pop3.Server fixes its extensions when
// it starts serving. A store that gains its first cleartext password
// later (an edited passwd-file, pop3admin useradd -s PLAIN) offers APOP
// after a restart.
type apopOffer struct {
	offered bool
	reason  string
	// err, when not nil, is why the store could not tell; APOP is then
	// offered, as it was before pop3d asked.
	err error
}

// apopInMemory is the offer of the demo and of -load, whose passwords
// are all cleartext.
var apopInMemory = apopOffer{offered: true, reason: "the in-memory store keeps every password in cleartext"}

// apopForPasswdFile offers APOP when some user of the passwd-file has a
// password that keeps the cleartext secret ({PLAIN}, {CLEARTEXT}, ...).
func apopForPasswdFile(f *passwd.File) apopOffer {
	if n := f.CountPlaintext(); n > 0 {
		return apopOffer{offered: true, reason: fmt.Sprintf("%s of %s with a cleartext password", plural(n, "user"), f.Path())}
	}
	return apopOffer{reason: "no user of " + f.Path() + " has a cleartext password ({PLAIN}, {CLEARTEXT}); " +
		"restart pop3d once one has to offer APOP"}
}

// apopForSQL offers APOP when default_pass_scheme is a cleartext scheme:
// pop3d cannot list the users of a database to look at their passwords,
// and a site that keeps them in cleartext says so with
// default_pass_scheme = PLAIN. A password with its own {PLAIN} prefix
// under a hashing default is not seen.
func apopForSQL(cfg *sqldb.Config) apopOffer {
	return apopForScheme("-sql", cfg.DefaultPassScheme, "MD5")
}

// apopForLDAP is apopForSQL for a directory, where auth_bind also rules
// APOP out: the directory checks passwords, pop3d never reads one.
func apopForLDAP(cfg *ldapdb.Config) apopOffer {
	if cfg.AuthBind {
		return apopOffer{reason: "-ldap has auth_bind = yes: the directory checks the passwords, and APOP needs to read them"}
	}
	return apopForScheme("-ldap", cfg.DefaultPassScheme, "CRYPT")
}

// apopForScheme decides for a user database whose passwords without a
// {SCHEME} prefix are in scheme, or in def when scheme is "".
func apopForScheme(flag, scheme, def string) apopOffer {
	if passwd.PlaintextScheme(scheme) {
		return apopOffer{offered: true, reason: fmt.Sprintf("%s has default_pass_scheme = %s, a cleartext scheme", flag, scheme)}
	}
	if scheme == "" {
		scheme = def + ", the default"
	}
	return apopOffer{reason: fmt.Sprintf("%s has default_pass_scheme = %s, not a cleartext scheme such as PLAIN "+
		"(the users of a database cannot be listed to look for {PLAIN} passwords)", flag, scheme)}
}

// apopForPostgres offers APOP when some user of the database has a
// cleartext password.
func apopForPostgres(ctx context.Context, b *postgres.Backend) apopOffer {
	some, err := b.HasCleartextPassword(ctx)
	switch {
	case err != nil:
		return apopOffer{offered: true, reason: "cannot tell whether a user of PostgreSQL has a cleartext password", err: err}
	case some:
		return apopOffer{offered: true, reason: "some users of PostgreSQL have a cleartext password"}
	}
	return apopOffer{reason: "no user of PostgreSQL has a cleartext password ({PLAIN}); " +
		"restart pop3d once one has (pop3admin useradd -s PLAIN) to offer APOP"}
}

// applyAPOP removes APOP from srv when the store's offer says so, unless
// -disable removed it already, and logs what was decided.
func applyAPOP(srv *pop3.Server, offer apopOffer, logger *slog.Logger) {
	switch {
	case slices.Contains(srv.Disable, pop3.ExtAPOP):
		logger.Info("pop3d: APOP not offered", "reason", "-disable APOP")
	case !offer.offered:
		srv.Disable = append(slices.Clip(srv.Disable), pop3.ExtAPOP)
		logger.Info("pop3d: APOP not offered", "reason", offer.reason)
	case offer.err != nil:
		logger.Warn("pop3d: APOP offered", "reason", offer.reason, "err", offer.err)
	default:
		logger.Info("pop3d: APOP offered", "reason", offer.reason)
	}
}
