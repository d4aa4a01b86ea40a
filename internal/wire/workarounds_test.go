package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sources returns the ways a message reaches a workaround reader: as it
// is, one octet at a time, through a CRLFReader that the reader reads
// past, and through one that it must read (hidden by a wrapper type).
func sources(in string) map[string]func() io.Reader {
	return map[string]func() io.Reader{
		"whole":     func() io.Reader { return strings.NewReader(in) },
		"bytewise":  func() io.Reader { return iotest.OneByteReader(strings.NewReader(in)) },
		"crlf":      func() io.Reader { return NewCRLFReader(strings.NewReader(in)) },
		"crlf-read": func() io.Reader { return struct{ io.Reader }{NewCRLFReader(strings.NewReader(in))} },
		"crlf-bytes": func() io.Reader {
			return struct{ io.Reader }{NewCRLFReader(iotest.OneByteReader(strings.NewReader(in)))}
		},
	}
}

func TestEOHReader(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want: the stuffed output with its terminator
		added    int64
	}{
		{"A: 1\r\nB: 2\r\n", "A: 1\r\nB: 2\r\n\r\n.\r\n", 2},
		{"A: 1\nB: 2\n", "A: 1\r\nB: 2\r\n\r\n.\r\n", 2},
		{"A: 1\r\n\r\nbody\r\n", "A: 1\r\n\r\nbody\r\n.\r\n", 0},
		{"A: 1\n\nbody\n", "A: 1\r\n\r\nbody\r\n.\r\n", 0},
		{"A: 1", "A: 1\r\n\r\n.\r\n", 2},
		{"A: 1\r", "A: 1\r\n\r\n.\r\n", 2},
		{"A: 1\r\r", "A: 1\r\r\r\n\r\n.\r\n", 2},
		{"A: 1\r\n\r", "A: 1\r\n\r\n.\r\n", 0},             // a lone CR ends as an empty line
		{"A: 1\r\n\r\r\n", "A: 1\r\n\r\r\r\n\r\n.\r\n", 2}, // two CRs are no empty line
		{"", "\r\n.\r\n", 2},                               // an empty header, not ended
		{"\r\n", "\r\n.\r\n", 0},                           // an empty header, ended
		{"\r\nbody", "\r\nbody\r\n.\r\n", 0},
		{".A: 1\r\n", "..A: 1\r\n\r\n.\r\n", 2},
		{"A: 1\r\n.", "A: 1\r\n..\r\n\r\n.\r\n", 2},
		{"A: 1\r\n.\r\n", "A: 1\r\n..\r\n\r\n.\r\n", 2},
		{"A: 1\r\n\r\n.\r\n", "A: 1\r\n\r\n..\r\n.\r\n", 0},
		{"A: " + strings.Repeat("x", 100000) + "\n", "A: " + strings.Repeat("x", 100000) + "\r\n\r\n.\r\n", 2},
	} {
		for name, src := range sources(tc.in) {
			e := NewEOHReader(src())
			var out bytes.Buffer
			n, err := writeDotStuffed(&out, e)
			require.NoError(t, err)
			assert.Equal(t, tc.want, out.String(), "%q %s", tc.in, name)
			assert.Equal(t, tc.added, e.Added(), "%q %s", tc.in, name)
			size, err := CRLFSize(strings.NewReader(tc.in))
			require.NoError(t, err)
			assert.Equal(t, size, n-e.Added(), "%q %s: the content less what was added is the size", tc.in, name)
		}
	}
}

// A source's error comes through, and nothing is added after it.
func TestEOHReaderError(t *testing.T) {
	boom := errors.New("boom")
	e := NewEOHReader(io.MultiReader(strings.NewReader("A: 1\r\n"), iotest.ErrReader(boom)))
	got, err := io.ReadAll(e)
	require.ErrorIs(t, err, boom)
	assert.Equal(t, "A: 1\r\n", string(got))
	assert.Zero(t, e.Added())
}

// A read into an empty buffer at the end loses nothing.
func TestEOHReaderEmptyRead(t *testing.T) {
	e := NewEOHReader(strings.NewReader(""))
	n, err := e.Read(nil)
	require.NoError(t, err)
	assert.Zero(t, n)
	got, err := io.ReadAll(e)
	require.NoError(t, err)
	assert.Equal(t, "\r\n", string(got))
}

func TestNULReader(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a\x00b\r\n", "a\x80b\r\n.\r\n"},
		{"\x00", "\x80\r\n.\r\n"},
		{"\x00\x00\n\x00", "\x80\x80\r\n\x80\r\n.\r\n"},
		{"\x00.\r\n", "\x80.\r\n.\r\n"}, // no longer a leading dot
		{".\x00\r\n", "..\x80\r\n.\r\n"},
		{"A: 1\r\n\r\n\x00\r\n.\r\n", "A: 1\r\n\r\n\x80\r\n..\r\n.\r\n"},
		{"\r\x00\n", "\r\x80\r\n.\r\n"},
		{"no nul\n", "no nul\r\n.\r\n"},
		{"", ".\r\n"},
	} {
		for name, src := range sources(tc.in) {
			var out bytes.Buffer
			n, err := writeDotStuffed(&out, NewNULReader(src()))
			require.NoError(t, err)
			assert.Equal(t, tc.want, out.String(), "%q %s", tc.in, name)
			size, err := CRLFSize(strings.NewReader(tc.in))
			require.NoError(t, err)
			assert.Equal(t, size, n, "%q %s: the size is kept", tc.in, name)
		}
	}
}

