package pop3

import (
	"net"
	"time"
)

// Hooks observes a [Server]: what it accepts and refuses, logins, commands
// and how sessions end, for metrics and tracing (Prometheus, OpenTelemetry,
// a test's counters). Set [Server.Hooks] to one; any of its funcs may be
// nil. Nil Hooks, or a nil func, costs one comparison per event.
//
// The funcs are called synchronously from the sessions' goroutines, many at
// once, so they must be safe for concurrent use and quick: a slow hook
// slows the session that calls it. A *[ConnInfo] they receive belongs to
// the session and is valid only during the call; copy what is kept. A
// panic in a hook is recovered and logged.
//
// No event carries a password, an AUTH payload or message content.
type Hooks struct {
	// ConnAccepted is called when a connection becomes a session, before
	// the greeting (and for implicit TLS, before the handshake). Every
	// session it reports ends with one SessionEnded.
	ConnAccepted func(c *ConnInfo)
	// ConnRefused is called for a connection closed at once, over a
	// connection limit or during shutdown. It gets no SessionEnded.
	ConnRefused func(ev ConnRefusedEvent)
	// Login is called once per login attempt that reached a verdict:
	// credentials checked (right or wrong) and, when right, the maildrop
	// opened or refused. A SASL exchange the client cancelled is not an
	// attempt.
	Login func(ev LoginEvent)
	// Command is called after each command line has been answered (its
	// reply may still be buffered, see [CommandEvent.BytesSent]).
	Command func(ev CommandEvent)
	// SessionEnded is called once per accepted session, after its
	// connection is closed and its maildrop released.
	SessionEnded func(ev SessionEndEvent)
}

// RefuseReason says why a connection was refused; see [Hooks.ConnRefused].
// Its values are written as Prometheus label values are (lower case,
// words joined by "_"), so that a metric can use them as they are.
type RefuseReason string

// The reasons a connection is refused.
const (
	// RefusedMaxConnections: [Server.MaxConnections] sessions are open.
	RefusedMaxConnections RefuseReason = "max_connections"
	// RefusedMaxConnectionsPerIP: [Server.MaxConnectionsPerIP] sessions
	// from the client's address are open.
	RefusedMaxConnectionsPerIP RefuseReason = "max_connections_per_ip"
	// RefusedShuttingDown: [Server.Shutdown] or [Server.Close] has begun.
	RefusedShuttingDown RefuseReason = "shutting_down"
)

// ConnRefusedEvent is a connection refused without a session.
type ConnRefusedEvent struct {
	// RemoteAddr and LocalAddr are the connection's; both are nil when
	// the accept loop refused it without asking (more than 64 refusals
	// at once).
	RemoteAddr net.Addr
	LocalAddr  net.Addr
	Reason     RefuseReason
}

// LoginResult is the verdict on a login attempt; see [Hooks.Login]. Its
// values are written as Prometheus label values are, as RefuseReason's.
type LoginResult string

// The verdicts on a login attempt.
const (
	// LoginOK: the credentials were right and the maildrop is open.
	LoginOK LoginResult = "ok"
	// LoginFailed: wrong credentials, an unknown user, or a login the
	// backend refused with an [*Error] (such as [ErrAuthFailed]).
	LoginFailed LoginResult = "failed"
	// LoginInUse: right credentials, but the maildrop is locked by
	// another session ([ErrMailboxLocked], [CodeInUse]).
	LoginInUse LoginResult = "in_use"
	// LoginDelayed: the login came too soon after the user's previous
	// one ([CodeLoginDelay], RFC 2449 §6.5): refused by the server under
	// [Server.LoginDelay], or by the backend.
	LoginDelayed LoginResult = "login_delay"
	// LoginError: the backend failed (an error that is not an *Error);
	// the client was told to try again later.
	LoginError LoginResult = "error"
)

// LoginEvent is one login attempt.
type LoginEvent struct {
	// Conn is the session's connection.
	Conn *ConnInfo
	// Method is "USER" (USER and PASS), "APOP", or "AUTH " and the SASL
	// mechanism, such as "AUTH PLAIN".
	Method string
	// Username is the name logged in, or the one attempted. It is the
	// client's input: bound its length before using it as a label.
	Username string
	// Result is the verdict.
	Result LoginResult
	// Penalty is how long the attempt waited, before its credentials
	// were checked, for the client address's auth penalty (see
	// [Server.MaxAuthPenalty]); 0 for none.
	Penalty time.Duration
}

// CommandEvent is one command line and its answer.
type CommandEvent struct {
	// Conn is the session's connection.
	Conn *ConnInfo
	// Name is the command's keyword in upper case ("RETR", "AUTH"), or
	// empty for a line that named no known command.
	Name string
	// Status is "+OK" or "-ERR", as the command's final reply began, or
	// empty when the connection failed before it could answer.
	Status string
	// Code is the response code of a "-ERR [CODE] ..." reply (RFC 2449
	// §8), or empty.
	Code string
	// Duration runs from the command line read to its reply written to
	// the output buffer; for RETR and TOP that includes sending the
	// message.
	Duration time.Duration
	// BytesSent is how many octets the session wrote to the client since
	// its previous event (the greeting counts towards the first command).
	// Replies to pipelined commands are written together, so one event
	// may carry earlier commands' octets. Summed with
	// [SessionEndEvent.BytesSent], it is everything the session sent,
	// which makes a live byte counter exact.
	BytesSent int64
}

// SessionEndEvent is the end of a session.
type SessionEndEvent struct {
	// Conn is the session's connection.
	Conn *ConnInfo
	// Reason says why the session ended.
	Reason EndReason
	// Username and Method are the login's; empty when the session never
	// logged in.
	Username string
	Method   string
	// Duration is how long the session lasted.
	Duration time.Duration
	// Retrieved counts the RETR commands served, Deleted the messages
	// removed at UPDATE (RFC 1939 §6).
	Retrieved int
	Deleted   int
	// BytesSent is how many octets were written since the session's last
	// [CommandEvent]; TotalBytesSent is the whole session's.
	BytesSent      int64
	TotalBytesSent int64
	// Err is why the connection failed, for [EndError] and the like; nil
	// for an orderly end.
	Err error
}

// EndReason says why a session ended: one of the constants below. The
// session's last log record carries it as "reason". Its values are
// written as Prometheus label values are, as RefuseReason's.
type EndReason string

// The reasons a session ends.
const (
	EndQuit         EndReason = "quit"          // QUIT, with or without UPDATE
	EndClientClosed EndReason = "client_closed" // the client hung up
	EndIdleTimeout  EndReason = "idle_timeout"  // [Server.IdleTimeout]
	EndAuthTimeout  EndReason = "auth_timeout"  // [Server.AuthTimeout]
	EndShutdown     EndReason = "shutdown"      // [Server.Shutdown]
	EndServerClosed EndReason = "server_closed" // [Server.Close], or Shutdown's deadline
	EndAuthFailures EndReason = "too_many_failed_logins"
	EndBadCommands  EndReason = "too_many_bad_commands"
	EndTLSHandshake EndReason = "tls_handshake_failed"
	EndPanic        EndReason = "panic" // a backend panicked
	EndError        EndReason = "error" // the connection failed
)

// callHook calls a hook, recovering its panic: an observer must not take
// down the session, or the accept loop that reports refusals.
func callHook[E any](srv *Server, name string, hook func(E), ev E) {
	defer func() {
		if v := recover(); v != nil {
			srv.logger().Error("pop3: panic in a hook", "hook", name, "panic", v)
		}
	}()
	hook(ev)
}
