package maildir_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/pop3test"
)

// extraBackend makes a root and a passwd-file of the given lines, written
// as they are, and returns a backend on the template; "$ROOT" in the
// template and the lines stands for the root.
func extraBackend(t *testing.T, template string, lines ...string) (b *maildir.Backend, root string, logs *bytes.Buffer) {
	t.Helper()
	root = t.TempDir()
	content := strings.ReplaceAll(strings.Join(lines, "\n")+"\n", "$ROOT", root)
	pwPath := filepath.Join(root, "passwd")
	require.NoError(t, os.WriteFile(pwPath, []byte(content), 0o600))
	logs = new(bytes.Buffer)
	logger := slog.New(slog.NewTextHandler(logs, nil))
	pw, err := passwd.OpenFile(pwPath, logger)
	require.NoError(t, err)
	b, err = maildir.New(strings.ReplaceAll(template, "$ROOT", root), pw, maildir.WithLogger(logger))
	require.NoError(t, err)
	return b, root, logs
}

// apopDigest is the APOP digest of timestamp and secret (RFC 1939 §7).
func apopDigest(timestamp, secret string) string {
	sum := md5.Sum([]byte(timestamp + secret))
	return hex.EncodeToString(sum[:])
}

const apopTimestamp = "<1896.697170952@dbc.mtview.ca.us>"

// openAndClose opens the user's maildrop, which creates its Maildir.
func openAndClose(t *testing.T, u pop3.User) {
	t.Helper()
	mb, err := u.Open(context.Background())
	require.NoError(t, err)
	require.NoError(t, mb.Close())
}

func tcpConn(ip string) *pop3.ConnInfo {
	return &pop3.ConnInfo{RemoteAddr: &net.TCPAddr{IP: net.ParseIP(ip), Port: 40110}}
}

// A login for a user who does not exist, or with a name that is refused,
// takes about as long as a wrong password of a BLF-CRYPT user, so that the
// time does not tell which users exist.
func TestLoginTimingHidesUnknownUsers(t *testing.T) {
	hash, err := passwd.Hash("BLF-CRYPT", []byte("right password"))
	require.NoError(t, err)
	b, _, _ := testMaildirs(t, "alice:"+hash)
	ctx := context.Background()
	median := func(username, password string) time.Duration {
		const runs = 7
		d := make([]time.Duration, runs)
		for i := range d {
			start := time.Now()
			_, err := b.Login(ctx, nil, username, password)
			d[i] = time.Since(start)
			require.ErrorIs(t, err, pop3.ErrAuthFailed)
		}
		slices.Sort(d)
		return d[runs/2]
	}
	// The first such login makes passwd's decoy hash.
	_, err = b.Login(ctx, nil, "nobody", "x")
	require.ErrorIs(t, err, pop3.ErrAuthFailed)

	for _, tc := range []struct{ name, username string }{
		{"unknown user", "nobody"},
		{"unknown user with a domain", "nobody@example.com"},
		{"refused name", "../alice"},
		{"empty name", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wrong := median("alice", "wrong password")
			got := median(tc.username, "wrong password")
			assert.GreaterOrEqual(t, got, wrong/4,
				"a login for %q took %v, a wrong password %v: the time tells that the user does not exist", tc.username, got, wrong)
		})
	}
}

// Names are lower-cased as Dovecot's %L does, in ASCII only: the Kelvin
// sign (U+212A), which strings.ToLower maps to 'k', stays what it is, and
// so does the capital I with a dot (U+0130), which it maps to 'i'.
func TestLoginLowerCasesASCIIOnly(t *testing.T) {
	b, _, _ := testMaildirs(t, "kim:{PLAIN}pw")
	ctx := context.Background()
	for _, tc := range []struct {
		username string
		ok       bool
	}{
		{"kim", true},
		{"KIM", true},
		{"Kim", true},
		{"\u212Aim", false},
		{"\u212AIM", false},
		{"k\u0130m", false}, // İ (U+0130), which strings.ToLower maps to 'i'
	} {
		t.Run(fmt.Sprintf("%+q", tc.username), func(t *testing.T) {
			u, err := b.Login(ctx, nil, tc.username, "pw")
			if tc.ok {
				assert.NoError(t, err)
				assert.NotNil(t, u)
				return
			}
			assert.ErrorIs(t, err, pop3.ErrAuthFailed)
			assert.Nil(t, u)
			_, err = b.LoginAPOP(ctx, nil, tc.username, apopTimestamp, apopDigest(apopTimestamp, "pw"))
			assert.ErrorIs(t, err, pop3.ErrAuthFailed)
			err = b.Deliver(ctx, tc.username, strings.NewReader("x\n"))
			assert.ErrorIs(t, err, pop3.ErrNoSuchUser)
		})
	}
}

