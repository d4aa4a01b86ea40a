// Package memory is an in-memory backend for the pop3 server: the reference
// implementation of pop3.Backend, pop3.User and pop3.Mailbox, the default a
// server can embed for demos, and the fake that tests run against.
//
// Users and their maildrops live only in memory and are lost when the
// process exits. A Backend is safe for concurrent use: a program (or a
// test) may add users and deliver messages while sessions are reading the
// same maildrops.
//
// Usage sketch:
//
//	be := memory.New()
//	if err := be.AddUser("alice", "secret"); err != nil {
//		log.Fatal(err)
//	}
//	if _, err := be.AppendMessage("alice", []byte("Subject: hi\n\nHello.\n")); err != nil {
//		log.Fatal(err)
//	}
//	srv := pop3.NewServer(be)
//	log.Fatal(srv.ListenAndServe())
//
// The Backend also implements [pop3.APOPBackend] (RFC 1939 §7), using each
// user's password as the APOP shared secret, so a server on it advertises
// APOP in its greeting; [pop3.Deliverer] and [pop3.UserChecker], so that
// mail delivered over LMTP or by pop3test's contract kit reaches it; and
// [pop3.RetrievalBackend], with users that are [pop3.LoginRecorder] and
// [pop3.PolicyUser] values, so that it serves LOGIN-DELAY and EXPIRE (RFC
// 2449 §6.5, §6.7), with values per user from [Backend.SetPolicy].
//
// Errors are wrapped with the user's name; compare them with errors.Is.
package memory

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/gopop3/pop3"
)

// Compile-time checks that the backend implements the pop3 interfaces.
var (
	_ pop3.Backend     = (*Backend)(nil)
	_ pop3.APOPBackend = (*Backend)(nil)
	_ pop3.Deliverer   = (*Backend)(nil)
	_ pop3.User        = (*user)(nil)
	_ pop3.Mailbox     = (*mailbox)(nil)

	_ pop3.RetrievalBackend = (*Backend)(nil)
	_ pop3.PolicyUser       = (*user)(nil)
	_ pop3.LoginRecorder    = (*user)(nil)
	_ pop3.RetrievalMailbox = (*mailbox)(nil)
)

// ErrUserExists is returned by Backend.AddUser when a user of that name
// already exists. Compare with errors.Is.
var ErrUserExists = errors.New("memory: user already exists")

// errClosed is returned by the methods of a mailbox after its Close.
var errClosed = errors.New("memory: mailbox is closed")

// Message is a stored message, as returned by Backend.Messages.
type Message struct {
	// UID is the message's unique-id, as UIDL reports it (RFC 1939 §7).
	UID string
	// Data is the message exactly as it is served: CRLF line ends and not
	// dot-stuffed. Its length is the message's size (RFC 1939 §11).
	Data []byte
}

// Backend is an in-memory pop3.Backend and pop3.APOPBackend, safe for
// concurrent use. Create it with New; the zero value is not usable.
//
// Every user has one maildrop, which a session opens with an exclusive lock
// (RFC 1939 §4) and sees as a snapshot taken at open time.
type Backend struct {
	// uidPrefix is random per Backend, so that unique-ids are not reused
	// across process restarts (see AppendMessage).
	uidPrefix string
	// dummyHash is compared against for unknown users, so that they take
	// the same path as a wrong password.
	dummyHash [sha256.Size]byte

	mu    sync.Mutex       // guards everything below, and every user and mailbox
	users map[string]*user // by exact user name
	seq   uint64           // last sequence number given to a message
}

// user is one account and its maildrop. Its fields are guarded by the
// backend's mutex.
type user struct {
	b        *Backend
	password string            // the APOP shared secret
	pwHash   [sha256.Size]byte // SHA-256 of password, for Login
	msgs     []*message        // the live maildrop, oldest first
	holder   *mailbox          // the mailbox that holds the lock, or nil

	policy    pop3.UserPolicy // see SetPolicy
	lastLogin time.Time       // see RecordLogin
}

