package maildir

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The files of Dovecot's UID list, in the Maildir's top directory.
const (
	uidlistName     = "dovecot-uidlist"
	uidlistLockName = "dovecot-uidlist.lock"
)

// uidlistStaleAfter is Dovecot's MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT: a lock
// file not modified for that long was left by a writer that died.
const uidlistStaleAfter = 2 * time.Minute

// Record extensions of dovecot-uidlist version 3 that this package reads.
const (
	extVirtualSize = 'W' // the size with CRLF line ends
	extPOP3UIDL    = 'P' // a unique-id migrated from another server
	extPOP3Order   = 'O' // the position in the listing of that server
)

// uidlist is Dovecot's dovecot-uidlist: the UIDVALIDITY of the Maildir, the
// next UID to give, and the UID of each message file, which UIDL is built
// from. Version 3 looks like
//
//	3 V1732400000 N4 G0123456789abcdef0123456789abcdef
//	1 :1732400000.M1P10.host
//	3 W2048 :1732400001.M5P10.host,S=2000
//
// with each record's file name cut at its ":2," flags, which change.
type uidlist struct {
	uidValidity uint32
	nextUID     uint32
	guid        string   // 32 hex digits, kept as read
	extraHeader []string // header fields this package does not use, kept
	records     []record // in ascending UID order
}

// record is one message of the uidlist.
type record struct {
	uid  uint32
	ext  []string // "W2048", "P<uidl>", ...: a key letter and a value
	base string   // the file name up to its ':' flags
}

// extension returns the value of the extension key, if the record has it.
func (r *record) extension(key byte) (string, bool) {
	for _, e := range r.ext {
		if len(e) > 0 && e[0] == key {
			return e[1:], true
		}
	}
	return "", false
}

// setExtension sets extension key to value.
func (r *record) setExtension(key byte, value string) {
	for i, e := range r.ext {
		if len(e) > 0 && e[0] == key {
			r.ext[i] = string(key) + value
			return
		}
	}
	r.ext = append(r.ext, string(key)+value)
}

// newUIDList starts the list of a Maildir that has none, as Dovecot does:
// UIDVALIDITY from the clock, a random GUID, UIDs from 1.
func newUIDList() *uidlist {
	return &uidlist{uidValidity: uint32(time.Now().Unix()), nextUID: 1, guid: newGUID()}
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errUIDListHeader is a uidlist whose header does not parse.
var errUIDListHeader = errors.New("unreadable header")

// parseUIDList reads a dovecot-uidlist of version 3 (or the old version 1:
// "1 <uidvalidity> <nextuid>", records "<uid> <file name>"). A record that
// does not parse, repeats a UID or breaks the ascending order is left out
// and reported in problems, with its line number; the others keep their
// UIDs. A header that does not parse is an error: the UIDVALIDITY is lost.
// A last line without its line end is a write that did not finish, and is
// read only if it parses.
func parseUIDList(data []byte) (l *uidlist, problems []string, err error) {
	lines := bytes.Split(data, []byte{'\n'})
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return nil, nil, fmt.Errorf("%w: the file is empty", errUIDListHeader)
	}
	l, version, err := parseUIDListHeader(string(lines[0]))
	if err != nil {
		return nil, nil, err
	}
	var maxUID uint32
	for i, line := range lines[1:] {
		rec, err := parseRecord(string(line), version)
		if err == nil && rec.uid <= maxUID {
			err = fmt.Errorf("UID %d after UID %d", rec.uid, maxUID)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("line %d: %v", i+2, err))
			continue
		}
		maxUID = rec.uid
		l.records = append(l.records, rec)
	}
	if l.nextUID <= maxUID {
		problems = append(problems, fmt.Sprintf("next UID %d is not above the last UID %d", l.nextUID, maxUID))
		l.nextUID = maxUID + 1
	}
	return l, problems, nil
}

func parseUIDListHeader(line string) (*uidlist, int, error) {
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return nil, 0, fmt.Errorf("%w: an empty first line", errUIDListHeader)
	}
	l := &uidlist{}
	version := 3
	switch fields[0] {
	case "1":
		if len(fields) != 3 {
			return nil, 0, fmt.Errorf("%w: version 1 wants 3 fields", errUIDListHeader)
		}
		v, err1 := strconv.ParseUint(fields[1], 10, 32)
		n, err2 := strconv.ParseUint(fields[2], 10, 32)
		if err1 != nil || err2 != nil {
			return nil, 0, fmt.Errorf("%w: %q", errUIDListHeader, line)
		}
		l.uidValidity, l.nextUID, l.guid, version = uint32(v), uint32(n), newGUID(), 1
	case "3":
		for _, f := range fields[1:] {
			var err error
			var n uint64
			switch f[0] {
			case 'V':
				n, err = strconv.ParseUint(f[1:], 10, 32)
				l.uidValidity = uint32(n)
			case 'N':
				n, err = strconv.ParseUint(f[1:], 10, 32)
				l.nextUID = uint32(n)
			case 'G':
				l.guid = f[1:]
			default:
				l.extraHeader = append(l.extraHeader, f)
			}
			if err != nil {
				return nil, 0, fmt.Errorf("%w: field %q", errUIDListHeader, f)
			}
		}
		if l.guid == "" {
			l.guid = newGUID()
		}
	default:
		return nil, 0, fmt.Errorf("%w: version %q is not 1 or 3", errUIDListHeader, fields[0])
	}
	if l.uidValidity == 0 || l.nextUID == 0 {
		return nil, 0, fmt.Errorf("%w: no UIDVALIDITY or next UID", errUIDListHeader)
	}
	return l, version, nil
}

