package pop3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gopop3/pop3"
)

// Account is a user that TestBackend asks a backend to hold.
type Account struct {
	// Username and Password are what Backend.Login accepts. Names are
	// lower-case ASCII letters; passwords are printable ASCII.
	Username, Password string
	// Messages are the raw messages of the user's maildrop, oldest first,
	// with LF or CRLF line ends.
	Messages [][]byte
}

// TestBackend checks that a backend keeps the promises of the pop3
// interfaces, as testing/fstest.TestFS does for a file system. It checks
// them on the interfaces directly and through a real [pop3.Server] session
// over loopback, since what a client sees is what counts, and reports each
// broken promise as a failed subtest named for it, such as
// "UIDL/stable_across_sessions" or "DELE/nothing_removed_without_QUIT".
//
// newBackend must return a fresh backend that holds exactly the given
// accounts, each message stored as a delivery would store it, in the given
// order. Every call must be independent of the others; release resources
// with t.Cleanup. TestBackend calls it for each subtest (some call it more
// than once), never concurrently.
//
// What it checks:
//   - Login: the right password gives a user; a wrong password and an
//     unknown user fail with [pop3.ErrAuthFailed] and look the same to the
//     client; different users log in concurrently.
//   - Open: exclusive; a second Open of the same maildrop fails with
//     [pop3.ErrMailboxLocked] until Close, other users are unaffected.
//   - Close: releases the lock however the session ended: QUIT, a dropped
//     connection, an idle timeout, a panic.
//   - Listing: stable while the mailbox is open; mail delivered meanwhile
//     shows up at the next Open, last.
//   - Size: the exact octets Message yields, which use CRLF only and end in
//     CRLF; STAT and LIST on the wire report them.
//   - UIDL: 1 to 70 characters of 0x21 to 0x7E, unique, the same in every
//     session, unchanged for the messages that survive a delete, never
//     reused for a new message, even one with the same content as a
//     deleted one (so a unique-id is not a hash of the content alone).
//   - Message: the message as delivered; readable twice, partially and out
//     of order; a cancelled context is respected; RETR sends it.
//   - TOP: the header, the blank line and the first n body lines.
//   - DELE: Delete removes exactly the given messages, for good; nothing is
//     removed without QUIT; RSET undoes the marks.
//   - Deliver: an unknown user wraps [pop3.ErrNoSuchUser]; a session sees
//     the new mail at its next login, last; it reaches only its user.
//   - APOP: the RFC 1939 example digest; a wrong digest and an unknown
//     user fail alike. AUTH: PLAIN with the password, and a wrong one;
//     each of a [pop3.SASLBackend]'s own mechanisms refuses a bogus
//     credential, and a backend PLAIN or LOGIN accepts the password
//     (other mechanisms need credentials the kit cannot make).
//   - Policy: a [pop3.LoginRecorder] gives back the last login it
//     recorded, at the next login, for its user only; a
//     [pop3.RetrievalBackend]'s mailboxes give back the first retrievals
//     recorded, keep the first of two, and survive a delete of other
//     messages; EXPIRE 0 through a server removes what a session
//     retrieved, RSET aside.
//   - Content: a 20 MB message, lines of 998 octets and more, lines that
//     start with a dot, no final line end, 8-bit bytes, an empty body, a
//     header-only message.
//
// A call that panics fails the check that made it, not the test binary: the
// failure names the method, as in "Message panicked: boom", and shows the
// stack, and the other checks run on. The server recovers a panic in a
// session itself; the check then fails with the same report, "in a
// session". A Mailbox.Close, or a QUIT, that takes longer than a second is
// noted in the check's log, once: a server answers QUIT only after it has
// closed the maildrop (RFC 1939 §6), so a slow Close slows every client,
// and this kit, which closes hundreds of mailboxes.
//
// The checks of optional interfaces run only for a backend that implements
// them: [pop3.APOPBackend], [pop3.SASLBackend], [pop3.TopMailbox],
// [pop3.LoginRecorder], [pop3.RetrievalBackend] and [pop3.Deliverer], without which "never reused for a new message" and the
// delivery checks are skipped. A backend that only ever holds the mail
// it was built with passes without Deliverer. For APOP, an account's
// shared secret is its Password.
func TestBackend(t *testing.T, newBackend func(t *testing.T, accounts []Account) pop3.Backend) {
	k := &kit{newBackend: newBackend}
	run(t, "Login", k.testLogin)
	run(t, "Open", k.testOpen)
	run(t, "Close", k.testClose)
	run(t, "Listing", k.testListing)
	run(t, "Size", k.testSize)
	run(t, "DowngradedSize", k.testDowngradedSize)
	run(t, "UIDL", k.testUIDL)
	run(t, "Message", k.testMessage)
	run(t, "TOP", k.testTop)
	run(t, "DELE", k.testDele)
	run(t, "Deliver", k.testDeliver)
	run(t, "APOP", k.testAPOP)
	run(t, "AUTH", k.testAuth)
	run(t, "Content", k.testContent)
	run(t, "Policy", k.testPolicy)
}

