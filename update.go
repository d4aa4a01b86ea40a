package pop3

import (
	"errors"
	"fmt"
	"time"
)

// cmdQuit handles QUIT. In AUTHORIZATION it just ends the session (RFC 1939
// §4); in TRANSACTION it enters UPDATE (§6).
func (s *session) cmdQuit([]string) error {
	if s.state == stateTransaction {
		return s.update()
	}
	if err := s.replyOK("bye"); err != nil {
		return err
	}
	return endQuit
}

// update is the UPDATE state (RFC 1939 §6) that QUIT enters from
// TRANSACTION: the marked messages are removed, the lock is released, and
// only then is the client answered, so that a client reconnecting on +OK
// never finds the maildrop still locked.
func (s *session) update() error {
	var removeErr error
	indexes := s.removals()
	if len(indexes) > s.drop.nMarked {
		// EXPIRE removes messages the client did not delete: the last of
		// what it retrieved must be on its way before they go, else a
		// client that pipelined RETR and QUIT and then lost the
		// connection would lose them.
		if err := s.c.flush(); err != nil {
			return endSession(EndError, nil, err)
		}
	}
	if indexes != nil {
		if removeErr = s.drop.box.Delete(s.ctx, indexes); removeErr == nil {
			s.counts.removed = len(indexes)
		}
	}
	s.closeMailbox()
	if removeErr != nil {
		s.logger().Error("pop3: removing messages failed", "err", removeErr)
		reply := &Error{Code: CodeSysTemp, Text: "some deleted messages not removed"}
		var e *Error
		if errors.As(removeErr, &e) {
			if e.Code != "" {
				reply.Code = e.Code
			}
			if e.Text != "" {
				reply.Text += ": " + e.Text
			}
		}
		return endSession(EndQuit, reply, removeErr)
	}
	left := s.drop.count() - s.counts.removed
	format := "bye, %d messages left"
	if left == 1 {
		format = "bye, %d message left"
	}
	if err := s.replyOK(fmt.Sprintf(format, left)); err != nil {
		return err
	}
	return endQuit
}

// closeMailbox releases the maildrop once, whether UPDATE or finish gets
// there first. It is the one backend call made outside a handler, so it
// recovers its own panic.
func (s *session) closeMailbox() {
	if s.drop == nil || s.drop.box == nil {
		return
	}
	box := s.drop.box
	s.drop.box = nil
	defer s.recoverPanic("Mailbox.Close", nil)
	if err := box.Close(); err != nil {
		s.logger().Error("pop3: closing the maildrop failed", "err", err)
	}
}

// removals lists the messages that UPDATE removes (RFC 1939 §6): those
// marked by DELE and, under the session's EXPIRE (RFC 2449 §6.7), with
// EXPIRE 0 every message retrieved in the session, as if deleted, and
// with EXPIRE n every message first retrieved more than n days ago. For
// EXPIRE n it first records the session's retrievals of the messages it
// keeps. It returns nil when nothing is removed.
func (s *session) removals() []int {
	days, ok := s.expire.Days()
	switch {
	case !ok:
		return s.drop.markedIndexes()
	case days == 0:
		return s.drop.indexes(func(i int) bool { return s.drop.isMarked(i) || s.drop.wasRetrieved(i) })
	}
	box := s.drop.box.(RetrievalMailbox) // login checked it
	now := s.srv.now()
	cutoff := now.Add(-s.expire.retention())
	expired := func(i int) bool {
		t := box.FirstRetrieved(i)
		return !t.IsZero() && t.Before(cutoff)
	}
	remove := s.drop.indexes(func(i int) bool { return s.drop.isMarked(i) || expired(i) })
	keep := s.drop.indexes(func(i int) bool { return s.drop.wasRetrieved(i) && !s.drop.isMarked(i) && !expired(i) })
	if keep != nil {
		if err := box.Retrieved(s.ctx, keep, now); err != nil {
			// The messages are then kept longer, never removed sooner.
			s.logger().Warn("pop3: recording retrievals for EXPIRE failed", "err", err)
		}
	}
	if n := len(remove) - s.drop.nMarked; n > 0 {
		s.logger().Info("pop3: removing expired messages", "count", n, "expire_days", days,
			"retention", s.expire.retention().Round(time.Hour))
	}
	return remove
}
