package wire

import (
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTopReader(t *testing.T) {
	const msg = "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n"
	for _, tc := range []struct {
		in    string
		lines int
		want  string
	}{
		{msg, 0, "A: 1\r\nB: 2\r\n\r\n"},
		{msg, 1, "A: 1\r\nB: 2\r\n\r\nl1\r\n"},
		{msg, 3, msg},
		{msg, math.MaxInt32, msg},
		{"A: 1\nB: 2\n\nl1\nl2\n", 1, "A: 1\nB: 2\n\nl1\n"},
		{"A: 1\r\nno body", 0, "A: 1\r\nno body"},
		{"A: 1\r\n\r\nlast line without end", 5, "A: 1\r\n\r\nlast line without end"},
		{"\r\nbody\r\n", 0, "\r\n"},
		{"", 3, ""},
	} {
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tc.in)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			got, err := io.ReadAll(NewTopReader(io.NopCloser(r), tc.lines))
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got), "%q lines=%d oneByte=%v", tc.in, tc.lines, oneByte)
		}
	}
}
