package pop3

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"
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

// Buffer sizes of a session. They are what an idle connection costs, so
// they are small; longer command lines are gathered in lineBuf.
const (
	readBufferSize  = 1024
	writeBufferSize = 4096
)

var errLineTooLong = errors.New("line too long")

// session is one client connection: the RFC 1939 state machine, its
// snapshot of the maildrop, deletion marks and counters.
type session struct {
	srv    *Server
	id     uint64
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu   sync.Mutex // guards conn against Shutdown and Close
	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	info ConnInfo

	lineBuf       []byte
	argv          [3]string // parseCommand's arguments, reused
	writeDeadline time.Time
	state         state
	authDeadline  time.Time
	timestamp     string // APOP greeting timestamp; empty without APOP
	pendingUser   string // the name from USER, kept only until the next command
	username      string
	mbox          Mailbox
	msgs          []MessageInfo
	deleted       []bool
	nDeleted      int
	sizeDeleted   int64
	totalSize     int64 // of the snapshot, marked messages included
	last          int   // LAST (RFC 1460): highest message number accessed

	badCommands  int
	authFailures int
	quit         bool

	// counts for the end-of-session log line
	nRetr, nTop, nDele int
	bytesOut           int64
}

func newSession(srv *Server, conn net.Conn) *session {
	s := &session{srv: srv, conn: conn, state: stateAuthorization, id: srv.connID.Add(1)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.br = bufio.NewReaderSize(conn, readBufferSize)
	s.bw = bufio.NewWriterSize(connWriter{s}, writeBufferSize)
	s.info = ConnInfo{RemoteAddr: conn.RemoteAddr(), LocalAddr: conn.LocalAddr(), Domain: srv.domain()}
	s.log = srv.logger().With("conn", s.id, "remote", addrString(conn.RemoteAddr()))
	return s
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// connWriter is what the session's bufio.Writer writes to: it renews the
// write deadline for every write, so that a client that stops reading is
// dropped after WriteTimeout however large the response.
type connWriter struct{ s *session }

func (w connWriter) Write(p []byte) (int, error) {
	s := w.s
	// Moving a deadline costs a timer update, so it is moved only when it
	// has come a tenth of the timeout nearer.
	timeout := orDefault(s.srv.WriteTimeout, DefaultWriteTimeout)
	if now := time.Now(); s.writeDeadline.Sub(now) < timeout-timeout/10 {
		s.writeDeadline = now.Add(timeout)
		_ = s.conn.SetWriteDeadline(s.writeDeadline)
	}
	n, err := s.conn.Write(p)
	s.bytesOut += int64(n)
	return n, err
}

// interruptIdle makes a session that waits for a command see a read
// timeout, after which it notices the shutdown. A session busy with a
// command finds the shutdown before it reads the next one.
func (s *session) interruptIdle() {
	s.mu.Lock()
	_ = s.conn.SetReadDeadline(time.Unix(1, 0))
	s.mu.Unlock()
}

// closeHard closes the connection under a session's feet; the session
// then ends without UPDATE.
func (s *session) closeHard() {
	s.mu.Lock()
	_ = s.conn.Close()
	s.mu.Unlock()
	s.cancel()
}

// serve runs the session to its end.
func (s *session) serve() {
	defer s.finish()
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("pop3: panic in session", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	s.authDeadline = time.Now().Add(orDefault(s.srv.AuthTimeout, DefaultAuthTimeout))
	if tc, ok := s.conn.(*tls.Conn); ok {
		if err := s.handshake(tc); err != nil {
			s.log.Debug("pop3: TLS handshake failed", "err", err)
			return
		}
	}
	if err := s.greet(); err != nil {
		return
	}
	for !s.quit {
		line, err := s.readCommand()
		if err != nil {
			if !s.handleReadError(err) {
				return
			}
			continue
		}
		if err := s.dispatch(line); err != nil {
			s.log.Debug("pop3: session ends", "err", err)
			return
		}
	}
	_ = s.bw.Flush()
}

// handshake completes an implicit TLS handshake (RFC 8314 §3.3) before the
// greeting, bounded by the write timeout.
func (s *session) handshake(tc *tls.Conn) error {
	_ = tc.SetDeadline(time.Now().Add(orDefault(s.srv.WriteTimeout, DefaultWriteTimeout)))
	if err := tc.HandshakeContext(s.ctx); err != nil {
		return err
	}
	_ = tc.SetDeadline(time.Time{})
	s.writeDeadline = time.Time{}
	st := tc.ConnectionState()
	s.info.TLS = &st
	s.log = s.log.With("tls_version", tls.VersionName(st.Version))
	return nil
}

func (s *session) greet() error {
	text := s.srv.Greeting
	if text == "" {
		text = "POP3 server ready"
	}
	// Leave room for the timestamp: the line may be cut, the timestamp not.
	text = truncateUTF8(text, 300)
	if _, ok := s.srv.Backend.(APOPBackend); ok {
		s.timestamp = newTimestamp(s.info.Domain)
		text += " " + s.timestamp
	}
	return s.reply("+OK", text)
}

// finish ends the session: no UPDATE, the maildrop closed once, the
// connection closed, one log line.
func (s *session) finish() {
	s.closeMailbox()
	s.mu.Lock()
	_ = s.conn.Close()
	s.mu.Unlock()
	s.cancel()
	s.log.Info("pop3: session ended", "tls", s.info.TLS != nil,
		"retr", s.nRetr, "top", s.nTop, "del", s.nDele, "bytes_out", s.bytesOut)
}

func (s *session) closeMailbox() {
	if s.mbox == nil {
		return
	}
	mbox := s.mbox
	s.mbox = nil
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("pop3: panic in Mailbox.Close", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	if err := mbox.Close(); err != nil {
		s.log.Error("pop3: closing the maildrop failed", "user", s.username, "err", err)
	}
}

// readCommand flushes pending replies when no complete command is
// buffered (so that a pipelined batch costs one flush), then reads one
// line under the idle and authorization deadlines.
func (s *session) readCommand() ([]byte, error) {
	if buffered := s.br.Buffered(); buffered == 0 || !hasLF(s.br, buffered) {
		if err := s.bw.Flush(); err != nil {
			return nil, err
		}
	}
	if err := s.awaitInput(); err != nil {
		return nil, err
	}
	return s.readLine(orDefault(s.srv.MaxLineLength, DefaultMaxLineLength), true)
}

// setReadDeadline arms the idle timeout, and before login the
// authorization timeout.
func (s *session) setReadDeadline() {
	deadline := time.Now().Add(orDefault(s.srv.IdleTimeout, DefaultIdleTimeout))
	if s.state == stateAuthorization && s.authDeadline.Before(deadline) {
		deadline = s.authDeadline
	}
	_ = s.conn.SetReadDeadline(deadline)
}

// awaitInput arms the read deadlines before a read of client input, and
// reports a shutdown. The check comes after the deadline is set: Shutdown
// sets its flag before it moves the deadline, so one of the two always
// stops the read.
func (s *session) awaitInput() error {
	s.setReadDeadline()
	if s.srv.shuttingDown() {
		return errShutdown
	}
	return nil
}

var errShutdown = errors.New("server shutting down")

func hasLF(br *bufio.Reader, n int) bool {
	b, _ := br.Peek(n)
	return bytes.IndexByte(b, '\n') >= 0
}

// readLine reads one line of at most limit octets, terminator included,
// and returns it without its CRLF or LF; the result is valid until the next
// read. With allowAuth, a line that starts "AUTH " may be as long as
// MaxAuthLineLength. A longer line returns errLineTooLong as soon as the
// limit is passed, without waiting for its end; errLineTooLongPending then
// tells the caller to answer and call discardLine. A partial line at EOF is
// dropped.
func (s *session) readLine(limit int, allowAuth bool) ([]byte, error) {
	s.lineBuf = s.lineBuf[:0]
	for {
		buf, err := s.br.Peek(max(s.br.Buffered(), 1))
		if len(buf) == 0 {
			return nil, err
		}
		i := bytes.IndexByte(buf, '\n')
		end := i + 1
		if i < 0 {
			end = len(buf)
		}
		if len(s.lineBuf)+end > limit && allowAuth && isAuthLine(s.lineBuf, buf[:end]) {
			limit = max(limit, orDefault(s.srv.MaxAuthLineLength, DefaultMaxAuthLineLength))
		}
		if len(s.lineBuf)+end > limit {
			_, _ = s.br.Discard(end)
			if i < 0 {
				return nil, errLineTooLongPending
			}
			return nil, errLineTooLong
		}
		if i >= 0 {
			line := buf[:end]
			if len(s.lineBuf) > 0 {
				s.lineBuf = append(s.lineBuf, line...)
				line = s.lineBuf
			}
			_, _ = s.br.Discard(end)
			return trimEOL(line), nil
		}
		if len(buf) == s.br.Size() {
			// A full buffer without LF: keep it and read on.
			s.lineBuf = append(s.lineBuf, buf...)
			_, _ = s.br.Discard(len(buf))
			continue
		}
		// Wait for at least one more octet.
		if _, err := s.br.Peek(len(buf) + 1); err != nil {
			return nil, err
		}
	}
}

// errLineTooLongPending is errLineTooLong with the rest of the line still
// to be discarded.
var errLineTooLongPending = fmt.Errorf("%w (rest pending)", errLineTooLong)

// discardLine reads and drops the rest of an overlong line, holding no more
// than the read buffer.
func (s *session) discardLine() error {
	for {
		_, err := s.br.ReadSlice('\n')
		if err != bufio.ErrBufferFull {
			return err
		}
	}
}

func isAuthLine(head, frag []byte) bool {
	var b [5]byte
	n := copy(b[:], head)
	copy(b[n:], frag)
	return len(head)+len(frag) >= 5 && bytes.EqualFold(b[:], []byte("AUTH "))
}

func trimEOL(b []byte) []byte {
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b
}

// handleReadError answers what can be answered and reports whether the
// session goes on.
func (s *session) handleReadError(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, errLineTooLong):
		s.trace("C: <line too long>")
		if !s.badCommand("line too long") {
			return false
		}
		if errors.Is(err, errLineTooLongPending) {
			if s.bw.Flush() != nil || s.discardLine() != nil {
				return false
			}
		}
		return true
	case errors.Is(err, errShutdown) || s.srv.shuttingDown():
		s.replyErr(CodeSysTemp, "server shutting down")
	case errors.As(err, &ne) && ne.Timeout():
		if s.state == stateAuthorization && !time.Now().Before(s.authDeadline) {
			s.replyErr("", "authentication took too long")
		} else {
			s.replyErr("", "disconnected for inactivity")
		}
	}
	// The goodbye gets a short write deadline of its own: the client may be
	// gone.
	s.writeDeadline = time.Now().Add(time.Second)
	_ = s.conn.SetWriteDeadline(s.writeDeadline)
	_ = s.bw.Flush()
	return false
}

// badCommand answers an unknown, malformed or wrong-state command, counts
// it, and reports whether the session goes on. The command that passes the
// limit gets one -ERR that says both why it failed and that the connection
// closes, so that a pipelining client can still pair replies with commands.
func (s *session) badCommand(text string) bool {
	s.badCommands++
	limit := orDefault(s.srv.MaxBadCommandsBeforeLogin, DefaultMaxBadCommandsLogin)
	if s.state == stateTransaction {
		limit = orDefault(s.srv.MaxBadCommands, DefaultMaxBadCommands)
	}
	if s.badCommands <= limit {
		return s.replyErr("", text) == nil
	}
	_ = s.replyErr("", text+"; too many bad commands, closing connection")
	_ = s.bw.Flush()
	return false
}

// reply writes one status line.
func (s *session) reply(status, text string) error {
	if s.srv.Debug != nil {
		s.trace("S: " + status + " " + text)
	}
	return writeLine(s.bw, status, text)
}

func (s *session) replyOK(text string) error { return s.reply("+OK", text) }

func (s *session) replyErr(code, text string) error {
	if code != "" && !validCode(code) {
		s.log.Error("pop3: invalid response code dropped", "code", code)
		code = ""
	}
	if code != "" {
		text = "[" + code + "] " + text
	}
	return s.reply("-ERR", text)
}

// replyf writes "+OK" with a formatted text.
func (s *session) replyf(format string, args ...any) error {
	return s.replyOK(fmt.Sprintf(format, args...))
}

func (s *session) trace(line string) {
	if s.srv.Debug == nil {
		return
	}
	s.srv.debugMu.Lock()
	defer s.srv.debugMu.Unlock()
	fmt.Fprintf(s.srv.Debug, "%d %s\n", s.id, line)
}

// userFacingError turns an error from a handler or a backend into the -ERR
// the client sees. An *Error is shown as it is; anything else is logged and
// shown as a generic [SYS/TEMP].
func (s *session) userFacingError(op string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	s.log.Error("pop3: backend error", "op", op, "user", s.username, "err", err)
	return &Error{Code: CodeSysTemp, Text: op + " failed, try again later"}
}

// backendCall runs f, turning a panic into an error that ends the session.
func (s *session) backendCall(op string, f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("pop3: panic in backend", "op", op, "panic", v, "stack", string(debug.Stack()))
			err = &panicError{op: op}
		}
	}()
	return f()
}

