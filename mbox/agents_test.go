//go:build linux

package mbox_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/gopop3/pop3/internal/testprog"
	"github.com/gopop3/pop3/mbox"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/pop3test"
)

// agentSpools is a spool directory, as /var/mail, served by a backend on
// DIR/%u, for the users of passwdLines ("alice:{PLAIN}pw").
func agentSpools(t *testing.T, passwdLines string, opts ...mbox.Option) (*mbox.Backend, string) {
	t.Helper()
	dir := t.TempDir()
	pwPath := filepath.Join(t.TempDir(), "passwd")
	require.NoError(t, os.WriteFile(pwPath, []byte(passwdLines), 0o600))
	users, err := passwd.OpenFile(pwPath, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	b, err := mbox.New(filepath.Join(dir, "%u"), users, opts...)
	require.NoError(t, err)
	return b, dir
}

// agentFrom is a From line as a delivery agent writes it, dated now.
func agentFrom(sender string) string {
	return "From " + sender + "  " + time.Now().UTC().Format(time.ANSIC) + "\n"
}

// spoolMessages splits a spool as a plain mail reader does: every line
// that starts with "From " starts a message (the writers of these tests
// escape such lines in bodies), which runs to the next one.
func spoolMessages(t *testing.T, data string) []string {
	t.Helper()
	if data == "" {
		return nil
	}
	require.True(t, strings.HasPrefix(data, "From "), "the spool starts with %.40q", data)
	var msgs []string
	start := 0
	for i := 0; i < len(data); {
		j := strings.IndexByte(data[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
		if strings.HasPrefix(data[i:], "From ") {
			msgs = append(msgs, data[start:i])
			start = i
		}
	}
	return append(msgs, data[start:])
}

// fieldValues returns the values of the header fields called name of an
// mbox message (its From line first).
func fieldValues(msg, name string) []string {
	header, _, _ := strings.Cut(msg, "\n\n")
	var values []string
	for _, l := range strings.Split(header, "\n")[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, name) {
			values = append(values, strings.TrimSpace(v))
		}
	}
	return values
}

// toCRLF is text as RETR sends it.
func toCRLF(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// procmailrc writes an rc file that delivers to spool as procmail does by
// default (DEFAULT and ORGMAIL, with its dotlock spool.lock and a kernel
// lock), retrying a held dotlock every second, logging verbosely to log.
func procmailrc(t *testing.T, spool string) (rc, log string) {
	t.Helper()
	dir := t.TempDir()
	rc, log = filepath.Join(dir, "procmailrc"), filepath.Join(dir, "procmail.log")
	require.NoError(t, os.WriteFile(rc, []byte(fmt.Sprintf("SHELL=/bin/sh\nLOGFILE=%s\nVERBOSE=on\nLOCKSLEEP=1\nDEFAULT=%s\nORGMAIL=%s\n", log, spool, spool)), 0o600))
	return rc, log
}

// procmailCommand delivers msg (with its From line) as an MTA runs
// procmail: as root, -m with the rc file, so that it neither changes user
// nor reads a home's .procmailrc.
func procmailCommand(ctx context.Context, rc, msg string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "procmail", "-m", rc)
	cmd.Stdin = strings.NewReader(msg)
	return cmd
}

// dotlockfileAppend delivers msg (with its From line) as Postfix local(8)
// does, with dotlockfile for the dotlock: dotlockfile -l, then a kernel
// (fcntl) lock, the append, and dotlockfile -u. The fcntl lock is an open
// file description lock, which conflicts with the store's as a classic one
// would, but is not released when the store, in this same process, closes
// its own descriptor of the spool.
func dotlockfileAppend(ctx context.Context, spool, msg string) error {
	if out, err := exec.CommandContext(ctx, "dotlockfile", "-l", "-i", "1", "-r", "60", spool+".lock").CombinedOutput(); err != nil {
		return fmt.Errorf("dotlockfile -l: %v: %s", err, out)
	}
	defer exec.Command("dotlockfile", "-u", spool+".lock").Run()
	f, err := os.OpenFile(spool, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o660)
	if err != nil {
		return err
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLKW, &lk); err != nil {
		return fmt.Errorf("fcntl: %w", err)
	}
	_, err = f.WriteString(msg)
	return err
}

// agentMessage is delivery n: a few KB, every 7th some 200 KB, so that
// deliveries and rewrites overlap.
func agentMessage(agent string, n int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Message-ID: <%d@agents.test>\nX-Agent: %s\nSubject: delivery %d by %s\n\n", n, agent, n, agent)
	lines := 10 + int(n%30)
	if n%7 == 3 {
		lines = 3000
	}
	for l := range lines {
		switch l % 20 {
		case 5:
			fmt.Fprintf(&b, ">From line %d\n", l)
		case 9:
			b.WriteString(".leading dot\n")
		default:
			fmt.Fprintf(&b, "%d.%d the quick brown fox jumps over the lazy dog 0123456789\n", n, l)
		}
	}
	return b.String()
}

var agentIDField = regexp.MustCompile(`(?m)^Message-ID: <(\d+)@agents\.test>\r?$`)

// agentID returns the delivery number of a message, 0 when it has none.
func agentID(msg string) int64 {
	header, _, _ := strings.Cut(strings.ReplaceAll(msg, "\r\n", "\n"), "\n\n")
	m := agentIDField.FindStringSubmatch(header)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// procmail and dotlockfile deliver into a spool while POP3 sessions log
// in, retrieve, delete and quit, over and over: every delivered message is
// at the end either deleted by a session that listed it or in the spool,
// intact, exactly once; a session lists every message delivered before it
// began (and not deleted), and none whose delivery began after its login.
// A message delivered while a session is open is not listed in it, and is
// not lost by its update.
func TestDeliveryAgentsDuringSessions(t *testing.T) {
	testprog.Require(t, "procmail", "procmail")
	testprog.Require(t, "dotlockfile", "liblockfile-bin")
	b, dir := agentSpools(t, "alice:{PLAIN}pw\n")
	spool := filepath.Join(dir, "alice")
	rc, procmailLog := procmailrc(t, spool)
	srv := pop3test.NewServer(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var (
		seq       atomic.Int64
		mu        sync.Mutex
		expected  = make(map[int64]string) // what RETR must send for each delivery begun
		completed = make(map[int64]bool)
		failures  []error
	)
	deliver := func(agent string, n int64) {
		msg := agentMessage(agent, n)
		mu.Lock()
		expected[n] = toCRLF(msg)
		mu.Unlock()
		var err error
		switch agent {
		case "procmail":
			var out []byte
			out, err = procmailCommand(ctx, rc, agentFrom("procmail@example.org")+msg).CombinedOutput()
			if err != nil {
				err = fmt.Errorf("procmail: %v: %s", err, out)
			}
		case "dotlockfile":
			err = dotlockfileAppend(ctx, spool, agentFrom("dotlockfile@example.org")+msg+"\n")
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failures = append(failures, fmt.Errorf("delivery %d by %s: %w", n, agent, err))
			return
		}
		completed[n] = true
	}

	deleted := make(map[int64]bool)
	// session logs in, checks the listing, retrieves and deletes some, and,
	// unless deliverDuring is set, quits. It returns the deliveries it
	// listed.
	session := func(k int, deliverDuring func()) map[int64]bool {
		t.Helper()
		mu.Lock()
		doneBefore := maps.Clone(completed)
		mu.Unlock()
		c := srv.Dial()
		c.Timeout = time.Minute
		c.Login("alice", "pw")
		startedBy := seq.Load()
		n := len(c.OK("UIDL").Lines())
		listed := make(map[int64]bool, n)
		var order []int64
		if n > 0 {
			cmds := make([]string, n)
			for i := range n {
				cmds[i] = fmt.Sprintf("TOP %d 0", i+1)
			}
			for i, r := range c.Pipeline(cmds...) {
				require.True(t, r.OK, r.Line)
				id := agentID(string(r.Body))
				require.NotZero(t, id, "message %d of session %d: %q", i+1, k, r.Body)
				assert.False(t, listed[id], "session %d lists delivery %d twice", k, id)
				assert.LessOrEqual(t, id, startedBy, "session %d lists delivery %d, begun after its login", k, id)
				assert.False(t, deleted[id], "session %d lists delivery %d, which an earlier session deleted", k, id)
				listed[id] = true
				order = append(order, id)
			}
		}
		for id := range doneBefore {
			assert.True(t, deleted[id] || listed[id], "session %d does not list delivery %d, delivered before it began", k, id)
		}
		var cmds []string
		var dele []int64
		for i, id := range order {
			if i%2 == k%2 {
				cmds = append(cmds, fmt.Sprintf("RETR %d", i+1))
			}
			if i%3 == k%3 {
				cmds = append(cmds, fmt.Sprintf("DELE %d", i+1))
				dele = append(dele, id)
			}
		}
		for i, r := range c.Pipeline(cmds...) {
			require.True(t, r.OK, "%s: %s", cmds[i], r.Line)
			if strings.HasPrefix(cmds[i], "RETR ") {
				mu.Lock()
				want := expected[agentID(string(r.Body))]
				mu.Unlock()
				assert.Equal(t, want, string(r.Body), "session %d: %s", k, cmds[i])
			}
		}
		if deliverDuring != nil {
			deliverDuring()
			assert.Equal(t, strconv.Itoa(len(order)-len(dele)), strings.Fields(c.OK("STAT").Text)[0], "the listing stays as it was")
		}
		c.Quit()
		for _, id := range dele {
			deleted[id] = true
		}
		return listed
	}

	// First, one delivery by each agent while a session is open: not
	// listed in it, and kept by its update, which deletes other messages.
	deliver("procmail", seq.Add(1))
	deliver("dotlockfile", seq.Add(1))
	var during []int64
	session(0, func() {
		for _, agent := range []string{"procmail", "dotlockfile"} {
			n := seq.Add(1)
			deliver(agent, n)
			during = append(during, n)
		}
	})
	listed := session(1, nil)
	for _, n := range during {
		assert.True(t, listed[n], "delivery %d, made during the session before, is listed in the next one", n)
	}

	// Then both agents, with sessions running all along.
	const perAgent = 20
	var wg sync.WaitGroup
	for _, agent := range []string{"procmail", "dotlockfile"} {
		wg.Go(func() {
			for range perAgent {
				deliver(agent, seq.Add(1))
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	sessions := 2
	for running := true; running && !t.Failed(); sessions++ {
		select {
		case <-done:
			running = false
		default:
		}
		session(sessions, nil)
		time.Sleep(30 * time.Millisecond) // a client's pace, so that the agents get their turns too
	}
	<-done
	mu.Lock()
	require.Empty(t, failures)
	mu.Unlock()

	// At the end: each delivery deleted, or in the spool once and intact.
	c := srv.Dial()
	c.Timeout = time.Minute
	c.Login("alice", "pw")
	n := len(c.OK("UIDL").Lines())
	cmds := make([]string, n)
	for i := range n {
		cmds[i] = fmt.Sprintf("RETR %d", i+1)
	}
	final := make(map[int64]bool)
	for _, r := range c.Pipeline(cmds...) {
		require.True(t, r.OK, r.Line)
		id := agentID(string(r.Body))
		assert.False(t, final[id], "delivery %d is listed twice", id)
		final[id] = true
		assert.Equal(t, expected[id], string(r.Body), "delivery %d is intact", id)
	}
	c.Quit()
	total := seq.Load()
	for id := int64(1); id <= total; id++ {
		assert.True(t, deleted[id] != final[id], "delivery %d: deleted %v, in the spool %v", id, deleted[id], final[id])
	}
	data, err := os.ReadFile(spool)
	require.NoError(t, err)
	inFile := make(map[int64]int)
	for _, m := range spoolMessages(t, string(data)) {
		inFile[agentID(m)]++
	}
	for id, count := range inFile {
		assert.Equal(t, 1, count, "a plain reader finds delivery %d %d times", id, count)
		assert.True(t, final[id], "a plain reader finds delivery %d, which the store does not list", id)
	}
	assert.Len(t, inFile, len(final))
	log, err := os.ReadFile(procmailLog)
	require.NoError(t, err)
	assert.Contains(t, string(log), `Locking "`+spool+`.lock"`, "procmail dotlocks the spool")
	assert.NotContains(t, string(log), "rror")
	t.Logf("%d deliveries, %d sessions, %d messages deleted, %d left", total, sessions, len(deleted), len(final))
}

// holdReadLock takes a shared fcntl lock on the whole spool, as a mail
// reader does while it reads it, until the test releases it.
func holdReadLock(t *testing.T, spool string) (release func()) {
	t.Helper()
	f, err := os.Open(spool)
	require.NoError(t, err)
	lk := unix.Flock_t{Type: unix.F_RDLCK}
	require.NoError(t, unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk))
	var once sync.Once
	release = func() { once.Do(func() { f.Close() }) }
	t.Cleanup(release)
	return release
}

// waitForFile waits until path exists.
func waitForFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		require.False(t, time.Now().After(deadline), "%s never appeared", path)
		time.Sleep(5 * time.Millisecond)
	}
}

// The update at the end of a session holds the dotlock, SPOOL.lock, until
// it is done (here it waits for the fcntl lock that a reader holds): in
// the meantime dotlockfile cannot take the lock, with or without -p
// (which checks that the holder lives), and procmail waits for it, then
// delivers after the update, and nothing is lost.
func TestDotlockHeldDuringUpdate(t *testing.T) {
	testprog.Require(t, "dotlockfile", "liblockfile-bin")
	testprog.Require(t, "procmail", "procmail")
	b, dir := agentSpools(t, "bob:{PLAIN}pw\n")
	spool := filepath.Join(dir, "bob")
	ctx := context.Background()
	for i := range 3 {
		require.NoError(t, b.Deliver(ctx, "bob", strings.NewReader(fmt.Sprintf("Subject: %d\n\nbody %d\n", i, i))))
	}
	srv := pop3test.NewServer(t, b)
	c := srv.Dial()
	c.Login("bob", "pw")
	c.OK("RETR 2")
	c.OK("DELE 1")

	release := holdReadLock(t, spool)
	c.Send("QUIT")
	waitForFile(t, spool+".lock")
	holder, err := os.ReadFile(spool + ".lock")
	require.NoError(t, err)
	host, err := os.Hostname()
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("%d:%s\n", os.Getpid(), host), string(holder), "Dovecot's pid:host")
	for _, args := range [][]string{{"-r", "0", "-l"}, {"-p", "-r", "0", "-l"}} {
		out, err := exec.Command("dotlockfile", append(args, spool+".lock")...).CombinedOutput()
		var exit *exec.ExitError
		assert.ErrorAs(t, err, &exit, "dotlockfile %q takes the lock that the update holds: %s", args, out)
	}
	rc, log := procmailrc(t, spool)
	procmail := procmailCommand(ctx, rc, agentFrom("late@example.org")+"Subject: late\n\nwaited for the lock\n")
	require.NoError(t, procmail.Start())
	before, err := os.ReadFile(spool)
	require.NoError(t, err)
	waitForLog(t, log, `Locking "`+spool+`.lock"`)
	time.Sleep(300 * time.Millisecond)
	now, err := os.ReadFile(spool)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(now), "nobody writes the spool while the update holds the dotlock")
	logged, err := os.ReadFile(log)
	require.NoError(t, err)
	assert.NotContains(t, string(logged), "Opening", "procmail waits for the dotlock (not only for the fcntl lock that the reader holds)")

	release()
	r := c.ReadReply()
	assert.True(t, r.OK, r.Line)
	require.NoError(t, procmail.Wait())
	assert.NoFileExists(t, spool+".lock")
	data, err := os.ReadFile(spool)
	require.NoError(t, err)
	msgs := spoolMessages(t, string(data))
	require.Len(t, msgs, 3, "%s", data)
	assert.Equal(t, []string{"1"}, fieldValues(msgs[0], "Subject"))
	assert.Equal(t, []string{"RO"}, fieldValues(msgs[0], "Status"))
	assert.Equal(t, []string{"2"}, fieldValues(msgs[1], "Subject"))
	assert.Equal(t, []string{"late"}, fieldValues(msgs[2], "Subject"), "procmail delivered after the update")
	logged, err = os.ReadFile(log)
	require.NoError(t, err)
	assert.Contains(t, string(logged), "Acquiring kernel-lock", "procmail takes the fcntl lock too")
}

// waitForLog waits until the file at path contains text.
func waitForLog(t *testing.T, path, text string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), text) {
			return
		}
		require.False(t, time.Now().After(deadline), "%s never said %q: %q", path, text, data)
		time.Sleep(5 * time.Millisecond)
	}
}

