package main

import (
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/pgtest"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/postgres"
)

// login logs user in on a new connection and quits, or returns the -ERR
// line of PASS.
func login(t *testing.T, addr, user, password string) (errLine string) {
	t.Helper()
	c := dial(t, addr)
	c.OK("USER " + user)
	r := c.Cmd("PASS " + password)
	if !r.OK {
		return r.Line
	}
	c.Quit()
	return ""
}

// cacheCounts scrapes the verification cache's hits and misses.
func cacheCounts(t *testing.T, metricsAddr string) (hits, misses float64) {
	t.Helper()
	m := scrape(t, metricsAddr)
	return value(m, "pop3_auth_cache_hits_total"), value(m, "pop3_auth_cache_misses_total")
}

// The cache is on by default for -maildir: alice's BLF-CRYPT hash runs at
// her first login only; a wrong password runs it every time; an edit of
// the passwd-file takes effect at the next login.
func TestAuthCacheMaildir(t *testing.T) {
	store := newMailStore(t)
	s := start(t, append(store.args(), "-metrics", "127.0.0.1:0")...)
	assert.Contains(t, s.stderr.String(), "verification cache on")

	for range 3 {
		require.Empty(t, login(t, s.Addr, "alice", "alice-pw"))
	}
	hits, misses := cacheCounts(t, s.MetricsAddr)
	assert.Equal(t, 2.0, hits)
	assert.Equal(t, 1.0, misses)
	assert.Equal(t, 1.0, value(scrape(t, s.MetricsAddr), "pop3_auth_cache_entries"))

	assert.Equal(t, "-ERR [AUTH] authentication failed", login(t, s.Addr, "alice", "guess"))
	_, misses = cacheCounts(t, s.MetricsAddr)
	assert.Equal(t, 2.0, misses, "a wrong password runs the hash")

	// pop3admin passwd, or an editor, gives alice a new password.
	hash, err := passwd.Hash("SHA512-CRYPT", []byte("new-pw"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(store.passwd, []byte("alice:"+hash+"\nbob:{PLAIN}bob-pw\n"), 0o600))
	future := time.Now().Add(2 * time.Second)
	require.NoError(t, os.Chtimes(store.passwd, future, future))
	assert.NotEmpty(t, login(t, s.Addr, "alice", "alice-pw"), "the old password is refused at once")
	require.Empty(t, login(t, s.Addr, "alice", "new-pw"))
	assert.NotContains(t, s.stderr.String(), "alice-pw")
	assert.NotContains(t, s.stderr.String(), "new-pw")
}

// -auth-cache-size 0 turns the cache off: no cache metrics, logins as
// before.
func TestAuthCacheOff(t *testing.T) {
	store := newMailStore(t)
	s := start(t, append(store.args(), "-metrics", "127.0.0.1:0", "-auth-cache-size", "0")...)
	require.Empty(t, login(t, s.Addr, "alice", "alice-pw"))
	require.Empty(t, login(t, s.Addr, "alice", "alice-pw"))
	hits, misses := cacheCounts(t, s.MetricsAddr)
	assert.Equal(t, -1.0, hits, "no cache, no metric")
	assert.Equal(t, -1.0, misses)
	assert.NotContains(t, s.stderr.String(), "verification cache on")
}

// -auth-cache-ttl bounds how long a good password is trusted.
func TestAuthCacheTTL(t *testing.T) {
	store := newMailStore(t)
	s := start(t, append(store.args(), "-metrics", "127.0.0.1:0", "-auth-cache-ttl", "300ms")...)
	require.Empty(t, login(t, s.Addr, "alice", "alice-pw"))
	time.Sleep(400 * time.Millisecond)
	require.Empty(t, login(t, s.Addr, "alice", "alice-pw"))
	hits, misses := cacheCounts(t, s.MetricsAddr)
	assert.Equal(t, 0.0, hits)
	assert.Equal(t, 2.0, misses, "the entry expired")
}

// The cache is on for -postgres too. With the database cut off, a user the
// cache knows passes the password check, with a warning in the log, and
// is told to try again (the mail is in the database too); anyone else
// likewise; nobody is refused as if their password were wrong, and every
// message is there when the database is back.
func TestAuthCachePostgresDown(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	s := start(t, "-addr", "127.0.0.1:0", "-postgres", dsn, "-metrics", "127.0.0.1:0",
		"-auth-failure-delay", "0", "-auth-penalty", "0") // the failures below would raise loopback's penalty
	pool, err := postgres.Connect(t.Context(), dsn)
	require.NoError(t, err)
	defer pool.Close()
	admin, err := postgres.New(t.Context(), pool)
	require.NoError(t, err)
	defer admin.Close()
	for _, u := range []string{"alice", "bob"} {
		h, err := passwd.Hash("SHA512-CRYPT", []byte(u+"-pw"))
		require.NoError(t, err)
		require.NoError(t, admin.AddUser(t.Context(), u, h))
		require.NoError(t, admin.Deliver(t.Context(), u, strings.NewReader("Subject: hi\r\n\r\nkept\r\n")))
	}
	require.Empty(t, login(t, s.Addr, "alice", "alice-pw"))
	require.Empty(t, login(t, s.Addr, "alice", "alice-pw"))
	hits, misses := cacheCounts(t, s.MetricsAddr)
	assert.Equal(t, 1.0, hits)
	assert.Equal(t, 1.0, misses)

	reconnect := pgtest.Disconnect(t, dsn)
	assert.Regexp(t, `^-ERR \[SYS/TEMP\] `, login(t, s.Addr, "alice", "alice-pw"))
	assert.Contains(t, s.stderr.String(), "level=WARN")
	assert.Contains(t, s.stderr.String(), "letting the user in on the password that last succeeded")
	assert.Equal(t, 1.0, value(scrape(t, s.MetricsAddr), "pop3_auth_cache_offline_logins_total"))
	for _, u := range [][2]string{{"bob", "bob-pw"}, {"alice", "guess"}, {"nobody", "x"}} {
		assert.Regexp(t, `^-ERR \[SYS/TEMP\] `, login(t, s.Addr, u[0], u[1]), u[0])
	}

	reconnect()
	require.Eventually(t, func() bool { return login(t, s.Addr, "bob", "bob-pw") == "" }, 30*time.Second, 200*time.Millisecond)
	c := dial(t, s.Addr)
	c.Login("alice", "alice-pw")
	assert.Regexp(t, `^\+OK 1 \d+$`, c.Cmd("STAT").Line, "nothing was lost")
	c.Quit()
}

// -auth-failure-delay sets the wait before a failed login's -ERR; 0 turns
// it off.
func TestAuthFailureDelayFlag(t *testing.T) {
	store := newMailStore(t)
	for _, tc := range []struct {
		delay    string
		min, max time.Duration
	}{
		{"0", 0, time.Second},
		{"1200ms", 1200 * time.Millisecond, time.Hour},
	} {
		t.Run(tc.delay, func(t *testing.T) {
			s := start(t, append(store.args(), "-auth-failure-delay", tc.delay, "-auth-penalty", "0")...)
			c := dial(t, s.Addr)
			c.OK("USER bob")
			start := time.Now()
			assert.False(t, c.Cmd("PASS wrong").OK)
			took := time.Since(start)
			assert.GreaterOrEqual(t, took, tc.min)
			assert.Less(t, took, tc.max)
		})
	}
}

// -auth-penalty bounds the per-address penalty, 0 turns it off, and
// -trusted-networks spares the addresses listed.
func TestAuthPenaltyFlags(t *testing.T) {
	store := newMailStore(t)
	// fail makes three failed logins from loopback, on three connections.
	fail := func(t *testing.T, addr string) {
		for range 3 {
			assert.NotEmpty(t, login(t, addr, "bob", "wrong"))
		}
	}
	// timedLogin is how long bob's right password takes after them.
	timedLogin := func(t *testing.T, addr string) time.Duration {
		start := time.Now()
		require.Empty(t, login(t, addr, "bob", "bob-pw"))
		return time.Since(start)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		min, max time.Duration
	}{
		{"bounded", []string{"-auth-penalty", "1s"}, time.Second, 1900 * time.Millisecond},
		{"off", []string{"-auth-penalty", "0"}, 0, time.Second},
		{"trusted", []string{"-trusted-networks", "10.0.0.0/8, 127.0.0.0/8,::1"}, 0, time.Second},
		{"other network trusted", []string{"-auth-penalty", "1s", "-trusted-networks", "10.0.0.0/8"}, time.Second, 1900 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(store.args(), "-auth-failure-delay", "0", "-metrics", "127.0.0.1:0")
			s := start(t, append(args, tc.args...)...)
			fail(t, s.Addr)
			took := timedLogin(t, s.Addr)
			assert.GreaterOrEqual(t, took, tc.min)
			assert.Less(t, took, tc.max)
			penalized := value(scrape(t, s.MetricsAddr), "pop3_auth_penalized_addresses")
			if tc.min > 0 {
				assert.Equal(t, 1.0, penalized)
			} else {
				assert.Equal(t, 0.0, penalized)
			}
		})
	}
}

