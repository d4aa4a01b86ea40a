package interop

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lmtpScript delivers the messages of cfg["messages"] with Python's
// smtplib.LMTP, alternating between the LMTP servers of cfg["servers"],
// and prints one line per recipient: "ok ID RCPT", "refused ID RCPT CODE"
// or, for a transaction that failed whole, "error ID REASON".
const lmtpScript = `import json, smtplib, sys

cfg = json.loads(sys.argv[1])
servers = cfg["servers"]
conns = [None] * len(servers)
for i, m in enumerate(cfg["messages"]):
    k = i % len(servers)
    if conns[k] is None:
        conns[k] = smtplib.LMTP(servers[k][0], servers[k][1], timeout=60)
    ident = m["id"]
    body = ("From: sender@example.org\r\nTo: %s\r\nSubject: message %s\r\nX-Test-ID: %s\r\n\r\n"
            "Body of %s.\r\n.a line that starts with a dot\r\n" % (", ".join(m["rcpts"]), ident, ident, ident))
    body += "filler line\r\n" * m["lines"]
    try:
        refused = conns[k].sendmail("sender@example.org", m["rcpts"], body.encode())
    except smtplib.SMTPRecipientsRefused as e:
        refused = e.recipients
    except (smtplib.SMTPException, OSError) as e:
        print("error", ident, repr(e).replace("\n", " "), flush=True)
        conns[k] = None
        continue
    for r in m["rcpts"]:
        if r in refused:
            print("refused", ident, r, refused[r][0], flush=True)
        else:
            print("ok", ident, r, flush=True)
for c in conns:
    if c is not None:
        c.quit()
`

// deliveries are the (user, X-Test-ID) pairs the LMTP servers acknowledged.
type deliveries struct {
	mu        sync.Mutex
	delivered map[string]bool // "user/id"
	problems  []string
}

func (d *deliveries) keys() map[string]bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.delivered
}

// deliver runs lmtpScript for the messages numbered from..to-1, each to a
// user of users (some in upper case, some with an unknown recipient
// beside it, refused at RCPT), and returns a function that waits for it.
func (c *cluster) deliver(t testing.TB, python string, d *deliveries, users []string, from, to int) (wait func()) {
	t.Helper()
	type message struct {
		ID    string   `json:"id"`
		Rcpts []string `json:"rcpts"`
		Lines int      `json:"lines"`
	}
	var msgs []message
	for i := from; i < to; i++ {
		rcpt := users[i%len(users)] + "@example.org"
		switch i % 5 {
		case 1:
			rcpt = strings.ToUpper(rcpt) // the local part, lower-cased, names the user
		case 2:
			msgs = append(msgs, message{ID: "m" + strconv.Itoa(i), Rcpts: []string{rcpt, "nobody@example.org"}, Lines: i % 7})
			continue
		}
		msgs = append(msgs, message{ID: "m" + strconv.Itoa(i), Rcpts: []string{rcpt}, Lines: (i % 11) * 30})
	}
	var servers [][]any
	for _, nd := range c.nodes {
		host, port, _ := strings.Cut(nd.lmtpAddr, ":")
		p, _ := strconv.Atoi(port)
		servers = append(servers, []any{host, p})
	}
	cfg, err := json.Marshal(map[string]any{"servers": servers, "messages": msgs})
	require.NoError(t, err)
	cmd := exec.Command(python, "-I", "-c", lmtpScript, string(cfg))
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() {
		defer close(done)
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			f := strings.Fields(lines.Text())
			d.mu.Lock()
			switch {
			case len(f) == 3 && f[0] == "ok":
				user := strings.ToLower(strings.SplitN(f[2], "@", 2)[0])
				d.delivered[user+"/"+f[1]] = true
			case len(f) == 4 && f[0] == "refused" && f[2] == "nobody@example.org" && f[3] == "550":
			default:
				d.problems = append(d.problems, lines.Text())
			}
			d.mu.Unlock()
		}
	}()
	return func() {
		<-done
		err := cmd.Wait()
		require.NoError(t, err, "the LMTP client failed: %s", stderr.String())
		d.mu.Lock()
		defer d.mu.Unlock()
		require.Empty(t, d.problems, "every delivery to a user is acknowledged, every unknown recipient refused with 550")
	}
}

