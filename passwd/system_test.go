package passwd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testToday is the day the tests' clock stands at: 2024-10-04.
const testToday = 20000

// testClock is noon of testToday, UTC.
func testClock() time.Time { return time.Unix(testToday*86400+12*3600, 0) }

// Hashes of the schemes /etc/shadow holds, with their passwords; all but
// yescrypt's are the cheap test vectors of crypt_test.go.
var systemHashes = []struct{ name, hash, password string }{
	{"yescrypt", yescryptVectors[4].stored, yescryptVectors[4].password}, // cost 1: TestYescryptVectors has the default
	{"sha512crypt", shaCryptVectors[7].want, shaCryptVectors[7].password},
	{"sha256crypt", shaCryptVectors[0].want, shaCryptVectors[0].password},
	{"md5crypt", otherCryptVectors[0].stored, otherCryptVectors[0].password},
	{"bcrypt", otherCryptVectors[6].stored, otherCryptVectors[6].password},
}

// md5Hash is a cheap hash of "password".
var md5Hash = otherCryptVectors[0].stored

// writeSystem writes passwd and shadow files into a new directory.
func writeSystem(t *testing.T, passwd, shadow string) (passwdPath, shadowPath string) {
	t.Helper()
	dir := t.TempDir()
	passwdPath, shadowPath = filepath.Join(dir, "passwd"), filepath.Join(dir, "shadow")
	writeFile(t, passwdPath, passwd)
	writeFile(t, shadowPath, shadow)
	return passwdPath, shadowPath
}

// openSystem opens passwd and shadow files with the tests' clock.
func openSystem(t *testing.T, passwd, shadow string) *System {
	t.Helper()
	s, err := OpenSystem(writeSystem(t, passwd, shadow))
	require.NoError(t, err)
	s.now = testClock
	s.Logger = slog.New(slog.DiscardHandler)
	return s
}

// replaceFile writes content to a new file and renames it over path, as
// useradd and vipw do.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".new"
	writeFile(t, tmp, content)
	require.NoError(t, os.Rename(tmp, path))
}

func TestSystemSchemes(t *testing.T) {
	for _, h := range systemHashes {
		t.Run(h.name, func(t *testing.T) {
			// In /etc/shadow, as Debian keeps them.
			s := openSystem(t,
				"alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n",
				"alice:"+h.hash+":19000:0:99999:7:::\n")
			e, err := s.Lookup(ctx, "alice")
			require.NoError(t, err)
			assert.Equal(t, &Entry{User: "alice", Password: h.hash, UID: "1000", GID: "1000",
				Gecos: "Alice,,,", Home: "/home/alice", Shell: "/bin/bash"}, e)
			assert.NoError(t, Verify(e.Password, []byte(h.password)))
			assert.ErrorIs(t, Verify(e.Password, []byte(h.password+"x")), ErrMismatch)

			// In /etc/passwd itself, with no shadow line: used as it is.
			s = openSystem(t, "bob:"+h.hash+":1001:1001::/home/bob:/bin/sh\n", "")
			e, err = s.Lookup(ctx, "bob")
			require.NoError(t, err)
			assert.Equal(t, h.hash, e.Password)
			assert.NoError(t, Verify(e.Password, []byte(h.password)))
		})
	}
}

