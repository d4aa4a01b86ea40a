// Package downgrade presents an internationalized message (RFC 6532:
// UTF-8 in header fields) to a POP3 client that has not enabled UTF-8
// mode (RFC 6856), following the simplified downgrading of RFC 6858.
//
// RFC 6858 has the server synthesize a conventional message from the
// stored one instead of hiding it: what cannot be expressed in ASCII is
// shown as incomplete rather than silently changed (RFC 6858 §2), and
// the rules are deliberately simple (§3):
//
//   - In an address header field (From, Sender, Reply-To, To, Cc, Bcc and
//     their Resent- forms, ...), an address whose local part or domain is
//     not ASCII cannot be represented, so the mailbox becomes an empty
//     group whose display name is the original display name (or, lacking
//     one, the address itself) as RFC 2047 encoded-words. RFC 6854 allows
//     such groups in From and Sender for exactly this purpose. A
//     mailbox whose address is ASCII keeps it; only its display name is
//     encoded.
//   - Other header fields carrying UTF-8 text get RFC 2047 encoded-words
//     (unstructured text; display names as phrases).
//
// Where a field's syntax admits no encoded-word, this package makes its
// own choices: MIME parameters (Content-Type, Content-Disposition) get
// RFC 2231 encoding, and msg-id fields (Message-ID, References, ...) and
// the addr-spec-only trace fields (Return-Path, Delivered-To, ...) have
// their non-ASCII octets percent-encoded. That result is plainly mangled
// yet deterministic, so threading between downgraded messages still
// works, and no field is ever dropped.
//
// Only the message's top-level header is rewritten. The body, including
// the header fields of MIME body parts and any message/global part
// (which RFC 6532 §3.7 has conventional clients treat as
// application/octet-stream), is passed through octet for octet:
// rewriting it would need a MIME parser and unbounded buffering, and the
// octets reach a POP3 client intact either way.
//
// Header fields that are already ASCII are copied byte for byte; a
// header with no octet >= 0x80 is returned unchanged without allocating.
package downgrade

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxHeader is the largest header block, in octets, that ReadHeader
// accepts. A header block this large is already far beyond
// anything a real message needs; the bound keeps memory use per message
// fixed whatever the input.
const MaxHeader = 256 << 10

// ErrHeaderTooLarge is returned when a message's header block exceeds
// MaxHeader octets.
var ErrHeaderTooLarge = errors.New("downgrade: message header exceeds MaxHeader")

// Line-length limits of RFC 5322 §2.1.1: rewritten fields are folded to
// stay within the recommended 78 characters where the content allows.
// maxWord is the RFC 2047 §2 limit on an encoded-word.
const (
	lineLimit = 78
	maxWord   = 75
	// longest ASCII word kept literally in rewritten text; longer ones
	// are encoded (and thus split), so no rewritten line can approach
	// the 998-octet hard limit.
	maxLiteral = 70
)

// Header returns the downgraded form of hdr, a message's header block:
// header field lines each ending in CRLF, followed by the empty line
// that ends the header, or, for a message without a body separator, all
// its lines. changed reports whether anything was rewritten; when hdr
// has no octet >= 0x80, Header returns hdr itself and false after a
// single scan, without allocating.
//
// The result never contains an octet >= 0x80, keeps every line end and
// the terminating empty line, and keeps ASCII fields byte for byte.
// Invalid UTF-8 is replaced by U+FFFD before it is encoded.
func Header(hdr []byte) (out []byte, changed bool) {
	if isASCII(hdr) {
		return hdr, false
	}
	out = make([]byte, 0, len(hdr)+len(hdr)/2+64)
	start := -1 // start of the current field (first line plus continuations)
	flush := func(end int) {
		if start >= 0 {
			out = appendField(out, hdr[start:end])
			start = -1
		}
	}
	for i := 0; i < len(hdr); {
		j := bytes.IndexByte(hdr[i:], '\n')
		if j < 0 {
			j = len(hdr)
		} else {
			j += i + 1
		}
		line := hdr[i:j]
		switch {
		case isBlank(line):
			// The empty line that ends the header (or, in input that
			// is not a header block, any empty line) is kept as is.
			flush(i)
			out = append(out, line...)
		case (line[0] == ' ' || line[0] == '\t') && start >= 0:
			// continuation line: part of the current field
		default:
			flush(i)
			start = i
		}
		i = j
	}
	flush(len(hdr))
	return out, true
}

