package maildir

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	extGUID        = 'G' // the message's GUID, when it is not its base name
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

// newUIDList starts the list of the Maildir at dir, which has none or an
// unreadable one, as Dovecot does: a random GUID, UIDs from 1, and a
// UIDVALIDITY that the Maildir has not had before: one more than the last
// one that dovecot-uidvalidity records, or else the clock's seconds. With
// the uidlist lock held, it writes the new value there.
func newUIDList(dir string, lock *uidlistLock) *uidlist {
	v := uint32(time.Now().Unix())
	path := filepath.Join(dir, uidvalidityName)
	if data, err := os.ReadFile(path); err == nil {
		if last, err := strconv.ParseUint(strings.TrimSpace(string(data)), 16, 32); err == nil && last > 0 {
			v = uint32(last) + 1
		}
	}
	if v == 0 {
		v = 1 // 0 is no UIDVALIDITY
	}
	if lock != nil {
		_ = replaceFile(path, fmt.Appendf(nil, "%08x", v), lock.mode, lock.owner)
	}
	return &uidlist{uidValidity: v, nextUID: 1, guid: newGUID()}
}

// uidvalidityName is Dovecot's record of the last UIDVALIDITY it gave the
// Maildir, in hex.
const uidvalidityName = "dovecot-uidvalidity"

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
// UIDs. A header that does not parse is an error, returned with the
// records that do: the UIDVALIDITY is lost, the UIDs need not be.
// A last line without its line end is a write that did not finish; it is
// read if it parses (Dovecot drops it, and gives its file a new UID when
// it next writes the list; this package keeps the UID and writes the line
// whole, which Dovecot then reads).
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
		// The records may still be good: keep their UIDs.
		l, version = &uidlist{}, 3
	}
	var maxUID uint32
	seen := make(map[string]int)
	dropped := false
	for i, line := range lines[1:] {
		rec, err := parseRecord(string(line), version)
		if err == nil && rec.uid <= maxUID {
			err = fmt.Errorf("UID %d after UID %d", rec.uid, maxUID)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("line %d: %v", i+2, err))
			continue
		}
		if prev, ok := seen[rec.base]; ok {
			// Dovecot appends a new record when a file it had dropped
			// comes back; the later UID is the one it uses.
			problems = append(problems, fmt.Sprintf("line %d: a second record of %s (UID %d, then %d); the later one counts, as in Dovecot",
				i+2, rec.base, l.records[prev].uid, rec.uid))
			l.records[prev].uid = 0
			dropped = true
		}
		seen[rec.base] = len(l.records)
		maxUID = rec.uid
		l.records = append(l.records, rec)
	}
	if dropped {
		l.records = slices.DeleteFunc(l.records, func(r record) bool { return r.uid == 0 })
	}
	// Dovecot appends records without updating the header, so N may lag.
	l.nextUID = max(l.nextUID, maxUID+1)
	return l, problems, err
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
	if l.uidValidity == 0 {
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
	if uid == math.MaxUint32 {
		return record{}, errors.New("UID too high")
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
	var line []byte
	for i := range l.records {
		line = l.records[i].appendLine(line[:0])
		bw.Write(line)
	}
	return bw.Flush()
}

// appendLine appends the record's line, "<uid> [<ext>...] :<name>\n".
func (r *record) appendLine(b []byte) []byte {
	b = strconv.AppendUint(b, uint64(r.uid), 10)
	for _, e := range r.ext {
		b = append(b, ' ')
		b = append(b, e...)
	}
	b = append(b, " :"...)
	b = append(b, r.base...)
	return append(b, '\n')
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

// uidlistLock is a held dovecot-uidlist.lock, Dovecot's dot-lock: a file
// created with O_EXCL that holds "<pid>:<host>" of its holder. The holder
// writes the new list to dovecot-uidlist.tmp, renames that over
// dovecot-uidlist, so that readers see the old list or the new one and
// never a part, and removes the lock.
type uidlistLock struct {
	dir   string
	mode  os.FileMode
	owner owner
}

// lockUIDList takes the uidlist lock of dir, waiting up to wait for another
// holder. As Dovecot does, it breaks a lock at once when the lock names a
// process of this host that no longer runs (after the two seconds a new
// lock may take to get its content), and a lock of another host or without
// a readable owner once nothing has touched it for uidlistStaleAfter. mode
// and o are for the new list.
func lockUIDList(dir string, wait time.Duration, mode os.FileMode, o owner) (*uidlistLock, error) {
	path := filepath.Join(dir, uidlistLockName)
	deadline := time.Now().Add(wait)
	delay := time.Millisecond
	for {
		f, err := createFile(path, 0o600, o)
		if err == nil {
			_, werr := fmt.Fprintf(f, "%d:%s", os.Getpid(), lockHostname)
			cerr := f.Close()
			if werr != nil || cerr != nil {
				_ = os.Remove(path)
				return nil, fmt.Errorf("maildir: writing %s: %w", uidlistLockName, errors.Join(werr, cerr))
			}
			heldHere.add(dir)
			return &uidlistLock{dir: dir, mode: mode, owner: o}, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("maildir: %w", err)
		}
		if staleLock(path) {
			// Removing by name could remove a fresh lock that replaced
			// the stale one in between, as with Dovecot's own dot-locks;
			// two writers then each rename a whole list into place, and
			// the next sync repairs what the first one lost.
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("maildir: breaking a stale %s: %w", uidlistLockName, err)
			}
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

// lockHostname is the host name Dovecot writes in its lock files.
var lockHostname = func() string {
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return h
}()

// staleLock reports whether the lock file at path was left by a holder
// that is gone.
func staleLock(path string) bool {
	st, err := os.Stat(path)
	if err != nil {
		return false // gone already: try again
	}
	age := time.Since(st.ModTime())
	data, _ := os.ReadFile(path)
	pidText, host, ok := strings.Cut(string(data), ":")
	pid, err := strconv.Atoi(pidText)
	if ok && err == nil && pid > 0 && host == lockHostname {
		if pid == os.Getpid() {
			// Held by this process, in another goroutine (a session, an
			// Import, a Listing), however long that takes; or else left
			// over from an earlier process that had the same pid (pid
			// 1 in a container).
			return age > 2*time.Second && !heldHere.has(filepath.Dir(path))
		}
		return age > 2*time.Second && !processExists(pid)
	}
	return age > uidlistStaleAfter
}

// commit writes l through dovecot-uidlist.tmp over dovecot-uidlist. The
// caller releases the lock afterwards, once.
func (k *uidlistLock) commit(l *uidlist) error {
	tmp := filepath.Join(k.dir, uidlistName+".tmp")
	// A file left by a writer that died, or planted, is replaced, never
	// written through.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("maildir: writing %s: %w", uidlistName, err)
	}
	f, err := createFile(tmp, k.mode, k.owner)
	if err != nil {
		return fmt.Errorf("maildir: writing %s: %w", uidlistName, err)
	}
	err = l.marshal(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(k.dir, uidlistName))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("maildir: writing %s: %w", uidlistName, err)
	}
	_ = syncDir(k.dir)
	return nil
}

// appendRecord adds rec at the end of dovecot-uidlist and syncs it, as
// Dovecot appends the records of new messages without rewriting the list
// (its header's next UID then lags, which readers allow for). The list
// must end with a line end, and rec's UID be above all others.
func (k *uidlistLock) appendRecord(rec *record) error {
	f, err := os.OpenFile(filepath.Join(k.dir, uidlistName), os.O_WRONLY|os.O_APPEND|oNoFollow, 0)
	if err != nil {
		return fmt.Errorf("maildir: appending to %s: %w", uidlistName, err)
	}
	_, err = f.Write(rec.appendLine(nil))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("maildir: appending to %s: %w", uidlistName, err)
	}
	return nil
}

// release gives the lock up.
func (k *uidlistLock) release() {
	_ = os.Remove(filepath.Join(k.dir, uidlistLockName))
	heldHere.remove(k.dir)
}

// heldHere are the directories whose uidlist lock this process holds, so
// that a lock file with this process's pid is known to be live.
var heldHere = heldLocks{dirs: make(map[string]int)}

type heldLocks struct {
	mu   sync.Mutex
	dirs map[string]int // by filepath.Clean(dir)
}

func (h *heldLocks) add(dir string) {
	h.mu.Lock()
	h.dirs[filepath.Clean(dir)]++
	h.mu.Unlock()
}

func (h *heldLocks) remove(dir string) {
	h.mu.Lock()
	if dir = filepath.Clean(dir); h.dirs[dir] > 1 {
		h.dirs[dir]--
	} else {
		delete(h.dirs, dir)
	}
	h.mu.Unlock()
}

func (h *heldLocks) has(dir string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dirs[filepath.Clean(dir)] > 0
}
