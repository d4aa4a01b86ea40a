package passwd

import (
	"container/list"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"hash"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of [NewCache].
const (
	// DefaultCacheSize is the number of users a cache remembers by
	// default: about 50 MB when full (see [Cache]). A cache holds only
	// the users who logged in, so most never fill it.
	DefaultCacheSize = 100_000
	// DefaultCacheTTL is how long a successful check is trusted by
	// default, as Dovecot's auth_cache_ttl.
	DefaultCacheTTL = time.Hour
)

// Cache remembers successful password checks, so that a client polling a
// mailbox every few minutes with the same password does not make the
// server run a deliberately slow hash (BLF-CRYPT, SHA512-CRYPT, ARGON2ID)
// at every login. It sits between a user database and [Verify]: a store
// looks the user up as before, then calls [Cache.Verify] with the entry it
// found.
//
// What it promises:
//
//   - After a password checked against a stored hash succeeds, the same
//     password against the same stored hash succeeds without running the
//     hash again, for the cache's TTL.
//   - A changed stored hash (a passwd-file edited, a database row
//     updated) takes effect at the next login: the entry of the old one is
//     dropped and the new hash is checked.
//   - A failed check is never remembered, so a wrong password always runs
//     the hash. Unknown users are not the cache's business: the store
//     keeps calling [VerifyUnknownUser] for them, so that a refusal takes
//     as long as before.
//   - Concurrent first logins of one user with one password run the hash
//     once: the others wait for it and take its success. A failure is not
//     shared: each of them then runs the hash itself, so that many
//     concurrent wrong guesses cost what they would without the cache.
//   - It holds no password and no fast digest that could be attacked
//     offline: an entry keeps HMAC-SHA256 values under a key drawn from
//     crypto/rand when the cache is made, and never written anywhere.
//   - It is bounded: at most size users, the least recently used
//     forgotten first, one entry each. An entry costs about 500 bytes
//     for a user with a 20-character name, a home directory and an extra
//     field, their strings included.
//
// When the user database cannot be reached, a store may ask
// [Cache.Offline] whether the password is the one that last succeeded for
// the user, as Dovecot's auth cache does (its auth_cache_ttl "unless the
// main database lookup returns internal failure").
//
// Entries are keyed by user name: give each user database its own Cache,
// or names that two databases share would share an entry.
//
// A nil *Cache is valid and caches nothing: its Verify method is the
// package's [Verify], and Offline knows no one. A Cache is safe for concurrent use.
type Cache struct {
	size int
	ttl  time.Duration
	// macs hands out HMAC-SHA256 states under the cache's key.
	macs sync.Pool

	mu      sync.Mutex
	entries map[string]*list.Element // by user name; of *cacheEntry
	lru     list.List                // front: most recently used
	// flights are the checks running now, by their two MACs. Joining one
	// and looking an entry up happen under mu, and a successful flight
	// adds its entry and ends under mu too, so that no check can miss
	// both: the hash of concurrent first logins runs once.
	flights map[flightKey]*flight

	hits, misses, shared, offline atomic.Uint64

	// now and verify replace time.Now and Verify in tests.
	now    func() time.Time
	verify func(stored string, password []byte) error
}

// cacheEntry is what the cache keeps of one user's last successful check.
type cacheEntry struct {
	// stored identifies the stored hash checked; secret the user and the
	// password that matched it. Both are MACs under the cache's key.
	stored, secret [sha256.Size]byte
	verified       time.Time
	// entry is the user's entry without its Password, for Offline; its
	// User is the entry's key.
	entry *Entry
}

type flightKey struct{ stored, secret [sha256.Size]byte }

// flight is one running check; done is closed when err is set.
type flight struct {
	done    chan struct{}
	err     error
	waiters int // for tests
}

// CacheStats counts what a [Cache] did since it was made.
type CacheStats struct {
	// Hits are checks answered from an entry: no hash was run.
	Hits uint64
	// Misses are checks that ran the hash: the first login of a user,
	// an expired entry, a changed hash, or a wrong password.
	Misses uint64
	// Shared are checks that waited for a concurrent check of the same
	// password against the same hash and took its success.
	Shared uint64
	// Offline are logins that [Cache.Offline] let in while the user
	// database could not be reached.
	Offline uint64
	// Entries is the number of users remembered now.
	Entries int
}

// NewCache returns a cache of at most size users (see [DefaultCacheSize])
// whose successful checks are trusted for ttl (see [DefaultCacheTTL]). A
// size or ttl of zero or less returns nil, which caches nothing.
func NewCache(size int, ttl time.Duration) *Cache {
	if size <= 0 || ttl <= 0 {
		return nil
	}
	var key [32]byte
	rand.Read(key[:]) // never fails (crypto/rand panics rather)
	c := &Cache{size: size, ttl: ttl, entries: make(map[string]*list.Element), flights: make(map[flightKey]*flight)}
	c.macs.New = func() any { return hmac.New(sha256.New, key[:]) }
	return c
}

// Verify checks password against entry.Password, the hash that the user
// database holds now for the user named entry.User (the name the store
// looked up, as it normalised it), as the package function [Verify] does,
// and returns its errors. A password that succeeded against the same hash
// within the TTL succeeds at once; a success is remembered, with a copy of
// entry whose Password is cleared, which [Cache.Offline] returns. On a nil
// Cache it is Verify(entry.Password, password).
func (c *Cache) Verify(entry *Entry, password []byte) error {
	if c == nil {
		return Verify(entry.Password, password)
	}
	return c.verifyWith(entry, password, func() error { return c.verifyHash(entry.Password, password) })
}

// VerifyFunc is [Cache.Verify] for a user database that checks passwords
// itself, such as an LDAP directory that binds as the user
// ([Authenticator]): check runs in place of the hash, and the entry is
// known by its DN as well as by entry.Password. Unlike a stored hash, a
// password changed in such a database is not seen until the entry expires
// (the cache's TTL) or a check with another password succeeds; Dovecot's
// auth cache behaves alike. On a nil Cache it is check().
func (c *Cache) VerifyFunc(entry *Entry, password []byte, check func() error) error {
	if c == nil {
		return check()
	}
	return c.verifyWith(entry, password, check)
}

// verifyWith is Verify and VerifyFunc: check runs the real check.
func (c *Cache) verifyWith(entry *Entry, password []byte, check func() error) error {
	key := flightKey{c.macStored(entry), c.macSecret(entry.User, password)}
	c.mu.Lock()
	if c.lookup(entry.User, key) {
		c.mu.Unlock()
		c.hits.Add(1)
		return nil
	}
	if f, ok := c.flights[key]; ok {
		f.waiters++
		c.mu.Unlock()
		<-f.done
		if f.err == nil {
			c.shared.Add(1)
			return nil
		}
		// A failure is not shared: see the type's documentation.
		c.misses.Add(1)
		return check()
	}
	f := &flight{done: make(chan struct{})}
	c.flights[key] = f
	c.mu.Unlock()

	c.misses.Add(1)
	started := c.clock()
	// Deferred, so that a hash that panics still ends the flight: its
	// waiters then see errHashPanicked and run the hash themselves.
	f.err = errHashPanicked
	defer func() {
		c.mu.Lock()
		if f.err == nil {
			c.add(entry, key, started)
		}
		delete(c.flights, key)
		c.mu.Unlock()
		close(f.done)
	}()
	f.err = check()
	return f.err
}

// errHashPanicked is a flight's result until its hash returns.
var errHashPanicked = errors.New("passwd: the password check panicked")

// Offline is for a login whose user database cannot be reached (a lookup
// failed with an error other than [ErrNotFound]). It reports whether
// password is the one that last succeeded in [Cache.Verify] for user,
// however long ago, while the cache still holds the user; if so it returns
// the user's entry as it was then, without its Password. The caller should
// log that it let the user in from the cache. A nil Cache returns false.
//
// Like Dovecot's, this trusts what the cache last saw: a password changed
// in the database and not yet seen by a login still works here until the
// database can be read again; [Cache.Forget] a user to prevent that.
func (c *Cache) Offline(user string, password []byte) (*Entry, bool) {
	if c == nil {
		return nil, false
	}
	secret := c.macSecret(user, password)
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[user]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if subtle.ConstantTimeCompare(e.secret[:], secret[:]) != 1 {
		return nil, false
	}
	c.lru.MoveToFront(el)
	c.offline.Add(1)
	return e.entry.clone(), true
}

// Forget drops what the cache holds of user, so that the next login runs
// the hash. A store need not call it when a password changes, since a
// changed hash is noticed; it is for a user that was removed or locked out
// by other means. A nil Cache does nothing.
func (c *Cache) Forget(user string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[user]; ok {
		c.remove(el)
	}
}

// Stats returns the cache's counters. A nil Cache returns zeros.
func (c *Cache) Stats() CacheStats {
	if c == nil {
		return CacheStats{}
	}
	c.mu.Lock()
	n := c.lru.Len()
	c.mu.Unlock()
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Shared: c.shared.Load(),
		Offline: c.offline.Load(), Entries: n}
}

