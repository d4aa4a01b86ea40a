// Package mbox is a pop3.Backend over Unix mail spools: the mbox files in
// /var/mail that Postfix local(8), procmail and Exim append to, served as
// qpopper and Dovecot 2.3 serve them, so that a classic mail host can move
// its POP3 to a server built on it, or back, with no client downloading
// its mail again:
//
//   - Users and passwords come from a [passwd.Source]: the system's own
//     accounts ([passwd.OpenSystem]: /etc/passwd and /etc/shadow), a
//     Dovecot passwd-file, or the SQL and LDAP user databases. The spool
//     is the expansion of a template such as "/var/mail/%u" (see [New]).
//   - The spool is read as Dovecot reads it: messages start at "From "
//     lines that carry a valid date, a Content-Length header is trusted
//     only when it leads to the next such line, and the line end before a
//     From line belongs to the separator. A file that is not an mbox (no
//     From line at its start), or that ends in the middle of a line, as a
//     delivery cut short leaves it, is a temporary error for that user
//     (the client sees the SYS/TEMP response code), and is never changed.
//   - RETR and TOP show a message as Dovecot does: without its From line
//     and without the headers the spool keeps for itself (Status,
//     X-Status, X-Keywords, X-UID, X-IMAPbase, X-IMAP, Content-Length),
//     with CRLF line ends; ">From " lines are shown as they are, since
//     nothing tells them from a line the sender wrote. LIST's sizes are
//     the octets RETR sends. The "FOLDER INTERNAL DATA" message that
//     UW-IMAP and Dovecot may keep first is never listed.
//   - The unique-id (UIDL) of a message is its X-UIDL header, as qpopper
//     wrote it, when that is valid (RFC 1939 §7) and no earlier message
//     has it; otherwise it is the one Dovecot shows with its default
//     pop3_uidl_format, %08Xu%08Xv, from the X-UID header and the
//     UIDVALIDITY of X-IMAPbase. A message without a valid X-UID is given
//     the next UID as Dovecot gives it, and the login writes Dovecot's
//     headers into the spool before it lists the message, so that its
//     unique-id stays and is never given to another message, whatever
//     happens to the session; a spool that cannot be written then fails
//     the login. No two messages
//     show the same unique-id. [WithoutXUIDL] shows Dovecot's unique-id for
//     every message, as Dovecot does by default.
//   - LAST (RFC 1460) starts from the highest message whose Status header
//     says an earlier session retrieved it ([pop3.SeenMailbox]).
//   - Locking follows the mail programs of the host. The maildrop lock
//     (RFC 1939 §4) is a flock on the spool, so a second session is told
//     [IN-USE]; the kernel releases it when its holder dies. Reading the
//     spool when the session begins takes its dotlock, SPOOL.lock, then a
//     shared fcntl lock, so that neither a delivery agent that takes only
//     the dotlock (procmail, dotlockfile) nor one that takes only fcntl is
//     read half-way; writing takes the dotlock, then an exclusive fcntl
//     lock, in the order of Postfix and Dovecot. Both are held only while
//     the spool is read or written. A dotlock whose holder was a process
//     of this host that has died is broken at once, as Dovecot and dotlockfile break it; one that cannot be
//     checked (Postfix's, another host's) is broken when it has not
//     changed for [DefaultStaleDotlock], Postfix's stale_lock_time. Mail
//     delivered during a session is not listed until the next one.
//   - The spool is rewritten in place, keeping its owner, group and mode:
//     at login for the UIDs, and at the end of a session without the
//     messages deleted (only after QUIT) and with "Status: RO" on the
//     messages RETR sent to their end, as qpopper marks them. Mail
//     delivered meanwhile is kept, after them. The
//     new content is first made durable beside the spool, as
//     ".SPOOL.pop3d-update", so that a crash at any moment loses nothing:
//     whoever locks the spool next (a session, a delivery) finishes the
//     update first, and so does [Backend.Recover], at start-up. A spool that another program rewrote during the
//     session is left as it is, and QUIT answers -ERR; RETR checks that
//     the message is still where it was. A spool is never opened through
//     a symbolic link, nor one that is not a regular file.
//   - [Backend.Deliver] appends as Postfix local(8) does (pop3d's LMTP
//     listener uses it).
//
// The server needs read and write access to the spools and their
// directory: on Debian, /var/mail is root:mail 2775 and each spool
// USER:mail 0660, so pop3d runs in group mail (and in group shadow to
// read /etc/shadow); it does not need root.
package mbox
