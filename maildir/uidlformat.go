package maildir

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/gopop3/pop3/internal/dovecotconf"
)

// WithUIDLFormat sets the unique-ids that UIDL shows, as Dovecot's
// pop3_uidl_format does, so that clients that kept mail on another server
// (or on Dovecot with another format) see the same unique-ids and download
// nothing again. The variables are Dovecot's:
//
//   - %v, %{uidvalidity}: the Maildir's UIDVALIDITY (dovecot-uidlist);
//   - %u, %{uid}: the message's UID;
//   - %m, %{md5}: the MD5 of the header, in hex, as Dovecot computes it
//     for mbox (the apop3d method: the first Received header, and Date and
//     Message-ID unless a Received header came first, Delivered-To and
//     X-Delivery-ID), which Dovecot itself cannot do on a Maildir;
//   - %f, %{filename}: the file name up to its ":2," flags;
//   - %g, %{guid}: the GUID of the record (its G extension), or else the
//     file name as %f gives it, as Dovecot does for a Maildir;
//   - %% a percent sign.
//
// Dovecot 2.3's modifiers go between the % and the variable: a width
// ("%8u" keeps the first 8 characters, "%08u" pads with zeros to 8 without
// cutting), an offset ("%2.3f", "%-4.4f" counts from the end), and any of
// X (the number in hexadecimal, in lower case, as Dovecot 2.3 writes it),
// M (the MD5 of the value, in hex), L and U (ASCII lower and upper case),
// R (reversed), E (a backslash before " ' and \), T (trailing spaces cut),
// H and N (Dovecot's hashes) and D, applied from left to right.
//
// format may instead name the format of the server the Maildirs come
// from, as Dovecot's documentation lists them (see [UIDLPresets]):
// "dovecot" (%08Xu%08Xv, the default), "dovecot-0.99" (%v.%u), "uw"
// (UW ipop3d, %08Xv%08Xu), "courier" (%f), "courier-uid" (%v-%u), "cyrus"
// (2.1.4 and later, %v.%u), "cyrus-old" (%u) and "tpop3d" (%Mf).
//
// [New] fails for a format that does not parse, uses an unknown variable,
// has a character that RFC 1939 §7 does not allow in a unique-id (a space,
// a control or a non-ASCII character), or names nothing that tells one
// message from another (%u, %m, %f or %g). A message whose unique-id is
// kept in dovecot-uidlist (a P record: a migration, [WithSaveUIDL] or
// Dovecot's pop3_save_uidl) shows that one, whatever the format. An
// expansion that is not a valid unique-id (more than 70 characters, which
// a long file name can give) is replaced by the default format's, with a
// warning in the log. Two messages that would show the same unique-id are
// told apart as Dovecot's pop3_uidl_duplicates=rename does: the later one
// (by UID) gets "-2", "-3", ... appended, and keeps that unique-id in its
// record (a P extension, as [WithSaveUIDL] writes), so that it does not
// change when the other message is deleted (RFC 1939 §7).
//
// %m reads the header of every message whose unique-id is not kept at
// each listing that is not served from the listing cache; with
// [WithSaveUIDL] each header is read once.
func WithUIDLFormat(format string) Option {
	return func(b *Backend) {
		f, err := parseUIDLFormat(format)
		b.uidlFormat, b.uidlFormatErr = f, err
	}
}

// WithSaveUIDL keeps the unique-id each message is listed with in its
// dovecot-uidlist record (the P extension), as Dovecot's pop3_save_uidl
// does, so that a later change of [WithUIDLFormat], [WithReuseXUIDL], of a
// message's X-UIDL header or of the Maildir's UIDVALIDITY changes nothing
// for clients. The records are written when a session opens the maildrop
// (Dovecot writes them when a client first asks for UIDL), which Dovecot
// then reads as its own saved unique-ids.
func WithSaveUIDL() Option {
	return func(b *Backend) { b.saveUIDL = true }
}

// WithReuseXUIDL shows a message's X-UIDL header (left by qpopper, and by
// other servers and migration tools) as its unique-id, as Dovecot's
// pop3_reuse_xuidl does, so that mail moved from such a server keeps its
// unique-ids. Unlike Dovecot, the header is used only when it is a valid
// unique-id (RFC 1939 §7: 1 to 70 characters from 0x21 to 0x7E, after
// unfolding and trimming) and no other message of the maildrop shows it
// (a unique-id kept in dovecot-uidlist, or an X-UIDL of a message listed
// before); otherwise the message shows the unique-id of [WithUIDLFormat],
// and when that is because another message has its X-UIDL, it keeps that
// unique-id in its record, so that it does not change when the other
// message is deleted. A unique-id kept in dovecot-uidlist comes first.
//
// The header of every message whose unique-id is not kept is read at each
// listing that is not served from the listing cache; with [WithSaveUIDL]
// each header is read once.
func WithReuseXUIDL() Option {
	return func(b *Backend) { b.reuseXUIDL = true }
}

