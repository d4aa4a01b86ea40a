package maildir

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/downgrade"
	"github.com/gopop3/pop3/internal/mailuser"
)

// Deliver stores msg in username's Maildir as a Maildir delivery agent does
// (and as Dovecot's LDA does): it writes the message into tmp/, syncs it to
// disk, renames it into new/ under a unique name
// "<seconds>.M<microseconds>P<pid>.<host>,S=<size>,W=<size with CRLF>,D=<downgraded size>"
// and syncs new/, so that an acknowledged delivery survives a crash. The
// file holds the message with LF line ends, as Maildir files do; W= is the
// size that LIST reports, and D= the one it reports to a client that has
// not enabled UTF-8 mode ([pop3.DowngradedSize]), which Dovecot ignores.
//
// A session that holds the maildrop does not see the message; the next
// one lists it last. A user the password source does not know is
// [pop3.ErrNoSuchUser], wrapped. It implements [pop3.Deliverer].
func (b *Backend) Deliver(ctx context.Context, username string, msg io.Reader) error {
	name := mailuser.NormalizeUsername(username)
	dir, o, err := b.mailDirOf(ctx, name)
	if errors.Is(err, pop3.ErrNoSuchUser) {
		return err
	}
	if err != nil {
		return fmt.Errorf("maildir: deliver to %q: %w", name, err)
	}
	return deliver(ctx, dir, msg, o)
}

// UserExists reports whether the password source knows username (after
// Dovecot's default lower-casing, as at login); it implements
// [pop3.UserChecker], so that LMTP refuses an unknown recipient at RCPT
// TO. An error of the source is returned as it is.
func (b *Backend) UserExists(ctx context.Context, username string) (bool, error) {
	return b.accounts.Exists(ctx, username)
}

// deliver writes msg into the Maildir at dir, as a file of o; see
// Backend.Deliver.
func deliver(ctx context.Context, dir string, msg io.Reader, o owner) error {
	spooled, err := spool(ctx, dir, msg, o)
	if err != nil {
		return err
	}
	return spooled.publish(ctx)
}

// spooled is a message written and synced to tmp/, not yet delivered.
type spooled struct {
	dir   string
	tmp   string // its path in tmp/
	name  string // its name in new/
	vsize int64  // its size with CRLF line ends
}

