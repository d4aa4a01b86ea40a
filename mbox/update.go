package mbox

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"io"
	"strconv"
)

// changes is what a rewrite writes into the spool: at login, Dovecot's
// headers for the UIDs given to messages that had none (assigned); at the
// end of a session, the removal of the messages deleted (after QUIT) and
// "Status: RO" on the ones RETR sent, as qpopper marks them.
type changes struct {
	deleted   []bool
	retrieved []bool
	assigned  []bool
}

// newChanges is no change to a spool of n messages.
func newChanges(n int) *changes {
	return &changes{deleted: make([]bool, n), retrieved: make([]bool, n), assigned: make([]bool, n)}
}

// needed tells whether anything would change.
func (c *changes) needed(sp *spool) bool {
	for i := range sp.msgs {
		if c.deleted[i] || c.assigned[i] || (c.retrieved[i] && !statusRead(sp.msgs[i].status)) {
			return true
		}
	}
	return false
}

// statusRead tells whether a Status header value already says read and old.
func statusRead(s string) bool {
	return bytes.ContainsRune([]byte(s), 'R') && bytes.ContainsRune([]byte(s), 'O')
}

// errChanged is a spool that another program rewrote during the session:
// the messages the session knows are no longer where it saw them, so
// nothing is removed.
var errChanged = errors.New("mbox: the spool was rewritten by another program during the session; nothing was changed")

// rewrite applies c to the spool of m, under the locks delivery agents
// respect (dotlock, then fcntl), and with the crash safety of commit.go.
// Mail appended during the session is kept, after the session's messages,
// untouched. Once the new content is committed the update is decided: a
// failure to write it over the spool is logged, and finished by whoever
// locks the spool next.
func (m *mailbox) rewrite(ctx context.Context, c *changes) error {
	lock, err := takeDotlock(ctx, m.path)
	if err != nil {
		return err
	}
	defer lock.releaseLogged(m.backend.logger)
	if err := fcntlLock(ctx, m.f, true); err != nil {
		return err
	}
	defer fcntlUnlock(m.f)
	committed, err := m.rewriteLocked(c, lock)
	if err != nil && committed {
		m.backend.logger.Error("mbox: the spool's update is committed but could not be written yet; the next session finishes it",
			"user", m.user, "spool", m.path, "error", err)
		return nil
	}
	return err
}

// rewriteLocked is rewrite with the locks held. committed tells whether
// the update was decided, whatever the error.
func (m *mailbox) rewriteLocked(c *changes, lock *dotlock) (committed bool, err error) {
	if _, err := recoverUpdate(m.f, m.path, lock); err != nil {
		return false, err
	}
	fi, err := m.f.Stat()
	if err != nil {
		return false, fmt.Errorf("mbox: %w", err)
	}
	size := fi.Size()
	if size < m.sp.size {
		return false, errChanged
	}
	u, err := createUpdate(m.path)
	if err != nil {
		return false, err
	}
	h := sha256.New()
	r := bufio.NewReaderSize(io.NewSectionReader(m.f, 0, size), 64<<10)
	w := bufio.NewWriterSize(u, 64<<10)
	if err := m.writeSpool(w, r, h, c, size, lock); err != nil {
		u.abandon()
		return false, err
	}
	if err := w.Flush(); err != nil {
		u.abandon()
		return false, fmt.Errorf("mbox: writing %s: %w", u.path, err)
	}
	path, err := u.commit(size, h.Sum(nil))
	if err != nil {
		return false, err
	}
	return true, apply(m.f, path, lock)
}

