package interop

import (
	"fmt"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/dovecottest"
	"github.com/gopop3/pop3/internal/pgtest"
	"github.com/gopop3/pop3/internal/syncbuf"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

// This file is issue 29's migration with real programs: users leave a real
// Dovecot for pop3d, and the mpop and fetchmail that kept their mail on
// Dovecot download nothing again.

// migrationPassword is every user's password, on Dovecot (dovecottest's)
// and after the move: a migration keeps the users' passwords, so the
// clients' configurations change only in the port.
const migrationPassword = "secret"

// migrationUsers are the users moved, with the number of generated
// messages of each; alice also gets a message of about 1 MB.
var migrationUsers = []struct {
	name  string
	count int
	large bool
}{
	{"alice", 36, true},
	{"bob", 24, false},
}

// migrationFormat is a pop3_uidl_format of the Dovecot migrated from.
type migrationFormat struct {
	name string
	// settings are the lines added to dovecot.conf.
	settings string
	// uidlFormat is pop3d's -uidl-format for the Maildir destination, the
	// format an operator keeps after the move; "" leaves pop3d's default,
	// which is Dovecot's.
	uidlFormat string
	// shown matches every unique-id Dovecot shows with this format.
	shown *regexp.Regexp
}

var migrationFormats = []migrationFormat{
	{name: "default-format", shown: regexp.MustCompile(`^[0-9a-f]{16}$`)}, // %08Xu%08Xv
	{name: "uidl-format-v.u", settings: "pop3_uidl_format = %v.%u\n", uidlFormat: "%v.%u", shown: regexp.MustCompile(`^[0-9]+\.[0-9]+$`)},
}

// TestMigrationFromDovecot moves users from a real Dovecot (with its
// default pop3_uidl_format, and with %v.%u) to pop3d on a Maildir store
// and on the PostgreSQL store, as issue 29 describes it:
//  1. mpop (only_new, keep) and fetchmail (uidl, keep) download every
//     message from Dovecot, once;
//  2. pop3admin import copies the users into the store, and a second run
//     copies nothing;
//  3. pop3d serves every message with the unique-id and content Dovecot
//     showed, and the same mpop and fetchmail state, pointed at pop3d,
//     downloads nothing;
//  4. a message delivered to pop3d over LMTP is the only one they fetch.
func TestMigrationFromDovecot(t *testing.T) {
	t.Parallel()
	clients := migrationPrograms{
		mpop:      requireClient(t, "mpop", "mpop"),
		fetchmail: requireClient(t, "fetchmail", "fetchmail"),
	}
	bins := t.TempDir()
	clients.pop3d = buildPop3d(t, bins)
	clients.pop3admin = buildCommand(t, bins, "pop3admin")
	for _, format := range migrationFormats {
		for _, dest := range []string{"maildir", "postgres"} {
			t.Run(format.name+"/"+dest, func(t *testing.T) {
				t.Parallel()
				testMigration(t, clients, format, dest)
			})
		}
	}
}

// migrationPrograms are the programs a migration runs.
type migrationPrograms struct {
	mpop, fetchmail, pop3d, pop3admin string
}

// testMigration moves the users of migrationUsers from a Dovecot with
// format to a dest store ("maildir" or "postgres"). Dovecot keeps running
// after the move, on its own port: a client still talking to it would
// fetch nothing too, so the runs against pop3d check that they reached
// pop3d's port, and step 4 that they see what only pop3d has.
func testMigration(t *testing.T, progs migrationPrograms, format migrationFormat, dest string) {
	var names []string
	for _, u := range migrationUsers {
		names = append(names, u.name)
	}
	dc := dovecottest.StartWith(t, dovecottest.Options{Settings: format.settings}, names...)
	want := make(map[string][]memory.Message)
	total := 0
	for _, u := range migrationUsers {
		want[u.name] = putDovecotMail(t, dc, u.name, migrationMaildrop(u.name, u.count, u.large))
		total += len(want[u.name])
	}
	dc.Chown(t, names...)

	// 1. The clients keep the mail on Dovecot and remember its unique-ids.
	c := newMigrationClients(t, progs, names)
	c.pointAt(t, dc.Addr)
	mr, fr := c.run(t, 0)
	for _, u := range names {
		assertMpopNew(t, mr, u, len(want[u]))
		assertFetchmailNew(t, fr, u, len(want[u]))
	}
	c.assertDelivered(t, want)
	before := make(map[string]uidlMaildrop)
	for _, u := range names {
		before[u] = readUIDLMaildrop(t, dc.Addr, u)
		require.Len(t, before[u], len(want[u]), "Dovecot kept %s's messages", u)
		for id := range before[u] {
			require.Regexp(t, format.shown, id, "Dovecot's unique-id for %s", format.name)
		}
	}

	// 2. pop3admin import, twice: the second run finds it all copied.
	store := newMigrationStore(t, progs.pop3admin, dest, names)
	usersFile := writeFile(t, t.TempDir(), "users", migrationUsersFile(names), 0o600)
	state := filepath.Join(t.TempDir(), "import-state")
	importArgs := append(append(slices.Clone(store.adminArgs), "import", "-from", "pop3://"+dc.Addr,
		"-users", usersFile, "-state", state), store.importArgs...)
	home := t.TempDir()
	r := runClient(t, home, nil, nil, progs.pop3admin, importArgs...)
	for _, u := range names {
		assert.Regexp(t, importLine(u, len(want[u]), len(want[u]), 0), r.stdout, "%s", r)
	}
	assert.Contains(t, r.stdout, fmt.Sprintf("import: %d users, %d done, 0 failed; %d messages copied, 0 already copied, 0 deleted, 0 skipped",
		len(names), len(names), total), "%s", r)
	r = runClient(t, home, nil, nil, progs.pop3admin, importArgs...)
	for _, u := range names {
		assert.Regexp(t, importLine(u, len(want[u]), 0, len(want[u])), r.stdout, "%s", r)
	}
	assert.Contains(t, r.stdout, fmt.Sprintf("import: %d users, %d done, 0 failed; 0 messages copied, %d already copied, 0 deleted, 0 skipped",
		len(names), len(names), total), "the rerun copies nothing\n%s", r)

	// 3. pop3d serves what Dovecot served, under the same unique-ids.
	pop3dAddr, lmtpAddr := store.startPop3d(t, progs.pop3d, format.uidlFormat)
	for _, u := range names {
		assertSameMaildrop(t, before[u], readUIDLMaildrop(t, pop3dAddr, u), u)
	}
	// The same client state, only the port changed: nothing to fetch.
	c.pointAt(t, pop3dAddr)
	delivered := c.listings(t)
	mr, fr = c.run(t, fetchmailNoMail)
	for _, u := range names {
		assertMpopNew(t, mr, u, 0)
		assertFetchmailNew(t, fr, u, 0)
	}
	assert.Equal(t, delivered, c.listings(t), "nothing was delivered from pop3d")
	c.assertDelivered(t, want)

	// 4. One message arrives at pop3d: it is the only one fetched.
	const from, rcpt = "carol@example.org", "alice@example.org"
	msg := "From: Carol <carol@example.org>\r\nTo: Alice <alice@example.org>\r\n" +
		"Subject: the first message after the move\r\nMessage-ID: <after-the-move@migration.test>\r\n" +
		"\r\nDelivered by pop3d.\r\n.a line that starts with a dot\r\n"
	lmtpDeliver(t, lmtpAddr, from, rcpt, msg)
	// pop3d's LMTP adds these, as Dovecot's LMTP does.
	want["alice"] = append(want["alice"], memory.Message{
		Data: []byte("Return-Path: <" + from + ">\r\nDelivered-To: " + rcpt + "\r\n" + msg)})
	mr, fr = c.run(t, 0)
	for _, u := range names {
		n := 0
		if u == "alice" {
			n = 1
		}
		assertMpopNew(t, mr, u, n)
		assertFetchmailNew(t, fr, u, n)
	}
	c.assertDelivered(t, want)
	after := readUIDLMaildrop(t, pop3dAddr, "alice")
	assert.Len(t, after, len(want["alice"]))
	for id := range after {
		if _, old := before["alice"][id]; !old {
			assert.True(t, strings.Contains(string(after[id]), "<after-the-move@migration.test>"),
				"the one new unique-id, %q, is the new message's", id)
		}
	}

	// And once more: nothing.
	delivered = c.listings(t)
	mr, fr = c.run(t, fetchmailNoMail)
	for _, u := range names {
		assertMpopNew(t, mr, u, 0)
		assertFetchmailNew(t, fr, u, 0)
	}
	assert.Equal(t, delivered, c.listings(t), "nothing more was delivered")
}

// migrationMaildrop generates n messages for user, varied as a real
// maildrop is: bare LF and CRLF line ends, lines that need dot-stuffing,
// 8-bit UTF-8 and Latin-1, an empty body, a long line, then a message that
// is a header alone (no empty line after it) and, when large is set, one
// of about 1 MB. Each has its own Message-ID.
func migrationMaildrop(user string, n int, large bool) []string {
	var msgs []string
	for i := 1; i <= n; i++ {
		header := fmt.Sprintf("From: Carol <carol@example.org>\nTo: %[1]s <%[1]s@example.org>\n"+
			"Subject: message %[2]d for %[1]s\nDate: Mon, 01 Jan 2024 10:%02[3]d:00 +0000\n"+
			"Message-ID: <%[1]s-%[2]d@migration.test>\n", user, i, i%60)
		var body string
		switch i % 6 {
		case 0:
			body = ".\n..\n.a line that starts with a dot\n. dot and space\n...\nend\n"
		case 1:
			header += "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n"
			body = "Grüße aus Köln — 8-bit UTF-8.\n日本語のテキスト, Ελληνικά ✉\n"
		case 2:
			header += "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n"
			body = "Latin-1, not UTF-8: caf\xe9, na\xefve, \xa9 2024\n"
		case 3:
			body = "" // an empty body after the empty line
		case 4:
			body = strings.Repeat("a long line of 990 octets ", 39)[:990] + "\nshort\n"
		case 5:
			body = "first paragraph\n\n\nafter two empty lines\n\t indented\n"
		}
		m := header + "\n" + body
		if (i/6)%2 == 1 {
			m = strings.ReplaceAll(m, "\n", "\r\n")
		}
		msgs = append(msgs, m)
	}
	msgs = append(msgs, fmt.Sprintf("From: Carol <carol@example.org>\nTo: %[1]s@example.org\n"+
		"Subject: a header and nothing else\nMessage-ID: <%[1]s-header-only@migration.test>\n", user))
	if large {
		msgs = append(msgs, migrationLargeMessage(user))
	}
	return msgs
}

// migrationLargeMessage is a message of about 1 MB with LF line ends, dot
// lines and empty lines in its body.
func migrationLargeMessage(user string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Carol <carol@example.org>\nTo: %[1]s@example.org\nSubject: a large message\n"+
		"Message-ID: <%[1]s-large@migration.test>\n\n", user)
	for i := 1; b.Len() < 1<<20; i++ {
		switch {
		case i%101 == 0:
			b.WriteString(".\n")
		case i%53 == 0:
			fmt.Fprintf(&b, ".line %06d starts with a dot\n", i)
		case i%37 == 0:
			b.WriteString("\n")
		default:
			fmt.Fprintf(&b, "line %06d %s\n", i, strings.Repeat("0123456789", 6))
		}
	}
	return b.String()
}

