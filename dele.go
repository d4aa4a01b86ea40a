package pop3

import "strconv"

// cmdDele handles DELE (RFC 1939 §5): it only marks the message; UPDATE
// removes it.
func (s *session) cmdDele(args []string) error {
	i, err := s.drop.lookup(args[0])
	if err != nil {
		return err
	}
	s.drop.mark(i)
	var buf [32]byte
	b := append(buf[:0], "message "...)
	return s.replyOKBytes(append(strconv.AppendInt(b, int64(i+1), 10), " deleted"...))
}

// cmdRset handles RSET (RFC 1939 §5): every mark is removed, and LAST is
// back to 0 (RFC 1460).
func (s *session) cmdRset([]string) error {
	s.drop.reset()
	return s.replyMaildrop()
}

// cmdLast handles LAST (RFC 1460 §5, dropped by RFC 1725): the highest
// message number accessed by RETR or DELE in this session, or retrieved by
// an earlier one when the mailbox is a SeenMailbox.
func (s *session) cmdLast([]string) error {
	var buf [24]byte
	return s.writeStatusBytes(strconv.AppendInt(buf[:0], int64(s.drop.last), 10))
}
