package maildir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"time"
)

// lastLoginName is the file in the Maildir that holds the time of the
// user's last login, for LOGIN-DELAY (RFC 2449 §6.5): one line, the time
// in RFC 3339, in UTC, with the fraction of a second to the nanosecond
// and without trailing zeros, as Go's time.RFC3339Nano writes it
// ("2025-01-02T03:04:05.12345678Z").
// Dovecot ignores it: it is no Maildir++ folder (those start with a dot)
// and none of Dovecot's own files.
const lastLoginName = "pop3-last-login"

// maxLastLogin bounds what LastLogin reads: an RFC 3339 time with
// nanoseconds and a zone is 35 octets.
const maxLastLogin = 128

// LastLogin returns the time that RecordLogin last wrote to the Maildir's
// pop3-last-login file: the zero Time when there is none, also when the
// Maildir does not exist yet (it is not created). A file that cannot be
// read, or does not hold a time, is an error. It implements
// [pop3.LoginRecorder].
func (u *user) LastLogin(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	path := filepath.Join(u.dir, lastLoginName)
	f, err := openMessageFile(path) // a regular file, not through a link
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("maildir: the last login of %q: %w", u.name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxLastLogin+1))
	if err != nil {
		return time.Time{}, fmt.Errorf("maildir: the last login of %q: %w", u.name, err)
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(data)))
	if len(data) > maxLastLogin || err != nil {
		// The contents are not quoted: the file is the user's to write.
		return time.Time{}, fmt.Errorf("maildir: the last login of %q: %s does not hold an RFC 3339 time", u.name, path)
	}
	return t, nil
}

// RecordLogin writes t to the Maildir's pop3-last-login file, through a
// temporary file (pop3-last-login.tmp) that is synced to disk and renamed
// over it, so that a reader sees the old time or the new one. The server
// calls it with the maildrop open, so under the maildrop lock. It
// implements [pop3.LoginRecorder].
func (u *user) RecordLogin(ctx context.Context, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data := t.UTC().AppendFormat(nil, time.RFC3339Nano)
	data = append(data, '\n')
	// The directory is not synced: a crash may bring back the previous
	// time, which only shortens the delay once.
	if err := replaceFile(filepath.Join(u.dir, lastLoginName), data, 0o600, ownerFor(u.dir)); err != nil {
		return fmt.Errorf("maildir: recording the login of %q: %w", u.name, err)
	}
	return nil
}