// putDovecotMail writes msgs into user's Maildir under Dovecot, as a
// delivery agent would: most in new/, every third in cur/ as already seen
// (by an IMAP client, say), which POP3 lists all the same. It returns the
// messages as POP3 serves them, with CRLF line ends. The caller chowns the
// home.
func putDovecotMail(t *testing.T, dc *dovecottest.Dovecot, user string, msgs []string) []memory.Message {
	t.Helper()
	md := makeMaildir(t, filepath.Join(dc.Root, user, "Maildir"))
	var served []memory.Message
	for i, m := range msgs {
		name := fmt.Sprintf("%d.M%dP4242.migration", 1700000000+i, i)
		path := filepath.Join(md, "new", name)
		if i%3 == 2 {
			path = filepath.Join(md, "cur", name+":2,S")
		}
		require.NoError(t, os.WriteFile(path, []byte(m), 0o600))
		served = append(served, memory.Message{Data: toCRLF([]byte(m))})
	}
	return served
}

// migrationClients are one mpop and one fetchmail, each with an account
// for every user, their UIDL state and the directories they deliver to.
type migrationClients struct {
	progs migrationPrograms
	users []string
	home  string
	// mpopDirs are the Maildirs mpop delivers to, by user; mpopRC its
	// configuration, mpopUIDLs its uidls_file.
	mpopDirs      map[string]string
	mpopRC        string
	mpopUIDLs     string
	fetchmailDirs map[string]string // where fetchmail's MDA writes, by user
	fetchmailRC   string
	fmHome        string // FETCHMAILHOME, which holds .fetchids
	mda           string
	local         string // the local user fetchmail delivers for
	port          string // the server's port, as pointAt last set it
}

