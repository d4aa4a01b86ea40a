package mbox

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/dovecottest"
	"github.com/gopop3/pop3/pop3test"
)

// withContentLength puts a Content-Length header, of the body's length,
// in place of "CL" in a message: the octets after the empty line to the
// end of the text, less the final line end (the separator's).
func withContentLength(msg string) string {
	_, body, _ := strings.Cut(msg, "\n\n")
	return strings.Replace(msg, "CL", strconv.Itoa(len(body)-1), 1)
}

// dovecotSpools are spools that Dovecot 2.3 and parseSpool must read
// alike: what Postfix local(8) and procmail write, From lines in bodies
// that are and are not separators, every form of date that Dovecot
// accepts, Content-Length right and wrong, hidden headers in any case and
// folded, X-UID valid and broken, X-UIDL valid, invalid and repeated,
// messages without a header or a body, long lines, CRLF line ends and the
// pseudo message.
var dovecotSpools = map[string]string{
	"varied": "" +
		// X-IMAPbase and a valid X-UID after it.
		"From MAILER-DAEMON Thu Nov 29 22:33:52 2001\nX-IMAPbase: 1234567890 0000000010\nX-UID: 3\nStatus: RO\nSubject: first\nX-UIDL: uidl-0001\n\nbody 1\n\n" +
		// Postfix local(8): Return-Path, Delivered-To, >From, a blank line after.
		"From sender@example.org  Sun Dec  6 19:22:23 2026\nReturn-Path: <sender@example.org>\nX-Original-To: alice\nDelivered-To: alice@example\n" +
		"Received: from mx.example.org (mx [192.0.2.1])\n\tby host.example (Postfix) with ESMTP id 4ABC\n\tfor <alice@example>; Sun,  6 Dec 2026 19:22:23 +0000 (UTC)\n" +
		"Subject: postfix\nX-UID: 5\nX-Keywords: $Junk\n NonJunk\nX-Status: A\n\nHello\n>From the start\n..two dots\n.\n\n" +
		// procmail: two spaces after the sender, Content-Length of its own.
		withContentLength("From bob@example.net  Fri Dec  4 10:00:00 2026\nSubject: procmail\nContent-Length: CL\nX-UIDL: uidl-0003\n\nline\n>From escaped\n\n") +
		// From lines in a body that are not separators.
		"From carol Fri Dec  4 10:00:00 2026\nSubject: not separators\nX-UIDL: uidl-0003\n\nFrom here on it is body text\nFrom nobody at all\nFrom x Sun Feb 30 19:22:23 2026 +0100\nFrom y Sun Dec  6 25:22:23 2026\n\n" +
		// No blank line before the next From line.
		"From dave Fri Dec  4 10:00:00 2026\nSubject: no blank line\nX-UIDL: has space\n\nlast line\n" +
		// A right Content-Length takes an unescaped From line into the body.
		withContentLength("From erin Sat Dec  5 10:00:00 2026\nContent-Length: CL\nSubject: content-length right\nX-UID: 500\n\nbody\nFrom frank Sat Dec  5 10:00:00 2026\nmore body\n\n") +
		// Wrong ones: too long, too short.
		"From grace Sat Dec  5 10:00:00 2026\nContent-Length: 99999\nSubject: content-length too long\nX-UID: 2\n\nbody\n\n" +
		"From heidi Sat Dec  5 10:00:00 2026\nContent-Length: 3\nSubject: content-length too short\n\nbody\nFrom ivan Sat Dec  5 10:00:00 2026\nafter\n\n" +
		// Dates: the other form, a time zone, a named one, no seconds.
		"From judy Thu, 9 Nov 2026 22:33:52\nSubject: other date form\n\nb\n\n" +
		"From mallory Sun Dec  6 19:22:23 2026 +0100\nSubject: time zone\n\nb\n\n" +
		"From niaj Sun Dec  6 19:22:23 CET 2026\nSubject: named time zone\n\nb\n\n" +
		"From olivia Sun Dec  6 19:22 2026\nSubject: no seconds\n\nb\n\n" +
		// No header; no body; hidden names in other cases, a space before the colon.
		"From peggy Sun Dec  6 19:22:23 2026\n\nbody without a header\n\n" +
		"From rupert Sun Dec  6 19:22:23 2026\nSubject: header only\nstatus: O\n" +
		"From sybil Sun Dec  6 19:22:23 2026\nX-STATUS: F\nContent-length : 5\nX-Imap: 1 2\nSubject: names\nx-uid: 4\n\nb\n\n" +
		// Long lines: a header line longer than Dovecot's buffer, a body
		// line longer than the parser's window.
		"From trent Sun Dec  6 19:22:23 2026\nX-Long: " + strings.Repeat("x", 10000) + "\nStatus: R\nSubject: long\n\n" + strings.Repeat("y", 100000) + "\nend\n\n" +
		// The last message, without a blank line.
		"From victor Sun Dec  6 19:22:23 2026\nSubject: last\nX-UIDL: uidl-0014\n\nthe end\n",
	"crlf": "" +
		"From a@example Sun Dec  6 19:22:23 2026\r\nX-IMAPbase: 1600000000 0000000002\r\nSubject: one\r\nX-UID: 1\r\nStatus: O\r\n\r\nbody\r\n\r\n" +
		"From b@example Sun Dec  6 19:22:23 2026\r\nSubject: two\r\n\r\nbody\r\nFrom not a separator\r\n\r\n" +
		"From c@example Sun Dec  6 19:22:23 2026\r\nSubject: three\r\n\r\nno blank line\r\n" +
		"From d@example Sun Dec  6 19:22:23 2026\r\nSubject: four\r\n\r\nlast\r\n",
	"pseudo": "" +
		"From MAILER_DAEMON Wed Oct  7 12:00:00 2026\nDate: Wed, 7 Oct 2026 12:00:00 +0000\nFrom: Mail System Internal Data <MAILER-DAEMON@host>\n" +
		"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nMessage-ID: <1234@host>\nX-IMAP: 1700000000 0000000007\nStatus: RO\n\n" +
		"This text is part of the internal format of your mail folder, and is not\na real message.  It is created automatically by the mail system software.\nIf deleted, important folder data will be lost, and it will be re-created\nwith the data reset to initial values.\n\n" +
		"From a Sun Dec  6 19:22:23 2026\nSubject: one\nX-UID: 6\n\nbody\n\n" +
		"From b Sun Dec  6 19:22:23 2026\nSubject: two\n\nbody\n\n" +
		"From c Sun Dec  6 19:22:23 2026\nSubject: three\nX-UID: 7\n\nbody\n\n",
	"edges": "" +
		// X-UID before X-IMAPbase in the first message: not taken.
		"From a Sun Dec  6 19:22:23 2026\nX-UID: 4\nX-IMAPbase: 1500000000 0000000004\nSubject: one\n\nbody\n\n" +
		// A From line right after the From line is header.
		"From b Sun Dec  6 19:22:23 2026\nFrom c Sun Dec  6 19:22:23 2026\nSubject: two\nX-UID: 2\n \n\nbody\n\n" +
		// A quoted sender, Dovecot's "???" month, an unchecked weekday, leap days.
		"From \"john doe\"@example Sun Dec  6 19:22:23 2026\nSubject: quoted\nX-UIDL: trailing  \n\nFrom x Sun Feb 29 19:22:23 2026 +0000\n\n" +
		"From d XXX ??? 16 19:22:23 2026\nSubject: month\n\nb\n\n" +
		"From e Sun Feb 29 19:22:23 2024 +0000\nSubject: leap\n\nb\n\n" +
		// Content-Length when the empty line before the body is the
		// separator's line end, from an unescaped From line.
		withContentLength("From f Sun Dec  6 19:22:23 2026\nContent-Length: CL\nSubject: body starts with From\n\nFrom g Sun Dec  6 19:22:23 2026\nrest\n\n") +
		// CRLF in an LF file, before a separator.
		"From h Sun Dec  6 19:22:23 2026\r\nSubject: mixed\r\n\r\nbody\r\n" +
		// A header that runs into the next From line, with a hidden last field.
		"From i Sun Dec  6 19:22:23 2026\nSubject: header only\nX-Status: A\n" +
		// The last message: a Content-Length to the end takes a From line in.
		withContentLength("From k Sun Dec  6 19:22:23 2026\nContent-Length: CL\nSubject: to the end\n\nb\nFrom l Sun Dec  6 19:22:23 2026\nlast\n\n"),
	"no base": "" +
		"From a Sun Dec  6 19:22:23 2026\nX-UID: 1\nSubject: one\n\nbody\n\n" +
		"From b Sun Dec  6 19:22:23 2026\nX-UID: 2\nSubject: two\n\nbody\n\n" +
		"From c Sun Dec  6 19:22:23 2026\nX-UID: 9\nSubject: three\n\nbody\n\n" +
		"From d Sun Dec  6 19:22:23 2026\nX-UID: 4\nSubject: four\n\nbody\n\n",
}

