package pop3test

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/gopop3/pop3"
)

// Op names a backend call that a [Fault] can hit.
type Op string

// The backend calls a Fault can hit.
const (
	OpLogin      Op = "Login"      // Backend.Login
	OpLoginAPOP  Op = "LoginAPOP"  // APOPBackend.LoginAPOP
	OpSASLServer Op = "SASLServer" // SASLBackend.SASLServer
	OpOpen       Op = "Open"       // User.Open
	OpMessage    Op = "Message"    // Mailbox.Message
	OpTop        Op = "Top"        // TopMailbox.Top
	OpRead       Op = "Read"       // reading a message that Message or Top opened
	OpDelete     Op = "Delete"     // Mailbox.Delete
	OpClose      Op = "Close"      // Mailbox.Close
	OpDeliver    Op = "Deliver"    // Deliverer.Deliver
)

// Fault is a failure that a [FaultBackend] injects into the calls it
// matches: a delay or a hang, then an error or a panic. A fault with
// neither Err nor Panic only holds the call up. When several faults hit
// one call, the first one injected applies.
//
// Typical faults:
//
//	{Op: OpLogin, Err: pop3.ErrLoginDelay}          // -ERR [LOGIN-DELAY]
//	{Op: OpOpen, Err: pop3.ErrMailboxLocked}        // -ERR [IN-USE]
//	{Op: OpRead, After: 1000, Err: io.ErrUnexpectedEOF} // storage fails mid-message
//	{Op: OpDelete, Err: errors.New("disk full")}    // -ERR [SYS/TEMP] at QUIT
//	{Op: OpMessage, Panic: "bug"}                   // the server recovers
//	{Op: OpOpen, Delay: 2 * time.Second}            // a slow store
//	{Op: OpMessage, Block: release}                 // hangs until close(release)
type Fault struct {
	// Op is the call the fault hits.
	Op Op
	// User limits the fault to the calls made for this user (the name
	// given to Login, LoginAPOP or Deliver, or the user a session logged
	// in as); empty means every user. It does not apply to OpSASLServer,
	// which starts before a user is known.
	User string
	// Call limits the fault to the nth call that it matches, counting from
	// 1; zero means every matching call. For OpRead it counts the readers
	// that Message and Top return.
	Call int
	// After, for OpRead, is the number of octets of the message that are
	// read normally before the fault hits; from then on every Read fails
	// with Err.
	After int64
	// Delay is waited before the call goes on (or fails), or until its
	// context is done, which then fails it with the context's error.
	Delay time.Duration
	// Block, when not nil, holds the call after Delay until Block is
	// closed, or until the call's context is done, which then fails it
	// with the context's error: a store that hangs, for a test that acts
	// while a call is in progress (a Shutdown during a RETR or a QUIT, a
	// client that gives up) and then lets the call go on by closing
	// Block. [FaultBackend.Calls] counts the call before it blocks, so
	// the test can tell when it has begun. Mailbox.Close has no context:
	// only closing Block releases it.
	Block <-chan struct{}
	// Err is returned by the call. A pop3.Error chooses the reply, such as
	// pop3.ErrLoginDelay or pop3.ErrMailboxLocked.
	Err error
	// Panic, when not nil, is the value the call panics with instead.
	Panic any
}

// FaultBackend wraps a backend and injects faults into its calls, so that
// a test can drive a server, a client or an application through the
// failures a real store has: errors, panics, slow calls, [LOGIN-DELAY] and
// [IN-USE] at chosen calls. Calls that no fault matches go to the wrapped
// backend unchanged. Faults can be added while sessions run.
//
// A server is given the wrapper's Backend:
//
//	faulty := pop3test.NewFaultBackend(backend,
//		pop3test.Fault{Op: pop3test.OpOpen, Err: pop3.ErrMailboxLocked})
//	srv := pop3test.NewServer(t, faulty.Backend())
type FaultBackend struct {
	inner pop3.Backend

	mu     sync.Mutex
	faults []*activeFault
	calls  map[Op]int
}

type activeFault struct {
	Fault
	matched int
}

// NewFaultBackend wraps b with the given faults.
func NewFaultBackend(b pop3.Backend, faults ...Fault) *FaultBackend {
	f := &FaultBackend{inner: b, calls: make(map[Op]int)}
	f.Inject(faults...)
	return f
}

