package pop3test_test

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

// newMemory returns a memory backend with alice and bob, two messages each.
func newMemory(t *testing.T) *memory.Backend {
	t.Helper()
	b := memory.New(memory.DeterministicUIDs())
	for _, name := range []string{"alice", "bob"} {
		require.NoError(t, b.AddUser(name, name+"-pw"))
		for _, m := range []string{"Subject: one\r\n\r\nFirst message, long enough to be cut.\r\n", "Subject: two\r\n\r\nSecond.\r\n"} {
			_, err := b.AppendMessage(name, []byte(m))
			require.NoError(t, err)
		}
	}
	return b
}

func TestFaultReplies(t *testing.T) {
	disk := errors.New("disk on fire")
	tests := []struct {
		name  string
		fault pop3test.Fault
		cmds  []string // after the login for all but Login faults
		want  string   // the last reply
	}{
		{"LOGIN-DELAY at login", pop3test.Fault{Op: pop3test.OpLogin, Err: pop3.ErrLoginDelay}, nil, "-ERR [LOGIN-DELAY] "},
		{"IN-USE at open", pop3test.Fault{Op: pop3test.OpOpen, Err: pop3.ErrMailboxLocked}, nil, "-ERR [IN-USE] "},
		{"plain error at open", pop3test.Fault{Op: pop3test.OpOpen, Err: disk}, nil, "-ERR [SYS/TEMP] "},
		{"error opening a message", pop3test.Fault{Op: pop3test.OpMessage, Err: disk}, []string{"RETR 1"}, "-ERR [SYS/TEMP] read failed"},
		{"error at TOP without TopMailbox", pop3test.Fault{Op: pop3test.OpMessage, Err: disk}, []string{"TOP 1 0"}, "-ERR [SYS/TEMP] read failed"},
		{"chosen code at Delete", pop3test.Fault{Op: pop3test.OpDelete, Err: &pop3.Error{Code: pop3.CodeSysPerm, Text: "read-only"}}, []string{"DELE 1", "QUIT"}, "-ERR [SYS/PERM] some deleted messages not removed: read-only"},
		{"panic in Message", pop3test.Fault{Op: pop3test.OpMessage, Panic: "bug"}, []string{"RETR 1"}, "-ERR [SYS/TEMP] internal error"},
		{"fault for another user", pop3test.Fault{Op: pop3test.OpOpen, User: "bob", Err: disk}, []string{"STAT"}, "+OK 2 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			faulty := pop3test.NewFaultBackend(newMemory(t), tt.fault)
			c := pop3test.NewServer(t, faulty.Backend()).Dial()
			c.OK("USER alice")
			last := c.Cmd("PASS alice-pw")
			for _, cmd := range tt.cmds {
				require.True(t, last.OK, "before %s: %s", cmd, last.Line)
				last = c.Cmd(cmd)
			}
			assert.True(t, strings.HasPrefix(last.Line, tt.want), "got %q, want %q...", last.Line, tt.want)
		})
	}
}

func TestFaultAPOPAndSASL(t *testing.T) {
	faulty := pop3test.NewFaultBackend(newMemory(t), pop3test.Fault{Op: pop3test.OpLoginAPOP, Err: pop3.ErrLoginDelay})
	c := pop3test.NewServer(t, faulty.Backend()).Dial()
	r := c.Cmd("APOP alice " + pop3.APOPDigest(c.Timestamp(), "alice-pw"))
	assert.Equal(t, pop3.CodeLoginDelay, r.Code, r.Line)
	assert.Equal(t, 1, faulty.Calls(pop3test.OpLoginAPOP))

	mem := newMemory(t)
	faulty = pop3test.NewFaultBackend(saslBackend{pop3.BackendFunc(mem.Login)},
		pop3test.Fault{Op: pop3test.OpSASLServer, Err: &pop3.Error{Code: pop3.CodeSysPerm, Text: "no SASL today"}})
	c = pop3test.NewServer(t, faulty.Backend()).Dial()
	assert.Equal(t, "-ERR [SYS/PERM] no SASL today", c.Cmd("AUTH ANONYMOUS").Line)
	assert.Equal(t, 1, faulty.Calls(pop3test.OpSASLServer))
}

func TestFaultCallNumber(t *testing.T) {
	faulty := pop3test.NewFaultBackend(newMemory(t), pop3test.Fault{Op: pop3test.OpMessage, Call: 2, Err: errors.New("once")})
	c := pop3test.NewServer(t, faulty.Backend()).Dial()
	c.Login("alice", "alice-pw")
	got := c.Pipeline("RETR 1", "RETR 1", "RETR 1")
	assert.True(t, got[0].OK)
	assert.False(t, got[1].OK, "the second call fails")
	assert.True(t, got[2].OK, "the third call does not")
	assert.Equal(t, 3, faulty.Calls(pop3test.OpMessage))
	assert.Equal(t, 1, faulty.Calls(pop3test.OpLogin))
	assert.Equal(t, 1, faulty.Calls(pop3test.OpOpen))
}

