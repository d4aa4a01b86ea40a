// Command pop3d is a POP3 server built on github.com/gopop3/pop3. With
// -maildir and its users (-passwd, -sql, -ldap or -system-users) it serves
// real Maildirs as Dovecot does (same unique-ids, same sizes, same files),
// and with -mbox the mail spools of /var/mail as qpopper and Dovecot do,
// so it can take over from Dovecot's POP3 without any client downloading
// its mail again. Without them it is a
// demo on the in-memory backend, for trying the library and testing POP3
// clients: every mailbox lives in memory, and whatever a client deletes is
// gone only until the server restarts.
//
// Usage:
//
//	pop3d [flags]
//
// By default pop3d listens on 127.0.0.1:1110 with one user, "demo" with
// password "demo", who has two welcome messages, and prints how to connect
// with nc, telnet or curl. It stops gracefully on SIGINT or SIGTERM.
// pop3d -h lists the flags by group.
//
// The flags are:
//
//	-addr HOST:PORT
//	    where to listen for POP3 (default 127.0.0.1:1110); port 0 picks a
//	    free port, and the one chosen is printed
//	-domain NAME
//	    the server's host name, used in the APOP timestamp (default localhost)
//	-load DIR
//	    serve the mailboxes in DIR instead of the demo one: each
//	    subdirectory DIR/USER is a user whose password is the first line of
//	    DIR/USER/password, and every other regular file in it is one raw
//	    message (LF or CRLF line ends), served in file-name order; names
//	    starting with "." are skipped
//	-maildir TEMPLATE
//	    serve Maildirs (Dovecot-compatible: dovecot-uidlist, its UIDLs and
//	    sizes) at TEMPLATE, with Dovecot's variables: %u the user name, %n
//	    its local part, %d its domain, %h the home directory of the passwd
//	    entry; for example /var/mail/%d/%n/Maildir or %h/Maildir. Needs
//	    one of -passwd, -sql and -ldap; cannot be combined with -load
//	-maildir-cache MESSAGES
//	    how many messages, over all Maildirs, to keep the listings of
//	    between sessions, so that logging in to an unchanged Maildir reads
//	    neither its directories nor its dovecot-uidlist (default 200000;
//	    0 turns it off, for a network file system that caches directory
//	    times)
//	-uidl-format FORMAT
//	    with -maildir: the unique-ids UIDL shows, as Dovecot's
//	    pop3_uidl_format: %v the UIDVALIDITY, %u the UID, %m the MD5 of the
//	    header, %f the file name, %g the GUID, with Dovecot 2.3's
//	    modifiers (%08Xu: hex, padded to 8); or the name of a preset, for
//	    the server the Maildirs come from: courier (%f), courier-uid
//	    (%v-%u), cyrus (%v.%u), cyrus-old (%u), dovecot (%08Xu%08Xv, the
//	    default), dovecot-0.99 (%v.%u), tpop3d (%Mf) or uw (%08Xv%08Xu).
//	    A message whose dovecot-uidlist record keeps a unique-id (a P
//	    record: pop3admin import, a migration script, or -save-uidl) shows
//	    that one whatever the format. A format that Dovecot would fail
//	    every UIDL with (an unknown variable), or that could not tell
//	    messages apart, is refused at start
//	-save-uidl
//	    with -maildir: keep each message's unique-id in its dovecot-uidlist
//	    record, as Dovecot's pop3_save_uidl does, so that a later change of
//	    -uidl-format changes nothing for clients
//	-reuse-xuidl
//	    with -maildir: a message with an X-UIDL header (left by qpopper and
//	    other servers) keeps it as its unique-id, when it is 1 to 70
//	    printable characters and no other message of the maildrop has it,
//	    as Dovecot's pop3_reuse_xuidl does
//	-deleted-flag KEYWORD
//	    with -maildir: DELE and QUIT set the IMAP keyword KEYWORD (in
//	    dovecot-keywords and the file name's flags) instead of removing the
//	    file, and POP3 no longer lists the message, as Dovecot's
//	    pop3_deleted_flag does: for a Maildir that IMAP clients read too
//	-no-flag-updates
//	    with -maildir: leave the messages' flags alone, as Dovecot's
//	    pop3_no_flag_updates does: nothing moves from new/ to cur/ and RETR
//	    sets no seen flag
//	-mbox TEMPLATE
//	    serve mbox spools (package github.com/gopop3/pop3/mbox) at
//	    TEMPLATE, with the variables of -maildir, such as /var/mail/%u or
//	    %h/mbox, as qpopper and Dovecot serve them: Dovecot's messages,
//	    sizes and unique-ids (X-UID, X-IMAPbase), or qpopper's X-UIDL;
//	    the dotlock and fcntl locks of Postfix's local(8) and procmail;
//	    "Status: RO" on retrieved messages; an update at QUIT that a crash
//	    cannot lose mail to. Needs one of -passwd, -sql, -ldap and
//	    -system-users, and read and write access to the spools and their
//	    directory (on Debian, group mail)
//	-ignore-xuidl
//	    with -mbox: show Dovecot's unique-id for a message with an X-UIDL
//	    header too, as Dovecot does by default (pop3_reuse_xuidl = no), for
//	    spools that Dovecot served; by default qpopper's X-UIDL is shown
//	-postgres DSN
//	    serve the users and mail of a PostgreSQL database (package
//	    github.com/gopop3/pop3/postgres), shared by any number of pop3d
//	    nodes: DSN is a postgres:// URL or key=value string as pgx takes it
//	    (pool_max_conns=N sizes the pool, default 20); give the password in
//	    PGPASSWORD or ~/.pgpass rather than in DSN, which ps shows. The
//	    schema is created or upgraded at start-up; pop3admin adds users.
//	    A bad DSN or an unreachable database is an error within 15 seconds
//	-postgres-lease DURATION
//	    how long a maildrop lock outlives a node that stopped renewing it,
//	    such as one killed with kill -9 (default 30s)
//	-system-users
//	    the users of -maildir or -mbox: the system's accounts, from
//	    /etc/passwd and /etc/shadow, re-read when they change (pop3d needs
//	    read access to /etc/shadow: on Debian, group shadow). yescrypt,
//	    SHA512-CRYPT, SHA256-CRYPT, MD5-CRYPT and bcrypt hashes; locked,
//	    passwordless and expired accounts cannot log in
//	-first-valid-uid UID
//	    with -system-users: the lowest uid that may log in or receive mail,
//	    as Dovecot's first_valid_uid (default 1000, Debian's first user;
//	    root and the system accounts are below it)
//	-passwd FILE
//	    the users of -maildir or -mbox, in Dovecot's passwd-file format
//	    (user:{SCHEME}hash:uid:gid:gecos:home:shell:extra), re-read when it
//	    changes; the schemes are those of package passwd (BLF-CRYPT,
//	    SHA512-CRYPT, ARGON2ID, SSHA512, PLAIN, ...)
//	-sql FILE
//	    the users of -maildir or -mbox, from the SQL database that Dovecot's
//	    dovecot-sql.conf.ext FILE describes (package
//	    github.com/gopop3/pop3/sqldb): driver pgsql, mysql or sqlite,
//	    connect, default_pass_scheme, password_query and user_query, whose
//	    %-variables become bound parameters. A database that is down at
//	    start-up is logged, and logins are told to try again later
//	    (-ERR [SYS/TEMP]) until it answers
//	-ldap FILE
//	    the users of -maildir or -mbox, from the LDAP directory that Dovecot's
//	    dovecot-ldap.conf.ext FILE describes (package
//	    github.com/gopop3/pop3/ldapdb): uris, dn and dnpass, tls and
//	    ldaps://, base, the pass and user filters and attributes, and
//	    auth_bind; down at start-up, as for -sql
//	-tls-cert FILE, -tls-key FILE
//	    a PEM certificate and its key: enables STLS on -addr and implicit
//	    TLS (POP3S, RFC 8314) on -tls-addr, with TLS 1.2 and 1.3 only,
//	    forward-secret AEAD cipher suites only, no SHA-1 signatures, and
//	    the post-quantum hybrid key exchange X25519MLKEM768 preferred
//	-tls-self-signed
//	    like -tls-cert and -tls-key with a self-signed certificate for
//	    localhost and 127.0.0.1, made at start-up and kept in memory; clients
//	    must be told not to verify it (curl -k)
//	-tls-addr HOST:PORT
//	    where to listen for implicit TLS when TLS is on (default
//	    127.0.0.1:1995); "" serves none (STLS only)
//	-proxy-protocol CIDR[,CIDR...]
//	    take each client's address from a PROXY protocol v1 or v2 header
//	    (HAProxy's send-proxy, send-proxy-v2), which connections from these
//	    addresses must send; from anyone else a header closes the
//	    connection
//	-insecure-auth
//	    allow cleartext logins (USER/PASS, AUTH PLAIN/LOGIN) on connections
//	    that are neither TLS nor from a loopback address; by default they
//	    are refused there
//	-auth-cache-size N, -auth-cache-ttl DURATION
//	    with -maildir or -postgres, remember the last good password of up
//	    to N users (default 100000; 0 turns the cache off) for DURATION
//	    (default 1h): a repeat login with the same password against the
//	    same stored hash runs no password hash. Entries are HMACs under a
//	    key made at start-up, never the password; a changed hash (an edited
//	    passwd-file, pop3admin passwd) takes effect at the next login, and
//	    failed logins are never remembered. While the user database cannot
//	    be reached, a user whose password is remembered still passes the
//	    check, as with Dovecot's auth cache, and a warning is logged (with
//	    -postgres the mail is in that database too, so the client is told
//	    to try again later all the same)
//	-auth-failure-delay DURATION
//	    wait before answering a failed login (default 2s; 0 for none)
//	-auth-penalty DURATION
//	    the longest a client address waits before each login attempt after
//	    repeated failures, 2s, 4s, 8s and so on up to DURATION (default
//	    15s; 0 turns the penalty off). Every client behind one address
//	    (NAT, a webmail host) shares it
//	-trusted-networks CIDR[,CIDR...]
//	    clients in these networks, such as a webmail host or a monitoring
//	    probe, are spared the per-address penalty and may log in in
//	    cleartext without TLS, like Dovecot's login_trusted_networks
//	-max-connections N, -max-connections-per-ip N, -idle-timeout DURATION
//	    the limits of pop3.Server (defaults 10000, 100 and 10m)
//	-login-delay DURATION
//	    refuse a user's login sooner than DURATION after their previous one,
//	    with -ERR [LOGIN-DELAY], and announce it in CAPA as LOGIN-DELAY (RFC
//	    2449 §6.5); default none
//	-expire DAYS
//	    remove, at QUIT, the messages first retrieved more than DAYS days
//	    ago (0: those retrieved in the session), and announce it in CAPA as
//	    EXPIRE (RFC 2449 §6.7); default never. A number of days other than
//	    0 needs a store that keeps retrieval times: the demo, -load,
//	    -maildir and -postgres all do
//	-language TAG
//	    the language of the replies after LANG * (RFC 6856): en (the
//	    default) or bg
//	-disable EXT[,EXT...]
//	    remove these extensions from CAPA and from behaviour, as a server
//	    without them, for testing clients: CAPA, TOP, UIDL, USER, SASL,
//	    STLS, PIPELINING, RESP-CODES, AUTH-RESP-CODE, APOP, LAST, UTF8, LANG
//	-client-workarounds NAME[,NAME...]
//	    change what RETR and TOP send, for clients that mishandle some
//	    messages, as Dovecot's pop3_client_workarounds does (names
//	    separated by commas or spaces): outlook-no-nuls sends every NUL
//	    octet as 0x80, since Outlook stops reading a message at a NUL;
//	    oe-ns-eoh adds the empty line that ends the header to a message
//	    that is all header, for old Outlook Express and Netscape, and sends
//	    such a message with 2 octets more than LIST reports, as Dovecot
//	    does. Default none
//	-lmtp ADDR
//	    accept mail for the store's users over LMTP (RFC 2033) on ADDR: a
//	    TCP HOST:PORT, or a unix socket path (an ADDR containing "/"), for
//	    an MTA such as Postfix (mailbox_transport = lmtp:...) to deliver
//	    into -maildir or the in-memory store; a stale socket file is
//	    replaced, any other file at the path is an error. A recipient
//	    needs a domain (Postfix always gives one): RCPT TO:<alice>, which
//	    Dovecot's LMTP delivers to the user alice, is refused with
//	    "501 5.1.3", since go-smtp's parser cannot take it
//	-metrics HOST:PORT
//	    serve Prometheus metrics on /metrics and a health check on /healthz
//	-log-format text|json, -log-level debug|info|warn|error
//	    how and what to log (default text, info)
//	-debug
//	    write a protocol trace of every session to stderr (passwords
//	    redacted) and log at debug level
//	-shutdown-grace DURATION
//	    on SIGTERM, how long commands in progress may finish (default 10s)
//	-version
//	    print the version, the commit it was built from (in a build from a
//	    clone), the library's version when it differs, and the Go version
//
// APOP (RFC 1939 §7: a timestamp in the greeting, and the APOP command)
// needs the user's cleartext secret, so pop3d offers it only when some user
// can have one: with -passwd, when some user's password is in a cleartext
// scheme ({PLAIN}, {CLEAR} or {CLEARTEXT}, with or without .B64 or .HEX);
// with -sql and -ldap, whose users cannot be listed, when
// default_pass_scheme is such a scheme (and, for -ldap, auth_bind is off);
// with -postgres, when some user's stored password is; always for the demo
// and -load. This is decided at start-up and logged: a store that gains its
// first cleartext password offers APOP after a restart, not after a
// re-read of the passwd-file. -disable APOP removes it in any case.
//
// Started by systemd socket activation, pop3d serves the sockets named
// pop3 (POP3 with STLS) and pop3s (implicit TLS) instead of -addr and
// -tls-addr, and notifies systemd (Type=notify) when it is ready, reloading
// and stopping, and pings its watchdog; contrib/ has the units. SIGHUP
// re-reads -tls-cert and -tls-key, keeping the old pair if the new one is
// bad.
//
// Log records go to stderr; the connection instructions go to stdout. The
// exit status is 0 after a graceful shutdown, 2 for a bad command line and
// 1 for any other error (a busy port, an unreadable -load directory, a
// user directory without a password file, a missing or unreadable -passwd
// file, a bad certificate, an unreachable -postgres database).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/gopop3/pop3"
)

