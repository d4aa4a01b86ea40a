package pop3_test

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gopop3/pop3"
)

// fakeBackend is a fault-injecting backend: one user "alice"/"secret"
// whose maildrop holds msgs, and hooks to fail or panic at each step.
type fakeBackend struct {
	msgs []string
	uids []string // overrides the default "uid-N" when set

	loginErr  error  // returned by Login
	openErr   error  // returned by Open
	deleteErr error  // returned by Delete
	panicIn   string // "login", "open", "message", "read", "delete" or "close"
	// failReadAfter makes a message reader fail after that many bytes
	// (0: never).
	failReadAfter int
	// block and blockDelete, when set, make Message and Delete wait until
	// they are closed; entered is signalled when one starts waiting.
	block, blockDelete chan struct{}
	entered            chan struct{}

	mu      sync.Mutex
	deleted [][]int
	opens   atomic.Int32
	closes  atomic.Int32
}

var _ pop3.Backend = (*fakeBackend)(nil)

func (b *fakeBackend) Login(_ context.Context, _ *pop3.ConnInfo, username, password string) (pop3.User, error) {
	if b.panicIn == "login" {
		panic("fake: panic in Login")
	}
	if b.loginErr != nil {
		return nil, b.loginErr
	}
	if username != "alice" || password != "secret" {
		return nil, pop3.ErrAuthFailed
	}
	return fakeUser{b}, nil
}

type fakeUser struct{ b *fakeBackend }

func (u fakeUser) Open(context.Context) (pop3.Mailbox, error) {
	if u.b.panicIn == "open" {
		panic("fake: panic in Open")
	}
	if u.b.openErr != nil {
		return nil, u.b.openErr
	}
	u.b.opens.Add(1)
	return &fakeMailbox{b: u.b}, nil
}

type fakeMailbox struct {
	b *fakeBackend
}

func (m *fakeMailbox) Messages() []pop3.MessageInfo {
	infos := make([]pop3.MessageInfo, len(m.b.msgs))
	for i, msg := range m.b.msgs {
		infos[i] = pop3.MessageInfo{Size: int64(len(msg)), UID: "uid-" + strconv.Itoa(i+1)}
		if i < len(m.b.uids) {
			infos[i].UID = m.b.uids[i]
		}
	}
	return infos
}

func (m *fakeMailbox) Message(ctx context.Context, i int) (io.ReadCloser, error) {
	if m.b.panicIn == "message" {
		panic("fake: panic in Message")
	}
	if m.b.block != nil {
		m.b.signalEntered()
		select {
		case <-m.b.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var r io.Reader = strings.NewReader(m.b.msgs[i])
	if m.b.failReadAfter > 0 {
		r = io.MultiReader(io.LimitReader(r, int64(m.b.failReadAfter)), failingReader{})
	}
	if m.b.panicIn == "read" {
		r = io.MultiReader(io.LimitReader(r, 10), panickingReader{})
	}
	return io.NopCloser(r), nil
}

func (m *fakeMailbox) Delete(_ context.Context, indexes []int) error {
	if m.b.panicIn == "delete" {
		panic("fake: panic in Delete")
	}
	if m.b.blockDelete != nil {
		m.b.signalEntered()
		<-m.b.blockDelete
	}
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	m.b.deleted = append(m.b.deleted, indexes)
	return m.b.deleteErr
}

func (m *fakeMailbox) Close() error {
	m.b.closes.Add(1)
	if m.b.panicIn == "close" {
		panic("fake: panic in Close")
	}
	return nil
}

func (b *fakeBackend) signalEntered() {
	if b.entered != nil {
		b.entered <- struct{}{}
	}
}

func (b *fakeBackend) deletes() [][]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]int(nil), b.deleted...)
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("fake: storage read failed") }

type panickingReader struct{}

func (panickingReader) Read([]byte) (int, error) { panic("fake: panic while reading") }
