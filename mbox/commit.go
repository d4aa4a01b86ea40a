package mbox

// A spool is rewritten in place, never replaced: its owner (the user), its
// group (mail) and its mode are what delivery agents and mail readers
// need, and a server that is not root could not give them to a new file.
// So that a crash at any moment loses nothing and leaves no half-written
// copy, the whole new content is first made durable beside the spool, in
// ".SPOOL.pop3d-update", with a trailer saying what it replaces: the size
// of the spool it was made from, and a hash of that content. Only then is
// the spool cut to the new size and overwritten, and the file removed.
// Whoever takes the spool's lock next finds the file and finishes the job
// (recoverUpdate): the trailer tells an untouched spool (the hash matches)
// from one already cut, and so where the mail that arrived after the
// crash begins, which is kept after the new content.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// trailerMagic starts the trailer of an update file.
const trailerMagic = "pop3d-mbox-upd1\n"

// trailerSize is the trailer's length: the magic, the new size, the old
// size and the old content's SHA-256.
const trailerSize = len(trailerMagic) + 8 + 8 + sha256.Size

// updatePaths returns the names of the update file being written and of
// the one committed, beside the spool.
func updatePaths(spool string) (writing, committed string) {
	dir, base := filepath.Split(spool)
	return filepath.Join(dir, "."+base+".pop3d-new"), filepath.Join(dir, "."+base+".pop3d-update")
}

// trailer describes what an update file replaces.
type trailer struct {
	newSize, oldSize int64
	oldSum           [sha256.Size]byte
}

func (t trailer) encode() []byte {
	b := make([]byte, 0, trailerSize)
	b = append(b, trailerMagic...)
	b = binary.BigEndian.AppendUint64(b, uint64(t.newSize))
	b = binary.BigEndian.AppendUint64(b, uint64(t.oldSize))
	return append(b, t.oldSum[:]...)
}

func readTrailer(f *os.File) (trailer, error) {
	fi, err := f.Stat()
	if err != nil {
		return trailer{}, err
	}
	b := make([]byte, trailerSize)
	if fi.Size() < int64(trailerSize) {
		return trailer{}, fmt.Errorf("mbox: %s is too short to be an update file", f.Name())
	}
	if _, err := f.ReadAt(b, fi.Size()-int64(trailerSize)); err != nil {
		return trailer{}, err
	}
	if !bytes.HasPrefix(b, []byte(trailerMagic)) {
		return trailer{}, fmt.Errorf("mbox: %s has no update trailer", f.Name())
	}
	b = b[len(trailerMagic):]
	t := trailer{newSize: int64(binary.BigEndian.Uint64(b)), oldSize: int64(binary.BigEndian.Uint64(b[8:]))}
	copy(t.oldSum[:], b[16:])
	if t.newSize != fi.Size()-int64(trailerSize) || t.oldSize < 0 {
		return trailer{}, fmt.Errorf("mbox: %s has a broken update trailer", f.Name())
	}
	return t, nil
}

// updateFile is an update file being written.
type updateFile struct {
	f     *os.File
	path  string
	spool string
	n     int64
}