const (
	defaultAddr          = "127.0.0.1:1110"
	defaultTLSAddr       = "127.0.0.1:1995"
	defaultShutdownGrace = 10 * time.Second
	implementation       = "gopop3 pop3d"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, restore the default behaviour so that a
		// second Ctrl-C kills a shutdown that takes too long.
		<-ctx.Done()
		stop()
	}()

	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	var ue *usageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
	case errors.As(err, &ue):
		os.Exit(2) // already reported, with the usage
	default:
		fmt.Fprintln(os.Stderr, "pop3d:", err)
		os.Exit(1)
	}
}

// usageError is a bad command line. run has printed it, with the usage, by
// the time it returns one.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// listening tells where run serves: Addr for POP3 (with STLS when TLS is
// on), TLSAddr for implicit TLS, empty without TLS.
type listening struct {
	Addr        string
	TLSAddr     string
	MetricsAddr string // empty without -metrics
	LMTPAddr    string // empty without -lmtp; a unix socket's path
}

// run is the whole program: it parses args, serves until ctx is cancelled,
// then shuts down gracefully and returns nil. It writes the connection
// instructions to stdout and logs to stderr. When ready is not nil, it is
// called once the server accepts connections. While it serves, SIGHUP
// re-reads the certificate.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(listening)) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.version {
		fmt.Fprintln(stdout, buildVersion())
		return nil
	}
	logger := newLogger(stderr, o.logFormat, o.logLevel)

	cache := verifyCache(o)
	st, err := openStore(ctx, o, cache, logger)
	if err != nil {
		return err
	}
	backend, mailboxes := st.backend, st.loaded
	if cache != nil {
		logger.Info("pop3d: verification cache on", "size", o.authCacheSize, "ttl", o.authCacheTTL)
	}
	defer st.close() // after the server has stopped: deferred calls run last

	certs, err := newCertificates(o.tlsCert, o.tlsKey, o.tlsSelfSigned)
	if err != nil {
		return err
	}
	var tlsConfig *tls.Config
	if certs != nil {
		tlsConfig = newTLSConfig(certs)
	}

	srv := pop3.NewServer(backend)
	srv.Domain = o.domain
	srv.Implementation = implementation
	srv.TLSConfig = tlsConfig
	srv.AllowInsecureAuth = o.insecureAuth
	srv.AuthFailureDelay = durationOrNone(o.authFailureDelay)
	srv.MaxAuthPenalty = durationOrNone(o.authPenalty)
	srv.TrustedNetworks = o.trustedNetworks
	srv.MaxConnections = o.maxConnections
	srv.MaxConnectionsPerIP = o.maxConnectionsPerIP
	srv.IdleTimeout = o.idleTimeout
	srv.LoginDelay = o.loginDelay
	srv.Expire = o.expire
	srv.Disable = o.disable
	srv.ClientWorkarounds = o.clientWorkarounds
	applyAPOP(srv, st.apop, logger)
	srv.Language = o.language
	srv.Logger = logger
	if o.debug {
		srv.Debug = stderr
	}

	// Listen before printing anything, so that the addresses printed are
	// the real ones (port 0) and a busy port fails at once.
	l, tl, err := listen(ctx, o, tlsConfig != nil, logger)
	if err != nil {
		return err
	}
	where := listening{Addr: l.Addr().String()}
	if tl != nil {
		where.TLSAddr = tl.Addr().String()
	}
	if o.proxyProtocol != nil {
		l = proxyListener(l, o.proxyProtocol)
		if tl != nil {
			tl = proxyListener(tl, o.proxyProtocol)
		}
	}

	var metrics *metricsServer
	if o.metrics != "" {
		if metrics, err = startMetrics(o.metrics, srv, cache, logger); err != nil {
			l.Close()
			if tl != nil {
				tl.Close()
			}
			return err
		}
		defer metrics.close()
		where.MetricsAddr = metrics.addr
	}
	var lmtp *lmtpServer
	if o.lmtp != "" {
		if lmtp, err = startLMTP(ctx, o.lmtp, o.domain, backend, logger); err != nil {
			l.Close()
			if tl != nil {
				tl.Close()
			}
			return fmt.Errorf("-lmtp %s: %w", o.lmtp, err)
		}
		where.LMTPAddr = lmtp.addr
	}
	printInstructions(stdout, o, mailboxes, where)

	serveErr := make(chan error, 3)
	serve := func(l net.Listener) {
		err := srv.Serve(l)
		if errors.Is(err, pop3.ErrServerClosed) {
			err = nil
		}
		serveErr <- err
	}
	serving := 1
	go serve(l)
	logger.Info("pop3d: serving POP3", "addr", where.Addr, "stls", tlsConfig != nil)
	if tl != nil {
		serving++
		go serve(tlsListener(tl, tlsConfig))
		logger.Info("pop3d: serving POP3 over implicit TLS", "addr", where.TLSAddr)
	}
	if lmtp != nil {
		serving++
		go func() { serveErr <- lmtp.serve() }()
		logger.Info("pop3d: serving LMTP", "addr", where.LMTPAddr)
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	stopWatchdog := notifyReady(logger)
	defer stopWatchdog()
	if ready != nil {
		ready(where)
	}

	// Serve only returns early when a listener fails; either way, or when
	// ctx ends, the server shuts down.
	var failed error
wait:
	for {
		select {
		case <-hup:
			reload(certs, logger)
		case <-ctx.Done():
			logger.Info("pop3d: shutting down", "grace", o.shutdownGrace)
			break wait
		case failed = <-serveErr:
			serving--
			logger.Error("pop3d: listener failed; shutting down", "err", failed)
			break wait
		}
	}
	stopWatchdog() // no WATCHDOG=1 after STOPPING=1
	notify(logger, daemon.SdNotifyStopping)
	if metrics != nil {
		metrics.stopping.Store(true)
	}
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownGrace)
	defer cancel()
	lmtpStopped := make(chan struct{})
	go func() { // in parallel with POP3, within the same grace
		defer close(lmtpStopped)
		if lmtp == nil {
			return
		}
		if err := lmtp.shutdown(sctx); err != nil {
			logger.Warn("pop3d: LMTP transactions still open after the grace period were closed", "err", err)
		}
	}()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("pop3d: sessions still open after the grace period were closed", "err", err)
	}
	<-lmtpStopped
	for ; serving > 0; serving-- {
		if err := <-serveErr; err != nil && failed == nil {
			failed = err
		}
	}
	if failed == nil {
		logger.Info("pop3d: stopped")
	}
	return failed
}

