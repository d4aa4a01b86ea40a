package passwd

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingCache is a cache whose hash calls are counted and whose clock
// the test moves.
type countingCache struct {
	*Cache
	hashes atomic.Int64
	clock  time.Time
}

func newCountingCache(t *testing.T, size int, ttl time.Duration) *countingCache {
	t.Helper()
	c := NewCache(size, ttl)
	require.NotNil(t, c)
	cc := &countingCache{Cache: c, clock: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
	c.now = func() time.Time { return cc.clock }
	c.verify = func(stored string, password []byte) error {
		cc.hashes.Add(1)
		return Verify(stored, password)
	}
	return cc
}

// sha512Entry is a user whose hash is a real SHA512-CRYPT one.
func sha512Entry(t *testing.T, user, password string) *Entry {
	t.Helper()
	h, err := Hash("SHA512-CRYPT", []byte(password))
	require.NoError(t, err)
	return &Entry{User: user, Password: h, Home: "/home/" + user, Extra: []string{"allow_nets=10.0.0.0/8"}}
}

func TestCacheHitRunsNoHash(t *testing.T) {
	c := newCountingCache(t, 10, time.Hour)
	alice := sha512Entry(t, "alice", "secret")

	require.NoError(t, c.Verify(alice, []byte("secret")))
	assert.EqualValues(t, 1, c.hashes.Load(), "the first login runs the hash")
	for range 5 {
		require.NoError(t, c.Verify(alice, []byte("secret")))
	}
	assert.EqualValues(t, 1, c.hashes.Load(), "the later ones run none")
	st := c.Stats()
	assert.Equal(t, CacheStats{Hits: 5, Misses: 1, Entries: 1}, st)
}

func TestCacheNeverRemembersAFailure(t *testing.T) {
	c := newCountingCache(t, 10, time.Hour)
	alice := sha512Entry(t, "alice", "secret")

	for i := range 3 {
		err := c.Verify(alice, []byte("guess"))
		require.ErrorIs(t, err, ErrMismatch)
		assert.EqualValues(t, i+1, c.hashes.Load(), "every wrong password runs the hash")
	}
	assert.Zero(t, c.Stats().Entries, "a failure leaves no entry")

	require.NoError(t, c.Verify(alice, []byte("secret")))
	require.ErrorIs(t, c.Verify(alice, []byte("guess")), ErrMismatch, "a cached user with a wrong password")
	require.ErrorIs(t, c.Verify(alice, []byte("")), ErrMismatch)
	require.NoError(t, c.Verify(alice, []byte("secret")), "the right password is still cached after wrong ones")
	assert.EqualValues(t, 6, c.hashes.Load())
	assert.Equal(t, uint64(1), c.Stats().Hits)
}

func TestCacheChangedHash(t *testing.T) {
	c := newCountingCache(t, 10, time.Hour)
	old := sha512Entry(t, "alice", "old-secret")
	require.NoError(t, c.Verify(old, []byte("old-secret")))
	require.NoError(t, c.Verify(old, []byte("old-secret")))

	// The passwd-file is edited, or pop3admin passwd runs: the next login
	// sees the new hash.
	changed := sha512Entry(t, "alice", "new-secret")
	require.ErrorIs(t, c.Verify(changed, []byte("old-secret")), ErrMismatch, "the old password is refused at once")
	_, ok := c.Offline("alice", []byte("old-secret"))
	assert.False(t, ok, "the old password is forgotten for Offline too")
	require.NoError(t, c.Verify(changed, []byte("new-secret")))
	require.NoError(t, c.Verify(changed, []byte("new-secret")))
	assert.EqualValues(t, 3, c.hashes.Load())

	// Back to the old hash (a backup restored): the old password works,
	// after one hash.
	require.NoError(t, c.Verify(old, []byte("old-secret")))
	assert.EqualValues(t, 4, c.hashes.Load())

	// The same password hashed again with a new salt is a new hash too.
	resalted := sha512Entry(t, "alice", "old-secret")
	require.NoError(t, c.Verify(resalted, []byte("old-secret")))
	assert.EqualValues(t, 5, c.hashes.Load())
}

func TestCacheTTL(t *testing.T) {
	c := newCountingCache(t, 10, time.Hour)
	alice := sha512Entry(t, "alice", "secret")
	require.NoError(t, c.Verify(alice, []byte("secret")))

	c.clock = c.clock.Add(time.Hour - time.Second)
	require.NoError(t, c.Verify(alice, []byte("secret")))
	assert.EqualValues(t, 1, c.hashes.Load(), "within the TTL")

	c.clock = c.clock.Add(time.Second) // an hour after the check, not after the last hit
	require.NoError(t, c.Verify(alice, []byte("secret")))
	assert.EqualValues(t, 2, c.hashes.Load(), "at the TTL the hash runs again")

	c.clock = c.clock.Add(time.Hour - time.Second)
	require.NoError(t, c.Verify(alice, []byte("secret")))
	assert.EqualValues(t, 2, c.hashes.Load(), "the new check starts a new TTL")
}

func TestCacheLRUBound(t *testing.T) {
	const users = 100_000
	c := NewCache(users, time.Hour)
	var hashes atomic.Int64
	// The hash stands in for a real one; the cache's bookkeeping is what
	// is tested, at the size of a large site.
	c.verify = func(stored string, password []byte) error {
		hashes.Add(1)
		if stored != "{PLAIN}"+string(password) {
			return ErrMismatch
		}
		return nil
	}
	entry := func(i int) *Entry {
		return &Entry{User: fmt.Sprintf("user%06d@example.org", i), Password: fmt.Sprintf("{PLAIN}pw%d", i)}
	}
	for i := range users {
		require.NoError(t, c.Verify(entry(i), fmt.Appendf(nil, "pw%d", i)))
	}
	assert.Equal(t, users, c.Stats().Entries)
	// user 0 is used again, so user 1 is now the least recently used.
	require.NoError(t, c.Verify(entry(0), []byte("pw0")))
	assert.EqualValues(t, users, hashes.Load(), "user 0 was a hit")

	require.NoError(t, c.Verify(entry(users), fmt.Appendf(nil, "pw%d", users)))
	assert.Equal(t, users, c.Stats().Entries, "the cache never holds more than its size")
	require.NoError(t, c.Verify(entry(0), []byte("pw0")))
	assert.EqualValues(t, users+1, hashes.Load(), "user 0 is still cached")
	require.NoError(t, c.Verify(entry(1), []byte("pw1")))
	assert.EqualValues(t, users+2, hashes.Load(), "user 1, the least recently used, was forgotten")
	assert.Equal(t, users, c.Stats().Entries)
}

// waiting is how many checks wait for a flight now.
func (c *Cache) waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, f := range c.flights {
		n += f.waiters
	}
	return n
}

