package maildir

// WithDeletedFlag makes DELE and QUIT set keyword on a message instead of
// removing its file, as Dovecot's pop3_deleted_flag does: the keyword is
// written as Dovecot's IMAP keeps keywords (a letter in the file name's
// flags, named in dovecot-keywords), so that an IMAP client on the same
// Maildir sees it, and later POP3 sessions do not list the message.
func WithDeletedFlag(keyword string) Option {
	return func(b *Backend) { b.deletedFlag = keyword }
}

// WithNoFlagUpdates leaves the messages' flags alone, as Dovecot's
// pop3_no_flag_updates does: opening the maildrop moves nothing from new/
// to cur/, and RETR does not mark a message seen.
func WithNoFlagUpdates() Option {
	return func(b *Backend) { b.noFlagUpdates = true }
}
