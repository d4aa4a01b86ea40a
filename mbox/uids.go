package mbox

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/gopop3/pop3"
)

// Dovecot keeps an mbox's UIDs in the file: the first message's
// "X-IMAPbase: <uidvalidity> <last uid>" header (or the pseudo message's
// X-IMAP) and each message's "X-UID: <uid>". Its sync (mbox-sync.c,
// mbox-sync-parse.c) reads the messages in file order with a next_uid that
// starts at 1 (a new index), or at X-IMAPbase's last UID + 1, and takes an
// X-UID only when it is after the message's X-IMAPbase (for the first
// message), at most next_uid (next_uid itself moves next_uid on: larger
// ones may come from untrusted mail), and above the UID of the message
// before. A message without a valid X-UID gets next_uid, and next_uid
// moves on. Reading the file as Dovecot does with a new index gives the
// UIDs that Dovecot shows, and writes, for the same file.
//
// One case differs: an X-UID larger than next_uid that messages without a
// valid X-UID follow. A Dovecot POP3 session syncs twice before it lists,
// and its mbox_lazy_writes has not written the first sync's UIDs when the
// second one runs: by then next_uid has grown, the second sync takes the
// X-UID, and its index loses messages (for X-UIDs 1, 6, 9, none, 8 under
// "X-IMAPbase: v 5" it lists 1, 6, 9 and not the last two, then writes 1,
// 6, 9, 10, 11). Here the X-UID is broken, as in Dovecot's first sync:
// 1, 6, 7, 8, 9. Once either server has written its X-UIDs, the other
// takes them as they are.

// uidState is Dovecot's sync state for UIDs as the parser reads a spool.
type uidState struct {
	next uint32 // Dovecot's next_uid, counting the UIDs that messages without one will get
	prev uint32 // the UID of the message before (prev_msg_uid)
}

// base takes a valid X-IMAPbase (or X-IMAP) with its last UID.
func (u *uidState) base(last uint32) {
	if u.next-1 <= last {
		u.next = last + 1
	}
}

// xUID takes a message's X-UID header value v as parse_x_uid does: the
// first valid one counts, and the others are broken.
func (u *uidState) xUID(seq int, seenBase bool, m *message, v []byte) {
	if m.uid != 0 {
		return // a duplicate
	}
	value, i := uint32(0), 0
	for ; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
		value = value*10 + uint32(v[i]-'0') // wrapping, as Dovecot's uint32_t does
	}
	if !allLWSP(v[i:]) {
		return
	}
	if seq == 1 && !seenBase {
		return // an X-UID before X-IMAPbase in the first message
	}
	if value == u.next {
		u.next++
	} else if value > u.next {
		return // larger than expected: maybe from untrusted mail
	}
	if value <= u.prev {
		return // UIDs must grow
	}
	m.uid = value
}

// endMessage gives a message without a valid X-UID the next UID, for the
// state only: assignUIDs gives it to the message.
func (u *uidState) endMessage(m *message, pseudo bool) {
	uid := m.uid
	if uid == 0 && !pseudo && u.next != math.MaxUint32 {
		uid = u.next
		u.next++
	}
	u.prev = uid
}

// parseIMAPBase reads the value of an X-IMAPbase or X-IMAP header as
// parse_x_imap_base does: "<uidvalidity> <last uid> [keywords]", the
// UIDVALIDITY not 0 and followed by a space. A last UID of 4294967295,
// which Dovecot cannot go on from, is taken as broken.
func parseIMAPBase(v []byte) (validity, last uint32, ok bool) {
	i := 0
	for ; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			if v[i] != ' ' {
				return 0, 0, false
			}
			break
		}
		validity = validity*10 + uint32(v[i]-'0')
	}
	if validity == 0 {
		return 0, 0, false
	}
	for i < len(v) && isLWSPLF(v[i]) {
		i++
	}
	for ; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			if !isLWSPLF(v[i]) {
				return 0, 0, false
			}
			break
		}
		last = last*10 + uint32(v[i]-'0')
	}
	if last == math.MaxUint32 {
		return 0, 0, false
	}
	return validity, last, true
}