// A client in -trusted-networks may log in in cleartext from an address
// that is not loopback; everyone else still needs TLS.
func TestTrustedNetworksCleartext(t *testing.T) {
	store := newMailStore(t)
	// The client's address comes from a PROXY header, as behind HAProxy.
	s := start(t, append(store.args(), "-proxy-protocol", "127.0.0.1", "-trusted-networks", "192.0.2.0/24")...)
	c := dialProxied(t, s.Addr, 2, "192.0.2.10:40000")
	c.Greeting()
	c.Login("bob", "bob-pw")
	c.Quit()
	c = dialProxied(t, s.Addr, 2, "198.51.100.10:40000")
	c.Greeting()
	r := c.Cmd("USER bob")
	assert.Equal(t, "-ERR [AUTH] TLS is required for cleartext login: use STLS or the TLS port", r.Line)
}

func TestAuthFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, passwd.DefaultCacheSize, o.authCacheSize)
	assert.Equal(t, time.Hour, o.authCacheTTL)
	assert.Equal(t, 2*time.Second, o.authFailureDelay)
	assert.Equal(t, 15*time.Second, o.authPenalty)
	assert.Empty(t, o.trustedNetworks)

	o, err = parseFlags([]string{"-auth-cache-size", "500", "-auth-cache-ttl", "10m", "-auth-failure-delay", "0",
		"-auth-penalty", "0", "-trusted-networks", "192.0.2.0/24,2001:db8::/32,10.1.2.3,::ffff:198.51.100.0/120"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 500, o.authCacheSize)
	assert.Equal(t, 10*time.Minute, o.authCacheTTL)
	assert.Zero(t, o.authFailureDelay)
	assert.Zero(t, o.authPenalty)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("10.1.2.3/32"), netip.MustParsePrefix("198.51.100.0/24")}, o.trustedNetworks)
}

// The demo and -load stores keep cleartext passwords: no cache for them.
func TestAuthCacheOnlyForHashingStores(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "carol"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "carol", "password"), []byte("carol-pw\n"), 0o600))
	for _, args := range [][]string{nil, {"-load", dir}} {
		o, err := parseFlags(args, io.Discard)
		require.NoError(t, err)
		assert.Nil(t, verifyCache(o))
	}
}
