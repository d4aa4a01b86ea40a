package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/dovecottest"
	"github.com/gopop3/pop3/internal/testcert"
	"github.com/gopop3/pop3/internal/testprog"
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/pop3test"
)

// This file runs import against real programs: Dovecot as the source,
// PostgreSQL and the Maildirs as destinations.

// dovecotMail puts messages into a Dovecot user's Maildir, as a delivery
// agent would, and returns what Dovecot's POP3 shows: each message's
// unique-id and content, in order.
func dovecotMail(t *testing.T, dc *dovecottest.Dovecot, user string, msgs ...string) []fakeMessage {
	t.Helper()
	md := filepath.Join(dc.Root, user, "Maildir")
	for _, d := range []string{"new", "cur", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(md, d), 0o700))
	}
	for i, m := range msgs {
		name := fmt.Sprintf("%d.M%dP1.test", 1700000000+i, i)
		require.NoError(t, os.WriteFile(filepath.Join(md, "new", name), []byte(m), 0o600))
	}
	dc.Chown(t, user)
	c := pop3test.Dial(t, dc.Addr)
	c.Login(user, "secret")
	var shown []fakeMessage
	for _, l := range c.OK("UIDL").Lines() {
		num, uidl, _ := strings.Cut(l, " ")
		shown = append(shown, fakeMessage{uidl, c.OK("RETR " + num).Body})
	}
	c.Quit()
	require.Len(t, shown, len(msgs))
	return shown
}

// A master user logs in as each user ("user*master"), against a real
// Dovecot with auth_master_user_separator and a master passdb, and the
// unique-ids and contents Dovecot shows are kept.
func TestImportDovecotMaster(t *testing.T) {
	masterDir, err := os.MkdirTemp("", "pop3-master-") // read by Dovecot's auth process
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(masterDir) })
	require.NoError(t, os.Chmod(masterDir, 0o755))
	masters := filepath.Join(masterDir, "masters")
	require.NoError(t, os.WriteFile(masters, []byte("admin:{PLAIN}master-secret\n"), 0o644))
	dc := dovecottest.StartWith(t, dovecottest.Options{Settings: fmt.Sprintf(`auth_master_user_separator = *
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %s
  master = yes
  pass = yes
}
`, masters)}, "alice", "bob")
	want := map[string][]fakeMessage{
		"alice": dovecotMail(t, dc, "alice", "Subject: a1\n\n.dot\n", "Subject: a2\n\nno end"),
		"bob":   dovecotMail(t, dc, "bob", "Subject: b1\n\nbody\n"),
	}

	target := newFakeTarget("alice", "bob")
	ti := newTestImporter(t, dc.Addr, target)
	ti.master, ti.masterPassword = "admin", "wrong"
	out, err := ti.runOnce(t, importAccount{name: "alice"})
	require.Error(t, err)
	assert.Contains(t, out, `alice: FAILED: logging in to the source as "alice*admin": PASS: -ERR`)
	assert.NotContains(t, out, "wrong")

	ti.masterPassword = "master-secret"
	out, err = ti.runOnce(t, importAccount{name: "alice"}, importAccount{name: "bob"})
	require.NoError(t, err, out)
	assert.Regexp(t, userLine("alice", 2, 2, 0, 0), out)
	assert.Regexp(t, userLine("bob", 1, 1, 0, 0), out)
	for user, msgs := range want {
		assert.Equal(t, msgs, target.messages(user), user)
	}
	assert.Regexp(t, `^[0-9a-f]{16}$`, want["alice"][0].uidl, "Dovecot's default %%08Xu%%08Xv")

	// Not one message twice, and the master login deletes with -delete.
	ti.delete = true
	out, err = ti.runOnce(t, importAccount{name: "alice"}, importAccount{name: "bob"})
	require.NoError(t, err, out)
	assert.Regexp(t, userLine("alice", 2, 0, 2, 2), out)
	c := pop3test.Dial(t, dc.Addr)
	c.Login("alice", "secret")
	assert.Empty(t, c.OK("UIDL").Lines(), "Dovecot deleted them at QUIT")
	c.Quit()
}

