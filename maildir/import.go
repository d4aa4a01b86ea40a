package maildir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/mailuser"
)

// ErrUIDLExists is returned (wrapped) by [Backend.Import] when a message
// of the maildrop already shows that unique-id: one imported with it, or
// one whose unique-id the format gives (such as %u, for a message
// delivered here), which need not be the same message. A migration tool
// tells the two apart by their sizes ([Backend.Listing]), as pop3admin
// import does.
var ErrUIDLExists = errors.New("maildir: the maildrop already has a message with that unique-id")

// ErrInvalidUIDL is returned (wrapped) by [Backend.Import] for a unique-id
// that RFC 1939 §7 does not allow: it must be 1 to 70 characters from 0x21
// to 0x7E.
var ErrInvalidUIDL = errors.New("maildir: not a unique-id (RFC 1939 §7: 1 to 70 characters from 0x21 to 0x7E)")

// Import stores msg in username's Maildir with uidl as its unique-id: a
// migration that keeps the unique-id another server showed, so that
// clients that keep mail on the server download nothing again. It is what
// pop3admin import calls.
//
// The message is written as [Backend.Deliver] writes it (tmp/, synced,
// then new/), and its dovecot-uidlist record keeps uidl as a P extension,
// as Dovecot's migration scripts write it, so that Dovecot serving the
// same Maildir shows the same unique-id, whatever its pop3_uidl_format or
// this backend's [WithUIDLFormat]. The record is written before the file
// is renamed into new/, under the uidlist lock: a crash between the two
// leaves a record without a file, which the next listing drops, and never
// a file without its unique-id; the message is then simply not there, and
// importing it again stores it once.
//
// A uidl that a message of the maildrop shows already (imported with it,
// or given it by the format or its X-UIDL header) is [ErrUIDLExists]; one
// that RFC 1939 does not allow is [ErrInvalidUIDL]. A unique-id of the default format
// (%08Xu%08Xv) with this Maildir's UIDVALIDITY makes the Maildir's next
// UID skip past its UID, so that no message delivered later shows it too;
// any other collision with a later message is told apart when listed (see
// [WithUIDLFormat]). A user the password source does not know is
// [pop3.ErrNoSuchUser], wrapped.
func (b *Backend) Import(ctx context.Context, username, uidl string, msg io.Reader) error {
	if !pop3.ValidUID(uidl) {
		return fmt.Errorf("%w: %q", ErrInvalidUIDL, uidl)
	}
	name := mailuser.NormalizeUsername(username)
	dir, o, err := b.mailDirOf(ctx, name)
	if err != nil {
		return fmt.Errorf("maildir: importing to %q: %w", name, err)
	}
	sp, err := spool(ctx, dir, msg, o)
	if err != nil {
		return err
	}
	if err := b.addImported(ctx, dir, o, uidl, sp); err != nil {
		sp.discard()
		return fmt.Errorf("maildir: importing to %q: %w", name, err)
	}
	return nil
}

