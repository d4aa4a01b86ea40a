package main

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// -uidl-format shows the unique-ids of another server; -save-uidl keeps
// them, so that pop3d restarted without the flag shows the same ones.
func TestUIDLFormatFlags(t *testing.T) {
	store := newMailStore(t)
	store.deliver(t, "alice", "Subject: one\n\nfirst\n", "X-UIDL: from-qpopper\nSubject: two\n\nsecond\n")

	srv := start(t, append(store.args(), "-uidl-format", "cyrus", "-save-uidl", "-reuse-xuidl")...)
	c := dial(t, srv.Addr)
	c.Login("alice", "alice-pw")
	saved := c.OK("UIDL").Lines()
	c.Quit()
	require.Len(t, saved, 2)
	assert.Regexp(t, `^1 \d+\.1$`, saved[0], "cyrus: %%v.%%u")
	assert.Equal(t, "2 from-qpopper", saved[1])

	again := start(t, store.args()...)
	c = dial(t, again.Addr)
	c.Login("alice", "alice-pw")
	assert.Equal(t, saved, c.OK("UIDL").Lines(), "the kept unique-ids, with the default format")
	c.Quit()
}

func TestUIDLFormatFlagErrors(t *testing.T) {
	store := newMailStore(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-uidl-format", "%v"}, "names nothing that tells messages apart"},
		{[]string{"-uidl-format", "%q"}, "unknown variable %q"},
		{[]string{"-uidl-format", "courier2"}, "names nothing that tells messages apart"},
	} {
		err := run(context.Background(), append(store.args(), tc.args...), io.Discard, io.Discard, nil)
		if assert.Error(t, err, "%q", tc.args) {
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "-maildir")
		}
	}
	// The settings of -maildir without it are a usage error.
	for _, flag := range [][]string{{"-uidl-format", "uw"}, {"-save-uidl"}, {"-reuse-xuidl"}, {"-deleted-flag", "$POP3Deleted"}, {"-no-flag-updates"}} {
		var stderr bytes.Buffer
		err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, flag...), io.Discard, &stderr, nil)
		var ue *usageError
		assert.ErrorAs(t, err, &ue, "%q", flag)
		assert.Contains(t, stderr.String(), "settings of -maildir", "%q", flag)
	}
}

// pop3d -h names the presets.
func TestUIDLFormatHelp(t *testing.T) {
	var stderr bytes.Buffer
	_ = run(context.Background(), []string{"-h"}, io.Discard, &stderr, nil)
	for _, name := range []string{"courier", "courier-uid", "cyrus", "cyrus-old", "dovecot", "dovecot-0.99", "tpop3d", "uw"} {
		assert.Contains(t, stderr.String(), name)
	}
}