// An update waits for a dotlock that a delivery agent holds (dotlockfile
// -l, as a script takes it), and writes nothing until it is released.
func TestUpdateWaitsForDotlockfile(t *testing.T) {
	testprog.Require(t, "dotlockfile", "liblockfile-bin")
	b, dir := agentSpools(t, "bob:{PLAIN}pw\n")
	spool := filepath.Join(dir, "bob")
	for i := range 3 {
		require.NoError(t, b.Deliver(context.Background(), "bob", strings.NewReader(fmt.Sprintf("Subject: %d\n\nbody %d\n", i, i))))
	}
	srv := pop3test.NewServer(t, b)
	c := srv.Dial()
	c.Login("bob", "pw")
	c.OK("DELE 1")
	out, err := exec.Command("dotlockfile", "-l", spool+".lock").CombinedOutput()
	require.NoError(t, err, "%s", out)
	before, err := os.ReadFile(spool)
	require.NoError(t, err)
	c.Send("QUIT")
	time.Sleep(300 * time.Millisecond)
	now, err := os.ReadFile(spool)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(now), "the update waits for the dotlock")
	out, err = exec.Command("dotlockfile", "-u", spool+".lock").CombinedOutput()
	require.NoError(t, err, "%s", out)
	r := c.ReadReply()
	assert.True(t, r.OK, r.Line)
	data, err := os.ReadFile(spool)
	require.NoError(t, err)
	assert.Len(t, spoolMessages(t, string(data)), 2)
}

