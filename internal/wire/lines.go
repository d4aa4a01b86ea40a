package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

var (
	// ErrLineTooLong is returned by [LineReader.ReadLine] for a line over
	// its limit.
	ErrLineTooLong = errors.New("line too long")
	// ErrLineTooLongPending is ErrLineTooLong with the rest of the line
	// still unread: the caller answers, then calls DiscardLine.
	ErrLineTooLongPending = fmt.Errorf("%w (rest pending)", ErrLineTooLong)
)

// LineReader reads command lines with a hard limit on their length. Its
// read buffer is what an idle connection costs, so it is small; a longer
// line is gathered in a buffer of its own, up to the limit.
type LineReader struct {
	br      *bufio.Reader
	lineBuf []byte // a line longer than the read buffer
}

// Reset makes l read from r through a read buffer of size octets, made on
// the first call and kept after.
func (l *LineReader) Reset(r io.Reader, size int) {
	if l.br == nil {
		l.br = bufio.NewReaderSize(r, size)
		return
	}
	l.br.Reset(r)
}

// ReadLine reads one line of at most limit octets, terminator included,
// and returns it without its CRLF or LF; the result is valid until the next
// read. A line that starts "AUTH " may be as long as authLimit, when that
// is larger (RFC 5034 §4: an initial response can be long). A longer line
// returns [ErrLineTooLong] as soon as the limit is passed, without waiting
// for its end; [ErrLineTooLongPending] then tells the caller to answer and
// call DiscardLine. A partial line at EOF is dropped.
func (l *LineReader) ReadLine(limit, authLimit int) ([]byte, error) {
	l.lineBuf = l.lineBuf[:0]
	br := l.br
	for {
		buf, err := br.Peek(max(br.Buffered(), 1))
		if len(buf) == 0 {
			return nil, err
		}
		i := bytes.IndexByte(buf, '\n')
		end := i + 1
		if i < 0 {
			end = len(buf)
		}
		if len(l.lineBuf)+end > limit && authLimit > limit && isAuthLine(l.lineBuf, buf[:end]) {
			limit = authLimit
		}
		if len(l.lineBuf)+end > limit {
			_, _ = br.Discard(end)
			if i < 0 {
				return nil, ErrLineTooLongPending
			}
			return nil, ErrLineTooLong
		}
		if i >= 0 {
			line := buf[:end]
			if len(l.lineBuf) > 0 {
				l.lineBuf = append(l.lineBuf, line...)
				line = l.lineBuf
			}
			_, _ = br.Discard(end)
			return trimEOL(line), nil
		}
		if len(buf) == br.Size() {
			// A full buffer without LF: keep it and read on.
			l.lineBuf = append(l.lineBuf, buf...)
			_, _ = br.Discard(len(buf))
			continue
		}
		// Wait for at least one more octet.
		if _, err := br.Peek(len(buf) + 1); err != nil {
			return nil, err
		}
	}
}

// DiscardLine reads and drops the rest of an overlong line, holding no more
// than the read buffer.
func (l *LineReader) DiscardLine() error {
	for {
		_, err := l.br.ReadSlice('\n')
		if err != bufio.ErrBufferFull {
			return err
		}
	}
}

// LineBuffered reports whether a whole line is already buffered: a
// pipelining client's next command (RFC 2449 §6.6), which is answered
// together with this one.
func (l *LineReader) LineBuffered() bool {
	if n := l.br.Buffered(); n > 0 {
		b, _ := l.br.Peek(n)
		return bytes.IndexByte(b, '\n') >= 0
	}
	return false
}

func isAuthLine(head, frag []byte) bool {
	var b [5]byte
	n := copy(b[:], head)
	copy(b[n:], frag)
	return len(head)+len(frag) >= 5 && bytes.EqualFold(b[:], []byte("AUTH "))
}

func trimEOL(b []byte) []byte {
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b
}