// spool writes msg into tmp/ under a unique name, with LF line ends, and
// syncs it to disk.
func spool(ctx context.Context, dir string, msg io.Reader, o owner) (_ *spooled, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	base := uniqueBaseName()
	tmp := filepath.Join(dir, "tmp", base)
	f, err := createFile(tmp, 0o600, o)
	if err != nil {
		return nil, fmt.Errorf("maildir: deliver: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := &lfWriter{w: bufio.NewWriterSize(f, 64<<10)}
	var header headerTap
	vsize, err := io.Copy(w, io.TeeReader(pop3.NewCRLFReader(msg), &header))
	if err != nil {
		return nil, fmt.Errorf("maildir: deliver: %w", err)
	}
	downgraded, err := pop3.DowngradedSize(bytes.NewReader(header.buf), vsize)
	if err != nil {
		return nil, fmt.Errorf("maildir: deliver: %w", err)
	}
	if err := w.w.Flush(); err != nil {
		return nil, fmt.Errorf("maildir: deliver: %w", err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("maildir: deliver: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("maildir: deliver: %w", err)
	}
	name := base + ",S=" + strconv.FormatInt(w.n, 10) + ",W=" + strconv.FormatInt(vsize, 10) +
		",D=" + strconv.FormatInt(downgraded, 10)
	return &spooled{dir: dir, tmp: tmp, name: name, vsize: vsize}, nil
}

// discard removes the spooled file.
func (s *spooled) discard() { _ = os.Remove(s.tmp) }

// publish renames the spooled file into new/ and syncs new/, which
// delivers it; on an error the file is removed.
func (s *spooled) publish(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		s.discard()
		return err
	}
	if err := os.Rename(s.tmp, filepath.Join(s.dir, "new", s.name)); err != nil {
		s.discard()
		return fmt.Errorf("maildir: deliver: %w", err)
	}
	if err := syncDir(filepath.Join(s.dir, "new")); err != nil {
		return fmt.Errorf("maildir: deliver: the message is in new/, but syncing the directory failed: %w", err)
	}
	return nil
}

// headerTap keeps the start of a message written to it, up to the end of
// its header, for pop3.DowngradedSize: a header longer than
// downgrade.MaxHeader is one the server does not downgrade, so that much
// is enough to tell.
type headerTap struct {
	buf  []byte
	done bool
}

func (h *headerTap) Write(p []byte) (int, error) {
	if h.done {
		return len(p), nil
	}
	from := max(len(h.buf)-3, 0) // a blank line split between writes
	h.buf = append(h.buf, p[:min(len(p), downgrade.MaxHeader+1-len(h.buf))]...)
	if bytes.HasPrefix(h.buf, crlf) || bytes.Contains(h.buf[from:], blankLine) || len(h.buf) > downgrade.MaxHeader {
		h.done = true
	}
	return len(p), nil
}

var (
	crlf      = []byte("\r\n")
	blankLine = []byte("\r\n\r\n")
)

// lfWriter stores CRLF content with LF line ends: it drops the CR before
// each LF, except where that CR follows another CR. Its input comes from
// pop3.NewCRLFReader, where every LF follows a CR, so serving the file
// through NewCRLFReader again gives the same octets; and a line that ends
// in CR CR LF stays as it is, which Dovecot sends as it is too, so both
// serve the file with the W= size. n counts what it wrote.
type lfWriter struct {
	w            *bufio.Writer
	n            int64
	lastCR       bool // the last octet written was a CR
	heldCR       bool // a CR that ended the previous write is held back
	crBeforeHeld bool // the octet before the held CR was a CR
}

func (l *lfWriter) Write(p []byte) (int, error) {
	in := len(p)
	for len(p) > 0 {
		if l.heldCR {
			l.heldCR = false
			if p[0] != '\n' || l.crBeforeHeld {
				if err := l.put(cr); err != nil {
					return 0, err
				}
			}
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if n := len(p); p[n-1] == '\r' {
				l.heldCR = true
				l.crBeforeHeld = n > 1 && p[n-2] == '\r' || n == 1 && l.lastCR
				p = p[:n-1]
			}
			if err := l.put(p); err != nil {
				return 0, err
			}
			break
		}
		line := p[:i]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			if crBefore := n > 1 && line[n-2] == '\r' || n == 1 && l.lastCR; !crBefore {
				line = line[:n-1]
			}
		}
		if err := l.put(line); err != nil {
			return 0, err
		}
		if err := l.put(newline); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	return in, nil
}

var (
	newline = []byte{'\n'}
	cr      = []byte{'\r'}
)

func (l *lfWriter) put(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	n, err := l.w.Write(b)
	l.n += int64(n)
	l.lastCR = b[len(b)-1] == '\r'
	return err
}

// syncDir makes the entries of dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

var (
	uniqueMu   sync.Mutex
	uniqueLast time.Time
	hostname   = escapeHostname(lockHostname)
)

// uniqueBaseName returns a new "<seconds>.M<microseconds>P<pid>.<host>"
// name (the Maildir convention). Names this process makes never repeat:
// the time is moved on by a microsecond when the clock has not.
func uniqueBaseName() string {
	uniqueMu.Lock()
	now := time.Now().Truncate(time.Microsecond)
	if !now.After(uniqueLast) {
		now = uniqueLast.Add(time.Microsecond)
	}
	uniqueLast = now
	uniqueMu.Unlock()
	return strconv.FormatInt(now.Unix(), 10) + ".M" + strconv.Itoa(now.Nanosecond()/1000) +
		"P" + strconv.Itoa(os.Getpid()) + "." + hostname
}

// escapeHostname is a host name for Maildir file names, with '/', ':' and
// ',' written as \057, \072 and \054 as the Maildir convention asks.
func escapeHostname(h string) string {
	return strings.NewReplacer("/", `\057`, ":", `\072`, ",", `\054`).Replace(h)
}
