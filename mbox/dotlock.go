package mbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// errLockTimeout is a spool lock not taken in time: the client sees a
// temporary failure and tries again later.
var errLockTimeout = errors.New("mbox: timed out waiting for the spool lock")

// DefaultStaleDotlock is how old a dotlock whose holder cannot be checked
// must be before it is broken: Postfix's stale_lock_time.
const DefaultStaleDotlock = 500 * time.Second

// dotlock is a held "SPOOL.lock": the lock every mail program on a Unix
// host agrees on, Postfix local(8), procmail, mutt, dotlockfile and
// Dovecot's mbox_write_locks alike.
type dotlock struct {
	path    string
	content string // what it holds: "pid:host"
	touched time.Time
}

var hostname = func() string {
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return h
}()

// takeDotlock creates spool+".lock" as Dovecot and liblockfile do, safely
// on NFS too: a unique file holding "pid:host" hard-linked to the lock's
// name. A lock that exists is waited for, until ctx ends, and broken when
// it is stale: its holder, a process of this host, is gone (Dovecot's and
// dotlockfile's rule), or it has not changed for DefaultStaleDotlock
// (Postfix's rule, for a lock whose holder cannot be told).
func takeDotlock(ctx context.Context, spool string) (*dotlock, error) {
	path := spool + ".lock"
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	tmp := filepath.Join(filepath.Dir(spool), fmt.Sprintf(".%s.lock.%s.%d.%s",
		filepath.Base(spool), hostname, os.Getpid(), hex.EncodeToString(suffix[:])))
	content := strconv.Itoa(os.Getpid()) + ":" + hostname + "\n"
	if err := writeNew(tmp, []byte(content)); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("mbox: cannot create the dotlock of %s (the server needs write access to its directory: on Debian, group mail): %w", spool, err)
		}
		return nil, fmt.Errorf("mbox: creating the dotlock of %s: %w", spool, err)
	}
	defer os.Remove(tmp)
	delay := 10 * time.Millisecond
	for {
		err := os.Link(tmp, path)
		if err == nil || linkedAnyway(tmp) {
			heldHere.set(path, true)
			return &dotlock{path: path, content: content, touched: time.Now()}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("mbox: taking the dotlock of %s: %w", spool, err)
		}
		if breakStale(path, DefaultStaleDotlock) {
			continue
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("mbox: dotlock %s is held: %w", path, errLockTimeout)
		case <-t.C:
		}
		delay = min(2*delay, 250*time.Millisecond)
	}
}

// linkedAnyway is NFS's answer to a link whose reply was lost: the link
// count of the unique file says whether it happened.
func linkedAnyway(tmp string) bool {
	fi, err := os.Stat(tmp)
	return err == nil && linkCount(fi) == 2
}

// breakStale removes the dotlock at path when it is stale, and reports
// whether it did. The lock is looked at twice, so that one that was
// replaced meanwhile by a live holder's is left alone.
func breakStale(path string, stale time.Duration) bool {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true // released meanwhile: try again at once
	}
	if err != nil {
		return false
	}
	if !isStale(path, fi, stale) {
		return false
	}
	again, err := os.Stat(path)
	if err != nil || !os.SameFile(fi, again) || !again.ModTime().Equal(fi.ModTime()) {
		return false
	}
	return os.Remove(path) == nil
}

// isStale applies the rules of takeDotlock to the lock file fi at path.
func isStale(path string, fi fs.FileInfo, stale time.Duration) bool {
	if pid, ok := lockHolder(path); ok {
		if pid == os.Getpid() {
			// Ours by its pid: stale unless this process holds it now. A
			// server restarted with its old pid (pid 1 in a container)
			// meets the lock its predecessor left.
			return !heldHere.has(path)
		}
		return !processExists(pid)
	}
	return time.Since(fi.ModTime()) > stale
}

// lockHolder reads the pid in a dotlock: "pid:host" (Dovecot's and
// ours), or "pid" alone (liblockfile's dotlockfile, mutt). A pid of
// another host, or a lock without one (Postfix leaves it empty), cannot
// be checked.
func lockHolder(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil || len(b) > 256 {
		return 0, false
	}
	s := strings.TrimSpace(string(b))
	pidText, host, hasHost := strings.Cut(s, ":")
	if hasHost && host != hostname {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(pidText))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// releaseLogged releases the lock, and logs what went wrong: that another
// program took the lock over while this one held it (it judged it stale)
// says that the spool may have been written by both.
func (l *dotlock) releaseLogged(logger *slog.Logger) {
	if err := l.release(); err != nil {
		logger.Error("mbox: releasing a dotlock", "error", err)
	}
}

// heldHere is the dotlocks this process holds, by path.
var heldHere = &heldLocks{paths: make(map[string]bool)}

// heldLocks is a set of dotlock paths, safe for concurrent use.
type heldLocks struct {
	mu    sync.Mutex
	paths map[string]bool
}

func (h *heldLocks) set(path string, held bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if held {
		h.paths[path] = true
	} else {
		delete(h.paths, path)
	}
}

func (h *heldLocks) has(path string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.paths[path]
}

// touch keeps a lock held through a long rewrite from looking stale to
// programs that judge it by its age, at most every 30 seconds.
func (l *dotlock) touch() {
	if now := time.Now(); now.Sub(l.touched) > 30*time.Second {
		_ = os.Chtimes(l.path, now, now)
		l.touched = now
	}
}

// release removes the lock, unless it is not ours any more: another
// program judged it stale and took it (a holder that stalled for longer
// than its stale time), and its lock is left alone.
func (l *dotlock) release() error {
	if b, err := os.ReadFile(l.path); err == nil && string(b) != l.content {
		return fmt.Errorf("mbox: %s was taken over by another program while this one held it", l.path)
	}
	heldHere.set(l.path, false)
	if err := os.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("mbox: releasing %s: %w", l.path, err)
	}
	return nil
}

// writeNew writes content to a file that must not exist yet (nor be a
// symbolic link someone left there).
func writeNew(path string, content []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
