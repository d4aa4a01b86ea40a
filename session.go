package pop3

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gopop3/pop3/internal/wire"
)

// state is a session's RFC 1939 state. UPDATE is not kept as a state: it is
// the step QUIT takes on its way out of TRANSACTION.
type state uint8

const (
	stateAuthorization state = 1 << iota // RFC 1939 §4
	stateTransaction                     // RFC 1939 §5
)

func (st state) String() string {
	if st == stateTransaction {
		return "TRANSACTION"
	}
	return "AUTHORIZATION"
}

// session is one client connection's RFC 1939 state machine: the command
// loop, login and UPDATE. Its connection I/O is in conn, its view of the
// open maildrop in drop.
type session struct {
	srv    *Server
	id     uint64
	log    *slog.Logger       // see logger; nil until its first use
	ctx    context.Context    // carries &info; cancelled when the session ends
	cancel context.CancelFunc // the root of ctx; closeHard calls it
	// cancelConn cancels ctx when ConnContext's context does not hang
	// from the root; set by setup when there is a ConnContext, called by
	// finish.
	cancelConn context.CancelFunc
	infoCtx    infoContext // what ctx points to
	c          conn
	info       ConnInfo
	peer       peerKey // what MaxConnectionsPerIP counted it under; zero for none
	// trustedNet: the client is in Server.TrustedNetworks.
	trustedNet bool

	state        state
	started      time.Time
	authDeadline time.Time // zero: no AuthTimeout
	timestamp    string    // APOP greeting timestamp; empty without APOP
	pendingUser  string    // the name from USER, kept only until the next command
	cmd          commandState
	counts       sessionCounts

	// After login: who, how, and the maildrop.
	username string
	method   string    // "USER", "APOP" or "AUTH <mechanism>"
	drop     *maildrop // allocated at login: an idle session does not carry it

	// The user's LOGIN-DELAY and EXPIRE (RFC 2449 §6.5, §6.7), set at
	// login.
	loginDelay time.Duration
	expire     Expire

	utf8 bool    // UTF-8 mode, after the UTF8 command (RFC 6856 §2)
	lang *locale // the language of replies after LANG; nil for English

	end *sessionEnd // how the session ended, for the log record
}

// commandState is what the session knows of the command being answered.
type commandState struct {
	argv    [3]string // parseCommand's arguments, reused
	name    string    // the keyword; empty for an unknown command
	replied bool      // the command's status line is written
	// The last status line's status and response code, for Hooks.Command.
	status, code string
}

// sessionCounts are the session's counters, for its limits, Hooks and the
// session-ended log record.
type sessionCounts struct {
	badCommands   int   // since login, or since the start
	authFailures  int   // failed logins
	retrieved     int   // RETR commands served
	topped        int   // TOP commands served
	removed       int   // messages removed at UPDATE
	bytesReported int64 // octets sent that Hooks.Command has reported
}

// newSession prepares conn's session. It runs in the accept loop, so it
// calls nothing slow, nor anything of conn's (see Server.startSession):
// setup, in the session's goroutine, does the rest.
func newSession(srv *Server, base context.Context, nc net.Conn) *session {
	s := &session{srv: srv, state: stateAuthorization, id: srv.connID.Add(1)}
	s.c.init(nc, srv.writeTimeout())
	// Cancelled by closeHard, which may come before setup; the context
	// setup derives from it is then born cancelled.
	s.ctx, s.cancel = context.WithCancel(base)
	return s
}

// setup learns the connection's addresses and makes the session's
// context, which carries its ConnInfo.
func (s *session) setup() {
	nc := s.c.nc
	s.info = ConnInfo{ID: s.id, RemoteAddr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr(), Domain: s.srv.domain()}
	ctx := s.ctx
	if s.srv.ConnContext != nil {
		// A context of its own on top of ConnContext's, which might not
		// hang from s.ctx: the session's context must end with the session.
		ctx, s.cancelConn = context.WithCancel(s.connContext(s.ctx, nc))
	}
	s.infoCtx = infoContext{Context: ctx, info: &s.info}
	s.ctx = &s.infoCtx
}

// infoContext is what context.WithValue(ctx, connInfoKey{}, info) would
// be, kept inside the session rather than allocated apart.
type infoContext struct {
	context.Context
	info *ConnInfo
}