// nologin refuses a login with the right password, by USER/PASS and by
// APOP alike; the reason is logged and not shown. A delivery still goes in.
func TestLoginNologin(t *testing.T) {
	for _, tc := range []struct {
		name, extra, logged string
	}{
		{"flag", "nologin", "nologin"},
		{"with a reason", "nologin reason=moved_to_imap.example.com", "moved_to_imap.example.com"},
		{"reason first", "reason=moved_to_imap.example.com nologin", "moved_to_imap.example.com"},
		{"with a value", "nologin=y", "nologin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, root, logs := extraBackend(t, "$ROOT/%u/Maildir", "nora:{PLAIN}pw::::::"+tc.extra)
			ctx := context.Background()

			_, err := b.Login(ctx, nil, "nora", "wrong")
			assert.ErrorIs(t, err, pop3.ErrAuthFailed)
			assert.NotContains(t, logs.String(), "nologin", "a wrong password is refused before nologin is looked at")

			u, err := b.Login(ctx, tcpConn("192.0.2.1"), "nora", "pw")
			assert.Nil(t, u)
			require.ErrorIs(t, err, pop3.ErrAuthFailed)
			assert.NotContains(t, err.Error(), "moved", "the reason is not for the client")
			assert.Contains(t, logs.String(), "login refused")
			assert.Contains(t, logs.String(), tc.logged)

			_, err = b.LoginAPOP(ctx, nil, "nora", apopTimestamp, apopDigest(apopTimestamp, "pw"))
			assert.ErrorIs(t, err, pop3.ErrAuthFailed)

			require.NoError(t, b.Deliver(ctx, "nora", strings.NewReader("Subject: x\n\nx\n")), "an MDA delivers to a nologin user")
			entries, err := os.ReadDir(filepath.Join(root, "nora", "Maildir", "new"))
			require.NoError(t, err)
			assert.Len(t, entries, 1)
		})
	}
}

// allow_nets admits a login with the right password only from the listed
// networks; "local" is a connection without an IP address.
func TestLoginAllowNets(t *testing.T) {
	unix := &pop3.ConnInfo{RemoteAddr: &net.UnixAddr{Name: "/run/pop3.sock", Net: "unix"}}
	for _, tc := range []struct {
		name string
		nets string
		conn *pop3.ConnInfo
		ok   bool
	}{
		{"in a prefix", "192.0.2.0/24", tcpConn("192.0.2.7"), true},
		{"outside a prefix", "192.0.2.0/24", tcpConn("198.51.100.1"), false},
		{"an unmasked prefix", "192.0.2.1/24", tcpConn("192.0.2.200"), true},
		{"one address of several", "127.0.0.1,192.0.2.7", tcpConn("192.0.2.7"), true},
		{"another address", "127.0.0.1,192.0.2.7", tcpConn("192.0.2.8"), false},
		{"an IPv4-mapped client", "192.0.2.7", tcpConn("::ffff:192.0.2.7"), true},
		{"an IPv4-mapped network", "::ffff:192.0.2.0/120", tcpConn("192.0.2.9"), true},
		{"IPv6", "2001:db8::/32", tcpConn("2001:db8::1"), true},
		{"IPv4 client, IPv6 network", "2001:db8::/32", tcpConn("192.0.2.7"), false},
		{"local, no ConnInfo", "local", nil, true},
		{"local, unix socket", "local", unix, true},
		{"local, no RemoteAddr", "local", &pop3.ConnInfo{}, true},
		{"local is no loopback", "local", tcpConn("127.0.0.1"), false},
		{"loopback is not local", "127.0.0.1,::1", nil, false},
		{"an address, unix socket", "127.0.0.0/8", unix, false},
		{"local among networks", "192.0.2.0/24,local", unix, true},
		{"a TCP address without an IP", "0.0.0.0/0,::/0", &pop3.ConnInfo{RemoteAddr: &net.TCPAddr{}}, false},
		{"empty", "", tcpConn("192.0.2.7"), false},
		{"malformed prefix, fail closed", "192.0.2.0/33,192.0.2.7", tcpConn("192.0.2.7"), false},
		{"malformed address, fail closed", "bogus,local", nil, false},
		{"a zone, fail closed", "fe80::1%eth0,192.0.2.7", tcpConn("192.0.2.7"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _, logs := extraBackend(t, "$ROOT/%u/Maildir", "ann:{PLAIN}pw::::::allow_nets="+tc.nets)
			ctx := context.Background()
			u, err := b.Login(ctx, tc.conn, "ann", "pw")
			u2, err2 := b.LoginAPOP(ctx, tc.conn, "ann", apopTimestamp, apopDigest(apopTimestamp, "pw"))
			if tc.ok {
				assert.NoError(t, err)
				assert.NotNil(t, u)
				assert.NoError(t, err2)
				assert.NotNil(t, u2)
				return
			}
			assert.ErrorIs(t, err, pop3.ErrAuthFailed)
			assert.ErrorIs(t, err2, pop3.ErrAuthFailed)
			assert.Contains(t, logs.String(), "allow_nets")
		})
	}

	t.Run("a delivery ignores allow_nets", func(t *testing.T) {
		b, _, _ := extraBackend(t, "$ROOT/%u/Maildir", "ann:{PLAIN}pw::::::allow_nets=192.0.2.0/24")
		assert.NoError(t, b.Deliver(context.Background(), "ann", strings.NewReader("x\n")))
	})
}

