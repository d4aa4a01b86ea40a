package maildir

// uidlFormat is a parsed pop3_uidl_format.
type uidlFormat struct {
	raw string
}

// WithUIDLFormat sets the unique-ids that UIDL shows, as Dovecot's
// pop3_uidl_format does.
func WithUIDLFormat(format string) Option {
	return func(b *Backend) {
		b.uidlFormat = &uidlFormat{raw: format}
	}
}

// WithSaveUIDL keeps each message's unique-id in dovecot-uidlist, as
// Dovecot's pop3_save_uidl does.
func WithSaveUIDL() Option {
	return func(b *Backend) { b.saveUIDL = true }
}

// WithReuseXUIDL shows a message's X-UIDL header as its unique-id, as
// Dovecot's pop3_reuse_xuidl does.
func WithReuseXUIDL() Option {
	return func(b *Backend) { b.reuseXUIDL = true }
}

// UIDLPresets returns the names that [WithUIDLFormat] takes for the
// formats of other servers.
func UIDLPresets() []string { return nil }
