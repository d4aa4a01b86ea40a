package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pop3d -deleted-flag: DELE and QUIT keep the message, flagged with the
// keyword for IMAP, and the next session does not list it.
func TestDeletedFlagOption(t *testing.T) {
	store := newMailStore(t)
	store.deliver(t, "bob", "Subject: one\n\nfirst\n", "Subject: two\n\nsecond\n")
	srv := start(t, append(store.args(), "-deleted-flag", "$POP3Deleted")...)
	dir := filepath.Join(store.root, "bob", "Maildir")

	c := dial(t, srv.Addr)
	c.Login("bob", "bob-pw")
	uidl := c.OK("UIDL").Lines()
	require.Len(t, uidl, 2)
	c.OK("DELE 1")
	c.Quit()

	files := maildirFiles(t, dir)
	require.Len(t, files, 2, "no file removed")
	flagged := 0
	for _, f := range files {
		if strings.HasSuffix(f, ":2,a") {
			flagged++
		}
	}
	assert.Equal(t, 1, flagged, "%v", files)
	kw, err := os.ReadFile(filepath.Join(dir, "dovecot-keywords"))
	require.NoError(t, err)
	assert.Equal(t, "0 $POP3Deleted\n", string(kw))

	c = dial(t, srv.Addr)
	c.Login("bob", "bob-pw")
	assert.Equal(t, []string{"1 " + strings.Fields(uidl[1])[1]}, c.OK("UIDL").Lines())
	c.Quit()
}

// pop3d -no-flag-updates: the messages stay in new/, without S, after
// RETR and QUIT.
func TestNoFlagUpdatesOption(t *testing.T) {
	store := newMailStore(t)
	store.deliver(t, "bob", "Subject: one\n\nfirst\n")
	dir := filepath.Join(store.root, "bob", "Maildir")
	delivered := maildirFiles(t, dir)
	require.Len(t, delivered, 1)
	srv := start(t, append(store.args(), "-no-flag-updates")...)

	c := dial(t, srv.Addr)
	c.Login("bob", "bob-pw")
	_, content := retr(t, c, 1)
	assert.Equal(t, "Subject: one\r\n\r\nfirst\r\n", content)
	c.Quit()
	assert.Equal(t, delivered, maildirFiles(t, dir))
	assert.True(t, strings.HasPrefix(delivered[0], "new/"))
}

// A -deleted-flag that is not an IMAP keyword stops pop3d at start.
func TestDeletedFlagOptionRefused(t *testing.T) {
	store := newMailStore(t)
	for _, kw := range []string{`\Deleted`, "two words"} {
		err := run(context.Background(), append(store.args(), "-deleted-flag", kw), io.Discard, io.Discard, nil)
		require.Error(t, err, "%q", kw)
		assert.Contains(t, err.Error(), "pop3_deleted_flag")
	}
}
