package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/dovecottest"
	"github.com/gopop3/pop3/internal/mariadbtest"
	"github.com/gopop3/pop3/internal/pgtest"
	"github.com/gopop3/pop3/internal/testprog"
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/pop3test"
)

// TestMain lets a test run this test binary as pop3d itself: a real
// process that a test can kill -9.
func TestMain(m *testing.M) {
	if os.Getenv("POP3D_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	// Then stop the PostgreSQL and MariaDB servers of the -postgres and -sql tests.
	os.Exit(testprog.RunThenStop(m, pgtest.Stop, mariadbtest.Stop))
}

// mailStore is a -passwd file and a Maildir root for -maildir.
type mailStore struct {
	root, passwd, template string
	backend                *maildir.Backend
}

// newMailStore writes a passwd-file where alice's password is a BLF-CRYPT
// hash of "alice-pw" and bob's is {PLAIN}bob-pw.
func newMailStore(t *testing.T) *mailStore {
	t.Helper()
	root := t.TempDir()
	hash, err := passwd.Hash("BLF-CRYPT", []byte("alice-pw"))
	require.NoError(t, err)
	s := &mailStore{root: root, passwd: filepath.Join(root, "passwd"), template: filepath.Join(root, "%n", "Maildir")}
	require.NoError(t, os.WriteFile(s.passwd, []byte("alice:"+hash+"\nbob:{PLAIN}bob-pw\n"), 0o600))
	users, err := passwd.OpenFile(s.passwd, nil)
	require.NoError(t, err)
	s.backend, err = maildir.New(s.template, users)
	require.NoError(t, err)
	return s
}

func (s *mailStore) deliver(t *testing.T, user string, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		require.NoError(t, s.backend.Deliver(context.Background(), user, strings.NewReader(m)))
	}
}

func (s *mailStore) args() []string {
	return []string{"-addr", "127.0.0.1:0", "-maildir", s.template, "-passwd", s.passwd}
}

func TestMaildir(t *testing.T) {
	store := newMailStore(t)
	store.deliver(t, "alice", "Subject: one\n\nfirst\n", "Subject: two\n\n.dot\n")
	srv := start(t, store.args()...)
	assert.Contains(t, srv.stdout.String(), "serving the Maildirs "+store.template)

	c := dial(t, srv.Addr)
	c.Login("alice", "alice-pw")
	assert.Equal(t, "2 45", stat(c))
	uidl := c.OK("UIDL").Lines()
	require.Len(t, uidl, 2)
	assert.Regexp(t, `^1 [0-9a-f]{16}$`, uidl[0], "Dovecot's %%08Xu%%08Xv")
	_, content := retr(t, c, 2)
	assert.Equal(t, "Subject: two\r\n\r\n.dot\r\n", content)
	c.Quit()

	// A user added to the passwd file logs in without a restart.
	f, err := os.OpenFile(store.passwd, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("carol:{PLAIN}carol-pw\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	c = dial(t, srv.Addr)
	c.Login("carol", "carol-pw")
	assert.Equal(t, "0 0", stat(c))
	c.Quit()

	c = dial(t, srv.Addr)
	assert.False(t, c.Cmd("USER ../alice").OK && c.Cmd("PASS alice-pw").OK, "a name that leaves the root")
}

func TestMaildirStartErrors(t *testing.T) {
	store := newMailStore(t)
	missing := filepath.Join(t.TempDir(), "no-such-passwd")
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-maildir", store.template, "-passwd", missing}, io.Discard, io.Discard, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), missing)

	err = run(context.Background(), []string{"-addr", "127.0.0.1:0", "-maildir", "/var/mail/shared", "-passwd", store.passwd}, io.Discard, io.Discard, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "names no user")

	for _, args := range [][]string{
		{"-maildir", store.template},
		{"-passwd", store.passwd},
		{"-maildir", store.template, "-passwd", store.passwd, "-load", store.root},
	} {
		var stderr bytes.Buffer
		err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, args...), io.Discard, &stderr, nil)
		var ue *usageError
		assert.ErrorAs(t, err, &ue, "%q", args)
	}
}

// process is pop3d running as a process of its own.
type process struct {
	cmd  *exec.Cmd
	addr string
}

// startProcess runs this test binary as pop3d with args and waits until it
// serves.
func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "POP3D_TEST_RUN_MAIN=1")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	p := &process{cmd: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("pop3d stderr:\n%s", stderr.String())
		}
	})
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "pop3d: serving POP3 on "); ok {
			p.addr = strings.Fields(rest)[0]
			break
		}
	}
	require.NotEmpty(t, p.addr, "pop3d did not say where it serves")
	go io.Copy(io.Discard, stdout)
	return p
}