func TestFaultsCountEveryCall(t *testing.T) {
	faulty := pop3test.NewFaultBackend(newMemory(t),
		pop3test.Fault{Op: pop3test.OpMessage, Call: 1, Err: &pop3.Error{Code: pop3.CodeSysTemp, Text: "first"}},
		pop3test.Fault{Op: pop3test.OpMessage, Call: 2, Err: &pop3.Error{Code: pop3.CodeSysTemp, Text: "second"}},
		pop3test.Fault{Op: pop3test.OpMessage, Err: &pop3.Error{Code: pop3.CodeSysTemp, Text: "any"}},
	)
	c := pop3test.NewServer(t, faulty.Backend()).Dial()
	c.Login("alice", "alice-pw")
	var got []string
	for _, r := range c.Pipeline("RETR 1", "RETR 1", "RETR 1") {
		got = append(got, r.Text)
	}
	assert.Equal(t, []string{"first", "second", "any"}, got, "the first fault that hits applies; each counts every call")
}

func TestFaultReadMidMessage(t *testing.T) {
	faulty := pop3test.NewFaultBackend(newMemory(t), pop3test.Fault{Op: pop3test.OpRead, After: 20, Err: io.ErrUnexpectedEOF})
	srv := pop3test.NewServer(t, faulty.Backend())
	c := srv.Dial()
	c.Login("alice", "alice-pw")
	c.Send("RETR 1")
	require.True(t, c.ReadReply().OK, "the +OK is sent before the body is read")
	assert.Equal(t, "Subject: one\r\n\r\nFirs", string(c.ReadUntilClosed()),
		"the first 20 octets, then the connection is closed: no terminator makes a cut message look whole")
	srv.Close() // waits for the session to end and log why
	assert.Contains(t, srv.Logs(), "unexpected EOF")
}

func TestFaultReadCallAndStickyError(t *testing.T) {
	faulty := pop3test.NewFaultBackend(newMemory(t),
		pop3test.Fault{Op: pop3test.OpRead, Call: 2, After: 5, Err: io.ErrUnexpectedEOF})
	u, err := faulty.Backend().Login(context.Background(), &pop3.ConnInfo{}, "alice", "alice-pw")
	require.NoError(t, err)
	mb, err := u.Open(context.Background())
	require.NoError(t, err)
	defer mb.Close()

	first, err := mb.Message(context.Background(), 0)
	require.NoError(t, err)
	whole, err := io.ReadAll(first)
	require.NoError(t, err, "the first reader is not the one the fault hits")
	assert.Len(t, whole, int(mb.Messages()[0].Size))

	second, err := mb.Message(context.Background(), 0)
	require.NoError(t, err)
	got, err := io.ReadAll(second)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, "Subje", string(got))
	n, err := second.Read(make([]byte, 10))
	assert.Zero(t, n)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "the failure sticks")
	assert.Equal(t, 2, faulty.Calls(pop3test.OpRead))
}

func TestFaultDelay(t *testing.T) {
	faulty := pop3test.NewFaultBackend(newMemory(t), pop3test.Fault{Op: pop3test.OpLogin, Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := faulty.Backend().Login(ctx, &pop3.ConnInfo{}, "alice", "alice-pw")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a delay ends with the call's context")
	assert.Less(t, time.Since(start), 5*time.Second)

	faulty.Clear()
	faulty.Inject(pop3test.Fault{Op: pop3test.OpOpen, Delay: 30 * time.Millisecond})
	c := pop3test.NewServer(t, faulty.Backend()).Dial()
	c.Greeting()
	start = time.Now()
	c.Login("alice", "alice-pw")
	assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond, "Open was delayed")
}

func TestFaultCloseStillReleases(t *testing.T) {
	b := newMemory(t)
	faulty := pop3test.NewFaultBackend(b, pop3test.Fault{Op: pop3test.OpClose, Panic: "bug in Close"})
	srv := pop3test.NewServer(t, faulty.Backend())
	c := srv.Dial()
	c.Login("alice", "alice-pw")
	c.Send("QUIT")
	c.ReadReply()
	faulty.Clear()
	next := srv.Dial()
	next.Login("alice", "alice-pw")
	next.Quit()
	assert.Equal(t, 2, faulty.Calls(pop3test.OpClose))
}

// saslBackend is a Backend with one SASL mechanism of its own.
type saslBackend struct{ pop3.Backend }

func (saslBackend) SASLMechanisms(*pop3.ConnInfo) []string { return []string{"ANONYMOUS"} }

func (saslBackend) SASLServer(context.Context, *pop3.ConnInfo, string, func(string, pop3.User)) (sasl.Server, error) {
	return nil, errors.New("not for use")
}

// topBackend is a Backend whose mailboxes implement TopMailbox.
type topBackend struct{ pop3.Backend }

func (b topBackend) Login(ctx context.Context, c *pop3.ConnInfo, username, password string) (pop3.User, error) {
	u, err := b.Backend.Login(ctx, c, username, password)
	if err != nil {
		return nil, err
	}
	return topUser{u}, nil
}

type topUser struct{ pop3.User }

func (u topUser) Open(ctx context.Context) (pop3.Mailbox, error) {
	mb, err := u.User.Open(ctx)
	if err != nil {
		return nil, err
	}
	return topMailbox{mb}, nil
}

type topMailbox struct{ pop3.Mailbox }

func (m topMailbox) Top(ctx context.Context, i, _ int) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("Subject: from Top\r\n\r\n")), nil
}