func TestSystemLookup(t *testing.T) {
	const ok = ""
	tests := []struct {
		name           string
		passwd, shadow string // the lines of user "u"
		want           error  // nil, ErrInvalidEntry or ErrNotFound
		reason         string // in the error
	}{
		{"shadowed", "u:x:1000:1000::/home/u:/bin/sh", "u:" + md5Hash + ":19000:0:99999:7:::", nil, ok},
		{"seven shadow fields", "u:x:1000:1000::/home/u:/bin/sh", "u:" + md5Hash + ":19000:0:99999:7:", nil, ok},
		{"eight shadow fields", "u:x:1000:1000::/home/u:/bin/sh", "u:" + md5Hash + ":19000:0:99999:7::", nil, ok},
		{"in passwd", "u:" + md5Hash + ":1000:1000::/home/u:/bin/sh", "", nil, ok},
		{"leading blanks", " \tu:x:1000:1000::/home/u:/bin/sh", "u:" + md5Hash + ":::::::", nil, ok},
		{"CRLF", "u:x:1000:1000::/home/u:/bin/sh\r", "u:" + md5Hash + ":::::::\r", nil, ok},

		// The password field.
		{"empty in shadow", "u:x:1000:1000::/home/u:/bin/sh", "u::19000:0:99999:7:::", ErrInvalidEntry, "no password (an empty password field)"},
		{"locked", "u:x:1000:1000::/home/u:/bin/sh", "u:!" + md5Hash + ":19000:0:99999:7:::", ErrInvalidEntry, "is locked"},
		{"locked, no hash", "u:x:1000:1000::/home/u:/bin/sh", "u:!:19000:0:99999:7:::", ErrInvalidEntry, "is locked"},
		{"never given one", "u:x:1000:1000::/home/u:/bin/sh", "u:!!:19000:0:99999:7:::", ErrInvalidEntry, "is locked"},
		{"locked star", "u:x:1000:1000::/home/u:/bin/sh", "u:!*:19000:0:99999:7:::", ErrInvalidEntry, "is locked"},
		{"star", "u:x:1000:1000::/home/u:/bin/sh", "u:*:19000:0:99999:7:::", ErrInvalidEntry, "begins with '*'"},
		{"star LK", "u:x:1000:1000::/home/u:/bin/sh", "u:*LK*:19000:0:99999:7:::", ErrInvalidEntry, "begins with '*'"},
		{"x in shadow", "u:x:1000:1000::/home/u:/bin/sh", "u:x:19000:0:99999:7:::", ErrInvalidEntry, `shadow password field is "x"`},
		{"no shadow line", "u:x:1000:1000::/home/u:/bin/sh", "", ErrInvalidEntry, "which has no line for it"},
		{"empty in passwd", "u::1000:1000::/home/u:/bin/sh", "", ErrInvalidEntry, "no password"},
		{"star in passwd", "u:*:1000:1000::/home/u:/bin/sh", "u:" + md5Hash + ":::::::", ErrInvalidEntry, "begins with '*'"},
		{"locked in passwd", "u:!" + md5Hash + ":1000:1000::/home/u:/bin/sh", "", ErrInvalidEntry, "is locked"},

		// Field 8, the account's expiry.
		{"expired yesterday", "u:x:1000:1000::/home/u:/bin/sh", fmt.Sprintf("u:%s:19000:0:99999:7::%d:", md5Hash, testToday-1), ErrInvalidEntry, "the account expired on 2024-10-03"},
		{"expires today", "u:x:1000:1000::/home/u:/bin/sh", fmt.Sprintf("u:%s:19000:0:99999:7::%d:", md5Hash, testToday), ErrInvalidEntry, "the account expired on 2024-10-04"},
		{"expires tomorrow", "u:x:1000:1000::/home/u:/bin/sh", fmt.Sprintf("u:%s:19000:0:99999:7::%d:", md5Hash, testToday+1), nil, ok},
		{"expired on day 0", "u:x:1000:1000::/home/u:/bin/sh", "u:" + md5Hash + ":19000:0:99999:7::0:", ErrInvalidEntry, "expired on 1970-01-01"},
		{"usermod --expiredate 1", "u:x:1000:1000::/home/u:/bin/sh", "u:" + md5Hash + ":19000:0:99999:7::1:", ErrInvalidEntry, "expired on 1970-01-02"},
		{"expired, hash in passwd", "u:" + md5Hash + ":1000:1000::/home/u:/bin/sh", "u:x:19000:0:99999:7::1:", ErrInvalidEntry, "expired"},

		// Fields 3, 5 and 7: the password's age.
		{"must change", "u:x:1000:1000::/home/u:/bin/sh", "u:" + md5Hash + ":0:0:30:7:10::", nil, ok},
		{"changed in the future", "u:x:1000:1000::/home/u:/bin/sh", fmt.Sprintf("u:%s:%d:0:30:7:10::", md5Hash, testToday+5), nil, ok},
		{"within max age", "u:x:1000:1000::/home/u:/bin/sh", fmt.Sprintf("u:%s:%d:0:30:7:10::", md5Hash, testToday-30), nil, ok},
		{"past max age, inactive", "u:x:1000:1000::/home/u:/bin/sh", fmt.Sprintf("u:%s:%d:0:30:7:10::", md5Hash, testToday-35), nil, ok},
		{"last day of inactivity", "u:x:1000:1000::/home/u:/bin/sh", fmt.Sprintf("u:%s:%d:0:30:7:10::", md5Hash, testToday-40), nil, ok},
		{"inactivity over", "u:x:1000:1000::/home/u:/bin/sh", fmt.Sprintf("u:%s:%d:0:30:7:10::", md5Hash, testToday-41), ErrInvalidEntry,
			"the password expired on 2024-09-23 and its inactivity period of 10 days is over"},
		{"no inactivity period", "u:x:1000:1000::/home/u:/bin/sh", fmt.Sprintf("u:%s:%d:0:30:7:::", md5Hash, testToday-1000), nil, ok},
		{"no max age", "u:x:1000:1000::/home/u:/bin/sh", fmt.Sprintf("u:%s:%d:0::7:10::", md5Hash, testToday-1000), nil, ok},
		{"inactivity 0", "u:x:1000:1000::/home/u:/bin/sh", fmt.Sprintf("u:%s:%d:0:30:7:0::", md5Hash, testToday-31), ErrInvalidEntry, "inactivity period of 0 days"},
		{"no aging", "u:x:1000:1000::/home/u:/bin/sh", "u:" + md5Hash + ":::::::", nil, ok},

		// The uid.
		{"root", "u:x:0:0:root:/root:/bin/bash", "u:" + md5Hash + ":::::::", ErrInvalidEntry, "uid 0 is below FirstValidUID, 1000"},
		{"system account", "u:x:999:999::/var/lib/u:/usr/sbin/nologin", "u:" + md5Hash + ":::::::", ErrInvalidEntry, "uid 999 is below"},
		{"nobody", "u:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin", "u:*:19000:0:99999:7:::", ErrInvalidEntry, "begins with '*'"},

		// Lines that do not parse, for the user they name.
		{"six passwd fields", "u:x:1000:1000::/home/u", "u:" + md5Hash + ":::::::", ErrInvalidEntry, "line 1 of "},
		{"eight passwd fields", "u:x:1000:1000::/home/u:/bin/sh:", "u:" + md5Hash + ":::::::", ErrInvalidEntry, "has 8 fields, not 7"},
		{"uid not a number", "u:x:10a0:1000::/home/u:/bin/sh", "u:" + md5Hash + ":::::::", ErrInvalidEntry, "uid that is not a decimal number"},
		{"empty uid", "u:x::1000::/home/u:/bin/sh", "u:" + md5Hash + ":::::::", ErrInvalidEntry, "uid that is not"},
		{"negative uid", "u:x:-1:1000::/home/u:/bin/sh", "u:" + md5Hash + ":::::::", ErrInvalidEntry, "uid that is not"},
		{"uid too large", "u:x:4294967296:1000::/home/u:/bin/sh", "u:" + md5Hash + ":::::::", ErrInvalidEntry, "uid that is not"},
		{"gid not a number", "u:x:1000:staff::/home/u:/bin/sh", "u:" + md5Hash + ":::::::", ErrInvalidEntry, "gid that is not"},
		{"six shadow fields", "u:x:1000:1000::/home/u:/bin/sh", "u:" + md5Hash + ":19000:0:99999:7", ErrInvalidEntry, "has 6 fields, not 9"},
		{"ten shadow fields", "u:x:1000:1000::/home/u:/bin/sh", "u:" + md5Hash + ":19000:0:99999:7::::", ErrInvalidEntry, "has 10 fields"},
		{"expiry not a number", "u:x:1000:1000::/home/u:/bin/sh", "u:" + md5Hash + ":19000:0:99999:7::never:", ErrInvalidEntry,
			"the account expiration date (field 8) that is not a number"},
		{"bad shadow line, hash in passwd", "u:" + md5Hash + ":1000:1000::/home/u:/bin/sh", "u:x:x::::::", ErrInvalidEntry, "field 3"},

		// Names.
		{"unknown", "v:x:1000:1000::/home/v:/bin/sh", "v:" + md5Hash + ":::::::", ErrNotFound, ""},
		{"NIS", "+u:x:1000:1000::/home/u:/bin/sh", "+u:" + md5Hash + ":::::::", ErrNotFound, ""},
		{"NIS minus", "-u:x:1000:1000::/home/u:/bin/sh", "u:" + md5Hash + ":::::::", ErrNotFound, ""},
		{"comment", "#u:x:1000:1000::/home/u:/bin/sh", "u:" + md5Hash + ":::::::", ErrNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openSystem(t, tc.passwd+"\n", tc.shadow+"\n")
			e, err := s.Lookup(ctx, "u")
			if tc.want == nil {
				require.NoError(t, err)
				assert.NoError(t, Verify(e.Password, []byte("password")))
				return
			}
			assert.Nil(t, e)
			assert.ErrorIs(t, err, tc.want)
			if tc.reason != "" {
				assert.ErrorContains(t, err, tc.reason)
			}
			// Neither the hash nor the name is quoted.
			assert.NotContains(t, err.Error(), md5Hash[4:])
			assert.NotContains(t, err.Error(), "u:")
		})
	}
}