// Inject adds faults; they hit calls made from now on.
func (f *FaultBackend) Inject(faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fault := range faults {
		f.faults = append(f.faults, &activeFault{Fault: fault})
	}
}

// Clear removes every fault; Calls keeps counting.
func (f *FaultBackend) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

// Calls returns how many calls of op were made through the wrapper, faulty
// or not; for OpRead, how many message readers Message and Top returned.
func (f *FaultBackend) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Backend returns the wrapper as a pop3.Backend that implements exactly the
// optional interfaces the wrapped backend implements ([pop3.APOPBackend],
// [pop3.SASLBackend], [pop3.Deliverer]; its mailboxes [pop3.TopMailbox]),
// so that a server on it offers the same commands.
func (f *FaultBackend) Backend() pop3.Backend {
	base := faultBackend{f}
	_, apop := f.inner.(pop3.APOPBackend)
	_, saslOK := f.inner.(pop3.SASLBackend)
	_, deliver := f.inner.(pop3.Deliverer)
	switch {
	case apop && saslOK && deliver:
		return struct {
			faultBackend
			faultAPOP
			faultSASL
			faultDeliver
		}{base, faultAPOP{f}, faultSASL{f}, faultDeliver{f}}
	case apop && saslOK:
		return struct {
			faultBackend
			faultAPOP
			faultSASL
		}{base, faultAPOP{f}, faultSASL{f}}
	case apop && deliver:
		return struct {
			faultBackend
			faultAPOP
			faultDeliver
		}{base, faultAPOP{f}, faultDeliver{f}}
	case saslOK && deliver:
		return struct {
			faultBackend
			faultSASL
			faultDeliver
		}{base, faultSASL{f}, faultDeliver{f}}
	case apop:
		return struct {
			faultBackend
			faultAPOP
		}{base, faultAPOP{f}}
	case saslOK:
		return struct {
			faultBackend
			faultSASL
		}{base, faultSASL{f}}
	case deliver:
		return struct {
			faultBackend
			faultDeliver
		}{base, faultDeliver{f}}
	}
	return base
}

// hit counts a call of op for user and applies the first fault that hits
// it: it waits its Delay and its Block, then panics or returns its Err.
func (f *FaultBackend) hit(ctx context.Context, op Op, user string) error {
	if fault := f.match(op, user); fault != nil {
		return fault.apply(ctx)
	}
	return nil
}

// match counts a call of op for user, in Calls and in every fault that
// matches it, and returns the first of those that hits it, or nil. A new
// message reader counts as an OpRead call.
func (f *FaultBackend) match(op Op, user string) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	var fault *Fault
	for _, a := range f.faults {
		if a.Op != op || a.User != "" && a.User != user {
			continue
		}
		a.matched++ // every fault counts its calls, hit or not
		if fault == nil && (a.Call == 0 || a.Call == a.matched) {
			fault = &a.Fault
		}
	}
	return fault
}

