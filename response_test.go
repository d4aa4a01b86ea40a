package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
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
	lines := bytes.Split(bytes.TrimSuffix(body, dotTerminator), crlf)
	stuffed := 0
	for _, l := range lines {
		if bytes.HasPrefix(l, []byte{'.'}) {
			stuffed++
		}
	}
	return int64(len(body) - len(dotTerminator) - stuffed)
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
		{"ours-LF", bytes.ReplaceAll(benchMessage, crlf, []byte("\n"))},
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
			got, err := io.ReadAll(newTopReader(io.NopCloser(r), tc.lines))
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got), "%q lines=%d oneByte=%v", tc.in, tc.lines, oneByte)
		}
	}
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

func TestWriteLine(t *testing.T) {
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	require.NoError(t, writeLine(bw, "-ERR", "bad\r\ntext"))
	require.NoError(t, writeLine(bw, "-ERR", strings.Repeat("x", 1000)))
	require.NoError(t, bw.Flush())
	lines := strings.SplitAfter(b.String(), "\r\n")
	assert.Equal(t, "-ERR bad  text\r\n", lines[0])
	assert.Len(t, lines[1], 512)
	assert.True(t, strings.HasSuffix(lines[1], "\r\n"))
}

func TestVerifyAPOP(t *testing.T) {
	const ts = "<1896.697170952@dbc.mtview.ca.us>"
	assert.Equal(t, "c4c9334bac560ecc979e58001b3e22fb", APOPDigest(ts, "tanstaaf"))
	assert.True(t, VerifyAPOP(ts, "tanstaaf", "c4c9334bac560ecc979e58001b3e22fb"))
	assert.True(t, VerifyAPOP(ts, "tanstaaf", "C4C9334BAC560ECC979E58001B3E22FB"))
	assert.False(t, VerifyAPOP(ts, "tanstaaf", "c4c9334bac560ecc979e58001b3e22fa"))
	assert.False(t, VerifyAPOP(ts, "wrong", "c4c9334bac560ecc979e58001b3e22fb"))
	assert.False(t, VerifyAPOP(ts, "tanstaaf", ""))
}
