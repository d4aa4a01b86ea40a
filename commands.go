package pop3

import (
	"bytes"
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

// cmdNoop handles NOOP (RFC 1939 §5).
func (s *session) cmdNoop([]string) error { return s.replyOK("") }
