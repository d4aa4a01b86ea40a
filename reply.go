package pop3

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gopop3/pop3/internal/wire"
)

// sessionEnd is how anything in a session ends it: a handler, the read
// loop or the login path returns one, and answer writes its reply (the
// command's one and only -ERR, if any) and closes the connection. QUIT,
// whose last reply is "+OK", writes it itself and returns a sessionEnd
// without reply.
type sessionEnd struct {
	reason EndReason
	reply  *Error // the last reply; nil for none
	cause  error  // for the log; nil for an orderly end
}

func (e *sessionEnd) Error() string {
	if e.cause != nil {
		return string(e.reason) + ": " + e.cause.Error()
	}
	return string(e.reason)
}

func (e *sessionEnd) Unwrap() error { return e.cause }

// endSession returns the error that ends the session for reason, after
// reply when it is not nil.
func endSession(reason EndReason, reply *Error, cause error) error {
	return &sessionEnd{reason: reason, reply: reply, cause: cause}
}

// endQuit ends the session after a successful QUIT, whose "+OK" is
// written already. It is shared: a sessionEnd is never changed once made.
var endQuit error = &sessionEnd{reason: EndQuit}

// syntaxError is a malformed command: answered "-ERR text" and counted as a
// bad command.
type syntaxError string

func (e syntaxError) Error() string { return string(e) }

// answer turns what a handler returned into the command's reply, when the
// handler did not write one, and returns a *sessionEnd when the session
// must end: an *Error is the -ERR; a syntaxError a counted bad command;
// any other error a failed connection, which gets no reply.
func (s *session) answer(err error) *sessionEnd {
	if err == nil {
		return nil
	}
	// The concrete types first, as handlers return them: errors.As
	// costs an allocation per target, on every -ERR.
	end, _ := err.(*sessionEnd)
	se, isSyntax := err.(syntaxError)
	e, _ := err.(*Error)
	if end == nil && !isSyntax && e == nil {
		// Declared here, so that only a wrapped error pays for the
		// variables errors.As makes escape.
		var (
			asEnd *sessionEnd
			asSe  syntaxError
			asE   *Error
		)
		switch {
		case errors.As(err, &asEnd):
			end = asEnd
		case errors.As(err, &asSe):
			se, isSyntax = asSe, true
		case errors.As(err, &asE):
			e = asE
		default:
			// A write error, or a context cancelled by Close.
			end = &sessionEnd{reason: EndError, cause: err}
		}
	}
	switch {
	case end != nil:
	case isSyntax:
		if err := s.badCommand(string(se)); err != nil {
			return s.answer(err)
		}
		return nil
	default:
		if err := s.replyErr(e); err != nil {
			return &sessionEnd{reason: EndError, cause: err}
		}
		return nil
	}
	if end.reply != nil {
		_ = s.replyErr(end.reply)
	}
	switch end.reason {
	case EndQuit, EndAuthFailures, EndBadCommands, EndPanic:
		// The client is there and reading: the last reply gets the usual
		// write timeout.
		_ = s.c.flush()
	default:
		// The client may be gone, or stopped reading long ago.
		s.c.goodbye()
	}
	return end
}

// badCommand counts an unknown, malformed or wrong-state command and
// answers it; only answer calls it. The command that passes the limit gets
// one -ERR that says both why it failed and that the connection closes, so
// that a pipelining client can still pair replies with commands;
// badCommand then returns the sessionEnd.
func (s *session) badCommand(text string) error {
	s.counts.badCommands++
	if s.counts.badCommands > s.srv.maxBadCommands(s.state) {
		return endSession(EndBadCommands, &Error{Text: text + "; too many bad commands, closing connection"}, nil)
	}
	return s.replyErr(&Error{Text: text})
}

// userFacingError turns an error from a backend into the -ERR the client
// sees. An *Error is shown as it is; anything else is logged and shown as
// a generic [CodeSysTemp] "op failed".
func (s *session) userFacingError(op string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	s.logger().Error("pop3: backend error", "op", op, "err", err)
	return &Error{Code: CodeSysTemp, Text: op + " failed, try again later"}
}

// The session writes status lines through two writers: writeStatus for a
// text, writeStatusBytes for a text the server made of numbers and fixed
// words, without allocating. replyOK, replyOKBytes and replyErr only choose
// the text: translated into the session's language (RFC 6856 §3), with
// the response code where it may go.

// writeStatus writes one status line with text as it is: translated
// already, or with parts no language changes (a response code, a
// language tag).
func (s *session) writeStatus(status, text string) error {
	s.cmd.replied, s.cmd.status, s.cmd.code = true, status, ""
	if s.srv.Debug != nil {
		s.trace("S: " + status + " " + text)
	}
	return wire.WriteStatus(&s.c.out, status, text)
}

// writeStatusBytes writes "+OK text" for a text that is short, without CR
// or LF, and in no language: numbers, a unique-id, or replyOKBytes's text
// when the session has no language set.
func (s *session) writeStatusBytes(text []byte) error {
	s.cmd.replied, s.cmd.status, s.cmd.code = true, "+OK", ""
	if s.srv.Debug != nil {
		s.trace("S: +OK " + string(text))
	}
	if _, err := s.c.out.WriteString("+OK "); err != nil {
		return err
	}
	if _, err := s.c.out.Write(text); err != nil {
		return err
	}
	_, err := s.c.out.Write(wire.CRLF)
	return err
}

