package pop3test

import "strings"

// Reply is a server's reply to one command.
type Reply struct {
	// OK is true for "+OK"; false for "-ERR" and for a continuation.
	OK bool
	// Continuation is true for a "+ " SASL continuation (RFC 5034 §4),
	// whose base64 challenge is Text.
	Continuation bool
	// Code is the response code in brackets (RFC 2449 §8), such as
	// "IN-USE" or "SYS/TEMP", without the brackets; empty for none.
	Code string
	// Text is the rest of the status line, after the code.
	Text string
	// Line is the status line as it was sent, without CRLF.
	Line string
	// Body is the un-stuffed body of a multi-line reply, each line ended by
	// CRLF; nil for a single-line reply.
	Body []byte
}

// Lines returns the body's lines without their CRLF: the capabilities of
// CAPA or the "n size" lines of LIST.
func (r Reply) Lines() []string {
	if len(r.Body) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(r.Body), "\r\n"), "\r\n")
}

// String returns the status line.
func (r Reply) String() string { return r.Line }

// parseReply splits a status line; ok is false for anything else.
func parseReply(line string) (r Reply, ok bool) {
	r.Line = line
	var rest string
	switch {
	case line == "+OK" || strings.HasPrefix(line, "+OK "):
		r.OK, rest = true, strings.TrimPrefix(line[3:], " ")
	case line == "-ERR" || strings.HasPrefix(line, "-ERR "):
		rest = strings.TrimPrefix(line[4:], " ")
	case line == "+" || strings.HasPrefix(line, "+ "):
		r.Continuation = true
		r.Text = strings.TrimPrefix(line[1:], " ")
		return r, true
	default:
		return r, false
	}
	if strings.HasPrefix(rest, "[") {
		if end := strings.IndexByte(rest, ']'); end > 0 {
			r.Code, rest = rest[1:end], strings.TrimPrefix(rest[end+1:], " ")
		}
	}
	r.Text = rest
	return r, true
}
