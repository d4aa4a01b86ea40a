package wire

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCRLFReader(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"a", "a\r\n"},
		{"a\n", "a\r\n"},
		{"a\r\n", "a\r\n"},
		{"a\nb", "a\r\nb\r\n"},
		{".x\n..\n", ".x\r\n..\r\n"}, // never stuffed
		{"a\r", "a\r\n"},
		{"x\ry\n", "x\ry\r\n"},
		{"\n\n", "\r\n\r\n"},
		{strings.Repeat("line\n", 10000), strings.Repeat("line\r\n", 10000)},
	} {
		got, err := io.ReadAll(NewCRLFReader(strings.NewReader(tc.in)))
		require.NoError(t, err)
		assert.Equal(t, tc.want, string(got), "%q", tc.in)
		got, err = io.ReadAll(iotest.OneByteReader(NewCRLFReader(iotest.HalfReader(strings.NewReader(tc.in)))))
		require.NoError(t, err)
		assert.Equal(t, tc.want, string(got), "%q read in small pieces", tc.in)
	}
}

func TestCRLFReaderPassesErrorsOn(t *testing.T) {
	r := NewCRLFReader(io.MultiReader(strings.NewReader("a\n"), iotest.ErrReader(io.ErrUnexpectedEOF)))
	got, err := io.ReadAll(r)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, "a\r\n", string(got), "what was read before the error")
}

func TestNewTopReader(t *testing.T) {
	msg := "Subject: s\r\n\r\none\r\ntwo\r\nthree\r\n"
	got, err := io.ReadAll(NewTopReader(io.NopCloser(strings.NewReader(msg)), 2))
	require.NoError(t, err)
	assert.Equal(t, "Subject: s\r\n\r\none\r\ntwo\r\n", string(got))
}

// The reader yields what the dot writer sends, unstuffed, and exactly
// CRLFSize octets, in any chunking.
func FuzzCRLFReader(f *testing.F) {
	for _, c := range dotCases {
		f.Add([]byte(c), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		var src io.Reader = bytes.NewReader(in)
		if chunk > 0 {
			src = &chunkReader{r: src, n: int(chunk)}
		}
		got, err := io.ReadAll(NewCRLFReader(src))
		require.NoError(t, err)
		size, err := CRLFSize(bytes.NewReader(in))
		require.NoError(t, err)
		require.Equal(t, size, int64(len(got)))
		require.Equal(t, ourDot(t, bytes.NewReader(in)), ourDot(t, bytes.NewReader(got)),
			"the converted content is sent as the original is")
		require.Equal(t, ourDot(t, bytes.NewReader(got)), ourDot(t, NewCRLFReader(bytes.NewReader(in))),
			"a CRLF reader's source, stuffed directly, is sent as its output would be")
		if len(got) > 0 {
			require.True(t, bytes.HasSuffix(got, CRLF))
		}
	})
}

// closeRecorder is a reader that records its Close.
type closeRecorder struct {
	io.Reader
	closed int
}

func (c *closeRecorder) Close() error { c.closed++; return nil }

func TestCRLFReaderClose(t *testing.T) {
	src := &closeRecorder{Reader: strings.NewReader("a\nb\n")}
	r := NewCRLFReader(src)
	buf := make([]byte, 2)
	_, err := r.Read(buf)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	assert.Equal(t, 1, src.closed, "Close closes a source that is an io.Closer")
	_, err = r.Read(buf)
	assert.Error(t, err, "no read after Close")

	assert.NoError(t, NewCRLFReader(strings.NewReader("x")).Close(), "a source without Close")
}
