package interop

import (
	"bufio"
	"fmt"
	"net"
	"net/textproto"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/pgtest"
	"github.com/gopop3/pop3/internal/syncbuf"
	"github.com/gopop3/pop3/internal/testprog"
)

// clusterLease is the -postgres-lease of the nodes: short, so that the
// kill -9 check is quick.
const clusterLease = 3 * time.Second

// cluster is PostgreSQL, pop3d nodes on it and HAProxy in front of them,
// as a mail provider runs them: clients reach the nodes only through
// HAProxy, which sends the PROXY protocol v2; mail arrives over LMTP.
type cluster struct {
	dsn       string
	pop3admin string
	nodes     []*node
	proxyAddr string // HAProxy's POP3 frontend
	haproxy   *syncbuf.Buffer
}

// node is one pop3d process of a cluster.
type node struct {
	name     string
	cmd      *exec.Cmd
	addr     string // POP3, behind HAProxy
	lmtpAddr string
	log      *syncbuf.Buffer
	killed   bool
	exited   chan error
}

// startCluster starts n pop3d nodes on a new database and HAProxy in
// front of them, all stopped when the test ends.
func startCluster(t testing.TB, n int) *cluster {
	t.Helper()
	haproxy := testprog.Require(t, "haproxy", "haproxy")
	dir := t.TempDir()
	c := &cluster{dsn: pgtest.NewDatabase(t)}
	pop3d := buildPop3d(t, dir)
	c.pop3admin = buildCommand(t, dir, "pop3admin")
	c.admin(t, "", "migrate")
	for i := range n {
		c.nodes = append(c.nodes, startNode(t, pop3d, fmt.Sprintf("node%d", i+1), c.dsn))
	}

	port := freePort(t)
	c.proxyAddr = net.JoinHostPort(loopback, strconv.Itoa(port))
	var servers strings.Builder
	for _, nd := range c.nodes {
		fmt.Fprintf(&servers, "    server %s %s\n", nd.name, nd.addr)
	}
	// The checks speak POP3 with the PROXY header, as contrib/haproxy.cfg
	// does; a dead node is out of the rotation within a second, and a
	// connection that fails anyway is redispatched to the other node.
	c.haproxy = startHAProxy(t, haproxy, fmt.Sprintf(`global
    maxconn 4000
defaults
    mode tcp
    timeout connect 2s
    timeout client 2m
    timeout server 2m
    timeout check 2s
    retries 3
    option redispatch
frontend pop3
    bind %s
    default_backend pop3d
backend pop3d
    balance roundrobin
    option tcp-check
    tcp-check expect string +OK
    tcp-check send QUIT\r\n
    tcp-check expect string +OK
    default-server send-proxy-v2 check inter 300ms fall 1 rise 1
%s`, c.proxyAddr, servers.String()), port)
	return c
}

// buildCommand builds ./cmd/name of the workspace into dir.
func buildCommand(t testing.TB, dir, name string) string {
	t.Helper()
	bin := filepath.Join(dir, name)
	build := exec.Command("go", "build", "-o", bin, "./cmd/"+name)
	build.Dir = ".."
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building %s: %s", name, out)
	return bin
}