// A stale dotlock is broken, by a login (which reads the spool under the
// dotlock), an update and a delivery, as dotlockfile and Dovecot break it:
// its holder, a process of this host, has died (dotlockfile -p's pid,
// Dovecot's pid:host), or it has no pid and has not changed for longer
// than Postfix's stale_lock_time. A lock whose holder lives, or without a
// pid but recent, is respected: the login, the update and the delivery
// fail when their wait for it ends, and change nothing.
func TestStaleDotlock(t *testing.T) {
	testprog.Require(t, "dotlockfile", "liblockfile-bin")
	host, err := os.Hostname()
	require.NoError(t, err)
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	deadPid := dead.Process.Pid
	for _, tc := range []struct {
		name   string
		make   func(t *testing.T, lock string)
		broken bool
	}{
		{"dotlockfile -p of a dead shell", func(t *testing.T, lock string) {
			out, err := exec.Command("sh", "-c", `dotlockfile -p -l "$1"`, "sh", lock).CombinedOutput()
			require.NoError(t, err, "%s", out)
		}, true},
		{"pid:host of a dead process", func(t *testing.T, lock string) {
			require.NoError(t, os.WriteFile(lock, []byte(fmt.Sprintf("%d:%s\n", deadPid, host)), 0o644))
		}, true},
		{"no pid, 10 minutes old", func(t *testing.T, lock string) {
			out, err := exec.Command("dotlockfile", "-l", lock).CombinedOutput()
			require.NoError(t, err, "%s", out)
			old := time.Now().Add(-10 * time.Minute)
			require.NoError(t, os.Chtimes(lock, old, old))
		}, true},
		{"empty, 10 minutes old (Postfix)", func(t *testing.T, lock string) {
			require.NoError(t, os.WriteFile(lock, nil, 0o644))
			old := time.Now().Add(-10 * time.Minute)
			require.NoError(t, os.Chtimes(lock, old, old))
		}, true},
		{"no pid, recent", func(t *testing.T, lock string) {
			out, err := exec.Command("dotlockfile", "-l", lock).CombinedOutput()
			require.NoError(t, err, "%s", out)
		}, false},
		{"a live pid (dotlockfile -p)", func(t *testing.T, lock string) {
			// The pid of the shell, which lives on (not this process's: a
			// lock naming our own pid that this process does not hold is
			// one a predecessor with the same pid left).
			sh := exec.Command("sh", "-c", `dotlockfile -p -l "$1" && exec sleep 60`, "sh", lock)
			require.NoError(t, sh.Start())
			t.Cleanup(func() { _ = sh.Process.Kill(); _ = sh.Wait() })
			require.Eventually(t, func() bool { _, err := os.Stat(lock); return err == nil }, 10*time.Second, 10*time.Millisecond)
		}, false},
		{"pid:host of a live process", func(t *testing.T, lock string) {
			live := exec.Command("sleep", "60")
			require.NoError(t, live.Start())
			t.Cleanup(func() { _ = live.Process.Kill(); _ = live.Wait() })
			require.NoError(t, os.WriteFile(lock, []byte(fmt.Sprintf("%d:%s\n", live.Process.Pid, host)), 0o644))
		}, false},
		{"a live pid of another host", func(t *testing.T, lock string) {
			require.NoError(t, os.WriteFile(lock, []byte(fmt.Sprintf("%d:elsewhere.example\n", deadPid)), 0o644))
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			timeout := mbox.DefaultLockTimeout
			if !tc.broken {
				timeout = 300 * time.Millisecond
			}
			b, dir := agentSpools(t, "bob:{PLAIN}pw\n", mbox.WithLockTimeout(timeout))
			spool := filepath.Join(dir, "bob")
			ctx := context.Background()
			for i := range 2 {
				require.NoError(t, b.Deliver(ctx, "bob", strings.NewReader(fmt.Sprintf("Subject: %d\n\nbody %d\n", i, i))))
			}
			srv := pop3test.NewServer(t, b)
			before, err := os.ReadFile(spool)
			require.NoError(t, err)

			// The login reads the spool under the dotlock.
			lock := spool + ".lock"
			tc.make(t, lock)
			c := srv.Dial()
			c.OK("USER bob")
			r := c.Cmd("PASS pw")
			assert.Equal(t, tc.broken, r.OK, "login: %s", r.Line)
			if !tc.broken {
				assert.Equal(t, "SYS/TEMP", r.Code, r.Line)
				require.NoError(t, os.Remove(lock))
				c = srv.Dial()
				c.Login("bob", "pw")
				// The login wrote the new messages' UIDs.
				before, err = os.ReadFile(spool)
				require.NoError(t, err)
			}
			// The update at QUIT writes it under the dotlock.
			c.OK("DELE 1")
			tc.make(t, lock)
			r = c.Cmd("QUIT")
			assert.Equal(t, tc.broken, r.OK, "QUIT: %s", r.Line)
			// And a delivery.
			if tc.broken {
				tc.make(t, lock)
			}
			err = b.Deliver(ctx, "bob", strings.NewReader("Subject: new\n\nnew\n"))
			data, rerr := os.ReadFile(spool)
			require.NoError(t, rerr)
			msgs := spoolMessages(t, string(data))
			if tc.broken {
				assert.NoError(t, err)
				if assert.Len(t, msgs, 2) {
					assert.Equal(t, []string{"1"}, fieldValues(msgs[0], "Subject"))
					assert.Equal(t, []string{"new"}, fieldValues(msgs[1], "Subject"))
				}
				assert.NoFileExists(t, spool+".lock")
			} else {
				assert.Error(t, err, "a delivery that breaks a live lock")
				assert.True(t, errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "lock"), "%v", err)
				assert.Equal(t, string(before), string(data), "nothing changed")
				assert.FileExists(t, spool+".lock", "the holder's lock stays")
			}
		})
	}
}

