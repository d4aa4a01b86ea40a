package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/syncbuf"
	"github.com/gopop3/pop3/memory"
)

// lmtpClient speaks LMTP line by line, so that a test sees every reply,
// in order, as the MTA would.
type lmtpClient struct {
	t *testing.T
	*textproto.Conn
}

// dialLMTP connects to the LMTP server at addr (a unix socket when
// network is "unix"), reads the greeting and sends LHLO.
func dialLMTP(t *testing.T, network, addr string) *lmtpClient {
	t.Helper()
	nc, err := net.DialTimeout(network, addr, 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, nc.SetDeadline(time.Now().Add(30*time.Second)))
	c := &lmtpClient{t: t, Conn: textproto.NewConn(nc)}
	t.Cleanup(func() { c.Close() })
	assert.Regexp(t, `^220 .* LMTP `, c.reply())
	assert.Regexp(t, `^250 `, c.cmd("LHLO mta.example"))
	return c
}

// reply reads one reply, as "code text" (the lines of a multi-line reply
// joined by "\n").
func (c *lmtpClient) reply() string {
	c.t.Helper()
	code, msg, err := c.ReadResponse(0)
	require.NoError(c.t, err)
	return fmt.Sprintf("%d %s", code, msg)
}

func (c *lmtpClient) cmd(format string, args ...any) string {
	c.t.Helper()
	require.NoError(c.t, c.PrintfLine(format, args...))
	return c.reply()
}

// data sends msg after DATA and returns the n replies that follow it.
func (c *lmtpClient) data(msg string, n int) []string {
	c.t.Helper()
	require.Equal(c.t, "354", c.cmd("DATA")[:3])
	w := c.DotWriter()
	_, err := io.WriteString(w, msg)
	require.NoError(c.t, err)
	require.NoError(c.t, w.Close())
	replies := make([]string, n)
	for i := range replies {
		replies[i] = c.reply()
	}
	return replies
}

// transcript plays a conversation written as RFC 2033's examples are,
// one "C: line" for each line sent ("C:" alone for an empty one), one
// "S: reply" for each reply read (as reply returns it). A
// reply ending in "..." matches any reply that starts with the rest.
// Blank lines and leading white space are ignored.
func (c *lmtpClient) transcript(script string) {
	c.t.Helper()
	for n, raw := range strings.Split(script, "\n") {
		l := strings.TrimLeft(raw, " \t")
		if l == "C:" {
			l = "C: " // an empty line, once an editor has trimmed its space
		}
		switch {
		case l == "":
		case strings.HasPrefix(l, "C: "):
			require.NoError(c.t, c.PrintfLine("%s", l[3:]))
		case strings.HasPrefix(l, "S: "):
			want, got := l[3:], c.reply()
			if prefix, anyRest := strings.CutSuffix(want, "..."); anyRest {
				require.True(c.t, strings.HasPrefix(got, prefix), "transcript line %d: want %q, got %q", n+1, want, got)
			} else {
				require.Equal(c.t, want, got, "transcript line %d", n+1)
			}
		default:
			require.FailNow(c.t, "transcript line is neither C: nor S:", "line %d: %q", n+1, l)
		}
	}
}

// expectClosed reads the 421 a draining server sends, then EOF.
func (c *lmtpClient) expectClosed() {
	c.t.Helper()
	assert.Regexp(c.t, `^421 `, c.reply())
	_, err := c.ReadLine()
	assert.ErrorIs(c.t, err, io.EOF)
}

// serveLMTP serves LMTP for d on a free port until the test ends, logging
// into the returned buffer.
func serveLMTP(t *testing.T, d pop3.Deliverer) (*lmtpServer, *syncbuf.Buffer) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	s, err := startLMTP(t.Context(), "127.0.0.1:0", "lmtp.test", d, newLogger(logs, "text", slog.LevelDebug))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, s.shutdown(ctx))
		assert.NoError(t, <-done)
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})
	return s, logs
}

// newMemoryStore returns a memory store with the given users.
func newMemoryStore(t *testing.T, users ...string) *memory.Backend {
	t.Helper()
	b := memory.New()
	for _, u := range users {
		require.NoError(t, b.AddUser(u, "pw"))
	}
	return b
}

