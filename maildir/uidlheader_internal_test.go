package maildir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/dovecottest"
	"github.com/gopop3/pop3/pop3test"
)

// headerMD5Messages cover what the apop3d header MD5 reads: the first
// Received header whole, Date and Message-ID before it, every
// Delivered-To and X-Delivery-ID, continuation lines, names in any case,
// spaces around the colon, CRLF line ends, and a message that is all
// header.
var headerMD5Messages = []string{
	"Received: from a.example by b.example;\n\tThu, 1 Jan 2024 00:00:00 +0000\nDate: Thu, 1 Jan 2024 00:00:01 +0000\nMessage-ID: <one@example>\nReceived: from c.example\nSubject: one\n\nbody\n",
	"Date: Fri, 2 Feb 2024 10:00:00 +0000\nMessage-ID: <two@example>\nreceived:  from d.example\n  by e.example\nSubject: two\n\nbody\n",
	"Delivered-To: a@example\nDelivered-To: b@example\nX-Delivery-ID: 12345\nDate:no space\nSubject: three\n\nbody\n",
	"Subject: nothing that counts\nFrom: x@example\n\nbody\n",
	"MESSAGE-ID :\t<five@example>\nDATE: Sat, 3 Mar 2024 00:00:00 +0000\n (a comment)\n\nbody\n",
	"Received: from f.example\r\nMessage-ID: <six@example>\r\nSubject: crlf\r\n\r\nbody\r\n",
	"Message-ID: <seven@example>\nSubject: only a header\n",
	"not a header line\nDate: Sun, 4 Apr 2024 00:00:00 +0000\n\nbody\n",
}

// Dovecot computes %m only for mbox: its UIDLs of an mbox holding the
// messages are the MD5s that scanHeaderUIDLs computes.
func TestHeaderMD5SameAsDovecot(t *testing.T) {
	dc := dovecottest.StartWith(t, dovecottest.Options{
		Settings: "mail_location = mbox:~/mail:INBOX=~/inbox\npop3_uidl_format = %m\n",
	}, "alice")
	home := filepath.Join(dc.Root, "alice")
	require.NoError(t, os.MkdirAll(filepath.Join(home, "mail"), 0o700))
	var mbox strings.Builder
	for _, m := range headerMD5Messages {
		mbox.WriteString("From sender@example Thu Jan  1 00:00:00 2024\n")
		m = strings.ReplaceAll(m, "\r\n", "\n") // mbox files have LF line ends
		mbox.WriteString(m)
		if !strings.HasSuffix(m, "\n\n") {
			mbox.WriteString("\n")
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(home, "inbox"), []byte(mbox.String()), 0o600))
	dc.Chown(t, "alice")

	c := pop3test.Dial(t, dc.Addr)
	c.Login("alice", "secret")
	lines := c.OK("UIDL").Lines()
	c.Quit()
	require.Len(t, lines, len(headerMD5Messages))
	for i, m := range headerMD5Messages {
		got, err := scanHeaderUIDLs(strings.NewReader(m))
		require.NoError(t, err)
		_, theirs, _ := strings.Cut(lines[i], " ")
		assert.Equal(t, theirs, got.md5, "message %d:\n%s", i+1, m)
	}
}

func TestScanHeaderUIDLsXUIDL(t *testing.T) {
	for _, tc := range []struct{ header, want string }{
		{"X-UIDL: abc\n\nbody", "abc"},
		{"x-uidl:abc\n\n", "abc"},
		{"X-UIDL:   padded \t\n\n", "padded"},
		{"X-UIDL: folded\n next\n\n", "folded next"},
		{"X-UIDL: first\nX-UIDL: second\n\n", "first"},
		{"Subject: x\n\nX-UIDL: in the body\n", ""},
		{"X-UIDL-Other: no\n\n", ""},
		{"X-UIDL: crlf\r\n\r\n", "crlf"},
		{"X-UIDL: at the end without a line end", "at the end without a line end"},
		{"", ""},
	} {
		got, err := scanHeaderUIDLs(strings.NewReader(tc.header))
		require.NoError(t, err)
		assert.Equal(t, tc.want, got.xuidl, "%q", tc.header)
	}
}

// A header line longer than the reader's buffer is read whole.
func TestScanHeaderUIDLsLongLine(t *testing.T) {
	long := strings.Repeat("x", 10000)
	got, err := scanHeaderUIDLs(strings.NewReader("Subject: " + long + "\nX-UIDL: after-" + long[:10] + "\n\n"))
	require.NoError(t, err)
	assert.Equal(t, "after-xxxxxxxxxx", got.xuidl)
}

func FuzzScanHeaderUIDLs(f *testing.F) {
	for _, m := range headerMD5Messages {
		f.Add(m)
	}
	f.Add("X-UIDL: a\n b\n\n")
	f.Fuzz(func(t *testing.T, msg string) {
		got, err := scanHeaderUIDLs(strings.NewReader(msg))
		require.NoError(t, err)
		assert.Len(t, got.md5, 32)
		// CRLF and LF line ends give the same result.
		crlf, err := scanHeaderUIDLs(strings.NewReader(strings.ReplaceAll(strings.ReplaceAll(msg, "\r\n", "\n"), "\n", "\r\n")))
		require.NoError(t, err)
		if !strings.Contains(msg, "\r") {
			assert.Equal(t, got, crlf)
		}
	})
}
