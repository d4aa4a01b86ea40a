package interop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/syncbuf"
	"github.com/gopop3/pop3/internal/testcert"
	"github.com/gopop3/pop3/internal/testprog"
	"github.com/gopop3/pop3/memory"
)

// The account every test logs in to. The password has no character that
// needs quoting in any client's configuration syntax.
const (
	testUser     = "alice"
	testPassword = "Interop-Secret-42"
	// loopback is the only address a client is ever given.
	loopback = "127.0.0.1"
	// clientTimeout bounds one run of an external client.
	clientTimeout = 60 * time.Second
)

// fixture is one message of the test maildrop: raw is what is given to
// memory.Backend.AppendMessage, which stores it with CRLF line ends. Every
// fixture has its own Message-ID, by which a delivered copy is matched
// with it.
type fixture struct {
	name string
	raw  string
}

// fixtures returns the test maildrop, oldest first: LF-only input, lines
// that need dot-stuffing (a leading dot, a line that is just "."), an
// empty line in the body, non-ASCII UTF-8, a folded header, a last line
// without a line end, and a message of about 200 KB.
func fixtures() []fixture {
	return []fixture{
		{"lf-only", "" +
			"From: Bob <bob@example.org>\n" +
			"To: Alice <alice@example.org>\n" +
			"Subject: bare LF line ends\n" +
			"Date: Mon, 01 Jan 2024 10:00:00 +0000\n" +
			"Message-ID: <lf-only@interop.test>\n" +
			"\n" +
			"This message was appended with bare LF line ends;\n" +
			"the server must serve it with CRLF.\n"},
		{"dot-lines", "" +
			"From: Bob <bob@example.org>\r\n" +
			"To: Alice <alice@example.org>\r\n" +
			"Subject: lines that need dot-stuffing\r\n" +
			"Date: Mon, 01 Jan 2024 10:01:00 +0000\r\n" +
			"Message-ID: <dot-lines@interop.test>\r\n" +
			"\r\n" +
			".a line that starts with a dot\r\n" +
			"..a line that starts with two dots\r\n" +
			".\r\n" +
			"the line above is a single dot; the next one is empty\r\n" +
			"\r\n" +
			"...\r\n" +
			". dot and space\r\n" +
			"end\r\n"},
		{"utf8", "" +
			"From: =?UTF-8?Q?J=C3=BCrgen?= <juergen@example.org>\r\n" +
			"To: Alice <alice@example.org>\r\n" +
			"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n" +
			"Date: Mon, 01 Jan 2024 10:02:00 +0000\r\n" +
			"Message-ID: <utf8@interop.test>\r\n" +
			"MIME-Version: 1.0\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\n" +
			"Content-Transfer-Encoding: 8bit\r\n" +
			"\r\n" +
			"Grüße aus Köln — 8-bit UTF-8 in the body.\r\n" +
			"日本語のテキスト, Ελληνικά, ✉ 🙂\r\n"},
		{"folded-header-no-final-eol", "" +
			"From: Bob <bob@example.org>\n" +
			"To: Alice <alice@example.org>\n" +
			"Subject: a folded header, and no line end at the end\n" +
			"X-Folded: first part\n" +
			"\tsecond part\n" +
			"Date: Mon, 01 Jan 2024 10:03:00 +0000\n" +
			"Message-ID: <folded@interop.test>\n" +
			"\n" +
			"The last line has no line end."},
		{"large", largeMessage()},
	}
}

// largeMessage returns a message of about 200 KB whose body mixes ordinary
// lines with lines that start with a dot, lone dots and empty lines. Every
// line is shorter than 2048 octets, poplib's limit.
func largeMessage() string {
	var b strings.Builder
	b.WriteString("From: Bob <bob@example.org>\r\n" +
		"To: Alice <alice@example.org>\r\n" +
		"Subject: a large message\r\n" +
		"Date: Mon, 01 Jan 2024 10:04:00 +0000\r\n" +
		"Message-ID: <large@interop.test>\r\n" +
		"\r\n")
	for i := 1; b.Len() < 200<<10; i++ {
		switch {
		case i%97 == 0:
			fmt.Fprintf(&b, ".line %05d starts with a dot\r\n", i)
		case i%89 == 0:
			b.WriteString(".\r\n")
		case i%83 == 0:
			b.WriteString("\r\n")
		default:
			fmt.Fprintf(&b, "line %05d: %s\r\n", i, strings.Repeat("0123456789abcdef", 4))
		}
	}
	b.WriteString("the end\r\n")
	return b.String()
}