func TestSystemValidUIDs(t *testing.T) {
	s := openSystem(t,
		"root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:60001:60001::/home/bob:/bin/sh\n",
		"root:"+md5Hash+":::::::\nalice:"+md5Hash+":::::::\nbob:"+md5Hash+":::::::\n")
	check := func(user string, want error) {
		t.Helper()
		_, err := s.Lookup(ctx, user)
		if want == nil {
			assert.NoError(t, err, user)
		} else {
			assert.ErrorIs(t, err, want, user)
		}
		_, err = s.LookupUser(ctx, user)
		if want == nil {
			assert.NoError(t, err, user)
		} else {
			assert.ErrorIs(t, err, want, user)
		}
	}
	assert.Equal(t, uint32(DefaultFirstValidUID), s.FirstValidUID)
	assert.Zero(t, s.LastValidUID)
	check("root", ErrInvalidEntry)
	check("alice", nil)
	check("bob", nil)

	s.LastValidUID = 60000
	check("bob", ErrInvalidEntry)
	_, err := s.Lookup(ctx, "bob")
	assert.ErrorContains(t, err, "uid 60001 is above LastValidUID, 60000")

	s.FirstValidUID = 0
	check("root", nil)
	s.FirstValidUID = 1001
	check("alice", ErrInvalidEntry)
}