func (c *infoContext) Value(key any) any {
	if key == (connInfoKey{}) {
		return c.info
	}
	return c.Context.Value(key)
}

// logger is the session's logger: the server's, with the connection's
// attributes. It is made at its first use, and again after login or TLS
// add attributes, so that a session that logs nothing but its last record
// does not pay for it.
func (s *session) logger() *slog.Logger {
	if s.log == nil {
		s.log = slog.New(s.srv.logger().Handler().WithAttrs(s.logAttrs(nil)))
	}
	return s.log
}

// logAttrs appends the attributes that every record of the session
// carries: the connection, and once known, its TLS version and user.
func (s *session) logAttrs(attrs []slog.Attr) []slog.Attr {
	attrs = append(attrs, slog.Uint64("conn", s.id), slog.String("remote", addrString(s.info.RemoteAddr)))
	if s.info.TLS != nil {
		attrs = append(attrs, slog.String("tls_version", tls.VersionName(s.info.TLS.Version)))
	}
	if s.username != "" {
		attrs = append(attrs, slog.String("user", s.username))
	}
	return attrs
}

// connContext is Server.ConnContext's context for nc, or base when there
// is none, or when it returns nil or panics: the accept loop must not die
// of it.
func (s *session) connContext(base context.Context, nc net.Conn) (ctx context.Context) {
	if s.srv.ConnContext == nil {
		return base
	}
	defer func() {
		if v := recover(); v != nil {
			s.logger().Error("pop3: panic in Server.ConnContext; using the base context", "panic", v)
			ctx = base
		}
	}()
	if ctx = s.srv.ConnContext(base, nc); ctx == nil {
		s.logger().Error("pop3: Server.ConnContext returned a nil context; using the base context")
		ctx = base
	}
	return ctx
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// interruptIdle is Shutdown's way to end a session gracefully.
func (s *session) interruptIdle() { s.c.interruptIdle() }

// closeHard is Close's way to end a session at once, without UPDATE.
func (s *session) closeHard() {
	s.c.closeHard()
	s.cancel()
}

// serve runs the session to its end.
func (s *session) serve() {
	s.started = time.Now()
	defer s.finish()
	defer s.recoverPanic("session", nil)
	if h := s.srv.Hooks; h != nil && h.ConnAccepted != nil {
		callHook(s.srv, "ConnAccepted", h.ConnAccepted, &s.info)
	}
	if d := s.srv.authTimeout(); d > 0 {
		s.authDeadline = s.started.Add(d)
	}
	if s.srv.TrustedConn != nil {
		s.info.Trusted = s.srv.TrustedConn(s.c.nc)
	}
	s.trustedNet = s.srv.inTrustedNetwork(s.info.RemoteAddr)
	if tc, ok := s.c.nc.(*tls.Conn); ok {
		// Implicit TLS (RFC 8314 §3.3): the greeting comes after the
		// handshake.
		if err := s.handshake(tc); err != nil {
			s.end = &sessionEnd{reason: EndTLSHandshake, cause: err}
			return
		}
	}
	if s.end = s.answer(s.greet()); s.end != nil {
		return
	}
	for {
		line, err := s.readCommand()
		if err != nil {
			s.end = s.answer(s.readError(err))
		} else if h := s.srv.Hooks; h != nil && h.Command != nil {
			s.end = s.observeCommand(h, line)
		} else {
			s.end = s.answer(s.dispatch(line))
		}
		if s.end != nil {
			return
		}
	}
}

// observeCommand runs and answers a command line as the loop in serve
// does, and reports it to Hooks.Command.
func (s *session) observeCommand(h *Hooks, line []byte) *sessionEnd {
	start := time.Now()
	s.cmd.status, s.cmd.code = "", ""
	end := s.answer(s.dispatch(line))
	ev := CommandEvent{Conn: &s.info, Name: s.cmd.name, Status: s.cmd.status, Code: s.cmd.code,
		Duration: time.Since(start), BytesSent: s.c.bytesOut - s.counts.bytesReported}
	s.counts.bytesReported = s.c.bytesOut
	callHook(s.srv, "Command", h.Command, ev)
	return end
}

// handshake completes a TLS handshake, implicit or after STLS, and records
// its state.
func (s *session) handshake(tc *tls.Conn) error {
	st, err := s.c.handshake(s.ctx, tc)
	if err != nil {
		return err
	}
	s.info.TLS = st
	s.log = nil // now with the TLS version
	return nil
}

func (s *session) greet() error {
	text := s.srv.Greeting
	if text == "" {
		text = "POP3 server ready"
	}
	// Leave room for the timestamp: the line may be cut, the timestamp not.
	text = wire.TruncateUTF8(text, 300)
	if _, ok := s.srv.Backend.(APOPBackend); ok && s.srv.exts.has(ExtAPOP) {
		if s.srv.fixedTimestamp != nil {
			s.timestamp = s.srv.fixedTimestamp()
		} else {
			s.timestamp = newTimestamp(s.info.Domain)
		}
		text += " " + s.timestamp
	}
	return s.replyOK(text)
}

// dispatch runs one command line and returns what answer needs: nil when
// the handler has replied, otherwise the error to answer.
func (s *session) dispatch(line []byte) (err error) {
	s.cmd.replied = false
	name, cmd, args, err := parseCommand(line, s.state, s.srv.exts, s.cmd.argv[:0])
	s.cmd.name = name
	if s.srv.Debug != nil {
		s.trace("C: " + redact(name, line))
	}
	if err == nil {
		err = s.runHandler(cmd, args)
	}
	if name != "USER" || err != nil {
		s.pendingUser = "" // PASS must come right after a successful USER
	}
	return err
}

// runHandler calls a handler. Every backend call but Mailbox.Close is made
// from a handler, so this one recover catches a panic in any of them: it
// ends the session, without UPDATE, after an "internal error" -ERR with
// code CodeSysTemp, unless the command had replied already (a panic in a
// message reader, mid-body): then the connection just closes, so that the
// client sees a truncated response rather than a -ERR inside it.
func (s *session) runHandler(cmd *command, args []string) (err error) {
	defer s.recoverPanic("command", &err)
	return cmd.handler(s, args)
}

// recoverPanic, deferred, logs a panic and, when err is not nil, turns it
// into the sessionEnd that answers it.
func (s *session) recoverPanic(where string, err *error) {
	v := recover()
	if v == nil {
		return
	}
	frames := panicFrames()
	s.logger().Error("pop3: panic", "in", where, "panic", v, "at", firstFrame(frames), "stack", strings.Join(frames, " < "))
	reply := &Error{Code: CodeSysTemp, Text: "internal error"}
	if s.cmd.replied {
		reply = nil
	}
	end := endSession(EndPanic, reply, nil)
	if err != nil {
		*err = end
	} else if s.end == nil {
		s.end = end.(*sessionEnd)
	}
}

// maxPanicFrames bounds the stack logged for a panic.
const maxPanicFrames = 32

// panicFrames lists the calls that led to the panic being recovered, the
// panicking function first, as "import/path.Func (file.go:line)", without
// the runtime's own frames. The full path tells a backend's function from
// the standard library's, as pop3test does when it names the method that
// panicked. The log keeps them on one line: a multi-line
// stack would reach a text log as one quoted value full of \n\t escapes.
func panicFrames() []string {
	pcs := make([]uintptr, maxPanicFrames+16)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	var out []string
	for len(out) < maxPanicFrames {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "runtime.") && f.Function != "" {
			out = append(out, f.Function+" ("+filepath.Base(f.File)+":"+strconv.Itoa(f.Line)+")")
		}
		if !more {
			break
		}
	}
	return out
}

