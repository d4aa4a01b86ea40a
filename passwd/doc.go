// Package passwd checks passwords against hashes as Dovecot stores them, and
// reads Dovecot's passwd-file.
//
// A stored hash is "{SCHEME}data", as Dovecot writes it in a passwd-file, an
// SQL column or an LDAP attribute, or bare data, which Dovecot reads as the
// CRYPT scheme: a crypt(3) string such as "$6$salt$digest", told apart by its
// "$id$". [Verify] checks a password against one; [Hash] makes one for a new
// password, as "doveadm pw -s SCHEME" does; [Plaintext] returns the secret of
// a scheme that keeps it in the clear, which APOP (RFC 1939 §7) needs, and
// [PlaintextScheme] tells such a scheme by its name.
// [Schemes] lists the schemes; Dovecot describes them at
// https://doc.dovecot.org/configuration_manual/authentication/password_schemes/.
//
// The scheme code reads no file: a backend that keeps hashes elsewhere (a
// database) calls [Verify] with the stored string. For a passwd-file,
// [OpenFile] returns a [File], a [Source] of [Entry] values that re-reads the
// file when it changes; for the system's accounts (/etc/passwd and
// /etc/shadow, with Debian's yescrypt hashes), [OpenSystem] returns a
// [System].
//
// A [Cache] in front of Verify makes a repeat login with the same password
// cost two HMACs instead of a deliberately slow hash, and lets a user whose
// password it remembers log in while the user database is unreachable. Give
// each user database its own cache: entries are keyed by user name.
//
// Verify compares in constant time, and never puts a hash or a password into
// an error: its errors name the scheme only. Parameters that would make one
// check take minutes or gigabytes (bcrypt cost, SHA-crypt rounds, Argon2
// memory and passes) are capped, so that a corrupt or hostile hash cannot
// stall the server; such a hash is [ErrMalformedHash].
package passwd