// LookupUser is for delivery: a locked or expired account, or one with no
// shadow line, still gets its mail.
func TestSystemLookupUser(t *testing.T) {
	s := openSystem(t, strings.Join([]string{
		"locked:x:1001:1001::/home/locked:/bin/sh",
		"expired:x:1002:1002::/home/expired:/bin/sh",
		"noshadow:x:1003:1003::/home/noshadow:/bin/sh",
		"hashed:" + md5Hash + ":1004:100:Hashed:/home/hashed:/usr/sbin/nologin",
		"bad:x:1005",
		"root:x:0:0:root:/root:/bin/bash",
	}, "\n"), strings.Join([]string{
		"locked:!" + md5Hash + ":19000:0:99999:7:::",
		"expired:" + md5Hash + ":19000:0:99999:7::1:",
		"hashed:x:::::::",
		"root:" + md5Hash + ":::::::",
	}, "\n"))
	for _, name := range []string{"locked", "expired", "noshadow"} {
		_, err := s.Lookup(ctx, name)
		assert.ErrorIs(t, err, ErrInvalidEntry, name)
		e, err := s.LookupUser(ctx, name)
		require.NoError(t, err, name)
		assert.Equal(t, name, e.User)
		assert.Equal(t, "/home/"+name, e.Home)
		assert.Empty(t, e.Password)
	}
	e, err := s.LookupUser(ctx, "hashed")
	require.NoError(t, err)
	assert.Equal(t, &Entry{User: "hashed", UID: "1004", GID: "100", Gecos: "Hashed", Home: "/home/hashed", Shell: "/usr/sbin/nologin"}, e)

	_, err = s.LookupUser(ctx, "bad")
	assert.ErrorIs(t, err, ErrInvalidEntry)
	assert.ErrorContains(t, err, "line 5 of ")
	_, err = s.LookupUser(ctx, "root")
	assert.ErrorIs(t, err, ErrInvalidEntry)
	_, err = s.LookupUser(ctx, "nobody")
	assert.ErrorIs(t, err, ErrNotFound)

	var us UserSource = s // the interface a store's Deliver looks for
	_ = us
}

