package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/ldapdb"
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/sqldb"
)

// openStore opens the one store the flags choose: Maildirs (-maildir and
// -passwd, -sql or -ldap), PostgreSQL (-postgres), a loaded directory (-load) or the demo
// mailbox. close releases it once the server has stopped. The stores that
// hash passwords check them through cache, which may be nil.
func openStore(ctx context.Context, o *options, cache *passwd.Cache, logger *slog.Logger) (b pop3.Backend, m *loaded, close func(), err error) {
	if o.postgres != "" {
		pb, closePostgres, err := openPostgres(ctx, o, cache, logger)
		if err != nil {
			return nil, nil, nil, err
		}
		return pb, &loaded{exampleUser: "USER", examplePass: "PASSWORD"}, closePostgres, nil
	}
	if o.maildir != "" {
		users, closeUsers, err := openUsers(ctx, o, logger)
		if err != nil {
			return nil, nil, nil, err
		}
		b, err := maildir.New(o.maildir, users, maildir.WithLogger(logger), maildir.WithListingCache(o.maildirCache),
			maildir.WithVerifyCache(cache))
		if err != nil {
			closeUsers()
			return nil, nil, nil, fmt.Errorf("-maildir: %w", err)
		}
		return b, &loaded{exampleUser: "USER", examplePass: "PASSWORD"}, closeUsers, nil
	}
	b, m, err = openLocalStore(o)
	return b, m, func() {}, err
}

// openLocalStore opens the in-memory store: -load or the demo.
func openLocalStore(o *options) (pop3.Backend, *loaded, error) {
	b := memory.New()
	if o.load != "" {
		mailboxes, err := loadDir(b, o.load)
		return b, mailboxes, err
	}
	mailboxes, err := loadDemo(b, o.domain, time.Now())
	return b, mailboxes, err
}

// verifyCache returns the verification cache of -auth-cache-size and
// -auth-cache-ttl, or nil when it is off or the store keeps no password
// hashes (the demo and -load compare cleartext passwords).
func verifyCache(o *options) *passwd.Cache {
	if o.maildir == "" && o.postgres == "" {
		return nil
	}
	return passwd.NewCache(o.authCacheSize, o.authCacheTTL)
}

// pinger is a user database that can tell whether it is reachable.
type pinger interface{ Ping(context.Context) error }

// openUsers opens the user database of -maildir: -passwd, -sql or -ldap.
// An SQL or LDAP database that does not answer, or cannot prepare a
// query, is no reason not to start: it is logged, logins fail with the SYS/TEMP response code until it answers, and
// the users the verification cache knows still log in.
func openUsers(ctx context.Context, o *options, logger *slog.Logger) (passwd.Source, func(), error) {
	var (
		users interface {
			passwd.Source
			pinger
			Close() error
		}
		flag, path string
	)
	switch {
	case o.sqlConf != "":
		db, err := sqldb.OpenFile(o.sqlConf, sqldb.WithLogger(logger))
		if err != nil {
			return nil, nil, fmt.Errorf("-sql: %w", err)
		}
		users, flag, path = db, "-sql", o.sqlConf
	case o.ldapConf != "":
		db, err := ldapdb.OpenFile(o.ldapConf, ldapdb.WithLogger(logger))
		if err != nil {
			return nil, nil, fmt.Errorf("-ldap: %w", err)
		}
		users, flag, path = db, "-ldap", o.ldapConf
	default:
		file, err := passwd.OpenFile(o.passwd, logger)
		if err != nil {
			return nil, nil, fmt.Errorf("-passwd: %w", err)
		}
		return file, func() {}, nil
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := users.Ping(pctx); err != nil {
		logger.Error("pop3d: the user database is not usable now; starting anyway: logins are told to try again later until it is",
			"flag", flag, "config", path, "err", err)
	} else {
		logger.Info("pop3d: the user database answers", "flag", flag, "config", path)
	}
	return users, func() { users.Close() }, nil
}
