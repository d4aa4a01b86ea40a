//go:build !unix

package maildir

import "errors"

// lockMaildrop is unsupported where flock is missing: Maildir file names
// hold colons, which such systems do not allow either.
func lockMaildrop(dir string, o owner) (*maildropLock, error) {
	return nil, errors.ErrUnsupported
}

type maildropLock struct{}

func unlockMaildrop(*maildropLock) error { return nil }
