package mbox

import (
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
	f, err := os.OpenFile(u.path, os.O_RDWR, 0)
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
func (m *mailbox) load(ctx context.Context) error {
	b := m.backend
	ctx, cancel := b.lockContext(ctx)
	defer cancel()
	if _, committed := updatePaths(m.path); exists(committed) {
		if err := m.recover(ctx); err != nil {
			return err
		}
	}
	// The dotlock too, not only the shared fcntl lock that Dovecot reads
	// under: a delivery agent that takes only the dotlock (procmail,
	// dotlockfile) must not be read half-way through a message.
	lock, err := takeDotlock(ctx, m.path, b.staleDotlock)
	if err != nil {
		return err
	}
	defer lock.release()
	if err := fcntlLock(ctx, m.f, false); err != nil {
		return err
	}
	defer fcntlUnlock(m.f)
	fi, err := m.f.Stat()
	if err != nil {
		return fmt.Errorf("mbox: %w", err)
	}
	sp, err := parseSpool(io.NewSectionReader(m.f, 0, fi.Size()), fi.Size())
	if err != nil {
		return fmt.Errorf("mbox: the spool of %q: %w", m.user, err)
	}
	m.sp = sp
	if sp.uidValidity == 0 && len(sp.msgs) > 0 {
		sp.uidValidity = b.newValidity(m.path, time.Now())
	}
	n := len(sp.msgs)
	m.assigned = make([]bool, n)
	for _, i := range assignUIDs(sp, time.Unix(int64(sp.uidValidity), 0)) {
		m.assigned[i] = true
	}
	m.retrieved = make([]bool, n)
	ids := uidls(sp, !b.ignoreXUIDL)
	m.infos = make([]pop3.MessageInfo, n)
	for i := range sp.msgs {
		m.infos[i] = pop3.MessageInfo{Size: sp.msgs[i].size, UID: ids[i]}
	}
	return nil
}

// recover finishes an interrupted update under the write locks.
func (m *mailbox) recover(ctx context.Context) error {
	lock, err := takeDotlock(ctx, m.path, m.backend.staleDotlock)
	if err != nil {
		return err
	}
	defer lock.release()
	if err := fcntlLock(ctx, m.f, true); err != nil {
		return err
	}
	defer fcntlUnlock(m.f)
	if ok, err := recoverUpdate(m.f, m.path, lock); err != nil {
		return err
	} else if ok {
		m.backend.logger.Warn("mbox: finished an update of the spool that a crash had interrupted", "user", m.user, "spool", m.path)
	}
	return nil
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

	assigned  []bool // messages given a UID this session
	retrieved []bool // messages RETR sent
	updated   bool   // Delete wrote the session's changes
	closed    bool
}

// Messages returns the listing at open time.
func (m *mailbox) Messages() []pop3.MessageInfo { return m.infos }

// Message opens message i as Dovecot shows it: without the From line and
// the headers the spool keeps for itself, with CRLF line ends.
func (m *mailbox) Message(ctx context.Context, i int) (io.ReadCloser, error) {
	r, err := m.open(ctx, i)
	if err == nil {
		m.retrieved[i] = true
	}
	return r, err
}

// Top opens the header and the first lines of the body of message i,
// reading no more of the spool than that.
func (m *mailbox) Top(ctx context.Context, i int, lines int) (io.ReadCloser, error) {
	r, err := m.open(ctx, i)
	if err != nil {
		return nil, err
	}
	return pop3.NewTopReader(r, lines), nil
}

func (m *mailbox) open(ctx context.Context, i int) (io.ReadCloser, error) {
	if m.closed {
		return nil, errClosed
	}
	if i < 0 || i >= len(m.infos) {
		return nil, fmt.Errorf("mbox: no message %d", i)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Not wrapped: the server recognises its CRLF reader.
	return pop3.NewCRLFReader(m.sp.msgs[i].reader(m.f)), nil
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

// Close writes what the session changed in the spool, even without QUIT,
// as Dovecot does: "Status: RO" on the messages RETR sent, as qpopper
// marks them, so that a mail reader shows them read, and Dovecot's
// X-IMAPbase and X-UID headers when the session gave messages their
// UIDs, so that their unique-ids stay the same. Then it releases the
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
				m.backend.logger.Warn("mbox: could not mark retrieved messages or write their UIDs", "user", m.user, "error", err)
			}
			cancel()
		}
	}
	return m.f.Close() // releases the flock
}

func (m *mailbox) changes() *changes {
	return &changes{deleted: make([]bool, len(m.infos)), retrieved: m.retrieved, assigned: m.assigned}
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