// messages returns the raw messages of user in b.
func messages(t *testing.T, b *memory.Backend, user string) []string {
	t.Helper()
	msgs, err := b.Messages(user)
	require.NoError(t, err)
	var out []string
	for _, m := range msgs {
		out = append(out, string(m.Data))
	}
	return out
}

// deliverOnly is a store without pop3.UserChecker: recipients are
// resolved by Deliver, after DATA.
type deliverOnly struct{ b *memory.Backend }

func (d deliverOnly) Login(ctx context.Context, c *pop3.ConnInfo, user, pass string) (pop3.User, error) {
	return d.b.Login(ctx, c, user, pass)
}

func (d deliverOnly) Deliver(ctx context.Context, user string, msg io.Reader) error {
	return d.b.Deliver(ctx, user, msg)
}

// failingStore knows its users but cannot store anything.
type failingStore struct{ *memory.Backend }

func (failingStore) Deliver(context.Context, string, io.Reader) error {
	return errors.New("disk on fire")
}

const lmtpBody = "From: bob@example.org\r\nSubject: hi\r\n\r\nhello\r\n.dot line\r\n"

// A message delivered over LMTP is there over POP3, with the envelope in
// Return-Path and Delivered-To.
func TestLMTPDeliveryThenPOP3(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-lmtp", "127.0.0.1:0")
	require.NotEmpty(t, s.LMTPAddr)
	assert.Contains(t, s.stdout.String(), "pop3d: accepting mail over LMTP on "+s.LMTPAddr+"\n")

	c := dialLMTP(t, "tcp", s.LMTPAddr)
	assert.Equal(t, "250 2.0.0 Roger, accepting mail from <bob@example.org>", c.cmd("MAIL FROM:<bob@example.org>"))
	assert.Regexp(t, `^250 2\.0\.0 `, c.cmd("RCPT TO:<Demo@localhost>"))
	assert.Equal(t, []string{"250 2.0.0 <Demo@localhost> Delivered"}, c.data(lmtpBody, 1))
	assert.Equal(t, "221 2.0.0 Bye", c.cmd("QUIT"))

	p := dial(t, s.Addr)
	p.Login("demo", "demo")
	assert.Equal(t, "3", strings.Fields(stat(p))[0], "two demo messages and the delivered one")
	_, content := retr(t, p, 3)
	assert.Equal(t, "Return-Path: <bob@example.org>\r\nDelivered-To: Demo@localhost\r\n"+lmtpBody, content)
	p.Quit()

	require.NoError(t, s.stop(t))
	logs := s.stderr.String()
	assert.Regexp(t, `level=INFO msg="pop3d: LMTP delivery" .*from=bob@example.org rcpt=Demo@localhost user=demo size=\d+ duration=\S+ result=delivered`, logs)
	assert.NotContains(t, logs, "hello", "no content in the log")
}

