package pop3test

import (
	"testing"
	"time"

	"github.com/gopop3/pop3"
)

// A backend that panics must fail the check that made it panic, not end
// the test binary with every check after it: each check runs through run,
// which recovers its panic, and each cleanup and goroutine of the kit that
// calls the backend recovers its own with catch. A panic in a session is
// recovered by the server; the servers the checks start (serve) report it.

// run runs check as the subtest name of t, and fails it, instead of the
// whole test binary, when a call it makes panics. Every check runs through
// run.
func run(t *testing.T, name string, check func(t *testing.T)) bool {
	t.Helper()
	return t.Run(name, func(t *testing.T) {
		t.Cleanup(func() { noted.Delete(t) }) // first, so that it runs last
		defer catch(t)
		check(t)
	})
}

// catch, deferred at the top of a check, a cleanup or a goroutine of the
// kit, recovers a panic and fails t with a report that names the backend
// method that panicked, such as "Message panicked: boom", and shows its
// stack.
func catch(t *testing.T) {
	v := recover()
	if v == nil {
		return
	}
	t.Helper()
	frames := recoveredFrames()
	method := panicked(frames, inKit)
	if method == "" {
		method = "the check itself"
	}
	t.Error(panicReport(method, v, "", frames))
}

// catchAs, deferred, recovers a panic of a function the kit was given,
// whose name the stack does not tell (newBackend is a function value), and
// stops the check with a report that names it.
func catchAs(t *testing.T, name string) {
	v := recover()
	if v == nil {
		return
	}
	t.Helper()
	t.Error(panicReport(name, v, "", recoveredFrames()))
	t.FailNow()
}

// serve starts a server for a check: [NewServer], watched by the kit. A
// panic that the server recovered in a session fails the check when the
// server closes, named for the backend method (the client only sees -ERR
// or the connection close); a slow QUIT is noted (see noteSlow). A
// session that panics on purpose names its panic's value in allowPanic.
// Checks start their servers with serve, never NewServer.
func serve(t *testing.T, b pop3.Backend, opts ...Option) *Server {
	t.Helper()
	watch := func(o *serverOptions) {
		o.failOnPanic = true
		o.onQuit = func(d time.Duration) { noteSlow(t, "QUIT", d) }
	}
	return NewServer(t, b, append(opts, watch)...)
}

// allowPanic keeps a panic of the given value, which a check injects on
// purpose, from failing the check when a session recovers it.
func allowPanic(value any) Option {
	return func(o *serverOptions) { o.allowedPanic = value }
}
