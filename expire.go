package pop3

import "time"

// removesRetrieved reports whether e is a number of days, under which the
// session must note what RETR sent.
func (e Expire) removesRetrieved() bool { return e.kind == expireDays }

// expiresRetrieved reports whether e removes messages some time after
// their retrieval (EXPIRE n, n > 0), which needs a RetrievalMailbox.
func (e Expire) expiresRetrieved() bool { return e.kind == expireDays && e.days > 0 }

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
