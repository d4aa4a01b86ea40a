package maildir_test

import (
	"context"
	"fmt"
	"math/rand/v2"
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
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/pop3test"
)

// Dovecot and this package serve copies of one generated Maildir: every
// listing, unique-id and message must be the same, byte for byte, before
// and after a session that deletes; then Dovecot reads the uidlist that we
// wrote and shows the same unique-ids.
func TestSameAsDovecot(t *testing.T) {
	dc := dovecottest.Start(t, "theirs", "ours")
	gen := generateMaildir(t, filepath.Join(dc.Root, "theirs", "Maildir"), 2000)
	copyTree(t, filepath.Join(dc.Root, "theirs"), filepath.Join(dc.Root, "ours"))
	dc.Chown(t, "theirs", "ours")

	pw, err := passwd.OpenFile(dc.Users, nil)
	require.NoError(t, err)
	be, err := maildir.New(filepath.Join(dc.Root, "%u", "Maildir"), pw)
	require.NoError(t, err)
	srv := pop3test.NewServer(t, be)

	// A session that reads two messages (RETR and TOP) and quits: both
	// leave the same files, flags and directories.
	for _, addr := range []struct{ addr, user string }{{dc.Addr, "theirs"}, {srv.Addr, "ours"}} {
		c := pop3test.Dial(t, addr.addr)
		c.Login(addr.user, "secret")
		c.OK("RETR 3")
		c.OK("TOP 4 0")
		c.Quit()
	}
	sameLines(t, "files after RETR 3, TOP 4 0, QUIT", layout(t, filepath.Join(dc.Root, "theirs")), layout(t, filepath.Join(dc.Root, "ours")))

	theirs := fetchAll(t, dc.Addr, "theirs")
	ours := fetchAll(t, srv.Addr, "ours")
	require.Equal(t, gen.count, len(theirs.uidl), "Dovecot lists every generated message")
	compareListings(t, theirs, ours)
	shown := make(map[string]bool)
	for _, line := range ours.uidl {
		_, uidl, _ := strings.Cut(line, " ")
		shown[uidl] = true
	}
	for _, uidl := range gen.migrated {
		assert.True(t, shown[uidl], "the migrated unique-id %s (P) is shown", uidl)
	}

	// The same deletions on both sides; the next sessions agree again.
	dele := []int{1, 2, 17, 500, 1999, gen.count}
	deleteAndQuit(t, dc.Addr, "theirs", dele)
	deleteAndQuit(t, srv.Addr, "ours", dele)
	theirs = fetchAll(t, dc.Addr, "theirs")
	ours = fetchAll(t, srv.Addr, "ours")
	require.Equal(t, gen.count-len(dele), len(ours.uidl))
	compareListings(t, theirs, ours)

	// Dovecot on the Maildir that we served, uidlist included: what we
	// wrote there, as root or not, Dovecot can read and write.
	again := fetchAll(t, dc.Addr, "ours")
	sameLines(t, "UIDL by Dovecot after us", ours.uidl, again.uidl)
	sameLines(t, "LIST by Dovecot after us", ours.list, again.list)
}

// Dovecot serves a Maildir as before when it holds the files that this
// package keeps for LOGIN-DELAY, EXPIRE and LIST's downgraded sizes, and
// leaves them as they are.
func TestDovecotIgnoresPolicyFiles(t *testing.T) {
	ctx := context.Background()
	dc := dovecottest.Start(t, "theirs")
	dir := filepath.Join(dc.Root, "theirs", "Maildir")
	generateMaildir(t, dir, 50)
	dc.Chown(t, "theirs")
	before := fetchAll(t, dc.Addr, "theirs")

	pw, err := passwd.OpenFile(dc.Users, nil)
	require.NoError(t, err)
	be, err := maildir.New(filepath.Join(dc.Root, "%u", "Maildir"), pw)
	require.NoError(t, err)
	u, err := be.Login(ctx, nil, "theirs", "secret")
	require.NoError(t, err)
	box, err := u.Open(ctx)
	require.NoError(t, err)
	require.NoError(t, u.(pop3.LoginRecorder).RecordLogin(ctx, time.Now()))
	all := make([]int, len(box.Messages()))
	for i := range all {
		all[i] = i
	}
	require.NoError(t, box.(pop3.RetrievalMailbox).Retrieved(ctx, all, time.Now()))
	require.NoError(t, box.Close())
	files := make(map[string][]byte)
	for _, name := range []string{"pop3-last-login", "pop3-retrieved", "pop3-downgraded-sizes"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		files[name] = data
	}

	after := fetchAll(t, dc.Addr, "theirs")
	assert.Equal(t, before.stat, after.stat, "STAT")
	sameLines(t, "LIST", before.list, after.list)
	sameLines(t, "UIDL", before.uidl, after.uidl)
	assert.Equal(t, before.bodies, after.bodies, "RETR")
	assert.Equal(t, before.tops, after.tops, "TOP")
	for name, data := range files {
		now, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, string(data), string(now), "%s after a Dovecot session", name)
	}
}

