package pop3

import (
	"errors"
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
// Close closes r when r is an [io.Closer].
//
// Return it from Message as it is, not wrapped: the server then reads r
// itself and makes the line ends CRLF as it dot-stuffs them, in one pass
// instead of two.
func NewCRLFReader(r io.Reader) io.ReadCloser {
	return &crlfReader{r: r}
}

// crlfReadSize is how much of the source a crlfReader reads at once; the
// converted chunk is at most twice as long, plus a final line end.
const crlfReadSize = 16 << 10

// crlfBufPool holds the buffers of crlfReaders: the source chunk and its
// conversion, so that serving a message allocates no buffer once warm.
var crlfBufPool = sync.Pool{New: func() any { b := make([]byte, 3*crlfReadSize+2); return &b }}

type crlfReader struct {
	r       io.Reader
	buf     *[]byte // from crlfBufPool while reading; nil before and after
	out     []byte  // converted octets not yet returned
	state   int     // a dot writer state, for the same line-end rules
	err     error   // r's error, returned once out is drained
	started bool    // Read has been called
}

// untouched reports that nothing has been read yet, so that the source can
// be read directly in its place.
func (c *crlfReader) untouched() bool { return !c.started }

func (c *crlfReader) Read(p []byte) (int, error) {
	c.started = true
	for len(c.out) == 0 {
		if c.err != nil {
			c.release()
			return 0, c.err
		}
		c.fill()
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

func (c *crlfReader) release() {
	if c.buf != nil {
		crlfBufPool.Put(c.buf)
		c.buf, c.out = nil, nil
	}
}

// Close closes the source when it is an io.Closer.
func (c *crlfReader) Close() error {
	c.release()
	if c.err == nil {
		c.err = errReadAfterClose
	}
	if cl, ok := c.r.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

var errReadAfterClose = errors.New("pop3: read after Close")

// fill converts the next chunk of the source into out, or records the
// source's error after adding the final line end the content lacks.
func (c *crlfReader) fill() {
	if c.buf == nil {
		c.buf = crlfBufPool.Get().(*[]byte)
	}
	src := (*c.buf)[:crlfReadSize]
	conv := (*c.buf)[crlfReadSize:crlfReadSize]
	n, err := c.r.Read(src)
	if n > 0 {
		conv, c.state, _ = appendStuffed(conv, src[:n], c.state, false)
	}
	if err == io.EOF {
		switch c.state {
		case dotData:
			conv = append(conv, '\r', '\n')
		case dotCR:
			conv = append(conv, '\n')
		}
		c.state = dotBeginLine
	}
	c.out = conv
	c.err = err
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
