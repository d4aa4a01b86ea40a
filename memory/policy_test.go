package memory

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
)

func TestSetPolicy(t *testing.T) {
	b := New()
	require.NoError(t, b.AddUser("alice", "secret"))
	require.ErrorIs(t, b.SetPolicy("nobody", pop3.UserPolicy{}), pop3.ErrNoSuchUser)
	want := pop3.UserPolicy{LoginDelay: time.Minute, Expire: pop3.ExpireAfter(3)}
	require.NoError(t, b.SetPolicy("alice", want))
	u, err := b.Login(context.Background(), &pop3.ConnInfo{}, "alice", "secret")
	require.NoError(t, err)
	assert.Equal(t, want, u.(pop3.PolicyUser).Policy())
}

func TestRetrieved(t *testing.T) {
	b := New()
	require.NoError(t, b.AddUser("alice", "secret"))
	for _, m := range []string{"a\r\n", "b\r\n"} {
		_, err := b.AppendMessage("alice", []byte(m))
		require.NoError(t, err)
	}
	ctx := context.Background()
	u, err := b.Login(ctx, &pop3.ConnInfo{}, "alice", "secret")
	require.NoError(t, err)
	mb, err := u.Open(ctx)
	require.NoError(t, err)
	rm := mb.(pop3.RetrievalMailbox)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	assert.Error(t, rm.Retrieved(ctx, []int{0, 2}, t0), "an index out of range records nothing")
	assert.True(t, rm.FirstRetrieved(-1).IsZero())
	require.NoError(t, rm.Retrieved(ctx, []int{1}, t0))
	require.NoError(t, mb.Close())
	require.ErrorIs(t, rm.Retrieved(ctx, []int{0}, t0), errClosed)

	mb, err = u.Open(ctx)
	require.NoError(t, err)
	defer mb.Close()
	rm = mb.(pop3.RetrievalMailbox)
	assert.True(t, rm.FirstRetrieved(0).IsZero())
	assert.Equal(t, t0, rm.FirstRetrieved(1))
	require.NoError(t, rm.Retrieved(ctx, []int{0, 1}, t0.Add(time.Hour)))
	assert.Equal(t, t0, rm.FirstRetrieved(1), "this session's snapshot is the one it opened")
	assert.True(t, b.RecordsRetrievals())
}