// A delivery agent that takes only the dotlock (dotlockfile -l, then
// cat >> spool, then dotlockfile -u: no fcntl lock, as the issue's
// dotlockfile deliveries and older mail programs write) is still writing
// when a session begins. The session must not list the half-written
// message: a client would fetch half of it, then delete it. Nor may the
// session's update leave the rest of it behind, glued to the message
// before or heading the spool, which is then no mbox at all.
func TestDotlockOnlyDeliveryNotSeenHalfWritten(t *testing.T) {
	testprog.Require(t, "dotlockfile", "liblockfile-bin")
	first := "Subject: first\n\nthe first message\n"
	slow := "Subject: slow\n\nthe first half\nthe second half\n"
	half := len("Subject: slow\n\nthe first half\n")
	for _, tc := range []struct {
		name   string
		delete func(shown string) bool
	}{
		{"the client deletes what it fetched", func(string) bool { return true }},
		{"the client deletes the new message", func(shown string) bool { return strings.Contains(shown, "Subject: slow") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, dir := agentSpools(t, "bob:{PLAIN}pw\n")
			spool := filepath.Join(dir, "bob")
			require.NoError(t, b.Deliver(context.Background(), "bob", strings.NewReader(first)))
			srv := pop3test.NewServer(t, b)

			out, err := exec.Command("dotlockfile", "-l", spool+".lock").CombinedOutput()
			require.NoError(t, err, "%s", out)
			f, err := os.OpenFile(spool, os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			defer f.Close()
			_, err = f.WriteString(agentFrom("slow@example.org") + slow[:half])
			require.NoError(t, err)
			finished := make(chan error, 1)
			go func() {
				time.Sleep(500 * time.Millisecond)
				_, err := f.WriteString(slow[half:] + "\n")
				if err == nil {
					err = exec.Command("dotlockfile", "-u", spool+".lock").Run()
				}
				finished <- err
			}()

			c := srv.Dial()
			c.Login("bob", "pw")
			n := len(c.OK("UIDL").Lines())
			kept := 0
			for i := 1; i <= n; i++ {
				shown := string(c.OK(fmt.Sprintf("RETR %d", i)).Body)
				assert.Contains(t, []string{toCRLF(first), toCRLF(slow)}, shown, "RETR %d: a message that was being written", i)
				if tc.delete(shown) {
					c.OK(fmt.Sprintf("DELE %d", i))
				} else {
					kept++
				}
			}
			c.Quit()
			require.NoError(t, <-finished)

			data, err := os.ReadFile(spool)
			require.NoError(t, err)
			t.Logf("the session listed %d messages; the spool after it: %q", n, data)
			if n == 2 {
				msgs := spoolMessages(t, string(data))
				if assert.Len(t, msgs, kept) && kept == 1 {
					_, body, _ := strings.Cut(msgs[0], "\n")
					assert.Equal(t, first+"\n", strings.Join(dropHidden(body), ""), "the message kept is intact")
				}
			}
			// The next session opens the spool, and sees every message whole.
			c = srv.Dial()
			c.OK("USER bob")
			r := c.Cmd("PASS pw")
			if assert.True(t, r.OK, "the next login: %s", r.Line) {
				for i := 1; i <= len(c.OK("UIDL").Lines()); i++ {
					assert.Contains(t, []string{toCRLF(first), toCRLF(slow)}, string(c.OK(fmt.Sprintf("RETR %d", i)).Body), "RETR %d in the next session", i)
				}
				c.Quit()
			}
		})
	}
}

// dropHidden returns the lines of a message without the headers the
// store writes for itself.
func dropHidden(msg string) []string {
	var lines []string
	header := true
	for _, l := range strings.SplitAfter(msg, "\n") {
		if l == "\n" {
			header = false
		}
		if header {
			name, _, _ := strings.Cut(l, ":")
			switch strings.ToLower(name) {
			case "status", "x-uid", "x-imapbase":
				continue
			}
		}
		lines = append(lines, l)
	}
	return lines
}

// A spool whose last message has no empty line after it, as procmail
// leaves it when the message it was given does not end in a line end,
// then a delivery while a session is open (pop3d's own, through LMTP:
// Deliver adds the line end that the mbox format wants before its From
// line), and the session deletes that last message. The spool the update
// leaves is still an mbox, the message before is unchanged, and the new
// message is there, whole.
func TestDeliveryDuringSessionAfterProcmailLeftNoBlankLine(t *testing.T) {
	testprog.Require(t, "procmail", "procmail")
	for _, tc := range []struct {
		name   string
		before []string // delivered by procmail, the last without a final line end
	}{
		{"the only message deleted", []string{"Subject: cut short\n\nno line end"}},
		{"the last message deleted", []string{"Subject: kept\n\nkept\n", "Subject: cut short\n\nno line end"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, dir := agentSpools(t, "dave:{PLAIN}pw\n")
			spool := filepath.Join(dir, "dave")
			rc, _ := procmailrc(t, spool)
			require.NoError(t, os.WriteFile(spool, nil, 0o660))
			for _, m := range tc.before {
				out, err := procmailCommand(context.Background(), rc, agentFrom("procmail@example.org")+m).CombinedOutput()
				require.NoError(t, err, "%s", out)
			}
			data, err := os.ReadFile(spool)
			require.NoError(t, err)
			require.False(t, strings.HasSuffix(string(data), "\n\n"), "procmail left no empty line: %q", data)
			srv := pop3test.NewServer(t, b)

			c := srv.Dial()
			c.Login("dave", "pw")
			uidl := c.OK("UIDL").Lines()
			require.Len(t, uidl, len(tc.before))
			var kept []string
			for i := 1; i < len(uidl); i++ {
				kept = append(kept, string(c.OK(fmt.Sprintf("RETR %d", i)).Body))
			}
			c.OK(fmt.Sprintf("DELE %d", len(uidl)))
			require.NoError(t, b.Deliver(context.Background(), "dave", strings.NewReader("Subject: during\n\ndelivered during the session\n")))
			c.Quit()

			data, err = os.ReadFile(spool)
			require.NoError(t, err)
			t.Logf("the spool after the session: %q", data)
			c = srv.Dial()
			c.OK("USER dave")
			r := c.Cmd("PASS pw")
			require.True(t, r.OK, "the next login: %s", r.Line)
			n := len(c.OK("UIDL").Lines())
			require.Equal(t, len(kept)+1, n)
			for i, want := range kept {
				assert.Equal(t, want, string(c.OK(fmt.Sprintf("RETR %d", i+1)).Body), "the message before is unchanged")
			}
			assert.Equal(t, toCRLF("Subject: during\n\ndelivered during the session\n"), string(c.OK(fmt.Sprintf("RETR %d", n)).Body))
			c.Quit()
		})
	}
}
