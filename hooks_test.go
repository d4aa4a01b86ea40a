package pop3_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/pop3test"
)

// recorder keeps every event its hooks see.
type recorder struct {
	mu       sync.Mutex
	accepted []pop3.ConnInfo
	refused  []pop3.ConnRefusedEvent
	logins   []pop3.LoginEvent
	commands []pop3.CommandEvent
	ended    []pop3.SessionEndEvent
	endedCh  chan struct{}
}

func newRecorder() *recorder { return &recorder{endedCh: make(chan struct{}, 100)} }

func (r *recorder) hooks() *pop3.Hooks {
	return &pop3.Hooks{
		ConnAccepted: func(c *pop3.ConnInfo) { r.lock(); r.accepted = append(r.accepted, *c); r.mu.Unlock() },
		ConnRefused:  func(ev pop3.ConnRefusedEvent) { r.lock(); r.refused = append(r.refused, ev); r.mu.Unlock() },
		Login: func(ev pop3.LoginEvent) {
			ev.Conn = nil // not to be kept
			r.lock()
			r.logins = append(r.logins, ev)
			r.mu.Unlock()
		},
		Command: func(ev pop3.CommandEvent) {
			ev.Conn = nil
			r.lock()
			r.commands = append(r.commands, ev)
			r.mu.Unlock()
		},
		SessionEnded: func(ev pop3.SessionEndEvent) {
			ev.Conn = nil
			r.lock()
			r.ended = append(r.ended, ev)
			r.mu.Unlock()
			r.endedCh <- struct{}{}
		},
	}
}

func (r *recorder) lock() { r.mu.Lock() }

// waitEnded waits for n SessionEnded events: they come after the client
// has seen the connection close.
func (r *recorder) waitEnded(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-r.endedCh:
		case <-time.After(5 * time.Second):
			t.Fatal("no SessionEnded event")
		}
	}
}

// noopHooks has every hook set, doing nothing.
func noopHooks() *pop3.Hooks {
	return &pop3.Hooks{
		ConnAccepted: func(*pop3.ConnInfo) {},
		ConnRefused:  func(pop3.ConnRefusedEvent) {},
		Login:        func(pop3.LoginEvent) {},
		Command:      func(pop3.CommandEvent) {},
		SessionEnded: func(pop3.SessionEndEvent) {},
	}
}

// One session's events, in order, tell what it did; the octets its events
// report add up to what the client received.
func TestHooksSession(t *testing.T) {
	rec := newRecorder()
	ts := pop3test.NewServer(t, aliceBackend(t, "Subject: one\r\n\r\nhello\r\n", "Subject: two\r\n\r\n.dot\r\n"),
		pop3test.WithConfig(func(srv *pop3.Server) { srv.Hooks = rec.hooks() }))

	nc, err := net.Dial("tcp", ts.Addr)
	require.NoError(t, err)
	defer nc.Close()
	// The client pipelines all but the last commands: the events still
	// pair with the commands, and the octets still add up.
	_, err = io.WriteString(nc, "USER alice\r\nPASS wrong\r\nUSER alice\r\nPASS secret\r\n"+
		"STAT\r\nRETR 1\r\nXYZZY\r\nDELE 1\r\nRETR 9\r\n")
	require.NoError(t, err)
	received, err := io.ReadAll(io.LimitReader(nc, 1)) // the greeting's first octet, at least
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)
	_, err = io.WriteString(nc, "QUIT\r\n")
	require.NoError(t, err)
	rest, err := io.ReadAll(nc)
	require.NoError(t, err)
	received = append(received, rest...)
	rec.waitEnded(t, 1)

	assert.Contains(t, string(received), "+OK bye, 1 message left\r\n")
	rec.lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.accepted, 1)
	assert.Equal(t, nc.LocalAddr().String(), rec.accepted[0].RemoteAddr.String())

	assert.Equal(t, []pop3.LoginEvent{
		{Method: "USER", Username: "alice", Result: pop3.LoginFailed},
		{Method: "USER", Username: "alice", Result: pop3.LoginOK},
	}, rec.logins)

	type cmd struct{ name, status, code string }
	var got []cmd
	var sent int64
	for _, ev := range rec.commands {
		got = append(got, cmd{ev.Name, ev.Status, ev.Code})
		assert.Positive(t, ev.Duration, ev.Name)
		sent += ev.BytesSent
	}
	assert.Equal(t, []cmd{
		{"USER", "+OK", ""}, {"PASS", "-ERR", "AUTH"}, {"USER", "+OK", ""}, {"PASS", "+OK", ""},
		{"STAT", "+OK", ""}, {"RETR", "+OK", ""}, {"", "-ERR", ""}, {"DELE", "+OK", ""},
		{"RETR", "-ERR", ""}, {"QUIT", "+OK", ""},
	}, got)

	require.Len(t, rec.ended, 1)
	end := rec.ended[0]
	assert.Equal(t, pop3.EndQuit, end.Reason)
	assert.Equal(t, "alice", end.Username)
	assert.Equal(t, "USER", end.Method)
	assert.Equal(t, 1, end.Retrieved)
	assert.Equal(t, 1, end.Deleted)
	assert.NoError(t, end.Err)
	assert.Equal(t, int64(len(received)), end.TotalBytesSent)
	assert.Equal(t, end.TotalBytesSent, sent+end.BytesSent, "the events' octets add up to the session's")
}

