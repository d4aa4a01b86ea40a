package passwd

import (
	"bytes"
	"context"
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

var ctx = context.Background()

func TestParseLine(t *testing.T) {
	tests := []struct {
		line string
		want Entry
	}{
		{"alice:{PLAIN}pw", Entry{User: "alice", Password: "{PLAIN}pw"}},
		{"alice:", Entry{User: "alice"}},
		{"alice:{PLAIN}pw:1000", Entry{User: "alice", Password: "{PLAIN}pw", UID: "1000"}},
		{"alice:{PLAIN}pw:1000:100", Entry{User: "alice", Password: "{PLAIN}pw", UID: "1000", GID: "100"}},
		{"alice:{PLAIN}pw:vmail:mail:Alice A.", Entry{User: "alice", Password: "{PLAIN}pw", UID: "vmail", GID: "mail", Gecos: "Alice A."}},
		{"alice:{PLAIN}pw:1000:100::/home/alice", Entry{User: "alice", Password: "{PLAIN}pw", UID: "1000", GID: "100", Home: "/home/alice"}},
		{"alice:{PLAIN}pw:1000:100::/home/alice:/bin/false",
			Entry{User: "alice", Password: "{PLAIN}pw", UID: "1000", GID: "100", Home: "/home/alice", Shell: "/bin/false"}},
		{"alice:{PLAIN}pw:1000:100::/home/alice::userdb_quota_rule=*:storage=1G  nologin allow_nets=10.0.0.0/8",
			Entry{User: "alice", Password: "{PLAIN}pw", UID: "1000", GID: "100", Home: "/home/alice",
				Extra: []string{"userdb_quota_rule=*:storage=1G", "nologin", "allow_nets=10.0.0.0/8"}}},
		{"alice:{PLAIN}pw:::::: userdb_mail=maildir:~/Maildir:LAYOUT=fs ",
			Entry{User: "alice", Password: "{PLAIN}pw", Extra: []string{"userdb_mail=maildir:~/Maildir:LAYOUT=fs"}}},
		// The old format: an empty eighth field, then the mail location.
		{"alice:{PLAIN}pw:1000:100::/home/alice:/bin/false::maildir:~/Maildir",
			Entry{User: "alice", Password: "{PLAIN}pw", UID: "1000", GID: "100", Home: "/home/alice", Shell: "/bin/false",
				Extra: []string{"userdb_mail=maildir:~/Maildir"}}},
		{"alice:{PLAIN}pw:1000:100::/home/alice:/bin/false:", // a trailing ':'
			Entry{User: "alice", Password: "{PLAIN}pw", UID: "1000", GID: "100", Home: "/home/alice", Shell: "/bin/false"}},
		// libpam-pwdfile's password[NN].
		{"bob:5ebe2294ecd0e0f08eab7690d2a6ee69[34]", Entry{User: "bob", Password: "{PLAIN-MD5}5ebe2294ecd0e0f08eab7690d2a6ee69"}},
		{"bob:ra3CvuCZ/anag[13]", Entry{User: "bob", Password: "{CRYPT}ra3CvuCZ/anag"}},
		{"bob:0123456789abcdef0123456789abcdef[56]", Entry{User: "bob", Password: "{DIGEST-MD5}0123456789abcdef0123456789abcdef"}},
		{"bob:{PLAIN}x[34]", Entry{User: "bob", Password: "{PLAIN}x[34]"}},
		{"bob:[34]", Entry{User: "bob", Password: "[34]"}},
		{"bob@example.com:{PLAIN}pw", Entry{User: "bob@example.com", Password: "{PLAIN}pw"}},
		{"Bob:{PLAIN}pw", Entry{User: "Bob", Password: "{PLAIN}pw"}},
	}
	for _, tc := range tests {
		got, err := parseLine(tc.line)
		if assert.NoError(t, err, tc.line) {
			assert.Equal(t, &tc.want, got, tc.line)
		}
	}

	for _, bad := range []string{
		"alice",
		"{SHA512-CRYPT}$6$KnAVk8T1HtLOCqrt$A980bN5We0AGOYg009MNsHodcFddduZ4iJfFo8pCpmrJsj4ndb./phrCxOQILmU3YRh8Wj0OTmlo/ttOI5jM10",
		":{PLAIN}pw",
		"ali\x00ce:{PLAIN}pw",
		"ali\tce:{PLAIN}pw",
	} {
		_, err := parseLine(bad)
		assert.Error(t, err, bad)
	}
}

// writeFile writes content to path, replacing it.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
}

// logBuffer returns a logger that writes to a buffer, safe for concurrent
// use.
func logBuffer() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