// readMaildrop reads what a store serves to the user: unique-id and
// content of each message, in order.
func readMaildrop(t *testing.T, b pop3.Backend, user, password string) []fakeMessage {
	t.Helper()
	ctx := context.Background()
	u, err := b.Login(ctx, &pop3.ConnInfo{}, user, password)
	require.NoError(t, err)
	mb, err := u.Open(ctx)
	require.NoError(t, err)
	defer mb.Close()
	var msgs []fakeMessage
	for i, info := range mb.Messages() {
		r, err := mb.Message(ctx, i)
		require.NoError(t, err)
		data, err := io.ReadAll(r)
		require.NoError(t, err)
		require.NoError(t, r.Close())
		msgs = append(msgs, fakeMessage{info.UID, data})
	}
	return msgs
}

// sourceMaildrop is the source's maildrop as fakeMessages.
func sourceMaildrop(t *testing.T, be *memory.Backend, user string) []fakeMessage {
	t.Helper()
	ms, err := be.Messages(user)
	require.NoError(t, err)
	var out []fakeMessage
	for _, m := range ms {
		out = append(out, fakeMessage{m.UID, m.Data})
	}
	return out
}

// The command into PostgreSQL: from pop3s with -ca, then pop3 with STLS;
// a wrong password fails that user only, with exit status 1; reruns copy
// nothing; the store serves the unique-ids.
func TestImportPostgres(t *testing.T) {
	dsn, b := testDB(t)
	ctx := context.Background()
	for _, u := range []string{"alice", "bob", "carol"} {
		require.NoError(t, b.AddUser(ctx, u, "{PLAIN}"+u+"-new"))
	}
	certs := testcert.New(t)
	be, srv := sourceWith(t, map[string][]string{
		"alice": awkward,
		"bob":   {"Subject: b\n\nbob\n"},
		"carol": {"Subject: c\n\ncarol\n"},
	}, pop3test.WithConfig(func(s *pop3.Server) { s.TLSConfig = certs.ServerTLS }))
	dir := t.TempDir()
	ca := certs.WriteCAFile(t, dir)
	users := filepath.Join(dir, "users")
	require.NoError(t, os.WriteFile(users, []byte("# the old server's passwords\nalice:alice-pw\nbob:wrong\ncarol:carol-pw\n"), 0o600))
	state := filepath.Join(dir, "state")

	r := runAdmin(t, "", "-postgres", dsn, "import", "-from", "pop3s://"+srv.TLSAddr, "-users", users, "-state", state)
	require.Equal(t, 1, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "alice: FAILED: TLS with "+srv.TLSAddr, "the test CA is not trusted without -ca")
	assert.Contains(t, r.stdout, "certificate signed by unknown authority")

	r = runAdmin(t, "", "-postgres", dsn, "import", "-from", "pop3s://"+srv.TLSAddr, "-ca", ca, "-users", users, "-state", state)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "pop3admin: import: 1 of 3 users failed: bob\n", r.stderr)
	assert.Regexp(t, userLine("alice", len(awkward), len(awkward), 0, 0), r.stdout)
	assert.Regexp(t, userLine("carol", 1, 1, 0, 0), r.stdout)
	assert.Contains(t, r.stdout, `bob: FAILED: logging in to the source as "bob": PASS: -ERR [AUTH]`)
	assert.NotContains(t, r.stdout+r.stderr, "wrong")
	assert.NotContains(t, r.stdout+r.stderr, "alice-pw")
	for _, u := range []string{"alice", "carol"} {
		assert.Equal(t, sourceMaildrop(t, be, u), readMaildrop(t, b, u, u+"-new"), u)
	}

	require.NoError(t, os.WriteFile(users, []byte("alice:alice-pw\nbob:bob-pw\ncarol:carol-pw\n"), 0o600))
	t.Setenv(dsnEnv, dsn)
	r = runAdmin(t, "", "import", "-from", "pop3://"+srv.Addr, "-ca", ca, "-users", users, "-state", state)
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Regexp(t, userLine("alice", len(awkward), 0, len(awkward), 0), r.stdout)
	assert.Regexp(t, userLine("bob", 1, 1, 0, 0), r.stdout)
	assert.Contains(t, r.stdout, "import: 3 users, 3 done, 0 failed; 1 messages copied, "+fmt.Sprint(len(awkward)+1)+" already copied, 0 deleted, 0 skipped")
	for _, u := range []string{"alice", "bob", "carol"} {
		assert.Equal(t, sourceMaildrop(t, be, u), readMaildrop(t, b, u, u+"-new"), u)
	}
	listed, err := b.Listing(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, len(awkward), len(listed))

	r = runAdmin(t, "", "import", "-from", "pop3s://"+srv.TLSAddr, "-insecure-skip-verify", "-users", users, "-state", state)
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stderr, "warning: -insecure-skip-verify: the source's certificate is not checked")
	assert.Contains(t, r.stdout, "import: 3 users, 3 done, 0 failed; 0 messages copied")

	// The journal was for PostgreSQL: a Maildir import with the same
	// state is refused rather than misled.
	pw := filepath.Join(dir, "passwd")
	require.NoError(t, os.WriteFile(pw, []byte("alice:{PLAIN}x\n"), 0o600))
	t.Setenv(dsnEnv, "")
	r = runAdmin(t, "", "import", "-from", "pop3://"+srv.Addr, "-ca", ca, "-users", users, "-state", state,
		"-maildir", filepath.Join(dir, "%u"), "-passwd", pw, "-parallel", "1")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, "alice: FAILED: the journal was written for another destination")
}

