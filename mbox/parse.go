package mbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"sync"
)

// errBadSpool is wrapped by every error that says the file is not a usable
// mbox spool: the client is told the SYS/TEMP response code, and the file
// is never rewritten.
var errBadSpool = errors.New("mbox: not a valid mbox spool")

var (
	// errNotMbox: the file does not start with a From line whose date
	// Dovecot accepts (Dovecot: "Mailbox isn't a valid mbox file").
	errNotMbox = fmt.Errorf("%w: it does not start with a From line", errBadSpool)
	// errTruncated: the file ends in the middle of a line, as a delivery
	// that was cut off leaves it. Dovecot would show such a last line as
	// it is; a spool that every delivery agent ends with a line feed is
	// not touched until someone looks at it.
	errTruncated = fmt.Errorf("%w: it ends in the middle of a line (truncated)", errBadSpool)
)

// spool is a parsed mbox spool.
type spool struct {
	size        int64     // octets parsed
	uidValidity uint32    // from the first message's X-IMAPbase, or the pseudo message's X-IMAP; 0 when none
	nextUID     uint32    // likewise: the header's last UID + 1; 0 when none (assignUIDs sets both)
	pseudo      *message  // UW-IMAP's and Dovecot's "FOLDER INTERNAL DATA" message, or nil; never listed
	msgs        []message // the real messages, in file order
	sum         uint64    // maphash (spoolSeed) of the octets parsed: an update checks that they did not change
}

// message is one message of a spool, as offsets in the file.
type message struct {
	offset      int64   // of its "From " line
	headerStart int64   // first octet after the From line
	bodyStart   int64   // first octet of the body: after the empty line that ends the header (== end when none)
	headerEnd   int64   // first octet of the empty line that ends the header (== end when none): where a rewrite adds header fields
	end         int64   // first octet after the message as Dovecot shows it (before the line end that precedes the next From line)
	next        int64   // offset of the next message's From line, or the spool's size
	size        int64   // octets RETR sends: pop3.CRLFSize of reader
	uid         uint32  // X-UID when present and valid (Dovecot's rules, see uids.go), else 0
	xuidl       string  // first X-UIDL header value, unfolded and trimmed; "" when none
	status      string  // value of the first Status header, unfolded and trimmed
	fields      []field // the headers the store keeps for itself (hidden from RETR/TOP), in order
}

// field is one header field that the store keeps for itself.
type field struct {
	name       string // lower case: one of hiddenNames
	start, end int64  // octets of the whole header field, continuation lines and final LF included
}

// hiddenNames are the header fields that Dovecot's mbox storage keeps for
// itself and hides from what it shows (mbox_hide_headers in
// mbox-storage.c), in lower case. Their indexes are their kinds.
var hiddenNames = [...]string{"content-length", "status", "x-imap", "x-imapbase", "x-keywords", "x-status", "x-uid"}

// The kinds of header field that the parser tells apart.
const (
	kindContentLength = iota
	kindStatus
	kindXIMAP
	kindXIMAPbase
	kindXKeywords
	kindXStatus
	kindXUID
	kindXUIDL // shown, but its value is a unique-id
	kindOther = -1
)

const (
	// windowSize is how much of the spool the parser sees at once; a
	// longer line is read in pieces.
	windowSize = 64 << 10
	// fromLookahead is how many octets after a From line's LF its date
	// check may read: Dovecot gives mbox_from_parse what it has buffered,
	// and the parse can run past the line's end.
	fromLookahead = 64
	// fromCheckSize is how much Dovecot reads where a Content-Length says
	// the next From line is (its read block).
	fromCheckSize = 8192
	// maxValue bounds the value kept of a header field that the parser
	// reads; a longer one is taken as broken.
	maxValue = 64 << 10
)

// parseSpool reads an mbox spool: r yields the spool's first size octets.
// It finds the messages as Dovecot 2.3's mbox storage does
// (istream-raw-mbox.c, mbox-sync-parse.c): a message starts at a "From "
// line whose date mbox_from_parse accepts, the line end before that line
// belongs to the separator, a valid Content-Length header may take later
// From lines into the body, and ">From " lines stay as they are.
//
// A Content-Length header is checked by reading where it points: when r is
// also an io.ReaderAt (an *os.File, an *io.SectionReader) it is read
// there; otherwise the whole spool is read into memory first.
//
// An empty spool is valid. A spool that does not start with a valid From
// line gives errNotMbox; one whose last octet is not a line feed gives
// errTruncated. Both wrap errBadSpool.
func parseSpool(r io.Reader, size int64) (*spool, error) {
	if size < 0 {
		return nil, fmt.Errorf("mbox: negative spool size %d", size)
	}
	ra, ok := r.(io.ReaderAt)
	if !ok {
		data, err := io.ReadAll(io.LimitReader(r, size))
		if err != nil {
			return nil, fmt.Errorf("mbox: reading the spool: %w", err)
		}
		br := bytes.NewReader(data)
		r, ra = br, br
	}
	return parseWindowed(r, ra, size, windowSize)
}

// windowPool holds the readers of parseSpool's windows, which nothing
// parsed keeps a reference into (strings are copied out of them).
var windowPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, windowSize) }}

// spoolSeed seeds the hash of a parsed spool (spool.sum), which is only
// compared within this process: a fast hash, against accidents (another
// program rewriting the spool), where no one chooses the content that is
// compared with.
var spoolSeed = maphash.MakeSeed()

// parseWindowed is parseSpool with a window of wsize octets: the result
// does not depend on it.
func parseWindowed(r io.Reader, ra io.ReaderAt, size int64, wsize int) (*spool, error) {
	var br *bufio.Reader
	if wsize == windowSize {
		// Every login parses a spool: its 64 KiB window is reused.
		br = windowPool.Get().(*bufio.Reader)
		br.Reset(io.LimitReader(r, size))
		defer func() {
			br.Reset(nil)
			windowPool.Put(br)
		}()
	} else {
		br = bufio.NewReaderSize(io.LimitReader(r, size), wsize)
	}
	p := &parser{
		br:    br,
		wsize: wsize,
		ra:    ra,
		size:  size,
		s:     &spool{},
		uids:  uidState{next: 1},
	}
	p.hash.SetSeed(spoolSeed)
	if err := p.run(); err != nil {
		return nil, err
	}
	return p.s, nil
}

// parser is the state of one pass over a spool.
type parser struct {
	br    *bufio.Reader
	wsize int
	ra    io.ReaderAt
	size  int64
	s     *spool
	err   error // of a read at a Content-Length's end

	win    []byte // the octets from winOff that br holds
	winOff int64
	atEOF  bool   // win reaches the end of the spool
	scr    []byte // for reads at a Content-Length's end

	hash   maphash.Hash // seeded with spoolSeed
	hashed int64        // octets of the spool fed to hash

	uids uidState
	seq  int // the current message's number in the file, counting the pseudo message (Dovecot's seq)

	started  bool // the first From line has been read
	midLine  bool // the current line was begun in an earlier piece
	kind     int  // what the current line is: line*
	prevCRLF bool // the last complete line of the current message ended in CRLF

	m     message     // the current message
	st    msgState    // and what the parser keeps while reading it
	shown crlfCounter // its size
}

// What the current line is, for its later pieces.
const (
	lineFrom   = iota // the From line of the current message
	lineShown         // a line that RETR shows
	lineHidden        // a line of a hidden header field
)

// msgState is what the parser keeps while it reads a message.
type msgState struct {
	inHeader bool
	first    bool // the next line is the header's first
	// syncHdr: the header lines still count for the UIDs, the status and
	// Content-Length. Dovecot's sync reads the header only up to the
	// first From line that ends the message; when Content-Length takes
	// that line into the message, what follows is still header, hidden
	// as such, but the sync never read it.
	syncHdr bool

	fieldKind int // the kind of the header field whose value is read, or kindOther
	fieldIdx  int // the index in m.fields of the hidden field being read, or -1
	valueAt   int // where the value starts in the current line's first piece
	value     []byte
	overflow  bool // the value was longer than maxValue
	seenBase  bool // an X-IMAPbase or X-IMAP header was taken (Dovecot's seen_imapbase)
	pseudo    bool // the message is the pseudo message
	gotStatus bool
	gotXUIDL  bool

	rawBody   int64  // where Dovecot's raw stream sees the body start, or -1
	hasCL     bool   // a valid Content-Length was read
	cl        uint64 // its value
	clChecked bool   // it was checked where it points

	forcedEnd  int64 // the end that a valid Content-Length gives, or -1
	forcedFrom int64 // the From line after forcedEnd, or -1 when forcedEnd is the spool's last line end

	pending int // octets of the last shown line's end (1: LF, 2: CRLF) not counted yet: they are the separator's when a From line follows
}

// run reads the spool window by window.
func (p *parser) run() error {
	for {
		win, err := p.br.Peek(p.wsize)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("mbox: reading the spool: %w", err)
		}
		p.win, p.atEOF = win, err != nil
		if len(win) == 0 {
			break
		}
		n, err := p.window()
		if err == nil {
			err = p.err
		}
		if err != nil {
			return err
		}
		p.hashTo(p.winOff + int64(n))
		if _, err := p.br.Discard(n); err != nil {
			return fmt.Errorf("mbox: reading the spool: %w", err)
		}
		p.winOff += int64(n)
	}
	p.win = nil
	if p.midLine {
		return errTruncated // a long last line, cut where a window ended
	}
	if p.winOff != p.size {
		return fmt.Errorf("mbox: the spool has %d octets, not %d: %w", p.winOff, p.size, io.ErrUnexpectedEOF)
	}
	p.s.sum = p.hash.Sum64()
	p.s.size = p.size
	if p.started {
		p.endAtEOF()
	}
	return nil
}

// window handles the complete lines of the window, or a piece of a line
// longer than the window, and returns how many octets it used.
func (p *parser) window() (int, error) {
	i := 0
	for i < len(p.win) {
		rest := p.win[i:]
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			if p.atEOF {
				if !p.started {
					return 0, badStart(rest)
				}
				return 0, errTruncated
			}
			if i > 0 {
				return i, nil // read on: the line may fit then
			}
			// A line longer than the window: this piece of it, but
			// not a last CR, which may be the line end's.
			n := len(rest)
			if rest[n-1] == '\r' {
				n--
			}
			if err := p.line(rest[:n], rest, false); err != nil {
				return 0, err
			}
			return n, nil
		}
		if !p.midLine && !p.atEOF && i > 0 && len(rest) < nl+1+fromLookahead && bytes.HasPrefix(rest, fromPrefix) {
			return i, nil // read on: its date check may read past it
		}
		if err := p.line(rest[:nl+1], rest, true); err != nil {
			return 0, err
		}
		i += nl + 1
	}
	return i, nil
}

var fromPrefix = []byte("From ")

// badStart is the error for a spool whose first line has no line end.
func badStart(line []byte) error {
	if bytes.HasPrefix(line, fromPrefix) && fromLineValid(line[5:]) {
		return errTruncated
	}
	return errNotMbox
}

// line handles a line, or a piece of one: b is the piece, complete reports
// whether it ends the line, and look is the window from b on.
func (p *parser) line(b, look []byte, complete bool) error {
	ls := p.winOff + int64(len(p.win)-len(look)) // b's offset
	if !p.midLine {
		if !p.started {
			if !bytes.HasPrefix(look, fromPrefix) || !fromLineValid(p.fromAt(ls, look)) {
				return errNotMbox
			}
			p.started = true
			p.newMessage(0)
		} else {
			p.lineStart(b, look, ls, complete)
		}
	}
	p.piece(b, ls, complete)
	p.midLine = !complete
	return nil
}

// fromAt returns what Dovecot's date check reads of the From line at ls,
// which look (the window from ls on) begins: what follows "From " up to
// fromLookahead octets past the line's end, at most fromCheckSize octets.
// It is the same whatever the window holds.
func (p *parser) fromAt(ls int64, look []byte) []byte {
	d := cutFrom(look[5:])
	if len(d) < len(look)-5 || len(d) == fromCheckSize || p.atEOF {
		return d
	}
	return cutFrom(p.at(ls+5, fromCheckSize))
}

// cutFrom cuts what follows "From " on a From line where Dovecot's date
// check stops reading.
func cutFrom(d []byte) []byte {
	d = d[:min(len(d), fromCheckSize)]
	if nl := bytes.IndexByte(d, '\n'); nl >= 0 && nl+1+fromLookahead < len(d) {
		return d[:nl+1+fromLookahead]
	}
	return d
}

// newMessage begins a message at the From line at off.
func (p *parser) newMessage(off int64) {
	p.seq++
	p.m = message{offset: off, bodyStart: -1, headerEnd: -1}
	p.st = msgState{
		fieldKind: kindOther, fieldIdx: -1, syncHdr: true,
		rawBody: -1, forcedEnd: -1, forcedFrom: -1,
		value: p.st.value[:0],
	}
	p.shown = crlfCounter{}
	p.kind = lineFrom
	p.prevCRLF = false
}

// lineStart decides what the line that begins at ls is: the From line of
// the next message, a header line or a body line.
func (p *parser) lineStart(b, look []byte, ls int64, complete bool) {
	st := &p.st
	if p.separator(look, ls) {
		p.endMessage(ls)
		p.newMessage(ls)
		return
	}
	if st.pending > 0 {
		p.shown.lineEnd(st.pending == 2)
		st.pending = 0
	}
	empty := complete && (len(b) == 1 || len(b) == 2 && b[0] == '\r')
	if st.rawBody < 0 && empty && (len(b) == 1 || ls > p.m.headerStart) {
		// Dovecot's raw stream ends the header at "\n\n" or "\n\r\n";
		// the header parser below also at a first line "\r\n". The
		// first is where a Content-Length counts from.
		st.rawBody = ls + int64(len(b))
		if !st.inHeader {
			p.checkCL(-1)
		}
	}
	p.kind = lineShown
	st.valueAt = 0
	if !st.inHeader {
		return
	}
	if empty {
		p.endField()
		st.inHeader = false
		p.m.bodyStart = ls + int64(len(b))
		p.m.headerEnd = ls
		if st.rawBody >= 0 {
			p.checkCL(-1)
		}
		return
	}
	if !st.first && (b[0] == ' ' || b[0] == '\t') {
		// A continuation line: it goes with the field before.
		if st.fieldIdx >= 0 {
			p.kind = lineHidden
		}
		if st.fieldKind != kindOther && !unfolded(st.fieldKind) {
			// Dovecot's full_value keeps the line ends of a folded value.
			if p.prevCRLF {
				p.addValue([]byte{'\r'})
			}
			p.addValue([]byte{'\n'})
		}
		return
	}
	st.first = false
	p.endField()
	name := b
	if !complete && len(b) < fromCheckSize {
		name = p.at(ls, fromCheckSize) // as much as Dovecot's buffer holds
	}
	kind, valueAt := headerKind(name)
	if kind >= 0 && kind < len(hiddenNames) {
		p.m.fields = append(p.m.fields, field{name: hiddenNames[kind], start: ls, end: ls + int64(len(b))})
		st.fieldIdx = len(p.m.fields) - 1
		p.kind = lineHidden
	}
	if !st.syncHdr || kind == kindXKeywords || kind == kindXStatus ||
		kind == kindStatus && st.gotStatus || kind == kindXUIDL && st.gotXUIDL {
		return // a value that nothing reads
	}
	st.fieldKind, st.valueAt = kind, valueAt
	st.value, st.overflow = st.value[:0], false
}

// unfolded reports whether a kind's value is kept unfolded (its lines
// joined without their line ends), as the X-UIDL reading of the maildir
// store does, rather than as Dovecot's full_value.
func unfolded(kind int) bool { return kind == kindXUIDL || kind == kindStatus }

// piece handles the octets of a line once lineStart has said what the line
// is.
func (p *parser) piece(b []byte, ls int64, complete bool) {
	st := &p.st
	end := ls + int64(len(b))
	switch p.kind {
	case lineFrom:
		if complete {
			p.m.headerStart = end
			st.inHeader, st.first = true, true
		}
		return
	case lineHidden:
		p.m.fields[st.fieldIdx].end = end
	case lineShown:
		content := b
		if complete {
			st.pending = 1
			if len(b) >= 2 && b[len(b)-2] == '\r' {
				st.pending = 2
			}
			content = b[:len(b)-st.pending]
		}
		p.shown.text(content)
	}
	if st.inHeader && st.fieldKind != kindOther {
		skip := min(st.valueAt, len(b))
		st.valueAt -= skip
		p.addLine(b[skip:], complete)
	}
	if complete {
		p.prevCRLF = len(b) >= 2 && b[len(b)-2] == '\r'
	}
}

// addLine adds a piece of a header line to the value being read, without
// the line end.
func (p *parser) addLine(b []byte, complete bool) {
	if complete && len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
		if len(b) > 0 && b[len(b)-1] == '\r' {
			b = b[:len(b)-1]
		}
	}
	p.addValue(b)
}

// addValue adds to the value being read, up to maxValue.
func (p *parser) addValue(b []byte) {
	st := &p.st
	if len(st.value)+len(b) > maxValue {
		st.overflow = true
		return
	}
	st.value = append(st.value, b...)
}

// headerKind returns the kind of the header field that begins with line
// and where its value starts, as Dovecot's message_parse_header_next and
// the header filter read it: the name is what comes before the first
// colon, without the blanks before the colon, compared without case and,
// as strcasecmp does, up to a NUL; the value starts after the colon and
// one blank.
func headerKind(line []byte) (kind, valueAt int) {
	line = line[:min(len(line), fromCheckSize)]
	colon := -1
	for i, c := range line {
		if c > ':' {
			continue
		}
		if c == ':' {
			colon = i
			break
		}
		if c == '\n' {
			break
		}
	}
	if colon < 0 {
		return kindOther, 0
	}
	valueAt = colon + 1
	if valueAt < len(line) && (line[valueAt] == ' ' || line[valueAt] == '\t') {
		valueAt++
	}
	name := line[:colon]
	for len(name) > 0 && (name[len(name)-1] == ' ' || name[len(name)-1] == '\t') {
		name = name[:len(name)-1]
	}
	if nul := bytes.IndexByte(name, 0); nul >= 0 {
		name = name[:nul]
	}
	if len(name) < 5 || len(name) > 14 || name[0] != 'x' && name[0] != 'X' && name[0] != 's' && name[0] != 'S' && name[0] != 'c' && name[0] != 'C' {
		return kindOther, valueAt
	}
	for k, h := range hiddenNames {
		if len(h) == len(name) && bytes.EqualFold(name, []byte(h)) {
			return k, valueAt
		}
	}
	if bytes.EqualFold(name, []byte("x-uidl")) {
		return kindXUIDL, valueAt
	}
	return kindOther, valueAt
}

// endField reads the value of the header field that ends, as Dovecot's
// sync does (mbox-sync-parse.c).
func (p *parser) endField() {
	st := &p.st
	kind := st.fieldKind
	st.fieldKind, st.fieldIdx = kindOther, -1
	if kind == kindOther {
		return
	}
	v := st.value
	if st.overflow {
		// Longer than any valid value: a broken one, an empty X-UIDL
		// or Status.
		v = v[:0]
		if kind != kindStatus && kind != kindXUIDL {
			return
		}
	}
	switch kind {
	case kindContentLength:
		if !st.hasCL {
			st.cl, st.hasCL = parseContentLength(v)
		}
	case kindStatus:
		p.m.status, st.gotStatus = string(bytes.Trim(v, " \t\r\n")), true
	case kindXUIDL:
		p.m.xuidl, st.gotXUIDL = string(bytes.Trim(v, " \t")), true
	case kindXIMAP, kindXIMAPbase:
		if p.seq != 1 || st.seenBase {
			return
		}
		validity, last, ok := parseIMAPBase(v)
		if !ok {
			return
		}
		st.seenBase = true
		st.pseudo = kind == kindXIMAP
		p.s.uidValidity, p.s.nextUID = validity, last+1
		p.uids.base(last)
	case kindXUID:
		p.uids.xUID(p.seq, st.seenBase, &p.m, v)
	}
}

// separator reports whether the line at ls, which look holds with what
// follows it, is the From line of the next message.
func (p *parser) separator(look []byte, ls int64) bool {
	st := &p.st
	if ls <= p.m.headerStart || !bytes.HasPrefix(look, fromPrefix) {
		// The LF before "From " must be the message's own.
		return false
	}
	if st.forcedEnd >= 0 {
		return ls == st.forcedFrom
	}
	if !fromLineValid(p.fromAt(ls, look)) {
		return false
	}
	if st.inHeader {
		// Dovecot's sync has read the header up to here.
		p.endField()
	}
	if st.hasCL && !st.clChecked {
		p.checkCL(p.lineEndAt(ls))
		if st.forcedEnd >= 0 {
			if ls == st.forcedFrom {
				return true
			}
			st.syncHdr = false
			return false
		}
	}
	return true
}

// lineEndAt is where the line end before the line at ls starts.
func (p *parser) lineEndAt(ls int64) int64 {
	if p.prevCRLF {
		return ls - 2
	}
	return ls - 1
}

// checkCL checks once where a valid Content-Length says the message ends,
// as istream_raw_mbox_get_body_size does: counted from the raw body
// offset (or from the end found, at, when the header has no end), it must
// be a line end followed by a valid From line, or the spool's final line
// end. Then the message ends there, whatever From lines come before.
func (p *parser) checkCL(at int64) {
	st := &p.st
	if !st.hasCL || st.clChecked {
		return
	}
	st.clChecked = true
	base := st.rawBody
	if base < 0 {
		base = at
	}
	if base < 0 || st.cl > uint64(p.size) {
		return
	}
	pos := base + int64(st.cl)
	if pos >= p.size {
		return
	}
	rem := p.size - pos
	data := p.at(pos, fromCheckSize)
	if int64(len(data)) < min(rem, fromCheckSize) {
		return // a read error, which run returns
	}
	switch {
	case rem == 1 && data[0] == '\n', rem == 2 && data[0] == '\r' && data[1] == '\n':
		st.forcedEnd, st.forcedFrom = pos, -1
	case rem > 31 && bytes.HasPrefix(data, []byte("\nFrom ")) && fromLineValid(cutFrom(data[6:])):
		st.forcedEnd, st.forcedFrom = pos, pos+1
	case rem > 32 && bytes.HasPrefix(data, []byte("\r\nFrom ")) && fromLineValid(cutFrom(data[7:])):
		st.forcedEnd, st.forcedFrom = pos, pos+2
	}
}

// at returns up to n octets of the spool at off: from the window when it
// holds them, else read there.
func (p *parser) at(off int64, n int) []byte {
	n = int(min(int64(n), p.size-off))
	if i := off - p.winOff; i >= 0 && i+int64(n) <= int64(len(p.win)) {
		return p.win[i : i+int64(n)]
	}
	if cap(p.scr) < n {
		p.scr = make([]byte, fromCheckSize)
	}
	b := p.scr[:n]
	got, err := p.ra.ReadAt(b, off)
	if got < n {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if p.err == nil {
			p.err = fmt.Errorf("mbox: reading the spool at %d: %w", off, err)
		}
	}
	return b[:got]
}

// endMessage ends the current message before the From line at next.
func (p *parser) endMessage(next int64) {
	end := p.st.forcedEnd
	if end < 0 {
		end = p.lineEndAt(next)
	}
	if p.st.pending > 0 && end > next-int64(p.st.pending) {
		p.shown.text([]byte{'\r'}) // a Content-Length that counts the CR of a CRLF
	}
	p.finish(end, next)
}

// endAtEOF ends the last message: before the spool's final line end, as
// Dovecot reads the last message whatever its Content-Length says.
func (p *parser) endAtEOF() {
	if p.kind == lineFrom {
		p.finish(p.size, p.size) // the last line is a From line
		return
	}
	p.finish(p.lineEndAt(p.size), p.size)
}

// finish records the current message, which ends at end, before next.
func (p *parser) finish(end, next int64) {
	st, m := &p.st, &p.m
	if st.inHeader {
		p.endField()
	}
	m.end, m.next = end, next
	if m.bodyStart < 0 || m.bodyStart > end {
		m.bodyStart = end
	}
	if m.headerEnd < 0 || m.headerEnd > end {
		m.headerEnd = end
	}
	for i := range m.fields {
		m.fields[i].end = min(m.fields[i].end, end)
	}
	m.size = p.shown.total()
	p.uids.endMessage(m, st.pseudo)
	if p.seq == 1 && st.pseudo {
		pseudo := *m
		p.s.pseudo = &pseudo
		return
	}
	p.s.msgs = append(p.s.msgs, *m)
}

// hashTo feeds the spool's octets up to off, which the window holds, to
// the hash.
func (p *parser) hashTo(off int64) {
	if off <= p.hashed {
		return
	}
	p.hash.Write(p.win[p.hashed-p.winOff : off-p.winOff])
	p.hashed = off
}

