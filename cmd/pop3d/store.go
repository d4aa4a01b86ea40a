package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/ldapdb"
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/mbox"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/sqldb"
)

// openedStore is the store the flags chose, opened.
type openedStore struct {
	backend pop3.Backend
	// loaded is what the instructions show: the users and messages of
	// the demo or -load, an example user otherwise.
	loaded *loaded
	// apop is whether its users can log in with APOP.
	apop apopOffer
	// close releases it once the server has stopped.
	close func()
}

// openStore opens the one store the flags choose: Maildirs (-maildir) or
// mbox spools (-mbox), with -passwd, -sql, -ldap or -system-users;
// PostgreSQL (-postgres); a loaded directory (-load); or the demo mailbox. The stores that hash passwords check them through cache, which
// may be nil.
func openStore(ctx context.Context, o *options, cache *passwd.Cache, logger *slog.Logger) (*openedStore, error) {
	example := &loaded{exampleUser: "USER", examplePass: "PASSWORD"}
	if o.postgres != "" {
		pb, apop, closePostgres, err := openPostgres(ctx, o, cache, logger)
		if err != nil {
			return nil, err
		}
		return &openedStore{backend: pb, loaded: example, apop: apop, close: closePostgres}, nil
	}
	if o.mbox != "" {
		users, apop, closeUsers, err := openUsers(ctx, o, logger)
		if err != nil {
			return nil, err
		}
		opts := []mbox.Option{mbox.WithLogger(logger), mbox.WithVerifyCache(cache)}
		if o.ignoreXUIDL {
			opts = append(opts, mbox.WithoutXUIDL())
		}
		b, err := mbox.New(o.mbox, users, opts...)
		if err != nil {
			closeUsers()
			return nil, fmt.Errorf("-mbox: %w", err)
		}
		// Spools that a crash left half rewritten are finished before
		// mail readers and delivery agents meet them.
		if n, err := b.Recover(ctx); err != nil {
			logger.Error("pop3d: some spools' interrupted updates could not be finished; their users' logins fail until they are", "finished", n, "err", err)
		} else if n > 0 {
			logger.Warn("pop3d: finished the interrupted updates of spools", "spools", n)
		}
		return &openedStore{backend: b, loaded: example, apop: apop, close: closeUsers}, nil
	}
	if o.maildir != "" {
		users, apop, closeUsers, err := openUsers(ctx, o, logger)
		if err != nil {
			return nil, err
		}
		b, err := maildir.New(o.maildir, users, maildirOptions(o, cache, logger)...)
		if err != nil {
			closeUsers()
			return nil, fmt.Errorf("-maildir: %w", err)
		}
		return &openedStore{backend: b, loaded: example, apop: apop, close: closeUsers}, nil
	}
	b, m, err := openLocalStore(o)
	if err != nil {
		return nil, err
	}
	return &openedStore{backend: b, loaded: m, apop: apopInMemory, close: func() {}}, nil
}

// maildirOptions are the maildir backend's options that the flags give.
func maildirOptions(o *options, cache *passwd.Cache, logger *slog.Logger) []maildir.Option {
	opts := []maildir.Option{maildir.WithLogger(logger), maildir.WithListingCache(o.maildirCache), maildir.WithVerifyCache(cache)}
	if o.uidlFormat != "" {
		opts = append(opts, maildir.WithUIDLFormat(o.uidlFormat))
	}
	if o.saveUIDL {
		opts = append(opts, maildir.WithSaveUIDL())
	}
	if o.reuseXUIDL {
		opts = append(opts, maildir.WithReuseXUIDL())
	}
	if o.deletedFlag != "" {
		opts = append(opts, maildir.WithDeletedFlag(o.deletedFlag))
	}
	if o.noFlagUpdates {
		opts = append(opts, maildir.WithNoFlagUpdates())
	}
	return opts
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
	if o.maildir == "" && o.mbox == "" && o.postgres == "" {
		return nil
	}
	return passwd.NewCache(o.authCacheSize, o.authCacheTTL)
}

// pinger is a user database that can tell whether it is reachable.
type pinger interface{ Ping(context.Context) error }

// openUsers opens the user database of -maildir or -mbox: -passwd, -sql,
// -ldap or -system-users,
// and tells whether its users can log in with APOP.
// An SQL or LDAP database that does not answer, or cannot prepare a
// query, is no reason not to start: it is logged, logins fail with the SYS/TEMP response code until it answers, and
// the users the verification cache knows still log in.
func openUsers(ctx context.Context, o *options, logger *slog.Logger) (passwd.Source, apopOffer, func(), error) {
	var (
		users interface {
			passwd.Source
			pinger
			Close() error
		}
		apop       apopOffer
		flag, path string
	)
	switch {
	case o.sqlConf != "":
		cfg, err := sqldb.ReadConfig(o.sqlConf)
		if err != nil {
			return nil, apop, nil, fmt.Errorf("-sql: %w", err)
		}
		db, err := sqldb.Open(cfg, sqldb.WithLogger(logger))
		if err != nil {
			return nil, apop, nil, fmt.Errorf("-sql: %w", err)
		}
		users, apop, flag, path = db, apopForSQL(cfg), "-sql", o.sqlConf
	case o.systemUsers:
		system, err := passwd.OpenSystem("", "")
		if err != nil {
			return nil, apop, nil, fmt.Errorf("-system-users: %w", err)
		}
		system.FirstValidUID = uint32(o.firstValidUID)
		system.Logger = logger
		return system, apopOffer{reason: "-system-users: the system's accounts keep hashed passwords, and APOP needs cleartext ones"}, func() {}, nil
	case o.ldapConf != "":
		cfg, err := ldapdb.ReadConfig(o.ldapConf)
		if err != nil {
			return nil, apop, nil, fmt.Errorf("-ldap: %w", err)
		}
		db, err := ldapdb.Open(cfg, ldapdb.WithLogger(logger))
		if err != nil {
			return nil, apop, nil, fmt.Errorf("-ldap: %w", err)
		}
		users, apop, flag, path = db, apopForLDAP(cfg), "-ldap", o.ldapConf
	default:
		file, err := passwd.OpenFile(o.passwd, logger)
		if err != nil {
			return nil, apop, nil, fmt.Errorf("-passwd: %w", err)
		}
		return file, apopForPasswdFile(file), func() {}, nil
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := users.Ping(pctx); err != nil {
		logger.Error("pop3d: the user database is not usable now; starting anyway: logins are told to try again later until it is",
			"flag", flag, "config", path, "err", err)
	} else {
		logger.Info("pop3d: the user database answers", "flag", flag, "config", path)
	}
	return users, apop, func() { users.Close() }, nil
}
