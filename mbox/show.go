package mbox

import (
	"io"
)

// reader returns the message as RETR shows it, as Dovecot's mbox storage
// shows it (mbox_mail_init_stream): the octets from the end of the From
// line to the end of the message, without the header fields that the store
// keeps for itself (Dovecot's header filter with mbox_hide_headers). Line
// ends are as in the file; pop3.NewCRLFReader makes them CRLF, and m.size
// is what it then yields.
func (m *message) reader(f io.ReaderAt) io.Reader {
	if len(m.fields) == 0 {
		return io.NewSectionReader(f, m.headerStart, m.end-m.headerStart)
	}
	r := &spanReader{f: f, spans: make([]span, 0, len(m.fields)+1)}
	pos := m.headerStart
	for _, fl := range m.fields {
		if fl.start > pos {
			r.spans = append(r.spans, span{pos, fl.start})
		}
		pos = max(pos, fl.end)
	}
	if m.end > pos {
		r.spans = append(r.spans, span{pos, m.end})
	}
	return r
}

// span is the octets of a file from start to end.
type span struct{ start, end int64 }

// spanReader reads spans of f one after the other. It is io.MultiReader
// of io.SectionReaders in one allocation, and without MultiReader's
// WriteTo, which io.Copy would call with a new 32 KiB buffer per span.
type spanReader struct {
	f     io.ReaderAt
	spans []span
}

func (r *spanReader) Read(p []byte) (int, error) {
	for len(r.spans) > 0 && r.spans[0].start >= r.spans[0].end {
		r.spans = r.spans[1:]
	}
	if len(r.spans) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	s := &r.spans[0]
	p = p[:min(int64(len(p)), s.end-s.start)]
	n, err := r.f.ReadAt(p, s.start)
	s.start += int64(n)
	if err == io.EOF {
		if s.start < s.end {
			return n, io.ErrUnexpectedEOF // the file was cut under the session
		}
		err = nil
	}
	return n, err
}

// crlfCounter counts the octets that pop3.NewCRLFReader yields for what is
// written to it, in the same pass as the parse: every LF that does not end
// a CRLF gets a CR, and a final line end is added. As net/textproto's dot
// writer (which the wire package follows), a CR is taken as the start of a
// line end, and the octet after it as data whatever it is: of a run of CRs
// before an LF only every other one counts.
type crlfCounter struct {
	n     int64
	state uint8
}

// The states of a crlfCounter.
const (
	crlfBeginLine = iota
	crlfData
	crlfCR // just after a CR that may begin a line end
)

// text counts b, which holds no LF.
func (c *crlfCounter) text(b []byte) {
	c.n += int64(len(b))
	c.state = crlfStateAfter(b, c.state)
}

// lineEnd counts a line end: an LF, after a CR when crlf is set.
func (c *crlfCounter) lineEnd(crlf bool) {
	if crlf {
		c.n++
		c.state = crlfStateAfter([]byte{'\r'}, c.state)
	}
	c.lf()
}

// lf counts an LF.
func (c *crlfCounter) lf() {
	c.n++
	if c.state != crlfCR {
		c.n++ // the CR it gets
	}
	c.state = crlfBeginLine
}

// total is the size of what was written, with the line end that the
// reader adds at its end; 0 when nothing was written.
func (c *crlfCounter) total() int64 {
	switch {
	case c.n == 0:
		return 0
	case c.state == crlfCR:
		return c.n + 1
	case c.state == crlfData:
		return c.n + 2
	}
	return c.n
}

// crlfStateAfter is the state after b, which holds no LF, in state.
func crlfStateAfter(b []byte, state uint8) uint8 {
	if len(b) == 0 {
		return state
	}
	run := 0
	for run < len(b) && b[len(b)-1-run] == '\r' {
		run++
	}
	if run == len(b) && state == crlfCR {
		run-- // the first CR is the octet after the CR before
	}
	if run%2 == 1 {
		return crlfCR
	}
	return crlfData
}