// kill9 kills the process at once, as a crash or the OOM killer would.
func (p *process) kill9(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.cmd.Wait()
}

// snapshot is the unique-id and content digest of every message.
func snapshot(t *testing.T, addr, user, pass string) map[string][32]byte {
	t.Helper()
	c := pop3test.Dial(t, addr)
	c.Timeout = time.Minute
	c.Login(user, pass)
	uidl := c.OK("UIDL").Lines()
	got := make(map[string][32]byte, len(uidl))
	for start := 0; start < len(uidl); start += 200 {
		var cmds []string
		for _, line := range uidl[start:min(start+200, len(uidl))] {
			n, _, _ := strings.Cut(line, " ")
			cmds = append(cmds, "RETR "+n)
		}
		for i, r := range c.Pipeline(cmds...) {
			require.True(t, r.OK, r.Line)
			_, id, _ := strings.Cut(uidl[start+i], " ")
			got[id] = sha256.Sum256(r.Body)
		}
	}
	c.Quit()
	return got
}

// A kill -9 in the middle of a RETR loses nothing and leaves no lock: the
// next process serves the same messages under the same unique-ids.
func TestKill9DuringRetr(t *testing.T) {
	store := newMailStore(t)
	big := "Subject: big\n\n" + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", 300_000)
	store.deliver(t, "bob", big, "Subject: small\n\nsmall\n")
	p := startProcess(t, store.args()...)
	before := snapshot(t, p.addr, "bob", "bob-pw")

	c := pop3test.Dial(t, p.addr)
	c.Login("bob", "bob-pw")
	c.Send("RETR 1")
	assert.True(t, strings.HasPrefix(c.ReadLine(), "+OK"))
	c.ReadLine()
	p.kill9(t)

	p = startProcess(t, store.args()...)
	assert.Equal(t, before, snapshot(t, p.addr, "bob", "bob-pw"))
}

// A kill -9 during UPDATE, at several moments after QUIT: every message is
// either intact under its unique-id, or removed because it was DELE'd.
func TestKill9DuringUpdate(t *testing.T) {
	store := newMailStore(t)
	for i := 0; i < 1500; i++ {
		store.deliver(t, "bob", fmt.Sprintf("Subject: %d\n\nmessage %d\n", i, i))
	}
	p := startProcess(t, store.args()...)
	before := snapshot(t, p.addr, "bob", "bob-pw")
	for _, delay := range []time.Duration{0, time.Millisecond, 3 * time.Millisecond, 10 * time.Millisecond, 30 * time.Millisecond} {
		c := pop3test.Dial(t, p.addr)
		c.Login("bob", "bob-pw")
		uidl := c.OK("UIDL").Lines()
		marked := make(map[string]bool)
		var cmds []string
		for i, line := range uidl {
			if i%5 == 0 {
				n, id, _ := strings.Cut(line, " ")
				cmds = append(cmds, "DELE "+n)
				marked[id] = true
			}
		}
		for _, r := range c.Pipeline(cmds...) {
			require.True(t, r.OK, r.Line)
		}
		c.Send("QUIT")
		time.Sleep(delay)
		p.kill9(t)

		p = startProcess(t, store.args()...)
		after := snapshot(t, p.addr, "bob", "bob-pw")
		removed := 0
		for id, sum := range before {
			got, ok := after[id]
			switch {
			case ok:
				assert.Equal(t, sum, got, "message %s changed", id)
			case marked[id]:
				removed++
			default:
				t.Errorf("after a kill %v after QUIT: message %s is gone but was not deleted", delay, id)
			}
		}
		assert.Len(t, after, len(before)-removed, "no message appeared")
		t.Logf("kill %v after QUIT: %d of %d marked messages removed", delay, removed, len(marked))
		before = after
	}
}