// parseRecord reads "<uid> [<ext>...] :<name>" (version 3) or
// "<uid> <name>" (version 1).
func parseRecord(line string, version int) (record, error) {
	uidText, rest, ok := strings.Cut(line, " ")
	uid, err := strconv.ParseUint(uidText, 10, 32)
	if !ok || err != nil || uid == 0 {
		return record{}, errors.New("no UID")
	}
	rec := record{uid: uint32(uid)}
	if version == 1 {
		rec.base = baseName(rest)
	} else {
		for rest != "" && rest[0] != ':' {
			var e string
			e, rest, _ = strings.Cut(rest, " ")
			if e != "" {
				rec.ext = append(rec.ext, e)
			}
		}
		if rest == "" {
			return record{}, errors.New("no file name")
		}
		rec.base = baseName(rest[1:])
	}
	if rec.base == "" || strings.ContainsAny(rec.base, "/\x00") {
		return record{}, errors.New("no usable file name")
	}
	return rec, nil
}

// baseName is a Maildir file name without its ":2,<flags>" information,
// the part that stays when flags change.
func baseName(name string) string {
	if i := strings.IndexByte(name, ':'); i >= 0 {
		return name[:i]
	}
	return name
}

// marshal writes the list as Dovecot 2.3 writes version 3.
func (l *uidlist) marshal(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "3 V%d N%d G%s", l.uidValidity, l.nextUID, l.guid)
	for _, f := range l.extraHeader {
		bw.WriteString(" " + f)
	}
	bw.WriteByte('\n')
	var num [10]byte
	for i := range l.records {
		r := &l.records[i]
		bw.Write(strconv.AppendUint(num[:0], uint64(r.uid), 10))
		for _, e := range r.ext {
			bw.WriteByte(' ')
			bw.WriteString(e)
		}
		bw.WriteString(" :")
		bw.WriteString(r.base)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// readUIDList reads the uidlist of the Maildir at dir; a Maildir without
// one has a nil list.
func readUIDList(dir string) (*uidlist, []string, error) {
	data, err := os.ReadFile(filepath.Join(dir, uidlistName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return parseUIDList(data)
}

// errUIDListBusy means another program held the uidlist lock for longer
// than the wait.
var errUIDListBusy = errors.New("maildir: dovecot-uidlist.lock is held by another program")

// uidlistLock is a held dovecot-uidlist.lock: Dovecot's dot-lock, created
// with O_EXCL. The new list is written into the lock file itself, which is
// then renamed over dovecot-uidlist, so a reader sees the old list or the
// new one, never a part.
type uidlistLock struct {
	dir  string
	file *os.File
}

// lockUIDList takes the uidlist lock of dir, waiting up to wait for another
// holder, and breaking a lock not modified for uidlistStaleAfter (its
// writer died). mode is for the new file.
func lockUIDList(dir string, wait time.Duration, mode os.FileMode) (*uidlistLock, error) {
	path := filepath.Join(dir, uidlistLockName)
	deadline := time.Now().Add(wait)
	delay := time.Millisecond
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err == nil {
			return &uidlistLock{dir: dir, file: f}, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("maildir: %w", err)
		}
		if st, err := os.Stat(path); err == nil && time.Since(st.ModTime()) > uidlistStaleAfter {
			// Dovecot breaks such a lock too. Removing it by name could
			// remove a fresh lock that replaced it in between; both
			// writers then rename a full list over the file, which
			// loses nothing but one's new UIDs, which the next sync gives
			// again.
			_ = os.Remove(path)
			continue
		}
		if time.Now().After(deadline) {
			return nil, errUIDListBusy
		}
		time.Sleep(delay)
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}

// commit writes l into the lock file, syncs it and renames it over
// dovecot-uidlist, which releases the lock.
func (k *uidlistLock) commit(l *uidlist) error {
	err := l.marshal(k.file)
	if err == nil {
		err = k.file.Sync()
	}
	if cerr := k.file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(k.file.Name(), filepath.Join(k.dir, uidlistName))
	}
	if err != nil {
		_ = os.Remove(k.file.Name())
		return fmt.Errorf("maildir: writing %s: %w", uidlistName, err)
	}
	_ = syncDir(k.dir)
	return nil
}

// release gives the lock up without writing.
func (k *uidlistLock) release() {
	k.file.Close()
	_ = os.Remove(k.file.Name())
}
