package wire

import (
	"errors"
	"io"
	"sync"
)

// CRLFSize returns the octets of r with every line end made CRLF (a bare
// LF is a line end) and a final CRLF added when the content does not end in
// one: the size of a message before dot-stuffing (RFC 1939 §11). An empty
// message has size 0. It reads r to its end.
func CRLFSize(r io.Reader) (int64, error) {
	return writeDotStuffed(io.Discard, r)
}

// NewCRLFReader returns a reader of r's content with the line ends that
// [CRLFSize] counts: it yields exactly CRLFSize octets. Errors of r are
// returned as they come.
func NewCRLFReader(r io.Reader) *CRLFReader {
	return &CRLFReader{r: r}
}

// crlfReadSize is how much of the source a CRLFReader reads at once; the
// converted chunk is at most twice as long, plus a final line end.
const crlfReadSize = 16 << 10

// crlfBufPool holds the buffers of CRLFReaders: the source chunk and its
// conversion, so that serving a message allocates no buffer once warm.
var crlfBufPool = sync.Pool{New: func() any { b := make([]byte, 3*crlfReadSize+2); return &b }}

// CRLFReader makes the line ends of a source CRLF; see [NewCRLFReader]. A
// [DotWriter] given one that has not been read reads its source directly,
// in one pass.
type CRLFReader struct {
	r       io.Reader
	buf     *[]byte // from crlfBufPool while reading; nil before and after
	out     []byte  // converted octets not yet returned
	state   int     // a dot writer state, for the same line-end rules
	err     error   // r's error, returned once out is drained
	started bool    // Read has been called
}

// untouched reports that nothing has been read yet, so that the source can
// be read directly in its place.
func (c *CRLFReader) untouched() bool { return !c.started }

// Read yields the converted content.
func (c *CRLFReader) Read(p []byte) (int, error) {
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

func (c *CRLFReader) release() {
	if c.buf != nil {
		crlfBufPool.Put(c.buf)
		c.buf, c.out = nil, nil
	}
}

// Close closes the source when it is an io.Closer.
func (c *CRLFReader) Close() error {
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
func (c *CRLFReader) fill() {
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
