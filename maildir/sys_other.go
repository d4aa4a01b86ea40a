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
