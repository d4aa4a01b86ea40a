package maildir

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
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

// downgradedSizes is what downgradedName holds, for one UIDVALIDITY of
// dovecot-uidlist: the messages whose header was read, by UID. Those
// whose header is ASCII, which is most, are kept as runs of UIDs (their
// downgraded size is their size); the others with their downgraded size.
// A message without a record, such as one that could not be read, is
// read by the next session that lists it.
type downgradedSizes struct {
	uidValidity uint32
	ascii       []uidRange       // ascending, disjoint
	sizes       map[uint32]int64 // the headers that are not ASCII
}

// uidRange is the UIDs from first to last, inclusive.
type uidRange struct{ first, last uint32 }

// known returns the downgraded size of message m, if its header was read.
func (d *downgradedSizes) known(m *message) (int64, bool) {
	if d == nil || m.uid == 0 || m.uidValidity != d.uidValidity {
		return 0, false
	}
	if n, ok := d.sizes[m.uid]; ok {
		return n, true
	}
	_, found := slices.BinarySearchFunc(d.ascii, m.uid, func(r uidRange, uid uint32) int {
		switch {
		case r.last < uid:
			return -1
		case r.first > uid:
			return 1
		}
		return 0
	})
	return m.size, found
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

// parseDowngraded parses the file's content: a first line
// "pop3-downgraded-sizes 1 <uidvalidity>", then in ascending order of UID
// "<uid>" or "<first>-<last>" for headers that are ASCII, and "<uid>
// <downgraded size>" for the others.
func parseDowngraded(data []byte) (*downgradedSizes, error) {
	first, rest, _ := bytes.Cut(data, []byte{'\n'})
	v, ok := strings.CutPrefix(string(first), downgradedHeader+" ")
	if !ok {
		return nil, errors.New("unknown header")
	}
	validity, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("bad header %q", first)
	}
	d := &downgradedSizes{uidValidity: uint32(validity), sizes: map[uint32]int64{}}
	var last uint64 // the highest UID so far
	for line := range strings.Lines(string(rest)) {
		line = strings.TrimSuffix(line, "\n")
		uids, size, hasSize := strings.Cut(line, " ")
		from, to, isRange := strings.Cut(uids, "-")
		a, err1 := strconv.ParseUint(from, 10, 32)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.ParseUint(to, 10, 32)
		}
		if err1 != nil || err2 != nil || a <= last || b < a || isRange && hasSize {
			return nil, fmt.Errorf("bad record %q", line)
		}
		last = b
		if !hasSize {
			d.ascii = append(d.ascii, uidRange{uint32(a), uint32(b)})
			continue
		}
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad record %q", line)
		}
		d.sizes[uint32(a)] = n
	}
	return d, nil
}

// marshal writes d in the format parseDowngraded reads.
func (d *downgradedSizes) marshal() []byte {
	b := fmt.Appendf(nil, "%s %d\n", downgradedHeader, d.uidValidity)
	uids := slices.Sorted(maps.Keys(d.sizes))
	ascii := d.ascii
	for len(ascii) > 0 || len(uids) > 0 {
		if len(uids) == 0 || len(ascii) > 0 && ascii[0].first < uids[0] {
			r := ascii[0]
			ascii = ascii[1:]
			b = strconv.AppendUint(b, uint64(r.first), 10)
			if r.last != r.first {
				b = strconv.AppendUint(append(b, '-'), uint64(r.last), 10)
			}
			b = append(b, '\n')
			continue
		}
		b = strconv.AppendUint(b, uint64(uids[0]), 10)
		b = append(strconv.AppendInt(append(b, ' '), d.sizes[uids[0]], 10), '\n')
		uids = uids[1:]
	}
	return b
}

// add records the downgraded size n of the message with UID uid and size
// size; UIDs are added in ascending order.
func (d *downgradedSizes) add(uid uint32, size, n int64) {
	if n != size {
		d.sizes[uid] = n
		return
	}
	if k := len(d.ascii); k > 0 && d.ascii[k-1].last == uid-1 {
		d.ascii[k-1].last = uid
		return
	}
	d.ascii = append(d.ascii, uidRange{uid, uid})
}

// fillDowngraded sets the DowngradedSize of every listed message: from its
// file name, from the Maildir's downgradedName, or by reading its header,
// once, and keeping the result in downgradedName (once ctx is done, the
// headers left are read by the next session). It runs under the maildrop
// lock (on Unix), which every writer of downgradedName holds. A failure
// to read or write the file only costs reading headers again; it is
// logged.
//
// The file keeps the messages of this listing only: a file that another
// program is renaming, missed by this listing, is read again next time.
func fillDowngraded(ctx context.Context, dir string, msgs []message, infos []pop3.MessageInfo, logger *slog.Logger, o owner) {
	saved, err := readDowngraded(dir)
	if err != nil {
		logger.Warn("maildir: "+downgradedName+" is unreadable; the headers of its messages are read again",
			"dir", dir, "error", err)
	}
	// In UID order, as the file keeps them; a migration's O order may
	// have put some first.
	order := make([]int, 0, len(msgs))
	for i := range msgs {
		order = append(order, i)
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(msgs[a].uid, msgs[b].uid) })
	learnt := &downgradedSizes{sizes: map[uint32]int64{}}
	examined, recorded := false, false
	for _, i := range order {
		m := &msgs[i]
		if m.unreadable {
			continue // its size is unknown, and RETR refuses it
		}
		if n, ok := downgradedFromName(m.base); ok {
			infos[i].DowngradedSize = n
			continue
		}
		n, ok := saved.known(m)
		if !ok {
			examined = true
			if ctx.Err() != nil {
				continue // left for the next session
			}
			if n, ok = examineDowngraded(m); !ok {
				continue
			}
		}
		infos[i].DowngradedSize = n
		if m.uid != 0 {
			learnt.uidValidity, recorded = m.uidValidity, true
			learnt.add(m.uid, m.size, n)
		}
	}
	if !examined || !recorded {
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
