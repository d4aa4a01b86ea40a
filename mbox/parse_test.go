package mbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
)

// benchSpool is a spool of n messages as Postfix local(8) writes them,
// with a header of a dozen fields and a body of about 2 KB.
func benchSpool(n int) []byte {
	var b bytes.Buffer
	body := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod\n", 28)
	for i := range n {
		fmt.Fprintf(&b, "From sender%d@example.org  Sun Dec  6 19:22:23 2026\n", i)
		fmt.Fprintf(&b, "Return-Path: <sender%d@example.org>\nX-Original-To: alice\nDelivered-To: alice@example.com\n", i)
		b.WriteString("Received: from mx.example.org (mx.example.org [192.0.2.1])\n\tby mail.example.com (Postfix) with ESMTPS id 4ABCDEF\n\tfor <alice@example.com>; Sun,  6 Dec 2026 19:22:23 +0000 (UTC)\n")
		fmt.Fprintf(&b, "Message-ID: <%d@example.org>\nDate: Sun, 6 Dec 2026 19:22:23 +0000\nFrom: Sender <sender%d@example.org>\nTo: alice@example.com\nSubject: message %d\n", i, i, i)
		if i%2 == 0 {
			fmt.Fprintf(&b, "Status: RO\nX-UID: %d\n", i+1)
		}
		b.WriteString("\n")
		b.WriteString(body)
		b.WriteString(">From the body\n\n")
	}
	return b.Bytes()
}

func BenchmarkParseSpool(b *testing.B) {
	data := benchSpool(10000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		s, err := parseSpool(bytes.NewReader(data), int64(len(data)))
		require.NoError(b, err)
		require.Len(b, s.msgs, 10000)
	}
}

// fromLine is a valid From line, as Postfix local(8) writes one.
const fromLine = "From sender@example.org  Sun Dec  6 19:22:23 2026\n"

// wantMessage is what a parse test expects of a message.
type wantMessage struct {
	shown  string   // what reader yields
	hidden []string // the names of its hidden fields, in order
	uid    uint32   // X-UID, when valid
	xuidl  string
	status string
	body   string // the raw octets from bodyStart to end, when set
}

// parseString parses raw and checks what every parse must give.
func parseString(tb testing.TB, raw string) (*spool, error) {
	tb.Helper()
	s, err := parseSpool(strings.NewReader(raw), int64(len(raw)))
	if err == nil {
		checkSpool(tb, []byte(raw), s)
	}
	return s, err
}

// checkSpool checks what holds for every parsed spool: the messages cover
// the spool in order, each one's offsets are in order and its fields lie
// in its header, its size is pop3.CRLFSize of its reader; the spool's sum
// is that of its octets.
func checkSpool(tb testing.TB, raw []byte, s *spool) {
	tb.Helper()
	require.Equal(tb, int64(len(raw)), s.size, "size")
	require.Equal(tb, maphash.Bytes(spoolSeed, raw), s.sum, "sum")
	all := s.msgs
	if s.pseudo != nil {
		all = append([]message{*s.pseudo}, s.msgs...)
	}
	if len(raw) > 0 {
		require.NotEmpty(tb, all, "a spool with octets has a message")
	}
	pos := int64(0)
	for i := range all {
		m := &all[i]
		require.Equal(tb, pos, m.offset, "message %d: offset", i)
		require.True(tb, bytes.HasPrefix(raw[m.offset:], []byte("From ")), "message %d: not at a From line", i)
		require.True(tb, m.offset < m.headerStart && m.headerStart <= m.headerEnd && m.headerEnd <= m.bodyStart && m.bodyStart <= m.end && m.end <= m.next,
			"message %d: offsets out of order: %+v", i, m)
		require.Equal(tb, byte('\n'), raw[m.headerStart-1], "message %d: the From line ends at headerStart", i)
		require.Contains(tb, []string{"", "\n", "\r\n"}, string(raw[m.end:m.next]), "message %d: between end and next", i)
		at := m.headerStart
		for _, f := range m.fields {
			require.True(tb, at <= f.start && f.start < f.end && f.end <= m.bodyStart, "message %d: field %+v out of place", i, f)
			require.Contains(tb, hiddenNames, f.name)
			at = f.end
		}
		size, err := pop3.CRLFSize(m.reader(bytes.NewReader(raw)))
		require.NoError(tb, err)
		require.Equal(tb, size, m.size, "message %d: size", i)
		pos = m.next
	}
	require.Equal(tb, int64(len(raw)), pos, "the messages end where the spool does")
}

