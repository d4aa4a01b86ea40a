package pop3

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
)

// command is one entry of the command table: its handler, the states it
// may run in and its argument rules.
type command struct {
	handler func(s *session, args []string) error
	states  state
	// minArgs and maxArgs bound the space-separated arguments. With
	// restArg the whole rest of the line is one argument, spaces included
	// (PASS, USER).
	minArgs, maxArgs int
	restArg          bool
}

const bothStates = stateAuthorization | stateTransaction

// commands is the command table (RFC 1939 §4-6, RFC 1460 LAST, RFC 2449
// CAPA, RFC 2595 STLS, RFC 5034 AUTH).
var commands map[string]*command

func init() {
	commands = map[string]*command{
		"USER": {handler: (*session).cmdUser, states: stateAuthorization, minArgs: 1, maxArgs: 1, restArg: true},
		"PASS": {handler: (*session).cmdPass, states: stateAuthorization, minArgs: 1, maxArgs: 1, restArg: true},
		"APOP": {handler: (*session).cmdAPOP, states: stateAuthorization, minArgs: 2, maxArgs: 2},
		"AUTH": {handler: (*session).cmdAuth, states: stateAuthorization, minArgs: 0, maxArgs: 2},
		"STLS": {handler: (*session).cmdSTLS, states: stateAuthorization},
		"CAPA": {handler: (*session).cmdCapa, states: bothStates},
		"QUIT": {handler: (*session).cmdQuit, states: bothStates},
		"STAT": {handler: (*session).cmdStat, states: stateTransaction},
		"LIST": {handler: (*session).cmdList, states: stateTransaction, maxArgs: 1},
		"RETR": {handler: (*session).cmdRetr, states: stateTransaction, minArgs: 1, maxArgs: 1},
		"TOP":  {handler: (*session).cmdTop, states: stateTransaction, minArgs: 2, maxArgs: 2},
		"UIDL": {handler: (*session).cmdUidl, states: stateTransaction, maxArgs: 1},
		"DELE": {handler: (*session).cmdDele, states: stateTransaction, minArgs: 1, maxArgs: 1},
		"NOOP": {handler: (*session).cmdNoop, states: stateTransaction},
		"RSET": {handler: (*session).cmdRset, states: stateTransaction},
		"LAST": {handler: (*session).cmdLast, states: stateTransaction},
	}
}

// dispatch runs one command line. It returns an error only when the
// session must end.
func (s *session) dispatch(line []byte) error {
	name, cmd, args, err := parseCommand(line, s.state, s.argv[:0])
	if s.srv.Debug != nil {
		s.trace("C: " + redact(name, line))
	}
	if err == nil {
		err = s.runHandler(cmd, args)
	}
	if name != "USER" || err != nil {
		s.pendingUser = "" // PASS must come right after a successful USER
	}
	return s.answer(err)
}

// parseCommand splits a command line into its keyword, upper-cased, and
// its arguments (RFC 1939 §3), and checks them against the command table
// for state st. Keywords are case-insensitive; arguments are separated by
// spaces, except for a command that takes the rest of the line. A
// syntaxError reports an unknown command, one not valid in st, or a wrong
// number of arguments. The arguments are appended to args.
func parseCommand(line []byte, st state, args []string) (name string, cmd *command, _ []string, err error) {
	if hasControl(line) {
		// RFC 1939 §3: keywords and arguments are printable characters.
		// (Octets of 0x80 and up pass, for UTF-8 names and passwords.)
		return "", nil, nil, syntaxError("control character in command")
	}
	keyword, rest, _ := bytes.Cut(line, []byte{' '})
	if len(keyword) > 4 {
		return "", nil, nil, syntaxError("unknown command")
	}
	var key [4]byte
	for i, c := range keyword {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		key[i] = c
	}
	cmd = commands[string(key[:len(keyword)])]
	if cmd == nil {
		return "", nil, nil, syntaxError("unknown command")
	}
	name = string(key[:len(keyword)])
	if cmd.states&st == 0 {
		return name, nil, nil, syntaxError("command not valid in the " + st.String() + " state")
	}
	if cmd.restArg {
		if len(rest) > 0 {
			args = append(args, string(rest))
		}
	} else {
		for len(rest) > 0 && len(args) <= cmd.maxArgs {
			var field []byte
			field, rest, _ = bytes.Cut(bytes.TrimLeft(rest, " "), []byte{' '})
			if len(field) > 0 {
				args = append(args, string(field))
			}
		}
	}
	switch {
	case len(args) < cmd.minArgs:
		return name, nil, nil, syntaxError("missing argument")
	case len(args) > cmd.maxArgs:
		return name, nil, nil, syntaxError("too many arguments")
	}
	return name, cmd, args, nil
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < ' ' || c == 0x7f {
			return true
		}
	}
	return false
}