// manyMessages returns n small messages (about 8 KB each, with dot
// lines), each with its own Message-ID, for tests of pipelined batches.
func manyMessages(n int) []string {
	msgs := make([]string, n)
	for i := range msgs {
		var b strings.Builder
		fmt.Fprintf(&b, "From: Bob <bob@example.org>\r\nTo: Alice <alice@example.org>\r\n"+
			"Subject: message %d of a batch\r\nMessage-ID: <batch-%d@interop.test>\r\n\r\n", i+1, i+1)
		for j := 0; b.Len() < 8<<10; j++ {
			if j%10 == 0 {
				b.WriteString(".\r\n")
			}
			fmt.Fprintf(&b, "message %d line %d %s\r\n", i+1, j, strings.Repeat("xyz", 20))
		}
		msgs[i] = b.String()
	}
	return msgs
}

// testServer is a pop3.Server on a memory backend, serving cleartext
// connections with STLS on one port and implicit TLS on another.
type testServer struct {
	backend *memory.Backend
	srv     *pop3.Server
	certs   *testcert.Certs
	// port offers STLS; tlsPort is implicit TLS (RFC 8314).
	port, tlsPort int
	// trace is the server's protocol trace (Server.Debug) and its
	// warnings; it is logged when the test fails.
	trace *syncbuf.Buffer
	// loaded is the maildrop as stored, before any client ran.
	loaded []memory.Message
}

// startServer starts a server whose user testUser holds fixtures(), then
// the extra messages. It is closed when the test ends.
func startServer(t *testing.T, extra ...string) *testServer {
	t.Helper()
	return startServerWith(t, nil, extra...)
}