func TestSystemFirstLineWins(t *testing.T) {
	s := openSystem(t, strings.Join([]string{
		"# comment",
		"",
		"+::::::",
		"+@staff",
		"dup:x:1001:1001::/home/first:/bin/sh",
		"dup:x:1002:1002::/home/second:/bin/sh",
		"badfirst:x:1003",                        // line 7: does not parse
		"badfirst:x:1003:1003::/home/b:/bin/sh",  // a later line that does wins
		"badtwice:x",                             // line 9
		"badtwice:x:y",                           // line 10
		":x:1004:1004::/home/noname:/bin/sh",     // no name: dropped
		"ctl\x01:x:1005:1005::/home/ctl:/bin/sh", // a control character: dropped
	}, "\n"), strings.Join([]string{
		"dup:" + md5Hash + ":::::::",
		"dup:!:::::::",
		"badfirst:" + md5Hash + ":::::::",
		"badtwice:" + md5Hash + ":::::::",
	}, "\n"))
	e, err := s.Lookup(ctx, "dup")
	require.NoError(t, err)
	assert.Equal(t, "/home/first", e.Home)
	assert.Equal(t, md5Hash, e.Password)

	e, err = s.Lookup(ctx, "badfirst")
	require.NoError(t, err)
	assert.Equal(t, "/home/b", e.Home)

	_, err = s.Lookup(ctx, "badtwice")
	assert.ErrorIs(t, err, ErrInvalidEntry)
	assert.ErrorContains(t, err, "line 9 of ")

	for _, name := range []string{"", "+", "+@staff", "ctl\x01", "# comment"} {
		_, err := s.Lookup(ctx, name)
		assert.ErrorIs(t, err, ErrNotFound, "%q", name)
	}
}

