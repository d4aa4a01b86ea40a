// Package postgres is a [pop3.Backend] that keeps users, mail, unique-ids
// and maildrop locks in PostgreSQL, so that many pop3d nodes behind a TCP
// load balancer serve the same maildrops.
//
// It lives in its own module (github.com/gopop3/pop3/postgres) so that
// importers of the library never download pgx.
//
// # Schema
//
// [Migrate] creates and upgrades the tables (all named pop3_*), under an
// advisory lock, so that nodes starting together migrate once. Migrations
// only add; a database migrated by a newer release is refused rather than
// used.
//
// Users have a name (matched after lower-casing A to Z, as Dovecot's
// default auth_username_format %Lu does) and a password hash in any scheme
// of [passwd.Verify], the same code that checks a Dovecot passwd-file.
// Messages are stored as the client receives them (CRLF line ends, RFC 1939
// §11), in chunks of [ChunkSize] octets, so that neither a delivery nor a
// RETR holds a whole message in memory. A message's unique-id, unless it
// was imported (see Importing mail below), is "<user id>.<uid>": uid comes
// from a per-user sequence that never goes back, and the user id from an
// identity column, so a user deleted and added again under the same name
// does not reuse unique-ids that clients remember (RFC 1939 §7).
//
// Schema version 2 added two nullable timestamptz columns, NULL meaning
// "never": pop3_users.last_login, the time of the user's last successful
// login, and pop3_messages.first_retrieved, when a session that ended with
// QUIT first sent the message whole (RETR). See below for what uses them.
//
// Schema version 3 added pop3_messages.downgraded_size, the message's size
// once its header is downgraded for a client that has not enabled UTF-8
// mode ([pop3.MessageInfo.DowngradedSize], RFC 6856 §2.1), which Deliver
// stores, so that LIST reads no message. NULL is unknown: the rows stored
// before the migration, and those that nodes of an older release deliver
// until they are upgraded. Each Backend fills them in after it starts, in
// the background, 200 rows a transaction, through a partial index that
// holds only the NULL rows. The migration builds that index over the whole
// table (every row is NULL then), which holds deliveries back while it
// runs: on a table of many millions of messages, migrate at a quiet time
// (pop3admin migrate).
//
// Schema version 4 added pop3_messages.uidl, the unique-id a message was
// imported with ([Backend.Import]), NULL for the store's own. A CHECK
// constraint holds it to RFC 1939 §7 (1 to 70 octets from 0x21 to 0x7E),
// and a unique index, which keeps no NULL, to one message per maildrop.
// The migration rewrites no row, and adds the constraint without reading
// the table (every row is NULL then: it is marked NOT VALID, and holds all
// the same for every row written since); the index is built by reading
// the table, holding deliveries back while it runs, as version 3's did.
//
// # Importing mail
//
// A site that moves its users from another POP3 server keeps, with
// [Backend.Import], the unique-id the old server showed for each message,
// so that clients that leave mail on the server (Outlook, Thunderbird,
// mpop, fetchmail keep) download nothing again; [Backend.Listing] tells what
// a maildrop holds already, so that an import resumes where it stopped.
// An imported message is stored as a delivered one is, at the end of the
// maildrop, and UIDL shows its imported unique-id; every other message
// shows "<user id>.<uid>".
//
// The two kinds never show the same unique-id, now or later: an imported
// unique-id of the form "<user id>.<uid>" (this user's id, and the uid in
// decimal as the store writes it) is refused when a message of the store's
// own has that uid, and otherwise moves the user's next uid past it, in
// the transaction that holds the user's row, which deliveries lock too.
// Nodes of a release before schema version 4 list imported messages
// under "<user id>.<uid>": upgrade every node before importing.
//
// # LOGIN-DELAY and EXPIRE
//
// A user is a [pop3.LoginRecorder]: the server reads last_login to enforce
// LOGIN-DELAY (RFC 2449 §6.5) and writes it once the maildrop is open, so
// that the delay holds across restarts and across the nodes. A mailbox is a
// [pop3.RetrievalMailbox] and the Backend a [pop3.RetrievalBackend]: Open
// reads first_retrieved with the listing, and UPDATE records it, for the
// messages retrieved in the session and kept, before it deletes; the
// server removes the messages first retrieved longer ago than EXPIRE's
// number of days (RFC 2449 §6.7). A retrieval time, once recorded, never
// changes. Both times come from the clock of the node that served the
// session, so the nodes' clocks must agree (NTP); they are stored to the
// microsecond, as timestamptz keeps them, and read back in UTC. Deleting a
// user deletes them with the rest of the user's data.
//
// # Connections
//
// A session holds no database connection while it waits for its client:
// every call borrows one from the pool for one statement or transaction,
// reading a message borrows one per chunk. Some tens of connections serve
// thousands of sessions.
//
// # Maildrop locks across nodes
//
// Opening a maildrop ([pop3.User].Open) takes a lease row in pop3_locks atomically; another session
// on any node is refused with [pop3.ErrMailboxLocked]. The Backend renews
// the leases of its open maildrops in one statement every third of the
// lease time. A node that dies (kill -9) stops renewing, and its users'
// locks free themselves when the lease expires ([DefaultLeaseTime],
// [WithLeaseTime]). A node that could not renew in time (paused, cut off
// from the database) has lost its lease: it deletes nothing at QUIT, and the
// client is told so. The deletions of an UPDATE are one transaction, which
// also checks the lease: all marked messages go, or none.
package postgres
