package wire

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLineReader(t *testing.T) {
	const size = 16 // a small read buffer, so that long lines are gathered
	for _, tc := range []struct {
		name        string
		in          string
		limit, auth int
		want        []string // lines, then "ERR:<error>" for the error ending the input
	}{
		{"CRLF and LF", "USER a\r\nPASS b\nQUIT\r\n", 64, 0, []string{"USER a", "PASS b", "QUIT", "ERR:EOF"}},
		{"partial line at EOF is dropped", "NOOP\r\nQU", 64, 0, []string{"NOOP", "ERR:EOF"}},
		{"longer than the read buffer", strings.Repeat("x", 40) + "\r\n", 64, 0, []string{strings.Repeat("x", 40), "ERR:EOF"}},
		{"exactly the limit", "12345678\r\n", 10, 0, []string{"12345678", "ERR:EOF"}},
		{"over the limit, end in the buffer", "123456789\r\nNOOP\r\n", 10, 0, []string{"ERR:line too long", "NOOP", "ERR:EOF"}},
		{"over the limit, end not yet read", strings.Repeat("x", 40) + "\r\nNOOP\r\n", 20, 0, []string{"ERR:line too long (rest pending)"}},
		{"AUTH may be longer", "AUTH PLAIN " + strings.Repeat("A", 30) + "\r\n", 20, 64, []string{"AUTH PLAIN " + strings.Repeat("A", 30), "ERR:EOF"}},
		{"auth limit is for AUTH only", "USER " + strings.Repeat("A", 30) + "\r\n", 20, 64, []string{"ERR:line too long (rest pending)"}},
		{"auth case-insensitive", "auth x " + strings.Repeat("A", 30) + "\r\n", 20, 64, []string{"auth x " + strings.Repeat("A", 30), "ERR:EOF"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, oneByte := range []bool{false, true} {
				var src io.Reader = strings.NewReader(tc.in)
				if oneByte {
					src = iotest.OneByteReader(src)
				}
				var l LineReader
				l.Reset(src, size)
				var got []string
				for len(got) < len(tc.want) {
					line, err := l.ReadLine(tc.limit, tc.auth)
					if err != nil {
						got = append(got, "ERR:"+err.Error())
						if err == ErrLineTooLong { //nolint:errorlint // the exact sentinel matters here
							continue
						}
						break
					}
					got = append(got, string(line))
				}
				assert.Equal(t, tc.want, got, "oneByte=%v", oneByte)
			}
		})
	}
}

func TestLineReaderDiscardLine(t *testing.T) {
	var l LineReader
	l.Reset(strings.NewReader(strings.Repeat("x", 100)+"\r\nNOOP\r\n"), 16)
	_, err := l.ReadLine(20, 0)
	require.ErrorIs(t, err, ErrLineTooLongPending)
	require.ErrorIs(t, err, ErrLineTooLong)
	require.NoError(t, l.DiscardLine())
	line, err := l.ReadLine(20, 0)
	require.NoError(t, err)
	assert.Equal(t, "NOOP", string(line))
}

func TestLineReaderLineBuffered(t *testing.T) {
	var l LineReader
	l.Reset(strings.NewReader("NOOP\r\nSTAT\r\nQU"), 64)
	assert.False(t, l.LineBuffered(), "nothing read yet")
	_, err := l.ReadLine(64, 0)
	require.NoError(t, err)
	assert.True(t, l.LineBuffered(), "STAT is pipelined behind NOOP")
	_, err = l.ReadLine(64, 0)
	require.NoError(t, err)
	assert.False(t, l.LineBuffered(), "QU is not a whole line")
}

// FuzzLineReader checks the reader against a plain split of its input: every
// line within the limit is returned as it was sent, and no line over it is.
func FuzzLineReader(f *testing.F) {
	f.Add("USER a\r\nPASS b\n", uint8(10), uint8(3))
	f.Add(strings.Repeat("x", 50)+"\nAUTH "+strings.Repeat("y", 50)+"\n", uint8(20), uint8(1))
	f.Fuzz(func(t *testing.T, in string, limit, chunk uint8) {
		lim := int(limit) + 1
		var src io.Reader = strings.NewReader(in)
		if chunk > 0 {
			src = io.LimitReader(iotest.HalfReader(src), int64(len(in)))
		}
		var l LineReader
		l.Reset(src, 16)
		want := strings.SplitAfter(in, "\n")
		partial := want[len(want)-1] // "" when in ends with a line end
		want = want[:len(want)-1]
		for _, w := range want {
			line, err := l.ReadLine(lim, 0)
			if len(w) > lim {
				require.ErrorIs(t, err, ErrLineTooLong, "%q", w)
				if err == ErrLineTooLongPending { //nolint:errorlint // the exact sentinel matters here
					require.NoError(t, l.DiscardLine())
				}
				continue
			}
			require.NoError(t, err, "%q", w)
			require.Equal(t, strings.TrimSuffix(strings.TrimSuffix(w, "\n"), "\r"), string(line))
		}
		_, err := l.ReadLine(lim, 0)
		if len(partial) > lim {
			// An overlong line is refused before its end is seen.
			require.ErrorIs(t, err, ErrLineTooLongPending)
			err = l.DiscardLine()
		}
		require.ErrorIs(t, err, io.EOF, "a partial last line is dropped")
	})
}