// panicError reports a recovered backend panic; it ends the session.
type panicError struct{ op string }

func (e *panicError) Error() string { return "panic in backend during " + e.op }

func isPanic(err error) bool {
	var pe *panicError
	return errors.As(err, &pe)
}

// login completes a successful authentication: it opens the maildrop and
// enters TRANSACTION (RFC 1939 §4). A locked maildrop leaves the session
// in AUTHORIZATION.
func (s *session) login(username string, user User) error {
	var mbox Mailbox
	err := s.backendCall("open", func() (err error) {
		mbox, err = user.Open(s.ctx)
		return err
	})
	if err != nil {
		if isPanic(err) {
			return err
		}
		if errors.Is(err, ErrMailboxLocked) {
			s.log.Info("pop3: maildrop in use", "user", username)
		}
		e := s.userFacingError("open", err)
		return s.replyErr(e.Code, e.Text)
	}
	s.mbox = mbox
	s.username = username
	s.log = s.log.With("user", username)
	s.msgs = mbox.Messages()
	s.checkUIDs()
	s.deleted = make([]bool, len(s.msgs))
	for _, m := range s.msgs {
		s.totalSize += m.Size
	}
	s.state = stateTransaction
	s.badCommands = 0
	n, size := s.stat()
	return s.replyf("maildrop has %d messages (%d octets)", n, size)
}