func TestCacheSingleFlight(t *testing.T) {
	c := NewCache(10, time.Hour)
	var hashes atomic.Int64
	release := make(chan struct{})
	c.verify = func(stored string, password []byte) error {
		hashes.Add(1)
		<-release
		return Verify(stored, password)
	}
	alice := sha512Entry(t, "alice", "secret")

	const logins = 8
	var wg sync.WaitGroup
	errs := make([]error, logins)
	for i := range logins {
		wg.Go(func() { errs[i] = c.Verify(alice, []byte("secret")) })
	}
	// Every login but the first waits for its hash.
	require.Eventually(t, func() bool { return c.waiting() == logins-1 }, 10*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
	assert.EqualValues(t, 1, hashes.Load(), "one hash for concurrent first logins")
	st := c.Stats()
	assert.EqualValues(t, 1, st.Misses)
	assert.EqualValues(t, logins-1, st.Shared)

	// A login that comes as the flight ends finds the entry: none can run
	// a second hash.
	require.NoError(t, c.Verify(alice, []byte("secret")))
	assert.EqualValues(t, 1, hashes.Load())
}

// Concurrent wrong guesses are not shared: each runs the hash, as it
// would without the cache, so that they take as long as guesses at a user
// that does not exist, which each run the decoy hash.
func TestCacheSingleFlightDoesNotShareFailures(t *testing.T) {
	c := NewCache(10, time.Hour)
	var hashes atomic.Int64
	gate := make(chan struct{})
	c.verify = func(stored string, password []byte) error {
		hashes.Add(1)
		<-gate
		return Verify(stored, password)
	}
	alice := sha512Entry(t, "alice", "secret")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = c.Verify(alice, []byte("guess")) })
	}
	require.Eventually(t, func() bool { return c.waiting() == len(errs)-1 }, 10*time.Second, time.Millisecond)
	close(gate)
	wg.Wait()
	for _, err := range errs {
		assert.ErrorIs(t, err, ErrMismatch)
	}
	assert.EqualValues(t, len(errs), hashes.Load(), "every wrong guess ran the hash")
	st := c.Stats()
	assert.EqualValues(t, len(errs), st.Misses)
	assert.Zero(t, st.Shared)
	assert.Zero(t, st.Entries)
}