// uidlSettings returns the settings that decide the unique-ids.
func (b *Backend) uidlSettings() *uidlSettings {
	return &uidlSettings{format: b.uidlFormat, reuseXUIDL: b.reuseXUIDL, save: b.saveUIDL}
}

// uidlPresets are the formats of other servers, as Dovecot's
// 20-pop3.conf lists them.
var uidlPresets = map[string]string{
	"dovecot":      "%08Xu%08Xv",
	"dovecot-0.99": "%v.%u",
	"uw":           "%08Xv%08Xu",
	"courier":      "%f",
	"courier-uid":  "%v-%u",
	"cyrus":        "%v.%u",
	"cyrus-old":    "%u",
	"tpop3d":       "%Mf",
}

// UIDLPresets returns the names that [WithUIDLFormat] takes for the
// formats of other servers, in alphabetical order.
func UIDLPresets() []string { return slices.Sorted(maps.Keys(uidlPresets)) }

// uidlFormat is a parsed pop3_uidl_format.
type uidlFormat struct {
	raw   string
	parts []uidlPart
	uses  map[byte]bool // the variables it names
}

// uidlPart is a literal (key 0) or a variable with Dovecot's modifiers.
type uidlPart struct {
	literal string
	key     byte // 'v', 'u', 'm', 'f' or 'g'
	mods    dovecotconf.Modifiers
}

// uidlLongKeys are the long names of the variables.
var uidlLongKeys = map[string]byte{"uidvalidity": 'v', "uid": 'u', "md5": 'm', "filename": 'f', "guid": 'g'}

// parseUIDLFormat reads a pop3_uidl_format, or the name of a preset, as
// Dovecot's var_expand does ("%[-][0]W[.[0][-]W]<modifiers><key>"), but
// refuses what Dovecot would expand to an error at every UIDL.
func parseUIDLFormat(s string) (*uidlFormat, error) {
	if preset, ok := uidlPresets[s]; ok {
		s = preset
	}
	bad := func(why string, args ...any) error {
		return fmt.Errorf("maildir: UIDL format %q: %s", s, fmt.Sprintf(why, args...))
	}
	f := &uidlFormat{raw: s, uses: map[byte]bool{}}
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			if c < 0x21 || c > 0x7e {
				return nil, bad("%q cannot be in a unique-id (RFC 1939 §7: 0x21 to 0x7E)", c)
			}
			lit.WriteByte(c)
			continue
		}
		i++
		if i < len(s) && s[i] == '%' {
			lit.WriteByte('%')
			continue
		}
		p := uidlPart{}
		var n int
		p.mods, n = dovecotconf.ParseModifiers(s[i:])
		i += n
		if i >= len(s) {
			return nil, bad("it ends in an unfinished %%-variable (write %%%% for a percent sign)")
		}
		switch {
		case s[i] == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, bad("%%{ without }")
			}
			name := s[i+1 : i+end]
			key, ok := uidlLongKeys[name]
			if !ok {
				return nil, bad("unknown variable %%{%s} (use uidvalidity, uid, md5, filename or guid)", name)
			}
			p.key, i = key, i+end
		case strings.IndexByte("vumfg", s[i]) >= 0:
			p.key = s[i]
		default:
			return nil, bad("unknown variable %%%c (use %%v, %%u, %%m, %%f or %%g)", s[i])
		}
		if lit.Len() > 0 {
			f.parts = append(f.parts, uidlPart{literal: lit.String()})
			lit.Reset()
		}
		f.parts = append(f.parts, p)
		f.uses[p.key] = true
	}
	if lit.Len() > 0 {
		f.parts = append(f.parts, uidlPart{literal: lit.String()})
	}
	if !f.uses['u'] && !f.uses['m'] && !f.uses['f'] && !f.uses['g'] {
		return nil, bad("it names nothing that tells messages apart (%%u, %%m, %%f or %%g): every message would show the same unique-id")
	}
	return f, nil
}

// uidlValues are what the variables of a format stand for, for one
// message.
type uidlValues struct {
	uidValidity, uid uint32
	md5              string // the header MD5 in hex, when the format uses %m
	filename         string // the base name
	guid             string // the record's G extension; the base name without one
}

// expand returns the unique-id of the message whose values are v.
func (f *uidlFormat) expand(v *uidlValues) string {
	var b strings.Builder
	for i := range f.parts {
		p := &f.parts[i]
		if p.key == 0 {
			b.WriteString(p.literal)
			continue
		}
		var s string
		switch p.key {
		case 'v':
			s = strconv.FormatUint(uint64(v.uidValidity), 10)
		case 'u':
			s = strconv.FormatUint(uint64(v.uid), 10)
		case 'm':
			s = v.md5
		case 'f':
			s = v.filename
		case 'g':
			s = v.guid
		}
		b.WriteString(p.mods.Apply(s))
	}
	return b.String()
}

// defaultUIDL is Dovecot's default format, %08Xu%08Xv, as Dovecot 2.3
// writes it (lower case).
func defaultUIDL(uid, uidValidity uint32) string {
	return fmt.Sprintf("%08x%08x", uid, uidValidity)
}
