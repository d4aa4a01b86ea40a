package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/pgtest"
	"github.com/gopop3/pop3/internal/syncbuf"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/pop3test"
	"github.com/gopop3/pop3/postgres"
)

func TestBackendContract(t *testing.T) {
	pop3test.TestBackend(t, func(t *testing.T, accounts []pop3test.Account) pop3.Backend {
		b := newBackend(t, testPool(t, ""))
		for _, a := range accounts {
			// Cleartext for the APOP checks, which need the shared secret.
			addUser(t, b, a.Username, "PLAIN", a.Password)
			for _, m := range a.Messages {
				require.NoError(t, b.Deliver(context.Background(), a.Username, bytes.NewReader(m)))
			}
		}
		return b
	})
}

// The hashes of a Dovecot passwd-file work, checked by the same code.
func TestLoginSchemes(t *testing.T) {
	b := newBackend(t, testPool(t, ""))
	for _, scheme := range []string{"BLF-CRYPT", "SHA512-CRYPT", "ARGON2ID", "PLAIN"} {
		t.Run(scheme, func(t *testing.T) {
			name := "user-" + strings.ToLower(scheme)
			addUser(t, b, name, scheme, "right password")
			u, err := b.Login(ctxFor(t), &pop3.ConnInfo{}, name, "right password")
			require.NoError(t, err)
			assert.NotNil(t, u)
			_, err = b.Login(ctxFor(t), &pop3.ConnInfo{}, name, "wrong password")
			assert.ErrorIs(t, err, pop3.ErrAuthFailed)
		})
	}
	_, err := b.Login(ctxFor(t), &pop3.ConnInfo{}, "nobody-here", "x")
	assert.ErrorIs(t, err, pop3.ErrAuthFailed)
	u, err := b.Login(ctxFor(t), &pop3.ConnInfo{}, "USER-PLAIN", "right password")
	require.NoError(t, err, "names are matched lower-cased, as Dovecot's %%Lu")
	assert.NotNil(t, u)
}

// A database the login cannot reach is a temporary failure, not a refused
// password.
func TestLoginDatabaseDown(t *testing.T) {
	pool := testPool(t, "")
	b := newBackend(t, pool)
	addUser(t, b, "alice", "PLAIN", "pw")
	pool.Close()
	_, err := b.Login(ctxFor(t), &pop3.ConnInfo{}, "alice", "pw")
	require.Error(t, err)
	assert.False(t, errors.Is(err, pop3.ErrAuthFailed), "a down database is not a wrong password: %v", err)
}

func TestUserExists(t *testing.T) {
	b := newBackend(t, testPool(t, ""))
	var _ pop3.UserChecker = b
	addUser(t, b, "alice", "PLAIN", "pw")
	for name, want := range map[string]bool{"alice": true, "Alice": true, "bob": false, "": false} {
		ok, err := b.UserExists(ctxFor(t), name)
		require.NoError(t, err)
		assert.Equal(t, want, ok, name)
	}
}

// login logs name in and returns the user as a LoginRecorder.
func loginRecorder(t *testing.T, b pop3.Backend, name, password string) pop3.LoginRecorder {
	t.Helper()
	u, err := b.Login(ctxFor(t), &pop3.ConnInfo{}, name, password)
	require.NoError(t, err)
	lr, ok := u.(pop3.LoginRecorder)
	require.True(t, ok, "a user is a pop3.LoginRecorder")
	return lr
}

