package mbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/gopop3/pop3"
)

// errClosed is a mailbox used after Close.
var errClosed = errors.New("mbox: mailbox is closed")

// Open locks the user's maildrop (RFC 1939 §4) and reads its spool. The
// session's lock is a flock on the spool, so a second session is
// pop3.ErrMailboxLocked; the spool is read under its dotlock and a shared
// fcntl lock, which keep delivery agents from appending while it is read,
// and only then. A spool that does not exist is an empty maildrop. One that is not
// an mbox, or ends in the middle of a message, is an error for that user
// (the client sees a temporary failure) and is never changed.
func (u *user) Open(ctx context.Context) (pop3.Mailbox, error) {
	b := u.backend
	m := &mailbox{backend: b, user: u.name, path: u.path}
	f, err := openSpool(u.path, os.O_RDWR)
	if errors.Is(err, fs.ErrNotExist) {
		m.sp = &spool{}
		return m, nil
	}
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("mbox: opening the spool of %q (the server needs read and write access: on Debian, group mail): %w", u.name, err)
		}
		return nil, fmt.Errorf("mbox: opening the spool of %q: %w", u.name, err)
	}
	if err := lockSession(f); err != nil {
		f.Close()
		return nil, err
	}
	m.f = f
	if err := m.load(ctx); err != nil {
		f.Close()
		return nil, err
	}
	return m, nil
}

// load finishes an update that a crash interrupted, then reads the spool.
// Messages without a UID get theirs, and the spool is rewritten with them
// (X-UID, and X-IMAPbase with the new last UID) before anything is
// listed: a unique-id that a client saw is then never given to another
// message, whatever happens to this session. A spool that cannot be
// written then fails the login.
func (m *mailbox) load(ctx context.Context) error {
	b := m.backend
	ctx, cancel := b.lockContext(ctx)
	defer cancel()
	// The dotlock too, not only the shared fcntl lock that Dovecot reads
	// under: a delivery agent that takes only the dotlock (procmail,
	// dotlockfile) must not be read half-way through a message.
	lock, err := takeDotlock(ctx, m.path)
	if err != nil {
		return err
	}
	defer lock.releaseLogged(m.backend.logger)
	if _, committed := updatePaths(m.path); exists(committed) {
		if err := m.recover(ctx, lock); err != nil {
			return err
		}
	}
	if err := fcntlLock(ctx, m.f, false); err != nil {
		return err
	}
	defer fcntlUnlock(m.f)
	sp, assigned, err := m.parse()
	if err != nil {
		return err
	}
	if len(assigned) > 0 {
		m.sp = sp
		c := newChanges(len(sp.msgs))
		for _, i := range assigned {
			c.assigned[i] = true
		}
		if err := fcntlLock(ctx, m.f, true); err != nil { // the read lock becomes a write lock
			return err
		}
		if _, err := m.rewriteLocked(c, lock); err != nil {
			return fmt.Errorf("mbox: writing the UIDs of new messages into the spool of %q: %w", m.user, err)
		}
		if sp, assigned, err = m.parse(); err != nil {
			return err
		}
		if len(assigned) > 0 {
			return fmt.Errorf("mbox: the spool of %q still has messages without UIDs after they were written", m.user)
		}
	}
	m.sp = sp
	n := len(sp.msgs)
	m.retrieved = make([]bool, n)
	ids := uidls(sp, !b.ignoreXUIDL)
	m.infos = make([]pop3.MessageInfo, n)
	for i := range sp.msgs {
		m.infos[i] = pop3.MessageInfo{Size: sp.msgs[i].size, UID: ids[i]}
	}
	return nil
}

// parse reads the whole spool, under the caller's locks, and gives UIDs
// to the messages without one (assigned), as Dovecot gives them.
func (m *mailbox) parse() (sp *spool, assigned []int, err error) {
	fi, err := m.f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("mbox: %w", err)
	}
	sp, err = parseSpool(io.NewSectionReader(m.f, 0, fi.Size()), fi.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("mbox: the spool of %q: %w", m.user, err)
	}
	if sp.uidValidity == 0 && len(sp.msgs) > 0 {
		sp.uidValidity = m.backend.newValidity(m.path, time.Now())
	}
	return sp, assignUIDs(sp, time.Unix(int64(sp.uidValidity), 0)), nil
}

// recover finishes an interrupted update, under the dotlock the caller
// holds and the fcntl write lock.
func (m *mailbox) recover(ctx context.Context, lock *dotlock) error {
	if err := fcntlLock(ctx, m.f, true); err != nil {
		return err
	}
	defer fcntlUnlock(m.f)
	return m.backend.finishUpdate(m.f, m.path, lock, m.user)
}

// errNotRegular is a spool that is not a regular file.
var errNotRegular = errors.New("mbox: the spool is not a regular file")

// openSpool opens the spool at path with flag, never through a symbolic
// link, which a user who can write the spool's directory (a spool in a
// home directory) could point at another user's spool; and only a regular
// file. A spool it creates has mode 0660.
func openSpool(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|noFollow, 0o660)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%w: %s", errNotRegular, path)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// exists tells whether there is a file at path.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// mailbox is an open maildrop: the spool as it was when the session
// began, locked for the session.
type mailbox struct {
	backend *Backend
	user    string
	path    string
	f       *os.File // nil: no spool
	sp      *spool
	infos   []pop3.MessageInfo

	retrieved []bool // messages RETR sent
	updated   bool   // Delete wrote the session's changes
	closed    bool
}

// Messages returns the listing at open time.
func (m *mailbox) Messages() []pop3.MessageInfo { return m.infos }

