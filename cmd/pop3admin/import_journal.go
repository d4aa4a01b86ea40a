package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gopop3/pop3"
)

// A journal remembers, per user, the unique-ids that "pop3admin import"
// has copied from one source into one destination: one file per user,
// with a header line that names the destination, then one unique-id per
// line, appended once the store has committed the message.
//
// The destination's own listing covers a crash between the store's commit
// and the journal's line (a message there under the unique-id with the
// same size; see sameMessage); the journal covers a message that was
// copied and then deleted by its user through pop3d, which must not come
// back on the next run. Only messages known to be in the destination are
// journaled, since -delete deletes what the journal holds: never one whose
// unique-id the destination shows on another message.
type journal struct {
	path string
	f    *os.File
	seen map[string]bool
}

// journalMagic begins a journal's header line.
const journalMagic = "# pop3admin import journal 1: into "

// errJournalOther is a journal written for another destination.
var errJournalOther = errors.New("the journal was written for another destination")

// openJournal opens (or creates) the journal of user in dir, for the
// destination into. A last line cut short by a crash is dropped; a journal
// for another destination is refused, since its unique-ids say nothing
// about this one.
func openJournal(dir, user, into string) (*journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("the journal directory: %w", err)
	}
	path := filepath.Join(dir, journalFileName(user))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("the journal: %w", err)
	}
	j := &journal{path: path, f: f, seen: make(map[string]bool)}
	if err := j.load(into); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// load reads the journal and leaves the file ready for appending after its
// last complete line.
func (j *journal) load(into string) error {
	data, err := io.ReadAll(j.f)
	if err != nil {
		return fmt.Errorf("reading the journal %s: %w", j.path, err)
	}
	header := journalMagic + into + "\n"
	complete := data[:bytes.LastIndexByte(data, '\n')+1] // a torn last line is dropped
	switch {
	case len(complete) == 0:
		// New, or torn before its header was whole.
		if err := j.rewrite([]byte(header)); err != nil {
			return err
		}
		return nil
	case !bytes.HasPrefix(complete, []byte(header)):
		first, _, _ := strings.Cut(string(complete), "\n")
		was := strings.TrimPrefix(first, journalMagic)
		if was == first {
			return fmt.Errorf("%s is not a journal of pop3admin import; give another -state DIR", j.path)
		}
		return fmt.Errorf("%w: %s is of an import into %s, not %s; give another -state DIR, or remove the file to start afresh",
			errJournalOther, j.path, was, into)
	}
	for _, l := range strings.Split(string(complete[len(header):]), "\n") {
		if pop3.ValidUID(l) {
			j.seen[l] = true
		}
	}
	if len(complete) < len(data) {
		return j.rewrite(complete)
	}
	_, err = j.f.Seek(0, io.SeekEnd)
	return err
}

// rewrite makes the file data, for appending after it.
func (j *journal) rewrite(data []byte) error {
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("the journal %s: %w", j.path, err)
	}
	if _, err := j.f.WriteAt(data, 0); err != nil {
		return fmt.Errorf("the journal %s: %w", j.path, err)
	}
	_, err := j.f.Seek(int64(len(data)), io.SeekStart)
	return err
}

// has reports whether the unique-id was copied.
func (j *journal) has(uidl string) bool { return j.seen[uidl] }

// add records the unique-id of a message the destination holds. One write
// per line: a crash leaves at worst a torn last line, which load drops.
func (j *journal) add(uidl string) error {
	if j.seen[uidl] {
		return nil
	}
	if _, err := j.f.WriteString(uidl + "\n"); err != nil {
		return fmt.Errorf("writing the journal %s: %w", j.path, err)
	}
	j.seen[uidl] = true
	return nil
}

// sync makes the journal durable: before messages are deleted from the
// source, and when a user is done. (A line lost with the page cache, in a
// power cut, is covered by the destination's own listing unless the user
// deleted the message in between.)
func (j *journal) sync() error {
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("syncing the journal %s: %w", j.path, err)
	}
	return nil
}

func (j *journal) close() error {
	err := j.f.Sync()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// journalFileName is a file name for the user's journal that no user name
// can turn into a path elsewhere, or into another user's name: octets
// other than letters, digits and "-_+@" (and "." after the first) are
// written %XX, as is "%" itself.
func journalFileName(user string) string {
	var b strings.Builder
	for i := 0; i < len(user); i++ {
		c := user[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', strings.IndexByte("-_+@", c) >= 0, c == '.' && i > 0:
			b.WriteByte(c)
		default:
			// Upper case too: a user name is normalised before it gets
			// here, but a file system that ignores case must not merge
			// two names that differ only there.
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String() + ".journal"
}

// journalDirName is the directory, under -state, of the journals of one
// source host.
func journalDirName(host string) string {
	return strings.TrimSuffix(journalFileName(strings.ToLower(host)), ".journal")
}