// The last login is kept in the database: another node, or the same one
// restarted, sees it. It is stored to the microsecond and read in UTC.
func TestLoginRecorder(t *testing.T) {
	pool := testPool(t, "")
	b := newBackend(t, pool)
	addUser(t, b, "alice", "PLAIN", "pw")
	addUser(t, b, "bob", "PLAIN", "pw")

	u := loginRecorder(t, b, "alice", "pw")
	last, err := u.LastLogin(ctxFor(t))
	require.NoError(t, err)
	assert.True(t, last.IsZero(), "never logged in: %v", last)
	mb, err := u.Open(ctxFor(t))
	require.NoError(t, err)
	at := time.Date(2025, 3, 30, 1, 59, 58, 123456789, time.FixedZone("CEST", 2*3600))
	require.NoError(t, u.RecordLogin(ctxFor(t), at))
	require.NoError(t, mb.Close())
	require.NoError(t, b.Close())

	restarted := newBackend(t, pool)
	last, err = loginRecorder(t, restarted, "alice", "pw").LastLogin(ctxFor(t))
	require.NoError(t, err)
	want := time.Date(2025, 3, 29, 23, 59, 58, 123456000, time.UTC)
	assert.Equal(t, want, last, "the same instant, to the microsecond, in UTC")
	last, err = loginRecorder(t, restarted, "bob", "pw").LastLogin(ctxFor(t))
	require.NoError(t, err)
	assert.True(t, last.IsZero(), "other users are not affected")

	// A later login replaces it; so does an earlier one (a node whose
	// clock is behind): the last recorded is the last login.
	u = loginRecorder(t, restarted, "alice", "pw")
	for _, at := range []time.Time{want.Add(time.Hour), want.Add(-time.Hour)} {
		require.NoError(t, u.RecordLogin(ctxFor(t), at))
		last, err = u.LastLogin(ctxFor(t))
		require.NoError(t, err)
		assert.Equal(t, at, last)
	}
}

// Logins recorded at once from several nodes leave one of their times.
func TestRecordLoginConcurrent(t *testing.T) {
	pool := testPool(t, "")
	nodes := []*postgres.Backend{newBackend(t, pool), newBackend(t, pool), newBackend(t, pool)}
	addUser(t, nodes[0], "alice", "PLAIN", "pw")
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var wg sync.WaitGroup
	for i := range 30 {
		u := loginRecorder(t, nodes[i%3], "alice", "pw")
		wg.Go(func() {
			assert.NoError(t, u.RecordLogin(context.Background(), base.Add(time.Duration(i)*time.Second)))
		})
	}
	wg.Wait()
	last, err := loginRecorder(t, nodes[0], "alice", "pw").LastLogin(ctxFor(t))
	require.NoError(t, err)
	assert.False(t, last.Before(base) || last.After(base.Add(29*time.Second)), "one of the times recorded: %v", last)
	assert.Zero(t, last.Sub(base)%time.Second)
}

func TestRecordsRetrievals(t *testing.T) {
	var b pop3.Backend = newBackend(t, testPool(t, ""))
	rb, ok := b.(pop3.RetrievalBackend)
	require.True(t, ok)
	assert.True(t, rb.RecordsRetrievals())
}

