package maildir

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/gopop3/pop3"
)

// uidlistLockWait is how long a session waits for another program's
// uidlist lock before it lists only the messages that already have UIDs.
// Tests shorten it.
var uidlistLockWait = 5 * time.Second

// message is one message of a session's listing.
//
// Each session has a copy of its listing's messages: the fields are laid
// out so that the struct stays small.
type message struct {
	uid         uint32
	uidValidity uint32 // of the dovecot-uidlist that gave uid
	unreadable  bool   // when listed: its size is unknown, so it is not served
	hasSaved    bool   // its record has a P extension (see saved)
	permanent   bool   // uidl is the kept one
	transient   bool   // uidl stands in for one that could not be computed: not to be kept
	unstable    bool   // uidl is not the message's own (another took its X-UIDL, or it got "-N"): to be kept
	order       uint64 // the O extension; 0 without one
	base        string
	path        string
	size        int64
	uidl        string      // what UIDL shows; see assignUIDLs
	ext         *recordUIDL // its record's P and G extensions; nil without either
}

// recordUIDL are the extensions of a record that unique-ids come from.
type recordUIDL struct {
	saved string // the P extension: a unique-id kept in the list
	guid  string // the G extension; "" without one
}

// saved returns the P extension of m's record.
func (m *message) saved() string {
	if m.ext == nil {
		return ""
	}
	return m.ext.saved
}

// guid returns the G extension of m's record.
func (m *message) guid() string {
	if m.ext == nil {
		return ""
	}
	return m.ext.guid
}

// uidlSettings are the Backend's settings that decide the unique-ids; nil
// is Dovecot's defaults.
type uidlSettings struct {
	format     *uidlFormat // nil: %08Xu%08Xv
	reuseXUIDL bool
	save       bool
}