// TestFaultBackendShape checks that the wrapper offers exactly what the
// wrapped backend offers, so that a server on it behaves the same.
func TestFaultBackendShape(t *testing.T) {
	mem := newMemory(t)
	tests := []struct {
		name                 string
		inner                pop3.Backend
		apop, sasl, delivers bool
	}{
		{"memory: APOP and delivery", mem, true, false, true},
		{"login only", pop3.BackendFunc(mem.Login), false, false, false},
		{"SASL", saslBackend{pop3.BackendFunc(mem.Login)}, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := pop3test.NewFaultBackend(tt.inner).Backend()
			_, apop := b.(pop3.APOPBackend)
			_, saslOK := b.(pop3.SASLBackend)
			_, delivers := b.(pop3.Deliverer)
			assert.Equal(t, tt.apop, apop, "APOPBackend")
			assert.Equal(t, tt.sasl, saslOK, "SASLBackend")
			assert.Equal(t, tt.delivers, delivers, "Deliverer")
		})
	}

	t.Run("TopMailbox", func(t *testing.T) {
		for _, inner := range []pop3.Backend{mem, topBackend{mem}} {
			faulty := pop3test.NewFaultBackend(inner, pop3test.Fault{Op: pop3test.OpTop, Call: 2, Err: errors.New("x")})
			u, err := faulty.Backend().Login(context.Background(), &pop3.ConnInfo{}, "alice", "alice-pw")
			require.NoError(t, err)
			mb, err := u.Open(context.Background())
			require.NoError(t, err)
			_, isTop := mb.(pop3.TopMailbox)
			_, innerTop := inner.(topBackend)
			assert.Equal(t, innerTop, isTop)
			require.NoError(t, mb.Close())
		}
		c := pop3test.NewServer(t, pop3test.NewFaultBackend(topBackend{mem}, pop3test.Fault{Op: pop3test.OpTop, Call: 2, Err: errors.New("x")}).Backend()).Dial()
		c.Login("bob", "bob-pw")
		assert.Equal(t, "Subject: from Top\r\n\r\n", string(c.OK("TOP 1 0").Body), "TOP goes to the wrapped Top")
		assert.False(t, c.Cmd("TOP 1 0").OK, "the second Top fails")
	})

	t.Run("Deliver", func(t *testing.T) {
		faulty := pop3test.NewFaultBackend(mem, pop3test.Fault{Op: pop3test.OpDeliver, User: "bob", Err: errors.New("quota")})
		d := faulty.Backend().(pop3.Deliverer)
		require.NoError(t, d.Deliver(context.Background(), "alice", strings.NewReader("Subject: x\r\n\r\n")))
		assert.EqualError(t, d.Deliver(context.Background(), "bob", strings.NewReader("Subject: x\r\n\r\n")), "quota")
		msgs, err := mem.Messages("alice")
		require.NoError(t, err)
		assert.Len(t, msgs, 3)
	})
}

// TestFaultBlock holds a RETR until the test lets it go, and a call
// blocked for good until its context ends.
func TestFaultBlock(t *testing.T) {
	release := make(chan struct{})
	faulty := pop3test.NewFaultBackend(newMemory(t), pop3test.Fault{Op: pop3test.OpMessage, Block: release})
	c := pop3test.NewServer(t, faulty.Backend()).Dial()
	c.Login("alice", "alice-pw")
	c.Send("RETR 2")
	require.Eventually(t, func() bool { return faulty.Calls(pop3test.OpMessage) == 1 },
		5*time.Second, time.Millisecond, "Calls counts the call before it blocks")
	require.NoError(t, c.Conn().SetReadDeadline(time.Now().Add(50*time.Millisecond)))
	n, err := c.Conn().Read(make([]byte, 1))
	assert.Zero(t, n)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "no reply while the call is held")
	close(release)
	require.True(t, c.ReadReply().OK)
	assert.Equal(t, "Subject: two\r\n\r\nSecond.\r\n", string(c.ReadBody()))

	faulty.Clear()
	faulty.Inject(pop3test.Fault{Op: pop3test.OpLogin, Block: make(chan struct{})})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = faulty.Backend().Login(ctx, &pop3.ConnInfo{}, "bob", "bob-pw")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a blocked call ends with its context")
}