// A login refused because the maildrop is in use, and one the backend
// failed, are told apart from wrong credentials.
func TestHooksLoginResults(t *testing.T) {
	rec := newRecorder()
	hooks := pop3test.WithConfig(func(srv *pop3.Server) { srv.Hooks = rec.hooks() })
	ts := pop3test.NewServer(t, aliceBackend(t), hooks)

	first := ts.Dial()
	first.Transcript("S: +OK...\nC: USER alice\nS: +OK...\nC: PASS secret\nS: +OK...")
	ts.Dial().Transcript("S: +OK...\nC: USER alice\nS: +OK...\nC: PASS secret\nS: -ERR [IN-USE]...")
	first.Transcript("C: QUIT\nS: +OK...")

	failing := pop3test.NewServer(t, pop3.BackendFunc(func(ctx context.Context, c *pop3.ConnInfo, username, password string) (pop3.User, error) {
		return nil, errors.New("database down")
	}), hooks)
	failing.Dial().Transcript("S: +OK...\nC: USER bob\nS: +OK...\nC: PASS x\nS: -ERR [SYS/TEMP]...")

	rec.lock()
	defer rec.mu.Unlock()
	var results []pop3.LoginResult
	for _, ev := range rec.logins {
		results = append(results, ev.Result)
	}
	assert.Equal(t, []pop3.LoginResult{pop3.LoginOK, pop3.LoginInUse, pop3.LoginError}, results)
}

// Refused connections are reported with their reason and address, and
// get no SessionEnded.
func TestHooksRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		set    func(*pop3.Server)
		reason pop3.RefuseReason
	}{
		{"max connections", func(s *pop3.Server) { s.MaxConnections = 1 }, pop3.RefusedMaxConnections},
		{"max connections per ip", func(s *pop3.Server) { s.MaxConnectionsPerIP = 1 }, pop3.RefusedMaxConnectionsPerIP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			ts := pop3test.NewServer(t, aliceBackend(t), pop3test.WithConfig(func(srv *pop3.Server) {
				tc.set(srv)
				srv.Hooks = rec.hooks()
			}))

			first := ts.Dial()
			first.Transcript("S: +OK...")
			second := ts.Dial()
			assert.Equal(t, "-ERR [SYS/TEMP] too many connections", second.ReadLine())
			second.ExpectClosed()
			eventually(t, func() bool { rec.lock(); defer rec.mu.Unlock(); return len(rec.refused) == 1 }, 5*time.Second, 5*time.Millisecond)
			first.Transcript("C: QUIT\nS: +OK...")
			rec.waitEnded(t, 1)

			rec.lock()
			defer rec.mu.Unlock()
			assert.Equal(t, tc.reason, rec.refused[0].Reason)
			assert.Equal(t, second.Conn().LocalAddr().String(), rec.refused[0].RemoteAddr.String())
			assert.Len(t, rec.accepted, 1)
			assert.Len(t, rec.ended, 1)
		})
	}
}