// durationOrNone maps a flag's 0, which means none, to the negative value
// that means none in pop3.Server, where 0 is the default.
func durationOrNone(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// reload re-reads the certificate on SIGHUP, telling systemd so.
func reload(certs *certificates, logger *slog.Logger) {
	// MONOTONIC_USEC lets Type=notify-reload (systemd 253 and later) match
	// this reload to the SIGHUP it sent.
	notify(logger, daemon.SdNotifyReloading+"\n"+daemon.SdNotifyMonotonicUsec())
	defer notify(logger, daemon.SdNotifyReady)
	if certs == nil || certs.certFile == "" {
		logger.Info("pop3d: SIGHUP: nothing to reload (no -tls-cert)")
		return
	}
	if err := certs.reload(); err != nil {
		logger.Error("pop3d: SIGHUP: the new certificate was not loaded; the old one stays in use", "err", err)
		return
	}
	logger.Info("pop3d: SIGHUP: certificate reloaded", "cert", certs.certFile, "not_after", certs.current().Leaf.NotAfter)
}

// usersSource names the user database of -maildir.
func usersSource(o *options) string {
	switch {
	case o.sqlConf != "":
		return "the SQL database of " + o.sqlConf
	case o.ldapConf != "":
		return "the LDAP directory of " + o.ldapConf
	case o.systemUsers:
		return "the system (/etc/passwd, /etc/shadow)"
	}
	return o.passwd
}

// printInstructions tells the user how to connect.
func printInstructions(w io.Writer, o *options, mb *loaded, where listening) {
	host, port := connectHostPort(where.Addr)
	user, pass := mb.exampleUser, mb.examplePass
	switch {
	case o.maildir != "":
		fmt.Fprintf(w, "pop3d: serving the Maildirs %s to the users of %s\n", o.maildir, usersSource(o))
	case o.mbox != "":
		fmt.Fprintf(w, "pop3d: serving the mbox spools %s to the users of %s\n", o.mbox, usersSource(o))
	case o.postgres != "":
		fmt.Fprintf(w, "pop3d: serving the users of PostgreSQL (add them with pop3admin useradd)\n")
	case o.load != "":
		fmt.Fprintf(w, "pop3d: loaded %s and %s from %s\n",
			plural(len(mb.users), "user"), plural(mb.messages, "message"), o.load)
	default:
		fmt.Fprintf(w, "pop3d: demo mailbox: user %q, password %q, %s\n", user, pass, plural(mb.messages, "message"))
	}
	fmt.Fprintf(w, "pop3d: serving POP3 on %s", where.Addr)
	if where.TLSAddr != "" {
		fmt.Fprintf(w, " (with STLS) and POP3 over TLS on %s", where.TLSAddr)
	}
	if where.LMTPAddr != "" {
		fmt.Fprintf(w, "\npop3d: accepting mail over LMTP on %s", where.LMTPAddr)
	}
	fmt.Fprintf(w, "\n\nTry it:\n\n")
	fmt.Fprintf(w, "  $ nc %s %s\n", host, port)
	fmt.Fprintf(w, "  USER %s\n", user)
	switch {
	case o.load != "":
		fmt.Fprintf(w, "  PASS %s    (the first line of %s)\n", pass, filepath.Join(o.load, user, passwordFile))
	default:
		fmt.Fprintf(w, "  PASS %s\n", pass)
	}
	fmt.Fprintf(w, "  LIST\n  RETR 1\n  QUIT\n\n")
	fmt.Fprintf(w, "or with curl:\n\n")
	fmt.Fprintf(w, "  curl %s\n", pop3URL("pop3", user, pass, net.JoinHostPort(host, port)))
	if where.TLSAddr != "" {
		k := ""
		if o.tlsSelfSigned {
			fmt.Fprintf(w, "\nTLS uses a self-signed certificate for localhost and 127.0.0.1, made at start-up:\n"+
				"tell clients not to verify it (curl -k).\n\n")
			k = "-k "
		} else {
			fmt.Fprintf(w, "\nTLS uses the certificate %s.\n\n", o.tlsCert)
		}
		thost, tport := connectHostPort(where.TLSAddr)
		fmt.Fprintf(w, "  curl %s%s\n", k, pop3URL("pop3s", user, pass, net.JoinHostPort(thost, tport)))
		fmt.Fprintf(w, "  curl %s--ssl-reqd %s    (STLS)\n", k, pop3URL("pop3", user, pass, net.JoinHostPort(host, port)))
	}
	if !o.insecureAuth && !isLoopback(where.Addr) {
		fmt.Fprintf(w, "\nNote: cleartext logins from other hosts are refused without TLS (use STLS, -trusted-networks or -insecure-auth).\n")
	}
	fmt.Fprintf(w, "\nPress Ctrl-C to stop.\n")
}

// connectHostPort returns the host and port a local client should connect
// to for a listener at addr: an unspecified host (0.0.0.0, ::) becomes
// 127.0.0.1.
func connectHostPort(addr string) (host, port string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, ""
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return host, port
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// pop3URL is curl's URL for message 1 of user's maildrop.
func pop3URL(scheme, user, pass, hostport string) string {
	u := url.URL{Scheme: scheme, User: url.UserPassword(user, pass), Host: hostport, Path: "/1"}
	return u.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}
