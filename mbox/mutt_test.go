//go:build linux

package mbox_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/testprog"
	"github.com/gopop3/pop3/pop3test"
)

// muttStatuses opens spool in mutt, on a pseudo-terminal (script), with no
// system configuration, and returns the subjects of the messages it shows
// read, old (seen, unread) and new: it tags each kind with a pattern (~R,
// ~O, ~N) and pipes the tagged messages, one by one, to a script that
// records their Subject. Then it quits as a user does, and mutt writes
// what changed (with mark_old, the new messages become old).
func muttStatuses(t *testing.T, spool string) map[string][]string {
	t.Helper()
	testprog.Require(t, "mutt", "mutt")
	testprog.Require(t, "script", "bsdutils")
	home := t.TempDir()
	record := filepath.Join(home, "record")
	require.NoError(t, os.WriteFile(record, []byte("#!/bin/sh\ngrep -m1 '^Subject:' | cut -c10- >> \"$1\"\nexit 0\n"), 0o755))
	kinds := map[string]string{"read": "~R", "old": "~O", "new": "~N"}
	var keys strings.Builder
	for _, kind := range []string{"read", "old", "new"} {
		// tag-prefix-cond does nothing, and skips to end-cond, when no
		// message is tagged.
		fmt.Fprintf(&keys, "<tag-pattern>%s<enter><tag-prefix-cond><pipe-message>%s %s<enter><end-cond><untag-pattern>~A<enter>",
			kinds[kind], record, filepath.Join(home, kind))
	}
	muttrc := filepath.Join(home, "muttrc")
	require.NoError(t, os.WriteFile(muttrc, []byte(strings.Join([]string{
		"set mbox_type=mbox",
		"set folder=" + home,
		"set sort=mailbox-order",
		"set pipe_split=yes",
		"set pipe_decode=no",
		"set wait_key=no",
		"set quit=yes",
		"set move=no",
		"set beep=no",
		`push "` + keys.String() + `<quit>"`,
	}, "\n")+"\n"), 0o644))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "script", "-qc", fmt.Sprintf("mutt -n -F %s -f %s", muttrc, spool), "/dev/null")
	cmd.Env = append(os.Environ(), "HOME="+home, "TERM=vt100", "MAIL="+spool, "LC_ALL=C")
	// script ends the session at the end of its input: keep it open
	// until mutt is done.
	stdin, keepOpen, err := os.Pipe()
	require.NoError(t, err)
	defer keepOpen.Close()
	cmd.Stdin = stdin
	var screen bytes.Buffer
	cmd.Stdout, cmd.Stderr = &screen, &screen
	err = cmd.Run()
	stdin.Close()
	require.NoError(t, err, "mutt's screen: %q", screen.String())

	got := make(map[string][]string)
	for kind := range kinds {
		data, err := os.ReadFile(filepath.Join(home, kind))
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		got[kind] = strings.Fields(string(data))
		slices.Sort(got[kind])
	}
	return got
}

// After a session's UPDATE (RETR of some messages, DELE of others, QUIT),
// mutt opens the spool and shows every message kept, with its status: the
// retrieved ones read ("Status: RO", as qpopper marks them), the others as
// they were, old ("Status: O") or new. Mutt then writes the spool itself
// (it marks the new messages old, and adds Content-Length and Lines
// headers): the store still reads it, with the same unique-ids, and mutt
// sees it written.
func TestMuttSeesStatus(t *testing.T) {
	b, dir := agentSpools(t, "carol:{PLAIN}pw\n")
	spool := filepath.Join(dir, "carol")
	status := map[int]string{1: "O", 2: "O", 3: "RO", 7: "O"}
	var data strings.Builder
	for i := 1; i <= 9; i++ {
		header := fmt.Sprintf("Message-ID: <%d@mutt.test>\nSubject: m%d\n", i, i)
		if s, ok := status[i]; ok {
			header += "Status: " + s + "\n"
		}
		fmt.Fprintf(&data, "From sender@example.org  Mon Dec  7 10:0%d:00 2026\n%s\nbody %d\n>From a quoted line\n\n", i, header, i)
	}
	require.NoError(t, os.WriteFile(spool, []byte(data.String()), 0o660))
	srv := pop3test.NewServer(t, b)

	c := srv.Dial()
	c.Login("carol", "pw")
	uidl := c.OK("UIDL").Lines()
	require.Len(t, uidl, 9)
	for _, n := range []int{1, 4, 5} {
		c.OK(fmt.Sprintf("RETR %d", n))
	}
	for _, n := range []int{2, 6} {
		c.OK(fmt.Sprintf("DELE %d", n))
	}
	c.Quit()
	var kept []string // the unique-ids, numbered as the next session numbers them
	for i, line := range uidl {
		if i+1 != 2 && i+1 != 6 {
			_, id, _ := strings.Cut(line, " ")
			kept = append(kept, fmt.Sprintf("%d %s", len(kept)+1, id))
		}
	}

	assert.Equal(t, map[string][]string{
		"read": {"m1", "m3", "m4", "m5"},
		"old":  {"m7"},
		"new":  {"m8", "m9"},
	}, muttStatuses(t, spool), "what mutt shows after the session")

	written, err := os.ReadFile(spool)
	require.NoError(t, err)
	for _, m := range spoolMessages(t, string(written)) {
		if subject := fieldValues(m, "Subject"); slices.Equal(subject, []string{"m8"}) || slices.Equal(subject, []string{"m9"}) {
			assert.Equal(t, []string{"O"}, fieldValues(m, "Status"), "mutt marked %s old, and wrote the spool", subject)
		}
	}
	c = srv.Dial()
	c.Login("carol", "pw")
	assert.Equal(t, kept, c.OK("UIDL").Lines(), "the unique-ids after mutt wrote the spool")
	for i := range kept {
		body := string(c.OK(fmt.Sprintf("RETR %d", i+1)).Body)
		assert.Contains(t, body, "\r\n>From a quoted line\r\n", "RETR %d", i+1)
	}
	c.Quit()

	assert.Equal(t, map[string][]string{
		"read": {"m1", "m3", "m4", "m5", "m7", "m8", "m9"},
	}, muttStatuses(t, spool), "what mutt shows after the store marked every kept message read")
}