func firstFrame(frames []string) string {
	if len(frames) == 0 {
		return ""
	}
	return frames[0]
}

// finish ends the session: no UPDATE, the maildrop closed once, the
// connection closed, one log record that says why.
func (s *session) finish() {
	s.closeMailbox()
	closedHard := s.c.close()
	if s.cancelConn != nil {
		s.cancelConn()
	}
	s.cancel()
	end := s.end
	if end == nil {
		end = &sessionEnd{reason: EndError}
	}
	reason := end.reason
	if closedHard && reason != EndQuit {
		reason = EndServerClosed
	}
	// LogAttrs with a fixed array and without the logger's With: the
	// record costs no allocation of its own, at one per session.
	var buf [15]slog.Attr
	attrs := append(s.logAttrs(buf[:0]), slog.String("reason", string(reason)),
		slog.Duration("duration", time.Since(s.started).Round(time.Millisecond)))
	if s.method != "" {
		attrs = append(attrs, slog.String("method", s.method))
	}
	attrs = append(attrs, slog.Bool("tls", s.info.TLS != nil), slog.Int("retr", s.counts.retrieved),
		slog.Int("top", s.counts.topped), slog.Int("deleted", s.counts.removed), slog.Int64("bytes_out", s.c.bytesOut))
	if end.cause != nil && !closedHard && !errors.Is(end.cause, io.EOF) {
		attrs = append(attrs, slog.Any("err", end.cause))
	}
	s.srv.logger().LogAttrs(context.Background(), slog.LevelInfo, "pop3: session ended", attrs...)
	if h := s.srv.Hooks; h != nil && h.SessionEnded != nil {
		ev := SessionEndEvent{Conn: &s.info, Reason: reason, Username: s.username, Method: s.method,
			Duration: time.Since(s.started), Retrieved: s.counts.retrieved, Deleted: s.counts.removed,
			BytesSent: s.c.bytesOut - s.counts.bytesReported, TotalBytesSent: s.c.bytesOut}
		if end.cause != nil && !closedHard && !errors.Is(end.cause, io.EOF) {
			ev.Err = end.cause
		}
		callHook(s.srv, "SessionEnded", h.SessionEnded, ev)
	}
}