// A hash that panics (a bug in a scheme) ends its flight all the same:
// the logins waiting for it run their own check rather than hang.
func TestCacheFlightSurvivesAPanic(t *testing.T) {
	c := NewCache(10, time.Hour)
	var calls atomic.Int64
	release := make(chan struct{})
	c.verify = func(stored string, password []byte) error {
		if calls.Add(1) == 1 {
			<-release
			panic("scheme bug")
		}
		return Verify(stored, password)
	}
	alice := sha512Entry(t, "alice", "secret")
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		c.Verify(alice, []byte("secret"))
	}()
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 10*time.Second, time.Millisecond)
	waiter := make(chan error, 1)
	go func() { waiter <- c.Verify(alice, []byte("secret")) }()
	require.Eventually(t, func() bool { return c.waiting() == 1 }, 10*time.Second, time.Millisecond)
	close(release)
	assert.Equal(t, "scheme bug", <-panicked)
	select {
	case err := <-waiter:
		assert.NoError(t, err, "the waiter ran its own check")
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter hangs")
	}
	assert.Empty(t, c.flights)
}

// A slow check against an old hash that ends after a success against the
// new one does not bring the old password back.
func TestCacheSlowOldCheckDoesNotWin(t *testing.T) {
	c := newCountingCache(t, 10, time.Hour)
	old := sha512Entry(t, "alice", "old-secret")
	changed := sha512Entry(t, "alice", "new-secret")
	oldStarted, release := make(chan struct{}), make(chan struct{})
	c.verify = func(stored string, password []byte) error {
		if stored == old.Password {
			close(oldStarted)
			<-release
		}
		return Verify(stored, password)
	}
	slow := make(chan error, 1)
	go func() { slow <- c.Verify(old, []byte("old-secret")) }() // read before the change
	<-oldStarted
	c.mu.Lock()
	c.clock = c.clock.Add(time.Second)
	c.mu.Unlock()
	require.NoError(t, c.Verify(changed, []byte("new-secret")))
	close(release)
	require.NoError(t, <-slow)

	_, ok := c.Offline("alice", []byte("old-secret"))
	assert.False(t, ok, "the old password did not replace the new one")
	_, ok = c.Offline("alice", []byte("new-secret"))
	assert.True(t, ok)
}

func TestCacheOffline(t *testing.T) {
	c := newCountingCache(t, 10, time.Hour)
	alice := sha512Entry(t, "alice", "secret")

	_, ok := c.Offline("alice", []byte("secret"))
	assert.False(t, ok, "a user never seen")

	require.NoError(t, c.Verify(alice, []byte("secret")))
	got, ok := c.Offline("alice", []byte("secret"))
	require.True(t, ok)
	assert.Equal(t, &Entry{User: "alice", Home: "/home/alice", Extra: []string{"allow_nets=10.0.0.0/8"}}, got,
		"the entry as it was, without its hash")
	got.Extra[0] = "changed"
	again, _ := c.Offline("alice", []byte("secret"))
	assert.Equal(t, "allow_nets=10.0.0.0/8", again.Extra[0], "Offline returns a copy")

	_, ok = c.Offline("alice", []byte("guess"))
	assert.False(t, ok, "a wrong password")
	_, ok = c.Offline("bob", []byte("secret"))
	assert.False(t, ok, "another user with that password")

	c.clock = c.clock.Add(24 * time.Hour)
	_, ok = c.Offline("alice", []byte("secret"))
	assert.True(t, ok, "past the TTL, as Dovecot's cache on an internal failure")
	assert.EqualValues(t, 3, c.Stats().Offline)

	c.Forget("alice")
	_, ok = c.Offline("alice", []byte("secret"))
	assert.False(t, ok, "after Forget")
	assert.EqualValues(t, 1, c.hashes.Load(), "Offline runs no hash")
}

