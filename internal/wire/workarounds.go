package wire

import (
	"bytes"
	"io"
)

// The readers below are the client workarounds of Dovecot's
// pop3_client_workarounds setting, as streaming transforms of a message
// that a [DotWriter] then stuffs: they hold no more than the source's
// chunk, whatever the message's size, and each is one allocation per
// message. A server without workarounds never makes one.

// NULReader yields its source with every NUL octet (0x00) replaced by
// 0x80: Dovecot's outlook-no-nuls, for Outlook, which stops reading a
// message at a NUL. It changes no line and no size, so it composes with
// dot-stuffing and keeps every listed size right.
type NULReader struct {
	r io.Reader
}

// NewNULReader returns a reader of r with its NULs sent as 0x80. An
// unread [CRLFReader] is read through its source, as [DotWriter.Stream]
// does: the stuffing makes the line ends CRLF with the same rules, and a
// NUL is no line end, so the octets come out the same in one pass.
func NewNULReader(r io.Reader) *NULReader {
	return &NULReader{r: direct(r)}
}

// Read reads from the source and replaces the NULs of what it read, in
// p itself.
func (n *NULReader) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	for b := p[:k]; ; {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			break
		}
		b[i] = 0x80
		b = b[i+1:]
	}
	return k, err
}

// EOHReader yields its source and, when the source ends before the empty
// line that ends a header (RFC 5322 §2.1), that empty line: Dovecot's
// oe-ns-eoh, for old Outlook Express and Netscape clients, which need
// the empty line to find where the header ends. A message that is all
// header thus gets 2 octets more than its size (CRLF), and any other
// message nothing.
//
// The header ends where a [TopReader] finds its end: at the first line
// that is empty or a lone CR before its line end, so that RETR and TOP
// agree on which messages lack the empty line. A message that starts with
// an empty line has an empty header, ended. A last line without a line
// end is ended first, with the octets a [DotWriter] would end it with
// (CRLF, or LF after a CR that begins a line end), so that the stuffed
// output is the same whether the source's line ends are CRLF already or
// not.
type EOHReader struct {
	r      io.Reader
	line   lineState
	lastCR bool // the last octet read is a CR
	ended  bool // the header has ended: the rest passes through
	eof    bool // the source has ended; tail is what is left to yield
	tail   []byte
	added  int64
}

// NewEOHReader returns a reader of r with the empty line that ends a
// header added when r lacks it. An unread [CRLFReader] is read through
// its source, as [NewNULReader] does.
func NewEOHReader(r io.Reader) *EOHReader {
	return &EOHReader{r: direct(r)}
}

// What an EOHReader adds at the end of a message that is all header: the
// empty line, after the line end of a last line that lacks one.
var (
	eohAtLineStart = []byte("\r\n")
	eohAfterText   = []byte("\r\n\r\n")
	eohAfterCR     = []byte("\n\r\n")
)

// Read yields the source, then what it adds.
func (e *EOHReader) Read(p []byte) (int, error) {
	if e.eof {
		return e.readTail(p)
	}
	n, err := e.r.Read(p)
	if !e.ended && n > 0 {
		e.scan(p[:n])
	}
	if err != io.EOF {
		return n, err
	}
	e.eof = true
	if !e.ended {
		switch {
		case e.line == lineEmpty:
			e.tail = eohAtLineStart
		case e.line == lineCR:
			// A lone CR at the end is a line that the stuffing ends with
			// LF: the empty line is there already.
		case e.lastCR:
			e.tail = eohAfterCR
		default:
			e.tail = eohAfterText
		}
		if e.tail != nil {
			e.added = int64(len(eohAtLineStart))
		}
	}
	if n > 0 || len(p) == 0 {
		return n, nil
	}
	return e.readTail(p)
}

func (e *EOHReader) readTail(p []byte) (int, error) {
	if len(e.tail) == 0 {
		return 0, io.EOF
	}
	n := copy(p, e.tail)
	e.tail = e.tail[n:]
	return n, nil
}

// scan follows the lines of b, until the one that ends the header.
func (e *EOHReader) scan(b []byte) {
	e.lastCR = b[len(b)-1] == '\r'
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			e.line.extend(b)
			return
		}
		e.line.extend(b[:i])
		if e.line != lineText {
			e.ended = true
			return
		}
		e.line = lineEmpty
		b = b[i+1:]
	}
}

// Added returns the octets of content that e adds beyond the source's
// size as [CRLFSize] counts it: 2 once the source has ended without the
// empty line, 0 before and otherwise. The line end of a last line that
// lacks one is not counted, since CRLFSize counts it already.
func (e *EOHReader) Added() int64 { return e.added }

// direct returns the source of r when r is a [CRLFReader] that has not
// been read, and r otherwise. The caller still closes r.
func direct(r io.Reader) io.Reader {
	if cr, ok := r.(*CRLFReader); ok && cr.untouched() {
		return cr.r
	}
	return r
}
