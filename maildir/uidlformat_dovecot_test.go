package maildir_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/dovecottest"
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/pop3test"
)

// dovecotFormats are pop3_uidl_format values that Dovecot and this package
// must expand alike on a Maildir: the presets, and every modifier, width
// and offset form. (The long names, %{uid} and the others, are not given
// to Dovecot's userdb, which fails the login with them; TestUIDLFormat
// checks them against the short ones.)
var dovecotFormats = []string{
	"%08Xu%08Xv", "%v.%u", "%08Xv%08Xu", "%f", "%v-%u", "%u", "%Mf", "%g",
	"%Uf", "%08u", "%3u.%v", "%4.6f", "%-6.6f", "%-6f",
	"%Hf", "%8Hf", "%Nf", "%100Nf", "%Rf", "%LUf", "%MUf", "%Tf", "%08.4f",
	"x%%%u", "%2.08u",
}

// For each format, Dovecot (given the format through its userdb) and this
// package (given it with WithUIDLFormat) list a copy of the same Maildir
// with the same unique-ids; the messages that the uidlist gives a P
// record keep it under every format.
func TestUIDLFormatSameAsDovecot(t *testing.T) {
	users := make([]string, 0, 2*len(dovecotFormats))
	for i := range dovecotFormats {
		users = append(users, fmt.Sprintf("theirs%d", i), fmt.Sprintf("ours%d", i))
	}
	dc := dovecottest.Start(t, users...)
	template := t.TempDir()
	gen := generateMaildir(t, filepath.Join(template, "Maildir"), 60)
	for _, u := range users {
		copyTree(t, template, filepath.Join(dc.Root, u))
	}
	dc.Chown(t, users...)
	setUserdbFields(t, dc, func(user string) string {
		var i int
		if _, err := fmt.Sscanf(strings.TrimPrefix(user, "theirs"), "%d", &i); err != nil || !strings.HasPrefix(user, "theirs") {
			return ""
		}
		// Dovecot expands %-variables in the extra fields of its
		// passwd-file: %% is a percent sign.
		// pop3_uidl_duplicates=rename is how this package tells
		// duplicates apart (Dovecot's default shows them as they are).
		return "userdb_pop3_uidl_duplicates=rename userdb_pop3_uidl_format=" + strings.ReplaceAll(dovecotFormats[i], "%", "%%")
	})
	pw, err := passwd.OpenFile(dc.Users, nil)
	require.NoError(t, err)

	for i, format := range dovecotFormats {
		t.Run(format, func(t *testing.T) {
			be, err := maildir.New(filepath.Join(dc.Root, "%u", "Maildir"), pw, maildir.WithUIDLFormat(format), maildir.WithLogger(slog.New(slog.DiscardHandler)))
			require.NoError(t, err)
			srv := pop3test.NewServer(t, be)
			theirs := uidls(t, dc.Addr, fmt.Sprintf("theirs%d", i))
			ours := uidls(t, srv.Addr, fmt.Sprintf("ours%d", i))
			require.Len(t, theirs, gen.count)
			sameLines(t, "UIDL with "+format, theirs, ours)
			for _, p := range gen.migrated {
				assert.Contains(t, strings.Join(ours, "\n")+"\n", " "+p+"\n", "the kept unique-id %s", p)
			}
		})
	}
}

// uidls returns the UIDL listing of a user.
func uidls(t *testing.T, addr, username string) []string {
	t.Helper()
	c := pop3test.Dial(t, addr)
	c.Login(username, "secret")
	lines := c.OK("UIDL").Lines()
	c.Quit()
	return lines
}

// setUserdbFields rewrites Dovecot's passwd-file with extra fields for
// each user (Dovecot re-reads the file when it changes).
func setUserdbFields(t *testing.T, dc *dovecottest.Dovecot, fields func(user string) string) {
	t.Helper()
	data, err := os.ReadFile(dc.Users)
	require.NoError(t, err)
	var out strings.Builder
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		user, _, _ := strings.Cut(line, ":")
		out.WriteString(strings.TrimSuffix(line, ":") + ":" + fields(user) + "\n")
	}
	require.NoError(t, os.WriteFile(dc.Users, []byte(out.String()), 0o644))
}

