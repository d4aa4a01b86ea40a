package maildir

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gopop3/pop3"
)

// downgradedName is the file, beside dovecot-uidlist, that keeps the
// downgraded sizes (pop3.MessageInfo.DowngradedSize) of messages that
// other programs delivered; the package documentation describes it.
// Deliver writes the size into the file's name instead (",D=").
const downgradedName = "pop3-downgraded-sizes"

// downgradedHeader starts the file: its name and format version.
const downgradedHeader = "pop3-downgraded-sizes 1"

// maxDowngradedFile bounds what is read of the file: some 20 bytes a
// message whose header is not ASCII, for a million of them.
const maxDowngradedFile = 32 << 20

// downgradedSizes is what downgradedName holds: for one UIDVALIDITY of
// dovecot-uidlist, every message with a UID below next was examined, and
// sizes has the downgraded size of those whose header is not ASCII (the
// others' is their size), or -1 for one that could not be read then and is
// read again.
type downgradedSizes struct {
	uidValidity uint32
	next        uint32
	sizes       map[uint32]int64
}

// known returns the downgraded size of message m, if it was examined.
func (d *downgradedSizes) known(m *message) (int64, bool) {
	if d == nil || m.uid == 0 || m.uidValidity != d.uidValidity || m.uid >= d.next {
		return 0, false
	}
	n, ok := d.sizes[m.uid]
	switch {
	case !ok:
		return m.size, true
	case n < 0:
		return 0, false
	}
	return n, true
}

// readDowngraded reads the Maildir's downgradedName. A file that is
// missing, damaged or too large reads as nil: every message is examined
// again, which costs a read and loses nothing.
func readDowngraded(dir string) (*downgradedSizes, error) {
	f, err := openMessageFile(filepath.Join(dir, downgradedName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxDowngradedFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxDowngradedFile {
		return nil, errors.New("too large")
	}
	return parseDowngraded(data)
}

// parseDowngraded parses the file's content:
//
//	pop3-downgraded-sizes 1 <uidvalidity> <next uid>
//	<uid> <downgraded size>
//	<uid> -
func parseDowngraded(data []byte) (*downgradedSizes, error) {
	first, rest, _ := bytes.Cut(data, []byte{'\n'})
	head, ok := strings.CutPrefix(string(first), downgradedHeader+" ")
	if !ok {
		return nil, errors.New("unknown header")
	}
	v, n, ok := strings.Cut(head, " ")
	validity, err1 := strconv.ParseUint(v, 10, 32)
	next, err2 := strconv.ParseUint(n, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return nil, fmt.Errorf("bad header %q", first)
	}
	d := &downgradedSizes{uidValidity: uint32(validity), next: uint32(next), sizes: map[uint32]int64{}}
	for line := range strings.Lines(string(rest)) {
		line = strings.TrimSuffix(line, "\n")
		u, s, ok := strings.Cut(line, " ")
		uid, err := strconv.ParseUint(u, 10, 32)
		if !ok || err != nil || uid == 0 || uint32(uid) >= d.next {
			return nil, fmt.Errorf("bad record %q", line)
		}
		size := int64(-1)
		if s != "-" {
			if size, err = strconv.ParseInt(s, 10, 64); err != nil || size < 0 {
				return nil, fmt.Errorf("bad record %q", line)
			}
		}
		d.sizes[uint32(uid)] = size
	}
	return d, nil
}

// marshal writes d in the format parseDowngraded reads, records in UID
// order.
func (d *downgradedSizes) marshal() []byte {
	b := fmt.Appendf(nil, "%s %d %d\n", downgradedHeader, d.uidValidity, d.next)
	uids := slices.Sorted(func(yield func(uint32) bool) {
		for uid := range d.sizes {
			if !yield(uid) {
				return
			}
		}
	})
	for _, uid := range uids {
		b = strconv.AppendUint(b, uint64(uid), 10)
		if n := d.sizes[uid]; n < 0 {
			b = append(b, " -\n"...)
		} else {
			b = append(strconv.AppendInt(append(b, ' '), n, 10), '\n')
		}
	}
	return b
}

// fillDowngraded sets the DowngradedSize of every listed message: from its
// file name, from the Maildir's downgradedName, or by reading its header,
// once, and keeping the result in downgradedName (once ctx is done, the
// headers left are read by the next session). It runs under the
// maildrop lock, which every writer of downgradedName holds. A failure to
// read or write the file only costs reading headers again; it is logged.
func fillDowngraded(ctx context.Context, dir string, msgs []message, infos []pop3.MessageInfo, logger *slog.Logger, o owner) {
	saved, err := readDowngraded(dir)
	if err != nil {
		logger.Warn("maildir: "+downgradedName+" is unreadable; the headers of its messages are read again",
			"dir", dir, "error", err)
	}
	learnt := &downgradedSizes{sizes: map[uint32]int64{}}
	examined := false
	for i := range msgs {
		m := &msgs[i]
		if m.unreadable {
			continue // its size is unknown, and RETR refuses it
		}
		if n, ok := downgradedFromName(m.base); ok {
			infos[i].DowngradedSize = n
			continue
		}
		if m.uid != 0 {
			learnt.uidValidity = m.uidValidity
			learnt.next = max(learnt.next, m.uid+1)
		}
		n, ok := saved.known(m)
		if !ok {
			examined = true
			if ctx.Err() != nil {
				n = -1 // left for the next session
			} else if n, ok = examineDowngraded(m); !ok {
				n = -1
			}
		}
		if n >= 0 {
			infos[i].DowngradedSize = n
		}
		if m.uid != 0 && n != m.size {
			learnt.sizes[m.uid] = n
		}
	}
	if !examined || learnt.next == 0 {
		return
	}
	if err := writeDowngraded(dir, learnt, o); err != nil {
		logger.Warn("maildir: could not keep the downgraded sizes of new messages; their headers are read again next session",
			"dir", dir, "error", err)
	}
}

// examineDowngraded reads the header of message m to learn its downgraded
// size.
func examineDowngraded(m *message) (int64, bool) {
	f, err := openMessageFile(m.path)
	if errors.Is(err, fs.ErrNotExist) {
		if path, ok := findFile(filepath.Dir(filepath.Dir(m.path)), m.base); ok {
			m.path = path
			f, err = openMessageFile(path)
		}
	}
	if err != nil {
		return 0, false
	}
	defer f.Close()
	n, err := pop3.DowngradedSize(pop3.NewCRLFReader(f), m.size)
	return n, err == nil
}

// writeDowngraded replaces the Maildir's downgradedName with d.
func writeDowngraded(dir string, d *downgradedSizes, o owner) error {
	tmp := filepath.Join(dir, downgradedName+".tmp")
	// One left by a writer that died, or planted, is replaced, never
	// written through.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := createFile(tmp, 0o600, o)
	if err != nil {
		return err
	}
	_, err = f.Write(d.marshal())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Not synced: after a crash, a lost file only means reading
		// headers again.
		err = os.Rename(tmp, filepath.Join(dir, downgradedName))
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// downgradedFromName reads the ",D=<size>" field that Deliver writes.
func downgradedFromName(base string) (int64, bool) {
	return numberFromName(base, "D=")
}