// A hook that panics is logged and costs nothing else: the session goes
// on, and the next event is still reported.
func TestHooksPanic(t *testing.T) {
	var ended sync.WaitGroup
	ended.Add(1)
	ts := pop3test.NewServer(t, aliceBackend(t), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.Hooks = &pop3.Hooks{
			Command:      func(ev pop3.CommandEvent) { panic("metrics bug") },
			SessionEnded: func(pop3.SessionEndEvent) { ended.Done() },
		}
	}))
	ts.Dial().Transcript("S: +OK...\nC: NOOP\nS: -ERR...\nC: USER alice\nS: +OK...\nC: PASS secret\nS: +OK...\nC: QUIT\nS: +OK...")
	ended.Wait()
	assert.Contains(t, ts.Logs(), `msg="pop3: panic in a hook" hook=Command panic="metrics bug"`)
}

// Hooks left nil, or set, cost a command no allocation; compare the
// ns/op of the two sub-benchmarks for their time.
func BenchmarkHooks(b *testing.B) {
	plain := pop3test.NewServer(b, aliceBackend(b, "Subject: a\r\n\r\nbody\r\n"),
		pop3test.WithConfig(func(srv *pop3.Server) { srv.Hooks = nil })).Addr
	withHooks := pop3test.NewServer(b, aliceBackend(b, "Subject: a\r\n\r\nbody\r\n"),
		pop3test.WithConfig(func(srv *pop3.Server) { srv.Hooks = noopHooks() })).Addr
	for _, bc := range []struct{ name, addr string }{{"nil", plain}, {"set", withHooks}} {
		b.Run(bc.name, func(b *testing.B) {
			c := dialRaw(b, bc.addr)
			c.do([]byte("USER alice\r\n"), false)
			c.do([]byte("PASS secret\r\n"), false)
			stat := []byte("STAT\r\n")
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c.do(stat, false)
			}
			b.StopTimer()
			c.do([]byte("QUIT\r\n"), false)
		})
	}
}

// TestReasonsAreLabelValues: the reasons and results are spelt as
// Prometheus label values, so that pop3d's metrics, its README and the
// hooks use one spelling.
func TestReasonsAreLabelValues(t *testing.T) {
	values := []string{
		string(pop3.RefusedMaxConnections), string(pop3.RefusedMaxConnectionsPerIP), string(pop3.RefusedShuttingDown),
		string(pop3.LoginOK), string(pop3.LoginFailed), string(pop3.LoginInUse), string(pop3.LoginDelayed), string(pop3.LoginError),
		string(pop3.EndQuit), string(pop3.EndClientClosed), string(pop3.EndIdleTimeout), string(pop3.EndAuthTimeout),
		string(pop3.EndShutdown), string(pop3.EndServerClosed), string(pop3.EndAuthFailures), string(pop3.EndBadCommands),
		string(pop3.EndTLSHandshake), string(pop3.EndPanic), string(pop3.EndError),
	}
	for _, v := range values {
		assert.Regexp(t, `^[a-z]+(_[a-z]+)*$`, v)
	}
	assert.Equal(t, "in_use", string(pop3.LoginInUse))
	assert.Equal(t, "login_delay", string(pop3.LoginDelayed))
	assert.Equal(t, "max_connections", string(pop3.RefusedMaxConnections))
}
