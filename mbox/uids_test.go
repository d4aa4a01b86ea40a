package mbox

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// spoolOf makes a spool of messages, each given as its header.
func spoolOf(headers ...string) string {
	var b strings.Builder
	for _, h := range headers {
		b.WriteString(fromLine + h + "\n\nbody\n\n")
	}
	return b.String()
}

// uidCase is a spool and the UIDs that Dovecot's mbox sync gives it.
type uidCase struct {
	name     string
	raw      string
	parsed   []uint32 // the valid X-UIDs
	uids     []uint32 // after assignUIDs
	assigned []int
	validity uint32
	next     uint32 // after assignUIDs
}

// uidCases are the UIDs that parseSpool takes from X-UID headers and that
// assignUIDs gives, as Dovecot's mbox sync does with a new index;
// TestParseSameAsDovecot checks them against Dovecot.
var uidCases = []uidCase{
	{
		name:   "none",
		raw:    spoolOf("Subject: a", "Subject: b"),
		parsed: []uint32{0, 0}, uids: []uint32{1, 2}, assigned: []int{0, 1},
		validity: 1800000000, next: 3,
	},
	{
		name:   "X-IMAPbase and valid X-UIDs",
		raw:    spoolOf("X-IMAPbase: 1000 0000000010\nX-UID: 3", "X-UID: 5", "Subject: new", "X-UID: 10"),
		parsed: []uint32{3, 5, 0, 0}, uids: []uint32{3, 5, 11, 12}, assigned: []int{2, 3},
		validity: 1000, next: 13,
	},
	{
		// A message without a valid X-UID takes the next UID at
		// once: later X-UIDs must be larger.
		name:   "the next UID is taken, larger ones are not",
		raw:    spoolOf("X-IMAPbase: 1000 0000000005\nX-UID: 1", "X-UID: 6", "Subject: new", "X-UID: 8", "X-UID: 12"),
		parsed: []uint32{1, 6, 0, 8, 0}, uids: []uint32{1, 6, 7, 8, 9}, assigned: []int{2, 4},
		validity: 1000, next: 10,
	},
	{
		name:   "X-UID before X-IMAPbase in the first message",
		raw:    spoolOf("X-UID: 1\nX-IMAPbase: 1000 0000000002", "X-UID: 4"),
		parsed: []uint32{0, 4}, uids: []uint32{3, 4}, assigned: []int{0},
		validity: 1000, next: 5,
	},
	{
		name:   "without X-IMAPbase, the first message's X-UID is not taken, later ones are",
		raw:    spoolOf("X-UID: 1", "X-UID: 2", "X-UID: 9", "X-UID: 4"),
		parsed: []uint32{0, 2, 0, 4}, uids: []uint32{1, 2, 3, 4}, assigned: []int{0, 2},
		validity: 1800000000, next: 5,
	},
	{
		name:   "UIDs must grow",
		raw:    spoolOf("X-IMAPbase: 1000 0000000010\nX-UID: 5", "X-UID: 5", "X-UID: 4", "X-UID: 6"),
		parsed: []uint32{5, 0, 0, 0}, uids: []uint32{5, 11, 12, 13}, assigned: []int{1, 2, 3},
		validity: 1000, next: 14,
	},
	{
		name:   "the first valid X-UID of a message counts",
		raw:    spoolOf("X-IMAPbase: 1000 0000000010\nX-UID: 1", "X-UID: 50\nX-UID: 2\nX-UID: 3", "X-UID: 4 \n \nX-UID: 1"),
		parsed: []uint32{1, 2, 4}, uids: []uint32{1, 2, 4},
		validity: 1000, next: 11,
	},
	{
		name: "broken values",
		// Each would be the next UID if it were valid.
		raw:    spoolOf("X-IMAPbase: 1000 0000000010\nX-UID: 1", "X-UID: 11x", "X-UID:  12", "X-UID: 13 x", "X-UID:", "X-UID: 0", "X-UID: 16\r"),
		parsed: []uint32{1, 0, 0, 0, 0, 0, 16}, uids: []uint32{1, 11, 12, 13, 14, 15, 16}, assigned: []int{1, 2, 3, 4, 5},
		validity: 1000, next: 17,
	},
	{
		name:   "values wrap as Dovecot's uint32_t",
		raw:    spoolOf("X-IMAPbase: 1000 0000000010\nX-UID: 1", "X-UID: 4294967298"),
		parsed: []uint32{1, 2}, uids: []uint32{1, 2},
		validity: 1000, next: 11,
	},
	{
		name:   "X-IMAPbase only in the first message, and only the first",
		raw:    spoolOf("X-IMAPbase: 1000 0000000003\nX-IMAPbase: 2000 0000000009", "X-IMAPbase: 3000 0000000020\nX-UID: 8"),
		parsed: []uint32{0, 0}, uids: []uint32{4, 5}, assigned: []int{0, 1},
		validity: 1000, next: 6,
	},
	{
		name:   "X-IMAPbase with keywords and blanks",
		raw:    spoolOf("X-IMAPbase: 1000  0000000003 $Junk NonJunk\nX-UID: 2", "X-UID: 3"),
		parsed: []uint32{2, 3}, uids: []uint32{2, 3},
		validity: 1000, next: 4,
	},
	{
		name:   "X-IMAPbase with a short last UID",
		raw:    spoolOf("X-IMAPbase: 1000 3\nX-UID: 2", "X-UID: 3"),
		parsed: []uint32{2, 3}, uids: []uint32{2, 3},
		validity: 1000, next: 4,
	},
	{
		name:   "broken X-IMAPbase",
		raw:    spoolOf("X-IMAPbase: 0 0000000003", "Subject: b"),
		parsed: []uint32{0, 0}, uids: []uint32{1, 2}, assigned: []int{0, 1},
		validity: 1800000000, next: 3,
	},
	{
		name:   "X-IMAPbase with a tab",
		raw:    spoolOf("X-IMAPbase: 1000\t0000000003", "Subject: b"),
		parsed: []uint32{0, 0}, uids: []uint32{1, 2}, assigned: []int{0, 1},
		validity: 1800000000, next: 3,
	},
	{
		name:   "the pseudo message's X-IMAP",
		raw:    spoolOf("X-IMAP: 1000 0000000007\nSubject: internal", "X-UID: 7", "Subject: new"),
		parsed: []uint32{7, 0}, uids: []uint32{7, 8}, assigned: []int{1},
		validity: 1000, next: 9,
	},
	{
		name:   "out of UIDs: every message gets a new one",
		raw:    spoolOf("X-IMAPbase: 1000 4294967293\nX-UID: 5", "Subject: b", "Subject: c"),
		parsed: []uint32{5, 0, 0}, uids: []uint32{1, 2, 3}, assigned: []int{0, 1, 2},
		validity: 1800000000, next: 4,
	},
}

