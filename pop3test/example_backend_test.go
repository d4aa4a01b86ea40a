package pop3test_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/pop3test"
)

// fakeBackend is a test double of a mail store: users and messages in
// maps, one lock per maildrop.
type fakeBackend struct {
	mu    sync.Mutex
	users map[string]*fakeUser
}

type fakeUser struct {
	b        *fakeBackend
	password string
	list     []pop3.MessageInfo
	data     map[string][]byte // by unique-id
	locked   bool
}

type fakeMailbox struct {
	u    *fakeUser
	list []pop3.MessageInfo // the snapshot taken by Open
}

func newFakeBackend(_ *testing.T, accounts []pop3test.Account) pop3.Backend {
	b := &fakeBackend{users: make(map[string]*fakeUser)}
	for _, a := range accounts {
		u := &fakeUser{b: b, password: a.Password, data: make(map[string][]byte)}
		for i, raw := range a.Messages {
			uid := fmt.Sprintf("%s-%d", a.Username, i+1)
			u.data[uid] = crlf(raw)
			u.list = append(u.list, pop3.MessageInfo{UID: uid, Size: int64(len(u.data[uid]))})
		}
		b.users[a.Username] = u
	}
	return b
}

func (b *fakeBackend) Login(_ context.Context, _ *pop3.ConnInfo, name, password string) (pop3.User, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if u, ok := b.users[name]; ok && u.password == password {
		return u, nil
	}
	return nil, pop3.ErrAuthFailed
}

func (u *fakeUser) Open(context.Context) (pop3.Mailbox, error) {
	u.b.mu.Lock()
	defer u.b.mu.Unlock()
	if u.locked {
		return nil, pop3.ErrMailboxLocked
	}
	u.locked = true
	return &fakeMailbox{u: u, list: slices.Clone(u.list)}, nil
}

func (m *fakeMailbox) Messages() []pop3.MessageInfo { return m.list }

func (m *fakeMailbox) Message(ctx context.Context, i int) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.u.b.mu.Lock()
	defer m.u.b.mu.Unlock()
	return io.NopCloser(bytes.NewReader(m.u.data[m.list[i].UID])), nil
}

func (m *fakeMailbox) Delete(_ context.Context, indexes []int) error {
	m.u.b.mu.Lock()
	defer m.u.b.mu.Unlock()
	for _, i := range indexes {
		delete(m.u.data, m.list[i].UID)
	}
	m.u.list = slices.DeleteFunc(m.u.list, func(mi pop3.MessageInfo) bool { return m.u.data[mi.UID] == nil })
	return nil
}

func (m *fakeMailbox) Close() error {
	m.u.b.mu.Lock()
	defer m.u.b.mu.Unlock()
	m.u.locked = false
	return nil
}

// crlf gives a message the CRLF line ends and final CRLF that clients
// receive, so that its length is the size LIST reports (RFC 1939 §11).
func crlf(raw []byte) []byte {
	lf := bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	if !bytes.HasSuffix(lf, []byte("\n")) {
		lf = append(lf, '\n')
	}
	return bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n"))
}

// testFakeBackend is what a backend's test file holds: one call checks the
// whole contract. (Here TestFakeBackend calls it.)
func testFakeBackend(t *testing.T) {
	pop3test.TestBackend(t, newFakeBackend)
}

// A fake backend of about 30 lines of code that passes the contract kit:
// testFakeBackend runs the kit on it. The example itself shows the fake
// at work through the interfaces.
func ExampleTestBackend() {
	b := newFakeBackend(nil, []pop3test.Account{{
		Username: "alice",
		Password: "secret",
		Messages: [][]byte{[]byte("Subject: hi\n\nHello.\n")},
	}})
	u, err := b.Login(context.Background(), &pop3.ConnInfo{}, "alice", "secret")
	if err != nil {
		fmt.Println(err)
		return
	}
	mb, err := u.Open(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mb.Close()
	for _, m := range mb.Messages() {
		fmt.Printf("%s: %d octets\n", m.UID, m.Size)
	}
	// Output:
	// alice-1: 23 octets
}