// -master reads the master password from stdin, and the users from the
// arguments.
func TestImportMasterFlag(t *testing.T) {
	dsn, b := testDB(t)
	ctx := context.Background()
	require.NoError(t, b.AddUser(ctx, "alice", "{PLAIN}x"))
	s := newScriptServer(t, &scriptServer{capa: []string{"USER", "UIDL"}, user: "alice*admin", pass: "master pw",
		msgs: []scriptMessage{{"m1", "Subject: 1\r\n\r\none\r\n"}}})
	r := runAdmin(t, "master pw\n", "-postgres", dsn, "import", "-from", "pop3://"+s.addr, "-master", "admin", "-state", t.TempDir(), "alice")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Regexp(t, userLine("alice", 1, 1, 0, 0), r.stdout)
	assert.Contains(t, s.got(), "USER alice*admin")
	assert.NotContains(t, r.stdout+r.stderr, "master pw")
	listed, err := b.Listing(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, []pop3.MessageInfo{{UID: "m1", Size: int64(len("Subject: 1\r\n\r\none\r\n"))}}, listed)

	r = runAdmin(t, "", "-postgres", dsn, "import", "-from", "pop3://"+s.addr, "-master", "admin", "-state", t.TempDir(), "alice")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "the master password: empty password")
}

// maildirDest is a -maildir destination in a temporary directory, whose
// users log in to pop3d with "USER-new".
type maildirDest struct {
	template, passwd string
	backend          *maildir.Backend
}

func newMaildirDest(t *testing.T, users ...string) *maildirDest {
	t.Helper()
	root := t.TempDir()
	d := &maildirDest{template: filepath.Join(root, "%n", "Maildir"), passwd: filepath.Join(root, "passwd")}
	var lines strings.Builder
	for _, u := range users {
		fmt.Fprintf(&lines, "%s:{PLAIN}%s-new\n", u, u)
	}
	require.NoError(t, os.WriteFile(d.passwd, []byte(lines.String()), 0o600))
	src, err := passwd.OpenFile(d.passwd, nil)
	require.NoError(t, err)
	d.backend, err = maildir.New(d.template, src)
	require.NoError(t, err)
	return d
}

func (d *maildirDest) args() []string { return []string{"-maildir", d.template, "-passwd", d.passwd} }

// usersFile writes a -users file for the users of sourceWith.
func usersFile(t *testing.T, users ...string) string {
	t.Helper()
	var lines strings.Builder
	for _, u := range users {
		fmt.Fprintf(&lines, "%s:%s-pw\n", u, u)
	}
	p := filepath.Join(t.TempDir(), "users")
	require.NoError(t, os.WriteFile(p, []byte(lines.String()), 0o600))
	return p
}