// message is one stored message. Its content is immutable once stored, so
// readers need no copy and no lock.
type message struct {
	uid  string
	data []byte
	size int64 // pop3.CRLFSize of data, what LIST reports
	// downgraded is pop3.DowngradedSize of data: what LIST reports to a
	// client that has not enabled UTF-8, learnt once, at append.
	downgraded int64

	firstRetrieved time.Time // guarded by the backend's mutex; see Retrieved
}

// Option configures a Backend made by New.
type Option func(*Backend)

// DeterministicUIDs makes the unique-ids "uid-1", "uid-2", ... in the
// order messages are added to the Backend, the same in every run, so that a
// golden transcript of UIDL needs no masking. It is for tests: a real
// server keeps the default, whose random prefix keeps a unique-id from
// being given out again after a restart, which would make a client that
// leaves mail on the server skip a new message it takes for one it has.
func DeterministicUIDs() Option {
	return func(b *Backend) { b.uidPrefix = "uid-" }
}

// New returns an empty Backend, with no users.
func New(opts ...Option) *Backend {
	var r [16]byte
	if _, err := rand.Read(r[:]); err != nil {
		// crypto/rand does not fail on supported systems; should it,
		// refuse to start rather than hand out guessable state.
		panic("memory: crypto/rand failed: " + err.Error())
	}
	b := &Backend{
		uidPrefix: hex.EncodeToString(r[:6]) + ".",
		dummyHash: sha256.Sum256(r[6:]),
		users:     make(map[string]*user),
	}
	for _, opt := range opts {
		opt(b)
	}
	return b
}

// AddUser adds a user with an empty maildrop. The name is matched exactly
// (case-sensitively) at login. The password is used both for USER/PASS and
// AUTH logins and as the APOP shared secret (RFC 1939 §7). Adding a name
// that exists returns ErrUserExists.
func (b *Backend) AddUser(username, password string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.users[username]; ok {
		return fmt.Errorf("%w: %q", ErrUserExists, username)
	}
	b.users[username] = &user{
		b:        b,
		password: password,
		pwHash:   sha256.Sum256([]byte(password)),
	}
	return nil
}

