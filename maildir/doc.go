// Package maildir is a pop3.Backend over Maildir++ directories that serves
// them as Dovecot 2.3 does with its default POP3 settings, so that a server
// built on it can replace Dovecot's POP3, or run beside it on the same
// files, without any client downloading its mail again:
//
//   - Users and passwords come from a [passwd.Source], such as Dovecot's
//     passwd-file read by [passwd.OpenFile]. User names are lower-cased
//     first (A to Z only), as Dovecot's default auth_username_format %Lu
//     does. The extra fields nologin, allow_nets, userdb_home and
//     userdb_mail (maildir: locations) are honoured as Dovecot does; see
//     [New].
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
//     lower case. A record with a
//     migrated unique-id (the P extension) shows that one.
//   - A message's size is its size with CRLF line ends: from ",W=" in the
//     file name, or the W extension of its record, or else read once from
//     the file and kept in the record, so that a second session reads no
//     message file.
//   - Messages are served with CRLF line ends, as Dovecot sends them. For
//     an empty file Dovecot lists 0 octets and then sends an empty line;
//     this package sends the 0 octets it listed.
//   - Opening the maildrop moves the messages of new/ to cur/, as Dovecot's
//     POP3 does. RETR'd messages are marked seen (the S flag) when the session ends,
//     as Dovecot does, so that an IMAP client sees them read. DELE'd ones
//     are removed after QUIT, and a file already gone is not an error.
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
//
// A corrupt dovecot-uidlist is rewritten without the records that do not
// parse, with a warning; the others keep their UIDs, also when the header
// is lost (its UIDVALIDITY, and so the unique-ids, then change).
package maildir