// cachedBackend is a backend with a verification cache on a new database,
// whose DSN it returns for pgtest.Disconnect.
func cachedBackend(t *testing.T) (b *postgres.Backend, cache *passwd.Cache, dsn string, logs *syncbuf.Buffer) {
	t.Helper()
	dsn = pgtest.NewDatabase(t)
	pool, err := postgres.Connect(ctxFor(t), dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = postgres.Migrate(ctxFor(t), pool)
	require.NoError(t, err)
	cache = passwd.NewCache(100, time.Hour)
	logs = new(syncbuf.Buffer)
	b = newBackend(t, pool, postgres.WithVerifyCache(cache), postgres.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	return b, cache, dsn, logs
}

// A repeat login runs no hash; SetPassword takes effect at the next login.
func TestLoginVerifyCache(t *testing.T) {
	b, cache, _, _ := cachedBackend(t)
	addUser(t, b, "alice", "SHA512-CRYPT", "old secret")
	for range 3 {
		_, err := b.Login(ctxFor(t), &pop3.ConnInfo{}, "alice", "old secret")
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, cache.Stats().Misses)
	assert.EqualValues(t, 2, cache.Stats().Hits)

	_, err := b.Login(ctxFor(t), &pop3.ConnInfo{}, "alice", "guess")
	require.ErrorIs(t, err, pop3.ErrAuthFailed)
	_, err = b.Login(ctxFor(t), &pop3.ConnInfo{}, "nobody", "old secret")
	require.ErrorIs(t, err, pop3.ErrAuthFailed)

	h, err := passwd.Hash("SHA512-CRYPT", []byte("new secret"))
	require.NoError(t, err)
	require.NoError(t, b.SetPassword(ctxFor(t), "alice", h))
	_, err = b.Login(ctxFor(t), &pop3.ConnInfo{}, "alice", "old secret")
	require.ErrorIs(t, err, pop3.ErrAuthFailed, "the old password is refused at once")
	_, err = b.Login(ctxFor(t), &pop3.ConnInfo{}, "alice", "new secret")
	require.NoError(t, err)
}

// With the database cut off, a user whose password the cache remembers
// passes the password check (logged at WARN) and opens the maildrop once
// the database is back; everyone else, and the maildrop itself, gets a
// temporary failure meanwhile; nothing is lost.
func TestLoginVerifyCacheDatabaseDown(t *testing.T) {
	b, cache, dsn, logs := cachedBackend(t)
	addUser(t, b, "alice", "SHA512-CRYPT", "alice-pw", "Subject: one\r\n\r\nkept\r\n")
	addUser(t, b, "bob", "SHA512-CRYPT", "bob-pw")
	addUser(t, b, "carol", "SHA512-CRYPT", "carol-pw")
	for _, u := range []string{"alice", "carol"} {
		mb, err := open(t, b, u, u+"-pw")
		require.NoError(t, err)
		require.NoError(t, mb.Close())
	}

	reconnect := pgtest.Disconnect(t, dsn)
	carol, err := b.Login(ctxFor(t), &pop3.ConnInfo{}, "carol", "carol-pw")
	require.NoError(t, err)
	u, err := b.Login(ctxFor(t), &pop3.ConnInfo{}, "Alice", "alice-pw")
	require.NoError(t, err, "alice's password succeeded before")
	assert.Contains(t, logs.String(), "level=WARN")
	assert.Contains(t, logs.String(), "database failed")
	assert.NotContains(t, logs.String(), "alice-pw")
	assert.EqualValues(t, 2, cache.Stats().Offline)

	_, err = u.Open(ctxFor(t))
	require.Error(t, err, "the mail is in the database too")
	assert.NotErrorIs(t, err, pop3.ErrAuthFailed)

	for _, tc := range []struct{ user, password string }{{"alice", "guess"}, {"bob", "bob-pw"}, {"nobody", "x"}} {
		_, err := b.Login(ctxFor(t), &pop3.ConnInfo{}, tc.user, tc.password)
		require.Error(t, err, tc.user)
		assert.NotErrorIs(t, err, pop3.ErrAuthFailed, "%s: a temporary failure, not a refusal", tc.user)
	}

	reconnect()
	var mb pop3.Mailbox
	require.Eventually(t, func() bool {
		mb, err = u.Open(ctxFor(t))
		return err == nil
	}, 30*time.Second, 100*time.Millisecond, "the user logged in from the cache opens the maildrop once the database is back")
	assert.Len(t, mb.Messages(), 1)
	require.NoError(t, mb.Close())

	// carol's password changed while she was let in on the old one: when
	// the database is back, her maildrop is refused.
	h, err := passwd.Hash("SHA512-CRYPT", []byte("carol-new"))
	require.NoError(t, err)
	require.NoError(t, b.SetPassword(ctxFor(t), "carol", h))
	_, err = carol.Open(ctxFor(t))
	require.ErrorIs(t, err, pop3.ErrAuthFailed)
	assert.Contains(t, logs.String(), "no longer matches")
	_, err = b.Login(ctxFor(t), &pop3.ConnInfo{}, "bob", "bob-pw")
	require.NoError(t, err)
}