// One transaction for known and unknown recipients gets one reply per
// recipient, in order: at RCPT TO with a UserChecker store, after DATA
// without one. An address names the user of that name when there is one,
// else the user named by its local part in lower case.
func TestLMTPRecipients(t *testing.T) {
	rcpts := []struct {
		addr, user string // user "" for an unknown recipient
	}{
		{"alice@example.org", "alice"},
		{"nobody@example.org", ""},
		{"BOB@Example.ORG", "bob"},
		{"dave@example.org", "dave@example.org"}, // the full address wins
		{"Dave@example.org", "dave"},             // no user of that full address
	}
	for _, tc := range []struct {
		name    string
		checker bool
	}{
		{"UserChecker", true},
		{"Deliver only", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newMemoryStore(t, "alice", "bob", "dave", "dave@example.org")
			var d pop3.Deliverer = b
			if !tc.checker {
				d = deliverOnly{b}
			}
			s, logs := serveLMTP(t, d)
			c := dialLMTP(t, "tcp", s.addr)
			require.Regexp(t, `^250 `, c.cmd("MAIL FROM:<>"))
			var accepted, want []string
			for _, r := range rcpts {
				reply := c.cmd("RCPT TO:<%s>", r.addr)
				if r.user == "" && tc.checker {
					assert.Equal(t, "550 5.1.1 No such user here", reply, r.addr)
					continue
				}
				assert.Regexp(t, `^250 2\.0\.0 `, reply, r.addr)
				accepted = append(accepted, r.addr)
				if r.user == "" {
					want = append(want, "550 5.1.1 <"+r.addr+"> No such user here")
				} else {
					want = append(want, "250 2.0.0 <"+r.addr+"> Delivered")
				}
			}
			assert.Equal(t, want, c.data(lmtpBody, len(accepted)))

			got := map[string][]string{}
			for _, u := range []string{"alice", "bob", "dave", "dave@example.org"} {
				for _, m := range messages(t, b, u) {
					got[u] = append(got[u], strings.TrimSuffix(strings.SplitN(m, "\r\n", 3)[1], "\r\n"))
				}
			}
			assert.Equal(t, map[string][]string{
				"alice":            {"Delivered-To: alice@example.org"},
				"bob":              {"Delivered-To: BOB@Example.ORG"},
				"dave@example.org": {"Delivered-To: dave@example.org"},
				"dave":             {"Delivered-To: Dave@example.org"},
			}, got)
			for _, m := range messages(t, b, "bob") {
				assert.Equal(t, "Return-Path: <>\r\nDelivered-To: BOB@Example.ORG\r\n"+lmtpBody, m)
			}
			assert.Regexp(t, `level=INFO msg=.*rcpt=nobody@example.org`, logs.String())
		})
	}
}

