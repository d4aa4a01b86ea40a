package maildir

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gopop3/pop3"
)

// retrievedName is the file in the Maildir that holds when each message
// was first retrieved, for EXPIRE with a number of days (RFC 2449 §6.7):
// a line per message, its unique-id (as UIDL shows it) and the time in
// unix seconds, separated by a space ("0000000a65f1c2d3 1732400000").
// Dovecot ignores it: it is no Maildir++ folder (those start with a dot)
// and none of Dovecot's own files.
const retrievedName = "pop3-retrieved"

// RecordsRetrievals reports that every mailbox of the backend remembers
// when its messages were first retrieved, in the Maildir's pop3-retrieved
// file; it implements [pop3.RetrievalBackend].
func (b *Backend) RecordsRetrievals() bool { return true }

// retrievals are the first retrieval times of a session's messages, read
// from the pop3-retrieved file the first time they are asked for. The
// maildrop lock, held for the whole session, keeps the file as it was at
// Open: only Retrieved writes it, under that lock.
type retrievals struct {
	loaded bool
	first  []int64 // by message index: unix seconds, 0 for never
	prune  bool    // the file has lines to drop: bad ones, or unlisted messages
}

// FirstRetrieved returns when message i was first retrieved, as recorded
// by Retrieved in an earlier session (or this one), in seconds; the zero
// Time if never. It implements [pop3.RetrievalMailbox].
func (m *mailbox) FirstRetrieved(i int) time.Time {
	if m.closed || i < 0 || i >= len(m.msgs) {
		return time.Time{}
	}
	m.loadRetrievals()
	if s := m.retrievals.first[i]; s != 0 {
		return time.Unix(s, 0)
	}
	return time.Time{}
}

// Retrieved records t (to the second) as the first retrieval of the given
// messages that have none yet, and rewrites the pop3-retrieved file through
// pop3-retrieved.tmp, synced to disk and renamed over it. The file keeps
// the messages of the listing only: lines of messages removed since, and
// lines that do not parse, are dropped. It implements
// [pop3.RetrievalMailbox].
func (m *mailbox) Retrieved(ctx context.Context, indexes []int, t time.Time) error {
	if m.closed {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Rounded up, so that a message never expires early by the fraction.
	secs := t.Unix()
	if t.Nanosecond() > 0 {
		secs++
	}
	if secs <= 0 {
		return fmt.Errorf("maildir: a retrieval time before 1970: %v", t)
	}
	m.loadRetrievals()
	r := &m.retrievals
	changed := r.prune
	var errs []error
	for _, i := range indexes {
		if i < 0 || i >= len(m.msgs) {
			errs = append(errs, fmt.Errorf("maildir: no message %d", i))
			continue
		}
		if r.first[i] == 0 {
			r.first[i] = secs
			changed = true
		}
	}
	if changed {
		if err := m.writeRetrievals(); err != nil {
			errs = append(errs, fmt.Errorf("maildir: recording retrievals of %q: %w", m.user.name, err))
		} else {
			r.prune = false
		}
	}
	return errors.Join(errs...)
}

// writeRetrievals replaces the pop3-retrieved file with the times of the
// listed messages, or removes it when none has one. The directory is not
// synced: a crash may bring back the previous file, which only keeps
// messages longer.
func (m *mailbox) writeRetrievals() error {
	var buf bytes.Buffer
	written := make(map[string]bool)
	for i, s := range m.retrievals.first {
		uidl := m.msgs[i].uidl
		if s == 0 || written[uidl] {
			continue
		}
		written[uidl] = true
		buf.WriteString(uidl)
		buf.WriteByte(' ')
		buf.Write(strconv.AppendInt(nil, s, 10))
		buf.WriteByte('\n')
	}
	path := filepath.Join(m.user.dir, retrievedName)
	if buf.Len() == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return replaceFile(path, buf.Bytes(), 0o600, m.owner)
}

// loadRetrievals reads the pop3-retrieved file once per session. A file
// that cannot be read counts as empty, and lines that do not parse are
// ignored, with a warning: the worst outcome is that messages are kept
// longer.
func (m *mailbox) loadRetrievals() {
	r := &m.retrievals
	if r.loaded {
		return
	}
	r.loaded = true
	r.first = make([]int64, len(m.msgs))
	listed := make(map[string]bool, len(m.msgs))
	for _, msg := range m.msgs {
		listed[msg.uidl] = true
	}
	logger := m.user.backend.logger
	f, err := openMessageFile(filepath.Join(m.user.dir, retrievedName)) // a regular file, not through a link
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err == nil {
		var times map[string]int64
		var bad, unlisted int
		times, bad, unlisted, err = parseRetrievals(f, listed)
		f.Close()
		for i, msg := range m.msgs {
			r.first[i] = times[msg.uidl]
		}
		r.prune = bad > 0 || unlisted > 0
		if bad > 0 {
			logger.Warn("maildir: lines of "+retrievedName+" do not parse; they are ignored, and dropped when the file is next written",
				"user", m.user.name, "dir", m.user.dir, "lines", bad)
		}
	}
	if err != nil {
		r.prune = true
		logger.Warn("maildir: could not read "+retrievedName+"; the first retrieval times it holds are not used, so messages are kept longer",
			"user", m.user.name, "dir", m.user.dir, "error", err)
	}
}

// parseRetrievals reads the lines of a pop3-retrieved file: the times of
// the unique-ids in listed, the earliest for one given twice; the number
// of lines that do not parse (bad) and of those for other unique-ids
// (unlisted). Times read before an error are returned with it.
func parseRetrievals(r io.Reader, listed map[string]bool) (times map[string]int64, bad, unlisted int, err error) {
	times = make(map[string]int64)
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			bad++ // far longer than any good line: skip to its end
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err == io.EOF {
				return times, bad, unlisted, nil
			}
			if err != nil {
				return times, bad, unlisted, err
			}
			continue
		}
		if err != nil && err != io.EOF {
			return times, bad, unlisted, err
		}
		if len(line) > 0 {
			uidl, secs, ok := parseRetrievalLine(bytes.TrimRight(line, "\r\n"))
			switch {
			case !ok:
				bad++
			case !listed[uidl]:
				unlisted++
			case times[uidl] == 0 || secs < times[uidl]:
				times[uidl] = secs
			}
		}
		if err == io.EOF {
			return times, bad, unlisted, nil
		}
	}
}

// parseRetrievalLine parses "<unique-id> <unix seconds>" (its line end
// cut, LF or CRLF).
func parseRetrievalLine(line []byte) (uidl string, secs int64, ok bool) {
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return "", 0, false
	}
	uidl = string(line[:i])
	secs, err := strconv.ParseInt(string(line[i+1:]), 10, 64)
	if err != nil || secs <= 0 || !pop3.ValidUID(uidl) {
		return "", 0, false
	}
	return uidl, secs, true
}