// createUpdate starts the update file of spool, replacing one that a
// crash left unfinished (never committed, so never used).
func createUpdate(spool string) (*updateFile, error) {
	path, _ := updatePaths(spool)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("mbox: removing %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, 0o600)
	if err != nil {
		return nil, fmt.Errorf("mbox: creating %s: %w", path, err)
	}
	return &updateFile{f: f, path: path, spool: spool}, nil
}

func (u *updateFile) Write(p []byte) (int, error) {
	n, err := u.f.Write(p)
	u.n += int64(n)
	return n, err
}

// abandon removes an update file that will not be committed.
func (u *updateFile) abandon() {
	u.f.Close()
	os.Remove(u.path)
}

// commit ends the update file with its trailer, makes it durable, and
// gives it the committed name: from here on, the update happens even if
// the process dies.
func (u *updateFile) commit(oldSize int64, oldSum []byte) (string, error) {
	t := trailer{newSize: u.n, oldSize: oldSize}
	copy(t.oldSum[:], oldSum)
	_, committed := updatePaths(u.spool)
	if _, err := u.f.Write(t.encode()); err != nil {
		u.abandon()
		return "", fmt.Errorf("mbox: writing %s: %w", u.path, err)
	}
	if err := u.f.Sync(); err != nil {
		u.abandon()
		return "", fmt.Errorf("mbox: syncing %s: %w", u.path, err)
	}
	if err := u.f.Close(); err != nil {
		os.Remove(u.path)
		return "", fmt.Errorf("mbox: writing %s: %w", u.path, err)
	}
	if err := os.Rename(u.path, committed); err != nil {
		os.Remove(u.path)
		return "", fmt.Errorf("mbox: committing %s: %w", committed, err)
	}
	// The rename decided the update, which is finished whatever happens
	// now; a directory that cannot be synced only makes a crash more
	// likely to undo it, which loses nothing.
	_ = syncDir(filepath.Dir(committed))
	return committed, nil
}

// apply writes a committed update over the spool f, which the caller has
// locked (dotlock and fcntl), and removes it. Mail appended after the
// update file was made must have been taken into it first (recoverUpdate).
func apply(f *os.File, committed string, lock *dotlock) error {
	c, err := os.Open(committed)
	if err != nil {
		return fmt.Errorf("mbox: opening %s: %w", committed, err)
	}
	defer c.Close()
	t, err := readTrailer(c)
	if err != nil {
		return err
	}
	if err := f.Truncate(t.newSize); err != nil {
		return fmt.Errorf("mbox: cutting %s: %w", f.Name(), err)
	}
	w := io.NewOffsetWriter(f, 0)
	if _, err := copyTouching(w, io.NewSectionReader(c, 0, t.newSize), lock); err != nil {
		return fmt.Errorf("mbox: writing %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("mbox: syncing %s: %w", f.Name(), err)
	}
	if err := os.Remove(committed); err != nil {
		return fmt.Errorf("mbox: removing %s: %w", committed, err)
	}
	return syncDir(filepath.Dir(committed))
}

// recoverUpdate finishes an update that a crash interrupted, for the
// spool f at path, which the caller has locked (dotlock and fcntl). An
// update file never committed is removed: the spool was not touched.
func recoverUpdate(f *os.File, path string, lock *dotlock) (recovered bool, err error) {
	writing, committed := updatePaths(path)
	if err := os.Remove(writing); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("mbox: removing %s: %w", writing, err)
	}
	c, err := os.Open(committed)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mbox: opening %s: %w", committed, err)
	}
	defer c.Close()
	t, err := readTrailer(c)
	if err != nil {
		return false, err
	}
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	size := fi.Size()
	// Where does mail that arrived after the crash begin? At the old size
	// if the spool was not cut yet, at the new size if it was.
	var tail int64
	switch {
	case size < t.oldSize && size >= t.newSize:
		tail = t.newSize // cut (only a cut shrinks it)
	case size < t.newSize && size >= t.oldSize:
		tail = t.oldSize // not cut (a cut would have grown it)
	case size >= t.oldSize && size >= t.newSize:
		sum, err := hashPrefix(f, t.oldSize)
		if err != nil {
			return false, err
		}
		tail = t.newSize
		if bytes.Equal(sum, t.oldSum[:]) {
			// Untouched, unless it was grown (with zeros, which no mail
			// begins with) and not written yet.
			tail = t.oldSize
			if t.newSize > t.oldSize {
				zero, err := allZero(f, t.oldSize, t.newSize)
				if err != nil {
					return false, err
				}
				if zero {
					tail = t.newSize
				}
			}
		}
	default:
		return false, fmt.Errorf("mbox: %s is shorter (%d octets) than both the content it had (%d) and the content %s gives it (%d): another program rewrote it after an interrupted update; left as it is",
			path, size, t.oldSize, committed, t.newSize)
	}
	if tail < size {
		// Mail appended after the crash starts with a From line, maybe
		// after line ends. Anything else means that another program
		// rewrote the spool after the crash: no guess is made.
		head := make([]byte, min(size-tail, 512))
		if _, err := f.ReadAt(head, tail); err != nil {
			return false, fmt.Errorf("mbox: reading %s: %w", path, err)
		}
		if !bytes.HasPrefix(bytes.TrimLeft(head, "\r\n"), []byte("From ")) {
			return false, fmt.Errorf("mbox: %s was rewritten by another program after an interrupted update (what follows its %d octets is not mail appended to it); left as it is, with %s, for an administrator",
				path, tail, committed)
		}
		// Take the new mail into a new update file, which replaces this one.
		u, err := createUpdate(path)
		if err != nil {
			return false, err
		}
		h := sha256.New()
		if _, err := io.Copy(u, io.NewSectionReader(c, 0, t.newSize)); err != nil {
			u.abandon()
			return false, fmt.Errorf("mbox: writing %s: %w", u.path, err)
		}
		if _, err := io.Copy(u, io.NewSectionReader(f, tail, size-tail)); err != nil {
			u.abandon()
			return false, fmt.Errorf("mbox: writing %s: %w", u.path, err)
		}
		if _, err := io.Copy(h, io.NewSectionReader(f, 0, size)); err != nil {
			u.abandon()
			return false, fmt.Errorf("mbox: reading %s: %w", path, err)
		}
		if _, err := u.commit(size, h.Sum(nil)); err != nil {
			return false, err
		}
	}
	return true, apply(f, committed, lock)
}

// hashPrefix returns the SHA-256 of the first n octets of f.
func hashPrefix(f *os.File, n int64) ([]byte, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, n)); err != nil {
		return nil, fmt.Errorf("mbox: reading %s: %w", f.Name(), err)
	}
	return h.Sum(nil), nil
}

// allZero tells whether the octets of f from start to end are all zero.
func allZero(f *os.File, start, end int64) (bool, error) {
	buf := make([]byte, 32<<10)
	for start < end {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), end-start)], start)
		for _, c := range buf[:n] {
			if c != 0 {
				return false, nil
			}
		}
		start += int64(n)
		if err != nil {
			return false, fmt.Errorf("mbox: reading %s: %w", f.Name(), err)
		}
	}
	return true, nil
}

// copyTouching copies r to w, keeping the dotlock fresh on the way.
func copyTouching(w io.Writer, r io.Reader, lock *dotlock) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		k, err := r.Read(buf)
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
			if lock != nil {
				lock.touch()
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// syncDir makes a rename or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("mbox: syncing %s: %w", dir, err)
	}
	return nil
}