const secretHash = "{SHA512-CRYPT}$6$KnAVk8T1HtLOCqrt$A980bN5We0AGOYg009MNsHodcFddduZ4iJfFo8pCpmrJsj4ndb./phrCxOQILmU3YRh8Wj0OTmlo/ttOI5jM10"

func TestOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	writeFile(t, path, strings.Join([]string{
		"# users of example.com", // 1
		"",                       // 2
		"alice:{PLAIN}alice-pw",  // 3
		"   ",                    // 4
		"bob:" + secretHash + ":1000:1000::/home/bob::userdb_mail=maildir:~/Maildir nopassword", // 5
		secretHash,                            // 6: a hash on a line of its own
		"carol:{PLAIN}carol-pw:1001:1001\r",   // 7: CRLF
		"alice:{PLAIN}second-alice",           // 8: a duplicate
		"#dave:{PLAIN}dave-pw",                // 9
		":{PLAIN}no-user",                     // 10
		"erin:" + secretHash + ":1:1:x:/h:/s", // 11, no newline at the end
	}, "\n"))
	logger, logs := logBuffer()

	f, err := OpenFile(path, logger)
	require.NoError(t, err)
	assert.Equal(t, path, f.Path())

	alice, err := f.Lookup(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, &Entry{User: "alice", Password: "{PLAIN}alice-pw"}, alice, "the first line of a user wins")
	assert.NoError(t, Verify(alice.Password, []byte("alice-pw")))

	bob, err := f.Lookup(ctx, "bob")
	require.NoError(t, err)
	assert.Equal(t, &Entry{User: "bob", Password: secretHash, UID: "1000", GID: "1000", Home: "/home/bob",
		Extra: []string{"userdb_mail=maildir:~/Maildir", "nopassword"}}, bob)
	assert.NoError(t, Verify(bob.Password, []byte(doveadmPassword)))

	carol, err := f.Lookup(ctx, "carol")
	require.NoError(t, err)
	assert.Equal(t, "1001", carol.GID, "the CR of a CRLF line end is not part of the last field")

	erin, err := f.Lookup(ctx, "erin")
	require.NoError(t, err)
	assert.Equal(t, "/s", erin.Shell)

	for _, missing := range []string{"dave", "Alice", "alice ", "", "#dave"} {
		_, err = f.Lookup(ctx, missing)
		assert.ErrorIs(t, err, ErrNotFound, missing)
		if missing != "" {
			assert.NotContains(t, err.Error(), missing, "the error does not quote the user name")
		}
	}

	out := logs.String()
	assert.Contains(t, out, "line=6 ")
	assert.Contains(t, out, "line=8 first_line=3")
	assert.Contains(t, out, "line=10 ")
	assert.Contains(t, out, "path="+path)
	assert.NotContains(t, out, "KnAVk8T1HtLOCqrt", "the log quotes a hash")
	assert.NotContains(t, out, "second-alice")
	assert.NotContains(t, out, "no-user")
	assert.Equal(t, 3, strings.Count(out, "level=WARN"), out)
}

func TestLookupReturnsACopy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	writeFile(t, path, "alice:{PLAIN}pw:::::: a=1 b=2\n")
	f, err := OpenFile(path, nil)
	require.NoError(t, err)
	e, err := f.Lookup(ctx, "alice")
	require.NoError(t, err)
	e.Password = "changed"
	e.Extra[0] = "changed"
	again, err := f.Lookup(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, &Entry{User: "alice", Password: "{PLAIN}pw", Extra: []string{"a=1", "b=2"}}, again)
}

func TestLookupCanceled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	writeFile(t, path, "alice:{PLAIN}pw\n")
	f, err := OpenFile(path, nil)
	require.NoError(t, err)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = f.Lookup(canceled, "alice")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestOpenFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	_, err := OpenFile(missing, nil)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), missing)

	_, err = OpenFile(dir, nil)
	assert.Error(t, err, "a directory")
	assert.Contains(t, err.Error(), dir)
}

func TestFileReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	writeFile(t, path, "alice:{PLAIN}alice-pw\n")
	// An old modification time, so that any rewrite changes it.
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	require.NoError(t, os.Chtimes(path, past, past))
	logger, logs := logBuffer()
	f, err := OpenFile(path, logger)
	require.NoError(t, err)

	_, err = f.Lookup(ctx, "bob")
	assert.ErrorIs(t, err, ErrNotFound)

	// A new user: the size changes.
	writeFile(t, path, "alice:{PLAIN}alice-pw\nbob:{PLAIN}bob-pw\n")
	bob, err := f.Lookup(ctx, "bob")
	require.NoError(t, err, "a new user is found without a restart")
	assert.Equal(t, "{PLAIN}bob-pw", bob.Password)

	// The same size, another password: only the modification time tells.
	require.NoError(t, os.Chtimes(path, past, past))
	_, err = f.Lookup(ctx, "bob")
	require.NoError(t, err)
	writeFile(t, path, "alice:{PLAIN}alice-pw\nbob:{PLAIN}BOB-PW\n")
	require.NoError(t, os.Chtimes(path, past.Add(time.Second), past.Add(time.Second)))
	bob, err = f.Lookup(ctx, "bob")
	require.NoError(t, err)
	assert.Equal(t, "{PLAIN}BOB-PW", bob.Password)

	// Replaced by rename, as editors and config tools do.
	tmp := path + ".tmp"
	writeFile(t, tmp, "alice:{PLAIN}alice-pw\ncarl:{PLAIN}bob-pw\n")
	require.NoError(t, os.Rename(tmp, path))
	_, err = f.Lookup(ctx, "carl")
	assert.NoError(t, err)
	_, err = f.Lookup(ctx, "bob")
	assert.ErrorIs(t, err, ErrNotFound, "a removed user is gone")

	// A reload that fails keeps the users, and is logged once.
	require.NoError(t, os.Remove(path))
	for range 3 {
		carl, err := f.Lookup(ctx, "carl")
		require.NoError(t, err, "the users read before stay")
		assert.Equal(t, "{PLAIN}bob-pw", carl.Password)
	}
	assert.Equal(t, 1, strings.Count(logs.String(), "level=ERROR"), logs.String())
	assert.Contains(t, logs.String(), "path="+path)

	// Back again.
	writeFile(t, path, "dora:{PLAIN}dora-pw\n")
	_, err = f.Lookup(ctx, "dora")
	assert.NoError(t, err)
	_, err = f.Lookup(ctx, "carl")
	assert.ErrorIs(t, err, ErrNotFound)
}

// CountPlaintext counts the users whose secret Plaintext recovers, and
// follows the file when it changes.
func TestFileCountPlaintext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	writeFile(t, path, "alice:{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuu5BeqCqDVMO8Ds6/b6wD3xvvcaNIGXDq\n"+
		"bob:$6$salt$hash\n"+
		"carol:{SSHA512}aGFzaA==\n"+
		"dave:{PLAIN}\n"+ // empty: no secret to use
		"erin:5ebe2294ecd0e0f08eab7690d2a6ee69[34]\n") // PLAIN-MD5
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	require.NoError(t, os.Chtimes(path, past, past))
	f, err := OpenFile(path, nil)
	require.NoError(t, err)
	assert.Zero(t, f.CountPlaintext(), "hashes only")

	for _, tc := range []struct {
		content string
		want    int
	}{
		{"alice:$6$salt$hash\nbob:{PLAIN}bob-pw\n", 1},
		{"alice:{CLEARTEXT}a\nbob:{plain.b64}Ym9i\ncarol:{PLAIN.HEX}6361726f6c\ndave:{SHA}X1tGkJNvqACMeoAndrhEmdp8d2k=\n", 3},
		{"alice:{PLAIN}a\nalice:$6$salt$hash\n", 1}, // the first line of a user wins
		{"alice:$6$salt$hash\n", 0},
	} {
		writeFile(t, path, tc.content)
		past = past.Add(time.Second)
		require.NoError(t, os.Chtimes(path, past, past))
		assert.Equal(t, tc.want, f.CountPlaintext(), "re-read: %q", tc.content)
	}
}

func TestFileConcurrentLookups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	var content strings.Builder
	for i := range 50 {
		fmt.Fprintf(&content, "user%d:{PLAIN}pw%d\n", i, i)
	}
	writeFile(t, path, content.String())
	f, err := OpenFile(path, slog.New(slog.DiscardHandler))
	require.NoError(t, err)

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				n := (g*31 + i) % 50
				e, err := f.Lookup(ctx, fmt.Sprintf("user%d", n))
				if assert.NoError(t, err) {
					assert.Equal(t, fmt.Sprintf("{PLAIN}pw%d", n), e.Password)
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // rewrites the file meanwhile, with the same users and one more
		defer wg.Done()
		for i := range 20 {
			tmp := fmt.Sprintf("%s.%d", path, i)
			if assert.NoError(t, os.WriteFile(tmp, []byte(content.String()+fmt.Sprintf("extra%d:{PLAIN}x\n", i)), 0o600)) {
				assert.NoError(t, os.Rename(tmp, path))
			}
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	_, err = f.Lookup(ctx, "extra19")
	assert.NoError(t, err)
}

// Source is what the backends take; File is one.
var _ Source = (*File)(nil)