// -maildir with -passwd: LMTP writes into the user's Maildir new/, and
// refuses a user the passwd-file does not have.
func TestLMTPMaildir(t *testing.T) {
	store := newMailStore(t)
	s := start(t, append(store.args(), "-lmtp", "127.0.0.1:0")...)
	c := dialLMTP(t, "tcp", s.LMTPAddr)
	require.Regexp(t, `^250 `, c.cmd("MAIL FROM:<sender@example.org>"))
	assert.Regexp(t, `^250 `, c.cmd("RCPT TO:<Bob@example.org>"))
	assert.Equal(t, "550 5.1.1 No such user here", c.cmd("RCPT TO:<mallory@example.org>"))
	assert.Equal(t, []string{"250 2.0.0 <Bob@example.org> Delivered"}, c.data(lmtpBody, 1))

	files, err := os.ReadDir(filepath.Join(store.root, "bob", "Maildir", "new"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	raw, err := os.ReadFile(filepath.Join(store.root, "bob", "Maildir", "new", files[0].Name()))
	require.NoError(t, err)
	assert.Equal(t, "Return-Path: <sender@example.org>\nDelivered-To: Bob@example.org\n"+strings.ReplaceAll(lmtpBody, "\r\n", "\n"),
		strings.ReplaceAll(string(raw), "\r\n", "\n"))

	p := dial(t, s.Addr)
	p.Login("bob", "bob-pw")
	_, content := retr(t, p, 1)
	assert.Equal(t, "Return-Path: <sender@example.org>\r\nDelivered-To: Bob@example.org\r\n"+lmtpBody, content)
	p.Quit()
}

// tmpWatcher is a memory store that counts, during each Deliver, the
// files in the temporary directory.
type tmpWatcher struct {
	*memory.Backend
	dir    string
	mu     sync.Mutex
	during []int
}

func (w *tmpWatcher) Deliver(ctx context.Context, user string, msg io.Reader) error {
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.during = append(w.during, len(entries))
	w.mu.Unlock()
	return w.Backend.Deliver(ctx, user, msg)
}

// A message larger than the memory spool goes to a temporary file, read
// once per recipient and removed afterwards.
func TestLMTPBigMessage(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	w := &tmpWatcher{Backend: newMemoryStore(t, "alice", "bob"), dir: tmp}
	s, _ := serveLMTP(t, w)

	line := strings.Repeat("0123456789abcdef", 4) + "\r\n"
	big := "Subject: big\r\n\r\n" + strings.Repeat(line, 3<<20/len(line))
	c := dialLMTP(t, "tcp", s.addr)
	require.Regexp(t, `^250 `, c.cmd("MAIL FROM:<bob@example.org>"))
	require.Regexp(t, `^250 `, c.cmd("RCPT TO:<alice@example.org>"))
	require.Regexp(t, `^250 `, c.cmd("RCPT TO:<bob@example.org>"))
	assert.Equal(t, []string{
		"250 2.0.0 <alice@example.org> Delivered",
		"250 2.0.0 <bob@example.org> Delivered",
	}, c.data(big, 2))

	for _, u := range []string{"alice", "bob"} {
		msgs := messages(t, w.Backend, u)
		require.Len(t, msgs, 1)
		assert.True(t, msgs[0] == "Return-Path: <bob@example.org>\r\nDelivered-To: "+u+"@example.org\r\n"+big, "%s's copy", u)
	}
	assert.Equal(t, []int{1, 1}, w.during, "spooled to one temporary file")
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, entries, "the temporary file is removed")
}

// A message over the size limit is refused with 552, announced (SIZE=)
// or not.
func TestLMTPTooBig(t *testing.T) {
	t.Run("SIZE parameter", func(t *testing.T) {
		s := start(t, "-addr", "127.0.0.1:0", "-lmtp", "127.0.0.1:0")
		c := dialLMTP(t, "tcp", s.LMTPAddr)
		assert.Regexp(t, fmt.Sprintf(`\nSIZE %d(\n|$)`, lmtpMaxMessageBytes), c.cmd("LHLO mta.example"))
		assert.Regexp(t, `^552 5\.3\.4 `, c.cmd("MAIL FROM:<a@example.org> SIZE=%d", lmtpMaxMessageBytes+1))
	})
	t.Run("data", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		b := newMemoryStore(t, "alice", "bob")
		s, _ := serveLMTP(t, b)
		s.smtp.MaxMessageBytes = 2 * lmtpSpoolMemory // spooled to a file when it fails
		c := dialLMTP(t, "tcp", s.addr)
		require.Regexp(t, `^250 `, c.cmd("MAIL FROM:<a@example.org>"))
		require.Regexp(t, `^250 `, c.cmd("RCPT TO:<alice@example.org>"))
		require.Regexp(t, `^250 `, c.cmd("RCPT TO:<bob@example.org>"))
		replies := c.data("Subject: big\r\n\r\n"+strings.Repeat("x\r\n", lmtpSpoolMemory), 2)
		for i, r := range replies {
			assert.Regexp(t, `^552 5\.3\.4 <(alice|bob)@example.org> `, r, i)
		}
		assert.Empty(t, messages(t, b, "alice"))
		assert.Empty(t, messages(t, b, "bob"))
		entries, err := os.ReadDir(tmp)
		require.NoError(t, err)
		assert.Empty(t, entries, "the temporary file is removed")
		assert.Regexp(t, `^250 `, c.cmd("NOOP"), "the connection goes on")
	})
}

// A store that fails defers every recipient with a generic 451; the
// cause is logged only.
func TestLMTPDeliverFails(t *testing.T) {
	s, logs := serveLMTP(t, failingStore{newMemoryStore(t, "alice", "bob")})
	c := dialLMTP(t, "tcp", s.addr)
	require.Regexp(t, `^250 `, c.cmd("MAIL FROM:<a@example.org>"))
	require.Regexp(t, `^250 `, c.cmd("RCPT TO:<alice@example.org>"))
	require.Regexp(t, `^250 `, c.cmd("RCPT TO:<bob@example.org>"))
	assert.Equal(t, []string{
		"451 4.3.0 <alice@example.org> Temporary failure, try again later",
		"451 4.3.0 <bob@example.org> Temporary failure, try again later",
	}, c.data(lmtpBody, 2))
	assert.Regexp(t, `level=ERROR msg="pop3d: LMTP delivery" .*rcpt=alice@example.org .*result=failed err="disk on fire"`, logs.String())
}

// checkFails is a store whose UserExists fails.
type checkFails struct{ *memory.Backend }

func (checkFails) UserExists(context.Context, string) (bool, error) {
	return false, errors.New("directory unreachable")
}