func (fault *Fault) apply(ctx context.Context) error {
	if fault.Delay > 0 {
		t := time.NewTimer(fault.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fault.Block != nil {
		select {
		case <-fault.Block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fault.Panic != nil {
		panic(fault.Panic)
	}
	return fault.Err
}

type faultBackend struct{ f *FaultBackend }

func (b faultBackend) Login(ctx context.Context, c *pop3.ConnInfo, username, password string) (pop3.User, error) {
	if err := b.f.hit(ctx, OpLogin, username); err != nil {
		return nil, err
	}
	u, err := b.f.inner.Login(ctx, c, username, password)
	return b.f.wrapUser(u, username), err
}

type faultAPOP struct{ f *FaultBackend }

func (b faultAPOP) LoginAPOP(ctx context.Context, c *pop3.ConnInfo, username, timestamp, digest string) (pop3.User, error) {
	if err := b.f.hit(ctx, OpLoginAPOP, username); err != nil {
		return nil, err
	}
	u, err := b.f.inner.(pop3.APOPBackend).LoginAPOP(ctx, c, username, timestamp, digest)
	return b.f.wrapUser(u, username), err
}

type faultSASL struct{ f *FaultBackend }

func (b faultSASL) SASLMechanisms(c *pop3.ConnInfo) []string {
	return b.f.inner.(pop3.SASLBackend).SASLMechanisms(c)
}

func (b faultSASL) SASLServer(ctx context.Context, c *pop3.ConnInfo, mech string, authenticated func(username string, user pop3.User)) (sasl.Server, error) {
	if err := b.f.hit(ctx, OpSASLServer, ""); err != nil {
		return nil, err
	}
	return b.f.inner.(pop3.SASLBackend).SASLServer(ctx, c, mech, func(username string, user pop3.User) {
		authenticated(username, b.f.wrapUser(user, username))
	})
}

type faultDeliver struct{ f *FaultBackend }

func (b faultDeliver) Deliver(ctx context.Context, username string, msg io.Reader) error {
	if err := b.f.hit(ctx, OpDeliver, username); err != nil {
		return err
	}
	return b.f.inner.(pop3.Deliverer).Deliver(ctx, username, msg)
}

func (f *FaultBackend) wrapUser(u pop3.User, name string) pop3.User {
	if u == nil {
		return nil
	}
	return faultUser{f: f, user: u, name: name}
}

type faultUser struct {
	f    *FaultBackend
	user pop3.User
	name string
}

func (u faultUser) Open(ctx context.Context) (pop3.Mailbox, error) {
	if err := u.f.hit(ctx, OpOpen, u.name); err != nil {
		return nil, err
	}
	mb, err := u.user.Open(ctx)
	if mb == nil {
		return nil, err
	}
	base := &faultMailbox{f: u.f, mb: mb, name: u.name}
	if top, ok := mb.(pop3.TopMailbox); ok {
		return faultTopMailbox{base, top}, err
	}
	return base, err
}

type faultMailbox struct {
	f    *FaultBackend
	mb   pop3.Mailbox
	name string
}

func (m *faultMailbox) Messages() []pop3.MessageInfo { return m.mb.Messages() }

func (m *faultMailbox) Message(ctx context.Context, i int) (io.ReadCloser, error) {
	if err := m.f.hit(ctx, OpMessage, m.name); err != nil {
		return nil, err
	}
	r, err := m.mb.Message(ctx, i)
	return m.wrapReader(ctx, r), err
}

func (m *faultMailbox) Delete(ctx context.Context, indexes []int) error {
	if err := m.f.hit(ctx, OpDelete, m.name); err != nil {
		return err
	}
	return m.mb.Delete(ctx, indexes)
}

func (m *faultMailbox) Close() (err error) {
	// The wrapped mailbox is closed even when the fault fails or panics,
	// so that the test itself leaks no lock.
	defer func() {
		if cerr := m.mb.Close(); err == nil {
			err = cerr
		}
	}()
	return m.f.hit(context.Background(), OpClose, m.name)
}

func (m *faultMailbox) wrapReader(ctx context.Context, r io.ReadCloser) io.ReadCloser {
	if r == nil {
		return nil
	}
	fault := m.f.match(OpRead, m.name)
	if fault == nil {
		return r
	}
	return &faultReader{ReadCloser: r, ctx: ctx, fault: fault}
}

type faultTopMailbox struct {
	*faultMailbox
	top pop3.TopMailbox
}

func (m faultTopMailbox) Top(ctx context.Context, i int, lines int) (io.ReadCloser, error) {
	if err := m.f.hit(ctx, OpTop, m.name); err != nil {
		return nil, err
	}
	r, err := m.top.Top(ctx, i, lines)
	return m.wrapReader(ctx, r), err
}

// faultReader reads a message and applies its fault once After octets
// have been read: it waits the Delay and the Block, then panics or fails
// this Read and every later one.
type faultReader struct {
	io.ReadCloser
	ctx   context.Context
	fault *Fault
	read  int64
	hit   bool
	err   error
}

func (r *faultReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if left := r.fault.After - r.read; !r.hit && left <= 0 {
		r.hit = true
		if r.err = r.fault.apply(r.ctx); r.err != nil {
			return 0, r.err
		}
	} else if !r.hit && int64(len(p)) > left {
		p = p[:left]
	}
	n, err := r.ReadCloser.Read(p)
	r.read += int64(n)
	return n, err
}
