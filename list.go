package pop3

import (
	"strconv"

	"github.com/gopop3/pop3/internal/wire"
)

// cmdStat handles STAT (RFC 1939 §5). Its size is the stored one, even
// for a client that gets messages downgraded: RFC 6856 §2.1 asks only
// LIST to match what RETR sends, and STAT must not read every message.
func (s *session) cmdStat([]string) error {
	n, size := s.drop.stat()
	var buf [48]byte
	return s.writeStatusBytes(appendPair(buf[:0], int64(n), " ", size, ""))
}

// appendPair appends a, sep, c and suffix: a reply text with two numbers,
// made without allocating.
func appendPair(b []byte, a int64, sep string, c int64, suffix string) []byte {
	b = strconv.AppendInt(b, a, 10)
	b = append(b, sep...)
	b = strconv.AppendInt(b, c, 10)
	return append(b, suffix...)
}

// cmdList handles LIST and LIST n (RFC 1939 §5).
func (s *session) cmdList(args []string) error {
	if len(args) == 1 {
		i, err := s.drop.lookup(args[0])
		if err != nil {
			return err
		}
		size, err := s.listedSize(i)
		if err != nil {
			return err
		}
		var buf [48]byte
		return s.writeStatusBytes(appendPair(buf[:0], int64(i+1), " ", size, ""))
	}
	n, size := s.drop.stat()
	if s.downgrading() {
		// Every size before the +OK, which no error may follow.
		for i := range s.drop.count() {
			if s.drop.isMarked(i) {
				continue
			}
			d, err := s.sizeDelta(i)
			if err != nil {
				return err
			}
			size += d
		}
	}
	var buf [64]byte
	if err := s.replyOKBytes(appendPair(buf[:0], int64(n), messagesOpen(n), size, " octets)")); err != nil {
		return err
	}
	return s.writeListing(false)
}

// cmdUidl handles UIDL and UIDL n (RFC 1939 §7).
func (s *session) cmdUidl(args []string) error {
	if len(args) == 1 {
		i, err := s.drop.lookup(args[0])
		if err != nil {
			return err
		}
		var buf [96]byte
		b := strconv.AppendInt(buf[:0], int64(i+1), 10)
		return s.writeStatusBytes(append(append(b, ' '), s.drop.info(i).UID...))
	}
	if err := s.replyOK("unique-id listing follows"); err != nil {
		return err
	}
	return s.writeListing(true)
}

// writeListing writes "n size", or "n unique-id" with uids, for every
// message not marked for deletion, then the terminator (LIST and UIDL, RFC
// 1939 §5 and §7).
func (s *session) writeListing(uids bool) error {
	var buf [128]byte
	for i := range s.drop.count() {
		if s.drop.isMarked(i) {
			continue
		}
		b := strconv.AppendInt(buf[:0], int64(i+1), 10)
		b = append(b, ' ')
		if info := s.drop.info(i); uids {
			b = append(b, info.UID...)
		} else {
			size := info.Size
			if s.downgrading() {
				if d, ok := s.knownDelta(i); ok {
					size += d
				}
			}
			b = strconv.AppendInt(b, size, 10)
		}
		b = append(b, '\r', '\n')
		if _, err := s.c.out.Write(b); err != nil {
			return err
		}
	}
	_, err := s.c.out.Write(wire.Terminator)
	return err
}

// replyMaildrop answers a login or RSET with what the maildrop holds.
func (s *session) replyMaildrop() error {
	n, size := s.drop.stat()
	var buf [80]byte
	b := append(buf[:0], "maildrop has "...)
	return s.replyOKBytes(appendPair(b, int64(n), messagesOpen(n), size, " octets)"))
}

// messagesOpen is the noun after a count of n messages, and the
// parenthesis that opens their size.
func messagesOpen(n int) string {
	if n == 1 {
		return " message ("
	}
	return " messages ("
}