// Message opens message i as Dovecot shows it: without the From line and
// the headers the spool keeps for itself, with CRLF line ends. A message
// counts as retrieved, for its "Status: RO", once it has been read to its
// end: a RETR that a dropped connection cut short does not mark it.
func (m *mailbox) Message(ctx context.Context, i int) (io.ReadCloser, error) {
	r, err := m.open(ctx, i)
	if err != nil {
		return nil, err
	}
	// Not wrapped: the server recognises its CRLF reader.
	return pop3.NewCRLFReader(&readToEnd{r: r, done: &m.retrieved[i]}), nil
}

// readToEnd sets done once r has given all it has.
type readToEnd struct {
	r    io.Reader
	done *bool
}

func (e *readToEnd) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		*e.done = true
	}
	return n, err
}

// Top opens the header and the first lines of the body of message i,
// reading no more of the spool than that.
func (m *mailbox) Top(ctx context.Context, i int, lines int) (io.ReadCloser, error) {
	r, err := m.open(ctx, i)
	if err != nil {
		return nil, err
	}
	return pop3.NewTopReader(pop3.NewCRLFReader(r), lines), nil
}

// open checks message i and returns a reader of it as the spool has it.
func (m *mailbox) open(ctx context.Context, i int) (io.Reader, error) {
	if m.closed {
		return nil, errClosed
	}
	if i < 0 || i >= len(m.infos) {
		return nil, fmt.Errorf("mbox: no message %d", i)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	msg := &m.sp.msgs[i]
	if err := m.stillThere(msg); err != nil {
		return nil, err
	}
	return msg.reader(m.f), nil
}

// errMoved is a message that is no longer where the session saw it:
// another program (a mail reader, Dovecot) rewrote the spool, which the
// session's lock does not keep them from doing.
var errMoved = errors.New("mbox: the spool was rewritten by another program during the session: the message is no longer where it was")

// stillThere checks that msg's From line is where the session saw it,
// whole, and that the next message's (or the end of what the session saw)
// follows it, so that RETR never sends the octets of another message
// under this one's unique-id.
func (m *mailbox) stillThere(msg *message) error {
	fi, err := m.f.Stat()
	if err != nil {
		return fmt.Errorf("mbox: %w", err)
	}
	if fi.Size() < m.sp.size {
		return errMoved
	}
	// The line end before the From line (none at the start of the spool),
	// and the From line itself, in one read.
	start := max(msg.offset-1, 0)
	var buf [256]byte
	var line []byte
	if n := msg.headerStart - start; n <= int64(len(buf)) {
		line = buf[:n]
	} else {
		line = make([]byte, n)
	}
	if _, err := m.f.ReadAt(line, start); err != nil {
		return fmt.Errorf("mbox: reading the spool of %q: %w", m.user, err)
	}
	if msg.offset > 0 {
		if line[0] != '\n' {
			return errMoved
		}
		line = line[1:]
	}
	if !bytes.HasPrefix(line, []byte("From ")) || bytes.IndexByte(line, '\n') != len(line)-1 {
		return errMoved
	}
	if msg.next < m.sp.size {
		var next [5]byte
		if _, err := m.f.ReadAt(next[:], msg.next); err != nil || string(next[:]) != "From " {
			return errMoved
		}
	}
	return nil
}

// Delete removes the given messages from the spool, in UPDATE after QUIT
// (RFC 1939 §6), and writes the session's other changes with them (see
// Close). The spool is rewritten in place under its dotlock and fcntl
// lock; mail delivered during the session is kept. Once the new content
// is durable beside the spool, the removal happens even if the server
// dies; before that, nothing is changed and the error is returned.
func (m *mailbox) Delete(ctx context.Context, indexes []int) error {
	if m.closed {
		return errClosed
	}
	c := m.changes()
	for _, i := range indexes {
		if i < 0 || i >= len(m.infos) {
			return fmt.Errorf("mbox: no message %d", i)
		}
		c.deleted[i] = true
	}
	m.updated = true
	return m.update(ctx, c)
}

// Close marks the messages that RETR sent to their end "Status: RO", even
// without QUIT, as Dovecot marks them seen, so that a mail reader shows
// them read, unless Delete has already written them; then it releases the
// maildrop lock.
func (m *mailbox) Close() error {
	if m.closed {
		return errClosed
	}
	m.closed = true
	if m.f == nil {
		return nil
	}
	if !m.updated {
		if c := m.changes(); c.needed(m.sp) {
			ctx, cancel := context.WithTimeout(context.Background(), m.backend.lockTimeout)
			if err := m.update(ctx, c); err != nil {
				m.backend.logger.Warn("mbox: could not mark the retrieved messages read", "user", m.user, "error", err)
			}
			cancel()
		}
	}
	return m.f.Close() // releases the flock
}

// changes is what the end of the session writes: RETR's marks, and the
// deletions that Delete adds.
func (m *mailbox) changes() *changes {
	c := newChanges(len(m.infos))
	c.retrieved = m.retrieved
	return c
}

// update rewrites the spool with c, bounding the wait for its locks.
func (m *mailbox) update(ctx context.Context, c *changes) error {
	if m.f == nil || !c.needed(m.sp) {
		return nil
	}
	ctx, cancel := m.backend.lockContext(ctx)
	defer cancel()
	return m.rewrite(ctx, c)
}

// Seen reports whether an earlier session retrieved message i: its
// Status header says read (R), as qpopper writes it. LAST starts from
// the highest such message (pop3.SeenMailbox).
func (m *mailbox) Seen(i int) bool {
	return i >= 0 && i < len(m.sp.msgs) && strings.ContainsRune(m.sp.msgs[i].status, 'R')
}
