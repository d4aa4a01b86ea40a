package pop3_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/pop3test"
)

func TestQuitInAuthorization(t *testing.T) {
	pop3test.NewServer(t, aliceBackend(t)).Dial().Transcript(`
		S: +OK ...
		C: USER alice
		S: +OK send PASS
		C: QUIT
		S: +OK bye
		S: <closed>
	`)
}

// Nothing is deleted when the connection drops without QUIT.
func TestDropWithoutQuit(t *testing.T) {
	b := aliceBackend(t, msgDots, msgLF)
	ts := pop3test.NewServer(t, b)
	c := ts.Dial()
	c.Login("alice", "secret")
	c.Send("DELE 1")
	require.Equal(t, "+OK message 1 deleted", c.ReadLine())
	c.Send("DELE 2")
	require.Equal(t, "+OK message 2 deleted", c.ReadLine())
	require.NoError(t, c.Conn().Close())

	// The maildrop is released once the session notices the drop.
	eventually(t, func() bool {
		d := ts.Dial()
		d.ReadReply()
		d.Send("USER alice")
		d.ReadReply()
		d.Send("PASS secret")
		return strings.HasPrefix(d.ReadReply().Line, "+OK")
	}, 5*time.Second, 20*time.Millisecond)
	left, err := b.Messages("alice")
	require.NoError(t, err)
	assert.Len(t, left, 2)
}

// deleteRecorder records the indexes that each Delete of its maildrops is
// given, and passes the call on.
type deleteRecorder struct {
	pop3.Backend
	mu      sync.Mutex
	deleted [][]int
}

func (r *deleteRecorder) Login(ctx context.Context, c *pop3.ConnInfo, username, password string) (pop3.User, error) {
	u, err := r.Backend.Login(ctx, c, username, password)
	if u == nil {
		return nil, err
	}
	return deleteRecordingUser{u, r}, err
}

func (r *deleteRecorder) deletes() [][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.deleted)
}

type deleteRecordingUser struct {
	pop3.User
	r *deleteRecorder
}

func (u deleteRecordingUser) Open(ctx context.Context) (pop3.Mailbox, error) {
	mb, err := u.User.Open(ctx)
	if mb == nil {
		return nil, err
	}
	return deleteRecordingMailbox{mb, u.r}, err
}

type deleteRecordingMailbox struct {
	pop3.Mailbox
	r *deleteRecorder
}

func (m deleteRecordingMailbox) Delete(ctx context.Context, indexes []int) error {
	m.r.mu.Lock()
	m.r.deleted = append(m.r.deleted, slices.Clone(indexes))
	m.r.mu.Unlock()
	return m.Mailbox.Delete(ctx, indexes)
}

// QUIT answers -ERR when the backend could not remove the messages, and
// still releases the maildrop.
func TestQuitWithFailingDelete(t *testing.T) {
	faulty := pop3test.NewFaultBackend(aliceBackend(t, msgDots, msgDots, msgDots),
		pop3test.Fault{Op: pop3test.OpDelete, Err: fmt.Errorf("disk full")})
	rec := &deleteRecorder{Backend: faulty.Backend()}
	c := pop3test.NewServer(t, rec).Dial()
	c.Login("alice", "secret")
	c.Transcript(`
		C: DELE 1
		S: +OK message 1 deleted
		C: DELE 3
		S: +OK message 3 deleted
		C: QUIT
		S: -ERR [SYS/TEMP] some deleted messages not removed
		S: <closed>
	`)
	assert.Equal(t, [][]int{{0, 2}}, rec.deletes())
	assert.Equal(t, 1, faulty.Calls(pop3test.OpOpen))
	assert.Equal(t, 1, faulty.Calls(pop3test.OpClose))
}

// QUIT without marks does not call Delete.
func TestQuitWithoutMarks(t *testing.T) {
	faulty := pop3test.NewFaultBackend(aliceBackend(t, msgDots))
	c := pop3test.NewServer(t, faulty.Backend()).Dial()
	c.Login("alice", "secret")
	c.Transcript(`
		C: DELE 1
		S: +OK message 1 deleted
		C: RSET
		S: +OK maildrop has 1 message (82 octets)
		C: QUIT
		S: +OK bye, 1 message left
		S: <closed>
	`)
	assert.Zero(t, faulty.Calls(pop3test.OpDelete))
	assert.Equal(t, 1, faulty.Calls(pop3test.OpClose))
}