// Dovecot serves a copy of each spool (mail_location mbox, INBOX the
// spool): its LIST sizes, RETR contents and UIDLs (with the default
// pop3_uidl_format, and with pop3_reuse_xuidl) are what parseSpool,
// reader, assignUIDs and uidls give.
func TestParseSameAsDovecot(t *testing.T) {
	spools := maps.Clone(dovecotSpools)
	for _, tc := range uidCases {
		spools["uids: "+tc.name] = tc.raw
	}
	names := slices.Sorted(maps.Keys(spools))
	users := make([]string, 0, 2*len(names))
	for i := range names {
		users = append(users, userFor(i, false), userFor(i, true))
	}
	dc := dovecottest.StartWith(t, dovecottest.Options{
		Settings: "mail_location = mbox:~/mail:INBOX=~/inbox\n",
	}, users...)
	setReuseXUIDL(t, dc)
	for i, name := range names {
		for _, reuse := range []bool{false, true} {
			home := filepath.Join(dc.Root, userFor(i, reuse))
			require.NoError(t, os.MkdirAll(filepath.Join(home, "mail"), 0o700))
			require.NoError(t, os.WriteFile(filepath.Join(home, "inbox"), []byte(spools[name]), 0o600))
		}
	}
	dc.Chown(t, users...)

	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			raw := spools[name]
			s, err := parseSpool(strings.NewReader(raw), int64(len(raw)))
			require.NoError(t, err)

			c := pop3test.Dial(t, dc.Addr)
			c.Login(userFor(i, false), "secret")
			list := c.OK("LIST").Lines()
			uidl := c.OK("UIDL").Lines()
			retr := make([][]byte, len(list))
			for i := range list {
				retr[i] = c.OK("RETR " + strconv.Itoa(i+1)).Body
			}
			c.Quit()
			c = pop3test.Dial(t, dc.Addr)
			c.Login(userFor(i, true), "secret")
			reused := c.OK("UIDL").Lines()
			c.Quit()

			require.Len(t, s.msgs, len(list), "messages")
			// Dovecot's UIDVALIDITY, from the time when the spool has none
			// or when it renumbers: the time that assignUIDs is given.
			_, u, _ := strings.Cut(uidl[0], " ")
			validity, err := strconv.ParseUint(u[8:], 16, 32)
			require.NoError(t, err)
			assignUIDs(s, time.Unix(int64(validity), 0))
			ids := uidls(s, true)
			dovecotIDs := uidls(s, false)
			assert.Len(t, slices.Compact(slices.Sorted(slices.Values(ids))), len(ids), "unique-ids repeated")
			// The second user's Dovecot made its own UIDVALIDITY, maybe a
			// second later, when the spool has none.
			reusedIDs := ids
			for i := range s.msgs {
				if _, u, _ := strings.Cut(reused[i], " "); s.msgs[i].xuidl == "" && len(u) == 16 {
					v, err := strconv.ParseUint(u[8:], 16, 32)
					require.NoError(t, err)
					other := *s
					other.uidValidity = uint32(v)
					reusedIDs = uidls(&other, true)
					break
				}
			}
			seen := make(map[string]int)
			for _, l := range reused {
				_, u, _ := strings.Cut(l, " ")
				seen[u]++
			}
			for i := range s.msgs {
				m := &s.msgs[i]
				plain, err := io.ReadAll(m.reader(strings.NewReader(raw)))
				require.NoError(t, err)
				shown, err := io.ReadAll(pop3.NewCRLFReader(bytes.NewReader(plain)))
				require.NoError(t, err)
				t.Logf("%d: %q", i+1, abbreviated(raw[m.offset:m.next]))
				size := m.size
				if len(plain) > 0 && !bytes.HasSuffix(plain, []byte("\n")) {
					// Dovecot's RETR adds a CRLF that its LIST does not count.
					size -= 2
				}
				if len(shown) == 0 {
					shown = []byte("\r\n") // Dovecot's RETR sends an empty message as one line end
				}
				assert.Equal(t, string(retr[i]), string(shown), "RETR %d", i+1)
				assert.Equal(t, fmt.Sprintf("%d %d", i+1, size), list[i], "LIST %d", i+1)
				assert.Equal(t, fmt.Sprintf("%d %s", i+1, defaultUIDL(m.uid, s.uidValidity)), uidl[i], "UIDL %d", i+1)
				assert.Equal(t, fmt.Sprintf("%d %s", i+1, dovecotIDs[i]), uidl[i], "UIDL %d without X-UIDLs (WithoutXUIDL)", i+1)
				// Dovecot shows an X-UIDL as it is, even one that RFC 1939
				// forbids (a blank in it or around it, a folded one) or
				// that another message has; uidls shows the default then.
				if _, theirs, _ := strings.Cut(reused[i], " "); pop3.ValidUID(theirs) && seen[theirs] == 1 {
					assert.Equal(t, theirs, reusedIDs[i], "UIDL %d with pop3_reuse_xuidl", i+1)
				} else {
					assert.Contains(t, []string{m.xuidl, defaultUIDL(m.uid, s.uidValidity)}, ids[i], "UIDL %d", i+1)
				}
			}

			// Dovecot rewrote its copy at QUIT: X-IMAPbase, an X-UID on
			// every message, Status on those it gave, LF for the empty
			// line after a header. The copy gives the same UIDs without
			// new ones, and shows the same messages.
			if name == "crlf" {
				// Dovecot breaks a spool with CRLF line ends when it
				// rewrites it: it writes "X-UID: 1\r \n", then two
				// messages with X-UID 3, and lists one message fewer.
				return
			}
			copied, err := os.ReadFile(filepath.Join(dc.Root, userFor(i, false), "inbox"))
			require.NoError(t, err)
			cs, err := parseSpool(bytes.NewReader(copied), int64(len(copied)))
			require.NoError(t, err)
			require.Len(t, cs.msgs, len(s.msgs), "messages in Dovecot's copy")
			assert.Empty(t, assignUIDs(cs, time.Time{}), "UIDs that Dovecot did not write")
			assert.Equal(t, s.uidValidity, cs.uidValidity, "UIDVALIDITY in Dovecot's copy")
			for i := range cs.msgs {
				assert.Equal(t, s.msgs[i].uid, cs.msgs[i].uid, "UID %d in Dovecot's copy", i+1)
				theirs, err := io.ReadAll(pop3.NewCRLFReader(cs.msgs[i].reader(bytes.NewReader(copied))))
				require.NoError(t, err)
				ours, err := io.ReadAll(pop3.NewCRLFReader(s.msgs[i].reader(strings.NewReader(raw))))
				require.NoError(t, err)
				assert.Equal(t, string(ours), string(theirs), "message %d in Dovecot's copy", i+1)
			}
		})
	}
}

