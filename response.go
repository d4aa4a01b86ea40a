package pop3

import (
	"bytes"
	"io"
	"strings"
	"sync"
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

// responseWriter is the subset of *bufio.Writer the session writes to.
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

// copyBufPool holds the read buffers of writeDotStuffed, so that a RETR
// allocates nothing once warm and an idle session holds no buffer.
var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

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
	bufp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bufp)
	buf := *bufp
	state := dotBeginLine
	var size int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			var (
				added int
				err   error
			)
			state, added, err = dotStuffChunk(w, buf[:n], state, true)
			size += int64(n + added)
			if err != nil {
				return size, err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return size, rerr
		}
	}
	var end []byte
	switch state {
	case dotData:
		end = []byte("\r\n.\r\n")
	case dotCR:
		end = []byte("\n.\r\n")
	default:
		end = dotTerminator
	}
	size += int64(len(end) - len(dotTerminator))
	_, err := w.Write(end)
	return size, err
}

var (
	crlf = []byte("\r\n")
	lf   = crlf[1:]
	dot  = dotTerminator[:1]
)

// dotStuffChunk writes one chunk of content, a line at a time, and returns
// the state at its end and the number of octets of content it added (the CR
// of each bare LF). Lines are copied whole rather than byte by byte; only
// the line ends and a leading dot need a decision. With stuff false it only
// makes line ends CRLF, which is what [NewCRLFReader] yields.
func dotStuffChunk(w io.Writer, chunk []byte, state int, stuff bool) (int, int, error) {
	added := 0
	for len(chunk) > 0 {
		if stuff && state == dotBeginLine && chunk[0] == '.' {
			if _, err := w.Write(dot); err != nil {
				return state, added, err
			}
		}
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			_, err := w.Write(chunk)
			return stateAfter(chunk, state), added, err
		}
		line := chunk[:i]
		end := crlf
		if stateAfter(line, state) == dotCR {
			end = lf // the line already ends in the CR of a CRLF
		} else {
			added++
		}
		if _, err := w.Write(line); err != nil {
			return state, added, err
		}
		if _, err := w.Write(end); err != nil {
			return state, added, err
		}
		chunk = chunk[i+1:]
		state = dotBeginLine
	}
	return state, added, nil
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