func newMigrationClients(t *testing.T, progs migrationPrograms, users []string) *migrationClients {
	t.Helper()
	c := &migrationClients{progs: progs, users: users, home: t.TempDir(),
		mpopDirs: make(map[string]string), fetchmailDirs: make(map[string]string), local: "nobody"}
	if u, err := user.Current(); err == nil {
		c.local = u.Username
	}
	c.mpopUIDLs = filepath.Join(c.home, "mpop-uidls")
	c.fmHome = filepath.Join(c.home, "fetchmailhome")
	require.NoError(t, os.Mkdir(c.fmHome, 0o700))
	c.mda = writeFile(t, c.home, "deliver.sh", fetchmailDeliver, 0o755)
	for _, u := range users {
		c.mpopDirs[u] = makeMaildir(t, filepath.Join(c.home, "mpop-"+u))
		c.fetchmailDirs[u] = filepath.Join(c.home, "fetchmail-"+u)
		require.NoError(t, os.Mkdir(c.fetchmailDirs[u], 0o700))
	}
	return c
}

// pointAt (re)writes both clients' configurations for the server at
// addr. The host is always 127.0.0.1 and the users are the same: mpop's
// uidls_file keys its lists by host name and user (" COUNT HOST USER"),
// and fetchmail's .fetchids by "USER@HOST", neither by the port, so the
// state written against Dovecot applies to pop3d on another port.
func (c *migrationClients) pointAt(t *testing.T, addr string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	require.Equal(t, loopback, host)
	c.port = port

	var rc strings.Builder
	fmt.Fprintf(&rc, "defaults\ntimeout 30\nhost %s\nport %s\nauth user\ntls off\n"+
		"pipelining auto\nkeep on\nonly_new on\nuidls_file %s\n", loopback, port, c.mpopUIDLs)
	for _, u := range c.users {
		fmt.Fprintf(&rc, "\naccount %s\nuser %s\npassword %s\ndelivery maildir %s\n", u, u, migrationPassword, c.mpopDirs[u])
	}
	// mpop and fetchmail refuse configuration files that others can read.
	c.mpopRC = writeFile(t, c.home, "mpoprc", rc.String(), 0o600)

	rc.Reset()
	rc.WriteString("set no syslog\nset no bouncemail\n")
	fmt.Fprintf(&rc, "poll %s port %s proto POP3 uidl timeout 30\n", loopback, port)
	for _, u := range c.users {
		fmt.Fprintf(&rc, "  user %q there with password %q is %q here\n", u, migrationPassword, c.local)
		fmt.Fprintf(&rc, "    keep sslproto '' no rewrite mda %q\n", c.mda+" "+c.fetchmailDirs[u])
	}
	c.fetchmailRC = writeFile(t, c.home, "fetchmailrc", rc.String(), 0o600)
}

