//go:build !unix

package maildir

import "os"

const (
	oNoFollow = 0
	oNonblock = 0
)

// processExists cannot tell here; a lock is then stale only by its age.
func processExists(pid int) bool { return true }

func fileOwner(fi os.FileInfo) (uid, gid int, ok bool) { return 0, 0, false }

// fileID cannot tell here: the stamps compare times and sizes only.
func fileID(fi os.FileInfo) uint64 { return 0 }

// messageFile is a message file opened for serving.
type messageFile struct{ *os.File }

// messageDir opens nothing here: files are opened by path.
type messageDir struct{}

func openMessageDir(string, *mailbox) messageDir { return messageDir{} }

func (*messageDir) close() {}

// openMessage opens a message file for serving, under the rules of
// openMessageFile.
func (*messageDir) openMessage(path string) (*messageFile, error) {
	f, err := openMessageFile(path)
	if err != nil {
		return nil, err
	}
	return &messageFile{f}, nil
}
