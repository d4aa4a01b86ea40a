package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/passwd"
)

// openStore opens the one store the flags choose: Maildirs (-maildir and
// -passwd), a loaded directory (-load) or the demo mailbox.
func openStore(o *options, logger *slog.Logger) (pop3.Backend, *loaded, error) {
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
