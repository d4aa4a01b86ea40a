// Package ldapdb reads users from the LDAP directory a Dovecot site
// already has (OpenLDAP, Active Directory ...), through the same
// dovecot-ldap.conf.ext: uris or hosts, dn and dnpass, tls (StartTLS) and
// ldaps://, tls_ca_cert_file, tls_cert_file and tls_key_file,
// tls_require_cert, base, scope, deref, pass_filter and pass_attrs,
// user_filter and user_attrs, default_pass_scheme, and auth_bind with
// auth_bind_userdn. A [DB] is a [passwd.Source], so the
// maildir store serves those users' Maildirs:
//
//	users, err := ldapdb.OpenFile("/etc/dovecot/dovecot-ldap.conf.ext")
//	...
//	backend, err := maildir.New("%h/Maildir", users,
//		maildir.WithVerifyCache(passwd.NewCache(passwd.DefaultCacheSize, passwd.DefaultCacheTTL)))
//
// userPassword values are checked with the passwd package's schemes
// ({SSHA}, {CRYPT}, {SSHA512} ...). With auth_bind = yes the directory
// checks the password itself: the DB is also a [passwd.Authenticator],
// which binds as the user.
//
// The %-variables of filters are escaped as LDAP filter values (RFC 4515),
// those of base and auth_bind_userdn as DN values (RFC 4514), as Dovecot
// does: a user name such as *)(uid=* matches no one.
//
// The driver, github.com/go-ldap/ldap/v3, is why this package is a module
// of its own: importers of the library do not download it.
package ldapdb
