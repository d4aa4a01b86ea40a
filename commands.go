package pop3

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"unsafe"
)

// command is one entry of the command table: its handler, the states it
// may run in and its argument rules.
type command struct {
	name    string // the keyword, upper-case
	handler func(s *session, args []string) error
	states  state
	// minArgs and maxArgs bound the space-separated arguments. With
	// restArg the whole rest of the line is one argument, spaces included
	// (PASS, USER).
	minArgs, maxArgs int
	restArg          bool
	// borrowedArgs passes the arguments as views of the command line,
	// which the next read overwrites, so that the commands a session
	// repeats most allocate nothing. Their handlers only parse numbers
	// from them and must not keep them.
	borrowedArgs bool
	// ext is the extension the command belongs to, which Server.Disable
	// can remove; empty for a command that is always there.
	ext Extension
}

const bothStates = stateAuthorization | stateTransaction

// commands is the command table (RFC 1939 §4-6, RFC 1460 LAST, RFC 2449
// CAPA, RFC 2595 STLS, RFC 5034 AUTH, RFC 6856 UTF8 and LANG).
var commands map[string]*command

func init() {
	commands = map[string]*command{
		"USER": {handler: (*session).cmdUser, states: stateAuthorization, minArgs: 1, maxArgs: 1, restArg: true, ext: ExtUSER},
		"PASS": {handler: (*session).cmdPass, states: stateAuthorization, minArgs: 1, maxArgs: 1, restArg: true, ext: ExtUSER},
		"APOP": {handler: (*session).cmdAPOP, states: stateAuthorization, minArgs: 2, maxArgs: 2, ext: ExtAPOP},
		"AUTH": {handler: (*session).cmdAuth, states: stateAuthorization, minArgs: 0, maxArgs: 2, ext: ExtSASL},
		"STLS": {handler: (*session).cmdSTLS, states: stateAuthorization, ext: ExtSTLS},
		"UTF8": {handler: (*session).cmdUTF8, states: stateAuthorization, ext: ExtUTF8},
		"CAPA": {handler: (*session).cmdCapa, states: bothStates, ext: ExtCAPA},
		"LANG": {handler: (*session).cmdLang, states: bothStates, maxArgs: 1, ext: ExtLANG},
		"QUIT": {handler: (*session).cmdQuit, states: bothStates},
		"STAT": {handler: (*session).cmdStat, states: stateTransaction},
		"LIST": {handler: (*session).cmdList, states: stateTransaction, maxArgs: 1, borrowedArgs: true},
		"RETR": {handler: (*session).cmdRetr, states: stateTransaction, minArgs: 1, maxArgs: 1, borrowedArgs: true},
		"TOP":  {handler: (*session).cmdTop, states: stateTransaction, minArgs: 2, maxArgs: 2, borrowedArgs: true, ext: ExtTOP},
		"UIDL": {handler: (*session).cmdUidl, states: stateTransaction, maxArgs: 1, borrowedArgs: true, ext: ExtUIDL},
		"DELE": {handler: (*session).cmdDele, states: stateTransaction, minArgs: 1, maxArgs: 1, borrowedArgs: true},
		"NOOP": {handler: (*session).cmdNoop, states: stateTransaction},
		"RSET": {handler: (*session).cmdRset, states: stateTransaction},
		"LAST": {handler: (*session).cmdLast, states: stateTransaction, ext: ExtLAST},
	}
	for name, cmd := range commands {
		cmd.name = name
	}
}

