package maildir

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
)

func TestParseDowngraded(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *downgradedSizes
		err  string
	}{
		{"pop3-downgraded-sizes 1 7\n", &downgradedSizes{7, nil, map[uint32]int64{}}, ""},
		{"pop3-downgraded-sizes 1 7\n1-4\n5 120\n9\n10-10\n", &downgradedSizes{7,
			[]uidRange{{1, 4}, {9, 9}, {10, 10}}, map[uint32]int64{5: 120}}, ""},
		{"pop3-downgraded-sizes 1 7", &downgradedSizes{7, nil, map[uint32]int64{}}, ""},
		{"pop3-downgraded-sizes 2 7\n", nil, "unknown header"},
		{"pop3-downgraded-sizes 1 7 10\n", nil, "bad header"},
		{"pop3-downgraded-sizes 1 x\n", nil, "bad header"},
		{"pop3-downgraded-sizes 1 7\n0 5\n", nil, "bad record"},
		{"pop3-downgraded-sizes 1 7\n3 -5\n", nil, "bad record"},
		{"pop3-downgraded-sizes 1 7\n3 x\n", nil, "bad record"},
		{"pop3-downgraded-sizes 1 7\n5-3\n", nil, "bad record"},
		{"pop3-downgraded-sizes 1 7\n3-5 9\n", nil, "bad record"},
		{"pop3-downgraded-sizes 1 7\n3-5\n5\n", nil, "bad record"},
		{"pop3-downgraded-sizes 1 7\n4 9\n2\n", nil, "bad record"},
		{"pop3-downgraded-sizes 1 7\n\n", nil, "bad record"},
		{"", nil, "unknown header"},
	} {
		got, err := parseDowngraded([]byte(tc.in))
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, "%q", tc.in)
			continue
		}
		require.NoError(t, err, "%q", tc.in)
		assert.Equal(t, tc.want, got, "%q", tc.in)
	}
}

// The file holds runs of UIDs whose headers are ASCII, and the others one
// by one; known finds each, and nothing else.
func TestDowngradedSizesKnown(t *testing.T) {
	d := &downgradedSizes{uidValidity: 7, sizes: map[uint32]int64{}}
	sizes := map[uint32]int64{1: 10, 2: 10, 3: 30, 4: 10, 6: 10, 7: 10, 8: 10}
	for _, uid := range []uint32{1, 2, 3, 4, 6, 7, 8} {
		n := sizes[uid]
		d.add(uid, 10, n)
	}
	assert.Equal(t, "pop3-downgraded-sizes 1 7\n1-2\n3 30\n4\n6-8\n", string(d.marshal()))
	again, err := parseDowngraded(d.marshal())
	require.NoError(t, err)
	for uid := uint32(0); uid <= 9; uid++ {
		n, ok := again.known(&message{uid: uid, uidValidity: 7, size: 10})
		want, listed := sizes[uid]
		assert.Equal(t, listed, ok, "uid %d", uid)
		if listed {
			assert.Equal(t, want, n, "uid %d", uid)
		}
	}
	_, ok := again.known(&message{uid: 1, uidValidity: 8, size: 10})
	assert.False(t, ok, "another UIDVALIDITY")
}

// FuzzParseDowngraded: the parser refuses or accepts any input without
// panicking, and what it accepts marshals back to what it reads the same.
func FuzzParseDowngraded(f *testing.F) {
	f.Add([]byte("pop3-downgraded-sizes 1 7\n1-4\n5 120\n9\n"))
	f.Add([]byte("pop3-downgraded-sizes 1 4294967295\n1-4294967295\n"))
	f.Add([]byte("pop3-downgraded-sizes 1 7\n3 99999999999999999999\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := parseDowngraded(data)
		if err != nil {
			return
		}
		again, err := parseDowngraded(d.marshal())
		require.NoError(t, err)
		require.Equal(t, d, again)
	})
}

// headerTap keeps enough of a message for DowngradedSize, however the
// message is split into writes.
func TestHeaderTap(t *testing.T) {
	long := strings.Repeat("X-Filler: "+strings.Repeat("z", 88)+"\r\n", 3000)
	for _, msg := range []string{
		"Subject: Grüße\r\n\r\nbody\r\n",
		"Subject: plain\r\n\r\nbody\r\n",
		"\r\nno header\r\n",
		"Subject: no body\r\n",
		"",
		long + "Subject: Grüße\r\n\r\nbody\r\n",
		"Subject: Grüße\r\n" + long + "\r\nbody\r\n",
	} {
		want, err := pop3.DowngradedSize(strings.NewReader(msg), int64(len(msg)))
		require.NoError(t, err)
		for _, r := range []io.Reader{strings.NewReader(msg), iotest.OneByteReader(strings.NewReader(msg)), iotest.HalfReader(strings.NewReader(msg))} {
			var tap headerTap
			_, err := io.Copy(io.Discard, io.TeeReader(r, &tap))
			require.NoError(t, err)
			got, err := pop3.DowngradedSize(bytes.NewReader(tap.buf), int64(len(msg)))
			require.NoError(t, err)
			assert.Equal(t, want, got, "%.40q", msg)
			assert.LessOrEqual(t, len(tap.buf), 256<<10+1, "bounded")
		}
	}
}
