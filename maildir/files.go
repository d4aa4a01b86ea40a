package maildir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// owner is whom the files and directories that this package creates in a
// Maildir belong to. It matters only when the server runs as root, as
// Dovecot's master does: Dovecot serves each Maildir with its owner's uid,
// and must still be able to read and write what this package wrote. The
// zero owner changes nothing.
type owner struct {
	uid, gid int
	set      bool
}

// ownerFor is the owner of the Maildir at dir when the process runs as
// root: the owner of dir, or of the nearest directory above it that
// exists, where the Maildir will be made.
func ownerFor(dir string) owner {
	if os.Geteuid() != 0 {
		return owner{}
	}
	for d := dir; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil {
			uid, gid, ok := fileOwner(fi)
			return owner{uid: uid, gid: gid, set: ok}
		}
		if parent := filepath.Dir(d); parent == d {
			return owner{}
		}
	}
}

func (o owner) chown(path string) {
	if o.set {
		_ = os.Lchown(path, o.uid, o.gid)
	}
}

func (o owner) fchown(f *os.File) {
	if o.set {
		_ = f.Chown(o.uid, o.gid)
	}
}

// openMessageFile opens a message file for reading. It must be a regular
// file reached without following a symbolic link at its own name: a link,
// a FIFO or a device in cur/ or new/ would let a user whose Maildir a root
// server reads have it read another file, or hang.
func openMessageFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow|oNonblock, 0)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = fmt.Errorf("%s is not a regular file", filepath.Base(path))
		}
		return nil, err
	}
	return f, nil
}

// createFile creates a new file that must not exist yet (not even as a
// symbolic link), owned by o.
func createFile(path string, mode os.FileMode, o owner) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, mode)
	if err != nil {
		return nil, err
	}
	o.fchown(f)
	return f, nil
}

// replaceFile writes data to path through a new file renamed over it, so
// that a link planted at path is replaced, never written through.
func replaceFile(path string, data []byte, mode os.FileMode, o owner) error {
	tmp := path + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := createFile(tmp, mode, o)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// ensureMaildir creates the Maildir at dir with cur/, new/ and tmp/ when
// they are missing, as Dovecot does on first use, owned by o. The three
// must be directories, not symbolic links.
func ensureMaildir(dir string, o owner) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		missing = append(missing, d)
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		path := filepath.Join(dir, sub)
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			missing = append(missing, path)
		}
		if err := os.MkdirAll(path, 0o700); err != nil {
			return fmt.Errorf("maildir: %w", err)
		}
		if fi, err := os.Lstat(path); err != nil || !fi.IsDir() {
			return fmt.Errorf("maildir: %s is not a directory (a symbolic link is not followed)", path)
		}
	}
	for _, d := range missing {
		o.chown(d)
	}
	return nil
}

// errTargetExists is why renameNoReplace did not rename.
var errTargetExists = errors.New("maildir: a file of that name exists already")

// renameNoReplace renames a message file unless the new name is taken: a
// rename over another message would remove it. (A file that appears
// between the check and the rename is a race this package shares with
// Dovecot's own renames.)
func renameNoReplace(from, to string) error {
	if _, err := os.Lstat(to); err == nil {
		return errTargetExists
	}
	return os.Rename(from, to)
}
