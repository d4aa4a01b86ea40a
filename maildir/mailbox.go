package maildir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gopop3/pop3"
)

// errClosed is returned by the methods of a mailbox after its Close.
var errClosed = errors.New("maildir: mailbox is closed")

// Open takes the maildrop lock (a flock on pop3d.lock in the Maildir, so it
// holds between processes too) and lists the Maildir as Dovecot would; see
// the package documentation. A Maildir that does not exist yet is created,
// as Dovecot does. An unchanged Maildir is listed from the listing cache
// (see [WithListingCache]). With [WithDeletedFlag], the messages that
// carry the keyword are not listed; with [WithNoFlagUpdates], new/ stays
// as it is.
func (u *user) Open(ctx context.Context) (pop3.Mailbox, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o := ownerFor(u.dir)
	lock, err := lockMaildrop(u.dir, o)
	if errors.Is(err, fs.ErrNotExist) {
		if err := ensureMaildir(u.dir, o); err != nil {
			return nil, err
		}
		lock, err = lockMaildrop(u.dir, o)
	}
	if err != nil {
		return nil, err
	}
	opened := false
	defer func() {
		if !opened { // an error, or a panic the server recovers
			unlockMaildrop(lock)
		}
	}()
	msgs, infos, err := u.list(ctx, o)
	if err != nil {
		return nil, err
	}
	opened = true
	return &mailbox{user: u, owner: o, lock: lock, msgs: msgs, infos: infos, retrieved: make([]bool, len(msgs))}, nil
}

// list lists the Maildir, under the maildrop lock: from the cache when its
// stamps are those of a cached listing, else by syncMaildir, whose listing
// is cached when the Maildir had settled and nothing changed it meanwhile.
// The messages returned are the session's own; the infos may be shared.
//
// The cache holds the whole listing, and the messages that carry the
// deleted flag's keyword are dropped from each session's copy: what hides
// a message is a letter in its file name, whose rename in cur/ changes
// the stamps, and dovecot-keywords, which is read again by every session
// that has a keyword letter to look up.
func (u *user) list(ctx context.Context, o owner) ([]message, []pop3.MessageInfo, error) {
	cache := &u.backend.cache
	before, settled, err := takeStamps(u.dir, time.Now())
	if err == nil && settled {
		if l := cache.get(u.dir, before); l != nil {
			return u.hideDeleted(slices.Clone(l.msgs), l.infos)
		}
	}
	if err := ensureMaildir(u.dir, o); err != nil {
		return nil, nil, err
	}
	msgs, partial, err := syncMaildir(ctx, u.dir, u.backend.logger, o, u.backend.uidlSettings())
	if err != nil {
		return nil, nil, fmt.Errorf("maildir: opening %s for %q: %w", u.dir, u.name, err)
	}
	if !u.backend.noFlagUpdates {
		moveToCur(u.dir, msgs)
	}
	infos := make([]pop3.MessageInfo, len(msgs))
	for i, m := range msgs {
		infos[i] = pop3.MessageInfo{Size: m.size, UID: m.uidl}
	}
	fillDowngraded(ctx, u.dir, msgs, infos, u.backend.logger, o)
	cacheable := settled && !partial
	for _, m := range msgs {
		// A file still in new/ failed to move to cur/: the next session
		// tries again, which a cached listing would not. Without flag
		// updates new/ is left as it is, and a later move by another
		// program changes the stamps of new/ and cur/.
		moved := u.backend.noFlagUpdates || filepath.Base(filepath.Dir(m.path)) != "new"
		cacheable = cacheable && !m.unreadable && !m.transient && moved
	}
	if cacheable {
		// Only a Maildir that this listing did not change: a rename or a
		// new uidlist leaves stamps too fresh to be trusted.
		if after, _, err := takeStamps(u.dir, time.Now()); err == nil && after == before {
			cache.put(&listing{dir: u.dir, stamps: before, msgs: slices.Clone(msgs), infos: infos})
		}
	}
	return u.hideDeleted(msgs, infos)
}

// mailbox is an open, locked Maildir.
type mailbox struct {
	user       *user
	owner      owner // of the files it writes
	lock       *maildropLock
	msgs       []message
	infos      []pop3.MessageInfo
	retrieved  []bool // RETR'd and not removed: to be marked seen at Close
	closed     bool
	cur        messageDir // cur/, opened at the first read
	curOpened  bool
	retrievals retrievals // see RetrievalMailbox
}

// Messages returns the listing. It is shared with the other sessions of an
// unchanged Maildir (see WithListingCache): it must not be modified.
func (m *mailbox) Messages() []pop3.MessageInfo { return m.infos }

