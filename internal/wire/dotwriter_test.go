package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/textproto"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// textprotoDot is the reference: net/textproto's DotWriter.
func textprotoDot(in []byte) []byte {
	var out bytes.Buffer
	w := textproto.NewWriter(bufio.NewWriter(&out))
	dw := w.DotWriter()
	_, _ = dw.Write(in)
	_ = dw.Close()
	return out.Bytes()
}

// ourDot runs writeDotStuffed, and checks that the size it returns is the
// content the client gets back: the output less the terminator and the
// stuffed dots.
func ourDot(t testing.TB, r io.Reader) []byte {
	var out bytes.Buffer
	n, err := writeDotStuffed(&out, r)
	require.NoError(t, err)
	assert.Equal(t, unstuffedSize(out.Bytes()), n, "content size of %q", out.String())
	return out.Bytes()
}

// unstuffedSize is the content size of a dot-stuffed body with its
// terminator.
func unstuffedSize(body []byte) int64 {
	lines := bytes.Split(bytes.TrimSuffix(body, Terminator), CRLF)
	stuffed := 0
	for _, l := range lines {
		if bytes.HasPrefix(l, []byte{'.'}) {
			stuffed++
		}
	}
	return int64(len(body) - len(Terminator) - stuffed)
}

var dotCases = []string{
	"a", ".", "..", "\n", "\r", "\r\n", "\r\r\n", "\r\r\r\n", "\n\n", ".\n.\n",
	"a\r\nb\r\n", "a\nb\n", "a\nb", "a\r", "a\r\r", "\r.", "\r\n.", "\n.x\n",
	".hidden\r\n..double\r\n.\r\n", "no end", "line\r\n\r\n.\r\n", "x\ry\r\n",
	"\r\r\r", "\r\n\r\r\n", ".\r\r\n.", strings.Repeat("a.b\r\n.", 1000),
}

func TestDotWriterMatchesTextproto(t *testing.T) {
	for _, in := range dotCases {
		assert.Equal(t, string(textprotoDot([]byte(in))), string(ourDot(t, strings.NewReader(in))), "%q", in)
		// Chunk boundaries anywhere: one byte at a time.
		assert.Equal(t, string(textprotoDot([]byte(in))), string(ourDot(t, iotest.OneByteReader(strings.NewReader(in)))), "%q byte by byte", in)
	}
}

func TestDotWriterEmpty(t *testing.T) {
	assert.Equal(t, ".\r\n", string(ourDot(t, strings.NewReader(""))))
}

func TestDotWriterReaderError(t *testing.T) {
	var out bytes.Buffer
	boom := errors.New("boom")
	_, err := writeDotStuffed(&out, io.MultiReader(strings.NewReader("partial\r\n"), iotest.ErrReader(boom)))
	require.ErrorIs(t, err, boom)
	assert.Equal(t, "partial\r\n", out.String(), "no terminator after a failed read")
}

// The bytes are those of textproto's DotWriter, and reading them back with
// textproto's DotReader gives the content with CRLF line ends.
func FuzzDotWriter(f *testing.F) {
	for _, c := range dotCases {
		f.Add([]byte(c), uint8(7))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		var r io.Reader = bytes.NewReader(in)
		if chunk > 0 {
			r = &chunkReader{r: r, n: int(chunk)}
		}
		got := ourDot(t, r)
		if len(in) > 0 {
			require.Equal(t, textprotoDot(in), got)
		}
		size, err := CRLFSize(bytes.NewReader(in))
		require.NoError(t, err)
		require.Equal(t, unstuffedSize(got), size, "CRLFSize is what the client gets")
		// The framing holds: the first line that is a lone dot is the last.
		if len(in) > 0 {
			require.True(t, bytes.HasSuffix(got, []byte("\r\n.\r\n")))
			require.Equal(t, len(got)-5, bytes.Index(got, []byte("\r\n.\r\n")))
		}
		if bytes.IndexByte(in, '\r') >= 0 {
			return // CR handling is pinned by the differential check
		}
		back, err := io.ReadAll(textproto.NewReader(bufio.NewReader(bytes.NewReader(got))).DotReader())
		require.NoError(t, err)
		want := string(in)
		if len(want) > 0 && !strings.HasSuffix(want, "\n") {
			want += "\n"
		}
		require.Equal(t, want, string(back))
	})
}

// chunkReader returns at most n bytes per Read, to move chunk boundaries.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}

// benchMessage is 10 MB of 76-character lines, every tenth starting with
// a dot.
var benchMessage = func() []byte {
	var b bytes.Buffer
	line := strings.Repeat("x", 74)
	for i := 0; b.Len() < 10<<20; i++ {
		if i%10 == 0 {
			b.WriteString("." + line[1:] + "\r\n")
		} else {
			b.WriteString(line + "\r\n")
		}
	}
	return b.Bytes()
}()

// BenchmarkDotWriter compares ours with net/textproto's DotWriter on the
// same 10 MB written to io.Discard, textproto's through a bufio.Writer of
// our largest output buffer's size.
func BenchmarkDotWriter(b *testing.B) {
	for _, bc := range []struct {
		name string
		body []byte
	}{
		{"ours", benchMessage},
		// LF line ends, as in a Maildir: every line end gets its CR.
		{"ours-LF", bytes.ReplaceAll(benchMessage, CRLF, []byte("\n"))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := bytes.NewReader(bc.body)
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				r.Reset(bc.body)
				if _, err := writeDotStuffed(io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("textproto", func(b *testing.B) {
		bw := bufio.NewWriterSize(io.Discard, maxOutBuffer)
		w := textproto.NewWriter(bw)
		b.SetBytes(int64(len(benchMessage)))
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			dw := w.DotWriter()
			// Copy in the same 32 KiB chunks ours reads.
			for off := 0; off < len(benchMessage); off += 32 << 10 {
				if _, err := dw.Write(benchMessage[off:min(off+32<<10, len(benchMessage))]); err != nil {
					b.Fatal(err)
				}
			}
			if err := dw.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
