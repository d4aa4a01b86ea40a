package pop3

import (
	"context"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listing is a Mailbox that only lists.
type listing []MessageInfo

func (l listing) Messages() []MessageInfo                             { return l }
func (l listing) Message(context.Context, int) (io.ReadCloser, error) { return nil, errors.New("no") }
func (l listing) Delete(context.Context, []int) error                 { return nil }
func (l listing) Close() error                                        { return nil }

func newTestMaildrop(t *testing.T, sizes ...int64) *maildrop {
	t.Helper()
	var l listing
	for i, size := range sizes {
		l = append(l, MessageInfo{Size: size, UID: "u" + string(rune('a'+i))})
	}
	m := &maildrop{box: l}
	require.False(t, m.load())
	return m
}

// Numbering, marks, STAT, RSET and LAST of RFC 1939 §5 and RFC 1460,
// without a socket.
func TestMaildropMarksAndStat(t *testing.T) {
	m := newTestMaildrop(t, 100, 200, 300)
	n, size := m.stat()
	assert.Equal(t, 3, n)
	assert.Equal(t, int64(600), size)

	i, err := m.lookup("2")
	require.NoError(t, err)
	assert.Equal(t, 1, i, "message numbers are 1-based, indexes 0-based")
	m.mark(i)
	n, size = m.stat()
	assert.Equal(t, 2, n, "a marked message leaves STAT")
	assert.Equal(t, int64(400), size)
	assert.Equal(t, 3, m.count(), "but keeps its number: the others are not renumbered")
	assert.Equal(t, 2, m.last)
	assert.Equal(t, []int{1}, m.markedIndexes())

	_, err = m.lookup("2")
	assert.EqualError(t, err, "message 2 already deleted")

	m.access(0)
	assert.Equal(t, 2, m.last, "LAST is the highest number accessed")

	m.reset()
	n, size = m.stat()
	assert.Equal(t, 3, n)
	assert.Equal(t, int64(600), size)
	assert.Zero(t, m.last, "RSET sets LAST back to 0 (RFC 1460)")
	assert.Nil(t, m.markedIndexes())
}

// seenListing is a listing whose messages an earlier session retrieved
// where seen says so.
type seenListing struct {
	listing
	seen []bool
}

func (l seenListing) Seen(i int) bool { return l.seen[i] }

// LAST starts from the highest message an earlier session retrieved
// (RFC 1460: "during this or any previous session"), and RSET sets it
// back to 0, as qpopper does.
func TestMaildropLastFromEarlierSessions(t *testing.T) {
	l := seenListing{listing: listing{{Size: 1, UID: "a"}, {Size: 2, UID: "b"}, {Size: 3, UID: "c"}, {Size: 4, UID: "d"}}, seen: []bool{true, false, true, false}}
	m := &maildrop{box: l}
	require.False(t, m.load())
	assert.Equal(t, 3, m.last)
	m.access(1)
	assert.Equal(t, 3, m.last, "a lower message accessed leaves it")
	m.access(3)
	assert.Equal(t, 4, m.last)
	m.reset()
	assert.Zero(t, m.last)

	none := &maildrop{box: seenListing{listing: listing{{Size: 1, UID: "a"}}, seen: []bool{false}}}
	require.False(t, none.load())
	assert.Zero(t, none.last)
}

func TestMaildropLookup(t *testing.T) {
	m := newTestMaildrop(t, 1, 2)
	for _, tc := range []struct {
		arg, err string
		syntax   bool
	}{
		{"0", "no such message, only 2 in maildrop", false},
		{"3", "no such message, only 2 in maildrop", false},
		{"99999999999999999999", "no such message, only 2 in maildrop", false},
		{"-1", "invalid message number: -1", true},
		{"1x", "invalid message number: 1x", true},
		{"", "invalid message number: ", true},
		{"+1", "invalid message number: +1", true},
	} {
		_, err := m.lookup(tc.arg)
		require.Error(t, err, tc.arg)
		assert.Equal(t, tc.err, err.Error(), tc.arg)
		var se syntaxError
		assert.Equal(t, tc.syntax, errors.As(err, &se), "%q is a syntax error", tc.arg)
	}
	i, err := m.lookup("01")
	require.NoError(t, err)
	assert.Zero(t, i)
}

// Invalid unique-ids are repaired on a copy: the backend's slice is not
// touched.
func TestMaildropRepairsUIDs(t *testing.T) {
	l := listing{{Size: 1, UID: "ok"}, {Size: 1, UID: ""}, {Size: 1, UID: "has space"}, {Size: 1, UID: strings.Repeat("x", 80)}}
	m := &maildrop{box: l}
	assert.True(t, m.load())
	assert.Equal(t, "ok", m.info(0).UID)
	assert.Equal(t, "_2", m.info(1).UID)
	assert.Equal(t, "has_space", m.info(2).UID)
	assert.Len(t, m.info(3).UID, 70)
	assert.Equal(t, "has space", l[2].UID, "the backend's listing is unchanged")
}
func TestParseNumber(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		isOK bool
	}{
		{"1", 1, true}, {"0", 0, true}, {"007", 7, true}, {"2147483647", 2147483647, true},
		{"2147483648", math.MaxInt32, true}, {"123456789012345678901234567890", math.MaxInt32, true},
		{"", 0, false}, {"-1", 0, false}, {"+1", 0, false}, {"1a", 0, false}, {" 1", 0, false}, {"１", 0, false},
	} {
		n, ok := parseNumber(tc.in)
		assert.Equal(t, tc.isOK, ok, tc.in)
		if tc.isOK {
			assert.Equal(t, tc.n, n, tc.in)
		}
	}
}