// With pop3_reuse_xuidl, Dovecot and this package show the X-UIDL headers
// of a Maildir whose headers are valid and distinct; where they are not,
// this package shows the format's unique-id and Dovecot the header, which
// RFC 1939 forbids (a space) or repeats.
func TestReuseXUIDLSameAsDovecot(t *testing.T) {
	dc := dovecottest.Start(t, "theirs", "ours")
	messages := []string{
		"X-UIDL: qpopper-0001\nSubject: one\n\nbody\n",
		"Subject: two\nX-UIDL:   spaced-0002  \n\nbody\n",
		"Subject: none\n\nbody\n",
		"x-uidl: lower-case-name\n\nbody\n",
		"X-UIDL: first\nX-UIDL: second\n\nbody\n",
		"X-UIDL: has space\n\nbody\n",                       // invalid: not reused
		"X-UIDL: qpopper-0001\n\nduplicate\n",               // taken: not reused
		"X-UIDL: " + strings.Repeat("l", 71) + "\n\nbody\n", // too long
	}
	for _, u := range []string{"theirs", "ours"} {
		dir := filepath.Join(dc.Root, u, "Maildir")
		for _, sub := range []string{"cur", "new", "tmp"} {
			require.NoError(t, os.MkdirAll(filepath.Join(dir, sub), 0o700))
		}
		for i, m := range messages {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "cur", fmt.Sprintf("17000000%02d.M1P1.host:2,S", i)), []byte(m), 0o600))
		}
	}
	dc.Chown(t, "theirs", "ours")
	setUserdbFields(t, dc, func(string) string { return "userdb_pop3_reuse_xuidl=yes" })
	pw, err := passwd.OpenFile(dc.Users, nil)
	require.NoError(t, err)
	be, err := maildir.New(filepath.Join(dc.Root, "%u", "Maildir"), pw, maildir.WithReuseXUIDL())
	require.NoError(t, err)
	srv := pop3test.NewServer(t, be)

	theirs := uidls(t, dc.Addr, "theirs")
	ours := uidls(t, srv.Addr, "ours")
	require.Len(t, theirs, len(messages))
	require.Len(t, ours, len(messages))
	for _, i := range []int{0, 1, 3, 4} {
		// Dovecot keeps the spaces after the header's value, which RFC
		// 1939 does not allow in a unique-id; this package trims them.
		assert.Equal(t, strings.TrimRight(theirs[i], " \t"), ours[i], "message %d, with a valid and distinct X-UIDL or none", i+1)
	}
	assert.Equal(t, "1 qpopper-0001", ours[0])
	assert.Equal(t, "2 spaced-0002", ours[1])
	assert.Equal(t, "5 first", ours[4], "the first X-UIDL header counts")
	for _, i := range []int{2, 5, 6, 7} {
		_, uidl, _ := strings.Cut(ours[i], " ")
		assert.Regexp(t, `^[0-9a-f]{16}$`, uidl, "message %d shows the format's unique-id (Dovecot shows %q)", i+1, theirs[i])
	}
}

// With WithSaveUIDL the unique-ids are kept in dovecot-uidlist as Dovecot's
// pop3_save_uidl keeps them: a later change of format changes nothing,
// for this package and for Dovecot, which reads the P records, while a
// message delivered after the change shows the new format.
func TestSaveUIDLSurvivesFormatChange(t *testing.T) {
	dc := dovecottest.Start(t, "alice")
	dir := filepath.Join(dc.Root, "alice", "Maildir")
	generateMaildir(t, dir, 40)
	dc.Chown(t, "alice")
	pw, err := passwd.OpenFile(dc.Users, nil)
	require.NoError(t, err)
	template := filepath.Join(dc.Root, "%u", "Maildir")

	saving, err := maildir.New(template, pw, maildir.WithUIDLFormat("uw"), maildir.WithSaveUIDL())
	require.NoError(t, err)
	first := uidls(t, pop3test.NewServer(t, saving).Addr, "alice")
	list, err := os.ReadFile(filepath.Join(dir, "dovecot-uidlist"))
	require.NoError(t, err)
	assert.Equal(t, 40, strings.Count(string(list), " P"), "every record keeps its unique-id:\n%s", list)

	dc.Chown(t, "alice")
	assert.Equal(t, first, uidls(t, dc.Addr, "alice"), "Dovecot, with its default format, shows the kept unique-ids")

	other, err := maildir.New(template, pw, maildir.WithUIDLFormat("%v.%u"), maildir.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	srv := pop3test.NewServer(t, other)
	assert.Equal(t, first, uidls(t, srv.Addr, "alice"), "another format changes nothing")

	require.NoError(t, other.Deliver(t.Context(), "alice", strings.NewReader("Subject: new\n\nafter the change\n")))
	after := uidls(t, srv.Addr, "alice")
	require.Len(t, after, 41)
	assert.Equal(t, first, after[:40])
	assert.Regexp(t, `^41 \d+\.\d+$`, after[40], "a new message shows the format in use")
}