// admin runs pop3admin on the cluster's database with stdin.
func (c *cluster) admin(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(c.pop3admin, append([]string{"-postgres", c.dsn}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "pop3admin %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// addUsers adds users user0 .. user(n-1), each with password "pw-" + name.
func (c *cluster) addUsers(t testing.TB, n int) []string {
	t.Helper()
	var names []string
	for i := range n {
		name := fmt.Sprintf("user%d", i)
		c.admin(t, "pw-"+name+"\n", "useradd", "-s", "SHA512-CRYPT", name)
		names = append(names, name)
	}
	return names
}

// startNode runs pop3d on the database at dsn, with POP3 behind HAProxy
// (-proxy-protocol from loopback) and LMTP, on free ports.
func startNode(t testing.TB, bin, name, dsn string) *node {
	t.Helper()
	nd := &node{name: name, log: &syncbuf.Buffer{}, exited: make(chan error, 1),
		addr:     net.JoinHostPort(loopback, strconv.Itoa(freePort(t))),
		lmtpAddr: net.JoinHostPort(loopback, strconv.Itoa(freePort(t)))}
	nd.cmd = exec.Command(bin, "-addr", nd.addr, "-tls-addr", "", "-postgres", dsn,
		"-postgres-lease", clusterLease.String(), "-lmtp", nd.lmtpAddr,
		"-proxy-protocol", "127.0.0.1/32", "-max-connections-per-ip", "5000", "-shutdown-grace", "2s")
	stdout, err := nd.cmd.StdoutPipe()
	require.NoError(t, err)
	nd.cmd.Stderr = nd.log
	require.NoError(t, nd.cmd.Start())
	go func() { nd.exited <- nd.cmd.Wait() }()
	t.Cleanup(func() {
		if !nd.killed {
			_ = nd.cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case err := <-nd.exited:
			if !nd.killed {
				assert.NoError(t, err, "%s exits cleanly on SIGTERM", nd.name)
			}
		case <-time.After(15 * time.Second):
			_ = nd.cmd.Process.Kill()
			<-nd.exited
			t.Errorf("%s did not stop on SIGTERM", nd.name)
		}
		if t.Failed() {
			t.Logf("%s's log:\n%s", nd.name, nd.log)
		}
	})
	serving := regexp.MustCompile(`^pop3d: serving POP3 on `)
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if serving.MatchString(lines.Text()) {
			go func() {
				for lines.Scan() { // keep the pipe drained
				}
			}()
			return nd
		}
	}
	t.Fatalf("%s did not start; its log:\n%s", name, nd.log)
	return nil
}

// kill9 kills the node as a crash would: no lock released, nothing
// flushed.
func (nd *node) kill9(t testing.TB) {
	t.Helper()
	nd.killed = true
	require.NoError(t, nd.cmd.Process.Signal(syscall.SIGKILL))
	err := <-nd.exited
	nd.exited <- err // for the cleanup
}

// pid is the node's process id, which its maildrop locks name.
func (nd *node) pid() int { return nd.cmd.Process.Pid }

// popClient is a POP3 client for goroutines: its methods return errors
// instead of failing the test.
type popClient struct {
	conn net.Conn
	tp   *textproto.Conn
}

// dialProxied connects to addr from proxiedClient, so that the node's log
// shows whether it took the client's address from the PROXY header.
// Every read and write must be done within timeout.
func dialProxied(addr string, timeout time.Duration) (*popClient, error) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(proxiedClient)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	c := &popClient{conn: conn, tp: textproto.NewConn(conn)}
	if _, err := c.status(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	return c, nil
}

// status reads a status line: an error for -ERR, whose text it carries.
func (c *popClient) status() (string, error) {
	line, err := c.tp.ReadLine()
	if err != nil {
		return "", err
	}
	if rest, ok := strings.CutPrefix(line, "+OK"); ok {
		return strings.TrimSpace(rest), nil
	}
	return "", fmt.Errorf("server: %s", line)
}

// cmd sends a command and reads its status line.
func (c *popClient) cmd(format string, args ...any) (string, error) {
	if err := c.tp.PrintfLine(format, args...); err != nil {
		return "", err
	}
	return c.status()
}

// multi sends a command with a multi-line reply and returns its body.
func (c *popClient) multi(format string, args ...any) ([]byte, error) {
	if _, err := c.cmd(format, args...); err != nil {
		return nil, err
	}
	return c.tp.ReadDotBytes()
}

// login sends USER and PASS.
func (c *popClient) login(user, password string) error {
	if _, err := c.cmd("USER %s", user); err != nil {
		return err
	}
	_, err := c.cmd("PASS %s", password)
	return err
}

// testIDs maps message numbers to the X-Test-ID of each message, read with
// TOP n 0.
func (c *popClient) testIDs() (map[int]string, error) {
	st, err := c.cmd("STAT")
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.Fields(st)[0])
	if err != nil {
		return nil, err
	}
	ids := make(map[int]string, n)
	for i := 1; i <= n; i++ {
		head, err := c.multi("TOP %d 0", i)
		if err != nil {
			return nil, err
		}
		m := testIDHeader.FindSubmatch(head)
		if m == nil {
			return nil, fmt.Errorf("message %d has no X-Test-ID: %q", i, head)
		}
		ids[i] = string(m[1])
	}
	return ids, nil
}

var testIDHeader = regexp.MustCompile(`(?m)^X-Test-ID: (\S+)\r?$`)

// close drops the connection without QUIT.
func (c *popClient) close() { c.conn.Close() }

// psql runs one query on dsn and returns its unaligned output.
func psql(t testing.TB, dsn, query string) string {
	t.Helper()
	out, err := exec.Command(testprog.Require(t, "psql", "postgresql-client"), dsn, "-Atc", query).CombinedOutput()
	require.NoError(t, err, "psql: %s", out)
	return strings.TrimSpace(string(out))
}