// kit holds what every check needs.
type kit struct {
	newBackend func(t *testing.T, accounts []Account) pop3.Backend
}

// backend returns a fresh backend holding accounts.
func (k *kit) backend(t *testing.T, accounts []Account) pop3.Backend {
	t.Helper()
	defer catchAs(t, "newBackend")
	b := k.newBackend(t, cloneAccounts(accounts))
	if b == nil {
		t.Fatal("newBackend returned a nil pop3.Backend")
	}
	return b
}

// session connects a client to srv and logs in as a.
func session(srv *Server, a Account) *Client {
	srv.tb.Helper()
	c := srv.Dial()
	c.Login(a.Username, a.Password)
	return c
}

// connInfo is what the kit passes to login methods called directly: a
// loopback client, as the server would describe it.
func connInfo() *pop3.ConnInfo {
	return &pop3.ConnInfo{
		ID:         1,
		RemoteAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000},
		LocalAddr:  &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 110},
		Domain:     "localhost",
	}
}

// ctx returns a context for one backend call.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// login logs a in through Backend.Login, which must succeed.
func login(t *testing.T, b pop3.Backend, a Account) pop3.User {
	t.Helper()
	u, err := b.Login(ctx(t), connInfo(), a.Username, a.Password)
	if err != nil {
		t.Fatalf("Login(%q, right password) = %v, want a user", a.Username, err)
	}
	if u == nil {
		t.Fatalf("Login(%q, right password) returned a nil User and no error", a.Username)
	}
	return u
}

// openBox is an open Mailbox that the subtest closes at its end unless the
// check closed it.
type openBox struct {
	pop3.Mailbox
	closed bool
}

// close closes the mailbox, which must succeed.
func (m *openBox) close(t *testing.T) {
	t.Helper()
	if m.closed {
		return
	}
	m.closed = true
	if err := closeBox(t, m.Mailbox); err != nil {
		t.Errorf("Mailbox.Close() = %v, want nil", err)
	}
}

// open logs a in and opens its maildrop, which must succeed.
func open(t *testing.T, b pop3.Backend, a Account) *openBox {
	t.Helper()
	return openUser(t, login(t, b, a), a.Username)
}

func openUser(t *testing.T, u pop3.User, name string) *openBox {
	t.Helper()
	mb, err := u.Open(ctx(t))
	if err != nil {
		t.Fatalf("Open() of %q's maildrop = %v, want a mailbox", name, err)
	}
	if mb == nil {
		t.Fatalf("Open() of %q's maildrop returned a nil Mailbox and no error", name)
	}
	box := &openBox{Mailbox: mb}
	t.Cleanup(func() {
		defer catch(t)
		box.close(t)
	})
	return box
}

// read reads message i of mb whole.
func read(t *testing.T, mb pop3.Mailbox, i int) []byte {
	t.Helper()
	var size int64
	if infos := mb.Messages(); i < len(infos) {
		size = infos[i].Size
	}
	r, err := mb.Message(ctx(t), i)
	return readWhole(t, fmt.Sprintf("Message(%d)", i), r, err, size)
}

// readTop reads Top(i, n) of mb whole.
func readTop(t *testing.T, mb pop3.TopMailbox, i, n int) []byte {
	t.Helper()
	r, err := mb.Top(ctx(t), i, n)
	return readWhole(t, fmt.Sprintf("Top(%d, %d)", i, n), r, err, 0)
}