// checkUIDs repairs unique-ids that would break the UIDL framing or RFC
// 1939 §7 (1 to 70 octets of 0x21 to 0x7E): a backend bug, logged, that
// must not take the session down with it.
func (s *session) checkUIDs() {
	if !slices.ContainsFunc(s.msgs, func(m MessageInfo) bool { return !validUID(m.UID) }) {
		return
	}
	s.log.Error("pop3: backend returned invalid unique-ids; repairing them")
	s.msgs = slices.Clone(s.msgs) // the backend's slice is not ours to change
	for i, m := range s.msgs {
		if validUID(m.UID) {
			continue
		}
		uid := []byte(m.UID)
		for j, c := range uid {
			if c < 0x21 || c > 0x7e {
				uid[j] = '_'
			}
		}
		uid = uid[:min(len(uid), 70)]
		if len(uid) == 0 {
			uid = []byte("_" + strconv.Itoa(i+1))
		}
		s.msgs[i].UID = string(uid)
	}
}

func validUID(uid string) bool {
	if len(uid) == 0 || len(uid) > 70 {
		return false
	}
	for i := 0; i < len(uid); i++ {
		if uid[i] < 0x21 || uid[i] > 0x7e {
			return false
		}
	}
	return true
}

// stat counts the messages not marked as deleted and their size.
func (s *session) stat() (int, int64) {
	return len(s.msgs) - s.nDeleted, s.totalSize - s.sizeDeleted
}

