package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeLog records each write it is given.
type writeLog struct {
	writes []int
	data   bytes.Buffer
	err    error // returned by every write once set
}

func (w *writeLog) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	w.writes = append(w.writes, len(p))
	return w.data.Write(p)
}

func TestOutBufferClasses(t *testing.T) {
	var w writeLog
	b := OutBuffer{w: &w}
	_, err := b.WriteString("+OK\r\n")
	require.NoError(t, err)
	assert.Equal(t, outClasses[0], cap(b.buf), "a status line takes the smallest buffer")

	_, err = b.Write(bytes.Repeat([]byte("x"), 5000))
	require.NoError(t, err)
	assert.Equal(t, outClasses[1], cap(b.buf), "a larger reply moves to a larger buffer")
	assert.Empty(t, w.writes, "moving writes nothing")
	assert.Equal(t, 5005, b.Buffered())

	require.NoError(t, b.Flush())
	assert.Equal(t, []int{5005}, w.writes, "one write for the whole")
	assert.Nil(t, b.buf, "an idle connection holds no output buffer")
	assert.Zero(t, b.Buffered())

	require.NoError(t, b.Flush())
	assert.Len(t, w.writes, 1, "no write for an empty buffer")
}

// Output larger than the largest buffer goes out in writes of at least
// half of it.
func TestOutBufferLargeOutput(t *testing.T) {
	var w writeLog
	b := OutBuffer{w: &w}
	want := strings.Repeat("0123456789", 200_000) // 2 MB
	for s := want; s != ""; {
		n := min(len(s), 70_000)
		_, err := b.WriteString(s[:n])
		require.NoError(t, err)
		s = s[n:]
	}
	require.NoError(t, b.Flush())
	assert.Equal(t, want, w.data.String())
	for i, n := range w.writes {
		assert.LessOrEqual(t, n, maxOutBuffer)
		if i < len(w.writes)-1 {
			assert.GreaterOrEqual(t, n, maxOutBuffer/2, "write %d", i)
		}
	}
}

func TestOutBufferWriteErrorSticks(t *testing.T) {
	boom := errors.New("boom")
	w := writeLog{err: boom}
	b := OutBuffer{w: &w}
	_, err := b.WriteString("+OK\r\n")
	require.NoError(t, err, "nothing is written yet")
	require.ErrorIs(t, b.Flush(), boom)
	assert.Nil(t, b.buf, "the buffer is given back all the same")
	_, err = b.Write(make([]byte, maxOutBuffer*2))
	assert.ErrorIs(t, err, boom)
	assert.ErrorIs(t, b.Flush(), boom)
}

// The dot writer fills the buffer it is given and makes the same bytes
// whatever the buffer's size when it starts.
func TestDotWriterAcrossBuffers(t *testing.T) {
	body := strings.Repeat(".dot\nline\r\n", 100_000)
	want := textprotoDot([]byte(body))
	for _, pending := range []int{0, 10, outClasses[0] - 1, outClasses[1] - 3, maxOutBuffer - 1} {
		var w writeLog
		out := OutBuffer{w: &w}
		_, err := out.Write(bytes.Repeat([]byte("-"), pending))
		require.NoError(t, err)
		d := DotWriter{out: &out}
		_, err = d.Stream(strings.NewReader(body))
		require.NoError(t, err)
		require.NoError(t, out.Flush())
		assert.Equal(t, string(want), w.data.String()[pending:], "after %d octets", pending)
	}
}

// Whatever is pending before it and however its source is read, a body
// goes through the output buffer as net/textproto's DotWriter writes it,
// in writes no larger than the largest buffer.
func FuzzOutBuffer(f *testing.F) {
	f.Add([]byte(".a\r\nb\nc\r\r\n"), uint16(800), uint16(3000), uint8(0))
	f.Add([]byte("line\n"), uint16(0), uint16(60000), uint8(3))
	f.Add([]byte("\r"), uint16(65535), uint16(1), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, pending, reps uint16, chunk uint8) {
		body := bytes.Repeat(in, int(reps)+1)
		if len(body) > 1<<20 {
			body = body[:1<<20]
		}
		var w writeLog
		out := OutBuffer{w: &w}
		prefix := bytes.Repeat([]byte("-"), int(pending)*5) // up to 320 KiB
		_, err := out.Write(prefix)
		require.NoError(t, err)
		d := DotWriter{out: &out}
		var r io.Reader = bytes.NewReader(body) // WriteTo
		if chunk > 0 {
			r = &chunkReader{r: r, n: int(chunk) * 97} // ReadFrom
		}
		n, err := d.Stream(r)
		require.NoError(t, err)
		require.NoError(t, out.Flush())
		got := w.data.Bytes()[len(prefix):]
		if len(body) > 0 {
			require.Equal(t, textprotoDot(body), got)
		} else {
			require.Equal(t, ".\r\n", string(got))
		}
		require.Equal(t, unstuffedSize(got), n)
		for _, size := range w.writes {
			require.LessOrEqual(t, size, maxOutBuffer)
		}
	})
}
