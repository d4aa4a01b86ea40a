//go:build !unix

package maildir

import (
	"errors"
	"os"
)

// lockMaildrop is unsupported where flock is missing: Maildir file names
// hold colons, which such systems do not allow either.
func lockMaildrop(dir string, o owner) (*os.File, error) {
	return nil, errors.ErrUnsupported
}

func unlockMaildrop(f *os.File) error { return f.Close() }
