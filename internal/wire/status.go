package wire

import (
	"io"
	"strings"
	"unicode/utf8"
)

// maxResponseLine is the longest response line RFC 2449 §4 allows, CRLF
// included.
const maxResponseLine = 512

// CRLF ends every line the server sends.
var CRLF = []byte("\r\n")

// StringWriter is what status lines are written to: an [OutBuffer], or a
// bufio.Writer in tests.
type StringWriter interface {
	io.Writer
	io.StringWriter
}

// lineBreaks blanks out CR and LF in text that goes into a response line.
var lineBreaks = strings.NewReplacer("\r", " ", "\n", " ")

// OneLine returns s with every CR and LF blanked out, so that text from
// configuration or a backend stays on its line.
func OneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return lineBreaks.Replace(s)
}

// WriteStatus writes one status line, "+OK text" or "-ERR text" (RFC 1939
// §3), cut to fit the 512 octets of RFC 2449 §4 and with any CR or LF in text
// blanked out, so that no text a backend chooses can break the framing. An
// empty text writes the status alone.
func WriteStatus(w StringWriter, status, text string) error {
	if len(status)+1+len(text) > maxResponseLine-2 || strings.ContainsAny(text, "\r\n") {
		text = TruncateUTF8(OneLine(text), maxResponseLine-2-len(status)-1)
	}
	_, err := w.WriteString(status)
	if text != "" && err == nil {
		_, err = w.WriteString(" ")
		if err == nil {
			_, err = w.WriteString(text)
		}
	}
	if err == nil {
		_, err = w.Write(CRLF)
	}
	return err
}

// TruncateUTF8 cuts s to at most n octets without splitting a UTF-8
// sequence.
func TruncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
