package wire

import (
	"bytes"
	"io"
)

// TopReader cuts a message down to what TOP sends (RFC 1939 §7): the
// header, the blank line that ends it, and at most a number of body lines.
// A message without a blank line is all header and is sent whole. It stops
// reading its source once it has that much.
type TopReader struct {
	r      io.ReadCloser
	inBody bool
	left   int // body lines still to send
	line   lineState
	done   bool
}

// lineState is what the current line of a message holds so far, for
// finding the empty line that ends the header: nothing, a lone CR (a CRLF
// to come), or text.
type lineState int

const (
	lineEmpty lineState = iota
	lineCR
	lineText
)

// extend records that b (no LF) was added to the current line.
func (l *lineState) extend(b []byte) {
	switch {
	case len(b) == 0:
	case *l == lineEmpty && len(b) == 1 && b[0] == '\r':
		*l = lineCR
	default:
		*l = lineText
	}
}

// NewTopReader returns a reader of the first lines body lines of r, after
// its header. Closing it closes r.
func NewTopReader(r io.ReadCloser, lines int) *TopReader {
	return &TopReader{r: r, left: lines}
}

// Read yields the header and the body lines still to send.
func (t *TopReader) Read(p []byte) (int, error) {
	if t.done {
		return 0, io.EOF
	}
	n, err := t.r.Read(p)
	for i := 0; i < n; {
		if t.inBody && t.left <= 0 {
			t.done = true
			return i, nil
		}
		j := bytes.IndexByte(p[i:n], '\n')
		if j < 0 {
			t.line.extend(p[i:n])
			break
		}
		t.line.extend(p[i : i+j])
		if t.inBody {
			t.left--
		} else if t.line != lineText {
			t.inBody = true // the blank line between header and body
		}
		t.line = lineEmpty
		i += j + 1
	}
	if t.inBody && t.left <= 0 {
		t.done = true
		if err == nil {
			err = io.EOF
		}
	}
	return n, err
}

// Close closes the source.
func (t *TopReader) Close() error { return t.r.Close() }