// BenchmarkListAfterRestartDovecot is BenchmarkListAfterRestart for
// Dovecot: each "restarted" session is served by a Dovecot started anew,
// which keeps its indexes on disk (dovecot.index, dovecot.index.cache).
func BenchmarkListAfterRestartDovecot(b *testing.B) {
	dc := dovecottest.Start(b, "bob")
	dir := filepath.Join(dc.Root, "bob", "Maildir")
	const n = 10_000
	writeForeign(b, dir, n)
	dc.Chown(b, "bob")
	benchListAfterRestart(b, dir, "bob", "secret", n, func() string {
		dc.Restart(b)
		return dc.Addr
	})
}

// layout lists the message files of a Maildir, sorted, as
// "<dir>/<name>".
func layout(t *testing.T, home string) []string {
	t.Helper()
	var files []string
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(home, "Maildir", sub))
		require.NoError(t, err)
		for _, e := range entries {
			files = append(files, sub+"/"+e.Name())
		}
	}
	slices.Sort(files)
	return files
}

// listing is what a client sees of a maildrop.
type listing struct {
	stat   string
	list   []string
	uidl   []string
	bodies [][]byte
	tops   [][]byte
}

func fetchAll(t *testing.T, addr, username string) listing {
	t.Helper()
	c := pop3test.Dial(t, addr)
	c.Timeout = time.Minute
	c.Login(username, "secret")
	var l listing
	l.stat = c.OK("STAT").Text
	l.list = c.OK("LIST").Lines()
	l.uidl = c.OK("UIDL").Lines()
	for start := 1; start <= len(l.list); start += 100 {
		var cmds []string
		for i := start; i < start+100 && i <= len(l.list); i++ {
			cmds = append(cmds, "RETR "+strconv.Itoa(i))
		}
		for _, r := range c.Pipeline(cmds...) {
			require.True(t, r.OK, "%s: %s", username, r.Line)
			l.bodies = append(l.bodies, r.Body)
		}
	}
	for i := 1; i <= len(l.list); i += 97 {
		for _, n := range []int{0, 2} {
			l.tops = append(l.tops, c.OK(fmt.Sprintf("TOP %d %d", i, n)).Body)
		}
	}
	c.Quit()
	return l
}

func deleteAndQuit(t *testing.T, addr, username string, msgs []int) {
	t.Helper()
	c := pop3test.Dial(t, addr)
	c.Login(username, "secret")
	for _, m := range msgs {
		c.OK("DELE " + strconv.Itoa(m))
	}
	c.Quit()
}

func compareListings(t *testing.T, theirs, ours listing) {
	t.Helper()
	assert.Equal(t, theirs.stat, ours.stat, "STAT")
	sameLines(t, "LIST", theirs.list, ours.list)
	sameLines(t, "UIDL", theirs.uidl, ours.uidl)
	require.Equal(t, len(theirs.bodies), len(ours.bodies))
	for i := range theirs.bodies {
		if strings.HasSuffix(theirs.list[i], " 0") && string(theirs.bodies[i]) == "\r\n" {
			// The one difference, on purpose: for an empty file Dovecot
			// lists 0 octets and then sends an empty line; we send the
			// 0 octets that LIST promised.
			assert.Empty(t, ours.bodies[i], "RETR %d of an empty file", i+1)
			continue
		}
		if !assert.Equal(t, string(theirs.bodies[i]), string(ours.bodies[i]), "RETR %d", i+1) {
			break
		}
	}
	assert.Equal(t, theirs.tops, ours.tops, "TOP")
}

// sameLines reports the first few lines where two listings differ, rather
// than thousands of lines.
func sameLines(t *testing.T, what string, want, got []string) {
	t.Helper()
	var diffs []string
	for i := 0; i < max(len(want), len(got)) && len(diffs) < 5; i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			diffs = append(diffs, fmt.Sprintf("line %d: want %q, got %q", i+1, w, g))
		}
	}
	if len(diffs) > 0 || len(want) != len(got) {
		t.Errorf("%s differs (%d lines, then %d):\n%s", what, len(want), len(got), strings.Join(diffs, "\n"))
	}
}