// holdScript logs in with poplib and keeps the maildrop until a line
// arrives on stdin, then QUITs.
const holdScript = `import json, poplib, sys
cfg = json.loads(sys.argv[1])
p = poplib.POP3(cfg["host"], cfg["port"], timeout=30)
p.user(cfg["user"])
p.pass_(cfg["password"])
print("held", p.stat()[0], flush=True)
sys.stdin.readline()
print(p.quit().decode(), flush=True)
`

// Two pop3d nodes on one PostgreSQL behind HAProxy (PROXY protocol v2),
// with mail arriving over LMTP on both: a maildrop is locked across nodes,
// 500 sessions that retrieve, delete, quit and drop while mail keeps
// arriving lose no message and delete none twice, and a node killed with
// kill -9 frees its user's lock within the lease, deleting nothing its
// session had marked.
func TestTwoNodesBehindHAProxy(t *testing.T) {
	python := pythonInterpreter(t)
	mpop := requireClient(t, "mpop", "mpop")
	c := startCluster(t, 2)
	users := c.addUsers(t, 26)
	workers, pauseUser, crashUser := users[:24], users[24], users[25]
	d := &deliveries{delivered: map[string]bool{}}
	c.deliver(t, python, d, users, 0, 160)()
	require.Len(t, d.keys(), 160)

	t.Run("same user on two clients", func(t *testing.T) {
		hold := exec.Command(python, "-I", "-c", holdScript,
			fmt.Sprintf(`{"host": %q, "port": %s, "user": "user0", "password": "pw-user0"}`, loopback, strings.Split(c.proxyAddr, ":")[1]))
		stdin, err := hold.StdinPipe()
		require.NoError(t, err)
		stdout, err := hold.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, hold.Start())
		out := bufio.NewReader(stdout)
		line, err := out.ReadString('\n')
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(line, "held "), "poplib holds the maildrop: %q", line)

		// HAProxy's round robin sends these to one node, then the other.
		for range 2 {
			p, err := dialProxied(c.proxyAddr, time.Minute)
			require.NoError(t, err)
			err = p.login("user0", "pw-user0")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "-ERR [IN-USE]")
			p.close()
		}
		home := t.TempDir()
		rc := writeFile(t, home, "mpoprc", fmt.Sprintf("account user0\nhost %s\nport %s\nuser user0\npassword pw-user0\nauth user\ntls off\n"+
			"delivery mbox %s/mbox\nkeep on\nuidls_file %s/uidls\ntimeout 30\n", loopback, strings.Split(c.proxyAddr, ":")[1], home, home), 0o600)
		r := runClient(t, home, nil, []int{1, 69, 70, 74, 75, 76, 77, 78}, mpop, "--file="+rc, "user0")
		assert.Contains(t, r.stdout+r.stderr, "IN-USE", "mpop reports the server's [IN-USE]:\n%s", r)

		_, err = io.WriteString(stdin, "release\n")
		require.NoError(t, err)
		line, err = out.ReadString('\n')
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(line, "+OK"), "poplib's QUIT: %q", line)
		require.NoError(t, hold.Wait())
		for _, nd := range c.nodes {
			assert.Contains(t, nd.log.String(), `msg="pop3: maildrop in use" `, "%s refused a session", nd.name)
		}
	})

	t.Run("500 sessions while mail arrives", func(t *testing.T) {
		wait := c.deliver(t, python, d, users, 160, 400)
		outcome := c.mixedSessions(t, workers, 500, 8)
		wait()
		t.Logf("500 sessions: %d deleted and quit, %d retrieved and quit, %d dropped, %d refused [IN-USE]; %d deleted messages",
			outcome.quitDeleting, outcome.quitKeeping, outcome.dropped, outcome.inUse, len(outcome.deleted))
		assert.Positive(t, outcome.quitDeleting)
		assert.Positive(t, outcome.dropped)
		remaining := c.remaining(t, users)
		delivered := d.keys()
		for key, n := range outcome.deleted {
			assert.Equal(t, 1, n, "%s was deleted by %d QUITs", key, n)
			assert.True(t, delivered[key], "%s was deleted but never delivered", key)
			assert.Zero(t, remaining[key], "%s was deleted by a QUIT, yet is still there", key)
		}
		for key, n := range remaining {
			assert.Equal(t, 1, n, "%s is in the maildrop %d times", key, n)
			assert.True(t, delivered[key], "%s is there but was never delivered", key)
		}
		for key := range delivered {
			assert.True(t, outcome.deleted[key] == 1 || remaining[key] == 1, "%s was delivered and is lost", key)
		}
	})

	t.Run("a paused node deletes nothing", func(t *testing.T) {
		p, err := dialProxied(c.proxyAddr, time.Minute)
		require.NoError(t, err)
		defer p.close()
		require.NoError(t, p.login(pauseUser, "pw-"+pauseUser))
		before, err := p.testIDs()
		require.NoError(t, err)
		_, err = p.cmd("DELE 1")
		require.NoError(t, err)

		paused := c.holderNode(t, pauseUser)
		require.NoError(t, paused.cmd.Process.Signal(syscall.SIGSTOP))
		defer paused.cmd.Process.Signal(syscall.SIGCONT) // also when the test fails
		stopped := time.Now()
		q := c.openWhenFree(t, pauseUser, stopped) // on the other node, once the lease expired
		_, err = q.cmd("QUIT")
		require.NoError(t, err)
		require.NoError(t, paused.cmd.Process.Signal(syscall.SIGCONT))

		_, err = p.cmd("QUIT")
		require.Error(t, err, "the paused node's QUIT must not report success")
		assert.Contains(t, err.Error(), "-ERR [SYS/TEMP]")
		assert.Contains(t, err.Error(), "nothing was deleted")
		left := c.remaining(t, []string{pauseUser})
		assert.Equal(t, 1, left[pauseUser+"/"+before[1]], "the marked message is still there")
		assert.Len(t, left, len(before))
	})

	t.Run("kill -9 of a node mid-session", func(t *testing.T) {
		p, err := dialProxied(c.proxyAddr, time.Minute)
		require.NoError(t, err)
		require.NoError(t, p.login(crashUser, "pw-"+crashUser))
		before, err := p.testIDs()
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(before), 2)
		_, err = p.cmd("DELE 1")
		require.NoError(t, err)
		_, err = p.cmd("DELE 2")
		require.NoError(t, err)

		victim := c.holderNode(t, crashUser)
		victim.kill9(t)
		killed := time.Now()
		p.close()

		q := c.openWhenFree(t, crashUser, killed)
		after, err := q.testIDs()
		require.NoError(t, err)
		assert.Equal(t, before[1], after[1], "message 1 was marked, not deleted")
		assert.Equal(t, before[2], after[2], "message 2 was marked, not deleted")
		_, err = q.cmd("QUIT")
		require.NoError(t, err)
		freed := time.Since(killed)
		t.Logf("killed %s holding %s's lock; the maildrop opened again after %v (lease %v)", victim.name, crashUser, freed.Round(10*time.Millisecond), clusterLease)
		assert.Less(t, freed, clusterLease+4*time.Second, "the lease, HAProxy's check and a login")
	})

	for _, nd := range c.nodes {
		assert.Contains(t, nd.log.String(), "remote="+proxiedClient+":", "%s logs the client's own address", nd.name)
	}
}

