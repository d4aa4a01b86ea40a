package maildir

import (
	"os"
	"path/filepath"
	"sync"
	"time"
)

// importCache keeps, per Maildir, what the last Import left: its parsed
// dovecot-uidlist and the unique-ids the Maildir shows. An Import uses it
// again only while dovecot-uidlist is the very file that Import left
// (same inode, size and time): any other writer (a session giving new
// files their UIDs, Dovecot) changes one of them, and the next Import
// lists the Maildir again. Files delivered since, which no listing has
// given a UID yet, no client has seen a unique-id of either.
type importCache struct {
	mu   sync.Mutex
	dirs map[string]*importState
}

// maxImportCache bounds the Maildirs remembered: pop3admin imports a few
// users at once.
const maxImportCache = 64

// importState is a Maildir as the last Import left it.
type importState struct {
	list          *uidlist
	shown         map[string]bool // the unique-ids its listing shows
	endsInLineEnd bool            // the list ends with a whole line: a record can be appended
	id            listID
}

// listID tells one version of dovecot-uidlist from another.
type listID struct {
	ino   uint64
	size  int64
	mtime time.Time
}

func listIdentity(dir string) (listID, error) {
	fi, err := os.Stat(filepath.Join(dir, uidlistName))
	if err != nil {
		return listID{}, err
	}
	return listID{ino: fileID(fi), size: fi.Size(), mtime: fi.ModTime()}, nil
}

// loadImportState reads the list of dir, under its lock, after a listing
// gave msgs.
func loadImportState(dir string, msgs []message) (*importState, error) {
	data, err := os.ReadFile(filepath.Join(dir, uidlistName))
	if err != nil {
		return nil, err
	}
	list, _, err := parseUIDList(data)
	if err != nil {
		return nil, err
	}
	st := &importState{list: list, shown: make(map[string]bool, len(msgs)), endsInLineEnd: len(data) > 0 && data[len(data)-1] == '\n'}
	for _, m := range msgs {
		if m.uidl != "" {
			st.shown[m.uidl] = true
		}
	}
	return st, nil
}

// get returns the state of dir when its list is still the one the last
// Import left, and takes it out of the cache: the caller owns it.
func (c *importCache) get(dir string) *importState {
	c.mu.Lock()
	st := c.dirs[dir]
	delete(c.dirs, dir)
	c.mu.Unlock()
	if st == nil {
		return nil
	}
	if id, err := listIdentity(dir); err != nil || id != st.id {
		return nil
	}
	return st
}

// put remembers st for dir.
func (c *importCache) put(dir string, st *importState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dirs == nil {
		c.dirs = make(map[string]*importState)
	}
	if len(c.dirs) >= maxImportCache {
		for d := range c.dirs {
			delete(c.dirs, d)
			break
		}
	}
	c.dirs[dir] = st
}

// forget drops what is known of dir.
func (c *importCache) forget(dir string) {
	c.mu.Lock()
	delete(c.dirs, dir)
	c.mu.Unlock()
}
