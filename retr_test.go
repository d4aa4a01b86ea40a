package pop3_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/pop3test"
)

func TestTop(t *testing.T) {
	const noBody = "Subject: only a header\r\nX: y\r\n"
	c := pop3test.NewServer(t, aliceBackend(t, msgDots, noBody, msgLF)).Dial()
	c.Login("alice", "secret")
	for _, tc := range []struct {
		cmd, want string
	}{
		{"TOP 1 0", "From: bob@example.com\r\nSubject: dots\r\n\r\n"},
		{"TOP 1 2", "From: bob@example.com\r\nSubject: dots\r\n\r\nHello\r\n.starts with a dot\r\n"},
		{"TOP 1 4", "From: bob@example.com\r\nSubject: dots\r\n\r\nHello\r\n.starts with a dot\r\n..two\r\n.\r\n"},
		{"TOP 1 99999999", msgDots},
		{"TOP 1 123456789012345678901234567890", msgDots},
		{"TOP 2 0", noBody},
		{"TOP 2 5", noBody},
		{"top 3 2", "Subject: two\r\n\r\nline1\r\nline2\r\n"},
	} {
		c.Send(tc.cmd)
		require.Equal(t, "+OK top of message follows", c.ReadLine(), tc.cmd)
		assert.Equal(t, tc.want, string(c.ReadBody()), tc.cmd)
	}
}

// A backend that lists a size other than what RETR sends (here: the size
// of an LF file, which goes out as CRLF) is logged once per maildrop, with
// the UID and both numbers and never the content.
func TestRetrSizeMismatchIsLogged(t *testing.T) {
	be := &fakeBackend{msgs: []string{"Subject: lf\n\nsecret body\n", "Subject: lf2\n\nmore\n", "Subject: ok\r\n\r\nfine\r\n"}}
	ts := pop3test.NewServer(t, be)
	c := ts.Dial()
	c.Login("alice", "secret")
	for _, n := range []string{"3", "1", "2"} {
		c.Send("RETR " + n)
		require.True(t, strings.HasPrefix(c.ReadReply().Line, "+OK"))
		c.ReadBody()
	}
	c.Send("QUIT")
	c.ReadReply()
	c.ExpectClosed()
	require.NoError(t, ts.Config.Close())
	logs := ts.Logs()
	assert.Equal(t, 1, strings.Count(logs, "level=WARN"), logs)
	assert.Regexp(t, `level=WARN msg=".*size.*" .*uid=uid-1 listed=25 sent=28`, logs)
	assert.NotContains(t, logs, "secret body")
}

// A reader error in the middle of RETR closes the connection: the message
// is never terminated, so it cannot look complete.
func TestReadErrorMidMessage(t *testing.T) {
	faulty := pop3test.NewFaultBackend(aliceBackend(t, msgDots),
		pop3test.Fault{Op: pop3test.OpRead, After: 30, Err: errors.New("fake: storage read failed")})
	ts := pop3test.NewServer(t, faulty.Backend())
	// Without UTF-8 mode the header is read ahead, to downgrade it, so a
	// failure there comes before the +OK, as a -ERR.
	c := ts.Dial()
	c.Login("alice", "secret")
	assert.Equal(t, "-ERR [SYS/TEMP] read failed, try again later", c.Cmd("RETR 1").Line)
	c.Quit()
	require.Eventually(t, func() bool { return faulty.Calls(pop3test.OpClose) == 1 }, 5*time.Second, 10*time.Millisecond)

	c = ts.Dial()
	c.OK("UTF8")
	c.Login("alice", "secret")
	c.Send("RETR 1")
	assert.Equal(t, "+OK 82 octets", c.ReadLine())
	rest := c.ReadUntilClosed()
	assert.Equal(t, msgDots[:30], string(rest))
	assert.NotContains(t, string(rest), "\r\n.\r\n")
	assert.Equal(t, 2, faulty.Calls(pop3test.OpClose))
	assert.Zero(t, faulty.Calls(pop3test.OpDelete))
}

// A message reader is closed however RETR and TOP end: also when it panics
// while the server reads its header ahead to downgrade it (RFC 6856 §3),
// before the handler's own deferred Close is set.
func TestMessageReaderClosedAfterPanicInDowngrade(t *testing.T) {
	for _, cmd := range []string{"RETR 1", "TOP 1 0"} {
		t.Run(cmd, func(t *testing.T) {
			var closes atomic.Int32
			b := aliceBackend(t, msgDots)
			backend := pop3.BackendFunc(func(ctx context.Context, c *pop3.ConnInfo, username, password string) (pop3.User, error) {
				u, err := b.Login(ctx, c, username, password)
				if err != nil {
					return nil, err
				}
				return panickyUser{u, &closes}, nil
			})
			ts := pop3test.NewServer(t, backend)
			c := ts.Dial()
			c.Transcript("S: +OK ...\nC: USER alice\nS: +OK send PASS\nC: PASS secret\nS: +OK maildrop has 1 message (...\nC: " + cmd + "\nS: -ERR [SYS/TEMP] internal error")
			c.ExpectClosed()
			require.Eventually(t, func() bool { return closes.Load() == 1 }, 5*time.Second, 10*time.Millisecond,
				"the reader is closed")
			time.Sleep(20 * time.Millisecond)
			assert.Equal(t, int32(1), closes.Load(), "once")
		})
	}
}

// panickyUser's maildrop serves readers that panic on their first Read and
// count their Close.
type panickyUser struct {
	pop3.User
	closes *atomic.Int32
}

func (u panickyUser) Open(ctx context.Context) (pop3.Mailbox, error) {
	m, err := u.User.Open(ctx)
	if err != nil {
		return nil, err
	}
	return panickyMailbox{m, u.closes}, nil
}

type panickyMailbox struct {
	pop3.Mailbox
	closes *atomic.Int32
}

func (m panickyMailbox) Message(context.Context, int) (io.ReadCloser, error) {
	return panickyReader{m.closes}, nil
}

type panickyReader struct{ closes *atomic.Int32 }

func (panickyReader) Read([]byte) (int, error) { panic("reader panics") }

func (r panickyReader) Close() error { r.closes.Add(1); return nil }
