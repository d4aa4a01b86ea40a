package pop3test_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/syncbuf"
	"github.com/gopop3/pop3/pop3test"
)

// TestServerLogsPanic: a failed test's output shows each panic that a
// session recovered, named for the method, with its stack on lines of
// their own.
func TestServerLogsPanic(t *testing.T) {
	var inner *recordingTB
	t.Run("failing", func(t *testing.T) {
		got := failures(t, func(tb testing.TB) {
			inner = tb.(*recordingTB)
			faulty := pop3test.NewFaultBackend(newMemory(t), pop3test.Fault{Op: pop3test.OpMessage, Panic: "bug in Message"})
			c := pop3test.NewServer(tb, faulty.Backend()).Dial()
			c.Login("alice", "alice-pw")
			c.OK("RETR 1")
		})
		require.Len(t, got, 1)
		assert.Contains(t, got[0], "RETR 1: -ERR [SYS/TEMP]")
	})
	require.NotNil(t, inner)
	assert.Contains(t, inner.logs(), "pop3test: Message panicked: bug in Message\nin a session: ")
	assert.Regexp(t, `\n\t\S*pop3test\.\(\*faultMailbox\)\.Message\n\t\tfault\.go:\d+\n`, inner.logs())
}

// TestServerLogsToCallersLogger: a Logger set by WithConfig receives the
// server's records, which Logs keeps too.
func TestServerLogsToCallersLogger(t *testing.T) {
	var own syncbuf.Buffer
	srv := pop3test.NewServer(t, newMemory(t), pop3test.WithConfig(func(s *pop3.Server) {
		s.Logger = slog.New(slog.NewTextHandler(&own, nil))
	}))
	c := srv.Dial()
	c.OK("USER alice")
	c.Cmd("PASS wrong")
	c.Login("alice", "alice-pw")
	c.Quit()
	require.Eventually(t, func() bool { return strings.Contains(own.String(), "session ended") },
		5*time.Second, 10*time.Millisecond, "the caller's Logger gets the records: %s", own.String())
	assert.Contains(t, own.String(), "authentication failed")
	for _, record := range []string{"authentication failed", "session ended"} {
		assert.Contains(t, srv.Logs(), record, "Logs keeps them too")
	}
}