// userdb_mail and userdb_home choose the Maildir of a login, instead of
// the backend's template; a location this package cannot serve refuses the
// login and says why in the log.
func TestLoginUserdbMailAndHome(t *testing.T) {
	for _, tc := range []struct {
		name     string
		line     string // "$ROOT" is the root; the home field is $ROOT/home/<user>
		username string // "ulla" when empty
		want     string // the Maildir under the root, or "" for a refused login
		logged   string // for a refused login
	}{
		{name: "no extra fields", line: "ulla:{PLAIN}pw::::$ROOT/home/ulla::", want: "default/ulla"},
		{name: "~/ is the home", line: "ulla:{PLAIN}pw::::$ROOT/home/ulla::userdb_mail=maildir:~/Mail", want: "home/ulla/Mail"},
		{name: "~ alone", line: "ulla:{PLAIN}pw::::$ROOT/home/ulla::userdb_mail=maildir:~", want: "home/ulla"},
		{name: "the home variable", line: "ulla:{PLAIN}pw::::$ROOT/home/ulla::userdb_mail=maildir:%h/Maildir", want: "home/ulla/Maildir"},
		{
			name:     "variables and ignored options",
			line:     "ulla@example.com:{PLAIN}pw::::::userdb_mail=maildir:$ROOT/mail/%d/%n:INDEX=/var/idx/%u:LAYOUT=Maildir++:UTF-8",
			username: "Ulla@Example.com",
			want:     "mail/example.com/ulla",
		},
		{name: "a fixed path", line: "ulla:{PLAIN}pw::::::userdb_mail=maildir:$ROOT/shared/inbox", want: "shared/inbox"},
		{name: "the driver in upper case", line: "ulla:{PLAIN}pw::::::userdb_mail=MAILDIR:$ROOT/upper/%u", want: "upper/ulla"},
		{name: ":: is a colon", line: "ulla:{PLAIN}pw::::::userdb_mail=maildir:$ROOT/a::b/%u:", want: "a:b/ulla"},
		{name: "the old format", line: "ulla:{PLAIN}pw::::$ROOT/home/ulla:::maildir:~/Old", want: "home/ulla/Old"},
		{name: "the last field counts", line: "ulla:{PLAIN}pw::::::userdb_mail=maildir:$ROOT/first/%u userdb_mail=maildir:$ROOT/last/%u", want: "last/ulla"},
		{name: "userdb_home for the home variable", line: "ulla:{PLAIN}pw::::$ROOT/home/ulla::userdb_home=$ROOT/other/ulla", want: "default/ulla"},
		{name: "userdb_home for ~/", line: "ulla:{PLAIN}pw::::$ROOT/home/ulla::userdb_home=$ROOT/other/%n userdb_mail=maildir:~/Maildir", want: "other/ulla/Maildir"},

		{name: "mbox", line: "ulla:{PLAIN}pw::::$ROOT/home/ulla::userdb_mail=mbox:~/mail:INBOX=/var/mail/%u", logged: "not supported"},
		{name: "sdbox", line: "ulla:{PLAIN}pw::::$ROOT/home/ulla::userdb_mail=sdbox:~/mail", logged: "not supported"},
		{name: "no driver", line: "ulla:{PLAIN}pw::::::userdb_mail=$ROOT/mail/%u", logged: "not supported"},
		{name: "CONTROL moves the uidlist", line: "ulla:{PLAIN}pw::::$ROOT/home/ulla::userdb_mail=maildir:~/Maildir:CONTROL=~/control", logged: "not supported"},
		{name: "INBOX moves the INBOX", line: "ulla:{PLAIN}pw::::$ROOT/home/ulla::userdb_mail=maildir:~/Maildir:INBOX=~/inbox", logged: "not supported"},
		{name: "another layout", line: "ulla:{PLAIN}pw::::$ROOT/home/ulla::userdb_mail=maildir:~/Maildir:LAYOUT=fs", logged: "not supported"},
		{name: "no path", line: "ulla:{PLAIN}pw::::::userdb_mail=maildir:", logged: "not supported"},
		{name: "a relative path", line: "ulla:{PLAIN}pw::::::userdb_mail=maildir:mail/%u", logged: "not supported"},
		{name: "a .. element", line: "ulla:{PLAIN}pw::::::userdb_mail=maildir:$ROOT/../mail/%u", logged: `..\" element`},
		{name: "the domain variable without a domain", line: "ulla:{PLAIN}pw::::::userdb_mail=maildir:$ROOT/mail/%d/%n", logged: "%d would be"},
		{name: "~/ without a home", line: "ulla:{PLAIN}pw::::::userdb_mail=maildir:~/Maildir", logged: "not an absolute path"},
		{name: "the home variable in userdb_home", line: "ulla:{PLAIN}pw::::$ROOT/home/ulla::userdb_home=%h/x", logged: "userdb_home"},
		{name: "a relative userdb_home", line: "ulla:{PLAIN}pw::::::userdb_home=home/ulla userdb_mail=maildir:~/Maildir", logged: "not an absolute path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, root, logs := extraBackend(t, "$ROOT/default/%u", tc.line)
			ctx := context.Background()
			username := tc.username
			if username == "" {
				username = "ulla"
			}
			u, err := b.Login(ctx, nil, username, "pw")
			u2, err2 := b.LoginAPOP(ctx, nil, username, apopTimestamp, apopDigest(apopTimestamp, "pw"))
			if tc.want == "" {
				assert.ErrorIs(t, err, pop3.ErrAuthFailed)
				assert.ErrorIs(t, err2, pop3.ErrAuthFailed)
				assert.Contains(t, logs.String(), tc.logged)
				return
			}
			require.NoError(t, err, logs.String())
			require.NoError(t, err2)
			want := filepath.Join(root, tc.want)
			for _, u := range []pop3.User{u, u2} {
				openAndClose(t, u)
				assert.DirExists(t, filepath.Join(want, "cur"))
				require.NoError(t, os.RemoveAll(want))
			}
			if tc.want != "default/ulla" {
				assert.NoDirExists(t, filepath.Join(root, "default"))
			}
		})
	}
}

