package pop3

import (
	"fmt"
	"io"
	"strings"

	"github.com/gopop3/pop3/internal/wire"
)

// Workaround names a change to what RETR and TOP send, for POP3 clients
// that mishandle some messages, as Dovecot's pop3_client_workarounds
// setting names it; [Server.ClientWorkarounds] turns it on. Each bends
// RFC 1939 for one kind of client, so none is on by default.
//
// Both are applied as the message streams out, after the header is
// downgraded for a client that has not sent UTF8 (RFC 6856 §3), and
// before dot-stuffing: the message is never held in memory whole.
type Workaround string

// The client workarounds, named as in Dovecot 2.3.
const (
	// WorkaroundOutlookNoNULs sends every NUL octet (0x00) of a message
	// as 0x80, in RETR and TOP: Outlook stops reading a message at a NUL,
	// which RFC 5322 forbids but which messages carry all the same.
	// Sizes are kept, so LIST and RETR still agree.
	//
	// As in Dovecot it applies to the header too, after downgrading: a
	// NUL there becomes a 0x80 even for a client that has not sent UTF8,
	// since the message must keep the size that LIST reported.
	WorkaroundOutlookNoNULs Workaround = "outlook-no-nuls"
	// WorkaroundOENSEOH adds the empty line that ends a header (RFC 5322
	// §2.1), CRLF, to a message that has none, being all header, in RETR
	// and TOP: old Outlook Express and Netscape clients need it to find
	// the end of the header. A last line without a line end is ended
	// first, as for any message.
	//
	// Such a message is then sent with 2 octets more than LIST, STAT and
	// RETR's "+OK n octets" report, where RFC 1939 §11 asks for the exact
	// size. Dovecot does not adjust them either: knowing which messages
	// are all header would mean reading every message at LIST. Such
	// messages are rare; turn this on only for the clients that need it.
	//
	// The header ends at the first empty line, as TOP finds it, so that
	// RETR and TOP add the line to the same messages; a message that
	// starts with an empty line has an empty header, ended. Dovecot takes
	// any line that starts with a CR as the end, which differs only for a
	// header line that starts with a stray CR. An empty message gets the
	// empty line alone, CRLF, where Dovecot sends two, since it sends a
	// line end for an empty message even without the workaround.
	WorkaroundOENSEOH Workaround = "oe-ns-eoh"
)

// allWorkarounds lists the workarounds in the order of their bits.
var allWorkarounds = [...]Workaround{WorkaroundOutlookNoNULs, WorkaroundOENSEOH}

// workaroundSet is a set of workarounds, one bit each in the order of
// allWorkarounds: the zero value has none.
type workaroundSet uint8

// has reports whether w is in the set.
func (set workaroundSet) has(w Workaround) bool {
	for i, x := range allWorkarounds {
		if x == w {
			return set&(1<<i) != 0
		}
	}
	return false
}

// ParseWorkarounds parses a list of workaround names, in any case,
// separated by commas or spaces, as pop3d's -client-workarounds flag and
// Dovecot's pop3_client_workarounds setting take it. An empty list is
// none; a name given twice counts once.
func ParseWorkarounds(list string) ([]Workaround, error) {
	var ws []Workaround
	var seen workaroundSet
	for _, name := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		w, bit, err := lookupWorkaround(Workaround(name))
		if err != nil {
			return nil, fmt.Errorf("pop3: %w", err)
		}
		if seen&bit == 0 {
			seen |= bit
			ws = append(ws, w)
		}
	}
	return ws, nil
}

// lookupWorkaround finds a workaround by its name, in any case, and
// returns it with its bit.
func lookupWorkaround(name Workaround) (Workaround, workaroundSet, error) {
	for i, x := range allWorkarounds {
		if strings.EqualFold(string(name), string(x)) {
			return x, 1 << i, nil
		}
	}
	known := make([]string, len(allWorkarounds))
	for i, x := range allWorkarounds {
		known[i] = string(x)
	}
	return "", 0, fmt.Errorf("unknown client workaround %q (known: %s)", name, strings.Join(known, ", "))
}

// workaroundsOf is the set of the known workarounds in list, and an
// error naming the first unknown one, which Serve returns.
func workaroundsOf(list []Workaround) (workaroundSet, error) {
	var (
		set   workaroundSet
		first error
	)
	for _, w := range list {
		_, bit, err := lookupWorkaround(w)
		if err != nil && first == nil {
			first = fmt.Errorf("pop3: Server.ClientWorkarounds: %w", err)
		}
		set |= bit
	}
	return set, first
}

// writeRetrieved streams r, a message opened for RETR or TOP, as a
// multi-line body with the server's client workarounds, and returns its
// octets less those the workarounds added: what RETR compares with the
// listed size. Without workarounds it is writeMessage, with nothing in
// between.
func (s *session) writeRetrieved(r io.Reader) (int64, error) {
	set := s.srv.workarounds
	if set == 0 {
		return s.writeMessage(r)
	}
	var eoh *wire.EOHReader
	if set.has(WorkaroundOENSEOH) {
		eoh = wire.NewEOHReader(r)
		r = eoh
	}
	if set.has(WorkaroundOutlookNoNULs) {
		r = wire.NewNULReader(r)
	}
	n, err := s.writeMessage(r)
	if eoh != nil {
		n -= eoh.Added()
	}
	return n, err
}