// startServerWith is startServer with configure, when not nil, called on
// the pop3.Server (its Disable, LoginDelay, Expire...) once the test's
// own settings are made and before it serves.
func startServerWith(t *testing.T, configure func(srv *pop3.Server), extra ...string) *testServer {
	t.Helper()
	s := &testServer{
		backend: memory.New(),
		certs:   testcert.New(t),
		trace:   &syncbuf.Buffer{},
	}
	require.NoError(t, s.backend.AddUser(testUser, testPassword))
	for _, f := range fixtures() {
		_, err := s.backend.AppendMessage(testUser, []byte(f.raw))
		require.NoError(t, err, f.name)
	}
	for i, raw := range extra {
		_, err := s.backend.AppendMessage(testUser, []byte(raw))
		require.NoError(t, err, "extra message %d", i)
	}
	var err error
	s.loaded, err = s.backend.Messages(testUser)
	require.NoError(t, err)

	s.srv = pop3.NewServer(s.backend)
	s.srv.Domain = "interop.test"
	s.srv.TLSConfig = s.certs.ServerTLS
	s.srv.AuthFailureDelay = -1
	s.srv.MaxAuthPenalty = -1 // every client here is 127.0.0.1
	s.srv.Debug = s.trace
	s.srv.Logger = slog.New(slog.NewTextHandler(s.trace, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if configure != nil {
		configure(s.srv)
	}

	plain, err := net.Listen("tcp", loopback+":0")
	require.NoError(t, err)
	implicit, err := net.Listen("tcp", loopback+":0")
	require.NoError(t, err)
	s.port = plain.Addr().(*net.TCPAddr).Port
	s.tlsPort = implicit.Addr().(*net.TCPAddr).Port

	done := make(chan error, 2)
	go func() { done <- s.srv.Serve(plain) }()
	go func() { done <- s.srv.Serve(tls.NewListener(implicit, s.certs.ServerTLS)) }()
	t.Cleanup(func() {
		assert.NoError(t, s.srv.Close())
		for range 2 {
			select {
			case err := <-done:
				assert.ErrorIs(t, err, pop3.ErrServerClosed)
			case <-time.After(5 * time.Second):
				t.Error("Serve did not return after Close")
			}
		}
		if t.Failed() {
			t.Logf("server trace:\n%s", s.trace.String())
		}
	})
	return s
}

// addr returns the cleartext (STLS) address, host:port.
func (s *testServer) addr() string { return net.JoinHostPort(loopback, strconv.Itoa(s.port)) }

// tlsAddr returns the implicit TLS address, host:port.
func (s *testServer) tlsAddr() string { return net.JoinHostPort(loopback, strconv.Itoa(s.tlsPort)) }

// assertMaildrop checks that the server-side maildrop holds exactly want.
func (s *testServer) assertMaildrop(t *testing.T, want []memory.Message) {
	t.Helper()
	got, err := s.backend.Messages(testUser)
	require.NoError(t, err)
	if !assert.Equal(t, len(want), len(got), "messages left in the maildrop") {
		return
	}
	for i := range want {
		assert.Equal(t, want[i].UID, got[i].UID, "UID of message %d", i+1)
		assertSameBytes(t, want[i].Data, got[i].Data, "maildrop message %d", i+1)
	}
}

// assertUnchanged checks that the maildrop still holds what was loaded.
func (s *testServer) assertUnchanged(t *testing.T) {
	t.Helper()
	s.assertMaildrop(t, s.loaded)
}

// assertEmptied checks that every message was removed.
func (s *testServer) assertEmptied(t *testing.T) {
	t.Helper()
	s.assertMaildrop(t, nil)
}

// assertKeptOrEmptied checks the maildrop after a client ran in keep mode
// (unchanged) or delete mode (emptied).
func (s *testServer) assertKeptOrEmptied(t *testing.T, keep bool) {
	t.Helper()
	if keep {
		s.assertUnchanged(t)
	} else {
		s.assertEmptied(t)
	}
}

// assertTraced checks that the server trace has exactly this client line
// (such as "STLS", "AUTH PLAIN", or "AUTH PLAIN <redacted>" for one with an
// initial response) in some session.
func (s *testServer) assertTraced(t *testing.T, command string) {
	t.Helper()
	assert.Contains(t, s.trace.String(), " C: "+command+"\n", "the server trace shows the client sent %q", command)
}

// requireClient finds a client program; see testprog.Require.
func requireClient(t testing.TB, program, debianPackage string) string {
	t.Helper()
	return testprog.Require(t, program, debianPackage)
}

// clientEnv is the whole environment of an external client: a private
// HOME, the test's PATH, a UTF-8 C locale, and extra ("NAME=value").
// Nothing else of the developer's environment is passed on.
func clientEnv(t *testing.T, home string, extra ...string) []string {
	t.Helper()
	name := "nobody"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	env := []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"USER=" + name,
		"LOGNAME=" + name,
		"LANG=C.UTF-8",
		"LC_ALL=C.UTF-8",
		"TZ=UTC",
		"TMPDIR=" + home,
	}
	return append(env, extra...)
}

// clientRun is what an external client printed, and its exit status.
type clientRun struct {
	cmdline        string
	stdout, stderr string
	code           int
}

func (r clientRun) String() string {
	return fmt.Sprintf("command: %s\nexit status: %d\n--- stdout:\n%s\n--- stderr:\n%s", r.cmdline, r.code, r.stdout, r.stderr)
}

// runClient runs an external client in home with clientEnv(home, env...),
// bounded by clientTimeout, and requires that it exits with one of
// okCodes (0 when none is given).
func runClient(t *testing.T, home string, env []string, okCodes []int, program string, args ...string) clientRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Dir = home
	cmd.Env = clientEnv(t, home, env...)
	cmd.Stdin = nil
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := clientRun{cmdline: strings.Join(cmd.Args, " "), stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		require.Failf(t, "client timed out", "after %v\n%s", clientTimeout, r)
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
	default:
		require.NoError(t, err, "%s", r)
	}
	if len(okCodes) == 0 {
		okCodes = []int{0}
	}
	require.Contains(t, okCodes, r.code, "unexpected exit status\n%s", r)
	return r
}

// writeFile writes a file for a client, with the given mode, and returns
// its path.
func writeFile(t testing.TB, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(content), mode))
	require.NoError(t, os.Chmod(path, mode)) // WriteFile's mode is masked by umask
	return path
}