// A delivery goes where POP3 reads: userdb_mail and userdb_home apply to it
// too, also for a nologin user.
func TestDeliverUsesUserdbMail(t *testing.T) {
	b, root, _ := extraBackend(t, "$ROOT/default/%u",
		"ulla:{PLAIN}pw::::$ROOT/home/ulla::nologin userdb_home=$ROOT/other/%u userdb_mail=maildir:~/Mail")
	require.NoError(t, b.Deliver(context.Background(), "ulla", strings.NewReader("Subject: x\n\nx\n")))
	entries, err := os.ReadDir(filepath.Join(root, "other", "ulla", "Mail", "new"))
	require.NoError(t, err)
	assert.Len(t, entries, 1)
	assert.NoDirExists(t, filepath.Join(root, "default"))
}

// flakySource is a password source, such as a database, that can be made
// unreachable.
type flakySource struct {
	passwd.Source
	down atomic.Bool
}

var errDatabaseDown = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

func (s *flakySource) Lookup(ctx context.Context, name string) (*passwd.Entry, error) {
	if s.down.Load() {
		return nil, errDatabaseDown
	}
	return s.Source.Lookup(ctx, name)
}

// cachedBackend is a backend on a passwd-file of lines (with "$ROOT"
// expanded), behind a flakySource, with a verification cache.
func cachedBackend(t *testing.T, lines ...string) (b *maildir.Backend, cache *passwd.Cache, src *flakySource, pwPath string, logs *bytes.Buffer) {
	t.Helper()
	root := t.TempDir()
	pwPath = filepath.Join(root, "passwd")
	require.NoError(t, os.WriteFile(pwPath, []byte(strings.ReplaceAll(strings.Join(lines, "\n")+"\n", "$ROOT", root)), 0o600))
	logs = new(bytes.Buffer)
	logger := slog.New(slog.NewTextHandler(logs, nil))
	file, err := passwd.OpenFile(pwPath, logger)
	require.NoError(t, err)
	src = &flakySource{Source: file}
	cache = passwd.NewCache(100, time.Hour)
	b, err = maildir.New(filepath.Join(root, "%u", "Maildir"), src, maildir.WithLogger(logger), maildir.WithVerifyCache(cache))
	require.NoError(t, err)
	return b, cache, src, pwPath, logs
}