// run runs mpop for every account, then fetchmail once; fetchmail must
// exit with fetchmailStatus (0 when mail was delivered, fetchmailNoMail
// when none was).
func (c *migrationClients) run(t *testing.T, fetchmailStatus int) (mpop, fetchmail clientRun) {
	t.Helper()
	mpop = runClient(t, c.home, nil, nil, c.progs.mpop, "--file="+c.mpopRC, "--all-accounts")
	fetchmail = runClient(t, c.home, []string{"FETCHMAILHOME=" + c.fmHome}, []int{fetchmailStatus}, c.progs.fetchmail,
		"--verbose", "--nodetach", "--pidfile", filepath.Join(c.fmHome, "fetchmail.pid"), "--fetchmailrc", c.fetchmailRC)
	// Fetching nothing proves little unless it was the intended server
	// that had nothing: fetchmail's --verbose names the port it reached.
	// (mpop's configuration comes from the same pointAt.)
	require.Contains(t, fetchmail.stdout, "Trying to connect to "+loopback+"/"+c.port+"...connected.", "%s", fetchmail)
	return mpop, fetchmail
}

// assertDelivered checks that each client delivered exactly want, each
// message once, byte for byte once its trace header is removed.
func (c *migrationClients) assertDelivered(t *testing.T, want map[string][]memory.Message) {
	t.Helper()
	for _, u := range c.users {
		assertDelivered(t, want[u], readMaildir(t, c.mpopDirs[u]), mpopAdded...)
		// fetchmail ends a header that has no empty line after it with
		// one, as it writes the message to its MDA.
		var fm []memory.Message
		for _, m := range want[u] {
			if !strings.Contains(string(m.Data), "\r\n\r\n") {
				m.Data = append(slices.Clone(m.Data), "\r\n"...)
			}
			fm = append(fm, m)
		}
		assertDelivered(t, fm, readFiles(t, c.fetchmailDirs[u]), fetchmailAdded...)
	}
}