// parseContentLength reads a Content-Length value as parse_content_length
// does: digits, then nothing but blanks and line feeds.
func parseContentLength(v []byte) (uint64, bool) {
	var n uint64
	i := 0
	for ; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
		n = n*10 + uint64(v[i]-'0')
	}
	return n, allLWSP(v[i:])
}

// isLWSPLF is Dovecot's IS_LWSP_LF: a blank or a line feed.
func isLWSPLF(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }

// allLWSP reports whether b holds nothing but blanks and line feeds.
func allLWSP(b []byte) bool {
	for _, c := range b {
		if !isLWSPLF(c) {
			return false
		}
	}
	return true
}

// assignUIDs gives each message without a valid X-UID the next UID, as
// Dovecot's mbox sync does, and sets uidValidity (from now when it is 0)
// and nextUID. It returns the indexes of the messages that got a new UID,
// whose X-UID headers, and X-IMAPbase on the first message, the store
// writes when it rewrites the spool.
//
// When the UIDs run out (a message would get 4294967295), every message is
// given a new one from 1, under a new UIDVALIDITY, as Dovecot then
// renumbers the mbox.
func assignUIDs(s *spool, now time.Time) (assigned []int) {
	if s.uidValidity == 0 {
		s.uidValidity = validityAt(now)
	}
	next := max(s.nextUID, 1)
	if s.pseudo != nil && s.pseudo.uid >= next {
		next = s.pseudo.uid + 1
	}
	for i := range s.msgs {
		m := &s.msgs[i]
		if m.uid != 0 {
			next = max(next, m.uid+1)
			continue
		}
		if next == math.MaxUint32 {
			return renumber(s, now)
		}
		m.uid = next
		next++
		assigned = append(assigned, i)
	}
	s.nextUID = next
	return assigned
}

// renumber gives every message a new UID from 1, under a new UIDVALIDITY.
func renumber(s *spool, now time.Time) []int {
	old := s.uidValidity
	s.uidValidity = validityAt(now)
	if s.uidValidity == old {
		s.uidValidity++
		if s.uidValidity == 0 {
			s.uidValidity = 1
		}
	}
	assigned := make([]int, len(s.msgs))
	for i := range s.msgs {
		s.msgs[i].uid = uint32(i + 1)
		assigned[i] = i
	}
	s.nextUID = uint32(len(s.msgs) + 1)
	return assigned
}

// validityAt is a new UIDVALIDITY, as Dovecot makes one: the time, at
// least 1.
func validityAt(now time.Time) uint32 {
	return uint32(max(min(now.Unix(), math.MaxUint32), 1))
}

// uidls returns each message's unique-id: with xuidl, its X-UIDL header
// when that is valid (pop3.ValidUID) and no message before it has the
// same one, else Dovecot's default pop3_uidl_format %08Xu%08Xv of its UID
// and the UIDVALIDITY (which assignUIDs must have set). X-UIDLs are taken
// first, so that a message keeps the unique-id that clients know; a
// computed one that is already taken gets "-2", "-3", ... appended.
func uidls(s *spool, xuidl bool) []string {
	ids := make([]string, len(s.msgs))
	taken := make(map[string]bool, len(s.msgs))
	for i := range s.msgs {
		if x := s.msgs[i].xuidl; xuidl && pop3.ValidUID(x) && !taken[x] {
			ids[i] = x
			taken[x] = true
		}
	}
	for i := range s.msgs {
		if ids[i] != "" {
			continue
		}
		u := defaultUIDL(s.msgs[i].uid, s.uidValidity)
		for n := 2; taken[u]; n++ {
			u = defaultUIDL(s.msgs[i].uid, s.uidValidity) + "-" + strconv.Itoa(n)
		}
		ids[i] = u
		taken[u] = true
	}
	return ids
}

// defaultUIDL is Dovecot 2.3's default pop3_uidl_format, %08Xu%08Xv, as
// it writes it: lower-case hex.
func defaultUIDL(uid, uidValidity uint32) string {
	return fmt.Sprintf("%08x%08x", uid, uidValidity)
}
