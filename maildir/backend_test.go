package maildir_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/pop3test"
)

// testMaildirs makes a root for Maildirs and a passwd-file with the given
// "user:password-hash" lines, and returns a backend on "<root>/%u/Maildir".
func testMaildirs(t testing.TB, users ...string) (b *maildir.Backend, root string, logs *bytes.Buffer) {
	t.Helper()
	root = t.TempDir()
	var lines strings.Builder
	for _, u := range users {
		fmt.Fprintf(&lines, "%s::::::\n", u)
	}
	pwPath := filepath.Join(root, "passwd")
	require.NoError(t, os.WriteFile(pwPath, []byte(lines.String()), 0o600))
	logs = new(bytes.Buffer)
	logger := slog.New(slog.NewTextHandler(logs, nil))
	pw, err := passwd.OpenFile(pwPath, logger)
	require.NoError(t, err)
	b, err = maildir.New(filepath.Join(root, "%u", "Maildir"), pw, maildir.WithLogger(logger))
	require.NoError(t, err)
	return b, root, logs
}

func TestBackendContract(t *testing.T) {
	pop3test.TestBackend(t, func(t *testing.T, accounts []pop3test.Account) pop3.Backend {
		var users []string
		for _, a := range accounts {
			users = append(users, a.Username+":{PLAIN}"+a.Password)
		}
		b, _, _ := testMaildirs(t, users...)
		for _, a := range accounts {
			for _, m := range a.Messages {
				require.NoError(t, b.Deliver(context.Background(), a.Username, bytes.NewReader(m)))
			}
		}
		return b
	})
}

// A name that would lead the path out of its root fails to log in, with
// the right password too, and the reason is logged.
func TestLoginRefusesNamesThatLeaveTheRoot(t *testing.T) {
	for _, name := range []string{
		"..", "../bob", "a/b", `a\b`, ".hidden", "a\x00b", "a b", "a@b@c", "@example.com",
		"alice@.example.com", "alice@..", "", "a:b", "a%u",
	} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			b, _, logs := testMaildirs(t, name+":{PLAIN}pw", "bob:{PLAIN}pw")
			_, err := b.Login(context.Background(), nil, name, "pw")
			assert.ErrorIs(t, err, pop3.ErrAuthFailed)
			if name != "" {
				assert.Contains(t, logs.String(), "login refused")
			}
		})
	}
}

// %n and %d split an address; a name without a domain cannot fill %d.
func TestTemplateVariables(t *testing.T) {
	root := t.TempDir()
	pwPath := filepath.Join(root, "passwd")
	require.NoError(t, os.WriteFile(pwPath, []byte("alice@example.com:{PLAIN}pw\nbob:{PLAIN}pw\ncarol:{PLAIN}pw::::"+root+"/home/carol::\n"), 0o600))
	pw, err := passwd.OpenFile(pwPath, nil)
	require.NoError(t, err)
	b, err := maildir.New(root+"/%d/%n/Maildir", pw)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = b.Login(ctx, nil, "Alice@Example.COM", "pw")
	require.NoError(t, err, "names are lower-cased as Dovecot's %%Lu does")
	require.NoError(t, b.Deliver(ctx, "alice@example.com", strings.NewReader("Subject: x\n\nx\n")))
	entries, err := os.ReadDir(root + "/example.com/alice/Maildir/new")
	require.NoError(t, err)
	assert.Len(t, entries, 1)
	_, err = b.Login(ctx, nil, "bob", "pw")
	assert.ErrorIs(t, err, pop3.ErrAuthFailed, "%%d is empty for bob")

	home, err := maildir.New("%h/Maildir", pw)
	require.NoError(t, err)
	require.NoError(t, home.Deliver(ctx, "carol", strings.NewReader("x\n")))
	_, err = os.Stat(root + "/home/carol/Maildir/new")
	assert.NoError(t, err)
	_, err = home.Login(ctx, nil, "bob", "pw")
	assert.ErrorIs(t, err, pop3.ErrAuthFailed, "bob has no home")
}

func TestNewRefusesBadTemplates(t *testing.T) {
	pw := passwdSource{}
	for _, tmpl := range []string{"/var/mail/shared", "/var/mail/%d", "/var/mail/%x", "/var/mail/%", "/var/mail/%{nope}", "/var/mail/%{user"} {
		_, err := maildir.New(tmpl, pw)
		assert.Error(t, err, tmpl)
	}
	_, err := maildir.New("/var/mail/%u", nil)
	assert.Error(t, err)
	for _, tmpl := range []string{"/var/mail/%d/%n", "%h/Maildir", "/home/%{user}/Maildir", "/var/100%%/%u"} {
		_, err := maildir.New(tmpl, pw)
		assert.NoError(t, err, tmpl)
	}
}

type passwdSource struct{}

func (passwdSource) Lookup(context.Context, string) (*passwd.Entry, error) {
	return nil, passwd.ErrNotFound
}

// A hash in a scheme the passwd package does not know fails that login,
// with a log line naming the scheme and not the hash; other users log in.
func TestLoginWithAnUnknownScheme(t *testing.T) {
	b, _, logs := testMaildirs(t, "alice:{NOSUCH-SCHEME}c2VjcmV0", "bob:{PLAIN}pw")
	_, err := b.Login(context.Background(), nil, "alice", "secret")
	assert.ErrorIs(t, err, pop3.ErrAuthFailed)
	assert.Contains(t, logs.String(), "NOSUCH-SCHEME")
	assert.NotContains(t, logs.String(), "c2VjcmV0")
	_, err = b.Login(context.Background(), nil, "bob", "pw")
	assert.NoError(t, err)
}

func TestUserExists(t *testing.T) {
	b, _, _ := testMaildirs(t, "alice:{PLAIN}pw")
	var _ pop3.UserChecker = b
	for name, want := range map[string]bool{"alice": true, "ALICE": true, "bob": false, "../x": false} {
		ok, err := b.UserExists(context.Background(), name)
		require.NoError(t, err)
		assert.Equal(t, want, ok, name)
	}
}
