package maildir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
)

// loginOf logs user ui of b in, as a LoginRecorder.
func loginOf(t *testing.T, b *Backend, i int) pop3.LoginRecorder {
	t.Helper()
	u, err := b.Login(context.Background(), nil, fmt.Sprintf("u%d", i), "pw")
	require.NoError(t, err)
	r, ok := u.(pop3.LoginRecorder)
	require.True(t, ok, "the user is a pop3.LoginRecorder")
	return r
}

// restarted is a new backend on the Maildirs of b, as after a restart.
func restarted(t *testing.T, b *Backend) *Backend {
	t.Helper()
	b2, err := New(b.template.String(), b.users)
	require.NoError(t, err)
	return b2
}

// A user who never logged in has no last login, and asking for it does not
// create the Maildir; nor does a Maildir without the file have one.
func TestLastLoginBeforeAnyLogin(t *testing.T) {
	b, dirs := cacheBackend(t, 2, 1)
	require.NoError(t, os.RemoveAll(filepath.Dir(dirs[1])))
	for i, dir := range dirs {
		got, err := loginOf(t, b, i+1).LastLogin(context.Background())
		require.NoError(t, err)
		assert.True(t, got.IsZero(), "u%d: %v", i+1, got)
		assert.NoFileExists(t, filepath.Join(dir, lastLoginName))
	}
	assert.NoDirExists(t, filepath.Dir(dirs[1]), "LastLogin creates no Maildir")
}

// RecordLogin's time, to the nanosecond, is what LastLogin returns, also
// to a new backend (a restart, or another server on the same Maildirs).
func TestRecordLoginSurvivesARestart(t *testing.T) {
	ctx := context.Background()
	b, dirs := cacheBackend(t, 1, 1)
	u := loginOf(t, b, 1)
	box, err := u.Open(ctx)
	require.NoError(t, err)
	first := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("CET", 3600))
	require.NoError(t, u.RecordLogin(ctx, first))
	second := first.Add(time.Hour + time.Nanosecond)
	require.NoError(t, u.RecordLogin(ctx, second)) // replaces the first
	require.NoError(t, box.Close())

	data, err := os.ReadFile(filepath.Join(dirs[0], lastLoginName))
	require.NoError(t, err)
	assert.Equal(t, "2025-03-04T05:06:07.12345679Z\n", string(data), "RFC 3339 in UTC, to the nanosecond, without trailing zeros")
	assert.NoFileExists(t, filepath.Join(dirs[0], lastLoginName+".tmp"))

	for _, be := range []*Backend{b, restarted(t, b)} {
		got, err := loginOf(t, be, 1).LastLogin(ctx)
		require.NoError(t, err)
		assert.True(t, second.Equal(got), "got %v, want %v", got, second)
	}
}

// A file that holds no time is an error that names the file, without
// quoting what it holds; so is one that is not a regular file.
func TestLastLoginCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(path string) error
	}{
		{"empty", func(p string) error { return os.WriteFile(p, nil, 0o600) }},
		{"garbage", func(p string) error { return os.WriteFile(p, []byte("secret garbage\n"), 0o600) }},
		{"a date only", func(p string) error { return os.WriteFile(p, []byte("2025-03-04\n"), 0o600) }},
		{"unix seconds", func(p string) error { return os.WriteFile(p, []byte("1732400000\n"), 0o600) }},
		{"too long", func(p string) error {
			return os.WriteFile(p, []byte("2025-03-04T05:06:07Z"+strings.Repeat(" ", 200)), 0o600)
		}},
		{"a symbolic link", func(p string) error {
			target := p + "-target"
			if err := os.WriteFile(target, []byte("2025-03-04T05:06:07Z\n"), 0o600); err != nil {
				return err
			}
			return os.Symlink(target, p)
		}},
		{"a directory", func(p string) error { return os.Mkdir(p, 0o700) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, dirs := cacheBackend(t, 1, 0)
			require.NoError(t, tc.plant(filepath.Join(dirs[0], lastLoginName)))
			got, err := loginOf(t, b, 1).LastLogin(context.Background())
			require.Error(t, err)
			assert.ErrorContains(t, err, lastLoginName)
			assert.NotContains(t, err.Error(), "secret")
			assert.True(t, got.IsZero())
		})
	}
}

// A corrupt file is replaced by the next RecordLogin.
func TestRecordLoginReplacesACorruptFile(t *testing.T) {
	ctx := context.Background()
	b, dirs := cacheBackend(t, 1, 0)
	require.NoError(t, os.WriteFile(filepath.Join(dirs[0], lastLoginName), []byte("garbage"), 0o600))
	u := loginOf(t, b, 1)
	box, err := u.Open(ctx)
	require.NoError(t, err)
	defer box.Close()
	now := time.Now()
	require.NoError(t, u.RecordLogin(ctx, now))
	got, err := u.LastLogin(ctx)
	require.NoError(t, err)
	assert.True(t, now.Equal(got))
}

// The file belongs to the Maildir's owner, with the mode of pop3d.lock.
func TestLastLoginFileOwner(t *testing.T) {
	ctx := context.Background()
	u, dir := ownedUser(t)
	box, err := u.Open(ctx)
	require.NoError(t, err)
	require.NoError(t, u.RecordLogin(ctx, time.Now()))
	require.NoError(t, box.Close())
	ownedLikeTheLock(t, dir, lastLoginName)
}
