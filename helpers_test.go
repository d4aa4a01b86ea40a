package pop3_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
)

const (
	msgDots = "From: bob@example.com\r\nSubject: dots\r\n\r\nHello\r\n.starts with a dot\r\n..two\r\n.\r\nbye\r\n"
	msgLF   = "Subject: two\n\nline1\nline2\nline3\n" // stored as CRLF by the memory backend
)

var msgLFasCRLF = strings.ReplaceAll(msgLF, "\n", "\r\n")

// aliceBackend returns a memory backend with user alice (password
// "secret") holding msgs.
func aliceBackend(t testing.TB, msgs ...string) *memory.Backend {
	t.Helper()
	b := memory.New()
	require.NoError(t, b.AddUser("alice", "secret"))
	for _, m := range msgs {
		_, err := b.AppendMessage("alice", []byte(m))
		require.NoError(t, err)
	}
	return b
}

// loginOnly is b reduced to its Login, with users that only Open: a store
// without any optional interface (no APOP, no LOGIN-DELAY or EXPIRE of its
// own), as the simplest one is.
func loginOnly(b pop3.Backend) pop3.Backend {
	return pop3.BackendFunc(func(ctx context.Context, c *pop3.ConnInfo, username, password string) (pop3.User, error) {
		u, err := b.Login(ctx, c, username, password)
		if u == nil {
			return nil, err
		}
		return struct{ pop3.User }{u}, err
	})
}

// fakeBackend serves msgs to alice (password "secret") exactly as they are:
// each listed with its length as its size and with the unique-id uids[i],
// or "uid-N" when uids has none. Unlike the memory backend it neither
// makes line ends CRLF nor locks the maildrop, so that a test can give the
// server what a broken store lists. Delete removes nothing.
type fakeBackend struct {
	msgs []string
	uids []string
}

func (b *fakeBackend) Login(_ context.Context, _ *pop3.ConnInfo, username, password string) (pop3.User, error) {
	if username != "alice" || password != "secret" {
		return nil, pop3.ErrAuthFailed
	}
	return fakeUser{b}, nil
}

type fakeUser struct{ b *fakeBackend }

func (u fakeUser) Open(context.Context) (pop3.Mailbox, error) { return fakeMailbox(u), nil }

type fakeMailbox struct{ b *fakeBackend }

func (m fakeMailbox) Messages() []pop3.MessageInfo {
	infos := make([]pop3.MessageInfo, len(m.b.msgs))
	for i, msg := range m.b.msgs {
		infos[i] = pop3.MessageInfo{Size: int64(len(msg)), UID: "uid-" + strconv.Itoa(i+1)}
		if i < len(m.b.uids) {
			infos[i].UID = m.b.uids[i]
		}
	}
	return infos
}

func (m fakeMailbox) Message(_ context.Context, i int) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(m.b.msgs[i])), nil
}

func (fakeMailbox) Delete(context.Context, []int) error { return nil }
func (fakeMailbox) Close() error                        { return nil }

// serveUnmanaged serves srv on a loopback port for a test that stops the
// server itself; Serve's result arrives on served.
func serveUnmanaged(t testing.TB, srv *pop3.Server) (addr string, served <-chan error) {
	t.Helper()
	if srv.Logger == nil {
		srv.Logger = discardLogger()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ch := make(chan error, 1)
	go func() { ch <- srv.Serve(l) }()
	return l.Addr().String(), ch
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// eventually is require.Eventually for a condition that uses a
// pop3test.Client: it checks cond in the test's goroutine, where a Client
// may fail the test, not in a goroutine of its own.
func eventually(t testing.TB, cond func() bool, waitFor, tick time.Duration) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			require.FailNow(t, "Condition never satisfied")
		}
		time.Sleep(tick)
	}
}

// goroutinesSettle waits until the goroutine count is back to at most
// baseline.
func goroutinesSettle(t testing.TB, baseline int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines leaked: %d > %d\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// capaScript is the transcript of a CAPA answered by a memory server over
// loopback, with policy (the LOGIN-DELAY and EXPIRE lines) in its place.
func capaScript(policy ...string) string {
	lines := []string{"+OK capability list follows", "TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING",
		"AUTH-RESP-CODE", "SASL PLAIN LOGIN"}
	lines = append(lines, policy...)
	lines = append(lines, "UTF8 USER", "LANG", ".")
	return "C: CAPA\nS: " + strings.Join(lines, "\nS: ") + "\n"
}