func TestOpenSystemErrors(t *testing.T) {
	dir := t.TempDir()
	passwdPath, shadowPath := writeSystem(t, "alice:x:1000:1000::/home/alice:/bin/sh\n", "alice:"+md5Hash+":::::::\n")

	_, err := OpenSystem(filepath.Join(dir, "missing"), shadowPath)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.ErrorContains(t, err, "passwd file")

	// No shadow file is not "no passwords".
	_, err = OpenSystem(passwdPath, filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.ErrorContains(t, err, "shadow file")

	_, err = OpenSystem(passwdPath, dir)
	assert.ErrorContains(t, err, "is a directory")

	// The error of a server that may not read /etc/shadow says what to do.
	err = shadowError(&fs.PathError{Op: "open", Path: "/etc/shadow", Err: fs.ErrPermission})
	assert.ErrorIs(t, err, fs.ErrPermission)
	assert.ErrorContains(t, err, "group shadow")
	assert.ErrorContains(t, err, "/etc/shadow")
	if os.Geteuid() != 0 { // root reads it anyway
		require.NoError(t, os.Chmod(shadowPath, 0))
		_, err = OpenSystem(passwdPath, shadowPath)
		assert.ErrorIs(t, err, fs.ErrPermission)
		assert.ErrorContains(t, err, "group shadow")
	}
}

// OpenSystem("", "") reads /etc/passwd and /etc/shadow.
func TestOpenSystemDefaults(t *testing.T) {
	s, err := OpenSystem("", "")
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("this system has no /etc/shadow:", err)
	}
	if err != nil {
		// Not root, and not in group shadow: the error says so.
		require.ErrorIs(t, err, fs.ErrPermission)
		assert.ErrorContains(t, err, "group shadow")
		return
	}
	assert.Equal(t, DefaultPasswdPath, s.passwd.path)
	assert.Equal(t, DefaultShadowPath, s.shadow.path)
	_, err = s.Lookup(ctx, "root")
	assert.ErrorIs(t, err, ErrInvalidEntry, "root has uid 0")
}

func TestSystemReload(t *testing.T) {
	passwdPath, shadowPath := writeSystem(t,
		"alice:x:1000:1000::/home/alice:/bin/sh\n",
		"alice:"+md5Hash+":19000:0:99999:7:::\n")
	s, err := OpenSystem(passwdPath, shadowPath)
	require.NoError(t, err)
	logger, logs := logBuffer()
	s.Logger = logger

	_, err = s.Lookup(ctx, "alice")
	require.NoError(t, err)
	_, err = s.Lookup(ctx, "bob")
	require.ErrorIs(t, err, ErrNotFound)
	assert.Empty(t, logs.String(), "nothing changed, nothing read")

	// useradd bob: passwd, then shadow.
	replaceFile(t, passwdPath, "alice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n")
	_, err = s.Lookup(ctx, "bob")
	assert.ErrorIs(t, err, ErrInvalidEntry, "no shadow line yet")
	_, err = s.LookupUser(ctx, "bob")
	assert.NoError(t, err)
	replaceFile(t, shadowPath, "alice:"+md5Hash+":19000:0:99999:7:::\nbob:"+md5Hash+":19000:0:99999:7:::\n")
	_, err = s.Lookup(ctx, "bob")
	assert.NoError(t, err)
	assert.Contains(t, logs.String(), "the passwd file changed")
	assert.Contains(t, logs.String(), "the shadow file changed")

	// passwd -l alice, written in place.
	writeFile(t, shadowPath, "alice:!"+md5Hash+":19000:0:99999:7:::\nbob:"+md5Hash+":19000:0:99999:7:::\n")
	_, err = s.Lookup(ctx, "alice")
	assert.ErrorContains(t, err, "is locked")

	// A shadow file that cannot be read any more: the users read before
	// stay, and the error is logged once.
	require.NoError(t, os.Remove(shadowPath))
	require.NoError(t, os.Mkdir(shadowPath, 0o700))
	for range 3 {
		_, err = s.Lookup(ctx, "bob")
		assert.NoError(t, err)
	}
	assert.Equal(t, 1, strings.Count(logs.String(), "cannot read the shadow file again"), logs.String())
	require.NoError(t, os.Remove(shadowPath))
	writeFile(t, shadowPath, "bob:!:19000:0:99999:7:::\n")
	_, err = s.Lookup(ctx, "bob")
	assert.ErrorContains(t, err, "is locked")

	// So does a passwd file that was removed.
	require.NoError(t, os.Remove(passwdPath))
	_, err = s.LookupUser(ctx, "alice")
	assert.NoError(t, err)
	assert.Contains(t, logs.String(), "cannot read the passwd file again")
}