// The reader closes nothing: the caller keeps and closes the source, also
// a CRLFReader that it reads past.
func TestWorkaroundReadersLeaveClosingToTheCaller(t *testing.T) {
	src := &closeRecorder{Reader: strings.NewReader("A: 1\n")}
	cr := NewCRLFReader(src)
	_, err := io.ReadAll(NewNULReader(NewEOHReader(cr)))
	require.NoError(t, err)
	assert.Zero(t, src.closed)
	require.NoError(t, cr.Close())
	assert.Equal(t, 1, src.closed)
}

// eohReference is what the empty line is added to: content, with its line
// ends made CRLF, that has no empty line.
func eohReference(in []byte) bool {
	c, err := io.ReadAll(NewCRLFReader(bytes.NewReader(in)))
	if err != nil {
		panic(err)
	}
	return !bytes.HasPrefix(c, CRLF) && !bytes.Contains(c, []byte("\n\r\n"))
}

// stuff is writeDotStuffed's output and content size.
func stuff(t *testing.T, r io.Reader) ([]byte, int64) {
	var out bytes.Buffer
	n, err := writeDotStuffed(&out, r)
	require.NoError(t, err)
	require.Equal(t, unstuffedSize(out.Bytes()), n, "the size is what the client gets")
	return out.Bytes(), n
}

// The empty line is added exactly to a message that lacks one, as CRLF
// before the terminator, the same through every kind of source, and
// Added says how much the content grew.
func FuzzEOHReader(f *testing.F) {
	for _, c := range dotCases {
		f.Add([]byte(c), uint8(3))
	}
	for _, c := range []string{"", "A: 1", "A: 1\r\n", "A: 1\r\n\r", "A: 1\r\n\r\r\n", "A\n\nb", "\r", "\r\r"} {
		f.Add([]byte(c), uint8(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		src := func() io.Reader {
			if chunk == 0 {
				return bytes.NewReader(in)
			}
			return &chunkReader{r: bytes.NewReader(in), n: int(chunk)}
		}
		plain, size := stuff(t, src())
		want := plain
		if eohReference(in) {
			want = append(bytes.Clone(plain[:len(plain)-len(Terminator)]), "\r\n.\r\n"...)
		}
		for name, r := range map[string]io.Reader{
			"raw":       src(),
			"crlf":      NewCRLFReader(src()),
			"crlf-read": struct{ io.Reader }{NewCRLFReader(src())},
		} {
			e := NewEOHReader(r)
			got, n := stuff(t, e)
			require.Equal(t, want, got, "%s", name)
			require.Equal(t, int64(len(want)-len(plain)), e.Added(), "%s", name)
			require.Equal(t, size, n-e.Added(), "%s", name)
		}
	})
}

// NULs go out as 0x80 and nothing else changes: the output is that of the
// content with its NULs replaced, whatever the source, and in either order
// with the empty-line reader.
func FuzzNULReader(f *testing.F) {
	for _, c := range dotCases {
		f.Add([]byte(c), uint8(3))
	}
	for _, c := range []string{"\x00", "a\x00\n", "\x00.\n", ".\x00", "\r\x00\n", "A: \x00\n\n\x00"} {
		f.Add([]byte(c), uint8(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		src := func() io.Reader {
			if chunk == 0 {
				return bytes.NewReader(in)
			}
			return &chunkReader{r: bytes.NewReader(in), n: int(chunk)}
		}
		replaced := bytes.ReplaceAll(in, []byte{0}, []byte{0x80})
		want, size := stuff(t, bytes.NewReader(replaced))
		for name, r := range map[string]io.Reader{
			"raw":       src(),
			"crlf":      NewCRLFReader(src()),
			"crlf-read": struct{ io.Reader }{NewCRLFReader(src())},
		} {
			got, n := stuff(t, NewNULReader(r))
			require.Equal(t, want, got, "%s", name)
			require.Equal(t, size, n, "%s", name)
		}
		both1, _ := stuff(t, NewNULReader(NewEOHReader(src())))
		both2, _ := stuff(t, NewEOHReader(NewNULReader(src())))
		require.Equal(t, both1, both2, "the two readers commute")
		require.NotContains(t, string(both1), "\x00")
	})
}

// BenchmarkWorkarounds is BenchmarkDotWriter's 10 MB through each reader.
func BenchmarkWorkarounds(b *testing.B) {
	lf := bytes.ReplaceAll(benchMessage, CRLF, []byte("\n"))
	for _, bc := range []struct {
		name string
		body []byte
		wrap func(io.Reader) io.Reader
	}{
		{"none", benchMessage, func(r io.Reader) io.Reader { return r }},
		{"nuls", benchMessage, func(r io.Reader) io.Reader { return NewNULReader(r) }},
		{"eoh", benchMessage, func(r io.Reader) io.Reader { return NewEOHReader(r) }},
		{"both-LF-crlf", lf, func(r io.Reader) io.Reader { return NewNULReader(NewEOHReader(NewCRLFReader(r))) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := bytes.NewReader(bc.body)
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				r.Reset(bc.body)
				if _, err := writeDotStuffed(io.Discard, bc.wrap(r)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