// userFor is the Dovecot user that serves a copy of spool i.
func userFor(i int, reuseXUIDL bool) string {
	if reuseXUIDL {
		return fmt.Sprintf("s%d-reuse", i)
	}
	return fmt.Sprintf("s%d", i)
}

// setReuseXUIDL turns pop3_reuse_xuidl on for the users whose names end in
// "-reuse", in Dovecot's passwd-file (which it re-reads when it changes).
func setReuseXUIDL(t *testing.T, dc *dovecottest.Dovecot) {
	t.Helper()
	data, err := os.ReadFile(dc.Users)
	require.NoError(t, err)
	var out strings.Builder
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		user, _, _ := strings.Cut(line, ":")
		if strings.HasSuffix(user, "-reuse") {
			line = strings.TrimSuffix(line, ":") + ":userdb_pop3_reuse_xuidl=yes"
		}
		out.WriteString(line + "\n")
	}
	require.NoError(t, os.WriteFile(dc.Users, []byte(out.String()), 0o644))
}

// abbreviated shortens long runs of one octet, for the log.
func abbreviated(s string) string {
	var b bytes.Buffer
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] == s[i] {
			j++
		}
		if j-i > 20 {
			fmt.Fprintf(&b, "%c×%d", s[i], j-i)
		} else {
			b.WriteString(s[i:j])
		}
		i = j
	}
	return b.String()
}