// toCRLF makes every line end CRLF, as memory.Backend stores messages: a
// client that delivers with LF (or CRLF) line ends compares equal. A bare
// CR is left alone, since no fixture has one.
func toCRLF(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

// stripAddedHeaders removes the header fields named in names (compared
// case-insensitively, with their continuation lines) from the top of msg,
// where a client prepends the trace headers it adds. It stops at the first
// field not named, so a header of the original message is never removed.
// msg has CRLF line ends.
func stripAddedHeaders(msg []byte, names ...string) []byte {
	rest := msg
	for len(rest) > 0 {
		colon := bytes.IndexByte(rest, ':')
		eol := bytes.Index(rest, []byte("\r\n"))
		if colon < 0 || eol < 0 || colon > eol {
			break
		}
		name := string(rest[:colon])
		named := false
		for _, n := range names {
			if strings.EqualFold(n, name) {
				named = true
			}
		}
		if !named {
			break
		}
		// Skip the field and its continuation lines.
		end := eol + 2
		for end < len(rest) && (rest[end] == ' ' || rest[end] == '\t') {
			next := bytes.Index(rest[end:], []byte("\r\n"))
			if next < 0 {
				end = len(rest)
				break
			}
			end += next + 2
		}
		rest = rest[end:]
	}
	return rest
}

// messageID returns the Message-ID of a CRLF message, or "".
func messageID(msg []byte) string {
	header, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(header), "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(name, "Message-ID") {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

// assertDelivered checks that the messages a client delivered (in any
// order, with any line ends) are exactly want, byte for byte, once the
// header fields named in added, which the client itself prepends, are
// removed.
func assertDelivered(t *testing.T, want []memory.Message, got [][]byte, added ...string) {
	t.Helper()
	byID := make(map[string][]byte, len(want))
	for _, m := range want {
		id := messageID(m.Data)
		require.NotEmpty(t, id, "every fixture has a Message-ID")
		byID[id] = m.Data
	}
	assert.Equal(t, len(want), len(got), "number of delivered messages")
	seen := make(map[string]bool)
	for i, g := range got {
		g = stripAddedHeaders(toCRLF(g), added...)
		id := messageID(g)
		w, ok := byID[id]
		if !assert.True(t, ok, "delivered message %d has an unknown Message-ID %q; it starts:\n%s", i, id, head(g)) {
			continue
		}
		assert.False(t, seen[id], "message %s delivered twice", id)
		seen[id] = true
		assertSameBytes(t, w, g, "message %s", id)
	}
}

// head returns the start of msg, for failure messages.
func head(msg []byte) string {
	if len(msg) > 600 {
		return string(msg[:600]) + "..."
	}
	return string(msg)
}

// assertSameBytes compares two messages and, when they differ, reports
// where, with a little context, instead of a diff of 200 KB.
func assertSameBytes(t *testing.T, want, got []byte, format string, args ...any) bool {
	t.Helper()
	if bytes.Equal(want, got) {
		return true
	}
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	from := max(i-80, 0)
	return assert.Fail(t, "messages differ",
		"%s: lengths want %d, got %d; first difference at offset %d\nwant: %q\n got: %q",
		fmt.Sprintf(format, args...), len(want), len(got), i,
		want[from:min(i+80, len(want))], got[from:min(i+80, len(got))])
}

// readMaildir returns the messages of a Maildir's new/ and cur/.
func readMaildir(t *testing.T, dir string) [][]byte {
	t.Helper()
	var msgs [][]byte
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
			require.NoError(t, err)
			msgs = append(msgs, data)
		}
	}
	return msgs
}

// makeMaildir creates an empty Maildir (cur, new, tmp) at dir.
func makeMaildir(t *testing.T, dir string) string {
	t.Helper()
	for _, sub := range []string{"cur", "new", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, sub), 0o700))
	}
	return dir
}

// readFiles returns the contents of every file in dir.
func readFiles(t *testing.T, dir string) [][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out [][]byte
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out = append(out, data)
	}
	return out
}

// buildPop3d builds cmd/pop3d as this module's main package (so with this
// go.mod's TLS defaults) into dir and returns the binary's path.
func buildPop3d(t testing.TB, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, "pop3d")
	build := exec.Command(goTool, "build", "-o", bin, "./cmd/pop3d")
	build.Dir = ".."
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building pop3d: %s", out)
	return bin
}

// runPop3d starts the pop3d binary bin with args, its log going to log,
// and returns the submatches of serving in the first line of its
// instructions (stdout) that matches: where it serves. It is stopped with
// SIGTERM when the test ends, and must exit cleanly; its log is shown if
// the test failed.
func runPop3d(t *testing.T, bin string, serving *regexp.Regexp, log *syncbuf.Buffer, args ...string) []string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = log
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			assert.NoError(t, err, "pop3d exits cleanly on SIGTERM")
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Error("pop3d did not stop on SIGTERM")
		}
		if t.Failed() {
			t.Logf("pop3d's log:\n%s", log)
		}
	})

	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if m := serving.FindStringSubmatch(lines.Text()); m != nil {
			go func() {
				for lines.Scan() { // keep the pipe drained
				}
			}()
			return m
		}
	}
	t.Fatalf("pop3d did not say where it serves; its log:\n%s", log)
	return nil
}