// replyOK writes "+OK text", its text in the session's language.
func (s *session) replyOK(text string) error {
	if s.lang != nil {
		text = s.translate(text)
	}
	return s.writeStatus("+OK", text)
}

// replyOKBytes is replyOK for a text the server made of numbers and fixed
// words, which it writes without allocating unless a language is set.
func (s *session) replyOKBytes(text []byte) error {
	if s.lang != nil {
		return s.replyOK(string(text))
	}
	return s.writeStatusBytes(text)
}

// replyErr writes e as "-ERR [CODE] text". A code that cannot stand in
// brackets (RFC 2449 §8) is a backend bug: logged and left out.
func (s *session) replyErr(e *Error) error {
	text, code := s.translate(e.Text), e.Code
	if code != "" && !s.sendsCode(code) {
		code = ""
	}
	if code != "" {
		if validCode(code) {
			text = "[" + code + "] " + text
		} else {
			s.logger().Error("pop3: invalid response code dropped", "code", code)
			code = ""
		}
	}
	err := s.writeStatus("-ERR", text) // translated above, without the code
	s.cmd.code = code
	return err
}

// sendsCode reports whether a reply may carry code: not without
// RESP-CODES (RFC 2449 §8), and [AUTH] not without AUTH-RESP-CODE (RFC
// 3206 §5).
func (s *session) sendsCode(code string) bool {
	exts := s.srv.exts
	return exts.has(ExtRespCodes) && (code != CodeAuth || exts.has(ExtAuthRespCode))
}

// trace writes one line of the protocol trace to Server.Debug.
func (s *session) trace(line string) {
	if s.srv.Debug == nil {
		return
	}
	s.srv.debugMu.Lock()
	defer s.srv.debugMu.Unlock()
	fmt.Fprintf(s.srv.Debug, "%d %s\n", s.id, line)
}

// redact hides what can carry a credential in a traced command line. A
// line that is not a known command is not shown at all: it may be a
// password or a SASL response sent out of turn.
func redact(keyword string, line []byte) string {
	switch keyword {
	case "":
		return "<unrecognised line of " + strconv.Itoa(len(line)) + " octets>"
	case "PASS":
		return "PASS <redacted>"
	case "APOP":
		if f := strings.Fields(string(line)); len(f) >= 2 {
			return "APOP " + f[1] + " <redacted>"
		}
	case "AUTH":
		if f := strings.Fields(string(line)); len(f) >= 3 {
			return "AUTH " + f[1] + " <redacted>"
		}
	}
	return string(line)
}

// writeLines writes the lines of a multi-line response and its
// terminator. The lines come from configuration and backends (capability
// texts, mechanism names), so any CR or LF in them is replaced and a
// leading dot doubled, to keep the framing whole.
func (s *session) writeLines(lines []string) error {
	for _, l := range lines {
		l = wire.OneLine(l)
		if strings.HasPrefix(l, ".") {
			l = "." + l
		}
		if _, err := s.c.out.WriteString(l); err != nil {
			return err
		}
		if _, err := s.c.out.Write(wire.CRLF); err != nil {
			return err
		}
	}
	_, err := s.c.out.Write(wire.Terminator)
	return err
}

// writeMessage streams r as a multi-line body and returns the octets of
// content sent. Any failure, of the reader or of the connection, ends the
// session: a half-sent message must not be followed by anything that
// could make it look complete.
func (s *session) writeMessage(r io.Reader) (int64, error) {
	n, err := s.c.dot.Stream(r)
	if err != nil {
		// Send what was read, so that the client sees a truncated message
		// rather than nothing, then hang up.
		_ = s.c.flush()
		return n, endSession(EndError, nil, err)
	}
	return n, nil
}

// writeContinuation sends a SASL challenge: "+ " and its base64 (RFC 5034
// §4).
func (s *session) writeContinuation(challenge []byte) error {
	s.trace("S: + <challenge>")
	if _, err := s.c.out.WriteString("+ "); err != nil {
		return err
	}
	enc := base64.StdEncoding
	var buf [512]byte
	if n := enc.EncodedLen(len(challenge)); n <= len(buf) {
		enc.Encode(buf[:n], challenge)
		if _, err := s.c.out.Write(buf[:n]); err != nil {
			return err
		}
	} else if _, err := s.c.out.WriteString(enc.EncodeToString(challenge)); err != nil {
		return err
	}
	_, err := s.c.out.Write(wire.CRLF)
	return err
}

// shorten cuts s to at most n octets and marks the cut with "...": for a
// client's argument quoted in a reply or a log. The cut is on a UTF-8
// boundary, so that a reply to a UTF8 client stays UTF-8 (RFC 6856 §2),
// unless s has none there, not being UTF-8 anyway.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := wire.TruncateUTF8(s, n)
	if cut == "" {
		cut = s[:n]
	}
	return cut + "..."
}