// ReadHeader reads a message's header block from r: every line through
// the empty line that ends it, inclusive, or through EOF if there is
// none. Lines end in CRLF; a bare LF is accepted as a line end too. At
// EOF ReadHeader returns what it has read (possibly nothing) and a nil
// error. A header block longer than MaxHeader octets yields
// ErrHeaderTooLarge, with the octets read so far, so that a caller can
// still send the message as it is; other errors are r's.
func ReadHeader(r *bufio.Reader) ([]byte, error) {
	var buf []byte
	lineStart := 0
	for {
		frag, err := r.ReadSlice('\n')
		if len(buf)+len(frag) > MaxHeader {
			return append(buf, frag...), ErrHeaderTooLarge
		}
		buf = append(buf, frag...)
		switch err {
		case nil:
			if isBlank(buf[lineStart:]) {
				return buf, nil
			}
			lineStart = len(buf)
		case bufio.ErrBufferFull:
			// a line longer than r's buffer: keep reading it
		case io.EOF:
			return buf, nil
		default:
			return nil, err
		}
	}
}

// isASCII reports whether b has no octet >= 0x80.
func isASCII[T string | []byte](b T) bool {
	for i := 0; i < len(b); i++ {
		if b[i] >= 0x80 {
			return false
		}
	}
	return true
}

// isBlank reports whether line is an empty line: a bare line end.
func isBlank(line []byte) bool {
	return string(line) == "\r\n" || string(line) == "\n"
}

// Field kinds, by how a field with non-ASCII content is rewritten.
const (
	kindText    = iota // unstructured text: RFC 2047 encoded-words
	kindAddress        // address-list: groups for non-ASCII addresses
	kindMIME           // MIME parameters: RFC 2231
	kindOpaque         // msg-id and addr-spec fields: percent-encoding
)

var fieldKinds = map[string]int{
	"from":                        kindAddress,
	"sender":                      kindAddress,
	"reply-to":                    kindAddress,
	"to":                          kindAddress,
	"cc":                          kindAddress,
	"bcc":                         kindAddress,
	"resent-from":                 kindAddress,
	"resent-sender":               kindAddress,
	"resent-to":                   kindAddress,
	"resent-cc":                   kindAddress,
	"resent-bcc":                  kindAddress,
	"resent-reply-to":             kindAddress,
	"mail-followup-to":            kindAddress,
	"mail-reply-to":               kindAddress,
	"disposition-notification-to": kindAddress,
	"content-type":                kindMIME,
	"content-disposition":         kindMIME,
	"message-id":                  kindOpaque,
	"resent-message-id":           kindOpaque,
	"in-reply-to":                 kindOpaque,
	"references":                  kindOpaque,
	"content-id":                  kindOpaque,
	"return-path":                 kindOpaque,
	"delivered-to":                kindOpaque,
	"x-original-to":               kindOpaque,
	"envelope-to":                 kindOpaque,
}

// appendField appends the downgraded form of one header field (its first
// line and any continuation lines) to out.
func appendField(out, field []byte) []byte {
	if isASCII(field) {
		return append(out, field...)
	}
	// The field's own line end is kept for its last line; the folds
	// inside a rewritten field are CRLF.
	body, end := field, ""
	switch {
	case bytes.HasSuffix(body, []byte("\r\n")):
		body, end = body[:len(body)-2], "\r\n"
	case bytes.HasSuffix(body, []byte("\n")):
		body, end = body[:len(body)-1], "\n"
	}
	colon := bytes.IndexByte(body, ':')
	if colon <= 0 || !validName(bytes.TrimRight(body[:colon], " \t")) {
		// Not a header field at all: nothing to interpret, so just
		// make it ASCII without changing its shape.
		return append(replaceNonASCII(out, body), end...)
	}
	name := string(body[:colon])
	value := unfold(body[colon+1:])
	f := folder{b: out, n: len(name) + 1}
	f.b = append(f.b, name...)
	f.b = append(f.b, ':')
	switch fieldKinds[strings.ToLower(strings.TrimRight(name, " \t"))] {
	case kindAddress:
		f.addressList(value)
	case kindMIME:
		f.mimeParams(value)
	case kindOpaque:
		f.words(percentEncode(value))
	default:
		f.text(value)
	}
	return append(f.b, end...)
}

// validName reports whether name is a valid field name (RFC 5322 §3.6.8).
func validName(name []byte) bool {
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// replaceNonASCII appends b to out with each non-ASCII character (or
// invalid octet) replaced by '?'.
func replaceNonASCII(out, b []byte) []byte {
	for i := 0; i < len(b); {
		if b[i] < 0x80 {
			out = append(out, b[i])
			i++
			continue
		}
		_, n := utf8.DecodeRune(b[i:])
		out = append(out, '?')
		i += n
	}
	return out
}

// unfold returns a field body with its folding line ends removed
// (RFC 5322 §2.2.3); invalid UTF-8 becomes U+FFFD.
func unfold(b []byte) string {
	s := string(b)
	s = strings.ReplaceAll(s, "\r\n", "")
	s = strings.ReplaceAll(s, "\n", "")
	return strings.ToValidUTF8(s, "\uFFFD")
}

// percentEncode replaces each octet >= 0x80 of s with %XX.
func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 {
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

const upperHex = "0123456789ABCDEF"

// folder writes the body of a rewritten field as a sequence of tokens,
// folding before a token's leading whitespace when the line would
// otherwise exceed lineLimit.
type folder struct {
	b []byte
	n int // length of the current line so far
}

// token writes tok preceded by the whitespace sep (a single space if sep
// is empty or unreasonably long).
func (f *folder) token(sep, tok string) {
	if sep == "" || len(sep) > 8 {
		sep = " "
	}
	if f.n+len(sep)+len(tok) > lineLimit && f.n > 0 {
		f.b = append(f.b, '\r', '\n')
		f.n = 0
	}
	f.b = append(f.b, sep...)
	f.b = append(f.b, tok...)
	f.n += len(sep) + len(tok)
}

// glue writes s right after the previous token, with no whitespace (a
// comma, or the colon and semicolon of a group).
func (f *folder) glue(s string) {
	f.b = append(f.b, s...)
	f.n += len(s)
}

// wsp reports whether c is folding whitespace.
func wsp(c byte) bool { return c == ' ' || c == '\t' }

// word is a word of s and the whitespace before it; end is the offset
// just past it in s.
type word struct {
	sep, w string
	end    int
}

// splitWords splits s at runs of whitespace, keeping each run as the
// separator of the following word. Leading and trailing whitespace is
// dropped.
func splitWords(s string) []word {
	var ws []word
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && wsp(s[j]) {
			j++
		}
		k := j
		for k < len(s) && !wsp(s[k]) {
			k++
		}
		if k > j {
			ws = append(ws, word{s[i:j], s[j:k], k})
		}
		i = k
	}
	return ws
}

// words writes ASCII s as whitespace-separated tokens, folding as needed.
func (f *folder) words(s string) {
	for _, w := range splitWords(s) {
		f.token(w.sep, w.w)
	}
}

// text writes unstructured text (RFC 2047 §5 (1)): ASCII words stay as
// they are and each run of other words becomes encoded-words.
func (f *folder) text(s string) {
	f.encodeWords(s, func(w string) bool {
		return isEncodedWord(w) || isASCII(w) && len(w) <= maxLiteral && !strings.Contains(w, "=?")
	})
}

// isEncodedWord reports whether w is already an RFC 2047 encoded-word
// (§2: "=?" charset "?" encoding "?" encoded-text "?=", at most 75
// characters), which stays as it is rather than being encoded again.
func isEncodedWord(w string) bool {
	// The shortest is "=?c?q??=": prefix and suffix must not overlap.
	if len(w) < len("=?c?q??=") || len(w) > 75 || !strings.HasPrefix(w, "=?") || !strings.HasSuffix(w, "?=") || !isASCII(w) {
		return false
	}
	parts := strings.Split(w[2:len(w)-2], "?")
	if len(parts) != 3 || parts[0] == "" || len(parts[1]) != 1 || !strings.ContainsAny(parts[1], "bBqQ") {
		return false
	}
	for i := 0; i < len(w); i++ {
		if w[i] <= ' ' {
			return false
		}
	}
	return true
}

// phrase writes a display name (RFC 2047 §5 (3)): atoms stay as they
// are, everything else is encoded.
func (f *folder) phrase(s string) {
	if strings.TrimLeft(s, " \t") == "" {
		s = "undisclosed"
	}
	f.encodeWords(s, func(w string) bool {
		if isEncodedWord(w) {
			return true
		}
		if len(w) > maxLiteral || strings.Contains(w, "=?") {
			return false
		}
		for i := 0; i < len(w); i++ {
			if !isAtext(w[i]) {
				return false
			}
		}
		return true
	})
}

// isAtext reports whether c may appear in an atom (RFC 5322 §3.2.3).
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// encodeWords writes the words of s, those for which literal reports
// false as encoded-words. Consecutive encoded words are encoded together
// with the whitespace between them, since a decoder drops the whitespace
// between adjacent encoded-words (RFC 2047 §6.2).
func (f *folder) encodeWords(s string, literal func(string) bool) {
	ws := splitWords(s)
	for i := 0; i < len(ws); {
		if literal(ws[i].w) {
			f.token(ws[i].sep, ws[i].w)
			i++
			continue
		}
		j := i + 1
		for j < len(ws) && !literal(ws[j].w) {
			j++
		}
		f.encoded(ws[i].sep, s[ws[i].end-len(ws[i].w):ws[j-1].end])
		i = j
	}
}

// qSafe reports whether c stands for itself in Q encoding. The set is
// the one RFC 2047 §5 (3) allows in a phrase, which is also safe in
// unstructured text and comments.
func qSafe(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '!' || c == '*' || c == '+' || c == '-' || c == '/'
}

// qLen returns the Q-encoded length of s.
func qLen(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if qSafe(s[i]) || s[i] == ' ' {
			n++
		} else {
			n += 3
		}
	}
	return n
}

func bLen(n int) int { return (n + 2) / 3 * 4 }

// encoded writes s, valid UTF-8, as one or more encoded-words of at most
// maxWord characters each, never splitting a character (RFC 2047 §5).
// It picks Q encoding unless that is over half as long again as B, so
// that mostly-ASCII text stays legible to a client that does not decode
// it while other scripts get the compact B encoding.
func (f *folder) encoded(sep, s string) {
	const overhead = len("=?utf-8?q??=")
	useQ := 2*qLen(s) <= 3*bLen(len(s))
	for first := true; s != ""; first = false {
		if !first {
			sep = " "
		}
		if sep == "" || len(sep) > 8 {
			sep = " "
		}
		// Fill the rest of the current line if a useful word fits,
		// else the next one.
		room := lineLimit - f.n - len(sep)
		if room < overhead+12 {
			room = lineLimit - len(sep)
		}
		room = min(room, maxWord) - overhead
		n := 0 // octets of s in this word
		for n < len(s) {
			_, size := utf8.DecodeRuneInString(s[n:])
			var l int
			if useQ {
				l = qLen(s[:n+size])
			} else {
				l = bLen(n + size)
			}
			if l > room {
				break
			}
			n += size
		}
		if n == 0 { // cannot happen with room >= 12, but never loop forever
			_, n = utf8.DecodeRuneInString(s)
		}
		f.token(sep, encodeWord(s[:n], useQ))
		s = s[n:]
	}
}

// encodeWord returns s, which encoded fits one word, as a single UTF-8
// encoded-word. It is not mime.WordEncoder's: BEncoding returns printable
// ASCII as it is, which the folder does give it (the ASCII tail of a run
// it encodes), and QEncoding leaves specials such as ',', '"', '(' and '<'
// as they are, which RFC 2047 §5 (3) forbids in a phrase, so that a
// display name "Doe, é" would turn into two addresses.
func encodeWord(s string, useQ bool) string {
	if !useQ {
		return "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
	}
	var b strings.Builder
	b.WriteString("=?utf-8?q?")
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case qSafe(c):
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('_')
		default:
			b.WriteByte('=')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		}
	}
	b.WriteString("?=")
	return b.String()
}

// scanner state for the lexical structure of structured field bodies:
// quoted strings, comments, angle brackets and domain literals, inside
// which the specials that separate addresses and parameters do not count.
type lexer struct {
	quote, escape, angle, bracket bool
	comment                       int
}

// step advances over c and reports whether c is at top level: outside
// any quoted string, comment, angle brackets or domain literal, and not
// itself the delimiter that opened or closed one.
func (l *lexer) step(c byte) bool {
	switch {
	case l.escape:
		l.escape = false
	case l.quote:
		switch c {
		case '\\':
			l.escape = true
		case '"':
			l.quote = false
		}
	case l.comment > 0:
		switch c {
		case '\\':
			l.escape = true
		case '(':
			l.comment++
		case ')':
			l.comment--
		}
	case l.angle:
		if c == '>' {
			l.angle = false
		} else if c == '"' {
			l.quote = true
		}
	case l.bracket:
		if c == ']' {
			l.bracket = false
		}
	default:
		switch c {
		case '"':
			l.quote = true
		case '(':
			l.comment = 1
		case '<':
			l.angle = true
		case '[':
			l.bracket = true
		default:
			return true
		}
	}
	return false
}

// addrItem is one element of an address list: a mailbox, or a group.
type addrItem struct {
	group   bool
	text    string   // a mailbox, or a group's display name
	members []string // a group's mailboxes
}

// parseAddressList splits an address-list (RFC 5322 §3.4) into
// mailboxes and groups. It is tolerant: anything it cannot make sense
// of still ends up in some item, so no text is lost.
func parseAddressList(s string) []addrItem {
	var items []addrItem
	var lx lexer
	inGroup := false
	start := 0
	for i := 0; i < len(s); i++ {
		if !lx.step(s[i]) {
			continue
		}
		switch s[i] {
		case ',':
			if inGroup {
				g := &items[len(items)-1]
				g.members = appendNonEmpty(g.members, s[start:i])
			} else if t := strings.TrimSpace(s[start:i]); t != "" {
				items = append(items, addrItem{text: t})
			}
			start = i + 1
		case ':':
			if !inGroup {
				items = append(items, addrItem{group: true, text: strings.TrimSpace(s[start:i])})
				inGroup = true
				start = i + 1
			}
		case ';':
			if inGroup {
				g := &items[len(items)-1]
				g.members = appendNonEmpty(g.members, s[start:i])
				inGroup = false
				start = i + 1
			}
		}
	}
	if inGroup {
		g := &items[len(items)-1]
		g.members = appendNonEmpty(g.members, s[start:])
	} else if t := strings.TrimSpace(s[start:]); t != "" {
		items = append(items, addrItem{text: t})
	}
	return items
}

func appendNonEmpty(list []string, s string) []string {
	if s = strings.TrimSpace(s); s != "" {
		list = append(list, s)
	}
	return list
}

// addressList writes an address list with every address that is not
// ASCII replaced by an empty group (RFC 6858 §3).
func (f *folder) addressList(s string) {
	items := parseAddressList(s)
	comma := false
	next := func() {
		if comma {
			f.glue(",")
		}
		comma = true
	}
	for _, it := range items {
		if !it.group {
			next()
			f.mailbox(it.text, true)
			continue
		}
		next()
		if isASCII(it.text) {
			f.words(it.text)
		} else {
			f.phrase(phraseText(it.text))
		}
		f.glue(":")
		// Groups do not nest, so a member that must become a group
		// is written after this group ends.
		var later []string
		first := true
		for _, m := range it.members {
			if !isASCII(m) && mailboxNeedsGroup(m) {
				later = append(later, m)
				continue
			}
			if !first {
				f.glue(",")
			}
			first = false
			f.mailbox(m, false)
		}
		f.glue(";")
		for _, m := range later {
			f.glue(",")
			f.mailbox(m, true)
		}
	}
}

// splitMailbox splits a mailbox into its display name (as display text:
// quotes and escapes removed, comments kept as text) and its address.
func splitMailbox(m string) (display, addr string) {
	var lx lexer
	lt, gt := -1, len(m)
	for i := 0; i < len(m); i++ {
		wasAngle := lx.angle
		lx.step(m[i])
		if !wasAngle && lx.angle && lt < 0 {
			lt = i
		} else if wasAngle && !lx.angle {
			gt = i
			break
		}
	}
	if lt >= 0 {
		return strings.TrimSpace(phraseText(m[:lt])), strings.TrimSpace(m[lt+1 : gt])
	}
	// A bare addr-spec, perhaps with comments: the comments serve as
	// the display name.
	var a, c strings.Builder
	lx = lexer{}
	for i := 0; i < len(m); i++ {
		before := lx.comment
		lx.step(m[i])
		after := lx.comment
		switch {
		case before == 0 && after == 0:
			a.WriteByte(m[i])
		case before == 0: // opening parenthesis
			if c.Len() > 0 {
				c.WriteByte(' ')
			}
		case after == 0: // closing parenthesis
		default:
			c.WriteByte(m[i])
		}
	}
	return strings.TrimSpace(c.String()), strings.TrimSpace(a.String())
}

