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
// RETR holds a whole message in memory. A message's unique-id is
// "<user id>.<uid>": uid comes from a per-user sequence that never goes
// back, and the user id from an identity column, so a user deleted and
// added again under the same name does not reuse unique-ids that clients
// remember (RFC 1939 §7).
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