func TestCacheKeepsNoPassword(t *testing.T) {
	c := NewCache(10, time.Hour)
	password := []byte("correct horse battery staple")
	alice := &Entry{User: "alice", Password: "{PLAIN}" + string(password)}
	require.NoError(t, c.Verify(alice, password))
	e := c.entries["alice"].Value.(*cacheEntry)

	assert.Empty(t, e.entry.Password, "the entry is kept without its stored secret")
	for _, mac := range [][]byte{e.stored[:], e.secret[:]} {
		assert.False(t, bytes.Contains(mac, password))
		for _, digest := range [][]byte{sum256(password), sum256([]byte("alice"), password), sum256([]byte(alice.Password))} {
			assert.NotEqual(t, digest, mac, "an unkeyed digest")
		}
	}
	// Another cache has another key: its MACs differ.
	other := NewCache(10, time.Hour)
	require.NoError(t, other.Verify(alice, password))
	assert.NotEqual(t, e.secret, other.entries["alice"].Value.(*cacheEntry).secret)
}

func sum256(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// The MACs of different users, hashes and passwords never collide by
// concatenation: "ab"+"c" is not "a"+"bc".
func TestCacheMACInputsAreSeparated(t *testing.T) {
	c := NewCache(10, time.Hour)
	assert.NotEqual(t, c.macSecret("ab", []byte("c")), c.macSecret("a", []byte("bc")))
	assert.NotEqual(t, c.macStored(&Entry{User: "alice", Password: "x"}), c.macSecret("alice", []byte("x")))
	assert.NotEqual(t, c.macStored(&Entry{User: "alice", Password: "x"}), c.macStored(&Entry{User: "alice", Password: "x", DN: "uid=alice"}))
}

// The user name is part of every key: two users with one password and
// one hash (as a {PLAIN} hash would be) are two entries, and one's
// success does not log the other in (Dovecot's CVE-2007-6598).
func TestCacheKeyedByUser(t *testing.T) {
	c := newCountingCache(t, 10, time.Hour)
	require.NoError(t, c.Verify(&Entry{User: "alice", Password: "{PLAIN}same"}, []byte("same")))
	require.NoError(t, c.Verify(&Entry{User: "bob", Password: "{PLAIN}same"}, []byte("same")))
	assert.EqualValues(t, 2, c.hashes.Load())
	_, ok := c.Offline("carol", []byte("same"))
	assert.False(t, ok)
}

func TestNilCache(t *testing.T) {
	var c *Cache
	alice := sha512Entry(t, "alice", "secret")
	assert.NoError(t, c.Verify(alice, []byte("secret")))
	assert.ErrorIs(t, c.Verify(alice, []byte("guess")), ErrMismatch)
	_, ok := c.Offline("alice", []byte("secret"))
	assert.False(t, ok)
	c.Forget("alice")
	assert.Equal(t, CacheStats{}, c.Stats())
	assert.Nil(t, NewCache(0, time.Hour), "size 0 turns the cache off")
	assert.Nil(t, NewCache(10, 0), "a TTL of 0 too")
}

func TestCacheErrorsAreVerifys(t *testing.T) {
	c := NewCache(10, time.Hour)
	for _, stored := range []string{"{NOPE}x", "{SHA512-CRYPT}", "{SHA256}not-base64!"} {
		want := Verify(stored, []byte("pw"))
		got := c.Verify(&Entry{User: "alice", Password: stored}, []byte("pw"))
		require.Error(t, got)
		assert.Equal(t, want.Error(), got.Error(), stored)
		assert.True(t, errors.Is(got, ErrUnknownScheme) || errors.Is(got, ErrMalformedHash))
	}
	assert.Zero(t, c.Stats().Entries)
}

// BenchmarkVerify compares a login's password check with and without the
// cache, for the schemes sites use: "uncached" runs the hash every time, as
// Verify does; "cached" is a repeat login with the right password.
func BenchmarkVerify(b *testing.B) {
	for _, scheme := range []string{"PLAIN", "SHA512-CRYPT", "BLF-CRYPT", "ARGON2ID"} {
		stored, err := Hash(scheme, []byte("secret"))
		require.NoError(b, err)
		entry := &Entry{User: "alice@example.org", Password: stored, Home: "/home/alice"}
		password := []byte("secret")
		b.Run(scheme+"/uncached", func(b *testing.B) {
			for b.Loop() {
				if err := Verify(stored, password); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(scheme+"/cached", func(b *testing.B) {
			c := NewCache(DefaultCacheSize, DefaultCacheTTL)
			require.NoError(b, c.Verify(entry, password))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Verify(entry, password); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCacheParallel is the cached check under contention: many
// sessions of different users logging in at once.
func BenchmarkCacheParallel(b *testing.B) {
	c := NewCache(DefaultCacheSize, DefaultCacheTTL)
	const users = 1024
	entries := make([]*Entry, users)
	for i := range entries {
		entries[i] = &Entry{User: fmt.Sprintf("user%d", i), Password: fmt.Sprintf("{PLAIN}pw%d", i)}
		require.NoError(b, c.Verify(entries[i], fmt.Appendf(nil, "pw%d", i)))
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1)) % users
			if err := c.Verify(entries[i], fmt.Appendf(nil, "pw%d", i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestCacheEntrySize measures what an entry costs, for the size in the
// Cache documentation: a user with a 20-character name, a home directory
// and an extra field, its strings counted (a database's rows leave the
// cache their only holder).
func TestCacheEntrySize(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("measures the heap")
	}
	const users = 20_000
	c := NewCache(users, time.Hour)
	c.verify = func(string, []byte) error { return nil }
	password := []byte("pw")
	before := heapInUse()
	for i := range users {
		e := &Entry{User: fmt.Sprintf("user%06d@example.org", i), Password: "{PLAIN}pw",
			UID: "vmail", GID: "vmail", Home: fmt.Sprintf("/var/mail/example.org/user%06d", i), Extra: []string{"allow_nets=10.0.0.0/8"}}
		require.NoError(t, c.Verify(e, password))
	}
	perEntry := float64(heapInUse()-before) / users
	t.Logf("%.0f bytes per cache entry", perEntry)
	assert.Less(t, perEntry, 600.0, "the Cache documentation says about 500 bytes")
	runtime.KeepAlive(c)
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// VerifyFunc caches a check the user database makes itself (an LDAP bind),
// keyed by the entry's DN: the same DN and password skip the check, another
// DN runs it.
func TestCacheVerifyFunc(t *testing.T) {
	c := NewCache(10, time.Hour)
	calls := 0
	check := func(err error) func() error {
		return func() error { calls++; return err }
	}
	e := &Entry{User: "alice", DN: "uid=alice,dc=example"}
	require.NoError(t, c.VerifyFunc(e, []byte("pw"), check(nil)))
	require.NoError(t, c.VerifyFunc(e, []byte("pw"), check(nil)))
	assert.Equal(t, 1, calls)
	assert.ErrorIs(t, c.VerifyFunc(e, []byte("other"), check(ErrMismatch)), ErrMismatch)
	assert.Equal(t, 2, calls, "another password runs the check")
	moved := &Entry{User: "alice", DN: "uid=alice,ou=moved,dc=example"}
	require.NoError(t, c.VerifyFunc(moved, []byte("pw"), check(nil)))
	assert.Equal(t, 3, calls, "another DN runs the check")
	got, ok := c.Offline("alice", []byte("pw"))
	require.True(t, ok)
	assert.Equal(t, moved.DN, got.DN)

	var nilCache *Cache
	require.NoError(t, nilCache.VerifyFunc(e, []byte("pw"), check(nil)))
	assert.Equal(t, 4, calls, "a nil cache always checks")
}
