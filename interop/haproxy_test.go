package interop

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/syncbuf"
	"github.com/gopop3/pop3/internal/testprog"
)

// proxiedClient is the address poplib connects from, through HAProxy: a
// loopback address other than HAProxy's own (127.0.0.1), so that pop3d's
// log tells which of the two it took for the client.
const proxiedClient = "127.0.0.2"

// haproxyPoplibScript logs in through HAProxy with USER/PASS from the
// source address cfg["source"], then STAT, RETR of every message and
// QUIT, and prints what it got as JSON (messages as in poplibScript).
const haproxyPoplibScript = `import base64, json, poplib, socket, sys

cfg = json.loads(sys.argv[1])

class BoundPOP3(poplib.POP3):
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(cfg["source"], 0))

def s(b):
    return b.decode("latin-1")

out = {}
p = BoundPOP3(cfg["host"], cfg["port"], timeout=30)
out["welcome"] = s(p.getwelcome())
out["local"] = list(p.sock.getsockname())
out["user"] = s(p.user(cfg["user"]))
out["login"] = s(p.pass_(cfg["password"]))
out["stat"] = list(p.stat())
out["retr"] = []
for i in range(1, out["stat"][0] + 1):
    resp, lines, octets = p.retr(i)
    out["retr"].append(base64.b64encode(b"".join(l + b"\r\n" for l in lines)).decode())
out["quit"] = s(p.quit())
json.dump(out, sys.stdout)
`

// haproxyPoplibResult is what haproxyPoplibScript prints.
type haproxyPoplibResult struct {
	Welcome string   `json:"welcome"`
	Local   []any    `json:"local"`
	User    string   `json:"user"`
	Login   string   `json:"login"`
	Stat    []int    `json:"stat"`
	Retr    []string `json:"retr"`
	Quit    string   `json:"quit"`
}

// HAProxy in front of pop3d -proxy-protocol, with a PROXY protocol v2
// backend and a v1 one: Python's poplib logs in through each, from
// 127.0.0.2, and pop3d takes 127.0.0.2 (not HAProxy's 127.0.0.1) for the
// client, in its log and for the cleartext policy.
func TestHAProxy(t *testing.T) {
	haproxy := testprog.Require(t, "haproxy", "haproxy")
	python := pythonInterpreter(t)

	// The messages, with CRLF line ends as pop3d serves them, so that
	// what poplib gets compares byte for byte.
	var msgs [][]byte
	for _, f := range fixtures() {
		if f.name == "dot-lines" || f.name == "utf8" || f.name == "large" {
			msgs = append(msgs, toCRLF([]byte(f.raw)))
		}
	}
	require.Len(t, msgs, 3)
	pop3d := startProxiedPop3d(t, msgs)

	v2Port, v1Port := freePort(t), freePort(t)
	hp := startHAProxy(t, haproxy, fmt.Sprintf(`global
    maxconn 100

defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s

frontend pop3_v2
    bind %[1]s:%[2]d
    default_backend pop3d_v2

frontend pop3_v1
    bind %[1]s:%[3]d
    default_backend pop3d_v1

# No "check": a health check would send a PROXY LOCAL header.
backend pop3d_v2
    server pop3d %[4]s send-proxy-v2

backend pop3d_v1
    server pop3d %[4]s send-proxy
`, loopback, v2Port, v1Port, pop3d.addr), v2Port, v1Port)

	for _, tc := range []struct {
		name string
		port int
	}{
		{"send-proxy-v2", v2Port},
		{"send-proxy", v1Port},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			script := writeFile(t, home, "haproxy_poplib.py", haproxyPoplibScript, 0o600)
			cfg, err := json.Marshal(map[string]any{
				"host": loopback, "port": tc.port, "source": proxiedClient,
				"user": testUser, "password": testPassword,
			})
			require.NoError(t, err)
			r := runClient(t, home, nil, nil, python, "-I", script, string(cfg))
			var res haproxyPoplibResult
			dec := json.NewDecoder(strings.NewReader(r.stdout))
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(&res), "%s\nhaproxy:\n%s", r, hp)

			require.Len(t, res.Local, 2)
			require.Equal(t, proxiedClient, res.Local[0], "poplib's socket is bound to %s", proxiedClient)
			clientPort := strconv.Itoa(int(res.Local[1].(float64)))

			assert.True(t, strings.HasPrefix(res.Welcome, "+OK "), "greeting: %q", res.Welcome)
			assert.True(t, strings.HasPrefix(res.User, "+OK"), "USER from loopback %s without TLS: %q", proxiedClient, res.User)
			assert.True(t, strings.HasPrefix(res.Login, "+OK"), "PASS: %q", res.Login)
			size := 0
			for _, m := range msgs {
				size += len(m)
			}
			assert.Equal(t, []int{len(msgs), size}, res.Stat, "STAT")
			if assert.Len(t, res.Retr, len(msgs)) {
				for i, m := range msgs {
					assertSameBytes(t, m, unb64(t, res.Retr[i]), "RETR %d through HAProxy %s", i+1, tc.name)
				}
			}
			assert.True(t, strings.HasPrefix(res.Quit, "+OK"), "QUIT: %q", res.Quit)

			// The session's record carries poplib's own address and port,
			// which only the PROXY header told pop3d.
			ended := regexp.MustCompile(`session ended" conn=\d+ remote=` +
				regexp.QuoteMeta(net.JoinHostPort(proxiedClient, clientPort)) + ` user=` + testUser + ` reason=quit\b`)
			assert.Eventually(t, func() bool { return ended.MatchString(pop3d.log.String()) },
				5*time.Second, 10*time.Millisecond, "pop3d logs the session from %s:%s\npop3d's log:\n%s\nhaproxy:\n%s",
				proxiedClient, clientPort, pop3d.log, hp)
		})
	}

	// HAProxy connects from 127.0.0.1, which pop3d trusts as a proxy
	// and never takes for a client.
	assert.NotRegexp(t, `remote=127\.0\.0\.1:`, pop3d.log.String(), "pop3d's log")
	assert.Equal(t, 2, strings.Count(pop3d.log.String(), "user="+testUser+" reason=quit"), "two sessions, one per frontend\npop3d's log:\n%s", pop3d.log)
}

