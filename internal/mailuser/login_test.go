package mailuser_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
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
	"github.com/gopop3/pop3/internal/mailuser"
	"github.com/gopop3/pop3/passwd"
)

// sourceFunc is a password source made of a function.
type sourceFunc func(ctx context.Context, name string) (*passwd.Entry, error)

func (f sourceFunc) Lookup(ctx context.Context, name string) (*passwd.Entry, error) {
	return f(ctx, name)
}

// errDatabaseDown is a source that cannot be reached.
var errDatabaseDown = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

// mboxAccounts are the accounts of an mbox store on "/var/mail/%u" whose
// users are the passwd-file lines, with the source (which fails while down
// is set) and the log.
func mboxAccounts(t *testing.T, lines ...string) (a *mailuser.Accounts, src passwd.Source, down *atomic.Bool, logs *bytes.Buffer) {
	t.Helper()
	pwPath := filepath.Join(t.TempDir(), "passwd")
	require.NoError(t, os.WriteFile(pwPath, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	file, err := passwd.OpenFile(pwPath, nil)
	require.NoError(t, err)
	down = new(atomic.Bool)
	src = sourceFunc(func(ctx context.Context, name string) (*passwd.Entry, error) {
		if down.Load() {
			return nil, errDatabaseDown
		}
		return file.Lookup(ctx, name)
	})
	tmpl, err := mailuser.ParseTemplate("/var/mail/%u")
	require.NoError(t, err)
	logs = new(bytes.Buffer)
	a = mailuser.New(mailuser.Config{
		Store:    "mbox",
		Users:    src,
		Logger:   slog.New(slog.NewTextHandler(logs, nil)),
		Template: tmpl,
		Driver:   "mbox",
	})
	return a, src, down, logs
}

func apopDigest(timestamp, secret string) string {
	sum := md5.Sum([]byte(timestamp + secret))
	return hex.EncodeToString(sum[:])
}

const apopTimestamp = "<1896.697170952@dbc.mtview.ca.us>"

// A login finds the user's spool: the template's expansion, or the INBOX of
// an mbox userdb_mail, under the name a user field gives; USER/PASS and
// APOP alike.
func TestLoginAccount(t *testing.T) {
	a, _, _, logs := mboxAccounts(t,
		"bob:{PLAIN}pw:1000:8::/home/bob::",
		"ulla:{PLAIN}pw:1001:8::/home/ulla::userdb_mail=mbox:~/mail:INBOX=~/inbox",
		"alias:{PLAIN}pw::::::user=bob")
	ctx := context.Background()
	for _, tc := range []struct{ username, name, path string }{
		{"bob", "bob", "/var/mail/bob"},
		{"BOB", "bob", "/var/mail/bob"},
		{"ulla", "ulla", "/home/ulla/inbox"},
		{"alias", "bob", "/var/mail/bob"},
	} {
		acct, err := a.Login(ctx, nil, tc.username, "pw")
		require.NoError(t, err, tc.username)
		assert.Equal(t, tc.name, acct.Name, tc.username)
		assert.Equal(t, tc.path, acct.Path, tc.username)
		require.NotNil(t, acct.Entry)

		acct, err = a.LoginAPOP(ctx, nil, tc.username, apopTimestamp, apopDigest(apopTimestamp, "pw"))
		require.NoError(t, err, tc.username)
		assert.Equal(t, tc.path, acct.Path, tc.username)
	}
	acct, err := a.Login(ctx, nil, "bob", "pw")
	require.NoError(t, err)
	assert.Equal(t, "1000", acct.Entry.UID)
	assert.Equal(t, "8", acct.Entry.GID)
	assert.Empty(t, logs.String())
}

// Every refusal is pop3.ErrAuthFailed, and those with a reason are logged
// under the store's name.
func TestLoginRefusals(t *testing.T) {
	hash, err := passwd.Hash("SHA512-CRYPT", []byte("pw"))
	require.NoError(t, err)
	a, _, _, logs := mboxAccounts(t,
		"bob:{PLAIN}pw::::/home/bob::",
		"nora:{PLAIN}pw::::::nologin reason=moved",
		"ann:{PLAIN}pw::::::allow_nets=192.0.2.0/24",
		"mara:{PLAIN}pw::::/home/mara::userdb_mail=maildir:~/Maildir",
		"ines:{PLAIN}pw::::/home/ines::userdb_mail=mbox:~/mail",
		"hash:"+hash+"::::::")
	ctx := context.Background()
	for _, tc := range []struct{ username, password, logged string }{
		{"bob", "wrong", ""},
		{"nobody", "pw", ""},
		{"../bob", "pw", "user name unusable in a path"},
		{"nora", "pw", "moved"},
		{"ann", "pw", "allow_nets"},
		{"mara", "pw", "only mbox is supported"},
		{"ines", "pw", "has no INBOX=PATH"},
	} {
		logs.Reset()
		acct, err := a.Login(ctx, nil, tc.username, tc.password)
		assert.Nil(t, acct, tc.username)
		require.ErrorIs(t, err, pop3.ErrAuthFailed, tc.username)
		if tc.logged == "" {
			assert.Empty(t, logs.String(), tc.username)
			continue
		}
		assert.Contains(t, logs.String(), `msg="mbox: login refused"`, tc.username)
		assert.Contains(t, logs.String(), tc.logged, tc.username)
	}

	logs.Reset()
	_, err = a.LoginAPOP(ctx, nil, "hash", apopTimestamp, apopDigest(apopTimestamp, "pw"))
	require.ErrorIs(t, err, pop3.ErrAuthFailed)
	assert.Contains(t, logs.String(), "APOP needs a cleartext secret")
	_, err = a.Login(ctx, nil, "hash", "pw")
	assert.NoError(t, err)
}

// A source that fails is the client's temporary failure, under the
// store's name; with a verification cache, a user it saw is let in.
func TestLoginSourceFails(t *testing.T) {
	a, src, down, _ := mboxAccounts(t, "bob:{PLAIN}pw::::::")
	down.Store(true)
	_, err := a.Login(context.Background(), nil, "bob", "pw")
	require.ErrorIs(t, err, errDatabaseDown)
	assert.NotErrorIs(t, err, pop3.ErrAuthFailed)
	assert.True(t, strings.HasPrefix(err.Error(), `mbox: looking up "bob": `), err.Error())

	tmpl, err := mailuser.ParseTemplate("/var/mail/%u")
	require.NoError(t, err)
	var logs bytes.Buffer
	cache := passwd.NewCache(10, time.Hour)
	cached := mailuser.New(mailuser.Config{
		Store: "mbox", Users: src, Verified: cache, Template: tmpl, Driver: "mbox",
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	down.Store(false)
	_, err = cached.Login(context.Background(), nil, "bob", "pw")
	require.NoError(t, err)
	down.Store(true)
	acct, err := cached.Login(context.Background(), nil, "bob", "pw")
	require.NoError(t, err)
	assert.Equal(t, "/var/mail/bob", acct.Path)
	assert.Contains(t, logs.String(), "mbox: the password source failed")
}
