// Package sqldb reads users from the SQL database a Dovecot site already
// has, through the same dovecot-sql.conf.ext: the driver (pgsql, mysql or
// sqlite), the connect string, default_pass_scheme, password_query (with
// userdb_ fields, Dovecot's prefetch) and user_query. A [DB] is a
// [passwd.Source], so the maildir store serves those users' Maildirs:
//
//	users, err := sqldb.OpenFile("/etc/dovecot/dovecot-sql.conf.ext")
//	...
//	backend, err := maildir.New("/var/vmail/%d/%n", users,
//		maildir.WithVerifyCache(passwd.NewCache(passwd.DefaultCacheSize, passwd.DefaultCacheTTL)))
//
// The queries' %-variables (%u, %n, %d, %Lu, %{user}, %{rip} ... as
// Dovecot 2.3 documents them) are passed as bound parameters, never
// pasted into the SQL: a literal '%u' or '%n@%d' becomes one parameter
// whose value is the expansion. A user name such as x' OR '1'='1 is just
// a name no row has.
//
// The drivers are pgx, github.com/go-sql-driver/mysql and modernc.org's
// SQLite, which is written in Go, so that nothing here needs cgo. They
// are why this package is a module of its own: importers of the library
// do not download them.
package sqldb