// A kill -9 while the first session of a Maildir computes sizes and writes
// dovecot-uidlist: the messages the list already knew keep their
// unique-ids, the next session gets the lock (the dead process's lock is
// broken), and Dovecot reads the list we leave with the same unique-ids.
func TestKill9DuringUIDListWrite(t *testing.T) {
	dc := dovecottest.Start(t, "bob")
	home := filepath.Join(dc.Root, "bob")
	users, err := passwd.OpenFile(dc.Users, nil)
	require.NoError(t, err)
	backend, err := maildir.New(filepath.Join(dc.Root, "%n", "Maildir"), users)
	require.NoError(t, err)
	args := []string{"-addr", "127.0.0.1:0", "-maildir", filepath.Join(dc.Root, "%n", "Maildir"), "-passwd", dc.Users}
	for i := 0; i < 500; i++ {
		require.NoError(t, backend.Deliver(context.Background(), "bob", strings.NewReader(fmt.Sprintf("Subject: %d\n\nold %d\n", i, i))))
	}
	p := startProcess(t, args...)
	known := snapshot(t, p.addr, "bob", "secret")

	for round, delay := range []time.Duration{0, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond} {
		// New files without sizes in their names, which the next login
		// must read and give UIDs.
		for i := 0; i < 1000; i++ {
			name := fmt.Sprintf("%d.M%dP%d.other", 1800000000+round, i, 7)
			require.NoError(t, os.WriteFile(filepath.Join(home, "Maildir", "new", name), []byte(fmt.Sprintf("Subject: new %d\n\nbody\n", i)), 0o600))
		}
		c := pop3test.Dial(t, p.addr)
		c.Send("USER bob")
		c.Send("PASS secret")
		c.Send("STAT")
		time.Sleep(delay)
		p.kill9(t)
		_, err := os.Stat(filepath.Join(home, "Maildir", "dovecot-uidlist.lock"))
		t.Logf("kill %v after login: lock left behind: %v", delay, err == nil)

		p = startProcess(t, args...)
		now := snapshot(t, p.addr, "bob", "secret")
		for id, sum := range known {
			got, ok := now[id]
			if assert.True(t, ok, "after a kill %v into the login: message %s lost its unique-id", delay, id) {
				assert.Equal(t, sum, got)
			}
		}
		known = now
	}
	p.kill9(t)
	dc.Chown(t, "bob")
	theirs := snapshot(t, dc.Addr, "bob", "secret")
	assert.Equal(t, len(known), len(theirs))
	for id, sum := range known {
		assert.Equal(t, sum, theirs[id], "Dovecot shows message %s under the same unique-id", id)
	}
}

// Two pop3d processes on one Maildir: the second session is refused with
// [IN-USE] while the first holds the maildrop, and gets it once the first
// process is killed.
func TestLockAcrossProcesses(t *testing.T) {
	store := newMailStore(t)
	store.deliver(t, "bob", "Subject: x\n\nx\n")
	first := startProcess(t, store.args()...)
	second := startProcess(t, store.args()...)

	c1 := pop3test.Dial(t, first.addr)
	c1.Login("bob", "bob-pw")
	c2 := pop3test.Dial(t, second.addr)
	c2.OK("USER bob")
	r := c2.Cmd("PASS bob-pw")
	assert.False(t, r.OK)
	assert.Equal(t, "IN-USE", r.Code, r.Line)

	first.kill9(t)
	c3 := pop3test.Dial(t, second.addr)
	c3.Login("bob", "bob-pw")
	assert.Equal(t, "1 "+strconv.Itoa(len("Subject: x\r\n\r\nx\r\n")), c3.OK("STAT").Text)
	c3.Quit()
}

// -maildir-cache 0 turns the listing cache off: a message file that
// appears while the directory's time stays the same is listed at once,
// where the cache would serve the listing it had.
func TestMaildirCacheFlag(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		messages string
	}{
		{nil, "1"},
		{[]string{"-maildir-cache", "0"}, "2"},
	} {
		store := newMailStore(t)
		store.deliver(t, "bob", "Subject: one\n\nfirst\n")
		srv := start(t, append(store.args(), tc.args...)...)
		dir := filepath.Join(store.root, "bob", "Maildir")
		session := func() string {
			c := dial(t, srv.Addr)
			defer c.Quit()
			c.Login("bob", "bob-pw")
			n, _, _ := strings.Cut(stat(c), " ")
			return n
		}
		require.Equal(t, "1", session()) // moves the message to cur/ and writes the uidlist
		past := time.Now().Add(-time.Hour)
		for _, name := range []string{"new", "cur", "dovecot-uidlist"} {
			require.NoError(t, os.Chtimes(filepath.Join(dir, name), past, past))
		}
		require.Equal(t, "1", session()) // listed, and cached unless turned off
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cur", "1800000000.M1P1.planted:2,"), []byte("Subject: planted\n\n"), 0o600))
		require.NoError(t, os.Chtimes(filepath.Join(dir, "cur"), past, past))
		assert.Equal(t, tc.messages, session(), "%q", tc.args)
	}
}