// shownOf returns what m's reader yields.
func shownOf(tb testing.TB, raw string, m *message) string {
	tb.Helper()
	b, err := io.ReadAll(m.reader(strings.NewReader(raw)))
	require.NoError(tb, err)
	return string(b)
}

// checkMessages checks the messages of a spool against want.
func checkMessages(t *testing.T, raw string, got []message, want []wantMessage) {
	t.Helper()
	require.Len(t, got, len(want), "messages")
	for i, w := range want {
		m := &got[i]
		assert.Equal(t, w.shown, shownOf(t, raw, m), "message %d: shown", i+1)
		var names []string
		for _, f := range m.fields {
			names = append(names, f.name)
		}
		assert.Equal(t, w.hidden, names, "message %d: hidden fields", i+1)
		assert.Equal(t, w.uid, m.uid, "message %d: uid", i+1)
		assert.Equal(t, w.xuidl, m.xuidl, "message %d: xuidl", i+1)
		assert.Equal(t, w.status, m.status, "message %d: status", i+1)
		if w.body != "" {
			assert.Equal(t, w.body, raw[m.bodyStart:m.end], "message %d: body", i+1)
		}
	}
}

// cl is the Content-Length of body.
func cl(body string) string { return strconv.Itoa(len(body)) }

func TestParseSpool(t *testing.T) {
	long := strings.Repeat("y", 3*windowSize)
	for _, tc := range []struct {
		name   string
		raw    string
		want   []wantMessage
		pseudo string // what the pseudo message shows
	}{
		{name: "empty", raw: ""},
		{
			name: "postfix local",
			raw: "From alice@example.org  Sun Dec  6 19:22:23 2026\nReturn-Path: <alice@example.org>\nDelivered-To: bob@example.com\nSubject: one\n\nHello\n>From the start\n\n" +
				"From MAILER-DAEMON  Mon Dec  7 08:00:00 2026\nSubject: two\n\nbody\n\n",
			want: []wantMessage{
				{shown: "Return-Path: <alice@example.org>\nDelivered-To: bob@example.com\nSubject: one\n\nHello\n>From the start\n", body: "Hello\n>From the start\n"},
				{shown: "Subject: two\n\nbody\n", body: "body\n"},
			},
		},
		{
			name: "procmail",
			raw:  "From bob  Sun Dec  6 19:22:23 2026\nSubject: one\nContent-Length: 5\n\nbody\n\nFrom carol  Sun Dec  6 19:22:24 2026\nSubject: two\n\n>From x\n\n",
			want: []wantMessage{
				{shown: "Subject: one\n\nbody\n", hidden: []string{"content-length"}},
				{shown: "Subject: two\n\n>From x\n"},
			},
		},
		{
			name: "no blank line between messages",
			raw:  fromLine + "Subject: one\n\nbody\n" + fromLine + "Subject: two\n\nbody\n",
			want: []wantMessage{{shown: "Subject: one\n\nbody"}, {shown: "Subject: two\n\nbody"}},
		},
		{
			name: "CRLF",
			raw:  "From a Sun Dec  6 19:22:23 2026\r\nSubject: one\r\nStatus: RO\r\n\r\nbody\r\n\r\nFrom b Sun Dec  6 19:22:23 2026\r\nSubject: two\r\n\r\nlast\r\n",
			want: []wantMessage{
				{shown: "Subject: one\r\n\r\nbody\r\n", hidden: []string{"status"}, status: "RO"},
				{shown: "Subject: two\r\n\r\nlast"},
			},
		},
		{
			name: "From lines in a body that are not separators",
			raw: fromLine + "Subject: one\n\nFrom here on\nFrom nobody\nFrom x Sun Feb 30 19:22:23 2026 +0100\nFrom x Sun Dec  6 24:00:00 2026 +0000\n" +
				"From \nFrom x Sun Dec  6 19:22:23\n From x Sun Dec  6 19:22:23 2026\n>From x Sun Dec  6 19:22:23 2026\nfrom x Sun Dec  6 19:22:23 2026\n\n",
			want: []wantMessage{{shown: "Subject: one\n\nFrom here on\nFrom nobody\nFrom x Sun Feb 30 19:22:23 2026 +0100\nFrom x Sun Dec  6 24:00:00 2026 +0000\n" +
				"From \nFrom x Sun Dec  6 19:22:23\n From x Sun Dec  6 19:22:23 2026\n>From x Sun Dec  6 19:22:23 2026\nfrom x Sun Dec  6 19:22:23 2026\n"}},
		},
		{
			name: "a From line with a valid date in a body is a separator",
			raw:  fromLine + "Subject: one\n\nbody\nFrom x Sun Dec  6 24:00:00 2026\nrest\n",
			want: []wantMessage{{shown: "Subject: one\n\nbody"}, {shown: "rest"}},
		},
		{
			name: "a From line right after the From line is header",
			raw:  fromLine + fromLine + "Subject: one\n\nbody\n",
			want: []wantMessage{{shown: fromLine + "Subject: one\n\nbody"}},
		},
		{
			name: "Content-Length right takes From lines in",
			raw:  fromLine + "Content-Length: " + cl("body\n"+fromLine+"more\n") + "\nSubject: one\n\nbody\n" + fromLine + "more\n\n" + fromLine + "Subject: two\n\nb\n",
			want: []wantMessage{
				{shown: "Subject: one\n\nbody\n" + fromLine + "more\n", hidden: []string{"content-length"}},
				{shown: "Subject: two\n\nb"},
			},
		},
		{
			name: "Content-Length to the spool's end",
			raw:  fromLine + "Content-Length: " + cl("body\n"+fromLine+"more") + "\nSubject: one\n\nbody\n" + fromLine + "more\n",
			want: []wantMessage{{shown: "Subject: one\n\nbody\n" + fromLine + "more", hidden: []string{"content-length"}}},
		},
		{
			name: "Content-Length too long",
			raw:  fromLine + "Content-Length: 1000\nSubject: one\n\nbody\n\n" + fromLine + "Subject: two\n\nb\n",
			want: []wantMessage{{shown: "Subject: one\n\nbody\n", hidden: []string{"content-length"}}, {shown: "Subject: two\n\nb"}},
		},
		{
			name: "Content-Length too short",
			raw:  fromLine + "Content-Length: 2\nSubject: one\n\nbody\n\n" + fromLine + "Subject: two\n\nb\n",
			want: []wantMessage{{shown: "Subject: one\n\nbody\n", hidden: []string{"content-length"}}, {shown: "Subject: two\n\nb"}},
		},
		{
			name: "Content-Length broken, then a valid one",
			raw:  fromLine + "Content-Length: 12x\nContent-Length: " + cl("body\n"+fromLine+"more\n") + "\n\nbody\n" + fromLine + "more\n\n" + fromLine + "Subject: two\n\nb\n",
			want: []wantMessage{
				{shown: "\nbody\n" + fromLine + "more\n", hidden: []string{"content-length", "content-length"}},
				{shown: "Subject: two\n\nb"},
			},
		},
		{
			name: "Content-Length when the header's end is the separator's line end",
			// Dovecot counts from after the empty line, which is also the
			// line end before the From line.
			raw: fromLine + "Content-Length: " + cl(fromLine+"more\n") + "\nSubject: one\n\n" + fromLine + "more\n\n" + fromLine + "Subject: two\n\nb\n",
			want: []wantMessage{
				{shown: "Subject: one\n\n" + fromLine + "more\n", hidden: []string{"content-length"}},
				{shown: "Subject: two\n\nb"},
			},
		},
		{
			name: "Content-Length in a header that runs into a From line",
			// Counted from the line end before the From line.
			raw: "From a Sun Dec  6 19:22:23 2026\nContent-Length: " + cl("\n"+fromLine+"X-UID: 7\nSubject: one\n") + "\n" + fromLine + "X-UID: 7\nSubject: one\n\n" + fromLine + "Subject: two\n\nb\n",
			want: []wantMessage{
				// The sync reads the header up to the From line: X-UID is
				// hidden, but not taken.
				{shown: fromLine + "Subject: one\n", hidden: []string{"content-length", "x-uid"}},
				{shown: "Subject: two\n\nb"},
			},
		},
		{
			name: "Content-Length with CRLF",
			raw:  "From a Sun Dec  6 19:22:23 2026\r\nContent-Length: " + cl("body\r\nFrom b Sun Dec  6 19:22:23 2026\r\nmore\r\n") + "\r\n\r\nbody\r\nFrom b Sun Dec  6 19:22:23 2026\r\nmore\r\n\r\nFrom c Sun Dec  6 19:22:23 2026\r\nSubject: two\r\n\r\nb\r\n",
			want: []wantMessage{
				{shown: "\r\nbody\r\nFrom b Sun Dec  6 19:22:23 2026\r\nmore\r\n", hidden: []string{"content-length"}},
				{shown: "Subject: two\r\n\r\nb"},
			},
		},
		{
			name: "hidden headers: every name, any case, folded, blanks before the colon",
			raw: fromLine + "X-IMAPbase: 1 2\nSTATUS: O\nX-Status: A\nX-Keywords: $Junk\n\tNonJunk\nx-uid: 1\nX-IMAP: 3 4\nContent-length : 5\nSubject: kept\n" +
				"X-UIDL: kept too\nStatus\x00junk: R\nX-Statuses: kept\n X-UID: 9\n\nX-UID: 8\n\n",
			want: []wantMessage{{
				shown:  "Subject: kept\nX-UIDL: kept too\nX-Statuses: kept\n X-UID: 9\n\nX-UID: 8\n",
				hidden: []string{"x-imapbase", "status", "x-status", "x-keywords", "x-uid", "x-imap", "content-length", "status"},
				uid:    1, xuidl: "kept too", status: "O",
			}},
		},
		{
			name: "a hidden field that the separator ends",
			raw:  fromLine + "Subject: one\nStatus: RO\n" + fromLine + "Subject: two\n\nb\n",
			want: []wantMessage{{shown: "Subject: one\n", hidden: []string{"status"}, status: "RO"}, {shown: "Subject: two\n\nb"}},
		},
		{
			name: "no header, no body, a From line last",
			raw:  fromLine + "\nbody\n\n" + fromLine + "Subject: header only\n\n" + fromLine + "\n" + fromLine,
			want: []wantMessage{{shown: "\nbody\n"}, {shown: "Subject: header only\n"}, {shown: ""}, {shown: ""}},
		},
		{
			name: "X-UIDL and Status: the first, unfolded and trimmed",
			raw: fromLine + "X-UIDL:  \tabc \nStatus:   R\n  O \nX-UIDL: second\nStatus: O\n\nb\n\n" +
				fromLine + "x-uidl:fold\n\ted\n\nb\n\n" + fromLine + "X-UIDL:\nX-UIDL: second\n\nb\n",
			want: []wantMessage{
				{shown: "X-UIDL:  \tabc \nX-UIDL: second\n\nb\n", hidden: []string{"status", "status"}, xuidl: "abc", status: "R  O"},
				{shown: "x-uidl:fold\n\ted\n\nb\n", xuidl: "fold\ted"},
				{shown: "X-UIDL:\nX-UIDL: second\n\nb"},
			},
		},
		{
			name:   "the pseudo message",
			raw:    fromLine + "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nX-IMAP: 1700000000 0000000005\n\nThis text is part of the internal format of your mail folder.\n\n" + fromLine + "X-UID: 3\n\nb\n\n" + fromLine + "X-IMAP: 1 2\n\nb\n",
			pseudo: "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n\nThis text is part of the internal format of your mail folder.\n",
			want:   []wantMessage{{shown: "\nb\n", hidden: []string{"x-uid"}, uid: 3}, {shown: "\nb", hidden: []string{"x-imap"}}},
		},
		{
			name: "X-IMAP after X-IMAPbase is no pseudo message",
			raw:  fromLine + "X-IMAPbase: 1700000000 0000000005\nX-IMAP: 1700000000 0000000005\n\nb\n",
			want: []wantMessage{{shown: "\nb", hidden: []string{"x-imapbase", "x-imap"}}},
		},
		{
			name: "Content-Length beyond the window",
			raw:  fromLine + "Content-Length: " + cl(long+"\n"+fromLine+long+"\n") + "\n\n" + long + "\n" + fromLine + long + "\n\n" + "From x@y Sun Dec  6 19:22:23 2026\nSubject: two\n\nb\n",
			want: []wantMessage{
				{shown: "\n" + long + "\n" + fromLine + long + "\n", hidden: []string{"content-length"}},
				{shown: "Subject: two\n\nb"},
			},
		},
		{
			name: "lines longer than the window",
			raw: fromLine + "X-Long: " + long + "\nX-UIDL: " + long[:70] + "\nStatus: " + long[:1000] + "\n  folded\nX-Keywords: " + long + "\nSubject: " + long + "\n\n" + long + "\n" + long + "\r\n\n" +
				"From " + long[:100] + " Sun Dec  6 19:22:23 2026\nSubject: two\nStatus: " + long + "\nX-UIDL: " + long + "\n\n" + long + "\n",
			want: []wantMessage{
				{
					shown:  "X-Long: " + long + "\nX-UIDL: " + long[:70] + "\nSubject: " + long + "\n\n" + long + "\n" + long + "\r\n",
					hidden: []string{"status", "x-keywords"}, xuidl: long[:70], status: long[:1000] + "  folded",
				},
				// Values longer than any valid one are empty.
				{shown: "Subject: two\nX-UIDL: " + long + "\n\n" + long, hidden: []string{"status"}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseString(t, tc.raw)
			require.NoError(t, err)
			checkMessages(t, tc.raw, s.msgs, tc.want)
			if tc.pseudo != "" {
				require.NotNil(t, s.pseudo, "the pseudo message")
				assert.Equal(t, tc.pseudo, shownOf(t, tc.raw, s.pseudo))
			} else {
				assert.Nil(t, s.pseudo, "the pseudo message")
			}
			// Any window, and a reader that is no io.ReaderAt, give the same.
			for _, w := range []int{16, 17, 100, 4096} {
				other, err := parseWindowed(strings.NewReader(tc.raw), strings.NewReader(tc.raw), int64(len(tc.raw)), w)
				require.NoError(t, err)
				assert.Equal(t, s, other, "with a window of %d octets", w)
			}
			other, err := parseSpool(bufio.NewReader(strings.NewReader(tc.raw)), int64(len(tc.raw)))
			require.NoError(t, err)
			assert.Equal(t, s, other, "from a reader that is no io.ReaderAt")
		})
	}
}

func TestParseSpoolErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  string
		want error
	}{
		{"text", "Hello\n", errNotMbox},
		{"a line feed", "\n", errNotMbox},
		{"a blank line first", "\n" + fromLine + "Subject: x\n\nb\n", errNotMbox},
		{"a From line without a date", "From nobody\nSubject: x\n\nb\n", errNotMbox},
		{"a From line with a date that does not exist", "From x Sun Feb 30 19:22:23 2026 +0000\n\nb\n", errNotMbox},
		{">From", ">" + fromLine + "Subject: x\n\nb\n", errNotMbox},
		{"no line end at all", "Hello", errNotMbox},
		{"a From line without its line end", strings.TrimSuffix(fromLine, "\n"), errTruncated},
		{"a last line without its line end", fromLine + "Subject: x\n\nbody", errTruncated},
		{"a later message cut off", fromLine + "Subject: x\n\nbody\n\n" + fromLine + "Subj", errTruncated},
		{"a long last line without its line end", fromLine + "Subject: x\n\n" + strings.Repeat("z", 2*windowSize), errTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseString(t, tc.raw)
			require.ErrorIs(t, err, tc.want)
			assert.ErrorIs(t, err, errBadSpool)
		})
	}
}