// holderNode returns the node whose session holds user's maildrop lock:
// the lock's holder names the node's process.
func (c *cluster) holderNode(t *testing.T, user string) *node {
	t.Helper()
	holder := psql(t, c.dsn, "SELECT l.holder FROM pop3_locks l JOIN pop3_users u ON u.id = l.user_id WHERE u.name = '"+user+"'")
	host, _, _ := strings.Cut(holder, "/")
	_, pidText, _ := strings.Cut(host, ":")
	pid, err := strconv.Atoi(pidText)
	require.NoError(t, err, "holder %q", holder)
	for _, nd := range c.nodes {
		if nd.pid() == pid {
			return nd
		}
	}
	require.FailNow(t, "the lock's holder is no node", "holder %q", holder)
	return nil
}

// openWhenFree logs in as user through HAProxy until the maildrop is no
// longer locked, within the lease (and HAProxy's check) from since.
func (c *cluster) openWhenFree(t *testing.T, user string, since time.Time) *popClient {
	t.Helper()
	for {
		// A connection HAProxy sent to a paused node before its check
		// failed gets no greeting: give up on it soon.
		q, err := dialProxied(c.proxyAddr, time.Second)
		if err == nil {
			if err = q.login(user, "pw-"+user); err == nil {
				_ = q.conn.SetDeadline(time.Now().Add(time.Minute))
				return q
			}
			q.close()
		}
		require.Less(t, time.Since(since), clusterLease+5*time.Second, "the lock is still held: %v", err)
		time.Sleep(100 * time.Millisecond)
	}
}