// authFailed answers a refused login after AuthFailureDelay and reports
// whether the session goes on (MaxAuthFailures).
func (s *session) authFailed(err error) error {
	if isPanic(err) {
		return err
	}
	e := s.userFacingError("login", err)
	if e.Code == CodeAuth {
		s.authFailures++
		s.log.Info("pop3: authentication failed", "failures", s.authFailures)
		if d := orDefault(s.srv.AuthFailureDelay, DefaultAuthFailureDelay); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return s.ctx.Err()
			}
		}
	}
	if s.authFailures >= orDefault(s.srv.MaxAuthFailures, DefaultMaxAuthFailures) {
		_ = s.replyErr(e.Code, e.Text+"; too many failed logins, closing connection")
		_ = s.bw.Flush()
		return errTooManyFailures
	}
	return s.replyErr(e.Code, e.Text)
}

var errTooManyFailures = errors.New("too many failed logins")

// cleartextAllowed reports whether a cleartext login may be used here: on
// TLS, on loopback, or when the server allows insecure auth (RFC 2595 §6,
// RFC 8314 §5).
func (s *session) cleartextAllowed() bool {
	if s.info.TLS != nil || s.srv.AllowInsecureAuth {
		return true
	}
	if ta, ok := s.info.RemoteAddr.(*net.TCPAddr); ok {
		return ta.IP.IsLoopback()
	}
	if s.info.RemoteAddr != nil {
		if host, _, err := net.SplitHostPort(s.info.RemoteAddr.String()); err == nil {
			if ip := net.ParseIP(host); ip != nil {
				return ip.IsLoopback()
			}
		}
	}
	return false
}