// readCommand flushes pending replies unless more commands are buffered,
// arms the read deadlines, and reads one command line.
func (s *session) readCommand() ([]byte, error) {
	flush := s.c.flushUnlessPipelined
	if !s.srv.exts.has(ExtPipelining) {
		// Each reply goes out as soon as it is made, as from a server
		// that reads one command at a time.
		flush = s.c.flush
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if err := s.awaitInput(); err != nil {
		return nil, err
	}
	return s.c.lines.ReadLine(s.srv.maxLineLength(), s.srv.maxAuthLineLength())
}

// awaitInput arms the idle timeout, and before login the authorization
// timeout, before a read of client input, and reports a shutdown. The check
// comes after the deadline is set: Shutdown sets its flag before it moves
// the deadline, so one of the two always stops the read.
func (s *session) awaitInput() error {
	var deadline time.Time
	if d := s.srv.idleTimeout(); d > 0 {
		deadline = time.Now().Add(d)
	}
	if s.state == stateAuthorization && !s.authDeadline.IsZero() &&
		(deadline.IsZero() || s.authDeadline.Before(deadline)) {
		deadline = s.authDeadline
	}
	s.c.setReadDeadline(deadline)
	if s.srv.shuttingDown() {
		return errShutdown
	}
	return nil
}

// readError turns a failed command read into what answer takes: an
// overlong line is a bad command, and the session goes on; anything else
// ends it, with a last -ERR where the client is still there to read it.
func (s *session) readError(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, wire.ErrLineTooLong):
		s.trace("C: <line too long>")
		tooLong := syntaxError("line too long")
		if !errors.Is(err, wire.ErrLineTooLongPending) {
			return tooLong
		}
		// The rest of the line may be long in coming, or never come: the
		// client is answered first, then the rest is dropped.
		if end := s.answer(tooLong); end != nil {
			return &sessionEnd{reason: end.reason, cause: end.cause} // answered already
		}
		if err := s.c.flush(); err != nil {
			return endSession(EndError, nil, err)
		}
		if err := s.c.lines.DiscardLine(); err != nil {
			return s.readError(err)
		}
		return nil
	case errors.Is(err, errShutdown) || s.srv.shuttingDown():
		return endSession(EndShutdown, &Error{Code: CodeSysTemp, Text: "server shutting down"}, nil)
	case errors.As(err, &ne) && ne.Timeout():
		if s.state == stateAuthorization && !s.authDeadline.IsZero() && !time.Now().Before(s.authDeadline) {
			return endSession(EndAuthTimeout, &Error{Text: "authentication took too long"}, nil)
		}
		return endSession(EndIdleTimeout, &Error{Text: "disconnected for inactivity"}, nil)
	case errors.Is(err, io.EOF):
		return endSession(EndClientClosed, nil, nil)
	}
	return endSession(EndError, nil, err)
}
