package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/gopop3/pop3"
)

// SetPolicy gives the user LOGIN-DELAY and EXPIRE values of their own (RFC
// 2449 §6.5, §6.7), which a server applies when [pop3.Server.UserPolicies]
// is set. An unknown user returns an error that wraps [pop3.ErrNoSuchUser].
func (b *Backend) SetPolicy(username string, p pop3.UserPolicy) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.users[username]
	if !ok {
		return fmt.Errorf("memory: %w: %q", pop3.ErrNoSuchUser, username)
	}
	u.policy = p
	return nil
}

// Policy returns the values set with SetPolicy; it implements
// [pop3.PolicyUser].
func (u *user) Policy() pop3.UserPolicy {
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	return u.policy
}

// LastLogin returns the time RecordLogin last recorded, zero if none; with
// RecordLogin it implements [pop3.LoginRecorder], so that LOGIN-DELAY
// holds for as long as the Backend lives, whichever Server serves it.
func (u *user) LastLogin(ctx context.Context) (time.Time, error) {
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	return u.lastLogin, nil
}

// RecordLogin records t as the user's last login.
func (u *user) RecordLogin(ctx context.Context, t time.Time) error {
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	u.lastLogin = t
	return nil
}

// RecordsRetrievals reports true: every mailbox of the Backend remembers
// when its messages were first retrieved, which [pop3.Server.Expire] with
// a number of days needs ([pop3.RetrievalBackend]).
func (b *Backend) RecordsRetrievals() bool { return true }

// FirstRetrieved returns when message i was first retrieved, as of the
// mailbox's Open; it implements [pop3.RetrievalMailbox].
func (mb *mailbox) FirstRetrieved(i int) time.Time {
	if i < 0 || i >= len(mb.retrieved) {
		return time.Time{}
	}
	return mb.retrieved[i]
}

// Retrieved records t as the first retrieval of the given messages that
// have none yet.
func (mb *mailbox) Retrieved(ctx context.Context, indexes []int, t time.Time) error {
	if err := mb.checkIndexes(indexes); err != nil {
		return err
	}
	b := mb.user.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if mb.closed {
		return errClosed
	}
	for _, i := range indexes {
		if m := mb.msgs[i]; m.firstRetrieved.IsZero() {
			m.firstRetrieved = t
		}
	}
	return nil
}
