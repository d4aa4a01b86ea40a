package mbox

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
)

// reader leaves out the hidden fields, wherever they are.
func TestReader(t *testing.T) {
	raw := "From x\nA: 1\nStatus: RO\nX-UID: 5\nB: 2\nX-Status: A\n\nbody\nFrom y"
	hide := func(name, text string) field {
		start := int64(strings.Index(raw, text))
		return field{name: name, start: start, end: start + int64(len(text))}
	}
	headerStart, end := int64(len("From x\n")), int64(strings.LastIndex(raw, "\nFrom"))
	for _, tc := range []struct {
		name   string
		fields []field
		want   string
	}{
		{"none", nil, "A: 1\nStatus: RO\nX-UID: 5\nB: 2\nX-Status: A\n\nbody"},
		{"one", []field{hide("status", "Status: RO\n")}, "A: 1\nX-UID: 5\nB: 2\nX-Status: A\n\nbody"},
		{"adjacent", []field{hide("status", "Status: RO\n"), hide("x-uid", "X-UID: 5\n")}, "A: 1\nB: 2\nX-Status: A\n\nbody"},
		{"first", []field{hide("x", "A: 1\n")}, "Status: RO\nX-UID: 5\nB: 2\nX-Status: A\n\nbody"},
		{"last", []field{hide("x", "\nbody")}, "A: 1\nStatus: RO\nX-UID: 5\nB: 2\nX-Status: A\n"},
		{"all", []field{hide("x", "A: 1\nStatus: RO\nX-UID: 5\nB: 2\nX-Status: A\n\nbody")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &message{headerStart: headerStart, end: end, fields: tc.fields}
			got, err := io.ReadAll(m.reader(strings.NewReader(raw)))
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
}

// crlfSizes are contents whose CRLF size has every line-end case: bare
// LFs, CRLFs, lone CRs, runs of CRs, a missing final line end.
var crlfSizes = []string{
	"", "a", "\n", "a\n", "a\r\n", "\r\n", "a\r", "\r", "\r\r", "\r\r\r", "a\r\r\n", "a\r\r\r\n",
	"\r\r\n", "\n\n", "\r\n\r\n", "a\rb\n", "a\rb", "a\nb", "a\n\r", ".\n..\n", "\r\n\r", "x\r\r\rx\r\n",
}

// The size that the parser counts is pop3.CRLFSize, however the content
// comes in pieces.
func TestCRLFCounter(t *testing.T) {
	for _, s := range crlfSizes {
		want, err := pop3.CRLFSize(strings.NewReader(s))
		require.NoError(t, err)
		for split := range len(s) + 1 {
			assert.Equal(t, want, countCRLF([]byte(s), split), "%q split at %d", s, split)
		}
	}
}

// countCRLF counts b as the parser does, line by line: a line's content
// in two pieces (the first one split octets long, if the line has that
// many), then its line end.
func countCRLF(b []byte, split int) int64 {
	var c crlfCounter
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line = b[:i+1]
		}
		b = b[len(line):]
		content, crlf, lf := line, false, false
		if bytes.HasSuffix(line, []byte("\n")) {
			lf = true
			crlf = bytes.HasSuffix(line, []byte("\r\n"))
			content = line[:len(line)-1]
			if crlf {
				content = content[:len(content)-1]
			}
		}
		k := min(split, len(content))
		c.text(content[:k])
		c.text(content[k:])
		if lf {
			c.lineEnd(crlf)
		}
	}
	return c.total()
}