// readWhole reads and closes r, which call returned with err; size, when
// known, sizes the buffer.
func readWhole(t *testing.T, call string, r io.ReadCloser, err error, size int64) []byte {
	t.Helper()
	if err != nil || r == nil {
		t.Fatalf("%s = %v, %v; want a reader", call, r, err)
	}
	var buf bytes.Buffer
	if size > 0 && size <= 64<<20 {
		buf.Grow(int(size)) // one allocation for a big message
	}
	_, err = buf.ReadFrom(r)
	if cerr := r.Close(); err == nil && cerr != nil {
		t.Errorf("closing the reader of %s: %v", call, cerr)
	}
	if err != nil {
		t.Fatalf("reading %s: %v", call, err)
	}
	return buf.Bytes()
}

// requireCount stops the subtest unless a listing of the kit's own
// accounts has the number of messages they were given, so that a later
// check does not index past it.
func requireCount(t *testing.T, what string, list []string, want int) {
	t.Helper()
	if len(list) != want {
		t.Fatalf("%s has %d messages, want %d: %v", what, len(list), want, list)
	}
}

// uids returns the unique-ids of a listing.
func uids(infos []pop3.MessageInfo) []string {
	out := make([]string, len(infos))
	for i, m := range infos {
		out[i] = m.UID
	}
	return out
}

// normalize returns what a client must receive for raw (RFC 1939 §11 and
// RFC 5322 §2.3): every bare LF made CRLF, and a final CRLF added when raw
// does not end in a line end.
func normalize(raw []byte) []byte {
	out := make([]byte, 0, len(raw)+len(raw)/16+2)
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '\n')
		if i < 0 {
			out = append(out, raw...)
			break
		}
		out = append(out, raw[:i]...)
		if i == 0 || raw[i-1] != '\r' {
			out = append(out, '\r')
		}
		out = append(out, '\n')
		raw = raw[i+1:]
	}
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}

// expectedTop returns what TOP msg n sends (RFC 1939 §7): the header, the
// blank line after it, and the first n lines of the body; a message
// without a blank line is all header.
func expectedTop(msg []byte, n int) []byte {
	end := 0
	for end < len(msg) {
		nl := bytes.IndexByte(msg[end:], '\n')
		if nl < 0 {
			return msg
		}
		line := msg[end : end+nl+1]
		end += nl + 1
		if string(line) == "\r\n" {
			break
		}
	}
	for ; n > 0 && end < len(msg); n-- {
		nl := bytes.IndexByte(msg[end:], '\n')
		if nl < 0 {
			return msg
		}
		end += nl + 1
	}
	return msg[:end]
}

// sameBytes fails the test unless got equals want, saying where the first
// difference is, without printing megabytes.
func sameBytes(t *testing.T, got, want []byte, format string, args ...any) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-20)
	t.Errorf("%s: %d octets, want %d; they differ at octet %d: got %q, want %q",
		fmt.Sprintf(format, args...), len(got), len(want), i,
		excerpt(got, from, i+20), excerpt(want, from, i+20))
}

func excerpt(b []byte, from, to int) []byte {
	return b[min(from, len(b)):min(to, len(b))]
}

// waitUnlocked opens a's maildrop through Backend.Login and User.Open until
// it succeeds, for at most a few seconds, and reports whether it did: the
// server closes a mailbox when a session ends, a moment after the client
// sees the end.
func waitUnlocked(t *testing.T, b pop3.Backend, a Account) (bool, error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		u := login(t, b, a)
		mb, err := u.Open(ctx(t))
		if err == nil {
			return true, closeBox(t, mb)
		}
		if time.Now().After(deadline) {
			return false, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// isAuthFailed reports whether err means refused credentials: it is, or
// wraps, pop3.ErrAuthFailed or another *pop3.Error with code AUTH.
func isAuthFailed(err error) bool {
	var e *pop3.Error
	return errors.As(err, &e) && e.Code == pop3.CodeAuth
}

func cloneAccounts(accounts []Account) []Account {
	out := make([]Account, len(accounts))
	for i, a := range accounts {
		out[i] = a
		out[i].Messages = make([][]byte, len(a.Messages))
		for j, m := range a.Messages {
			out[i].Messages[j] = bytes.Clone(m)
		}
	}
	return out
}