// AppendMessage delivers raw to the end of the user's maildrop and returns
// the message's unique-id. It may be called while a session holds the
// maildrop: the message is not in that session's snapshot and shows up at
// the next open.
//
// The message is stored with CRLF line ends, so that the size reported by
// STAT and LIST is exactly the number of octets RETR serves before
// dot-stuffing (RFC 1939 §11): a bare LF or a bare CR becomes CRLF and a
// CRLF is kept (RFC 5322 §2.3). A message that does not
// end in CRLF gets one appended. An empty raw message is stored empty, with
// size 0. raw is copied; the caller may reuse it. Its header is read once
// here, for its [pop3.MessageInfo.DowngradedSize], so that LIST never
// reads it.
//
// The unique-id (RFC 1939 §7) is "<prefix>.<n>": a 12-hex-digit prefix
// drawn at random when the Backend is created and a sequence number that
// grows with every message of the Backend (or "uid-<n>" with
// [DeterministicUIDs]). It is stable for the message's
// life, never reused within the Backend (not even after the message is
// deleted), and unlikely to repeat one given out before a restart, which a
// client that keeps a list of seen unique-ids relies on. It is at most 33
// characters, all in the range 0x21 to 0x7E.
//
// An unknown user returns an error that wraps [pop3.ErrNoSuchUser].
func (b *Backend) AppendMessage(username string, raw []byte) (uid string, err error) {
	data := normalize(raw)
	// normalize has made data what RETR sends, so this is len(data); it
	// is computed the way every backend must, so that they cannot differ.
	size, err := pop3.CRLFSize(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("memory: sizing the message: %w", err)
	}
	downgraded, err := pop3.DowngradedSize(bytes.NewReader(data), size)
	if err != nil {
		return "", fmt.Errorf("memory: sizing the message: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.users[username]
	if !ok {
		return "", fmt.Errorf("memory: %w: %q", pop3.ErrNoSuchUser, username)
	}
	b.seq++
	m := &message{
		uid:        b.uidPrefix + strconv.FormatUint(b.seq, 10),
		data:       data,
		size:       size,
		downgraded: downgraded,
	}
	u.msgs = append(u.msgs, m)
	return m.uid, nil
}

// Deliver reads a message from msg and appends it to the user's maildrop,
// as AppendMessage does; it implements [pop3.Deliverer], through which the
// LMTP listener and pop3test deliver. The message is stored once Deliver
// returns (durable for as long as the process lives). An unknown user
// returns an error that wraps [pop3.ErrNoSuchUser].
func (b *Backend) Deliver(ctx context.Context, username string, msg io.Reader) error {
	raw, err := io.ReadAll(msg)
	if err != nil {
		return fmt.Errorf("memory: reading the message for %q: %w", username, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: delivering to %q: %w", username, err)
	}
	_, err = b.AppendMessage(username, raw)
	return err
}

// UserExists reports whether username was added with AddUser; it
// implements [pop3.UserChecker], so that LMTP refuses an unknown recipient
// at RCPT TO.
func (b *Backend) UserExists(ctx context.Context, username string) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.users[username]
	return ok, nil
}

// Messages returns copies of the messages left in the user's live maildrop,
// oldest first, for tests to inspect. Messages a session has deleted are
// gone; messages delivered while a session holds the maildrop are there.
// An unknown user returns an error that wraps [pop3.ErrNoSuchUser].
func (b *Backend) Messages(username string) ([]Message, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.users[username]
	if !ok {
		return nil, fmt.Errorf("memory: %w: %q", pop3.ErrNoSuchUser, username)
	}
	out := make([]Message, len(u.msgs))
	for i, m := range u.msgs {
		out[i] = Message{UID: m.uid, Data: bytes.Clone(m.data)}
	}
	return out, nil
}

// Login checks a username and a cleartext password (USER/PASS of RFC 1939
// §7, or AUTH PLAIN/LOGIN). The password is compared in constant time, as
// SHA-256 hashes so that its length does not leak either. An unknown user
// and a wrong password both return exactly pop3.ErrAuthFailed, by the same
// path.
func (b *Backend) Login(ctx context.Context, c *pop3.ConnInfo, username, password string) (pop3.User, error) {
	got := sha256.Sum256([]byte(password))
	b.mu.Lock()
	u, ok := b.users[username]
	want := b.dummyHash
	if ok {
		want = u.pwHash
	}
	b.mu.Unlock()
	match := subtle.ConstantTimeCompare(got[:], want[:]) == 1
	if !ok || !match {
		return nil, pop3.ErrAuthFailed
	}
	return u, nil
}

// LoginAPOP checks an APOP digest (RFC 1939 §7) with pop3.VerifyAPOP, the
// user's password being the shared secret. An unknown user and a wrong
// digest both return exactly pop3.ErrAuthFailed.
func (b *Backend) LoginAPOP(ctx context.Context, c *pop3.ConnInfo, username, timestamp, digest string) (pop3.User, error) {
	b.mu.Lock()
	u, ok := b.users[username]
	secret := ""
	if ok {
		secret = u.password
	}
	b.mu.Unlock()
	// An unknown user still computes and compares a digest, so that it
	// takes about as long as a wrong one.
	match := pop3.VerifyAPOP(timestamp, secret, digest)
	if !ok || !match {
		return nil, pop3.ErrAuthFailed
	}
	return u, nil
}

// Open takes the maildrop's exclusive lock (RFC 1939 §4) and returns a
// snapshot of it: the messages present now. Messages delivered later are not
// in it and show up at the next Open. It does not wait: while another
// session holds the maildrop it returns pop3.ErrMailboxLocked.
func (u *user) Open(ctx context.Context) (pop3.Mailbox, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b := u.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if u.holder != nil {
		return nil, pop3.ErrMailboxLocked
	}
	mb := &mailbox{
		user:      u,
		msgs:      append([]*message(nil), u.msgs...),
		infos:     make([]pop3.MessageInfo, len(u.msgs)),
		retrieved: make([]time.Time, len(u.msgs)),
	}
	for i, m := range u.msgs {
		mb.infos[i] = pop3.MessageInfo{Size: m.size, UID: m.uid, DowngradedSize: m.downgraded}
		mb.retrieved[i] = m.firstRetrieved
	}
	u.holder = mb
	return mb, nil
}

// mailbox is an open, locked maildrop: a snapshot of the messages present
// when it was opened. closed is guarded by the backend's mutex; msgs and
// infos never change.
type mailbox struct {
	user      *user
	msgs      []*message
	infos     []pop3.MessageInfo
	retrieved []time.Time // first retrievals at open time
	closed    bool
}

// Messages returns the snapshot's listing, message 1 first. After Close it
// returns nil.
func (mb *mailbox) Messages() []pop3.MessageInfo {
	if mb.isClosed() {
		return nil
	}
	return append([]pop3.MessageInfo(nil), mb.infos...)
}

// Message returns a reader over message i of the snapshot.
func (mb *mailbox) Message(ctx context.Context, i int) (io.ReadCloser, error) {
	if mb.isClosed() {
		return nil, errClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if i < 0 || i >= len(mb.msgs) {
		return nil, fmt.Errorf("memory: message index %d out of range [0,%d)", i, len(mb.msgs))
	}
	return io.NopCloser(bytes.NewReader(mb.msgs[i].data)), nil
}

// Delete removes the given snapshot messages from the live maildrop, all or
// none: an index out of range removes nothing. Messages delivered since the
// mailbox was opened are not affected. Removing a message twice is not an
// error.
func (mb *mailbox) Delete(ctx context.Context, indexes []int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := mb.checkIndexes(indexes); err != nil {
		return err
	}
	b := mb.user.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if mb.closed {
		return errClosed
	}
	gone := make(map[*message]bool, len(indexes))
	for _, i := range indexes {
		gone[mb.msgs[i]] = true
	}
	u := mb.user
	kept := make([]*message, 0, len(u.msgs))
	for _, m := range u.msgs {
		if !gone[m] {
			kept = append(kept, m)
		}
	}
	u.msgs = kept
	return nil
}

// Close releases the maildrop's lock. A second Close returns an error and
// leaves alone a lock that another session has taken since.
func (mb *mailbox) Close() error {
	b := mb.user.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if mb.closed {
		return errClosed
	}
	mb.closed = true
	if mb.user.holder == mb {
		mb.user.holder = nil
	}
	return nil
}

// checkIndexes reports an index out of the snapshot's range.
func (mb *mailbox) checkIndexes(indexes []int) error {
	for _, i := range indexes {
		if i < 0 || i >= len(mb.msgs) {
			return fmt.Errorf("memory: message index %d out of range [0,%d)", i, len(mb.msgs))
		}
	}
	return nil
}

func (mb *mailbox) isClosed() bool {
	b := mb.user.b
	b.mu.Lock()
	defer b.mu.Unlock()
	return mb.closed
}

// normalize returns a copy of raw in which every line ends in CRLF: a bare
// LF and a bare CR each become CRLF (RFC 5322 §2.3 allows CR and LF only
// together), and a final CRLF is added when raw does not end in one. That
// makes the stored size exactly what RETR sends (RFC 1939 §11). Empty input
// gives empty output.
func normalize(raw []byte) []byte {
	if len(raw) == 0 {
		return []byte{}
	}
	out := make([]byte, 0, len(raw)+len(raw)/32+2)
	for len(raw) > 0 {
		i := bytes.IndexAny(raw, "\r\n")
		if i < 0 {
			out = append(out, raw...)
			break
		}
		out = append(out, raw[:i]...)
		out = append(out, '\r', '\n')
		if raw[i] == '\r' && i+1 < len(raw) && raw[i+1] == '\n' {
			i++
		}
		raw = raw[i+1:]
	}
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}
