package pop3_test

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
)

// CRLFSize is what RETR sends, for every way of ending lines.
func TestCRLFSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"", 0},
		{"a\r\n", 3},
		{"a\n", 3},
		{"a", 3},
		{"a\nb\n", 6},
		{"a\r\nb", 6},
		{".\n..\n", 7},
		{"x\ry", 5},
		{"a\r", 3},
		{msgDots, int64(len(msgDots))},
		{msgLF, int64(len(msgLFasCRLF))},
	} {
		got, err := pop3.CRLFSize(strings.NewReader(tc.in))
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "%q", tc.in)
	}
	_, err := pop3.CRLFSize(iotest.ErrReader(io.ErrUnexpectedEOF))
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}
