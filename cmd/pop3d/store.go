package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/passwd"
)

// openStore opens the one store the flags choose: Maildirs (-maildir and
// -passwd), PostgreSQL (-postgres), a loaded directory (-load) or the demo
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
	b, m, err = openLocalStore(o, cache, logger)
	return b, m, func() {}, err
}

// openLocalStore opens a store that needs no closing.
func openLocalStore(o *options, cache *passwd.Cache, logger *slog.Logger) (pop3.Backend, *loaded, error) {
	if o.maildir != "" {
		users, err := passwd.OpenFile(o.passwd, logger)
		if err != nil {
			return nil, nil, fmt.Errorf("-passwd: %w", err)
		}
		b, err := maildir.New(o.maildir, users, maildir.WithLogger(logger), maildir.WithListingCache(o.maildirCache),
			maildir.WithVerifyCache(cache))
		if err != nil {
			return nil, nil, fmt.Errorf("-maildir: %w", err)
		}
		return b, &loaded{exampleUser: "USER", examplePass: "PASSWORD"}, nil
	}
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