// sessionOutcome counts what mixedSessions did.
type sessionOutcome struct {
	mu                                        sync.Mutex
	quitDeleting, quitKeeping, dropped, inUse int
	deleted                                   map[string]int // "user/id" → QUITs that deleted it
	errs                                      []error
}

// mixedSessions runs n sessions on `parallel` goroutines through HAProxy,
// each as a random user of users: a third RETR and DELE up to three
// messages and QUIT, a third RETR one and QUIT, a third DELE some and drop
// the connection. A QUIT answered +OK deleted what the session marked.
func (c *cluster) mixedSessions(t *testing.T, users []string, n, parallel int) *sessionOutcome {
	t.Helper()
	o := &sessionOutcome{deleted: map[string]int{}}
	next := make(chan int)
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for i := range next {
				if err := c.session(o, i, users[rand.IntN(len(users))]); err != nil {
					o.mu.Lock()
					o.errs = append(o.errs, fmt.Errorf("session %d: %w", i, err))
					o.mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	require.Empty(t, o.errs)
	return o
}

// session is one session of mixedSessions.
func (c *cluster) session(o *sessionOutcome, i int, user string) error {
	p, err := dialProxied(c.proxyAddr, time.Minute)
	if err != nil {
		return err
	}
	defer p.close()
	if err := p.login(user, "pw-"+user); err != nil {
		if strings.Contains(err.Error(), "[IN-USE]") {
			o.mu.Lock()
			o.inUse++
			o.mu.Unlock()
			return nil
		}
		return err
	}
	ids, err := p.testIDs()
	if err != nil {
		return err
	}
	var marked []string
	for msg, most := 1, 1+rand.IntN(3); msg <= len(ids) && len(marked) < most; msg++ {
		if rand.IntN(2) == 0 {
			continue
		}
		body, err := p.multi("RETR %d", msg)
		if err != nil {
			return err
		}
		if m := testIDHeader.FindSubmatch(body); m == nil || string(m[1]) != ids[msg] {
			return fmt.Errorf("RETR %d is not the message TOP showed (%s)", msg, ids[msg])
		}
		if i%3 == 1 {
			break // retrieve only
		}
		if _, err := p.cmd("DELE %d", msg); err != nil {
			return err
		}
		marked = append(marked, user+"/"+ids[msg])
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	switch i % 3 {
	case 2:
		o.dropped++
		return nil // the deferred close drops the connection: nothing is deleted
	case 1:
		o.quitKeeping++
	default:
		o.quitDeleting++
	}
	if _, err := p.cmd("QUIT"); err != nil {
		return fmt.Errorf("QUIT: %w", err)
	}
	for _, key := range marked {
		o.deleted[key]++
	}
	return nil
}

// remaining logs in as each user through HAProxy and counts the messages
// there by "user/X-Test-ID".
func (c *cluster) remaining(t *testing.T, users []string) map[string]int {
	t.Helper()
	left := map[string]int{}
	for _, u := range users {
		var ids map[int]string
		for attempt := 0; ; attempt++ {
			p, err := dialProxied(c.proxyAddr, time.Minute)
			require.NoError(t, err)
			err = p.login(u, "pw-"+u)
			if err == nil {
				ids, err = p.testIDs()
				require.NoError(t, err)
				_, err = p.cmd("QUIT")
				require.NoError(t, err)
				break
			}
			p.close()
			require.Less(t, attempt, 50, "%s: %v", u, err)
			time.Sleep(100 * time.Millisecond)
		}
		for _, id := range ids {
			left[u+"/"+id]++
		}
	}
	return left
}