// A repeat login runs no hash; a wrong password always does; editing the
// passwd-file takes effect at the next login.
func TestLoginVerifyCache(t *testing.T) {
	hash, err := passwd.Hash("SHA512-CRYPT", []byte("old secret"))
	require.NoError(t, err)
	b, cache, _, pwPath, _ := cachedBackend(t, "alice:"+hash+"::::::")
	ctx := context.Background()

	for range 3 {
		u, err := b.Login(ctx, nil, "Alice", "old secret")
		require.NoError(t, err)
		openAndClose(t, u)
	}
	st := cache.Stats()
	assert.EqualValues(t, 1, st.Misses, "the first login ran the hash")
	assert.EqualValues(t, 2, st.Hits, "the others ran none, whatever the name's letter case")

	_, err = b.Login(ctx, nil, "alice", "guess")
	require.ErrorIs(t, err, pop3.ErrAuthFailed)
	assert.EqualValues(t, 2, cache.Stats().Misses, "a wrong password runs the hash")

	// pop3admin passwd, or an editor: a new hash for alice.
	newHash, err := passwd.Hash("SHA512-CRYPT", []byte("new secret"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(pwPath, []byte("alice:"+newHash+"::::::\n"), 0o600))
	future := time.Now().Add(2 * time.Second) // a new mtime, whatever the file system's granularity
	require.NoError(t, os.Chtimes(pwPath, future, future))

	_, err = b.Login(ctx, nil, "alice", "old secret")
	require.ErrorIs(t, err, pop3.ErrAuthFailed, "the old password is refused at once, within the TTL")
	_, err = b.Login(ctx, nil, "alice", "new secret")
	require.NoError(t, err)
	_, err = b.Login(ctx, nil, "alice", "new secret")
	require.NoError(t, err)
	assert.EqualValues(t, 3, cache.Stats().Hits)
}

// When the password source cannot be reached, a user the cache knows logs
// in with the password that last succeeded, with a warning; nologin and
// allow_nets still apply; anyone else gets the source's error.
func TestLoginVerifyCacheOffline(t *testing.T) {
	b, cache, src, _, logs := cachedBackend(t,
		"alice:{SHA256-CRYPT}$5$truncated::::::",
		"bob:{PLAIN}bob-pw::::::allow_nets=192.0.2.0/24",
		"carol:{PLAIN}carol-pw::::::")
	ctx := context.Background()
	// alice's hash is unusable (malformed): she never gets into the cache.
	_, err := b.Login(ctx, nil, "alice", "x")
	require.ErrorIs(t, err, pop3.ErrAuthFailed)
	u, err := b.Login(ctx, tcpConn("192.0.2.7"), "bob", "bob-pw")
	require.NoError(t, err)
	openAndClose(t, u)

	src.down.Store(true)
	u, err = b.Login(ctx, tcpConn("192.0.2.7"), "bob", "bob-pw")
	require.NoError(t, err, "bob's password succeeded before")
	openAndClose(t, u)
	assert.Contains(t, logs.String(), "level=WARN")
	assert.Contains(t, logs.String(), "password source failed")
	assert.Contains(t, logs.String(), "user=bob")
	assert.NotContains(t, logs.String(), "bob-pw")
	assert.EqualValues(t, 1, cache.Stats().Offline)

	_, err = b.Login(ctx, tcpConn("198.51.100.1"), "bob", "bob-pw")
	require.ErrorIs(t, err, pop3.ErrAuthFailed, "allow_nets of the cached entry still applies")

	for _, tc := range []struct{ user, password string }{
		{"bob", "guess"},       // a wrong password
		{"carol", "carol-pw"},  // never logged in
		{"nobody", "whatever"}, // unknown
		{"alice", "x"},         // never verified
	} {
		_, err = b.Login(ctx, tcpConn("192.0.2.7"), tc.user, tc.password)
		require.Error(t, err, tc.user)
		assert.ErrorIs(t, err, errDatabaseDown, "%s: the source's error, which the server answers with -ERR [SYS/TEMP]", tc.user)
		assert.NotErrorIs(t, err, pop3.ErrAuthFailed)
	}

	// A cancelled login is not let in from the cache.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = b.Login(cctx, tcpConn("192.0.2.7"), "bob", "bob-pw")
	assert.ErrorIs(t, err, errDatabaseDown)

	src.down.Store(false)
	_, err = b.Login(ctx, tcpConn("192.0.2.7"), "carol", "carol-pw")
	require.NoError(t, err, "back to normal")
}

// The cache changes nothing for unknown users: they still pay the decoy
// hash, so that a refusal takes as long as a wrong password's.
func TestLoginVerifyCacheKeepsTheDecoy(t *testing.T) {
	hash, err := passwd.Hash("BLF-CRYPT", []byte("right password"))
	require.NoError(t, err)
	b, cache, _, _, _ := cachedBackend(t, "alice:"+hash+"::::::")
	ctx := context.Background()
	_, err = b.Login(ctx, nil, "alice", "right password")
	require.NoError(t, err)
	_, err = b.Login(ctx, nil, "nobody", "right password") // makes the decoy hash
	require.ErrorIs(t, err, pop3.ErrAuthFailed)

	median := func(username string) time.Duration {
		d := make([]time.Duration, 7)
		for i := range d {
			start := time.Now()
			_, err := b.Login(ctx, nil, username, "wrong password")
			d[i] = time.Since(start)
			require.ErrorIs(t, err, pop3.ErrAuthFailed)
		}
		slices.Sort(d)
		return d[len(d)/2]
	}
	wrong, unknown := median("alice"), median("nobody")
	assert.GreaterOrEqual(t, unknown, wrong/4, "an unknown user took %v, a wrong password %v", unknown, wrong)
	assert.Zero(t, cache.Stats().Hits)
}

func TestBackendContractWithVerifyCache(t *testing.T) {
	pop3test.TestBackend(t, func(t *testing.T, accounts []pop3test.Account) pop3.Backend {
		var lines []string
		for _, a := range accounts {
			lines = append(lines, a.Username+":{PLAIN}"+a.Password+"::::::")
		}
		b, _, _, _, _ := cachedBackend(t, lines...)
		for _, a := range accounts {
			for _, m := range a.Messages {
				require.NoError(t, b.Deliver(context.Background(), a.Username, bytes.NewReader(m)))
			}
		}
		return b
	})
}

// renamingSource returns entries under another name than the one looked
// up, as a source that resolves aliases may.
type renamingSource struct{ *flakySource }

func (s renamingSource) Lookup(ctx context.Context, name string) (*passwd.Entry, error) {
	e, err := s.flakySource.Lookup(ctx, name)
	if err == nil {
		e.User = "canonical-" + name
	}
	return e, err
}

// The cache keys a user by the name looked up, whatever name the source's
// entry carries, so that the user it let in is found again when the source
// fails.
func TestLoginVerifyCacheKeyedByNameLookedUp(t *testing.T) {
	root := t.TempDir()
	pwPath := filepath.Join(root, "passwd")
	require.NoError(t, os.WriteFile(pwPath, []byte("alice:{PLAIN}alice-pw::::::\n"), 0o600))
	file, err := passwd.OpenFile(pwPath, nil)
	require.NoError(t, err)
	src := &flakySource{Source: file}
	cache := passwd.NewCache(10, time.Hour)
	b, err := maildir.New(filepath.Join(root, "%u", "Maildir"), renamingSource{src}, maildir.WithVerifyCache(cache),
		maildir.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	_, err = b.Login(context.Background(), nil, "alice", "alice-pw")
	require.NoError(t, err)
	src.down.Store(true)
	_, err = b.Login(context.Background(), nil, "alice", "alice-pw")
	require.NoError(t, err)
	assert.EqualValues(t, 1, cache.Stats().Offline)
}
