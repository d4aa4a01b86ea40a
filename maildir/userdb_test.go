package maildir_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/passwd"
)

// directory is a passwd.Authenticator, as an LDAP directory with
// auth_bind: its entries have a DN and no hash, and it checks passwords.
type directory struct {
	passwords map[string]string // by DN
	binds     atomic.Int32
	down      atomic.Bool
}

func (d *directory) Lookup(_ context.Context, name string) (*passwd.Entry, error) {
	switch {
	case d.down.Load():
		return nil, errDatabaseDown
	case name == "twice":
		return nil, fmt.Errorf("%w: found two entries", passwd.ErrInvalidEntry)
	}
	dn := "uid=" + name + ",dc=example"
	if _, ok := d.passwords[dn]; !ok {
		return nil, passwd.ErrNotFound
	}
	return &passwd.Entry{User: name, DN: dn, Home: "/home/" + name}, nil
}

func (d *directory) Authenticate(_ context.Context, e *passwd.Entry, pw []byte) error {
	d.binds.Add(1)
	if d.down.Load() {
		return errDatabaseDown
	}
	if len(pw) == 0 || d.passwords[e.DN] != string(pw) {
		return passwd.ErrMismatch
	}
	return nil
}

func newDirectoryBackend(t *testing.T, d *directory, cache *passwd.Cache) (*maildir.Backend, *bytes.Buffer) {
	var logs bytes.Buffer
	b, err := maildir.New(filepath.Join(t.TempDir(), "%u"), d, maildir.WithVerifyCache(cache),
		maildir.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	return b, &logs
}

// A source that checks passwords itself is asked to, through the cache.
func TestLoginAuthenticator(t *testing.T) {
	d := &directory{passwords: map[string]string{"uid=alice,dc=example": "alice-pw"}}
	cache := passwd.NewCache(10, time.Hour)
	b, _ := newDirectoryBackend(t, d, cache)
	ctx := context.Background()
	for range 3 {
		_, err := b.Login(ctx, nil, "alice", "alice-pw")
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, d.binds.Load(), "the cache answers the repeats")
	_, err := b.Login(ctx, nil, "alice", "wrong")
	assert.ErrorIs(t, err, pop3.ErrAuthFailed)
	_, err = b.Login(ctx, nil, "nobody", "x")
	assert.ErrorIs(t, err, pop3.ErrAuthFailed)

	// While the directory is down, alice is let in from the cache.
	d.down.Store(true)
	_, err = b.Login(ctx, nil, "alice", "alice-pw")
	require.NoError(t, err)
	assert.EqualValues(t, 1, cache.Stats().Offline)
}

// A bind that fails for the directory's sake is a temporary failure, not
// a wrong password.
func TestLoginAuthenticatorFails(t *testing.T) {
	d := &directory{passwords: map[string]string{"uid=alice,dc=example": "alice-pw"}}
	b, _ := newDirectoryBackend(t, d, nil)
	failing := &bindFails{d}
	b2, err := maildir.New(filepath.Join(t.TempDir(), "%u"), failing, maildir.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	_, err = b2.Login(context.Background(), nil, "alice", "alice-pw")
	require.Error(t, err)
	assert.ErrorIs(t, err, errDatabaseDown)
	assert.NotErrorIs(t, err, pop3.ErrAuthFailed)
	_, err = b.Login(context.Background(), nil, "alice", "alice-pw")
	require.NoError(t, err)
}

// bindFails looks users up and cannot bind.
type bindFails struct{ *directory }

func (b *bindFails) Authenticate(context.Context, *passwd.Entry, []byte) error {
	return errDatabaseDown
}

// An entry the source cannot use (two rows) is refused as a wrong
// password is, with the reason logged.
func TestLoginInvalidEntry(t *testing.T) {
	d := &directory{passwords: map[string]string{}}
	b, logs := newDirectoryBackend(t, d, nil)
	_, err := b.Login(context.Background(), nil, "twice", "x")
	require.ErrorIs(t, err, pop3.ErrAuthFailed)
	assert.Contains(t, logs.String(), "found two entries")
	assert.False(t, errors.Is(err, passwd.ErrInvalidEntry), "the client is told no more than for a wrong password")
}

// A user field renames the user, as Dovecot's does: an alias logs in to
// its mailbox's Maildir; a rename that could not name a Maildir is
// refused.
func TestLoginRenamedUser(t *testing.T) {
	root := t.TempDir()
	pwPath := filepath.Join(root, "passwd")
	require.NoError(t, os.WriteFile(pwPath, []byte("box:{PLAIN}pw::::::\n"+
		"alias:{PLAIN}pw::::::user=box\n"+
		"evil:{PLAIN}pw::::::user=../box\n"), 0o600))
	file, err := passwd.OpenFile(pwPath, nil)
	require.NoError(t, err)
	var logs bytes.Buffer
	b, err := maildir.New(filepath.Join(root, "%u", "Maildir"), file, maildir.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, b.Deliver(ctx, "box", strings.NewReader("Subject: hi\n\nhello\n")))
	require.NoError(t, b.Deliver(ctx, "alias", strings.NewReader("Subject: two\n\nagain\n")), "delivery follows the rename too")

	u, err := b.Login(ctx, nil, "alias", "pw")
	require.NoError(t, err)
	mb, err := u.Open(ctx)
	require.NoError(t, err)
	assert.Len(t, mb.Messages(), 2, "the alias sees box's Maildir")
	require.NoError(t, mb.Close())

	_, err = b.Login(ctx, nil, "evil", "pw")
	assert.ErrorIs(t, err, pop3.ErrAuthFailed)
	assert.Contains(t, logs.String(), "renames the user to an unusable name")
}
