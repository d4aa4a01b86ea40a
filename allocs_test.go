package pop3_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/pop3test"
)

// The commands a session repeats allocate nothing once warm, and a RETR
// only what the backend's reader costs, over real TCP (BenchmarkCommand
// measures the same), with or without Hooks. The client allocates
// nothing, so the count is the server's.
func TestCommandAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under -race (sync.Pool drops buffers); .ci/run runs this test without it")
	}
	t.Run("no hooks", func(t *testing.T) { testCommandAllocations(t, nil) })
	t.Run("hooks", func(t *testing.T) { testCommandAllocations(t, noopHooks()) })
}

func testCommandAllocations(t *testing.T, hooks *pop3.Hooks) {
	msg := "Subject: a\r\n\r\n" + strings.Repeat("line\r\n.dot\r\n", 300)
	ts := pop3test.NewServer(t, aliceBackend(t, slices.Repeat([]string{msg}, 100)...),
		pop3test.WithConfig(func(srv *pop3.Server) { srv.Hooks = hooks }))
	c := dialRaw(t, ts.Addr)
	c.do([]byte("USER alice\r\n"), false)
	c.do([]byte("PASS secret\r\n"), false)
	for _, tc := range []struct {
		cmds []string
		max  float64
	}{
		{[]string{"STAT"}, 0},
		{[]string{"LIST 42"}, 0},
		{[]string{"LIST"}, 0},
		{[]string{"UIDL 42"}, 0},
		{[]string{"UIDL"}, 0},
		{[]string{"NOOP"}, 0},
		{[]string{"DELE 42", "RSET"}, 0},
		{[]string{"RETR 42"}, 2}, // the memory backend's reader
	} {
		cmds := make([][]byte, len(tc.cmds))
		for i, s := range tc.cmds {
			cmds[i] = []byte(s + "\r\n")
		}
		allocs := testing.AllocsPerRun(200, func() {
			for i, cmd := range cmds {
				c.do(cmd, tc.cmds[i] == "LIST" || tc.cmds[i] == "UIDL" || strings.HasPrefix(tc.cmds[i], "RETR"))
			}
		})
		assert.LessOrEqual(t, allocs, tc.max, "%q", tc.cmds)
	}
	c.do([]byte("QUIT\r\n"), false)
}