// The UIDs of uidCases, at a time that gives the UIDVALIDITY of those that
// have none.
func TestUIDs(t *testing.T) {
	now := time.Unix(1800000000, 0)
	for _, tc := range uidCases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseString(t, tc.raw)
			require.NoError(t, err)
			require.Len(t, s.msgs, len(tc.parsed))
			for i, m := range s.msgs {
				assert.Equal(t, tc.parsed[i], m.uid, "message %d: X-UID", i+1)
			}
			assigned := assignUIDs(s, now)
			for i, m := range s.msgs {
				assert.Equal(t, tc.uids[i], m.uid, "message %d: UID", i+1)
			}
			assert.Equal(t, tc.assigned, assigned, "assigned")
			assert.Equal(t, tc.validity, s.uidValidity, "UIDVALIDITY")
			assert.Equal(t, tc.next, s.nextUID, "next UID")
			assert.Empty(t, assignUIDs(s, now), "a second time")
		})
	}
}

// A UIDVALIDITY is never 0, even from a clock before 1970.
func TestAssignUIDsValidity(t *testing.T) {
	s := &spool{msgs: make([]message, 1)}
	assignUIDs(s, time.Unix(-5, 0))
	assert.Equal(t, uint32(1), s.uidValidity)
	s = &spool{msgs: make([]message, 1)}
	assignUIDs(s, time.Unix(math.MaxUint32+10, 0))
	assert.Equal(t, uint32(math.MaxUint32), s.uidValidity)
	// Renumbering never keeps the UIDVALIDITY.
	s = &spool{uidValidity: 1800000000, nextUID: math.MaxUint32, msgs: make([]message, 2)}
	assignUIDs(s, time.Unix(1800000000, 0))
	assert.Equal(t, uint32(1800000001), s.uidValidity)
	assert.Equal(t, []uint32{1, 2}, []uint32{s.msgs[0].uid, s.msgs[1].uid})
}

func TestUIDLs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		uids  []uint32
		xuidl []string
		want  []string
	}{
		{
			name: "defaults", uids: []uint32{1, 2, 0xabcdef}, xuidl: []string{"", "", ""},
			want: []string{"0000000100000457", "0000000200000457", "00abcdef00000457"},
		},
		{
			name: "valid X-UIDLs", uids: []uint32{1, 2}, xuidl: []string{"qpopper-1", "9fa3c2e1b7"},
			want: []string{"qpopper-1", "9fa3c2e1b7"},
		},
		{
			name: "invalid X-UIDLs", uids: []uint32{1, 2, 3}, xuidl: []string{"has space", strings.Repeat("x", 71), "ctl\x01"},
			want: []string{"0000000100000457", "0000000200000457", "0000000300000457"},
		},
		{
			name: "the first of repeated X-UIDLs", uids: []uint32{1, 2, 3}, xuidl: []string{"same", "same", "other"},
			want: []string{"same", "0000000200000457", "other"},
		},
		{
			name: "an X-UIDL that is another message's default", uids: []uint32{1, 2}, xuidl: []string{"", "0000000100000457"},
			want: []string{"0000000100000457-2", "0000000100000457"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &spool{uidValidity: 0x457}
			for i := range tc.uids {
				s.msgs = append(s.msgs, message{uid: tc.uids[i], xuidl: tc.xuidl[i]})
			}
			assert.Equal(t, tc.want, uidls(s, true))
		})
	}
}