// generated describes a generated Maildir.
type generated struct {
	count    int
	migrated []string // the P unique-ids of the uidlist
}

// generateMaildir writes n messages in every form the issue names: a
// uidlist with P, W and O extensions whose UID order differs from the file
// names' order, files it does not know yet, old-style names and ",S=,W="
// names, new/ and cur/ with flags, LF and CRLF files, a header-only
// message, an empty file, lines that start with a dot; and things that are
// not messages (tmp/, a dot-file).
func generateMaildir(t *testing.T, dir string, n int) generated {
	t.Helper()
	for _, sub := range []string{"cur", "new", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, sub), 0o700))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	type gen struct {
		name string // without flags
		sub  string
		info string
		data []byte
	}
	files := make([]gen, n)
	for i := range files {
		var body strings.Builder
		fmt.Fprintf(&body, "From: sender%d@example.com\nTo: user@example.com\nSubject: message %d\nMessage-ID: <%d@example.com>\n\n", i, i, i)
		for l := 0; l < 5+rng.IntN(60); l++ {
			switch rng.IntN(8) {
			case 0:
				body.WriteString(".a line that starts with a dot\n")
			case 1:
				body.WriteString("\n")
			default:
				body.WriteString(strings.Repeat("word ", 1+rng.IntN(15)) + "\n")
			}
		}
		data := []byte(body.String())
		switch {
		case i == 7:
			data = []byte("Subject: only a header\nX-Second: line\n")
		case i == 8:
			data = nil
		case i%5 == 0:
			data = []byte(strings.ReplaceAll(string(data), "\n", "\r\n"))
		}
		secs := 1700000000 + i*3 + rng.IntN(3)
		var name string
		switch i % 3 {
		case 0:
			name = fmt.Sprintf("%d.%d_%d.oldhost", secs, 1000+i, i)
		case 1:
			size, err := pop3.CRLFSize(strings.NewReader(string(data)))
			require.NoError(t, err)
			name = fmt.Sprintf("%d.M%dP%d.host,S=%d,W=%d", secs, rng.IntN(1000000), 4000+i, len(data), size)
		default:
			name = fmt.Sprintf("%d.M%dP%d.host", secs, rng.IntN(1000000), 4000+i)
		}
		f := gen{name: name, sub: "cur", info: ":2,S", data: data}
		switch rng.IntN(4) {
		case 0:
			f.sub, f.info = "new", ""
		case 1:
			f.info = ":2,"
		case 2:
			f.info = ":2,FS"
		}
		files[i] = f
		require.NoError(t, os.WriteFile(filepath.Join(dir, f.sub, f.name+f.info), data, 0o600))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tmp", "1700000000.M1P1.host"), []byte("not yet delivered\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cur", ".hidden"), []byte("not a message\n"), 0o600))

	// The uidlist knows three quarters of the files, in an order of its
	// own; the rest get UIDs when first seen.
	known := rng.Perm(n)[:n*3/4]
	var list strings.Builder
	var g generated
	uid := 0
	for _, i := range known {
		uid += 1 + rng.IntN(3)
		fmt.Fprintf(&list, "%d", uid)
		if i%4 == 0 {
			size, err := pop3.CRLFSize(strings.NewReader(string(files[i].data)))
			require.NoError(t, err)
			fmt.Fprintf(&list, " W%d", size)
		}
		if i%40 == 3 {
			fmt.Fprintf(&list, " O%d", 1000-i/40) // a migrated POP3 order
		}
		if i%6 == 1 {
			p := fmt.Sprintf("migrated-%04d", i)
			g.migrated = append(g.migrated, p)
			fmt.Fprintf(&list, " P%s", p)
		}
		fmt.Fprintf(&list, " :%s\n", files[i].name)
	}
	header := fmt.Sprintf("3 V1700000123 N%d G3a5e1d02c8a3dc65a2060000f6e5c2a1\n", uid+5)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dovecot-uidlist"), []byte(header+list.String()), 0o600))
	g.count = n
	return g
}

// copyTree copies a directory tree, keeping modes.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	require.NoError(t, filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		target := filepath.Join(to, rel)
		if info.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm())
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	}))
}