// parseNumber parses a decimal argument without sign (RFC 1939 §3). Values
// past the int32 range saturate, which every caller treats as "too large".
func parseNumber(arg string) (int, bool) {
	if arg == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(arg); i++ {
		c := arg[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < 1<<31 {
			n = n*10 + int(c-'0')
		}
	}
	return min(n, 1<<31), true
}

// message resolves a message-number argument to a 0-based index of a
// message that is not marked as deleted.
func (s *session) message(arg string) (int, error) {
	n, ok := parseNumber(arg)
	if !ok {
		return 0, syntaxError("invalid message number: " + truncate(arg, 40))
	}
	if n < 1 || n > len(s.msgs) {
		return 0, &Error{Text: "no such message, only " + strconv.Itoa(len(s.msgs)) + " in maildrop"}
	}
	if s.deleted[n-1] {
		return 0, &Error{Text: "message " + strconv.Itoa(n) + " already deleted"}
	}
	return n - 1, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// syntaxError is a malformed command: answered "-ERR text" and counted as a
// bad command.
type syntaxError string

func (e syntaxError) Error() string { return string(e) }

// writeMessage streams r as a multi-line body. Any failure, of the reader
// or of the connection, ends the session: a half-sent message must not be
// followed by anything that could make it look complete.
func (s *session) writeMessage(r io.Reader) error {
	if err := writeDotStuffed(s.bw, r); err != nil {
		// Send what was read, so that the client sees a truncated message
		// rather than nothing, then hang up.
		_ = s.bw.Flush()
		return &fatalError{err}
	}
	return nil
}

// fatalError ends the session without another reply.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }
