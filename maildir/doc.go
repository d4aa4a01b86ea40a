// Package maildir is a pop3.Backend over Maildir++ directories that serves
// them as Dovecot 2.3 does with its default POP3 settings, so that a server
// built on it can replace Dovecot's POP3, or run beside it on the same
// files, without any client downloading its mail again:
//
//   - Users and passwords come from a [passwd.Source], such as Dovecot's
//     passwd-file read by [passwd.OpenFile], or the SQL and LDAP user
//     databases of Dovecot's dovecot-sql.conf.ext and dovecot-ldap.conf.ext
//     (the modules github.com/gopop3/pop3/sqldb and ldapdb); a source that
//     checks passwords itself, as LDAP's auth_bind does, is a
//     [passwd.Authenticator]. User names are lower-cased
//     first (A to Z only), as Dovecot's default auth_username_format %Lu
//     does. The extra fields nologin (with reason), allow_nets, user (a
//     rename), userdb_home and userdb_mail (maildir: locations) are
//     honoured as Dovecot does; see [New].
//   - The maildrop is the Maildir's new/ and cur/ (not tmp/, nor names that
//     start with a dot), listed by UID, or in the POP3 order of a migration
//     (the O extension) where records carry one.
//   - UIDs and UIDVALIDITY come from dovecot-uidlist (version 3). Files the
//     list does not know get the next UIDs and are written to it as Dovecot
//     writes it: under dovecot-uidlist.lock (Dovecot's dot-lock, broken
//     when its holder died), through dovecot-uidlist.tmp renamed over the
//     list, so a reader sees the old list or the new one. A Maildir without
//     a list gets one.
//   - UIDL is Dovecot's default pop3_uidl_format, %08Xu%08Xv: the UID and
//     the UIDVALIDITY in eight hex digits each, which Dovecot 2.3 writes in
//     lower case; or another format, or the preset of another server,
//     given with [WithUIDLFormat]. A record with a migrated or saved
//     unique-id (the P extension: [Backend.Import], Dovecot's migration
//     scripts, [WithSaveUIDL] or Dovecot's pop3_save_uidl) shows that one
//     whatever the format. [WithReuseXUIDL] shows a message's X-UIDL
//     header, when it is valid and unique. No two messages show the same
//     unique-id, and none shows one that RFC 1939 §7 forbids.
//   - A message's size is its size with CRLF line ends: from ",W=" in the
//     file name, or the W extension of its record, or else read once from
//     the file and kept in the record, so that a second session reads no
//     message file.
//   - Messages are served with CRLF line ends, as Dovecot sends them. For
//     an empty file Dovecot lists 0 octets and then sends an empty line;
//     this package sends the 0 octets it listed.
//   - Opening the maildrop moves the messages of new/ to cur/, as Dovecot's
//     POP3 does. RETR'd messages are marked seen (the S flag) when the session ends,
//     as Dovecot does, so that an IMAP client sees them read; with
//     [WithNoFlagUpdates], neither happens. DELE'd ones are removed after
//     QUIT, and a file already gone is not an error; with
//     [WithDeletedFlag], they get an IMAP keyword instead, and POP3 no
//     longer lists them.
//   - [Backend.Import] adds a message with the unique-id another server
//     showed, for a migration (pop3admin import), and [Backend.Listing]
//     lists the unique-ids a session would show.
//   - A Maildir that has not changed since an earlier session (the times of
//     new/, cur/ and dovecot-uidlist) is listed from memory, without
//     reading its directories again; see [WithListingCache]. Message files
//     are opened by name in cur/ (openat) and read to the size fstat
//     gives, in the server's buffers.
//   - The maildrop lock is a flock on pop3d.lock in the Maildir: it holds
//     between processes, and the kernel releases it when its holder dies,
//     so a crash leaves no stale lock.
//   - [Backend.Deliver] delivers as a Maildir delivery agent does: tmp/,
//     fsync, rename into new/, fsync of new/.
//   - For LOGIN-DELAY and EXPIRE (RFC 2449 §6.5, §6.7) the backend keeps
//     two files of its own in the Maildir, which Dovecot ignores (they are
//     neither Maildir++ folders, which start with a dot, nor Dovecot's
//     files). Each is written through a file of the same name with ".tmp"
//     added, synced to disk and renamed over it, with the mode (0600) and
//     owner of pop3d.lock. pop3-last-login holds the time of the user's
//     last login ([pop3.LoginRecorder]): one line, RFC 3339 in UTC to the
//     nanosecond, such as "2025-01-02T03:04:05.12345678Z"; without it the
//     user never logged in, and a file that does not parse fails to give
//     a time. pop3-retrieved holds when messages were first retrieved
//     ([pop3.RetrievalMailbox]): a line per message, its unique-id as UIDL
//     shows it, a space, and the time in unix seconds, such as
//     "0000000a6740a1b2 1732400000". It is read by each session that asks
//     for it, and rewritten when a session records retrievals, keeping
//     the earlier times and only the messages still listed; lines that do
//     not parse are ignored, with a warning. Removing either file is safe:
//     a login delay starts again from the next login, and messages are
//     kept longer. A message's unique-id changes when its dovecot-uidlist
//     is rebuilt, and it then counts as never retrieved.
//   - LIST in a session without UTF8 reports each message's size with its
//     header downgraded (RFC 6856 §2.1, [pop3.MessageInfo.DowngradedSize]),
//     which this package learns once in the message's life, so that LIST
//     reads no message file. Deliver writes it into the file's name, as
//     ",D=<size>" after ",W=" (Dovecot ignores the field). The header of a
//     file that another program delivered is read when a session first
//     opens the maildrop after it arrived, and the size kept in a third
//     file, pop3-downgraded-sizes: a first line "pop3-downgraded-sizes 1
//     <uidvalidity>", then, by ascending UID, "<uid>" or "<first>-<last>"
//     for the messages whose header is ASCII, and "<uid> <size>" for the
//     others. It is rewritten, not synced, when a session reads new
//     headers, with the messages of that listing; one that could not be
//     read has no record, and is read again by the next session. Lost or
//     damaged, the file only costs reading the headers again, as does a
//     dovecot-uidlist rebuilt with a new UIDVALIDITY.
//
// A corrupt dovecot-uidlist is rewritten without the records that do not
// parse, with a warning; the others keep their UIDs, also when the header
// is lost (its UIDVALIDITY, and so the unique-ids, then change).
package maildir