// addImported writes the record of the spooled message and renames it
// into new/, both under the uidlist lock, so that no listing sees the
// file before its record.
//
// A migration imports thousands of messages into one Maildir, one at a
// time: the listing and the list that the last import left are kept (see
// importCache), and used again while the list has not changed since, so
// that an import costs neither a directory read nor a reading of the list;
// its record is appended to the list rather than the list rewritten.
func (b *Backend) addImported(ctx context.Context, dir string, o owner, uidl string, sp *spooled) error {
	mode := os.FileMode(0o600)
	if st, err := os.Stat(filepath.Join(dir, uidlistName)); err == nil {
		mode = st.Mode().Perm()
	}
	lock, err := lockUIDList(dir, uidlistLockWait, mode, o)
	if err != nil {
		return err
	}
	defer lock.release()
	st := b.imports.get(dir)
	if st == nil {
		// Under the lock, as a session lists the Maildir: new files get
		// UIDs, and the list is written when that changes it.
		msgs, _, err := syncOnce(ctx, dir, b.logger, lock, make(map[string]sizes), b.uidlSettings())
		if err != nil {
			return err
		}
		if st, err = loadImportState(dir, msgs); err != nil {
			return err
		}
	}
	list := st.list
	appendable := st.endsInLineEnd
	for i := 0; i < len(list.records); i++ {
		rec := &list.records[i]
		if p, ok := rec.extension(extPOP3UIDL); !ok || p != uidl {
			continue
		}
		if _, ok := findFile(dir, rec.base); ok {
			return fmt.Errorf("%w: %q", ErrUIDLExists, uidl) // imported meanwhile
		}
		// An import that died between its record and the rename of its
		// file (under this lock, no import is midway): finish it when
		// its file is still in tmp/.
		if tmp, ok := spooledFileOf(dir, rec.base); ok {
			if err := renameNoReplace(tmp, filepath.Join(dir, "new", rec.base)); err == nil {
				_ = syncDir(filepath.Join(dir, "new"))
				b.imports.forget(dir)
				return fmt.Errorf("%w: %q (an interrupted import of it, now finished)", ErrUIDLExists, uidl)
			}
		}
		// Look once more, as a sync does before it drops a record: a
		// file being renamed (new/ to cur/, new flags) can be missed.
		if _, ok := findFile(dir, rec.base); ok {
			return fmt.Errorf("%w: %q", ErrUIDLExists, uidl)
		}
		list.records = slices.Delete(list.records, i, i+1)
		i--
		appendable = false
	}
	if st.shown[uidl] {
		return fmt.Errorf("%w: %q", ErrUIDLExists, uidl)
	}
	if uid, ok := defaultFormatUID(uidl, list.uidValidity); ok && uid >= list.nextUID && uid < math.MaxUint32 {
		list.nextUID = uid + 1
	}
	if list.nextUID == math.MaxUint32 {
		return errors.New("the UIDs of this Maildir are used up")
	}
	rec := record{
		uid:  list.nextUID,
		ext:  []string{string(extPOP3UIDL) + uidl, string(extVirtualSize) + strconv.FormatInt(sp.vsize, 10)},
		base: sp.name,
	}
	list.records = append(list.records, rec)
	list.nextUID++
	// From here the state is what the list is about to be; on a failure
	// it is dropped, and the next import reads the list again.
	b.imports.forget(dir)
	if appendable {
		err = lock.appendRecord(&rec)
	} else {
		err = lock.commit(list)
	}
	if err != nil {
		return err
	}
	// The record is written: the file must follow, whatever ctx says.
	if err := sp.publish(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	st.shown[uidl], st.endsInLineEnd = true, true
	if st.id, err = listIdentity(dir); err == nil {
		b.imports.put(dir, st)
	}
	return nil
}

// spooledFileOf returns the file in tmp/ that spool wrote for the message
// whose name in new/ is base: spool names it base up to its ",S=".
func spooledFileOf(dir, base string) (string, bool) {
	name, _, ok := strings.Cut(base, ",S=")
	if !ok || name == "" {
		return "", false
	}
	path := filepath.Join(dir, "tmp", name)
	st, err := os.Lstat(path)
	return path, err == nil && st.Mode().IsRegular()
}

// defaultFormatUID returns the UID of a unique-id of the default format
// with the given UIDVALIDITY.
func defaultFormatUID(uidl string, uidValidity uint32) (uint32, bool) {
	if len(uidl) != 16 || uidl[8:] != fmt.Sprintf("%08x", uidValidity) {
		return 0, false
	}
	uid, err := strconv.ParseUint(uidl[:8], 16, 32)
	return uint32(uid), err == nil && uidl[:8] == fmt.Sprintf("%08x", uid)
}

// Listing returns the messages of username's maildrop as a session's LIST
// and UIDL would show them (their Size and UID; not DowngradedSize),
// messages hidden by [WithDeletedFlag] included: what pop3admin import
// compares with the source's, to copy each message once. Listing the
// Maildir gives new files their UIDs, as a session does, but takes no
// maildrop lock and moves nothing. A user the password source does not
// know is [pop3.ErrNoSuchUser], wrapped.
func (b *Backend) Listing(ctx context.Context, username string) ([]pop3.MessageInfo, error) {
	name := mailuser.NormalizeUsername(username)
	dir, o, err := b.mailDirOf(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("maildir: listing %q: %w", name, err)
	}
	msgs, _, err := syncMaildir(ctx, dir, b.logger, o, b.uidlSettings())
	if err != nil {
		return nil, fmt.Errorf("maildir: listing %q: %w", name, err)
	}
	infos := make([]pop3.MessageInfo, 0, len(msgs))
	for _, m := range msgs {
		if m.uidl != "" {
			infos = append(infos, pop3.MessageInfo{Size: m.size, UID: m.uidl})
		}
	}
	return infos, nil
}

// mailDirOf finds the Maildir of the user name (normalised), as Deliver
// does, and creates it when it does not exist yet.
func (b *Backend) mailDirOf(ctx context.Context, name string) (string, owner, error) {
	acct, err := b.accounts.Lookup(ctx, name)
	if err != nil {
		return "", owner{}, err
	}
	dir := acct.Path
	o := ownerFor(dir)
	if err := ensureMaildir(dir, o); err != nil {
		return "", owner{}, err
	}
	return dir, o, nil
}