// A reader that fails, or ends before the size, is an error that is no
// errBadSpool.
func TestParseSpoolReadErrors(t *testing.T) {
	raw := fromLine + "Subject: x\n\nbody\n"
	_, err := parseSpool(strings.NewReader(raw), int64(len(raw))+10)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.NotErrorIs(t, err, errBadSpool)

	broken := errors.New("disk on fire")
	_, err = parseSpool(io.MultiReader(strings.NewReader(raw), iotest.ErrReader(broken)), int64(len(raw))+10)
	require.ErrorIs(t, err, broken)
	assert.NotErrorIs(t, err, errBadSpool)

	_, err = parseSpool(strings.NewReader(raw), -1)
	require.Error(t, err)
}

// The date check takes what Dovecot's mbox_from_parse takes
// (test-mbox-from.c and more).
func TestFromLineValid(t *testing.T) {
	for _, tc := range []struct {
		line string // after "From "
		want bool
	}{
		{"user@domain Thu Nov 29 23:33:09 1973 +0200\n", true},
		{"user@domain Thu Nov 29 19:33:09 1973 -0200\n", true},
		{"\"user name\"@domain  Fri Jan  2 10:13:52 UTC 1970 +0000\n", true},
		{"user  Fri Jan  2 10:14 1970 +0000\n", true},
		{"user Fri, 2 Jan 1970 10:14:00 +0000\n", true},
		{"user Fri, 2 Jan 1970 10:14 +0000\n", true},
		{" Fri Jan  2 10:14 1970 +0000\n", true},
		{"user Fri, 2 Foo 1970 10:14:00\n", false},
		{"Fri Jan  2 10:14 1970 +0000\n", false},
		{"user  Fri Jan  x 10:14 1970 +0000\n", false},
		{"user  Fri Jan  2 0:14 1970 +0000\n", false},
		{"user  Fri Jan  2 xx:14 1970 +0000\n", false},
		{"user  Fri Jan  2 10: 1970 +0000\n", false},
		{"user  Fri Jan  2 10:xx 1970 +0000\n", false},
		{"user  Fri Jan  2 10:xx +0000\n", false},
		{"sender@example.org  Sun Dec  6 19:22:23 2026\n", true},
		{"MAILER-DAEMON Sun Dec 06 19:22:23 2026\n", true},
		{"x sun dec  6 19:22:23 2026\n", true},        // any case
		{"x XXX Dec  6 19:22:23 2026\n", true},        // the weekday is not checked
		{"x Sun ??? 16 19:22:23 2026\n", true},        // Dovecot's special mbox
		{"x Sun Dec  0 19:22:23 2026 +0000\n", true},  // day 0 is day 1
		{"x Sun Dec  6 99:99:99 2026\n", true},        // without a time zone any time
		{"x Sun Dec  6 24:00:00 2026 +0000\n", false}, // with one, it must exist
		{"x Sun Feb 29 19:22:23 2024 +0000\n", true},  // a leap day
		{"x Sun Feb 29 19:22:23 2100 +0000\n", false}, // not one
		{"x Sun Feb 29 19:22:23 2000 +0000\n", true},  // one
		{"x Sun Dec 31 23:59:60 2016 +0000\n", true},  // a leap second
		{"x Sun Dec 31 23:59:61 2016 +0000\n", false}, //
		{"x Wed Dec 31 23:59:59 1969 +0000\n", false}, // time_t -1, Dovecot's error
		{"x Sun Dec  6 19:22:23 +0100 2026\n", true},  // a zone before the year is skipped
		{"x Sun Dec  6 19:22:23 CET 2026\n", true},    //
		{"x Sun Dec  6 19:22:23 CET\n2026\n", false},  // not past the line end
		{"x Sun Dec  6 19:22:23 2026\r\n", true},      //
		{"x Sun Dec  6 19:22:23 2026 remote from y\n", true},
		{"x Sun, 6 Dec 2026 19:22:23\n", true},           // the other form
		{"x Sun, 06 Dec 2026 19:22\n", true},             //
		{"x Sun, 6 Dec 26 19:22:23\n", false},            //
		{"\"x\ny\"@z Sun Dec  6 19:22:23 2026\n", false}, // a line end in the quoted part
		{"x\n Sun Dec  6 19:22:23 2026\n", false},        // in the sender
		{"x Sun Dec  6 19:22:23\n", false},               // no year
		{"x Sun Dec  6\n", false},                        // too short
		{"", false},
		// Dovecot reads past the line's end where it does not check.
		{"x abc\nJan  1 00:00:00 2001\n", true},
	} {
		assert.Equal(t, tc.want, fromLineValid([]byte(tc.line)), "From %q", tc.line)
	}
}