// A failing user check defers that recipient only.
func TestLMTPUserExistsFails(t *testing.T) {
	s, logs := serveLMTP(t, checkFails{newMemoryStore(t, "alice")})
	c := dialLMTP(t, "tcp", s.addr)
	require.Regexp(t, `^250 `, c.cmd("MAIL FROM:<a@example.org>"))
	assert.Equal(t, "451 4.3.0 Temporary failure, try again later", c.cmd("RCPT TO:<alice@example.org>"))
	assert.Regexp(t, `level=WARN .*rcpt=alice@example.org err="directory unreachable"`, logs.String())
}

// startLMTP refuses a store that cannot take deliveries.
func TestLMTPNeedsDeliverer(t *testing.T) {
	login := pop3.BackendFunc(func(context.Context, *pop3.ConnInfo, string, string) (pop3.User, error) {
		return nil, pop3.ErrAuthFailed
	})
	_, err := startLMTP(t.Context(), "127.0.0.1:0", "localhost", login, slog.New(slog.DiscardHandler))
	assert.ErrorContains(t, err, "cannot take deliveries")
}

// A unix socket replaces a stale one, serves, and is removed at shutdown;
// a path that holds anything else is an error.
func TestLMTPUnixSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "lmtp")
	stale, err := net.Listen("unix", sock)
	require.NoError(t, err)
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	require.NoError(t, stale.Close())
	_, err = os.Lstat(sock)
	require.NoError(t, err, "a stale socket file")

	s := start(t, "-addr", "127.0.0.1:0", "-lmtp", sock)
	assert.Equal(t, sock, s.LMTPAddr)
	assert.Contains(t, s.stdout.String(), "accepting mail over LMTP on "+sock+"\n")
	c := dialLMTP(t, "unix", sock)
	require.Regexp(t, `^250 `, c.cmd("MAIL FROM:<a@example.org>"))
	require.Regexp(t, `^250 `, c.cmd("RCPT TO:<demo@localhost>"))
	assert.Equal(t, []string{"250 2.0.0 <demo@localhost> Delivered"}, c.data(lmtpBody, 1))

	t.Run("in use", func(t *testing.T) {
		err := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-lmtp", sock}, io.Discard, io.Discard, nil)
		assert.ErrorContains(t, err, "-lmtp "+sock+": another process serves this socket")
	})

	require.NoError(t, s.stop(t))
	c.expectClosed()
	_, err = os.Lstat(sock)
	assert.ErrorIs(t, err, os.ErrNotExist, "the socket is removed at shutdown")

	t.Run("not a socket", func(t *testing.T) {
		file := filepath.Join(dir, "file")
		require.NoError(t, os.WriteFile(file, []byte("keep me"), 0o600))
		err := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-lmtp", file}, io.Discard, io.Discard, nil)
		assert.ErrorContains(t, err, "-lmtp "+file+": the path exists and is not a socket")
		raw, err := os.ReadFile(file)
		require.NoError(t, err)
		assert.Equal(t, "keep me", string(raw))
	})
	t.Run("busy port", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		err = run(t.Context(), []string{"-addr", "127.0.0.1:0", "-lmtp", l.Addr().String()}, io.Discard, io.Discard, nil)
		assert.ErrorContains(t, err, "-lmtp "+l.Addr().String())
	})
}

// On SIGTERM an idle LMTP connection is told 421 and closed, and run
// returns.
func TestLMTPShutdownIdle(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-lmtp", "127.0.0.1:0")
	c := dialLMTP(t, "tcp", s.LMTPAddr)
	require.NoError(t, s.stop(t))
	c.expectClosed()
}

// A transaction in progress when shutdown begins is finished (its
// message delivered and acknowledged); then the connection is closed
// before another one starts.
func TestLMTPShutdownDuringTransaction(t *testing.T) {
	b := newMemoryStore(t, "alice")
	s, _ := serveLMTP(t, b)
	drained := make(chan struct{})
	s.testDrained = sync.OnceFunc(func() { close(drained) })
	c := dialLMTP(t, "tcp", s.addr)
	require.Regexp(t, `^250 `, c.cmd("MAIL FROM:<a@example.org>"))
	require.Regexp(t, `^250 `, c.cmd("RCPT TO:<alice@example.org>"))

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- s.shutdown(ctx)
	}()
	<-drained
	assert.Equal(t, []string{"250 2.0.0 <alice@example.org> Delivered"}, c.data(lmtpBody, 1))
	c.expectClosed()
	assert.NoError(t, <-stopped)
	assert.Len(t, messages(t, b, "alice"), 1)
}

