package wire

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteLine(t *testing.T) {
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	require.NoError(t, WriteStatus(bw, "-ERR", "bad\r\ntext"))
	require.NoError(t, WriteStatus(bw, "-ERR", strings.Repeat("x", 1000)))
	require.NoError(t, bw.Flush())
	lines := strings.SplitAfter(b.String(), "\r\n")
	assert.Equal(t, "-ERR bad  text\r\n", lines[0])
	assert.Len(t, lines[1], 512)
	assert.True(t, strings.HasSuffix(lines[1], "\r\n"))
}