// listings are the names of the files the clients delivered, by directory.
func (c *migrationClients) listings(t *testing.T) map[string][]string {
	t.Helper()
	out := make(map[string][]string)
	var dirs []string
	for _, u := range c.users {
		dirs = append(dirs, filepath.Join(c.mpopDirs[u], "new"), filepath.Join(c.mpopDirs[u], "cur"), c.fetchmailDirs[u])
	}
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		require.NoError(t, err)
		names := []string{}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		out[d] = names
	}
	return out
}

// assertMpopNew checks mpop's report of the new messages of account user.
func assertMpopNew(t *testing.T, r clientRun, user string, n int) {
	t.Helper()
	want := "no messages"
	switch {
	case n == 1:
		want = "1 message in"
	case n > 1:
		want = fmt.Sprintf("%d messages in", n)
	}
	assert.Regexp(t, regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(user+" at "+loopback+":")+`\nnew: `+regexp.QuoteMeta(want)),
		r.stdout, "mpop: %d new for %s\n%s", n, user, r)
}

// fetchmailCount is fetchmail's "N messages (S seen) for USER at HOST".
var fetchmailCount = regexp.MustCompile(`(?m)^([0-9]+) messages? (?:\(([0-9]+) seen\) )?for ([^ ]+) at `)

// assertFetchmailNew checks that fetchmail found n messages it had not
// seen for user.
func assertFetchmailNew(t *testing.T, r clientRun, user string, n int) {
	t.Helper()
	for _, m := range fetchmailCount.FindAllStringSubmatch(r.stdout, -1) {
		if m[3] != user {
			continue
		}
		total, _ := strconv.Atoi(m[1])
		seen, _ := strconv.Atoi(m[2])
		assert.Equal(t, n, total-seen, "fetchmail: new messages for %s\n%s", user, r)
		return
	}
	assert.Fail(t, "fetchmail did not count "+user+"'s messages", "%s", r)
}

// importLine matches pop3admin import's line for user.
func importLine(user string, onSource, copied, already int) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`(?m)^%s: %d on the source, %d copied, %d already copied, 0 deleted \(`,
		regexp.QuoteMeta(user), onSource, copied, already))
}

// migrationUsersFile is pop3admin import's -users file: the users'
// passwords on the source.
func migrationUsersFile(users []string) string {
	var b strings.Builder
	b.WriteString("# the users' passwords on Dovecot\n")
	for _, u := range users {
		fmt.Fprintf(&b, "%s:%s\n", u, migrationPassword)
	}
	return b.String()
}

// migrationStore is the destination: Maildirs with a passwd-file, or a
// PostgreSQL database.
type migrationStore struct {
	maildir bool
	// adminArgs come before pop3admin's command, importArgs after
	// import's flags, pop3dArgs are pop3d's.
	adminArgs, importArgs, pop3dArgs []string
}

// newMigrationStore makes an empty store of kind dest ("maildir" or
// "postgres") with users, whose password is migrationPassword.
func newMigrationStore(t *testing.T, pop3admin, dest string, users []string) *migrationStore {
	t.Helper()
	switch dest {
	case "maildir":
		root := t.TempDir()
		var lines strings.Builder
		for _, u := range users {
			fmt.Fprintf(&lines, "%s:{PLAIN}%s\n", u, migrationPassword)
		}
		pw := writeFile(t, root, "passwd", lines.String(), 0o600)
		args := []string{"-maildir", filepath.Join(root, "%u", "Maildir"), "-passwd", pw}
		return &migrationStore{maildir: true, importArgs: args, pop3dArgs: args}
	case "postgres":
		dsn := pgtest.NewDatabase(t)
		s := &migrationStore{adminArgs: []string{"-postgres", dsn}, pop3dArgs: []string{"-postgres", dsn}}
		runClient(t, t.TempDir(), nil, nil, pop3admin, "-postgres", dsn, "migrate")
		for _, u := range users {
			adminWithStdin(t, pop3admin, migrationPassword+"\n", "-postgres", dsn, "useradd", "-s", "SHA512-CRYPT", u)
		}
		return s
	}
	t.Fatalf("unknown destination %q", dest)
	return nil
}

