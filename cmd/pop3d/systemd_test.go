//go:build linux

package main

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/syncbuf"
	"github.com/gopop3/pop3/internal/testprog"
	"github.com/gopop3/pop3/pop3test"
)

// TestSystemd runs the real pop3d binary under systemd-socket-activate,
// which binds the sockets, passes them with LISTEN_FDS/LISTEN_FDNAMES and
// execs pop3d in its own place (same PID), as systemd does for a .socket
// unit. The subtests share one build of the binary.
func TestSystemd(t *testing.T) {
	activate := testprog.Require(t, "systemd-socket-activate", "systemd")
	bin := buildPop3dBinary(t)

	t.Run("Activation", func(t *testing.T) { testSystemdActivation(t, activate, bin) })
	t.Run("Reload", func(t *testing.T) { testSystemdReload(t, activate, bin) })
	t.Run("WrongSockets", func(t *testing.T) { testSystemdWrongSockets(t, activate, bin) })
}

// buildPop3dBinary builds cmd/pop3d (the package under test: go test runs
// in its directory) into a temporary directory, with -race when this test
// binary has it.
func buildPop3dBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the go command builds the pop3d binary")
	bin := filepath.Join(t.TempDir(), "pop3d")
	args := []string{"build", "-o", bin}
	if builtWithRace() {
		args = append(args, "-race")
	}
	cmd := exec.Command(goTool, append(args, ".")...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go %s:\n%s", strings.Join(cmd.Args[1:], " "), out)
	t.Logf("go %s", strings.Join(cmd.Args[1:], " "))
	return bin
}

// builtWithRace tells whether this binary was built with -race.
func builtWithRace() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// raceEnv returns args (pop3d's command line) preceded, when pop3d is
// built with -race, by the option of systemd-socket-activate that spares it
// the race detector's 1s sleep at exit.
func raceEnv(args ...string) []string {
	if !builtWithRace() {
		return args
	}
	return append([]string{"-E", "GORACE=atexit_sleep_ms=0"}, args...)
}

// freeLoopbackPort returns a loopback port that was free a moment ago.
func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, err := net.SplitHostPort(l.Addr().String())
	require.NoError(t, err)
	require.NoError(t, l.Close())
	return port
}

// notification is one sd_notify datagram and the PID of its sender, from
// the SCM_CREDENTIALS the kernel attaches (as systemd checks for
// NotifyAccess=main).
type notification struct {
	state string
	pid   int
}

// has tells whether the datagram holds the assignment kv (one per line).
func (n notification) has(kv string) bool {
	for _, line := range strings.Split(n.state, "\n") {
		if line == kv {
			return true
		}
	}
	return false
}

// notifySocket is the NOTIFY_SOCKET that systemd would listen on.
type notifySocket struct {
	path string
	c    chan notification
}

// listenNotify listens for sd_notify datagrams until the test ends. Its
// directory is short, under os.TempDir(): a unix socket path has at most
// 107 bytes, which t.TempDir() under a long test name may exceed.
func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	dir, err := os.MkdirTemp("", "pop3d-sd")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	require.NoError(t, err)
	raw, err := conn.SyscallConn()
	require.NoError(t, err)
	var serr error
	require.NoError(t, raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_PASSCRED, 1)
	}))
	require.NoError(t, serr, "SO_PASSCRED")

	s := &notifySocket{path: path, c: make(chan notification, 1024)}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		buf := make([]byte, 4096)
		oob := make([]byte, syscall.CmsgSpace(syscall.SizeofUcred))
		for {
			n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
			if err != nil {
				return // closed at the end of the test
			}
			note := notification{state: strings.TrimRight(string(buf[:n]), "\n"), pid: -1}
			if msgs, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, m := range msgs {
					if cred, err := syscall.ParseUnixCredentials(&m); err == nil {
						note.pid = int(cred.Pid)
					}
				}
			}
			select {
			case s.c <- note:
			case <-done:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(done)
		conn.Close()
		<-stopped
	})
	return s
}

// next returns the next notification other than WATCHDOG=1 pings, failing
// the test after timeout; what says which notification is awaited.
func (s *notifySocket) next(t *testing.T, what string, timeout time.Duration) notification {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case n := <-s.c:
			if n.state == "WATCHDOG=1" {
				continue
			}
			return n
		case <-deadline:
			require.FailNow(t, "no sd_notify notification in time", "waited %v for %s", timeout, what)
			return notification{}
		}
	}
}

// activated is pop3d run by systemd-socket-activate.
type activated struct {
	cmd            *exec.Cmd
	stdout, stderr *syncbuf.Buffer
	exited         chan struct{} // closed once cmd.Wait returned
	waitErr        error         // cmd.Wait's, set before exited is closed
}

// startActivated runs systemd-socket-activate with args and stops the
// process (SIGKILL) at the end of the test if it still runs.
func startActivated(t *testing.T, activate string, args ...string) *activated {
	t.Helper()
	p := &activated{stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(activate, args...)
	p.cmd.Stdout = p.stdout
	p.cmd.Stderr = p.stderr
	require.NoError(t, p.cmd.Start())
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit status.
func (p *activated) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		require.FailNow(t, "the process did not exit in time", "waited %v", timeout)
	}
	var ee *exec.ExitError
	if p.waitErr != nil && !errors.As(p.waitErr, &ee) {
		require.NoError(t, p.waitErr)
	}
	return p.cmd.ProcessState.ExitCode() // -1 when killed by a signal
}

