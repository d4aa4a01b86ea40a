package pop3

import (
	"math"
	"slices"
	"strconv"
)

// maildrop is a session's view of an open Mailbox (RFC 1939 §5): the
// snapshot taken at login, message numbers, deletion marks, LAST (RFC 1460)
// and the sizes STAT reports. It knows nothing of the connection, so the
// numbering rules are tested without a socket. Message numbers are 1-based
// on the wire; every method here takes and returns 0-based indexes.
type maildrop struct {
	box      Mailbox // nil once closed
	msgs     []MessageInfo
	marked   []bool // marked for deletion by DELE, undone by RSET
	nMarked  int    // messages marked now
	markSize int64  // their total size
	size     int64  // of the whole snapshot, marked messages included
	last     int    // LAST: the highest message number accessed, 0 for none (see SeenMailbox)
	// deltas holds, per message, the octets downgrading adds (RFC 6858),
	// unknownDelta until known; nil until the first is needed.
	deltas []int64
	// retrieved marks the messages RETR sent whole, for EXPIRE; nil
	// until the first. RSET clears it, as it clears the marks.
	retrieved []bool

	// repaired is set when some unique-id was invalid and replaced (see
	// repairUIDs): such a one may not name the same message everywhere.
	repaired bool

	// sizeMismatchLogged is set once a RETR has sent a size other than
	// the listed one, so that a broken backend is logged once per
	// maildrop rather than once per message.
	sizeMismatchLogged bool
	// downgradedMismatchLogged is the same for a listed DowngradedSize
	// that reading the message contradicts.
	downgradedMismatchLogged bool
}

// load takes the box's snapshot. repaired reports that some unique-ids
// were invalid and had to be replaced (see repairUIDs).
func (m *maildrop) load() (repaired bool) {
	m.msgs, repaired = repairUIDs(m.box.Messages())
	m.repaired = repaired
	m.marked = make([]bool, len(m.msgs))
	for _, info := range m.msgs {
		m.size += info.Size
	}
	if seen, ok := m.box.(SeenMailbox); ok {
		for i := len(m.msgs) - 1; i >= 0; i-- {
			if seen.Seen(i) {
				m.last = i + 1
				break
			}
		}
	}
	return repaired
}

// count is the number of messages in the snapshot, marked ones included:
// the highest valid message number.
func (m *maildrop) count() int { return len(m.msgs) }

// stat is what STAT reports (RFC 1939 §5): the messages not marked for
// deletion and their total size.
func (m *maildrop) stat() (n int, size int64) {
	return len(m.msgs) - m.nMarked, m.size - m.markSize
}

// info describes message i.
func (m *maildrop) info(i int) MessageInfo { return m.msgs[i] }

// isMarked reports whether message i is marked for deletion.
func (m *maildrop) isMarked(i int) bool { return m.marked[i] }

// lookup resolves a message-number argument to the index of a message
// that is not marked for deletion. Its errors are the -ERR replies.
func (m *maildrop) lookup(arg string) (int, error) {
	n, ok := parseNumber(arg)
	if !ok {
		return 0, syntaxError("invalid message number: " + shorten(arg, 40))
	}
	if n < 1 || n > len(m.msgs) {
		return 0, &Error{Text: "no such message, only " + strconv.Itoa(len(m.msgs)) + " in maildrop"}
	}
	if m.marked[n-1] {
		return 0, &Error{Text: "message " + strconv.Itoa(n) + " already deleted"}
	}
	return n - 1, nil
}

// access records that RETR or DELE touched message i, for LAST.
func (m *maildrop) access(i int) { m.last = max(m.last, i+1) }

// mark marks message i for deletion (DELE); it must not be marked yet.
func (m *maildrop) mark(i int) {
	m.marked[i] = true
	m.nMarked++
	m.markSize += m.msgs[i].Size
	m.access(i)
}

// delta is what downgrading adds to message i, or unknownDelta.
func (m *maildrop) delta(i int) int64 {
	if m.deltas == nil {
		return unknownDelta
	}
	return m.deltas[i]
}

func (m *maildrop) setDelta(i int, d int64) {
	if m.deltas == nil {
		m.deltas = make([]int64, len(m.msgs))
		for j := range m.deltas {
			m.deltas[j] = unknownDelta
		}
	}
	m.deltas[i] = d
}

// retrieve records that RETR sent message i whole, for EXPIRE.
func (m *maildrop) retrieve(i int) {
	if m.retrieved == nil {
		m.retrieved = make([]bool, len(m.msgs))
	}
	m.retrieved[i] = true
}

// wasRetrieved reports whether RETR sent message i whole since login or
// the last RSET.
func (m *maildrop) wasRetrieved(i int) bool { return m.retrieved != nil && m.retrieved[i] }

// reset removes every mark and sets LAST back to 0 (RSET, RFC 1939 §5 and
// RFC 1460). It forgets the retrievals too, so that under EXPIRE 0 RSET
// undoes their implicit deletion (RFC 2449 §6.7).
func (m *maildrop) reset() {
	clear(m.marked)
	clear(m.retrieved)
	m.nMarked, m.markSize, m.last = 0, 0, 0
}

// markedIndexes lists the marked messages in ascending order, as
// Mailbox.Delete takes them; nil when none is marked.
func (m *maildrop) markedIndexes() []int {
	if m.nMarked == 0 {
		return nil
	}
	return m.indexes(m.isMarked)
}

// indexes lists, in ascending order, the messages for which keep is true;
// nil for none.
func (m *maildrop) indexes(keep func(i int) bool) []int {
	var indexes []int
	for i := range m.msgs {
		if keep(i) {
			indexes = append(indexes, i)
		}
	}
	return indexes
}

// repairUIDs returns msgs with every unique-id that would break the UIDL
// framing or RFC 1939 §7 (1 to 70 octets of 0x21 to 0x7E) replaced: a
// backend bug, which the caller logs, and which must not take the session
// down with it. The backend's slice is copied before any change.
func repairUIDs(msgs []MessageInfo) ([]MessageInfo, bool) {
	if !slices.ContainsFunc(msgs, func(m MessageInfo) bool { return !ValidUID(m.UID) }) {
		return msgs, false
	}
	msgs = slices.Clone(msgs)
	for i, m := range msgs {
		if ValidUID(m.UID) {
			continue
		}
		uid := []byte(m.UID)
		for j, c := range uid {
			if c < 0x21 || c > 0x7e {
				uid[j] = '_'
			}
		}
		uid = uid[:min(len(uid), 70)]
		if len(uid) == 0 {
			uid = []byte("_" + strconv.Itoa(i+1))
		}
		msgs[i].UID = string(uid)
	}
	return msgs, true
}

// parseNumber parses a decimal argument without sign (RFC 1939 §3). Values
// past the int32 range saturate, which every caller treats as "too large".
func parseNumber(arg string) (int, bool) {
	if arg == "" {
		return 0, false
	}
	var n int64 // not int: the arithmetic must not overflow where int has 32 bits
	for i := 0; i < len(arg); i++ {
		c := arg[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n <= math.MaxInt32 {
			n = n*10 + int64(c-'0')
		}
	}
	return int(min(n, math.MaxInt32)), true
}
