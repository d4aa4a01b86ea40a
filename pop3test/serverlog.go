package pop3test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/gopop3/pop3/internal/syncbuf"
)

// serverLog is what a test server logs: slog text records kept in memory
// for [Server.Logs] and the output of a failed test, and, apart, the
// panics that the server recovered in sessions, whose stacks a text record
// holds escaped on one line.
type serverLog struct {
	text *syncbuf.Buffer

	mu     sync.Mutex
	panics []sessionPanic
}

// sessionPanic is a panic that the server recovered in a session.
type sessionPanic struct {
	value    string
	stack    string
	reported bool
}

// report returns the failure message of the panic, named for the backend
// method that panicked.
func (p *sessionPanic) report() string {
	frames := parseStack(p.stack)
	method := panicked(frames, inServer)
	if method == "" {
		method = "a call in a session"
	}
	return panicReport(method, p.value, "in a session: the server recovered the panic and ended the session, "+
		"which the client saw as an internal error or a closed connection", frames)
}

// logger returns a logger that writes to l and, when user is not nil, to
// user too.
func (l *serverLog) logger(user slog.Handler) *slog.Logger {
	text := slog.NewTextHandler(l.text, &slog.HandlerOptions{Level: slog.LevelDebug})
	return slog.New(logHandler{log: l, text: text, user: user})
}

// recordPanic keeps the panic that r reports, if it reports one: the
// server logs a recovered panic with its value as "panic" and its stack
// as "stack".
func (l *serverLog) recordPanic(r slog.Record) {
	var p sessionPanic
	var hasValue, hasStack bool
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "panic":
			p.value, hasValue = a.Value.Resolve().String(), true
		case "stack":
			p.stack, hasStack = a.Value.Resolve().String(), true
		}
		return true
	})
	if hasValue && hasStack {
		l.mu.Lock()
		l.panics = append(l.panics, p)
		l.mu.Unlock()
	}
}

// unreported returns the panics not yet reported and marks them
// reported; allowed, when not nil, is a value whose panics are left out.
func (l *serverLog) unreported(allowed any) []sessionPanic {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []sessionPanic
	for i := range l.panics {
		p := &l.panics[i]
		if p.reported || allowed != nil && p.value == fmt.Sprint(allowed) {
			continue
		}
		p.reported = true
		out = append(out, *p)
	}
	return out
}

// logHandler writes each record to the in-memory text log and to the
// caller's handler, and keeps the panics apart.
type logHandler struct {
	log  *serverLog
	text slog.Handler
	user slog.Handler // nil without a Logger of the caller's
}

func (h logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.text.Enabled(ctx, level) || h.user != nil && h.user.Enabled(ctx, level)
}

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	h.log.recordPanic(r)
	var errs []error
	if h.text.Enabled(ctx, r.Level) {
		errs = append(errs, h.text.Handle(ctx, r.Clone()))
	}
	if h.user != nil && h.user.Enabled(ctx, r.Level) {
		errs = append(errs, h.user.Handle(ctx, r))
	}
	return errors.Join(errs...)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h.text = h.text.WithAttrs(attrs)
	if h.user != nil {
		h.user = h.user.WithAttrs(attrs)
	}
	return h
}

func (h logHandler) WithGroup(name string) slog.Handler {
	h.text = h.text.WithGroup(name)
	if h.user != nil {
		h.user = h.user.WithGroup(name)
	}
	return h
}