func testSystemdActivation(t *testing.T, activate, bin string) {
	notify := listenNotify(t)
	pop3Port, pop3sPort := freeLoopbackPort(t), freeLoopbackPort(t)
	pop3Addr, pop3sAddr := "127.0.0.1:"+pop3Port, "127.0.0.1:"+pop3sPort
	p := startActivated(t, activate, append([]string{
		"-l", pop3Addr, "-l", pop3sAddr, "--fdname=pop3:pop3s",
		"-E", "NOTIFY_SOCKET=" + notify.path, "-E", "WATCHDOG_USEC=200000"},
		raceEnv(bin, "-tls-self-signed", "-shutdown-grace", "2s")...)...)
	pid := p.cmd.Process.Pid
	p.waitListening(t, pop3Addr, pop3sAddr)

	// systemd-socket-activate execs pop3d only once a connection arrives
	// (as systemd starts a service on its socket's first connection): this
	// client's, which pop3d then serves.
	c := pop3test.Dial(t, pop3Addr)

	// READY=1, from the very process started: systemd-socket-activate
	// execs pop3d in place, so signals sent to that PID reach pop3d.
	ready := notify.next(t, "READY=1 at start-up", 10*time.Second)
	require.Equal(t, "READY=1", ready.state)
	assert.Equal(t, pid, ready.pid, "READY=1 comes from the PID systemd-socket-activate was started as")
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	require.NoError(t, err)
	assert.Equal(t, bin, exe, "systemd-socket-activate execs pop3d in place")

	// The watchdog is pinged every WATCHDOG_USEC/2 = 100ms.
	pings := 0
	window := time.After(time.Second)
watch:
	for {
		select {
		case n := <-notify.c:
			require.Equal(t, "WATCHDOG=1", n.state, "nothing but pings while serving")
			assert.Equal(t, pid, n.pid, "WATCHDOG=1 sender")
			pings++
		case <-window:
			break watch
		}
	}
	t.Logf("%d WATCHDOG=1 pings in 1s", pings)
	assert.GreaterOrEqual(t, pings, 2, "WATCHDOG=1 pings within 1s at WATCHDOG_USEC=200000")
	assert.LessOrEqual(t, pings, 15, "WATCHDOG=1 pings within 1s: the interval should be 100ms")

	// It took its listeners from systemd, by name.
	p.eventually(t, p.stderr, `msg="pop3d: using the sockets systemd passed" sockets=pop3,pop3s`)
	p.eventually(t, p.stdout, "serving POP3 on "+pop3Addr+" (with STLS) and POP3 over TLS on "+pop3sAddr)

	// POP3 (with STLS) on the socket named pop3, for the client that
	// started it all.
	greeting := c.Greeting()
	assert.True(t, strings.HasPrefix(greeting, "+OK"), "greeting: %q", greeting)
	assert.Contains(t, c.Capa(), "STLS")
	c.Login("demo", "demo")
	assert.Regexp(t, `^2 [0-9]+$`, c.OK("STAT").Text)
	c.Quit()

	// Implicit TLS on the socket named pop3s.
	tc := pop3test.DialTLS(t, pop3sAddr, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
	greeting = tc.Greeting()
	assert.True(t, strings.HasPrefix(greeting, "+OK"), "greeting over TLS: %q", greeting)
	state := tc.Conn().(*tls.Conn).ConnectionState()
	assert.True(t, state.HandshakeComplete)
	assert.GreaterOrEqual(t, state.Version, uint16(tls.VersionTLS12))
	tc.Login("demo", "demo")
	assert.Regexp(t, `^2 [0-9]+$`, tc.OK("STAT").Text)
	tc.Quit()

	// SIGHUP: RELOADING=1, then READY=1 again, and pop3d still serves.
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	n := notify.next(t, "RELOADING=1 after SIGHUP", 5*time.Second)
	assert.True(t, n.has("RELOADING=1"), "first notification after SIGHUP: %q", n.state)
	assert.Equal(t, pid, n.pid)
	n = notify.next(t, "READY=1 after SIGHUP", 5*time.Second)
	assert.True(t, n.has("READY=1"), "second notification after SIGHUP: %q", n.state)
	assert.Equal(t, pid, n.pid)
	c = pop3test.Dial(t, pop3Addr)
	greeting = c.Greeting()
	assert.True(t, strings.HasPrefix(greeting, "+OK"), "greeting after SIGHUP: %q", greeting)
	c.Quit()

	// SIGTERM: STOPPING=1, then a graceful exit with status 0.
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	n = notify.next(t, "STOPPING=1 after SIGTERM", 5*time.Second)
	assert.True(t, n.has("STOPPING=1"), "first notification after SIGTERM: %q", n.state)
	assert.Equal(t, pid, n.pid)
	assert.Equal(t, 0, p.wait(t, 10*time.Second), "exit status after SIGTERM")
	assert.Contains(t, p.stderr.String(), "pop3d: stopped")
}

// waitListening waits until systemd-socket-activate says it listens on
// every one of addrs.
func (p *activated) waitListening(t *testing.T, addrs ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, addr := range addrs {
		for !strings.Contains(p.stderr.String(), "Listening on "+addr+" ") {
			select {
			case <-p.exited:
				require.FailNow(t, "systemd-socket-activate exited before listening on "+addr)
			default:
			}
			require.True(t, time.Now().Before(deadline), "systemd-socket-activate did not listen on %s in time", addr)
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// eventually checks that the process writes want to out (its stdout or
// stderr) soon: what it wrote before a notification may still be in the
// pipe that exec.Cmd copies from.
func (p *activated) eventually(t *testing.T, out *syncbuf.Buffer, want string) {
	t.Helper()
	assert.Eventually(t, func() bool { return strings.Contains(out.String(), want) }, 5*time.Second, 5*time.Millisecond,
		"the output should contain %q", want)
}

// connectToActivate connects to addr, for systemd-socket-activate to exec
// its child; the connection is closed at the end of the test.
func connectToActivate(t *testing.T, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
}

// testSystemdReload checks that SIGHUP re-reads -tls-cert and -tls-key
// under socket activation, between RELOADING=1 and READY=1.
func testSystemdReload(t *testing.T, activate, bin string) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	oldCert, err := selfSignedCert(time.Now())
	require.NoError(t, err)
	newCert, err := selfSignedCert(time.Now())
	require.NoError(t, err)
	writePair(t, certFile, keyFile, oldCert, oldCert)

	notify := listenNotify(t)
	pop3Addr, pop3sAddr := "127.0.0.1:"+freeLoopbackPort(t), "127.0.0.1:"+freeLoopbackPort(t)
	p := startActivated(t, activate, append([]string{
		"-l", pop3Addr, "-l", pop3sAddr, "--fdname=pop3:pop3s", "-E", "NOTIFY_SOCKET=" + notify.path},
		raceEnv(bin, "-tls-cert", certFile, "-tls-key", keyFile, "-shutdown-grace", "2s")...)...)
	p.waitListening(t, pop3Addr, pop3sAddr)

	// This first connection is the one that gets pop3d started.
	assert.Equal(t, oldCert.Certificate[0], servedCert(t, pop3sAddr).Raw, "the certificate of -tls-cert")
	require.Equal(t, "READY=1", notify.next(t, "READY=1 at start-up", 10*time.Second).state)

	writePair(t, certFile, keyFile, newCert, newCert)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	n := notify.next(t, "RELOADING=1 after SIGHUP", 5*time.Second)
	assert.True(t, n.has("RELOADING=1"), "first notification after SIGHUP: %q", n.state)
	n = notify.next(t, "READY=1 after SIGHUP", 5*time.Second)
	assert.True(t, n.has("READY=1"), "second notification after SIGHUP: %q", n.state)
	p.eventually(t, p.stderr, "pop3d: SIGHUP: certificate reloaded")
	assert.Equal(t, newCert.Certificate[0], servedCert(t, pop3sAddr).Raw, "the renewed certificate after SIGHUP")

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	assert.True(t, notify.next(t, "STOPPING=1 after SIGTERM", 5*time.Second).has("STOPPING=1"))
	assert.Equal(t, 0, p.wait(t, 10*time.Second), "exit status after SIGTERM")
}

// testSystemdWrongSockets checks that pop3d refuses, at start-up, sockets
// it would not serve: exit status 1 and a message that says what it wants.
func testSystemdWrongSockets(t *testing.T, activate, bin string) {
	for _, tc := range []struct {
		name    string
		fdnames string
		ports   int
		args    []string
		want    []string
	}{
		{"OtherName", "imap", 1, nil, []string{`named "imap"`, `"pop3"`}},
		{"SameNameTwice", "pop3:pop3", 2, nil, []string{`2 socket(s) named "pop3"`}},
		{"NoPOP3", "pop3s", 1, []string{"-tls-self-signed"}, []string{`none named "pop3"`}},
		{"POP3SWithoutTLS", "pop3:pop3s", 2, nil, []string{`named "pop3s"`, "TLS is off"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--fdname=" + tc.fdnames}
			var addrs []string
			for range tc.ports {
				addrs = append(addrs, "127.0.0.1:"+freeLoopbackPort(t))
				args = append(args, "-l", addrs[len(addrs)-1])
			}
			args = append(args, raceEnv(append([]string{bin}, tc.args...)...)...)
			p := startActivated(t, activate, args...)
			p.waitListening(t, addrs...)
			connectToActivate(t, addrs[0])
			assert.Equal(t, 1, p.wait(t, 10*time.Second), "exit status")
			stderr := p.stderr.String()
			assert.Contains(t, stderr, "pop3d: systemd passed")
			for _, want := range tc.want {
				assert.Contains(t, stderr, want)
			}
			assert.NotContains(t, stderr, "serving POP3")
			assert.Empty(t, p.stdout.String(), "no connection instructions")
		})
	}
}