// Past the grace period, a transaction still open is cut and nothing is
// acknowledged.
func TestLMTPShutdownGraceOver(t *testing.T) {
	b := newMemoryStore(t, "alice")
	s, _ := serveLMTP(t, b)
	c := dialLMTP(t, "tcp", s.addr)
	require.Regexp(t, `^250 `, c.cmd("MAIL FROM:<a@example.org>"))
	require.Regexp(t, `^250 `, c.cmd("RCPT TO:<alice@example.org>"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no grace at all
	assert.ErrorIs(t, s.shutdown(ctx), context.Canceled)
	_, err := c.ReadLine()
	assert.Error(t, err, "closed without a reply")
	assert.Empty(t, messages(t, b, "alice"))
}

// RCPT TO with a user name and no domain is refused, where Dovecot's
// LMTP delivers to that user: go-smtp's parser cannot be told to accept
// it (RFC 5321 §4.1.2 wants a domain), so the reply says that a domain is
// needed. The transaction goes on, and the other recipients get the
// message, over POP3 as well.
func TestLMTPRecipientWithoutDomain(t *testing.T) {
	store := newMailStore(t)
	s := start(t, append(store.args(), "-lmtp", "127.0.0.1:0")...)
	c := dialLMTP(t, "tcp", s.LMTPAddr)
	c.transcript(`
		C: MAIL FROM:<sender@example.org>
		S: 250 2.0.0 Roger, accepting mail from <sender@example.org>
		C: RCPT TO:<bob>
		S: 501 5.1.3 Bad recipient address syntax: use RCPT TO:<user@domain>, with a domain even for a local user
		C: RCPT TO:<alice>
		S: 501 5.1.3 Bad recipient address syntax: use RCPT TO:<user@domain>, with a domain even for a local user
		C: RCPT TO:<>
		S: 501 5.1.3 Bad recipient address syntax: use RCPT TO:<user@domain>, with a domain even for a local user
		C: RCPT TO:<Bob@example.org>
		S: 250 2.0.0 I'll make sure <Bob@example.org> gets this
		C: DATA
		S: 354 Go ahead...
		C: Subject: for bob
		C:
		C: hello
		C: .
		S: 250 2.0.0 <Bob@example.org> Delivered
		C: MAIL FROM:<sender@example.org>
		S: 250 2.0.0 Roger, accepting mail from <sender@example.org>
		C: RCPT TO:<u005>
		S: 501 5.1.3 Bad recipient address syntax: use RCPT TO:<user@domain>, with a domain even for a local user
		C: DATA
		S: 502 5.5.1 Missing RCPT TO command.
		C: QUIT
		S: 221 2.0.0 Bye`)

	p := dial(t, s.Addr)
	p.Login("bob", "bob-pw")
	assert.Equal(t, "1", strings.Fields(stat(p))[0], "one message, from the one recipient accepted")
	_, content := retr(t, p, 1)
	assert.Equal(t, "Return-Path: <sender@example.org>\r\nDelivered-To: Bob@example.org\r\nSubject: for bob\r\n\r\nhello\r\n", content)
	p.Quit()
	assert.Equal(t, 4, strings.Count(s.stderr.String(), `msg="pop3d: LMTP: unreadable recipient refused (an address without a domain?)" remote=127.0.0.1:`))
}

func TestRecipientUsers(t *testing.T) {
	for addr, want := range map[string][]string{
		"alice@example.org":   {"alice@example.org", "alice"},
		"Alice@Example.org":   {"Alice@Example.org", "alice"},
		"alice":               {"alice"},
		"ALICE":               {"ALICE", "alice"},
		"a@b@example.org":     {"a@b@example.org", "a@b"},
		"@example.org":        {"@example.org"},
		"Ünïcode@example.org": {"Ünïcode@example.org", "Ünïcode"},
	} {
		assert.Equal(t, want, recipientUsers(addr), addr)
	}
}
