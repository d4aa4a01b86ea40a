package pop3

import (
	"io"
	"sync"
)

// CRLFSize returns the size of a message as the server sends it and the
// client stores it: the octets of r with every line end made CRLF (a bare
// LF is a line end) and a final CRLF added when the content does not end in
// one, before dot-stuffing (RFC 1939 §11). An empty message has size 0.
//
// That is what [MessageInfo.Size] must report. A backend whose stored
// messages already use CRLF and end in CRLF can use their length; one over
// files with LF line ends (a Maildir, .eml files) computes it once with
// CRLFSize, caches it, and serves the file through [NewCRLFReader].
// CRLFSize reads r to its end.
func CRLFSize(r io.Reader) (int64, error) {
	return writeDotStuffed(io.Discard, r)
}

// NewCRLFReader returns a reader of r's content as [Mailbox.Message] must
// yield it: every line end CRLF (a bare LF is a line end) and a final CRLF
// added when the content does not end in one. It yields exactly
// [CRLFSize] octets, with the same rules, so a backend over files with LF
// line ends serves them through it. Errors of r are returned as they come.
func NewCRLFReader(r io.Reader) io.Reader {
	return &crlfReader{r: r}
}

// crlfReadSize is how much of the source a crlfReader reads at once; the
// converted chunk is at most twice as long, plus a final line end.
const crlfReadSize = 16 << 10

// crlfBufPool holds the buffers of crlfReaders: the source chunk and its
// conversion, so that serving a message allocates no buffer once warm.
var crlfBufPool = sync.Pool{New: func() any { b := make([]byte, 3*crlfReadSize+2); return &b }}

type crlfReader struct {
	r     io.Reader
	buf   *[]byte // from crlfBufPool while reading; nil before and after
	out   []byte  // converted octets not yet returned
	conv  appendWriter
	state int   // a dot writer state, for the same line-end rules
	err   error // r's error, returned once out is drained
}

func (c *crlfReader) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.err != nil {
			if c.buf != nil {
				crlfBufPool.Put(c.buf)
				c.buf = nil
			}
			return 0, c.err
		}
		c.fill()
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// fill converts the next chunk of the source into out, or records the
// source's error after adding the final line end the content lacks.
func (c *crlfReader) fill() {
	if c.buf == nil {
		c.buf = crlfBufPool.Get().(*[]byte)
	}
	src := (*c.buf)[:crlfReadSize]
	c.conv = (*c.buf)[crlfReadSize:crlfReadSize]
	n, err := c.r.Read(src)
	if n > 0 {
		// Appending within the buffer's capacity does not fail.
		c.state, _, _ = dotStuffChunk(&c.conv, src[:n], c.state, false)
	}
	if err == io.EOF {
		switch c.state {
		case dotData:
			c.conv = append(c.conv, '\r', '\n')
		case dotCR:
			c.conv = append(c.conv, '\n')
		}
		c.state = dotBeginLine
	}
	c.out = c.conv
	c.err = err
}

// appendWriter appends what is written to it.
type appendWriter []byte

func (w *appendWriter) Write(p []byte) (int, error) {
	*w = append(*w, p...)
	return len(p), nil
}

// NewTopReader cuts a whole message, as [Mailbox.Message] yields it, down
// to what TOP sends (RFC 1939 §7): the header, the blank line after it and
// at most lines lines of the body. A message without a blank line is all
// header and is yielded whole. It stops reading r once it has that much,
// so a [TopMailbox] over whole stored messages can serve Top with it.
// Closing the returned reader closes r.
func NewTopReader(r io.ReadCloser, lines int) io.ReadCloser {
	return newTopReader(r, lines)
}