// syncMaildir lists the Maildir at dir as Dovecot would: every message file
// with its UID from dovecot-uidlist, where files new to the list get the
// next UIDs, in file-name order, and the list is written back under
// dovecot-uidlist.lock. A size that neither the file name (",W=") nor the
// list ("W") gives is computed once and kept in the list.
//
// When the lock stays taken, it lists only the messages that the list
// already knows, and reports partial: a new message waits for the next
// session rather than get a UID that another writer may give to something
// else.
//
// The files it writes belong to o.
func syncMaildir(ctx context.Context, dir string, logger *slog.Logger, o owner, settings *uidlSettings) (msgs []message, partial bool, err error) {
	computed := make(map[string]sizes)
	msgs, write, err := syncOnce(ctx, dir, logger, nil, computed, settings)
	if err != nil {
		return nil, false, err
	}
	if !write {
		if err := assignUIDLs(ctx, dir, msgs, settings, logger); err != nil {
			return nil, false, err
		}
		if !slices.ContainsFunc(msgs, mustKeep) {
			return msgs, false, nil
		}
		// A unique-id that another message's would take back once that
		// one is deleted is kept in the list, under the lock.
	}
	mode := os.FileMode(0o600)
	if st, err := os.Stat(filepath.Join(dir, uidlistName)); err == nil {
		mode = st.Mode().Perm()
	}
	lock, err := lockUIDList(dir, uidlistLockWait, mode, o)
	if errors.Is(err, errUIDListBusy) {
		listed := known(msgs)
		if len(listed) == 0 && len(msgs) > 0 {
			return nil, false, fmt.Errorf("%w, and the Maildir has no usable list yet", err)
		}
		logger.Warn("maildir: the uidlist is locked by another program; new messages wait for the next session",
			"dir", dir, "lock", filepath.Join(dir, uidlistLockName))
		if err := assignUIDLs(ctx, dir, listed, settings, logger); err != nil {
			return nil, false, err
		}
		return listed, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer lock.release()
	// Under the lock, read again: another writer may have given UIDs
	// since.
	msgs, _, err = syncOnce(ctx, dir, logger, lock, computed, settings)
	return msgs, false, err
}

// syncOnce reads the list and the files and matches them. Without a lock
// it reports whether the list needs writing and lists the matched messages
// plus the new ones (uid 0), without their unique-ids. With the lock it
// gives new files UIDs, drops records whose files are gone, assigns the
// unique-ids (keeping them in the records with settings.save) and writes
// the list; the caller releases the lock.
// computed keeps the sizes read from files, by base name, for the second
// pass.
func syncOnce(ctx context.Context, dir string, logger *slog.Logger, lock *uidlistLock, computed map[string]sizes, settings *uidlSettings) ([]message, bool, error) {
	files, duplicates, err := scanFilesAndDuplicates(dir)
	if err != nil {
		return nil, false, err
	}
	if len(duplicates) > 0 && lock != nil {
		if n := renameDuplicates(duplicates); n > 0 {
			logger.Warn("maildir: files had the base name of another message; they were renamed to be listed as messages of their own",
				"dir", dir, "renamed", n)
			if files, err = scanFiles(dir); err != nil {
				return nil, false, err
			}
		}
	}
	list, problems, err := readUIDList(dir)
	write := list == nil || err != nil || len(problems) > 0 || len(duplicates) > 0
	switch {
	case errors.Is(err, errUIDListHeader):
		fresh := newUIDList(dir, lock)
		if lock != nil {
			logger.Warn("maildir: the header of dovecot-uidlist is unreadable; it is rebuilt with a new UIDVALIDITY, so the unique-ids of the maildrop change",
				"dir", dir, "error", err, "uidvalidity", fresh.uidValidity)
		}
		if list != nil && lock != nil {
			// Without the lock, the new UIDVALIDITY is not kept: no
			// unique-id may be shown with it.
			fresh.records, fresh.nextUID = list.records, list.nextUID
		}
		list = fresh
	case err != nil:
		return nil, false, fmt.Errorf("maildir: reading %s: %w", uidlistName, err)
	case list == nil:
		list = newUIDList(dir, lock)
	}
	if lock != nil && len(problems) > 0 {
		logger.Warn("maildir: dovecot-uidlist had records that do not parse; it is rewritten without them",
			"dir", dir, "problems", problems)
	}

	kept := list.records[:0:0]
	msgs := make([]message, 0, len(files))
	var missing int
	for i := range list.records {
		rec := &list.records[i]
		f, ok := files[rec.base]
		if !ok {
			missing++
			continue
		}
		delete(files, rec.base)
		m, changed, err := messageOf(ctx, rec, f, list.uidValidity, computed)
		if err != nil {
			return nil, false, err
		}
		write = write || changed
		msgs = append(msgs, m)
		kept = append(kept, *rec)
	}
	if missing > 0 && lock != nil {
		// A file renamed while the directory was read can be missed;
		// look once more before its record is dropped for good.
		if again, err := scanFiles(dir); err == nil {
			if kept, msgs, err = recoverMissing(ctx, list, kept, msgs, files, again, computed); err != nil {
				return nil, false, err
			}
		}
	}

	newNames := make([]string, 0, len(files))
	for base := range files {
		newNames = append(newNames, base)
	}
	slices.SortFunc(newNames, compareFileNames)
	write = write || len(newNames) > 0
	for _, base := range newNames {
		rec := record{base: base}
		if lock != nil {
			if list.nextUID == math.MaxUint32 {
				logger.Error("maildir: the UIDs of this Maildir are used up; new messages are not listed until its dovecot-uidlist is rebuilt",
					"dir", dir)
				break
			}
			rec.uid = list.nextUID
			list.nextUID++
		}
		m, _, err := messageOf(ctx, &rec, files[base], list.uidValidity, computed)
		if err != nil {
			return nil, false, err
		}
		msgs = append(msgs, m)
		kept = append(kept, rec)
	}
	sortListing(msgs)
	if lock == nil {
		if settings != nil && settings.save {
			write = write || slices.ContainsFunc(msgs, func(m message) bool { return m.uid != 0 && !m.hasSaved })
		}
		return msgs, write, nil
	}
	if err := assignUIDLs(ctx, dir, msgs, settings, logger); err != nil {
		return nil, false, err
	}
	if saveUIDLs(kept, msgs, settings != nil && settings.save) {
		write = true
	}
	if !write {
		return msgs, false, nil
	}
	list.records = kept
	if err := lock.commit(list); err != nil {
		return nil, false, err
	}
	return msgs, false, nil
}

// mustKeep reports whether m shows a unique-id that is not its own (see
// assignUIDLs), which would change once the message that has its own is
// deleted, and RFC 1939 §7 wants it to stay: it is kept in the list
// whatever WithSaveUIDL says.
func mustKeep(m message) bool { return m.unstable && !m.transient && m.uid != 0 && !m.hasSaved }

// saveUIDLs gives the records of the messages that must keep their
// unique-id (all, with all, that have none kept) that unique-id as a P
// extension, and reports whether it changed any. A record that has a P
// extension already, even one that is not a valid unique-id (which
// Dovecot shows as it is), keeps it.
func saveUIDLs(records []record, msgs []message, all bool) bool {
	byUID := make(map[uint32]int, len(records))
	for i := range records {
		byUID[records[i].uid] = i
	}
	changed := false
	for i := range msgs {
		m := &msgs[i]
		if m.uid == 0 || m.permanent || m.transient || m.uidl == "" || m.hasSaved || !all && !mustKeep(*m) {
			continue
		}
		j, ok := byUID[m.uid]
		if !ok {
			continue
		}
		records[j].setExtension(extPOP3UIDL, m.uidl)
		m.ext = &recordUIDL{saved: m.uidl, guid: m.guid()}
		m.hasSaved, m.permanent = true, true
		changed = true
	}
	return changed
}

// recoverMissing matches records whose files were not found against a
// second scan, and adds those found.
func recoverMissing(ctx context.Context, list *uidlist, kept []record, msgs []message, unmatched, again map[string]file, computed map[string]sizes) ([]record, []message, error) {
	have := make(map[string]bool, len(kept))
	for _, r := range kept {
		have[r.base] = true
	}
	for i := range list.records {
		rec := &list.records[i]
		if have[rec.base] {
			continue
		}
		f, ok := again[rec.base]
		if !ok {
			continue
		}
		m, _, err := messageOf(ctx, rec, f, list.uidValidity, computed)
		if err != nil {
			return nil, nil, err // keep the list as it is
		}
		delete(unmatched, rec.base)
		msgs = append(msgs, m)
		kept = append(kept, *rec)
	}
	slices.SortFunc(kept, func(a, b record) int { return int64Cmp(int64(a.uid), int64(b.uid)) })
	return kept, msgs, nil
}

// messageOf builds the listing entry of the file f of rec, computing the
// size when neither the name nor the record has it (changed reports that
// the record got a W extension).
func messageOf(ctx context.Context, rec *record, f file, uidValidity uint32, computed map[string]sizes) (message, bool, error) {
	m := message{uid: rec.uid, uidValidity: uidValidity, base: f.base, path: f.path}
	if o, ok := rec.extension(extPOP3Order); ok {
		m.order, _ = strconv.ParseUint(o, 10, 64)
	}
	saved, hasSaved := rec.extension(extPOP3UIDL)
	guid, _ := rec.extension(extGUID)
	if hasSaved || guid != "" {
		m.hasSaved, m.ext = hasSaved, &recordUIDL{saved: saved, guid: guid}
	}
	if n, ok := sizeFromName(f.base); ok {
		m.size = n
		return m, false, nil
	}
	if w, ok := rec.extension(extVirtualSize); ok {
		if n, err := strconv.ParseInt(w, 10, 64); err == nil && n >= 0 {
			m.size = n
			return m, false, nil
		}
	}
	size, ok := computed[f.base]
	if !ok {
		if err := ctx.Err(); err != nil {
			return m, false, err
		}
		var err error
		if size, err = fileSizes(f.path); err != nil {
			// Listed with size 0, and RETR and TOP fail for it alone;
			// the size is read again next session.
			m.unreadable = true
			return m, false, nil
		}
		computed[f.base] = size
	}
	m.size = size.crlf
	if size.crlf != size.dovecot {
		// Dovecot would read a W of ours as its own count, and send
		// another number of octets: keep it out of the shared list.
		return m, false, nil
	}
	rec.setExtension(extVirtualSize, strconv.FormatInt(size.crlf, 10))
	return m, true, nil
}

// sizes is a message file's size as this package serves it (pop3.CRLFSize)
// and as Dovecot counts it (one more octet for each LF without a CR before
// it). They differ only for a file that does not end in LF, or that has a
// CR CR LF, which Dovecot sends as it is.
type sizes struct{ crlf, dovecot int64 }

func fileSizes(path string) (sizes, error) {
	f, err := openMessageFile(path)
	if err != nil {
		return sizes{}, err
	}
	defer f.Close()
	var dc dovecotCounter
	n, err := pop3.CRLFSize(io.TeeReader(f, &dc))
	return sizes{crlf: n, dovecot: dc.n}, err
}

// dovecotCounter counts what it is written as Dovecot counts a message's
// virtual size.
type dovecotCounter struct {
	n      int64
	lastCR bool
}

func (d *dovecotCounter) Write(p []byte) (int, error) {
	d.n += int64(len(p))
	for i := 0; ; {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			break
		}
		i += j
		if !(i > 0 && p[i-1] == '\r' || i == 0 && d.lastCR) {
			d.n++
		}
		i++
	}
	if len(p) > 0 {
		d.lastCR = p[len(p)-1] == '\r'
	}
	return len(p), nil
}

// known keeps the messages that have UIDs.
func known(msgs []message) []message {
	out := msgs[:0]
	for _, m := range msgs {
		if m.uid != 0 {
			out = append(out, m)
		}
	}
	sortListing(out)
	return out
}

// sortListing puts the messages in Dovecot's POP3 order: by UID, except
// that messages with a POP3 order (the O extension of a migration) come
// first, in that order.
func sortListing(msgs []message) {
	slices.SortFunc(msgs, func(a, b message) int {
		switch {
		case a.order != 0 && b.order != 0 && a.order != b.order:
			return int64Cmp(int64(a.order), int64(b.order))
		case (a.order != 0) != (b.order != 0):
			if a.order != 0 {
				return -1
			}
			return 1
		}
		return int64Cmp(int64(a.uid), int64(b.uid))
	})
}

func int64Cmp(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
