package pop3

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"
)

// Response codes of RFC 2449 §8, RFC 3206 and RFC 5034, for Error.Code.
const (
	CodeInUse      = "IN-USE"      // RFC 2449 §8.1.1: the maildrop is locked by another session
	CodeLoginDelay = "LOGIN-DELAY" // RFC 2449 §8.1.2: the user logged in too recently
	CodeSysTemp    = "SYS/TEMP"    // RFC 3206 §4: a temporary system failure
	CodeSysPerm    = "SYS/PERM"    // RFC 3206 §4: a permanent system failure
	CodeAuth       = "AUTH"        // RFC 3206 §5: the credentials were refused
)

// Error is a negative response, written as
//
//	-ERR [Code] Text
//
// Backends return it, or wrap it with %w, to choose the response code and
// text the client sees. An error of any other type reaches the client with
// the code [CodeSysTemp] and a generic text, such as
//
//	-ERR [SYS/TEMP] login failed, try again later
//
// and its detail goes only to the log.
type Error struct {
	// Code is the extended response code (RFC 2449 §8), such as CodeAuth,
	// without brackets; empty for none.
	Code string
	// Text is the human-readable text sent after the code. It must not
	// contain CR or LF; the server replaces them.
	Text string
}

// Error returns the response as the client sees it, without "-ERR".
func (e *Error) Error() string {
	if e.Code == "" {
		return e.Text
	}
	return "[" + e.Code + "] " + e.Text
}

// Sentinel errors for backends. Compare with errors.Is.
var (
	// ErrAuthFailed means the credentials were refused (RFC 3206 [AUTH]).
	ErrAuthFailed = &Error{Code: CodeAuth, Text: "authentication failed"}
	// ErrMailboxLocked means another session holds the maildrop (RFC 2449
	// [IN-USE]).
	ErrMailboxLocked = &Error{Code: CodeInUse, Text: "maildrop already locked by another session"}
	// ErrLoginDelay means the user must wait before logging in again (RFC
	// 2449 [LOGIN-DELAY]).
	ErrLoginDelay = &Error{Code: CodeLoginDelay, Text: "login too soon after the previous one"}
)

// maxResponseLine is the longest response line RFC 2449 §4 allows, CRLF
// included.
const maxResponseLine = 512

// responseWriter is what status lines are written to: a connection's
// outBuffer.
type responseWriter interface {
	io.Writer
	WriteString(s string) (int, error)
}

// lineBreaks blanks out CR and LF in text that goes into a response line.
var lineBreaks = strings.NewReplacer("\r", " ", "\n", " ")

// writeLine writes one status line, "+OK text" or "-ERR text", cut to fit
// 512 octets and with any CR or LF in text replaced, so that no text a
// backend chooses can break the framing.
func writeLine(w responseWriter, status, text string) error {
	if len(status)+1+len(text) > maxResponseLine-2 || strings.ContainsAny(text, "\r\n") {
		text = lineBreaks.Replace(text)
		text = truncateUTF8(text, maxResponseLine-2-len(status)-1)
	}
	_, err := w.WriteString(status)
	if text != "" && err == nil {
		_, err = w.WriteString(" ")
		if err == nil {
			_, err = w.WriteString(text)
		}
	}
	if err == nil {
		_, err = w.Write(crlf)
	}
	return err
}

// truncateUTF8 cuts s to at most n octets without splitting a UTF-8
// sequence.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// validCode reports whether code can stand in brackets as a response code
// (RFC 2449 §8: resp-level *("/" resp-level), resp-level = 1*rchar).
func validCode(code string) bool {
	for _, level := range strings.Split(code, "/") {
		if level == "" {
			return false
		}
		for i := 0; i < len(level); i++ {
			if c := level[i]; c <= ' ' || c >= 0x7f || c == '/' || c == ']' {
				return false
			}
		}
	}
	return true
}

// Dot writer states, the same as net/textproto's so that the bytes are the
// same for every input.
const (
	dotBeginLine = iota // at the start of a line: a dot there is doubled
	dotData             // inside a line
	dotCR               // just after a CR that began a line end
)

var dotTerminator = []byte(".\r\n")

// writeDotStuffed streams r to w as the body of a multi-line response (RFC
// 1939 §3): every line end becomes CRLF (a bare LF counts as a line end), a
// dot that starts a line is doubled, the content is made to end in CRLF and
// the terminating ".\r\n" follows. For every non-empty input the bytes are
// those of net/textproto's DotWriter; empty input gives just ".\r\n".
//
// It returns the octets of content the client receives once it has undone
// the stuffing: what [MessageInfo.Size] must say (RFC 1939 §11), and what
// [CRLFSize] computes.
//
// When r fails, the error is returned and no terminator is written: a
// half-sent message must not look complete, so the caller closes the
// connection.
func writeDotStuffed(w io.Writer, r io.Reader) (int64, error) {
	dw := &dotWriter{out: &outBuffer{w: w}}
	n, err := dw.stream(r)
	if ferr := dw.out.Flush(); err == nil {
		err = ferr
	}
	return n, err
}

// stream is writeDotStuffed into d's output buffer, which it leaves
// unflushed. A connection keeps its dotWriter, so that a RETR does not
// allocate one.
func (d *dotWriter) stream(r io.Reader) (int64, error) {
	d.state, d.size = dotBeginLine, 0
	if cr, ok := r.(*crlfReader); ok && cr.untouched() {
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

// dotWriter dot-stuffs what is written to it into an output buffer. It
// reads a source itself (ReadFrom) into a pooled buffer, so that io.Copy
// and an [*os.File]'s WriteTo allocate nothing.
type dotWriter struct {
	out   *outBuffer
	state int   // as net/textproto's dotWriter
	size  int64 // octets of content, line ends made CRLF
}

func (d *dotWriter) Write(p []byte) (int, error) {
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

func (d *dotWriter) ReadFrom(r io.Reader) (int64, error) {
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
func (d *dotWriter) close() error {
	var end []byte
	switch d.state {
	case dotData:
		end = []byte("\r\n.\r\n")
	case dotCR:
		end = []byte("\n.\r\n")
	default:
		end = dotTerminator
	}
	d.size += int64(len(end) - len(dotTerminator))
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

var crlf = []byte("\r\n")

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