// mailboxNeedsGroup reports whether mailbox m has an address that cannot
// be written in ASCII.
func mailboxNeedsGroup(m string) bool {
	_, addr := splitMailbox(m)
	return !isASCII(addr) || addr == "" || len(addr) > 900
}

// mailbox writes one mailbox. An ASCII mailbox is kept as it is. Else,
// if its address is ASCII, only the display name is encoded; if not,
// and groupOK, it becomes an empty group named after the display name,
// or the address when there is none (RFC 6858 §3).
func (f *folder) mailbox(m string, groupOK bool) {
	if isASCII(m) {
		f.words(m)
		return
	}
	display, addr := splitMailbox(m)
	if !mailboxNeedsGroup(m) {
		if display != "" {
			f.phrase(display)
		}
		f.token(" ", "<"+addr+">")
		return
	}
	name := display
	if name == "" {
		name = addr
	}
	if name == "" {
		name = m
	}
	f.phrase(name)
	if groupOK {
		f.glue(":;")
	}
}

// phraseText returns the text a display name shows: quoted strings
// unquoted and unescaped, comments kept as text.
func phraseText(s string) string {
	var b strings.Builder
	quote, escape, comment := false, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escape:
			escape = false
		case c == '\\' && (quote || comment > 0):
			escape = true
			continue
		case c == '"' && comment == 0:
			quote = !quote
			continue
		case c == '(' && !quote:
			comment++
		case c == ')' && !quote && comment > 0:
			comment--
		}
		b.WriteByte(c)
	}
	return b.String()
}

// mimeParams writes a Content-Type or Content-Disposition value with
// non-ASCII parameter values in RFC 2231 form.
func (f *folder) mimeParams(s string) {
	var parts []string
	var lx lexer
	start := 0
	for i := 0; i < len(s); i++ {
		if lx.step(s[i]) && s[i] == ';' {
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	parts = append(parts, s[start:])
	for i, p := range parts {
		p = strings.TrimSpace(p)
		switch {
		case i == 0 || isASCII(p):
			f.words(percentEncodeIfNeeded(p))
		default:
			f.param(p)
		}
		if i < len(parts)-1 {
			f.glue(";")
		}
	}
}

// percentEncodeIfNeeded handles the one element of a MIME field with no
// encoding of its own, the media type or disposition type.
func percentEncodeIfNeeded(s string) string {
	if isASCII(s) {
		return s
	}
	return percentEncode(s)
}

// param writes one non-ASCII parameter as RFC 2231 extended value(s),
// split into numbered sections so that every line stays short.
func (f *folder) param(p string) {
	eq := strings.IndexByte(p, '=')
	if eq < 0 {
		f.words(percentEncode(p))
		return
	}
	attr := strings.TrimSpace(p[:eq])
	// A name that already says it is extended or continued makes no
	// sense with raw UTF-8; use the bare name.
	if k := strings.IndexByte(attr, '*'); k >= 0 {
		attr = attr[:k]
	}
	attr = percentEncode(attr)
	val := strings.TrimSpace(p[eq+1:])
	if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
		val = phraseText(val)
	}
	val = strings.ToValidUTF8(val, "\uFFFD")
	// Cut the value at character boundaries into sections.
	const maxSection = 50
	var sections []string
	var cur strings.Builder
	for _, r := range val {
		var enc strings.Builder
		var tmp [utf8.UTFMax]byte
		for _, c := range tmp[:utf8.EncodeRune(tmp[:], r)] {
			if isAttrChar(c) {
				enc.WriteByte(c)
			} else {
				enc.WriteByte('%')
				enc.WriteByte(upperHex[c>>4])
				enc.WriteByte(upperHex[c&15])
			}
		}
		if cur.Len()+enc.Len() > maxSection && cur.Len() > 0 {
			sections = append(sections, cur.String())
			cur.Reset()
		}
		cur.WriteString(enc.String())
	}
	sections = append(sections, cur.String())
	if len(sections) == 1 {
		f.token(" ", attr+"*=utf-8''"+sections[0])
		return
	}
	for i, sec := range sections {
		if i > 0 {
			f.glue(";")
		}
		n := strconv.Itoa(i)
		if i == 0 {
			f.token(" ", attr+"*0*=utf-8''"+sec)
		} else {
			f.token(" ", attr+"*"+n+"*="+sec)
		}
	}
}

// isAttrChar reports whether c may appear unencoded in an RFC 2231
// extended value (attribute-char, as profiled by RFC 5987 §3.2.1).
func isAttrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
