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
// mailbox. close releases it once the server has stopped.
func openStore(ctx context.Context, o *options, logger *slog.Logger) (b pop3.Backend, m *loaded, close func(), err error) {
	if o.postgres != "" {
		pb, closePostgres, err := openPostgres(ctx, o, logger)
		if err != nil {
			return nil, nil, nil, err
		}
		return pb, &loaded{exampleUser: "USER", examplePass: "PASSWORD"}, closePostgres, nil
	}
	b, m, err = openLocalStore(o, logger)
	return b, m, func() {}, err
}

// openLocalStore opens a store that needs no closing.
func openLocalStore(o *options, logger *slog.Logger) (pop3.Backend, *loaded, error) {
	if o.maildir != "" {
		users, err := passwd.OpenFile(o.passwd, logger)
		if err != nil {
			return nil, nil, fmt.Errorf("-passwd: %w", err)
		}
		b, err := maildir.New(o.maildir, users, maildir.WithLogger(logger), maildir.WithListingCache(o.maildirCache))
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
