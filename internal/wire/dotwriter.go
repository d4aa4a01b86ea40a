package wire

import (
	"bytes"
	"io"
	"sync"
)

// Dot writer states, the same as net/textproto's so that the bytes are the
// same for every input.
const (
	dotBeginLine = iota // at the start of a line: a dot there is doubled
	dotData             // inside a line
	dotCR               // just after a CR that began a line end
)

// Terminator ends a multi-line response (RFC 1939 §3).
var Terminator = []byte(".\r\n")

// writeDotStuffed streams r to w as the body of a multi-line response (RFC
// 1939 §3): every line end becomes CRLF (a bare LF counts as a line end), a
// dot that starts a line is doubled, the content is made to end in CRLF and
// the terminating ".\r\n" follows. For every non-empty input the bytes are
// those of net/textproto's DotWriter; empty input gives just ".\r\n".
//
// It returns the octets of content the client receives once it has undone
// the stuffing: what a listing's size must say (RFC 1939 §11), and what
// [CRLFSize] computes.
//
// When r fails, the error is returned and no terminator is written: a
// half-sent message must not look complete, so the caller closes the
// connection.
func writeDotStuffed(w io.Writer, r io.Reader) (int64, error) {
	dw := &DotWriter{out: &OutBuffer{w: w}}
	n, err := dw.Stream(r)
	if ferr := dw.out.Flush(); err == nil {
		err = ferr
	}
	return n, err
}

// Stream is writeDotStuffed into d's output buffer, which it leaves
// unflushed. A connection keeps its DotWriter, so that a RETR does not
// allocate one.
func (d *DotWriter) Stream(r io.Reader) (int64, error) {
	d.state, d.size = dotBeginLine, 0
	if cr, ok := r.(*CRLFReader); ok && cr.untouched() {
		// The stuffing makes line ends CRLF itself, with the same rules:
		// the source is read as it is, without a conversion pass of its
		// own.
		r = cr.r
	}
	var err error
	if wt, ok := r.(io.WriterTo); ok {
		_, err = wt.WriteTo(d)
	} else {
		_, err = d.ReadFrom(r)
	}
	if err != nil {
		return d.size, err
	}
	return d.size, d.close()
}

// minStuffRoom is the least room the dot writer stuffs into before the
// output buffer is written out.
const minStuffRoom = 16 << 10

// DotWriter dot-stuffs what is written to it into an [OutBuffer]. It
// reads a source itself (ReadFrom) into a pooled buffer, so that io.Copy
// and an [*os.File]'s WriteTo allocate nothing. Set it up with Reset.
type DotWriter struct {
	out   *OutBuffer
	state int   // as net/textproto's DotWriter
	size  int64 // octets of content, line ends made CRLF
}

// Reset makes d write into out.
func (d *DotWriter) Reset(out *OutBuffer) { d.out = out }

// Write stuffs p into the output buffer.
func (d *DotWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		// Stuffing at most doubles what it is given; a part of p is
		// stuffed when the buffer has less room than that.
		free := d.out.reserveAtLeast(2*len(p), min(2*len(p), minStuffRoom))
		if d.out.err != nil {
			return n - len(p), d.out.err
		}
		k := min(len(p), free/2)
		var added int
		d.out.buf, d.state, added = appendStuffed(d.out.buf, p[:k], d.state, true)
		d.size += int64(k + added)
		p = p[k:]
	}
	return n, nil
}

// ReadFrom stuffs what r yields, read into a pooled buffer.
func (d *DotWriter) ReadFrom(r io.Reader) (int64, error) {
	bufp := readBufPool.Get().(*[]byte)
	defer readBufPool.Put(bufp)
	buf := *bufp
	var total int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			total += int64(n)
			if _, err := d.Write(buf[:n]); err != nil {
				return total, err
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// close ends the content with CRLF, if it does not already, and writes the
// terminator.
func (d *DotWriter) close() error {
	var end []byte
	switch d.state {
	case dotData:
		end = []byte("\r\n.\r\n")
	case dotCR:
		end = []byte("\n.\r\n")
	default:
		end = Terminator
	}
	d.size += int64(len(end) - len(Terminator))
	_, err := d.out.Write(end)
	return err
}

// appendStuffed appends src to dst with every line end made CRLF and, with
// stuff, every dot that starts a line doubled, and returns the state at its
// end and the number of octets of content it added (the CR of each bare
// LF). dst must have room for 2*len(src) more octets, the most that
// stuffing can make of src. Lines are found with the vectorised
// bytes.IndexByte and copied whole; only line ends and leading dots need a
// decision.
func appendStuffed(dst, src []byte, state int, stuff bool) ([]byte, int, int) {
	added := 0
	for len(src) > 0 {
		if stuff && state == dotBeginLine && src[0] == '.' {
			dst = append(dst, '.')
		}
		i := bytes.IndexByte(src, '\n')
		if i < 0 {
			return append(dst, src...), stateAfter(src, state), added
		}
		line := src[:i]
		dst = append(dst, line...)
		// The usual lines first: a bare LF, or one CR before the LF; only a
		// run of CRs needs stateAfter's count.
		bare := i > 0 && line[i-1] != '\r'
		if !bare && (i < 2 || line[i-2] == '\r') {
			bare = stateAfter(line, state) != dotCR
		}
		if bare {
			dst = append(dst, '\r', '\n')
			added++
		} else {
			dst = append(dst, '\n') // the line already ends in the CR of a CRLF
		}
		src = src[i+1:]
		state = dotBeginLine
	}
	return dst, state, added
}

// stateAfter is the state after writing b (which holds no LF) in state.
// As in net/textproto, a CR enters dotCR and the byte after it is taken as
// data whatever it is, so in a run of CRs only every other one counts: the
// state is dotCR exactly when the run ends on a counting CR.
func stateAfter(b []byte, state int) int {
	if len(b) == 0 {
		return state
	}
	run := 0
	for run < len(b) && b[len(b)-1-run] == '\r' {
		run++
	}
	if run == len(b) && state == dotCR {
		run-- // the first CR is the byte after a previous CR
	}
	if run%2 == 1 {
		return dotCR
	}
	return dotData
}

// readBufSize is the size of the buffers that message bodies are read into
// when their reader cannot write itself (see [io.WriterTo]).
const readBufSize = 64 << 10

var readBufPool = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}
