package maildir

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strconv"

	"github.com/gopop3/pop3"
)

// assignUIDLs sets the unique-id of each message of a sorted listing that
// has a UID, as Dovecot's pop3_get_uid does, in this order: the one its
// record keeps (the P extension, a bare P standing for the base name);
// with settings.reuseXUIDL, its X-UIDL header; the format's expansion.
// Unlike Dovecot it keeps the listing free of duplicates and of unique-ids
// that RFC 1939 §7 forbids: kept unique-ids are taken first, and each
// kind in UID order (Dovecot's order, whatever the POP3 order); an X-UIDL
// that is invalid or taken is not used; an expansion that is invalid is
// replaced by the default format's; and a unique-id already taken gets
// "-2", "-3", ... appended, as Dovecot's pop3_uidl_duplicates=rename does.
func assignUIDLs(ctx context.Context, dir string, msgs []message, settings *uidlSettings, logger *slog.Logger) error {
	if settings == nil {
		settings = &uidlSettings{}
	}
	taken := make(map[string]bool, len(msgs))
	// By UID, as Dovecot tells duplicates apart, whatever the POP3 order.
	byUID := make([]*message, len(msgs))
	for i := range msgs {
		byUID[i] = &msgs[i]
	}
	slices.SortFunc(byUID, func(a, b *message) int { return cmp.Compare(a.uid, b.uid) })
	for _, m := range byUID {
		m.uidl, m.permanent, m.transient, m.unstable = "", false, false, false
		if m.uid == 0 || !m.hasSaved {
			continue
		}
		u := m.saved()
		if u == "" {
			u = m.base // Dovecot's shorthand: the base name is the unique-id
		}
		if !pop3.ValidUID(u) {
			continue // shown with a computed one below (which WithSaveUIDL keeps instead)
		}
		m.uidl, m.permanent = unique(u, m, taken), true
		taken[m.uidl] = true
	}
	needHeader := settings.reuseXUIDL || settings.format != nil && settings.format.uses['m']
	var invalid int
	for _, m := range byUID {
		if m.uid == 0 || m.uidl != "" {
			continue
		}
		var hdr headerUIDLs
		if needHeader {
			if err := ctx.Err(); err != nil {
				return err
			}
			var err error
			if hdr, err = readHeaderUIDLs(m.path); err != nil {
				// The file moved (its flags changed) or cannot be read:
				// shown with the default unique-id this time, not kept.
				if path, ok := findFile(dir, m.base); ok {
					hdr, err = readHeaderUIDLs(path)
				}
				if err != nil {
					logger.Warn("maildir: a message's header could not be read for its unique-id; it is listed with the default one this time",
						"dir", dir, "message", m.base, "error", err)
					m.uidl, m.transient = unique(defaultUIDL(m.uid, m.uidValidity), m, taken), true
					taken[m.uidl] = true
					continue
				}
			}
		}
		if settings.reuseXUIDL && pop3.ValidUID(hdr.xuidl) {
			if !taken[hdr.xuidl] {
				m.uidl = hdr.xuidl
				taken[m.uidl] = true
				continue
			}
			m.unstable = true // its own X-UIDL, once the other message is gone
		}
		u := defaultUIDL(m.uid, m.uidValidity)
		if settings.format != nil {
			guid := m.guid()
			if guid == "" {
				guid = m.base
			}
			expanded := settings.format.expand(&uidlValues{
				uidValidity: m.uidValidity, uid: m.uid, md5: hdr.md5, filename: m.base, guid: guid,
			})
			if pop3.ValidUID(expanded) {
				u = expanded
			} else {
				invalid++
			}
		}
		m.uidl = unique(u, m, taken)
		m.unstable = m.unstable || m.uidl != u
		taken[m.uidl] = true
	}
	if invalid > 0 {
		logger.Warn("maildir: the UIDL format gives unique-ids that RFC 1939 does not allow (more than 70 characters, or a space or control character); those messages are listed with the default format's",
			"dir", dir, "format", settings.format.raw, "messages", invalid)
	}
	return nil
}

// unique returns u, or u with the first "-N" that is not taken appended;
// when that would make it too long, the default unique-id of m, made
// unique the same way.
func unique(u string, m *message, taken map[string]bool) string {
	if !taken[u] {
		return u
	}
	for n := 2; ; n++ {
		c := u + "-" + strconv.Itoa(n)
		if !pop3.ValidUID(c) {
			return unique(defaultUIDL(m.uid, m.uidValidity)+"-"+strconv.Itoa(n), m, taken)
		}
		if !taken[c] {
			return c
		}
	}
}