// adminWithStdin runs pop3admin with stdin, which must succeed.
func adminWithStdin(t *testing.T, pop3admin, stdin string, args ...string) {
	t.Helper()
	cmd := exec.Command(pop3admin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "pop3admin %s: %s", strings.Join(args, " "), out)
}

// startPop3d runs pop3d on the store, with POP3 on a free port of
// 127.0.0.1 and LMTP, until the test ends, and returns their addresses.
// uidlFormat, when set, is its -uidl-format (Maildir only).
func (s *migrationStore) startPop3d(t *testing.T, bin, uidlFormat string) (addr, lmtpAddr string) {
	t.Helper()
	lmtpAddr = net.JoinHostPort(loopback, strconv.Itoa(freePort(t)))
	args := append([]string{"-addr", loopback + ":0", "-tls-addr", "", "-lmtp", lmtpAddr,
		"-auth-failure-delay", "0", "-shutdown-grace", "1s"}, s.pop3dArgs...)
	if uidlFormat != "" && s.maildir {
		args = append(args, "-uidl-format", uidlFormat)
	}
	m := runPop3d(t, bin, regexp.MustCompile(`serving POP3 on (\S+)`), &syncbuf.Buffer{}, args...)
	return m[1], lmtpAddr
}

// uidlMaildrop is a maildrop as POP3 shows it: each message's content by
// its unique-id.
type uidlMaildrop map[string][]byte

// readUIDLMaildrop logs in to the POP3 server at addr as user and reads
// every message under its unique-id, leaving the maildrop as it was.
func readUIDLMaildrop(t *testing.T, addr, user string) uidlMaildrop {
	t.Helper()
	c := pop3test.Dial(t, addr)
	c.Login(user, migrationPassword)
	drop := make(uidlMaildrop)
	for _, line := range c.OK("UIDL").Lines() {
		num, id, ok := strings.Cut(line, " ")
		require.True(t, ok, "UIDL line %q", line)
		_, dup := drop[id]
		require.False(t, dup, "unique-id %q shown twice", id)
		drop[id] = c.OK("RETR " + num).Body
	}
	c.Quit()
	return drop
}

// assertSameMaildrop checks that got has the unique-ids of want, each with
// the same content.
func assertSameMaildrop(t *testing.T, want, got uidlMaildrop, user string) {
	t.Helper()
	assert.ElementsMatch(t, mapKeys(want), mapKeys(got), "%s's unique-ids after the move", user)
	for id, w := range want {
		if g, ok := got[id]; ok {
			assertSameBytes(t, w, g, "%s's message %s", user, id)
		}
	}
}

func mapKeys(m uidlMaildrop) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// lmtpDeliver delivers msg (CRLF line ends) from sender to one recipient
// over LMTP (RFC 2033), as an MTA does, and requires the recipient's 250.
func lmtpDeliver(t *testing.T, addr, sender, rcpt, msg string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(clientTimeout)))
	tp := textproto.NewConn(conn)
	expect := func(code int, cmd string) {
		t.Helper()
		_, text, err := tp.ReadResponse(code)
		require.NoError(t, err, "LMTP %s: %s", cmd, text)
	}
	expect(220, "greeting")
	for _, step := range []struct {
		cmd  string
		code int
	}{
		{"LHLO migration.test", 250},
		{"MAIL FROM:<" + sender + ">", 250},
		{"RCPT TO:<" + rcpt + ">", 250},
		{"DATA", 354},
	} {
		require.NoError(t, tp.PrintfLine("%s", step.cmd))
		expect(step.code, step.cmd)
	}
	w := tp.DotWriter()
	_, err = w.Write([]byte(msg))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	expect(250, "DATA for "+rcpt) // one reply per recipient
	require.NoError(t, tp.PrintfLine("QUIT"))
	expect(221, "QUIT")
}