// The command into Maildirs: unique-ids and contents kept, as the store
// serves them; reruns copy what is new only; a message deleted through the
// store stays deleted; -delete empties the source.
func TestImportMaildir(t *testing.T) {
	dest := newMaildirDest(t, "alice", "bob")
	be, srv := sourceWith(t, map[string][]string{"alice": awkward, "bob": {"Subject: b\n\nbob\n"}})
	users := usersFile(t, "alice", "bob")
	state := t.TempDir()
	run := func(extra ...string) result {
		t.Helper()
		args := append([]string{"import", "-from", "pop3://" + srv.Addr, "-users", users, "-state", state}, dest.args()...)
		return runAdmin(t, "", append(args, extra...)...)
	}

	r := run()
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Regexp(t, userLine("alice", len(awkward), len(awkward), 0, 0), r.stdout)
	assert.Regexp(t, userLine("bob", 1, 1, 0, 0), r.stdout)
	for _, u := range []string{"alice", "bob"} {
		assert.Equal(t, sourceMaildrop(t, be, u), readMaildrop(t, dest.backend, u, u+"-new"), u)
	}

	r = run()
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Regexp(t, userLine("alice", len(awkward), 0, len(awkward), 0), r.stdout)

	_, err := be.AppendMessage("bob", []byte("Subject: new\n\nnew\n"))
	require.NoError(t, err)
	r = run()
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Regexp(t, userLine("bob", 2, 1, 1, 0), r.stdout)
	assert.Equal(t, sourceMaildrop(t, be, "bob"), readMaildrop(t, dest.backend, "bob", "bob-new"))

	// Bob deletes his first message through pop3d: it does not come back.
	ctx := context.Background()
	u, err := dest.backend.Login(ctx, &pop3.ConnInfo{}, "bob", "bob-new")
	require.NoError(t, err)
	mb, err := u.Open(ctx)
	require.NoError(t, err)
	require.NoError(t, mb.Delete(ctx, []int{0}))
	require.NoError(t, mb.Close())
	bobs := sourceMaildrop(t, be, "bob")
	r = run("-delete")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Regexp(t, userLine("bob", 2, 0, 2, 2), r.stdout)
	assert.Regexp(t, userLine("alice", len(awkward), 0, len(awkward), len(awkward)), r.stdout)
	assert.Equal(t, bobs[1:], readMaildrop(t, dest.backend, "bob", "bob-new"))
	for _, u := range []string{"alice", "bob"} {
		left, err := be.Messages(u)
		require.NoError(t, err)
		assert.Zero(t, len(left), "-delete emptied %s's maildrop on the source", u)
	}

	// A user the passwd-file does not have.
	be2, srv2 := sourceWith(t, map[string][]string{"dave": {"x\n"}})
	r = runAdmin(t, "", append([]string{"import", "-from", "pop3://" + srv2.Addr, "-users", usersFile(t, "dave"), "-state", state}, dest.args()...)...)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, "dave: FAILED: no such user in the destination")
	left, err := be2.Messages("dave")
	require.NoError(t, err)
	assert.Equal(t, 1, len(left))
}

// courierBackend opens dest's Maildirs as pop3d -uidl-format courier
// serves them.
func courierBackend(t *testing.T, dest *maildirDest) *maildir.Backend {
	t.Helper()
	users, err := passwd.OpenFile(dest.passwd, nil)
	require.NoError(t, err)
	b, err := maildir.New(dest.template, users, maildir.WithUIDLFormat("courier"))
	require.NoError(t, err)
	return b
}