// lookup reports whether user's entry matches key and is within the TTL.
// An entry of another stored hash is dropped: the user's password changed.
// c.mu is held.
func (c *Cache) lookup(user string, key flightKey) bool {
	el, ok := c.entries[user]
	if !ok {
		return false
	}
	e := el.Value.(*cacheEntry)
	if subtle.ConstantTimeCompare(e.stored[:], key.stored[:]) != 1 {
		c.remove(el)
		return false
	}
	if subtle.ConstantTimeCompare(e.secret[:], key.secret[:]) != 1 || c.clock().Sub(e.verified) >= c.ttl {
		return false
	}
	c.lru.MoveToFront(el)
	return true
}

// add remembers a success of a check that started at started, in place of
// the user's entry, unless that entry comes from a check that started
// later (against a newer hash, perhaps): a slow check must not bring an
// old password back. c.mu is held.
func (c *Cache) add(entry *Entry, key flightKey, started time.Time) {
	kept := entry.clone()
	kept.Password = ""
	e := &cacheEntry{stored: key.stored, secret: key.secret, verified: started, entry: kept}
	if el, ok := c.entries[entry.User]; ok {
		if el.Value.(*cacheEntry).verified.After(started) {
			return
		}
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	for c.lru.Len() >= c.size {
		c.remove(c.lru.Back())
	}
	c.entries[entry.User] = c.lru.PushFront(e)
}

func (c *Cache) remove(el *list.Element) {
	delete(c.entries, el.Value.(*cacheEntry).entry.User)
	c.lru.Remove(el)
}

// macStored and macSecret are the two MACs of an entry. Each input is
// length-prefixed and the two carry different labels, so that no choice
// of user name, hash or password makes one collide with another.
func (c *Cache) macStored(entry *Entry) [sha256.Size]byte {
	if entry.DN != "" {
		// A directory entry: its DN and hash (usually none) together.
		inner := c.mac('d', []byte(entry.DN), []byte(entry.Password))
		return c.mac('b', []byte(entry.User), inner[:])
	}
	return c.mac('h', []byte(entry.User), []byte(entry.Password))
}

func (c *Cache) macSecret(user string, password []byte) [sha256.Size]byte {
	return c.mac('p', []byte(user), password)
}

func (c *Cache) mac(label byte, a, b []byte) [sha256.Size]byte {
	h := c.macs.Get().(hash.Hash)
	defer c.macs.Put(h)
	h.Reset()
	var prefix [1 + 2*binary.MaxVarintLen64]byte
	prefix[0] = label
	n := 1 + binary.PutUvarint(prefix[1:], uint64(len(a)))
	h.Write(prefix[:n])
	h.Write(a)
	n = binary.PutUvarint(prefix[:], uint64(len(b)))
	h.Write(prefix[:n])
	h.Write(b)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

func (c *Cache) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

func (c *Cache) verifyHash(stored string, password []byte) error {
	if c.verify != nil {
		return c.verify(stored, password)
	}
	return Verify(stored, password)
}

// clone returns a copy of e that shares nothing with it.
func (e *Entry) clone() *Entry {
	if e == nil {
		return nil
	}
	c := *e
	c.Extra = slices.Clone(e.Extra)
	return &c
}
