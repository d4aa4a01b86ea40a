package pop3_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
)

// checkMailboxContract checks what the server relies on from any Mailbox:
// every size is the exact octet count Message yields, the content has only
// CRLF line ends, UIDs are unique and 1-70 characters of 0x21-0x7E (RFC
// 1939 §7), and Messages does not change while the mailbox is open.
func checkMailboxContract(t *testing.T, mbox pop3.Mailbox) {
	t.Helper()
	infos := mbox.Messages()
	seen := map[string]bool{}
	for i, info := range infos {
		assert.Regexp(t, `^[\x21-\x7e]{1,70}$`, info.UID, "message %d", i+1)
		assert.False(t, seen[info.UID], "UID %q repeated", info.UID)
		seen[info.UID] = true

		r, err := mbox.Message(context.Background(), i)
		require.NoError(t, err)
		data, err := io.ReadAll(r)
		require.NoError(t, err)
		require.NoError(t, r.Close())
		assert.Equal(t, info.Size, int64(len(data)), "message %d: size is the octets served (RFC 1939 §11)", i+1)
		assert.Equal(t, strings.Count(string(data), "\n"), strings.Count(string(data), "\r\n"), "message %d has a bare LF", i+1)
		assert.Equal(t, strings.Count(string(data), "\r"), strings.Count(string(data), "\r\n"), "message %d has a bare CR", i+1)
	}
	assert.Equal(t, infos, mbox.Messages(), "Messages is a snapshot")
}

func TestMemoryBackendContract(t *testing.T) {
	b := memory.New()
	require.NoError(t, b.AddUser("alice", "secret"))
	for _, m := range []string{msgDots, msgLF, "", "x\ry", "no end", strings.Repeat(".\n", 1000)} {
		_, err := b.AppendMessage("alice", []byte(m))
		require.NoError(t, err)
	}
	ctx := context.Background()
	u, err := b.Login(ctx, &pop3.ConnInfo{}, "alice", "secret")
	require.NoError(t, err)
	mbox, err := u.Open(ctx)
	require.NoError(t, err)
	checkMailboxContract(t, mbox)

	// The lock: a second Open fails with ErrMailboxLocked until Close.
	_, err = u.Open(ctx)
	assert.ErrorIs(t, err, pop3.ErrMailboxLocked)
	var pe *pop3.Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, pop3.CodeInUse, pe.Code)

	// Snapshot isolation: a message appended now is not in this snapshot.
	_, err = b.AppendMessage("alice", []byte("late\n"))
	require.NoError(t, err)
	assert.Len(t, mbox.Messages(), 6)
	require.NoError(t, mbox.Delete(ctx, []int{0, 2}))
	require.NoError(t, mbox.Close())

	left, err := b.Messages("alice")
	require.NoError(t, err)
	require.Len(t, left, 5)
	assert.Equal(t, msgLFasCRLF, string(left[0].Data))
	assert.Equal(t, "late\r\n", string(left[4].Data))

	mbox, err = u.Open(ctx)
	require.NoError(t, err)
	checkMailboxContract(t, mbox)
	require.NoError(t, mbox.Close())
}

func TestFakeBackendContract(t *testing.T) {
	fb := &fakeBackend{msgs: []string{msgDots, ""}}
	u, err := fb.Login(context.Background(), &pop3.ConnInfo{}, "alice", "secret")
	require.NoError(t, err)
	mbox, err := u.Open(context.Background())
	require.NoError(t, err)
	checkMailboxContract(t, mbox)
}

// Many sessions on the memory backend at once: each user's maildrop is
// opened by one session at a time, and concurrent deletes and appends
// lose nothing (run with -race).
func TestMemoryBackendConcurrentSessions(t *testing.T) {
	b := memory.New()
	for _, u := range []string{"a", "b"} {
		require.NoError(t, b.AddUser(u, "pw"))
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	deleted := 0
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := []string{"a", "b"}[i%2]
			_, _ = b.AppendMessage(user, []byte("Subject: x\n\nbody\n"))
			u, err := b.Login(ctx, &pop3.ConnInfo{}, user, "pw")
			if !assert.NoError(t, err) {
				return
			}
			mbox, err := u.Open(ctx)
			if errors.Is(err, pop3.ErrMailboxLocked) {
				return
			}
			if !assert.NoError(t, err) {
				return
			}
			if n := len(mbox.Messages()); n > 0 && assert.NoError(t, mbox.Delete(ctx, []int{0})) {
				mu.Lock()
				deleted++
				mu.Unlock()
			}
			assert.NoError(t, mbox.Close())
		}()
	}
	wg.Wait()
	left := 0
	for _, u := range []string{"a", "b"} {
		msgs, err := b.Messages(u)
		require.NoError(t, err)
		left += len(msgs)
	}
	assert.Equal(t, 40, left+deleted, "every append is either deleted once or still there")
}

func TestValidUID(t *testing.T) {
	for _, tc := range []struct {
		uid  string
		want bool
	}{
		{"a", true},
		{"!", true},
		{"~", true},
		{strings.Repeat("x", 70), true},
		{"0000000a6553f17b", true},
		{"", false},
		{strings.Repeat("x", 71), false},
		{"has space", false},
		{"tab\t", false},
		{"del\x7f", false},
		{"nul\x00", false},
		{"é", false},
	} {
		assert.Equal(t, tc.want, pop3.ValidUID(tc.uid), "%q", tc.uid)
	}
}