// writeSpool writes the new spool to w from r, which reads the current
// spool from its start, hashing all it reads with h, and checking on the
// way that the part the session saw is what it saw.
func (m *mailbox) writeSpool(w *bufio.Writer, r *bufio.Reader, h hash.Hash, c *changes, size int64, lock *dotlock) error {
	sp := m.sp
	var pos int64
	// Up to the end of what the session saw, the octets also go to seen,
	// which must then give the sum of the parse.
	var seen maphash.Hash
	seen.SetSeed(spoolSeed)
	both, hashes := io.MultiWriter(w, h, &seen), io.MultiWriter(h, &seen)
	copyTo := func(end int64) error {
		n, err := io.CopyN(both, r, end-pos)
		pos += n
		if err != nil {
			return fmt.Errorf("mbox: copying %s: %w", m.path, err)
		}
		lock.touch()
		return nil
	}
	skipTo := func(end int64) error {
		n, err := io.CopyN(hashes, r, end-pos)
		pos += n
		if err != nil {
			return fmt.Errorf("mbox: reading %s: %w", m.path, err)
		}
		return nil
	}
	base := imapBase{validity: sp.uidValidity, lastUID: sp.nextUID - 1}
	baseWritten := false
	if sp.pseudo != nil {
		// The pseudo message keeps the folder's UIDs, in X-IMAP.
		p := sp.pseudo
		if err := copyTo(p.headerStart); err != nil {
			return err
		}
		if err := m.copyHeader(p, copyTo, skipTo, dropped{imap: true, imapBase: true}); err != nil {
			return err
		}
		fmt.Fprintf(w, "X-IMAP: %d %010d\n", base.validity, base.lastUID)
		if err := copyTo(p.next); err != nil {
			return err
		}
		baseWritten = true
	}
	for i := range sp.msgs {
		msg := &sp.msgs[i]
		if err := copyTo(msg.offset); err != nil {
			return err
		}
		if c.deleted[i] {
			if err := skipTo(msg.next); err != nil {
				return err
			}
			continue
		}
		if err := copyTo(msg.headerStart); err != nil {
			return err
		}
		// New fields go at the end of the header, as Dovecot writes them:
		// after the From line, a header that starts with a continuation
		// line would take them in. In the first message X-UID must follow
		// X-IMAPbase, or Dovecot ignores it, so there it is written anew.
		first := !baseWritten
		drop := dropped{imapBase: true, uid: c.assigned[i] || first, status: c.retrieved[i] && !statusRead(msg.status)}
		if err := m.copyHeader(msg, copyTo, skipTo, drop); err != nil {
			return err
		}
		if first {
			fmt.Fprintf(w, "X-IMAPbase: %d %010d\n", base.validity, base.lastUID)
			baseWritten = true
		}
		if drop.uid && msg.uid != 0 {
			w.WriteString("X-UID: " + strconv.FormatUint(uint64(msg.uid), 10) + "\n")
		}
		if drop.status {
			w.WriteString("Status: RO\n")
		}
		if err := copyTo(msg.next); err != nil {
			return err
		}
	}
	if pos != sp.size {
		return errChanged
	}
	if seen.Sum64() != sp.sum {
		return errChanged
	}
	both = io.MultiWriter(w, h)
	if n := len(sp.msgs); size > pos && n > 0 && c.deleted[n-1] {
		// The empty line a delivery wrote before its From line, because
		// the last message lacked one, was that message's separator: it
		// goes with it.
		if k := separatorPrefix(r); k > 0 {
			if _, err := io.CopyN(h, r, int64(k)); err != nil {
				return fmt.Errorf("mbox: reading %s: %w", m.path, err)
			}
			pos += int64(k)
		}
	}
	// Mail delivered during the session: as it is, but the first message
	// of a spool whose every earlier message was removed carries the
	// folder's UIDs, so that they are never given again.
	if size > pos && !baseWritten && base.validity != 0 {
		line, err := r.ReadSlice('\n')
		pos += int64(len(line))
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("mbox: reading %s: %w", m.path, err)
		}
		both.Write(line)
		next, _ := r.Peek(1)
		continued := len(next) == 1 && (next[0] == ' ' || next[0] == '\t')
		if bytes.HasPrefix(line, []byte("From ")) && err == nil && !continued {
			fmt.Fprintf(w, "X-IMAPbase: %d %010d\n", base.validity, base.lastUID)
		}
	}
	return copyTo(size)
}

// separatorPrefix returns how many line ends (LF or CRLF) r starts with
// before a "From " line; 0 when none, or when no From line follows them.
func separatorPrefix(r *bufio.Reader) int {
	b, _ := r.Peek(512)
	k := 0
	for k < len(b) {
		switch {
		case b[k] == '\n':
			k++
		case b[k] == '\r' && k+1 < len(b) && b[k+1] == '\n':
			k += 2
		default:
			if k > 0 && bytes.HasPrefix(b[k:], []byte("From ")) {
				return k
			}
			return 0
		}
	}
	return 0
}

// imapBase is the folder's UIDVALIDITY and last UID, as X-IMAPbase holds them.
type imapBase struct{ validity, lastUID uint32 }

// dropped is which of the fields the store keeps a rewrite leaves out,
// because it writes them anew.
type dropped struct{ imap, imapBase, uid, status bool }

// has tells whether the field named name (lower case) is left out.
func (d dropped) has(name string) bool {
	switch name {
	case "x-imap":
		return d.imap
	case "x-imapbase":
		return d.imapBase
	case "x-uid":
		return d.uid
	case "status":
		return d.status
	}
	return false
}

// copyHeader copies the header of msg, from headerStart to the empty line
// that ends it (headerEnd), leaving out the fields that drop names.
func (m *mailbox) copyHeader(msg *message, copyTo, skipTo func(int64) error, drop dropped) error {
	for _, f := range msg.fields {
		if !drop.has(f.name) {
			continue
		}
		if err := copyTo(f.start); err != nil {
			return err
		}
		if err := skipTo(f.end); err != nil {
			return err
		}
	}
	return copyTo(msg.headerEnd)
}
