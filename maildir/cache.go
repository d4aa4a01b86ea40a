package maildir

import (
	"container/list"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gopop3/pop3"
)

// DefaultListingCache is how many messages, over all Maildirs, the listing
// cache holds by default; see [WithListingCache].
const DefaultListingCache = 200_000

// WithListingCache sets how many messages the backend keeps the listings
// of between sessions, counted over all Maildirs, each Maildir counting
// one more for itself so that empty maildrops are bounded too. A session
// whose Maildir is unchanged since a cached listing was made (its new/ and
// cur/ directories and its dovecot-uidlist have the same modification
// times, sizes and inodes) uses that listing instead of reading the
// directories and the uidlist again, which makes a login cost a few stat
// calls. Dovecot trusts the same directory times to skip reading a
// Maildir again. A listing is kept only when those times are more than
// two seconds old when it is made, so that a change within the file
// system's timestamp granularity cannot hide behind an unchanged time: a
// Maildir that changes all the time is read every time, as without the
// cache. The least recently used listings are dropped first.
//
// 0 turns the cache off: do that when the Maildirs are on a file system
// whose times can lag behind a change made elsewhere, such as NFS, whose
// clients cache attributes for seconds. The default is
// [DefaultListingCache], which holds some 60 MB at most.
func WithListingCache(messages int) Option {
	return func(b *Backend) { b.cache.limit = max(messages, 0) }
}

// listingCacheSettle is how old the times of a Maildir must be for its
// listing to be cached: more than any file system's timestamp granularity.
const listingCacheSettle = 2 * time.Second

// stamp identifies the state of a directory or a file: it changes when an
// entry is added, removed or renamed in a directory, and when a file is
// written or replaced.
type stamp struct {
	mtime int64 // nanoseconds
	size  int64
	ino   uint64
	isDir bool
}

// maildirStamps are the stamps of new/, cur/ and dovecot-uidlist (zero when
// there is none).
type maildirStamps [3]stamp

// takeStamps stamps the Maildir at dir. settled reports that every time is
// older than listingCacheSettle, so that a later change shows.
func takeStamps(dir string, now time.Time) (s maildirStamps, settled bool, err error) {
	settled = true
	for i, name := range [...]string{"new", "cur", uidlistName} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			if i == 2 && os.IsNotExist(err) {
				continue
			}
			return s, false, err
		}
		s[i] = stamp{mtime: fi.ModTime().UnixNano(), size: fi.Size(), ino: fileID(fi), isDir: fi.IsDir()}
		if now.Sub(fi.ModTime()) <= listingCacheSettle {
			settled = false
		}
	}
	if !s[0].isDir || !s[1].isDir {
		return s, false, nil // a symbolic link, or a file: let ensureMaildir say so
	}
	return s, settled, nil
}

// listing is a Maildir's listing as a session opens it, shared read-only
// between the sessions that use it.
type listing struct {
	dir    string
	stamps maildirStamps
	msgs   []message
	infos  []pop3.MessageInfo
	elem   *list.Element
}

// listingCache holds listings by Maildir, least recently used first out.
type listingCache struct {
	mu    sync.Mutex
	limit int // messages; 0: off
	held  int // the weight of the listings held
	byDir map[string]*listing
	lru   list.List // of *listing, most recent at the front
}

// get returns the cached listing of dir if it was made with these stamps.
func (c *listingCache) get(dir string, s maildirStamps) *listing {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.byDir[dir]
	if l == nil {
		return nil
	}
	if l.stamps != s {
		c.remove(l)
		return nil
	}
	c.lru.MoveToFront(l.elem)
	return l
}

// weight is what a listing counts against the limit: its messages, and
// one for the listing itself, so that empty maildrops are bounded too.
func (l *listing) weight() int { return len(l.msgs) + 1 }

// put caches a listing, dropping the least recently used ones beyond the
// limit. A listing larger than the limit is not kept.
func (c *listingCache) put(l *listing) {
	if c.limit == 0 || l.weight() > c.limit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byDir == nil {
		c.byDir = make(map[string]*listing)
	}
	if old := c.byDir[l.dir]; old != nil {
		c.remove(old)
	}
	for c.held+l.weight() > c.limit {
		c.remove(c.lru.Back().Value.(*listing))
	}
	l.elem = c.lru.PushFront(l)
	c.byDir[l.dir] = l
	c.held += l.weight()
}

func (c *listingCache) remove(l *listing) {
	c.lru.Remove(l.elem)
	delete(c.byDir, l.dir)
	c.held -= l.weight()
}
