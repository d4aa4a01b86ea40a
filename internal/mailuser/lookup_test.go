package mailuser_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/passwd"
)

// A delivery finds the spool a login would, ignoring nologin and
// allow_nets, as Dovecot's LDA does.
func TestLookup(t *testing.T) {
	a, _, _, _ := mboxAccounts(t,
		"bob:{PLAIN}pw:1000:8::/home/bob::",
		"nora:{PLAIN}pw::::::nologin allow_nets=192.0.2.0/24",
		"ulla:{PLAIN}pw::::/home/ulla::userdb_home=/srv/%u userdb_mail=mbox:~/mail:INBOX=~/inbox",
		"alias:{PLAIN}pw::::::user=bob")
	ctx := context.Background()
	for _, tc := range []struct{ username, name, path string }{
		{"bob", "bob", "/var/mail/bob"},
		{"Bob", "bob", "/var/mail/bob"},
		{"nora", "nora", "/var/mail/nora"},
		{"ulla", "ulla", "/srv/ulla/inbox"},
		{"alias", "bob", "/var/mail/bob"},
	} {
		acct, err := a.Lookup(ctx, tc.username)
		require.NoError(t, err, tc.username)
		assert.Equal(t, tc.name, acct.Name, tc.username)
		assert.Equal(t, tc.path, acct.Path, tc.username)
	}
	acct, err := a.Lookup(ctx, "bob")
	require.NoError(t, err)
	assert.Equal(t, "1000", acct.Entry.UID)
}

// An unknown user, or a name no path can be made of, is
// pop3.ErrNoSuchUser; a failing source is not; both under the store's
// name. A broken userdb_mail is an error of its own.
func TestLookupErrors(t *testing.T) {
	a, _, down, _ := mboxAccounts(t, "mara:{PLAIN}pw::::/home/mara::userdb_mail=maildir:~/Maildir")
	ctx := context.Background()
	for _, name := range []string{"nobody", "../mara", ""} {
		_, err := a.Lookup(ctx, name)
		require.ErrorIs(t, err, pop3.ErrNoSuchUser, "%q", name)
		assert.True(t, strings.HasPrefix(err.Error(), "mbox: "), err.Error())
	}
	_, err := a.Lookup(ctx, "mara")
	require.Error(t, err)
	assert.NotErrorIs(t, err, pop3.ErrNoSuchUser)
	assert.Contains(t, err.Error(), "only mbox is supported")

	down.Store(true)
	_, err = a.Lookup(ctx, "mara")
	require.ErrorIs(t, err, errDatabaseDown)
	assert.NotErrorIs(t, err, pop3.ErrNoSuchUser)
	assert.True(t, strings.HasPrefix(err.Error(), `mbox: looking up "mara": `), err.Error())
}

// Exists answers from the source alone: a user whose mail location is
// broken exists (the delivery fails later, and says why).
func TestExists(t *testing.T) {
	a, _, down, _ := mboxAccounts(t, "bob:{PLAIN}pw::::::", "mara:{PLAIN}pw::::::userdb_mail=maildir:~/Maildir")
	ctx := context.Background()
	for name, want := range map[string]bool{"bob": true, "BOB": true, "mara": true, "nobody": false, "../bob": false} {
		ok, err := a.Exists(ctx, name)
		require.NoError(t, err, name)
		assert.Equal(t, want, ok, name)
	}
	down.Store(true)
	ok, err := a.Exists(ctx, "bob")
	assert.ErrorIs(t, err, errDatabaseDown)
	assert.False(t, ok)
}

// userOnly is a user database with a userdb apart from its passdb, as
// sqldb's user_query: a delivery asks LookupUser.
type userOnly struct{ passwd.Source }

func (userOnly) LookupUser(_ context.Context, name string) (*passwd.Entry, error) {
	if name != "carl" {
		return nil, passwd.ErrNotFound
	}
	return &passwd.Entry{User: name, Home: "/home/carl", Extra: []string{"userdb_mail=mbox:~/mail:INBOX=~/mbox"}}, nil
}

func TestLookupUserSource(t *testing.T) {
	a, src, _, _ := mboxAccounts(t, "bob:{PLAIN}pw::::::")
	b := newAccounts(t, "mbox", userOnly{src})
	acct, err := b.Lookup(context.Background(), "carl")
	require.NoError(t, err)
	assert.Equal(t, "/home/carl/mbox", acct.Path)
	_, err = b.Lookup(context.Background(), "bob")
	assert.ErrorIs(t, err, pop3.ErrNoSuchUser, "the passdb is not asked")
	_, err = a.Lookup(context.Background(), "bob")
	assert.NoError(t, err)
}