// fromLineValid reports whether Dovecot's mbox_from_parse (mbox-from.c)
// accepts b, what follows "From " on a From line and a little after it:
// a sender (which may start with a quoted part), blanks, then a date in
// asctime() form ("Thu Nov  9 22:33:52 2001", the seconds optional, a
// named time zone allowed before the year, a numeric one after it) or
// "Thu, 9 Nov 2001 22:33:52". With a numeric time zone the date must
// exist; without one Dovecot takes any. As in Dovecot, the checks at fixed
// places may read past the line's end; past b they fail.
func fromLineValid(b []byte) bool {
	at := func(i int) byte {
		if i < len(b) {
			return b[i]
		}
		return 0
	}
	digit := func(i int) bool { c := at(i); return c >= '0' && c <= '9' }
	num2 := func(i int) int { return int(at(i)-'0')*10 + int(at(i+1)-'0') }

	i := 0
	if at(0) == '"' {
		// "x y z"@domain: skip the quoted part.
		esc := false
		for i++; i < len(b) && (b[i] != '"' || esc); i++ {
			if b[i] == '\r' || b[i] == '\n' {
				return false
			}
			esc = b[i] == '\\'
		}
		i++
	}
	for ; i < len(b) && b[i] != ' '; i++ {
		if b[i] == '\r' || b[i] == '\n' {
			return false
		}
	}
	for i < len(b) && b[i] == ' ' {
		i++
	}
	if i+29-3-5 > len(b) {
		return false
	}
	i += 4 // the weekday, unchecked
	var day, month, hour, minute, sec, year int
	altStamp := false
	if m, ok := fromMonth(b, i); ok {
		month = m
		i += 4
		if at(i) == ' ' {
			i++
		}
		if at(i+1) == ' ' {
			if !digit(i) {
				return false
			}
			day = int(at(i) - '0')
			i += 2
		} else {
			if !digit(i) || !digit(i+1) || at(i+2) != ' ' {
				return false
			}
			day = num2(i)
			i += 3
		}
	} else {
		// "Thu, 9 Nov 2002 22:33:52"
		altStamp = true
		i++
		if !digit(i) {
			return false
		}
		day = int(at(i) - '0')
		i++
		if digit(i) {
			day = day*10 + int(at(i)-'0')
			i++
		}
		if at(i) != ' ' {
			return false
		}
		i++
		if month, ok = fromMonth(b, i); !ok {
			return false
		}
		i += 4
		if year, ok = fromYear(b, i); !ok {
			return false
		}
		i += 5
	}
	if day == 0 {
		day = 1
	}
	if !digit(i) || !digit(i+1) || at(i+2) != ':' {
		return false
	}
	hour = num2(i)
	i += 3
	if !digit(i) || !digit(i+1) {
		return false
	}
	minute = num2(i)
	i += 2
	if at(i) == ':' {
		i++
		if !digit(i) || !digit(i+1) {
			return false
		}
		sec = num2(i)
		i += 2
		if !altStamp {
			if at(i) != ' ' {
				return false
			}
			i++
		}
	} else if !altStamp {
		if at(i) != ' ' {
			return false
		}
		i++
	}
	if !altStamp {
		if !digit(i) || !digit(i+1) || !digit(i+2) || !digit(i+3) {
			// A named time zone before the year (Dovecot's numeric
			// one here can never match): skip to the next space.
			for ; i < len(b) && b[i] != ' '; i++ {
				if b[i] == '\r' || b[i] == '\n' {
					return false
				}
			}
			if i+5 > len(b) {
				return false
			}
			i++
		}
		var ok bool
		if year, ok = fromYear(b, i); !ok {
			return false
		}
		i += 4
	}
	if i < len(b) && at(i) == ' ' && (at(i+1) == '-' || at(i+1) == '+') &&
		digit(i+2) && digit(i+3) && digit(i+4) && digit(i+5) {
		// A numeric time zone: Dovecot's utc_mktime refuses a date
		// that timegm would have to normalize.
		// (The time zone moves the time, but Dovecot checks -1 before.)
		return dateExists(year, month, day, hour, minute, sec)
	}
	return true
}

var monthNames = [12]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// fromMonth reads a month name, in any case, followed by a space, at i.
func fromMonth(b []byte, i int) (int, bool) {
	if i+4 > len(b) || b[i+3] != ' ' {
		return 0, false
	}
	for m, name := range monthNames {
		if bytes.EqualFold(b[i:i+3], []byte(name)) {
			return m, true
		}
	}
	if string(b[i:i+3]) == "???" {
		return 0, true // Dovecot's hack for one special mbox
	}
	return 0, false
}

// fromYear reads four digits at i.
func fromYear(b []byte, i int) (int, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	y := 0
	for _, c := range b[i : i+4] {
		if c < '0' || c > '9' {
			return 0, false
		}
		y = y*10 + int(c-'0')
	}
	return y, true
}

// dateExists reports whether the date is one that timegm keeps as it is
// (a leap second 60 taken as 59), in the proleptic Gregorian calendar.
func dateExists(year, month, day, hour, minute, sec int) bool {
	days := [12]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month]
	if month == 1 && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		days = 29
	}
	if year == 1969 && month == 11 && day == 31 && hour == 23 && minute == 59 && sec >= 59 {
		return false // time_t -1, which Dovecot takes for an error
	}
	return day <= days && hour < 24 && minute < 60 && sec <= 60
}