// proxiedPop3d is pop3d started by startProxiedPop3d.
type proxiedPop3d struct {
	addr string          // where it serves POP3, host:port
	log  *syncbuf.Buffer // its stderr: the log records
}

// startProxiedPop3d builds cmd/pop3d and starts it on a free loopback
// port with -proxy-protocol 127.0.0.1/32, serving testUser (testPassword)
// the messages msgs, loaded with -load. It is stopped with SIGTERM when
// the test ends.
func startProxiedPop3d(t *testing.T, msgs [][]byte) *proxiedPop3d {
	t.Helper()
	dir := t.TempDir()
	bin := buildPop3d(t, dir)

	load := filepath.Join(dir, "mail")
	userDir := filepath.Join(load, testUser)
	makeDir(t, userDir)
	writeFile(t, userDir, "password", testPassword+"\n", 0o600)
	for i, m := range msgs {
		writeFile(t, userDir, fmt.Sprintf("%03d.eml", i+1), string(m), 0o600)
	}

	p := &proxiedPop3d{log: &syncbuf.Buffer{}}
	m := runPop3d(t, bin, regexp.MustCompile(`serving POP3 on (\S+)`), p.log,
		"-addr", loopback+":0", "-load", load, "-proxy-protocol", loopback+"/32", "-shutdown-grace", "1s")
	p.addr = m[1]
	return p
}

// makeDir creates dir and its parents.
func makeDir(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o700))
}

// freePort returns a TCP port on loopback that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", loopback+":0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startHAProxy runs haproxy in the foreground with config, in a
// temporary directory, until the test ends, and waits until it accepts
// connections on every port of ports. It returns its output (stdout and
// stderr), for failure messages.
func startHAProxy(t testing.TB, haproxy, config string, ports ...int) *syncbuf.Buffer {
	t.Helper()
	dir := t.TempDir()
	cfg := writeFile(t, dir, "haproxy.cfg", config, 0o600)
	check := exec.Command(haproxy, "-c", "-f", cfg)
	out, err := check.CombinedOutput()
	require.NoError(t, err, "haproxy -c:\n%s\nconfiguration:\n%s", out, config)

	output := &syncbuf.Buffer{}
	cmd := exec.Command(haproxy, "-db", "-f", cfg)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = output, output
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Error("haproxy did not exit after SIGKILL")
		}
		if t.Failed() {
			t.Logf("haproxy's configuration:\n%s\nhaproxy's output:\n%s", config, output)
		}
	})

	// Probe from 127.0.0.3: a probe goes through to pop3d, and must not
	// be mistaken for a session of the proxied client (or of HAProxy).
	d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}
	deadline := time.Now().Add(10 * time.Second)
	for _, port := range ports {
		addr := net.JoinHostPort(loopback, strconv.Itoa(port))
		for {
			select {
			case err := <-exited:
				exited <- err
				require.FailNow(t, "haproxy exited", "%v\n%s", err, output)
			default:
			}
			c, err := d.Dial("tcp", addr)
			if err == nil {
				c.Close()
				break
			}
			require.True(t, time.Now().Before(deadline), "haproxy does not accept on %s: %v\n%s", addr, err, output)
			time.Sleep(20 * time.Millisecond)
		}
	}
	return output
}
