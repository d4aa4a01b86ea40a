package pop3test

import (
	"strings"
)

// Transcript plays a conversation written as RFC 1939's examples are:
//
//	S: +OK POP3 server ready <1896.697170952@localhost>
//	C: USER alice
//	S: +OK send PASS
//	C: LIST
//	S: +OK 2 messages...
//	S: 1 120
//	S: 2 200
//	S: .
//	C: QUIT
//	S: +OK...
//	S: <closed>
//
// "C: line" sends line with CRLF. "S: line" reads one line and requires it
// to be exactly line, dot-stuffing and all; a trailing "..." always matches
// any rest of the line (read a line that really ends in "..." with
// ReadLine). "S:" alone is an empty line. "S: <closed>" requires the server to close the
// connection. Blank lines and leading white space are ignored. A line
// read that starts with "+OK", "-ERR" or "+ " (a SASL continuation) must
// fit the 512 octets of RFC 2449 §4. The first
// line the client reads is the greeting, so a script for a new connection
// begins with it.
//
// A mismatch fails the test with the script's line number and the
// conversation so far.
func (c *Client) Transcript(script string) {
	c.tb.Helper()
	var seen strings.Builder
	for n, raw := range strings.Split(script, "\n") {
		l := strings.TrimLeft(strings.TrimRight(raw, "\r"), " \t")
		switch l {
		case "C:", "S:": // an empty line, once an editor has trimmed its space
			l += " "
		}
		switch {
		case l == "":
		case strings.HasPrefix(l, "C: "):
			c.Send(l[3:])
			seen.WriteString(l + "\n")
		case l == "S: <closed>":
			c.ExpectClosed()
			seen.WriteString(l + "\n")
		case strings.HasPrefix(l, "S: "):
			want := l[3:]
			got := c.ReadLine()
			if isStatusLine(got) && len(got)+2 > maxStatusLine {
				c.tb.Fatalf("pop3test: transcript line %d: status line of %d octets, over the %d of RFC 2449 §4", n+1, len(got)+2, maxStatusLine)
			}
			prefix, anyRest := strings.CutSuffix(want, "...")
			if got != want && !(anyRest && strings.HasPrefix(got, prefix)) {
				c.tb.Fatalf("pop3test: transcript line %d: want\n\tS: %s\ngot\n\tS: %s\nafter\n%s", n+1, want, got, indent(seen.String()))
			}
			seen.WriteString("S: " + got + "\n")
		default:
			c.tb.Fatalf("pop3test: transcript line %d is neither \"C: \" nor \"S: \": %q", n+1, l)
		}
	}
}

func indent(s string) string {
	if s == "" {
		return "\t(nothing)"
	}
	return "\t" + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n\t")
}

// isStatusLine reports whether a line read in a transcript looks like a
// status line or a SASL continuation rather than data.
func isStatusLine(l string) bool {
	return strings.HasPrefix(l, "+OK") || strings.HasPrefix(l, "-ERR") || strings.HasPrefix(l, "+ ")
}
