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
		{"pop3-downgraded-sizes 1 7 1\n", &downgradedSizes{7, 1, map[uint32]int64{}}, ""},
		{"pop3-downgraded-sizes 1 7 10\n3 120\n9 -\n", &downgradedSizes{7, 10, map[uint32]int64{3: 120, 9: -1}}, ""},
		{"pop3-downgraded-sizes 1 7 10", &downgradedSizes{7, 10, map[uint32]int64{}}, ""},
		{"pop3-downgraded-sizes 2 7 10\n", nil, "unknown header"},
		{"pop3-downgraded-sizes 1 7\n", nil, "bad header"},
		{"pop3-downgraded-sizes 1 x 10\n", nil, "bad header"},
		{"pop3-downgraded-sizes 1 7 10\n10 5\n", nil, "bad record"},
		{"pop3-downgraded-sizes 1 7 10\n0 5\n", nil, "bad record"},
		{"pop3-downgraded-sizes 1 7 10\n3 -5\n", nil, "bad record"},
		{"pop3-downgraded-sizes 1 7 10\n3\n", nil, "bad record"},
		{"pop3-downgraded-sizes 1 7 10\n\n", nil, "bad record"},
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

// FuzzParseDowngraded: the parser refuses or accepts any input without
// panicking, and what it accepts marshals back to what it reads the same.
func FuzzParseDowngraded(f *testing.F) {
	f.Add([]byte("pop3-downgraded-sizes 1 7 10\n3 120\n9 -\n"))
	f.Add([]byte("pop3-downgraded-sizes 1 4294967295 4294967295\n"))
	f.Add([]byte("pop3-downgraded-sizes 1 7 10\n3 99999999999999999999\n"))
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