// Message opens message i with CRLF line ends. A file that another program
// renamed since the listing (new/ to cur/, new flags) is found by its base
// name. A file that cannot be read is an error for this command only.
func (m *mailbox) Message(ctx context.Context, i int) (io.ReadCloser, error) {
	r, err := m.open(ctx, i)
	if err == nil {
		m.retrieved[i] = true
	}
	return r, err
}

// Top opens the header and the first lines of the body of message i,
// reading no more of the file than that.
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
	if i < 0 || i >= len(m.msgs) {
		return nil, fmt.Errorf("maildir: no message %d", i)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	msg := &m.msgs[i]
	if msg.unreadable {
		return nil, fmt.Errorf("maildir: message %s of %q could not be read when the maildrop was opened, so its size is unknown", msg.base, m.user.name)
	}
	if !m.curOpened {
		m.cur, m.curOpened = openMessageDir(filepath.Join(m.user.dir, "cur"), m), true
	}
	f, err := m.cur.openMessage(msg.path)
	if errors.Is(err, fs.ErrNotExist) {
		if path, ok := findFile(m.user.dir, msg.base); ok {
			msg.path = path
			f, err = m.cur.openMessage(path)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("maildir: message %s of %q: %w", msg.base, m.user.name, err)
	}
	// Not wrapped: the server recognises its CRLF reader and stuffs the
	// file's own line ends.
	return pop3.NewCRLFReader(f), nil
}

// Delete removes the files of the given messages, in UPDATE after QUIT
// (RFC 1939 §6). A file that is already gone is not an error: the message
// is removed as asked. A file that cannot be removed is reported, and the
// others are removed all the same.
//
// With [WithDeletedFlag] the files are kept, renamed to carry the keyword
// instead, with the same rules; when the keyword cannot be given a letter
// in dovecot-keywords (all 26 are taken), or dovecot-uidlist.lock cannot
// be taken, it fails and no message is touched.
func (m *mailbox) Delete(ctx context.Context, indexes []int) error {
	if m.closed {
		return errClosed
	}
	if m.user.backend.deletedFlag != "" {
		return m.deleteFlagged(indexes)
	}
	var errs []error
	for _, i := range indexes {
		if i < 0 || i >= len(m.msgs) {
			errs = append(errs, fmt.Errorf("maildir: no message %d", i))
			continue
		}
		msg := &m.msgs[i]
		err := os.Remove(msg.path)
		if errors.Is(err, fs.ErrNotExist) {
			if path, ok := findFile(m.user.dir, msg.base); ok {
				err = os.Remove(path)
			} else {
				err = nil
			}
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("maildir: removing %s of %q: %w", msg.base, m.user.name, err))
			continue
		}
		m.retrieved[i] = false
	}
	_ = syncDir(filepath.Join(m.user.dir, "cur"))
	return errors.Join(errs...)
}

// Close marks the messages that RETR sent as seen, as Dovecot does at the
// end of a POP3 session (its default pop3_no_flag_updates=no), so that an
// IMAP client sees them read, unless [WithNoFlagUpdates] was given, and
// releases the maildrop lock.
func (m *mailbox) Close() error {
	if m.closed {
		return errClosed
	}
	m.closed = true
	m.cur.close()
	for i, got := range m.retrieved {
		if got && !m.user.backend.noFlagUpdates {
			if err := markSeen(m.user.dir, &m.msgs[i]); err != nil {
				m.user.backend.logger.Warn("maildir: could not mark a retrieved message seen",
					"user", m.user.name, "message", m.msgs[i].base, "error", err)
			}
		}
	}
	return unlockMaildrop(m.lock)
}

// moveToCur moves the listed messages of new/ to cur/ with an empty info
// (":2,"), as Dovecot's POP3 does when it opens the maildrop: they are no
// longer new to an IMAP client either. A file that another program moved
// first is found later by its base name.
func moveToCur(dir string, msgs []message) {
	for i := range msgs {
		m := &msgs[i]
		if filepath.Base(filepath.Dir(m.path)) != "new" {
			continue
		}
		name := filepath.Base(m.path)
		if !strings.Contains(name, ":") {
			name += ":2,"
		}
		target := filepath.Join(dir, "cur", name)
		if renameNoReplace(m.path, target) == nil {
			m.path = target
		}
	}
}

// markSeen renames a message file to carry the S flag in cur/, moving it
// from new/ when it is there, as Dovecot sets \Seen (see addFlag).
func markSeen(dir string, msg *message) error { return addFlag(dir, msg, 'S') }