// buildPop3admin builds this command into a temporary directory.
func buildPop3admin(t *testing.T) string {
	t.Helper()
	goBin := testprog.Require(t, "go", "golang-go")
	bin := filepath.Join(t.TempDir(), "pop3admin")
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// lines counts the lines of a file, 0 when it is missing.
func lines(path string) int {
	data, _ := os.ReadFile(path)
	return bytes.Count(data, []byte("\n"))
}

// kill -9 of pop3admin import in the middle of a user, then a rerun:
// every message of the source is in the destination exactly once, byte
// for byte, under its unique-id.
func TestImportKill9(t *testing.T) {
	bin := buildPop3admin(t)
	const total = 300
	be := memory.New()
	require.NoError(t, be.AddUser("alice", "alice-pw"))
	for i := range total {
		_, err := be.AppendMessage("alice", []byte(fmt.Sprintf("Subject: %d\n\n.%d\n%s\n", i, i, strings.Repeat("x", i*10))))
		require.NoError(t, err)
	}
	// A slow source, so that the kill lands mid-run.
	slow := pop3test.NewFaultBackend(be, pop3test.Fault{Op: pop3test.OpMessage, Delay: 3 * time.Millisecond})
	srv := pop3test.NewServer(t, slow.Backend())
	dest := newMaildirDest(t, "alice")
	state := t.TempDir()
	args := append([]string{"import", "-from", "pop3://" + srv.Addr, "-users", usersFile(t, "alice"), "-state", state}, dest.args()...)
	journal := filepath.Join(state, "127.0.0.1", "alice.journal")

	for _, killAt := range []int{50, 180} {
		cmd := exec.Command(bin, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		for lines(journal) <= killAt {
			select {
			case err := <-exited:
				t.Fatalf("pop3admin ended before the kill (%v): %s", err, out.String())
			case <-time.After(time.Millisecond):
			}
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		<-exited
		t.Logf("killed with %d lines in the journal", lines(journal))
	}

	// The rerun with -delete: what the killed runs imported, journaled or
	// not, counts as copied (same unique-id, same size), and the source
	// is emptied.
	want := sourceMaildrop(t, be, "alice")
	out, err := exec.Command(bin, append(args, "-delete")...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Regexp(t, `(?m)^alice: 300 on the source, [0-9]+ copied, [0-9]+ already copied, 300 deleted \(`, string(out))
	left, err := be.Messages("alice")
	require.NoError(t, err)
	assert.Zero(t, len(left))
	got := readMaildrop(t, dest.backend, "alice", "alice-new")
	require.Equal(t, len(want), len(got), "each message once")
	byUIDL := map[string][]byte{}
	for _, m := range got {
		_, dup := byUIDL[m.uidl]
		require.False(t, dup, "unique-id %s twice", m.uidl)
		byUIDL[m.uidl] = m.data
	}
	for i, m := range want {
		assert.True(t, bytes.Equal(m.data, byUIDL[m.uidl]), "message %d (%s) byte for byte", i+1, m.uidl)
	}
	assert.Equal(t, total, lines(journal)-1, "the journal has every unique-id once, after its header")
}

// Maildirs copied from the old server with their files (rsync) and served
// with -uidl-format: import, given the same format, finds the messages
// already there under the unique-id pop3d shows (and of the same size),
// copies only the others, and deletes both from the source with -delete.
func TestImportMaildirUIDLFormat(t *testing.T) {
	dest := newMaildirDest(t, "alice")
	be, srv := sourceWith(t, map[string][]string{"alice": {"Subject: a\n\nrsynced\n", "Subject: b\n\narrived since\n"}})
	src, err := be.Messages("alice")
	require.NoError(t, err)
	// The first message came with the files, named as Courier names them
	// (its unique-id is the file name: %f).
	cur := filepath.Join(filepath.Dir(strings.ReplaceAll(dest.template, "%n", "alice")), "Maildir", "cur")
	require.NoError(t, os.MkdirAll(cur, 0o700))
	for _, sub := range []string{"new", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(filepath.Dir(cur), sub), 0o700))
	}
	require.NoError(t, os.WriteFile(filepath.Join(cur, src[0].UID+":2,S"), src[0].Data, 0o600))

	args := append([]string{"import", "-from", "pop3://" + srv.Addr, "-users", usersFile(t, "alice"), "-state", t.TempDir()}, dest.args()...)
	r := runAdmin(t, "", append(args, "-uidl-format", "courier", "-delete")...)
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Regexp(t, userLine("alice", 2, 1, 1, 2), r.stdout)
	left, err := be.Messages("alice")
	require.NoError(t, err)
	assert.Zero(t, len(left))
	assert.Equal(t, []fakeMessage{{src[0].UID, src[0].Data}, {src[1].UID, src[1].Data}},
		readMaildrop(t, courierBackend(t, dest), "alice", "alice-new"))

	r = runAdmin(t, "", "import", "-from", "pop3://"+srv.Addr, "-users", usersFile(t, "alice"), "-uidl-format", "uw")
	assert.Equal(t, 2, r.code, "-uidl-format without -maildir")
	r = runAdmin(t, "", append(args, "-uidl-format", "%q")...)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "unknown variable %q")
}

// chosenUIDLs is a source server's backend: memory's maildrops, each
// message shown under a unique-id the test chose (memory numbers its
// own), so that a source's unique-id can meet one the destination
// computes. Deletions reach the memory backend.
type chosenUIDLs struct {
	be    *memory.Backend
	uidls map[string]string // memory's unique-id: the one shown
}

func (b *chosenUIDLs) Login(ctx context.Context, c *pop3.ConnInfo, username, password string) (pop3.User, error) {
	u, err := b.be.Login(ctx, c, username, password)
	if err != nil {
		return nil, err
	}
	return chosenUser{u, b.uidls}, nil
}

type chosenUser struct {
	pop3.User
	uidls map[string]string
}

func (u chosenUser) Open(ctx context.Context) (pop3.Mailbox, error) {
	mb, err := u.User.Open(ctx)
	if err != nil {
		return nil, err
	}
	infos := slices.Clone(mb.Messages())
	for i := range infos {
		infos[i].UID = u.uidls[infos[i].UID]
	}
	return chosenMailbox{mb, infos}, nil
}

type chosenMailbox struct {
	pop3.Mailbox
	infos []pop3.MessageInfo
}

func (m chosenMailbox) Messages() []pop3.MessageInfo { return m.infos }

// sourceWithUIDLs serves user (password "USER-pw") with msgs, each under
// its chosen unique-id, and returns what is left on the source.
func sourceWithUIDLs(t *testing.T, user string, msgs []scriptMessage) (*pop3test.Server, func() []fakeMessage) {
	t.Helper()
	b := &chosenUIDLs{be: memory.New(), uidls: map[string]string{}}
	require.NoError(t, b.be.AddUser(user, user+"-pw"))
	for _, m := range msgs {
		uid, err := b.be.AppendMessage(user, []byte(m.data))
		require.NoError(t, err)
		b.uidls[uid] = m.uidl
	}
	left := func() []fakeMessage {
		var out []fakeMessage
		for _, m := range sourceMaildrop(t, b.be, user) {
			out = append(out, fakeMessage{b.uidls[m.uidl], m.data})
		}
		return out
	}
	return pop3test.NewServer(t, b), left
}

// The reviewer's case, with the real Maildir store: pop3d serves the
// Maildir with -uidl-format cyrus-old (%u), so a message delivered there
// first shows "1", and the source shows "1" for a message of its own.
// With -delete, the source's "1" is neither copied nor deleted, and the
// user fails; a message an import killed before its journal line left
// behind (same unique-id, same size) counts as copied and is deleted, as
// are the messages copied now.
func TestImportMaildirUIDLConflict(t *testing.T) {
	msgs := []scriptMessage{
		{"1", "Subject: 1\r\n\r\nthe old server's first message\r\n"},
		{"2", "Subject: 2\r\n\r\nleft over by a killed import\r\n"},
		{"3", "Subject: 3\r\n\r\nthree\r\n"},
		{"4", "Subject: 4\r\n\r\nfour\r\n"},
	}
	srv, leftOnSource := sourceWithUIDLs(t, "alice", msgs)
	dest := newMaildirDest(t, "alice")
	users, err := passwd.OpenFile(dest.passwd, nil)
	require.NoError(t, err)
	cyrus, err := maildir.New(dest.template, users, maildir.WithUIDLFormat("cyrus-old"))
	require.NoError(t, err)
	ctx := context.Background()
	local := "Subject: delivered to pop3d\n\nbefore the import ran\n"
	require.NoError(t, cyrus.Deliver(ctx, "alice", strings.NewReader(local)))
	require.NoError(t, cyrus.Import(ctx, "alice", "2", strings.NewReader(msgs[1].data)))
	listed, err := cyrus.Listing(ctx, "alice")
	require.NoError(t, err)
	localSize := crlfSize(t, []byte(local))
	require.Equal(t, []pop3.MessageInfo{{UID: "1", Size: int64(localSize)}, {UID: "2", Size: int64(len(msgs[1].data))}}, listed,
		"%%u shows the delivered message as \"1\"")
	require.NotEqual(t, localSize, len(msgs[0].data))

	args := append([]string{"import", "-from", "pop3://" + srv.Addr, "-users", usersFile(t, "alice"), "-state", t.TempDir(),
		"-uidl-format", "cyrus-old", "-delete"}, dest.args()...)
	r := runAdmin(t, "", args...)
	assert.Equal(t, 1, r.code, r.stdout+r.stderr)
	assert.Equal(t, "pop3admin: import: 1 of 1 users failed: alice\n", r.stderr)
	assert.Contains(t, r.stdout, conflictLine("alice", 1, "1", localSize, len(msgs[0].data)))
	assert.Contains(t, r.stdout, "alice: FAILED: 1 messages not copied: the destination has other messages under their unique-ids (listed above); they are still on the source; "+
		"4 on the source, 2 copied, 1 already copied, 3 deleted, 1 in conflict (")
	assert.Equal(t, []fakeMessage{{"1", []byte(msgs[0].data)}}, leftOnSource(), "the source keeps its \"1\", and only it")
	assert.Equal(t, []fakeMessage{
		{"1", []byte(strings.ReplaceAll(local, "\n", "\r\n"))},
		{"2", []byte(msgs[1].data)}, {"3", []byte(msgs[2].data)}, {"4", []byte(msgs[3].data)},
	}, readMaildrop(t, cyrus, "alice", "alice-new"))

	// The rerun finds the conflict again, and deletes nothing.
	r = runAdmin(t, "", args...)
	assert.Equal(t, 1, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "1 on the source, 0 copied, 0 already copied, 0 deleted, 1 in conflict (")
	assert.Equal(t, []fakeMessage{{"1", []byte(msgs[0].data)}}, leftOnSource())
}

// The same into PostgreSQL: the store's own unique-id "<user id>.<uid>"
// of a message delivered to it is the one the source (pop3d on another
// database with the same user ids) shows for another message.
func TestImportPostgresUIDLConflict(t *testing.T) {
	dsn, b := testDB(t)
	ctx := context.Background()
	require.NoError(t, b.AddUser(ctx, "alice", "{PLAIN}alice-new"))
	local := "Subject: delivered to the new pop3d\r\n\r\nbefore the import ran\r\n"
	require.NoError(t, b.Deliver(ctx, "alice", strings.NewReader(local)))
	listed, err := b.Listing(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, listed, 1)
	native := listed[0].UID
	require.Regexp(t, `^[0-9]+\.[0-9]+$`, native)
	msgs := []scriptMessage{
		{native, "Subject: 1\r\n\r\nthe old pop3d's first message\r\n"},
		{"9.2", "Subject: 2\r\n\r\nleft over by a killed import\r\n"},
		{"9.3", "Subject: 3\r\n\r\nthree\r\n"},
	}
	require.NotEqual(t, len(local), len(msgs[0].data))
	require.NoError(t, b.Import(ctx, "alice", "9.2", strings.NewReader(msgs[1].data)))
	srv, leftOnSource := sourceWithUIDLs(t, "alice", msgs)

	r := runAdmin(t, "", "-postgres", dsn, "import", "-from", "pop3://"+srv.Addr, "-users", usersFile(t, "alice"), "-state", t.TempDir(), "-delete")
	assert.Equal(t, 1, r.code, r.stdout+r.stderr)
	assert.Equal(t, "pop3admin: import: 1 of 1 users failed: alice\n", r.stderr)
	assert.Contains(t, r.stdout, conflictLine("alice", 1, native, len(local), len(msgs[0].data)))
	assert.Contains(t, r.stdout, "3 on the source, 1 copied, 1 already copied, 2 deleted, 1 in conflict (")
	assert.Equal(t, []fakeMessage{{native, []byte(msgs[0].data)}}, leftOnSource())
	assert.Equal(t, []fakeMessage{{native, []byte(local)}, {"9.2", []byte(msgs[1].data)}, {"9.3", []byte(msgs[2].data)}},
		readMaildrop(t, b, "alice", "alice-new"))
}