// Lookups run while the files are replaced; -race checks the locking.
func TestSystemConcurrent(t *testing.T) {
	passwdPath, shadowPath := writeSystem(t,
		"alice:x:1000:1000::/home/alice:/bin/sh\n",
		"alice:"+md5Hash+":19000:0:99999:7:::\n")
	s, err := OpenSystem(passwdPath, shadowPath)
	require.NoError(t, err)
	s.Logger = slog.New(slog.DiscardHandler)
	sha := shaCryptVectors[0].want

	var readers sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 8)
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				e, err := s.Lookup(ctx, "alice")
				if err == nil && e.Password != md5Hash && e.Password != sha {
					err = errors.New("a password from neither version")
				}
				if err == nil {
					_, err = s.LookupUser(ctx, "alice")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := range 100 {
		hash := md5Hash
		if i%2 == 1 {
			hash = sha
		}
		replaceFile(t, shadowPath, "alice:"+hash+":19000:0:99999:7:::\n")
		replaceFile(t, passwdPath, fmt.Sprintf("alice:x:1000:1000:%d:/home/alice:/bin/sh\n", i))
	}
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	e, err := s.Lookup(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, sha, e.Password)
	assert.Equal(t, "99", e.Gecos)
}

func TestSystemContext(t *testing.T) {
	s := openSystem(t, "alice:x:1000:1000::/home/alice:/bin/sh\n", "alice:"+md5Hash+":::::::\n")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := s.Lookup(cancelled, "alice")
	assert.ErrorIs(t, err, context.Canceled)
	_, err = s.LookupUser(cancelled, "alice")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestSystemToday(t *testing.T) {
	s := &System{now: testClock}
	assert.Equal(t, int64(testToday), s.today())
	s.now = func() time.Time { return time.Unix(testToday*86400, 0).Add(-time.Nanosecond) }
	assert.Equal(t, int64(testToday-1), s.today(), "the last instant of the day before")
	s.now = func() time.Time { return time.Unix(-1, 0) }
	assert.Equal(t, int64(-1), s.today())
	assert.Equal(t, "2024-10-04", day(testToday))
}

// DecoyHash is the hash of an account that can log in, the first by name,
// so that the decoy check of an unknown or refused user costs what a
// system user's check costs; none when no account can log in.
func TestSystemDecoyHash(t *testing.T) {
	yescrypt := systemHashes[0].hash
	s := openSystem(t,
		"root:x:0:0:root:/root:/bin/bash\nzed:x:1002:1002::/home/zed:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\ncarl:x:1003:1003::/home/carl:/bin/sh\n",
		"root:"+md5Hash+":19000:0:99999:7:::\nzed:"+yescrypt+":19000:0:99999:7:::\nbob:!"+md5Hash+":19000:0:99999:7:::\ncarl:"+md5Hash+":19000:0:99999:7:::\n")
	assert.Equal(t, yescrypt, s.DecoyHash(), "zed's yescrypt, the costliest: bob is locked, root below FirstValidUID")

	// The costliest scheme, the first by name among its hashes, whatever
	// the order of the names: an unknown name is refused no faster than
	// a known one.
	mixed := openSystem(t,
		"adam:x:1000:1000::/home/adam:/bin/sh\nbea:x:1001:1001::/home/bea:/bin/sh\ncarl:x:1002:1002::/home/carl:/bin/sh\n",
		"adam:"+md5Hash+":19000:0:99999:7:::\nbea:"+systemHashes[1].hash+":19000:0:99999:7:::\ncarl:"+yescrypt+":19000:0:99999:7:::\n")
	assert.Equal(t, yescrypt, mixed.DecoyHash())

	none := openSystem(t, "root:x:0:0:root:/root:/bin/bash\n", "root:"+md5Hash+":19000:0:99999:7:::\n")
	assert.Empty(t, none.DecoyHash())
}
