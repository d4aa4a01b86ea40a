package mailuser

import (
	"context"
	"errors"
	"fmt"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/passwd"
)

// Lookup finds the user name (normalised here as at login) for a delivery,
// or for a tool that reads the user's mail without a login: the user's
// rename, userdb_home and userdb_mail apply, and nologin and allow_nets do
// not, as with Dovecot's LDA, so that mail goes where POP3 reads it.
//
// A user the source does not know, or a name CheckUsername refuses, is an
// error wrapping [pop3.ErrNoSuchUser]; that one and a failure of the
// source start with the store's name. An error in the rename, userdb_home
// or userdb_mail does not: the store says what it was doing.
func (a *Accounts) Lookup(ctx context.Context, name string) (*Account, error) {
	name = NormalizeUsername(name)
	entry, err := a.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	return a.account(name, entry, parseExtra(entry.Extra))
}

// Exists reports whether the source knows the user name (normalised here
// as at login), for [pop3.UserChecker]: a name CheckUsername refuses does
// not exist. It does not build the user's path. An error of the source is
// returned, with the store's name.
func (a *Accounts) Exists(ctx context.Context, name string) (bool, error) {
	_, err := a.lookup(ctx, NormalizeUsername(name))
	if errors.Is(err, pop3.ErrNoSuchUser) {
		return false, nil
	}
	return err == nil, err
}

// lookup finds the entry of the user name (normalised) for delivery, with
// the source's LookupUser when it is a passwd.UserSource: an unknown one
// is pop3.ErrNoSuchUser.
func (a *Accounts) lookup(ctx context.Context, name string) (*passwd.Entry, error) {
	if err := CheckUsername(name); err != nil {
		return nil, fmt.Errorf("%s: %w: %q (%v)", a.store, pop3.ErrNoSuchUser, name, err)
	}
	lookup := a.users.Lookup
	if us, ok := a.users.(passwd.UserSource); ok {
		lookup = us.LookupUser
	}
	entry, err := lookup(ctx, name)
	if errors.Is(err, passwd.ErrNotFound) {
		return nil, fmt.Errorf("%s: %w: %q", a.store, pop3.ErrNoSuchUser, name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: looking up %q: %w", a.store, name, err)
	}
	return entry, nil
}

// account is the account of the user name (normalised) whose entry is
// entry, with its extra fields parsed: renamed, and with its path.
func (a *Accounts) account(name string, entry *passwd.Entry, fields extraFields) (*Account, error) {
	mailName, err := fields.userName(name)
	if err != nil {
		return nil, err
	}
	path, err := a.path(mailName, entry.Home, fields)
	if err != nil {
		return nil, err
	}
	return &Account{Name: mailName, Path: path, Entry: entry}, nil
}
