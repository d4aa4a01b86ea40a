package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maildirFiles lists the message files of a Maildir's new/ and cur/.
func maildirFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		for _, e := range entries {
			files = append(files, filepath.Join(sub, e.Name()))
		}
	}
	return files
}

// TestPolicyLoginDelayAcrossRestarts: with -login-delay, the time of
// alice's last login is kept in her Maildir (pop3-last-login), so that a
// pop3d started anew on the same Maildirs still refuses a login too soon.
func TestPolicyLoginDelayAcrossRestarts(t *testing.T) {
	store := newMailStore(t)
	store.deliver(t, "alice", "Subject: one\n\nfirst\n")
	args := append(store.args(), "-login-delay", "1h")

	srv := start(t, args...)
	c := dial(t, srv.Addr)
	assert.Contains(t, c.Capa(), "LOGIN-DELAY 3600")
	c.Login("alice", "alice-pw")
	c.Quit()
	require.FileExists(t, filepath.Join(store.root, "alice", "Maildir", "pop3-last-login"))
	require.NoError(t, srv.stop(t))

	srv = start(t, args...)
	c = dial(t, srv.Addr)
	c.OK("USER alice")
	r := c.Cmd("PASS alice-pw")
	assert.False(t, r.OK, r.Line)
	assert.Regexp(t, `^-ERR \[LOGIN-DELAY\] .*\b(3600|359\d)\b`, r.Line)

	// Another user is not delayed by alice's login.
	c = dial(t, srv.Addr)
	c.Login("bob", "bob-pw")
	c.Quit()
	assert.Len(t, maildirFiles(t, filepath.Join(store.root, "alice", "Maildir")), 1, "alice's message is still there")
}

// TestPolicyExpireZero: with -expire 0, a message retrieved with RETR is
// removed from the Maildir at QUIT, without DELE; one only listed or read
// with TOP stays.
func TestPolicyExpireZero(t *testing.T) {
	store := newMailStore(t)
	store.deliver(t, "alice", "Subject: one\n\nfirst\n", "Subject: two\n\nsecond\n")
	maildir := filepath.Join(store.root, "alice", "Maildir")
	srv := start(t, append(store.args(), "-expire", "0")...)

	c := dial(t, srv.Addr)
	assert.Contains(t, c.Capa(), "EXPIRE 0")
	c.Login("alice", "alice-pw")
	assert.Equal(t, "2 47", stat(c))
	_, content := retr(t, c, 1)
	assert.Equal(t, "Subject: one\r\n\r\nfirst\r\n", content)
	c.OK("TOP 2 10")
	require.Len(t, maildirFiles(t, maildir), 2, "nothing is removed before QUIT")
	c.Quit()

	files := maildirFiles(t, maildir)
	require.Len(t, files, 1, "the retrieved message is gone, the other one stays")
	data, err := os.ReadFile(filepath.Join(maildir, files[0]))
	require.NoError(t, err)
	assert.Equal(t, "Subject: two\n\nsecond\n", string(data))

	c = dial(t, srv.Addr)
	c.Login("alice", "alice-pw")
	assert.Equal(t, "1 24", stat(c))
	c.Quit()
}

// TestPolicyDisable: -disable UIDL,TOP removes both from CAPA and makes
// them unknown commands.
func TestPolicyDisable(t *testing.T) {
	store := newMailStore(t)
	store.deliver(t, "alice", "Subject: one\n\nfirst\n")
	srv := start(t, append(store.args(), "-disable", "UIDL,TOP")...)

	c := dial(t, srv.Addr)
	caps := c.Capa()
	assert.NotContains(t, caps, "UIDL")
	assert.NotContains(t, caps, "TOP")
	assert.Contains(t, caps, "USER")
	c.Login("alice", "alice-pw")
	caps = c.Capa()
	assert.NotContains(t, caps, "UIDL")
	assert.NotContains(t, caps, "TOP")
	for _, cmd := range []string{"UIDL", "UIDL 1", "TOP 1 0"} {
		r := c.Cmd(cmd)
		assert.False(t, r.OK, cmd)
		assert.Equal(t, "-ERR unknown command", r.Line, cmd)
	}
	_, content := retr(t, c, 1)
	assert.Equal(t, "Subject: one\r\n\r\nfirst\r\n", content)
	c.Quit()

	var stderr strings.Builder
	err := run(t.Context(), append(store.args(), "-disable", "UIDL,NOSUCH"), &stderr, &stderr, nil)
	require.Error(t, err, "an unknown extension")
	assert.Contains(t, err.Error()+stderr.String(), "NOSUCH")
}

// TestPolicyLanguage: with -language bg, "LANG *" switches replies to
// Bulgarian, while LANG alone lists both languages.
func TestPolicyLanguage(t *testing.T) {
	store := newMailStore(t)
	srv := start(t, append(store.args(), "-language", "bg")...)

	c := dial(t, srv.Addr)
	assert.Contains(t, c.Capa(), "LANG")
	assert.Equal(t, []string{"en English", "bg Български"}, c.OK("LANG").Lines())
	r := c.OK("LANG *")
	assert.Regexp(t, regexp.MustCompile(`^bg \p{Cyrillic}`), r.Text)
	r = c.Cmd("NOSUCH")
	assert.False(t, r.OK)
	assert.Regexp(t, `^-ERR \p{Cyrillic}`, r.Line)
	r = c.OK("LANG en")
	assert.True(t, strings.HasPrefix(r.Text, "en "), r.Line)
	assert.Equal(t, "-ERR unknown command", c.Cmd("NOSUCH").Line)
	c.Quit()

	err := run(t.Context(), append(store.args(), "-language", "xx"), &strings.Builder{}, &strings.Builder{}, nil)
	require.Error(t, err)
}