// parseCommand splits a command line into its keyword, upper-cased, and
// its arguments (RFC 1939 §3), and checks them against the command table
// for state st. Keywords are case-insensitive; arguments are separated by
// spaces, except for a command that takes the rest of the line. A
// syntaxError reports an unknown command, one not valid in st, or a wrong
// number of arguments. A command of an extension not in exts is unknown.
// The arguments are appended to args.
func parseCommand(line []byte, st state, exts extensionSet, args []string) (name string, cmd *command, _ []string, err error) {
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
	if cmd == nil || cmd.ext != "" && !exts.has(cmd.ext) {
		return "", nil, nil, syntaxError("unknown command")
	}
	name = cmd.name
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
			switch {
			case len(field) == 0:
			case cmd.borrowedArgs:
				args = append(args, unsafe.String(&field[0], len(field)))
			default:
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

// cmdQuit handles QUIT. In AUTHORIZATION it just ends the session (RFC 1939
// §4); in TRANSACTION it enters UPDATE (§6).
func (s *session) cmdQuit([]string) error {
	if s.state == stateTransaction {
		return s.update()
	}
	if err := s.replyOK("bye"); err != nil {
		return err
	}
	return endQuit
}

// cmdStat handles STAT (RFC 1939 §5). Its size is the stored one, even
// for a client that gets messages downgraded: RFC 6856 §2.1 asks only
// LIST to match what RETR sends, and STAT must not read every message.
func (s *session) cmdStat([]string) error {
	n, size := s.drop.stat()
	var buf [48]byte
	return s.replyOKData(appendPair(buf[:0], int64(n), " ", size, ""))
}

// appendPair appends a, sep, c and suffix: a reply text with two numbers,
// made without allocating.
func appendPair(b []byte, a int64, sep string, c int64, suffix string) []byte {
	b = strconv.AppendInt(b, a, 10)
	b = append(b, sep...)
	b = strconv.AppendInt(b, c, 10)
	return append(b, suffix...)
}

// cmdList handles LIST and LIST n (RFC 1939 §5).
func (s *session) cmdList(args []string) error {
	if len(args) == 1 {
		i, err := s.drop.lookup(args[0])
		if err != nil {
			return err
		}
		size, err := s.listedSize(i)
		if err != nil {
			return err
		}
		var buf [48]byte
		return s.replyOKData(appendPair(buf[:0], int64(i+1), " ", size, ""))
	}
	n, size := s.drop.stat()
	if s.downgrading() {
		// Every size before the +OK, which no error may follow.
		for i := range s.drop.count() {
			if s.drop.isMarked(i) {
				continue
			}
			d, err := s.sizeDelta(i)
			if err != nil {
				return err
			}
			size += d
		}
	}
	var buf [64]byte
	if err := s.replyOKBytes(appendPair(buf[:0], int64(n), messagesOpen(n), size, " octets)")); err != nil {
		return err
	}
	return s.writeListing(false)
}

// cmdUidl handles UIDL and UIDL n (RFC 1939 §7).
func (s *session) cmdUidl(args []string) error {
	if len(args) == 1 {
		i, err := s.drop.lookup(args[0])
		if err != nil {
			return err
		}
		var buf [96]byte
		b := strconv.AppendInt(buf[:0], int64(i+1), 10)
		return s.replyOKData(append(append(b, ' '), s.drop.info(i).UID...))
	}
	if err := s.replyOK("unique-id listing follows"); err != nil {
		return err
	}
	return s.writeListing(true)
}

// cmdRetr handles RETR (RFC 1939 §5). It checks the octets sent against
// the listed size, which clients rely on (RFC 1939 §11): a backend that
// gets it wrong is logged, once per maildrop.
func (s *session) cmdRetr(args []string) error {
	i, err := s.drop.lookup(args[0])
	if err != nil {
		return err
	}
	r, err := s.openMessage(i, -1)
	if err != nil {
		return err
	}
	defer r.Close()
	info := s.drop.info(i)
	size := info.Size
	if s.downgrading() {
		body, n, err := s.downgradeMessage(i, r)
		if err != nil {
			return err
		}
		if body != io.Reader(r) {
			r = readCloser{body, r}
		}
		size = n
	}
	s.retrieved++
	s.drop.access(i)
	var buf [32]byte
	if err := s.replyOKBytes(append(strconv.AppendInt(buf[:0], size, 10), " octets"...)); err != nil {
		return err
	}
	sent, err := s.writeMessage(r)
	if err == nil && s.expire.removesRetrieved() {
		s.drop.retrieve(i)
	}
	if err == nil && sent != size && !s.drop.sizeMismatchLogged {
		s.drop.sizeMismatchLogged = true
		s.logger().Warn("pop3: backend listed a message size other than the octets sent; clients may reject the message (see pop3.CRLFSize)",
			"uid", info.UID, "listed", size, "sent", sent)
	}
	return err
}

// cmdTop handles TOP msg n (RFC 1939 §7): the header, the blank line and
// the first n lines of the body; all of it when n is larger.
func (s *session) cmdTop(args []string) error {
	i, err := s.drop.lookup(args[0])
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
	if s.downgrading() {
		body, _, err := s.downgradeMessage(i, r)
		if err != nil {
			return err
		}
		if body != io.Reader(r) {
			r = readCloser{body, r}
		}
	}
	s.topped++
	if err := s.replyOK("top of message follows"); err != nil {
		return err
	}
	_, err = s.writeMessage(r)
	return err
}

// openMessage opens message i whole (lines < 0) or, for TOP, its header and
// first lines of body, through TopMailbox when the backend has it.
func (s *session) openMessage(i, lines int) (io.ReadCloser, error) {
	var (
		r   io.ReadCloser
		err error
	)
	tm, hasTop := s.drop.box.(TopMailbox)
	switch {
	case lines < 0:
		r, err = s.drop.box.Message(s.ctx, i)
	case hasTop:
		r, err = tm.Top(s.ctx, i, lines)
	default:
		if r, err = s.drop.box.Message(s.ctx, i); err == nil && r != nil {
			r = newTopReader(r, lines)
		}
	}
	if err == nil && r == nil {
		call := "Mailbox.Message"
		if hasTop && lines >= 0 {
			call = "TopMailbox.Top"
		}
		err = errors.New("pop3: " + call + " returned a nil reader and a nil error")
	}
	if err != nil {
		return nil, s.userFacingError("read", err)
	}
	return r, nil
}

// cmdDele handles DELE (RFC 1939 §5): it only marks the message; UPDATE
// removes it.
func (s *session) cmdDele(args []string) error {
	i, err := s.drop.lookup(args[0])
	if err != nil {
		return err
	}
	s.drop.mark(i)
	var buf [32]byte
	b := append(buf[:0], "message "...)
	return s.replyOKBytes(append(strconv.AppendInt(b, int64(i+1), 10), " deleted"...))
}

// cmdNoop handles NOOP (RFC 1939 §5).
func (s *session) cmdNoop([]string) error { return s.replyOK("") }

// cmdRset handles RSET (RFC 1939 §5): every mark is removed, and LAST is
// back to 0 (RFC 1460).
func (s *session) cmdRset([]string) error {
	s.drop.reset()
	return s.replyMaildrop()
}

// cmdLast handles LAST (RFC 1460 §5, dropped by RFC 1725): the highest
// message number accessed by RETR or DELE in this session.
func (s *session) cmdLast([]string) error {
	var buf [24]byte
	return s.replyOKData(strconv.AppendInt(buf[:0], int64(s.drop.last), 10))
}

// replyMaildrop answers a login or RSET with what the maildrop holds.
func (s *session) replyMaildrop() error {
	n, size := s.drop.stat()
	var buf [80]byte
	b := append(buf[:0], "maildrop has "...)
	return s.replyOKBytes(appendPair(b, int64(n), messagesOpen(n), size, " octets)"))
}

// messagesOpen is the noun after a count of n messages, and the
// parenthesis that opens their size.
func messagesOpen(n int) string {
	if n == 1 {
		return " message ("
	}
	return " messages ("
}