// runHandler calls a handler and recovers a panic in it, which ends the
// session without UPDATE.
func (s *session) runHandler(cmd *command, args []string) error {
	return s.backendCall("command", func() error { return cmd.handler(s, args) })
}

// answer writes the -ERR for a handler's error, or reports that the session
// must end.
func (s *session) answer(err error) error {
	if err == nil {
		return nil
	}
	var (
		se syntaxError
		fe *fatalError
	)
	switch {
	case errors.As(err, &se):
		if !s.badCommand(string(se)) {
			return errors.New("too many bad commands")
		}
		return nil
	case isPanic(err):
		_ = s.replyErr(CodeSysTemp, "internal error")
		_ = s.bw.Flush()
		return err
	case errors.As(err, &fe), errors.Is(err, errTooManyFailures):
		return err
	}
	var e *Error
	if !errors.As(err, &e) {
		// A write error, or a cancelled context: the connection is gone.
		return err
	}
	return s.replyErr(e.Code, e.Text)
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

// cmdUser handles USER (RFC 1939 §7). It always answers +OK, so that no
// one learns which users exist.
func (s *session) cmdUser(args []string) error {
	if !s.cleartextAllowed() {
		return errTLSRequired
	}
	s.pendingUser = args[0]
	return s.replyOK("send PASS")
}

var errTLSRequired = &Error{Code: CodeAuth, Text: "TLS is required for cleartext login: use STLS or the TLS port"}

// cmdPass handles PASS (RFC 1939 §7): the rest of the line, spaces
// included, is the password.
func (s *session) cmdPass(args []string) error {
	// USER has checked the cleartext policy, which cannot tighten later.
	if s.pendingUser == "" {
		return syntaxError("PASS must follow USER")
	}
	username := s.pendingUser
	s.pendingUser = ""
	return s.loginPassword(username, args[0])
}

// loginPassword checks a cleartext password (PASS, AUTH PLAIN, AUTH
// LOGIN) and logs in.
func (s *session) loginPassword(username, password string) error {
	var user User
	err := s.backendCall("login", func() (err error) {
		user, err = s.srv.Backend.Login(s.ctx, &s.info, username, password)
		return err
	})
	if err != nil {
		return s.authFailed(err)
	}
	return s.login(username, user)
}

// cmdAPOP handles APOP (RFC 1939 §7).
func (s *session) cmdAPOP(args []string) error {
	ab, ok := s.srv.Backend.(APOPBackend)
	if !ok || s.timestamp == "" {
		return &Error{Text: "APOP not supported"}
	}
	var user User
	err := s.backendCall("login", func() (err error) {
		user, err = ab.LoginAPOP(s.ctx, &s.info, args[0], s.timestamp, strings.ToLower(args[1]))
		return err
	})
	if err != nil {
		return s.authFailed(err)
	}
	return s.login(args[0], user)
}

// cmdCapa handles CAPA (RFC 2449 §5), in both states.
func (s *session) cmdCapa([]string) error {
	// RFC 2449 §5: what AUTHORIZATION offers is announced in both states.
	caps := []string{"TOP", "UIDL"}
	if s.cleartextAllowed() {
		caps = append(caps, "USER")
	}
	caps = append(caps, "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE")
	if mechs := s.saslMechanisms(); len(mechs) > 0 {
		caps = append(caps, "SASL "+strings.Join(mechs, " "))
	}
	if s.canSTLS() {
		caps = append(caps, "STLS")
	}
	if s.state == stateTransaction && s.srv.Implementation != "" {
		caps = append(caps, "IMPLEMENTATION "+s.srv.Implementation)
	}
	if err := s.replyOK("capability list follows"); err != nil {
		return err
	}
	return s.writeLines(caps)
}

// writeLines writes the lines of a multi-line response and its
// terminator. The lines come from configuration and backends (capability
// texts, mechanism names), so any CR or LF in them is replaced and a
// leading dot doubled, to keep the framing whole.
func (s *session) writeLines(lines []string) error {
	for _, l := range lines {
		l = lineBreaks.Replace(l)
		if strings.HasPrefix(l, ".") {
			l = "." + l
		}
		if _, err := s.bw.WriteString(l); err != nil {
			return err
		}
		if _, err := s.bw.Write(crlf); err != nil {
			return err
		}
	}
	_, err := s.bw.Write(dotTerminator)
	return err
}

// cmdQuit handles QUIT. In AUTHORIZATION it just ends the session (RFC 1939
// §4); in TRANSACTION it enters UPDATE (§6): the marked messages are
// removed, the lock is released, and only then is the client answered, so
// that a client reconnecting on +OK never finds the maildrop still locked.
func (s *session) cmdQuit([]string) error {
	s.quit = true
	if s.state == stateAuthorization {
		return s.replyOK("bye")
	}
	var removeErr error
	if s.nDeleted > 0 {
		indexes := make([]int, 0, s.nDeleted)
		for i, d := range s.deleted {
			if d {
				indexes = append(indexes, i)
			}
		}
		removeErr = s.backendCall("delete", func() error { return s.mbox.Delete(s.ctx, indexes) })
	}
	s.closeMailbox()
	if removeErr != nil {
		if isPanic(removeErr) {
			return removeErr
		}
		s.log.Error("pop3: removing messages failed", "err", removeErr)
		code, text := CodeSysTemp, "some deleted messages not removed"
		var e *Error
		if errors.As(removeErr, &e) {
			if e.Code != "" {
				code = e.Code
			}
			if e.Text != "" {
				text += ": " + e.Text
			}
		}
		return s.replyErr(code, text)
	}
	n, _ := s.stat()
	return s.replyf("bye, %d messages left", n)
}

// cmdStat handles STAT (RFC 1939 §5).
func (s *session) cmdStat([]string) error {
	n, size := s.stat()
	return s.replyOK(strconv.Itoa(n) + " " + strconv.FormatInt(size, 10))
}

// cmdList handles LIST and LIST n (RFC 1939 §5).
func (s *session) cmdList(args []string) error {
	if len(args) == 1 {
		i, err := s.message(args[0])
		if err != nil {
			return err
		}
		return s.replyOK(strconv.Itoa(i+1) + " " + strconv.FormatInt(s.msgs[i].Size, 10))
	}
	n, size := s.stat()
	if err := s.replyf("%d messages (%d octets)", n, size); err != nil {
		return err
	}
	return s.writeListing(func(b []byte, i int) []byte { return strconv.AppendInt(b, s.msgs[i].Size, 10) })
}

// cmdUidl handles UIDL and UIDL n (RFC 1939 §7).
func (s *session) cmdUidl(args []string) error {
	if len(args) == 1 {
		i, err := s.message(args[0])
		if err != nil {
			return err
		}
		return s.replyOK(strconv.Itoa(i+1) + " " + s.msgs[i].UID)
	}
	if err := s.replyOK("unique-id listing follows"); err != nil {
		return err
	}
	return s.writeListing(func(b []byte, i int) []byte { return append(b, s.msgs[i].UID...) })
}

// writeListing writes "n value" for every message not marked as deleted,
// then the terminator.
func (s *session) writeListing(value func(b []byte, i int) []byte) error {
	var buf [128]byte
	for i := range s.msgs {
		if s.deleted[i] {
			continue
		}
		b := strconv.AppendInt(buf[:0], int64(i+1), 10)
		b = append(b, ' ')
		b = append(value(b, i), '\r', '\n')
		if _, err := s.bw.Write(b); err != nil {
			return err
		}
	}
	_, err := s.bw.Write(dotTerminator)
	return err
}

// cmdRetr handles RETR (RFC 1939 §5).
func (s *session) cmdRetr(args []string) error {
	i, err := s.message(args[0])
	if err != nil {
		return err
	}
	r, err := s.openMessage(i, -1)
	if err != nil {
		return err
	}
	defer r.Close()
	s.nRetr++
	s.last = max(s.last, i+1)
	if err := s.replyOK(strconv.FormatInt(s.msgs[i].Size, 10) + " octets"); err != nil {
		return err
	}
	return s.writeMessage(r)
}

// cmdTop handles TOP msg n (RFC 1939 §7): the header, the blank line and
// the first n lines of the body; all of it when n is larger.
func (s *session) cmdTop(args []string) error {
	i, err := s.message(args[0])
	if err != nil {
		return err
	}
	lines, ok := parseNumber(args[1])
	if !ok {
		return syntaxError("invalid line count: " + truncate(args[1], 40))
	}
	r, err := s.openMessage(i, lines)
	if err != nil {
		return err
	}
	defer r.Close()
	s.nTop++
	if err := s.replyOK("top of message follows"); err != nil {
		return err
	}
	return s.writeMessage(r)
}

// openMessage opens message i whole (lines < 0) or, for TOP, its header and
// first lines of body, through TopMailbox when the backend has it.
func (s *session) openMessage(i, lines int) (io.ReadCloser, error) {
	var r io.ReadCloser
	err := s.backendCall("read", func() (err error) {
		if tm, ok := s.mbox.(TopMailbox); ok && lines >= 0 {
			r, err = tm.Top(s.ctx, i, lines)
			return err
		}
		r, err = s.mbox.Message(s.ctx, i)
		return err
	})
	if err != nil {
		if isPanic(err) {
			return nil, err
		}
		return nil, s.userFacingError("read", err)
	}
	if lines >= 0 {
		if _, ok := s.mbox.(TopMailbox); !ok {
			r = newTopReader(r, lines)
		}
	}
	return r, nil
}

// cmdDele handles DELE (RFC 1939 §5): it only marks the message; UPDATE
// removes it.
func (s *session) cmdDele(args []string) error {
	i, err := s.message(args[0])
	if err != nil {
		return err
	}
	s.deleted[i] = true
	s.nDeleted++
	s.sizeDeleted += s.msgs[i].Size
	s.nDele++
	s.last = max(s.last, i+1)
	return s.replyOK("message " + strconv.Itoa(i+1) + " deleted")
}

// cmdNoop handles NOOP (RFC 1939 §5).
func (s *session) cmdNoop([]string) error { return s.replyOK("") }

// cmdRset handles RSET (RFC 1939 §5): every mark is removed, and LAST is
// back to 0 (RFC 1460).
func (s *session) cmdRset([]string) error {
	clear(s.deleted)
	s.nDeleted, s.sizeDeleted, s.last = 0, 0, 0
	n, size := s.stat()
	return s.replyf("maildrop has %d messages (%d octets)", n, size)
}

// cmdLast handles LAST (RFC 1460 §5, dropped by RFC 1725): the highest
// message number accessed by RETR or DELE in this session.
func (s *session) cmdLast([]string) error { return s.replyOK(strconv.Itoa(s.last)) }
