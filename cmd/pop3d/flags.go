package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/postgres"
)

type options struct {
	addr, tlsAddr, domain string
	proxyProtocol         []*net.IPNet
	load                  string
	maildir, passwd       string
	mbox                  string
	systemUsers           bool
	firstValidUID         uint
	ignoreXUIDL           bool
	sqlConf, ldapConf     string
	maildirCache          int
	uidlFormat            string
	saveUIDL, reuseXUIDL  bool
	deletedFlag           string
	noFlagUpdates         bool
	postgres              string
	postgresLease         time.Duration
	tlsCert, tlsKey       string
	tlsSelfSigned         bool
	insecureAuth          bool
	authCacheSize         int
	authCacheTTL          time.Duration
	authFailureDelay      time.Duration
	authPenalty           time.Duration
	trustedNetworks       []netip.Prefix
	maxConnections        int
	maxConnectionsPerIP   int
	idleTimeout           time.Duration
	loginDelay            time.Duration
	expire                pop3.Expire
	disable               []pop3.Extension
	clientWorkarounds     []pop3.Workaround
	language              string
	metrics               string
	lmtp                  string
	logFormat             string
	logLevel              slog.Level
	debug                 bool
	shutdownGrace         time.Duration
	version               bool
}

// flagGroups orders the flags in pop3d -h, by what an operator looks for.
var flagGroups = []struct {
	title string
	names []string
}{
	{"Listening", []string{"addr", "tls-addr", "proxy-protocol"}},
	{"TLS", []string{"tls-cert", "tls-key", "tls-self-signed", "insecure-auth"}},
	{"Store", []string{"maildir", "mbox", "passwd", "sql", "ldap", "system-users", "first-valid-uid", "maildir-cache", "postgres", "postgres-lease", "load", "domain"}},
	{"Migration and IMAP (with -maildir)", []string{"uidl-format", "save-uidl", "reuse-xuidl", "deleted-flag", "no-flag-updates"}},
	{"Migration (with -mbox)", []string{"ignore-xuidl"}},
	{"Delivery", []string{"lmtp"}},
	{"Authentication", []string{"auth-cache-size", "auth-cache-ttl", "auth-failure-delay", "auth-penalty", "trusted-networks"}},
	{"Limits", []string{"max-connections", "max-connections-per-ip", "idle-timeout"}},
	{"Protocol", []string{"login-delay", "expire", "language", "disable", "client-workarounds"}},
	{"Operations", []string{"metrics", "log-format", "log-level", "debug", "shutdown-grace", "version"}},
}

// parseFlags parses args; every error it returns is a *usageError (or
// flag.ErrHelp) and has been written to stderr.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	var o options
	fs := flag.NewFlagSet("pop3d", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", defaultAddr, "listen for POP3 (and STLS) on `HOST:PORT`; port 0 picks a free one")
	fs.StringVar(&o.tlsAddr, "tls-addr", defaultTLSAddr, "listen for implicit TLS (POP3S) on `HOST:PORT` when TLS is on; \"\" for none")
	fs.Func("proxy-protocol", "accept PROXY protocol v1/v2 headers from these `CIDR[,CIDR...]` only, and require one from them", func(v string) error {
		nets, err := parseCIDRs(v)
		o.proxyProtocol = nets
		return err
	})
	fs.StringVar(&o.domain, "domain", "localhost", "the server's host `NAME`, used in the APOP timestamp")
	fs.StringVar(&o.load, "load", "", "serve the mailboxes in `DIR` (DIR/USER/password and one file per message) instead of the demo")
	fs.StringVar(&o.maildir, "maildir", "", "serve Maildirs at `TEMPLATE` (%u user, %n local part, %d domain, %h home), Dovecot-compatible; needs -passwd, -sql, -ldap or -system-users")
	fs.StringVar(&o.mbox, "mbox", "", "serve mbox spools at `TEMPLATE` (such as /var/mail/%u), as qpopper and Dovecot serve them; needs -passwd, -sql, -ldap or -system-users")
	fs.StringVar(&o.passwd, "passwd", "", "the users of -maildir or -mbox: a Dovecot passwd-file `FILE`")
	fs.StringVar(&o.sqlConf, "sql", "", "the users of -maildir or -mbox: the SQL database (pgsql, mysql or sqlite) that Dovecot's dovecot-sql.conf.ext `FILE` describes")
	fs.StringVar(&o.ldapConf, "ldap", "", "the users of -maildir or -mbox: the LDAP directory that Dovecot's dovecot-ldap.conf.ext `FILE` describes")
	fs.BoolVar(&o.systemUsers, "system-users", false, "the users of -maildir or -mbox: the system's accounts, from /etc/passwd and /etc/shadow (which pop3d must be able to read: group shadow on Debian)")
	fs.UintVar(&o.firstValidUID, "first-valid-uid", passwd.DefaultFirstValidUID, "with -system-users: the lowest `UID` that may log in or get mail, as Dovecot's first_valid_uid (root and system accounts are below it)")
	fs.IntVar(&o.maildirCache, "maildir-cache", maildir.DefaultListingCache, "keep the listings of unchanged Maildirs, up to `MESSAGES` in all; 0 turns it off (for NFS)")
	fs.StringVar(&o.uidlFormat, "uidl-format", "", "show unique-ids in this `FORMAT`, as Dovecot's pop3_uidl_format: %v UIDVALIDITY, %u UID, %m header MD5, %f file name, %g GUID (default %08Xu%08Xv), or the preset of the server migrated from: "+strings.Join(maildir.UIDLPresets(), ", "))
	fs.BoolVar(&o.saveUIDL, "save-uidl", false, "keep each message's unique-id in dovecot-uidlist (Dovecot's pop3_save_uidl), so that a later -uidl-format changes nothing for clients")
	fs.BoolVar(&o.reuseXUIDL, "reuse-xuidl", false, "show a message's X-UIDL header as its unique-id when it is valid and unique (Dovecot's pop3_reuse_xuidl)")
	fs.StringVar(&o.deletedFlag, "deleted-flag", "", "DELE and QUIT set this IMAP `KEYWORD` instead of removing the message, which POP3 then no longer lists (Dovecot's pop3_deleted_flag)")
	fs.BoolVar(&o.noFlagUpdates, "no-flag-updates", false, "leave the messages' flags alone: no move from new/ to cur/, no seen flag on RETR (Dovecot's pop3_no_flag_updates)")
	fs.BoolVar(&o.ignoreXUIDL, "ignore-xuidl", false, "show Dovecot's unique-id (%08Xu%08Xv) for a message with an X-UIDL header too, as Dovecot does by default (pop3_reuse_xuidl = no): for spools that Dovecot served; without it, qpopper's X-UIDL is shown")
	fs.StringVar(&o.postgres, "postgres", "", "serve the users and mail of the PostgreSQL database at `DSN` (a postgres:// URL; put the password in PGPASSWORD or ~/.pgpass, not here, where ps shows it); migrates its schema")
	fs.DurationVar(&o.postgresLease, "postgres-lease", postgres.DefaultLeaseTime, "with -postgres: a maildrop lock outlives a dead node by at most this `DURATION`")
	fs.StringVar(&o.lmtp, "lmtp", "", "accept mail for the store's users over LMTP on `ADDR`: TCP HOST:PORT, or a unix socket path (an ADDR containing \"/\")")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate `FILE` (needs -tls-key): enables STLS and implicit TLS; re-read on SIGHUP")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key `FILE` of -tls-cert")
	fs.BoolVar(&o.tlsSelfSigned, "tls-self-signed", false, "enable STLS and implicit TLS with a generated self-signed certificate for localhost")
	fs.BoolVar(&o.insecureAuth, "insecure-auth", false, "allow cleartext logins from non-loopback addresses without TLS")
	fs.IntVar(&o.authCacheSize, "auth-cache-size", passwd.DefaultCacheSize, "remember the last good password of up to `N` users of -maildir, -mbox or -postgres (as keyed MACs, never the password), so that a repeat login runs no password hash; 0 turns it off")
	fs.DurationVar(&o.authCacheTTL, "auth-cache-ttl", passwd.DefaultCacheTTL, "trust a remembered password for this `DURATION`, after which the hash runs again (a changed hash is noticed at once; while the user database cannot be reached, remembered passwords are used past it, as by Dovecot)")
	fs.DurationVar(&o.authFailureDelay, "auth-failure-delay", pop3.DefaultAuthFailureDelay, "wait this `DURATION` before answering a failed login; 0 for none")
	fs.DurationVar(&o.authPenalty, "auth-penalty", pop3.DefaultMaxAuthPenalty, "the most a client address waits before each login after repeated failures (2s, 4s, 8s... up to this `DURATION`); every client behind one address (NAT, webmail) shares it; 0 turns it off")
	fs.Func("trusted-networks", "spare clients in these `CIDR[,CIDR...]` (a webmail host, a monitoring probe) the per-address penalty, and let them log in in cleartext without TLS", func(v string) error {
		prefixes, err := parsePrefixes(v)
		o.trustedNetworks = prefixes
		return err
	})
	fs.IntVar(&o.maxConnections, "max-connections", pop3.DefaultMaxConnections, "serve at most `N` connections at once")
	fs.IntVar(&o.maxConnectionsPerIP, "max-connections-per-ip", pop3.DefaultMaxConnectionsPerIP, "serve at most `N` connections from one client address")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", pop3.DefaultIdleTimeout, "close a connection idle for this `DURATION` (RFC 1939's minimum is 10m)")
	fs.DurationVar(&o.loginDelay, "login-delay", 0, "refuse a user's login sooner than this `DURATION` after their last one, and announce it as LOGIN-DELAY (RFC 2449)")
	fs.Func("expire", "remove messages at QUIT `DAYS` days after their first retrieval (0: at the QUIT of the session that retrieved them), and announce it as EXPIRE; never, the default, keeps them (RFC 2449)", func(v string) error {
		e, err := pop3.ParseExpire(v)
		o.expire = e
		return err
	})
	fs.StringVar(&o.language, "language", "", "the language of replies after LANG * (RFC 6856): `TAG`, one of "+strings.Join(pop3.Languages(), ", ")+" (default en)")
	fs.Func("disable", "remove these extensions, as a server without them, for testing clients: `EXT[,EXT...]` of CAPA, TOP, UIDL, USER, SASL, STLS, PIPELINING, RESP-CODES, AUTH-RESP-CODE, APOP, LAST, UTF8, LANG", func(v string) error {
		exts, err := pop3.ParseExtensions(v)
		o.disable = append(o.disable, exts...)
		return err
	})
	fs.Func("client-workarounds", "bend RETR and TOP for broken clients, as Dovecot's pop3_client_workarounds: `NAME[,NAME...]` of outlook-no-nuls (NUL octets sent as 0x80), oe-ns-eoh (the empty line added after a header that lacks it)", func(v string) error {
		ws, err := pop3.ParseWorkarounds(v)
		o.clientWorkarounds = append(o.clientWorkarounds, ws...)
		return err
	})
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus /metrics and /healthz over HTTP on `HOST:PORT`")
	fs.StringVar(&o.logFormat, "log-format", "text", "log records as `text` or json")
	fs.TextVar(&o.logLevel, "log-level", slog.LevelInfo, "log at this `LEVEL` and above: debug, info, warn or error")
	fs.BoolVar(&o.debug, "debug", false, "trace every session's protocol to stderr (passwords redacted) and log at debug level")
	fs.DurationVar(&o.shutdownGrace, "shutdown-grace", defaultShutdownGrace, "on SIGTERM, let commands in progress finish for this `DURATION`")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.Usage = func() { printUsage(fs) }

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &usageError{err} // flag has printed it and the usage
	}
	var problem string
	switch {
	case fs.NArg() > 0:
		problem = fmt.Sprintf("unexpected argument %q", fs.Arg(0))
	case (o.tlsCert == "") != (o.tlsKey == ""):
		problem = "-tls-cert and -tls-key go together"
	case o.tlsCert != "" && o.tlsSelfSigned:
		problem = "-tls-self-signed cannot be combined with -tls-cert and -tls-key"
	case countSet(o.maildir, o.mbox, o.load, o.postgres) > 1:
		problem = "-maildir, -mbox, -postgres and -load are four stores: choose one"
	case o.maildir != "" && o.userSources() == 0:
		problem = "-maildir needs its users: -passwd, -sql, -ldap or -system-users"
	case o.mbox != "" && o.userSources() == 0:
		problem = "-mbox needs its users: -passwd, -sql, -ldap or -system-users"
	case o.userSources() > 1:
		problem = "-passwd, -sql, -ldap and -system-users are four user databases: choose one"
	case o.mbox == "" && o.ignoreXUIDL:
		problem = "-ignore-xuidl is a setting of -mbox, which is missing"
	case !o.systemUsers && o.firstValidUID != passwd.DefaultFirstValidUID:
		problem = "-first-valid-uid is a setting of -system-users, which is missing"
	case o.firstValidUID > math.MaxUint32:
		problem = "-first-valid-uid must be a uid: at most 4294967295"
	case o.maildir == "" && o.mbox == "" && o.userSources() > 0:
		problem = "-passwd, -sql, -ldap and -system-users are the users of -maildir or -mbox, which is missing"
	case o.maildir == "" && (o.uidlFormat != "" || o.saveUIDL || o.reuseXUIDL || o.deletedFlag != "" || o.noFlagUpdates):
		problem = "-uidl-format, -save-uidl, -reuse-xuidl, -deleted-flag and -no-flag-updates are settings of -maildir, which is missing"
	case o.postgresLease < time.Second:
		problem = "-postgres-lease must be at least 1s"
	case o.maildirCache < 0:
		problem = "-maildir-cache must be 0 or more"
	case o.logFormat != "text" && o.logFormat != "json":
		problem = fmt.Sprintf("-log-format must be text or json, not %q", o.logFormat)
	case o.maxConnections < 0 || o.maxConnectionsPerIP < 0 || o.idleTimeout < 0:
		problem = "-max-connections, -max-connections-per-ip and -idle-timeout must be 0 (the default) or more"
	case o.shutdownGrace < 0:
		problem = "-shutdown-grace must be 0 or more"
	case o.authCacheSize < 0:
		problem = "-auth-cache-size must be 0 (no cache) or more"
	case o.authCacheTTL <= 0:
		problem = "-auth-cache-ttl must be more than 0 (-auth-cache-size 0 turns the cache off)"
	case o.authFailureDelay < 0:
		problem = "-auth-failure-delay must be 0 (none) or more"
	case o.authPenalty < 0:
		problem = "-auth-penalty must be 0 (none) or more"
	case o.loginDelay < 0:
		problem = "-login-delay must be 0 (the default: none) or more"
	case o.language != "" && !validLanguage(o.language):
		problem = fmt.Sprintf("-language must be one of %s, not %q", strings.Join(pop3.Languages(), ", "), o.language)
	}
	if problem != "" {
		fmt.Fprintf(fs.Output(), "pop3d: %s\n", problem)
		fs.Usage()
		return nil, &usageError{errors.New(problem)}
	}
	if o.debug {
		o.logLevel = min(o.logLevel, slog.LevelDebug)
	}
	return &o, nil
}

func validLanguage(tag string) bool {
	_, ok := pop3.MatchLanguage(tag)
	return ok
}

// countSet counts the values that are not empty.
func countSet(values ...string) int {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	return n
}

// parseCIDRs parses a comma-separated list of CIDR prefixes; a bare
// address stands for itself alone.
func parseCIDRs(v string) ([]*net.IPNet, error) {
	var nets []*net.IPNet
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			ip := net.ParseIP(f)
			if ip == nil {
				return nil, fmt.Errorf("%q is neither an address nor a CIDR prefix", f)
			}
			bits := 8 * len(ip.To16())
			if ip4 := ip.To4(); ip4 != nil {
				ip, bits = ip4, 32
			}
			nets = append(nets, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR prefix", f)
		}
		nets = append(nets, n)
	}
	if len(nets) == 0 {
		return nil, errors.New("no CIDR prefix given")
	}
	return nets, nil
}

// parsePrefixes parses a comma-separated list of CIDR prefixes, as
// parseCIDRs does, into netip prefixes with IPv4 ones in IPv4 form. A
// masked IPv4-mapped prefix is at least 96 bits long (its ffff is kept), so
// every one is an IPv4 prefix.
func parsePrefixes(v string) ([]netip.Prefix, error) {
	nets, err := parseCIDRs(v)
	if err != nil {
		return nil, err
	}
	prefixes := make([]netip.Prefix, len(nets))
	for i, n := range nets {
		ip, _ := netip.AddrFromSlice(n.IP) // 4 or 16 octets from net.ParseCIDR or To4
		ones, _ := n.Mask.Size()
		if ip.Is4In6() {
			ip, ones = ip.Unmap(), ones-96
		}
		prefixes[i] = netip.PrefixFrom(ip, ones).Masked()
	}
	return prefixes, nil
}

// userSources counts the user databases the flags name.
func (o *options) userSources() int {
	n := countSet(o.passwd, o.sqlConf, o.ldapConf)
	if o.systemUsers {
		n++
	}
	return n
}

// printUsage prints the flags by group, in the format of
// flag.PrintDefaults.
func printUsage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprintf(w, "Usage: pop3d [flags]\n\n"+
		"pop3d is a POP3 server. With -maildir or -mbox and their users (-passwd, -sql, -ldap or\n"+
		"-system-users) it serves Maildirs or mbox spools as Dovecot does; without them, a demo\n"+
		"in-memory mailbox (user demo, password demo). Started by systemd socket activation, it\n"+
		"serves the sockets named pop3 (with STLS) and pop3s (implicit TLS).\n"+
		"SIGTERM or SIGINT stops it gracefully; SIGHUP re-reads -tls-cert and -tls-key.\n"+
		"APOP is offered only when some user has a cleartext password ({PLAIN} in -passwd or\n"+
		"-postgres; default_pass_scheme = PLAIN for -sql and -ldap), as found at start-up.\n")
	for _, g := range flagGroups {
		fmt.Fprintf(w, "\n%s:\n", g.title)
		for _, name := range g.names {
			f := fs.Lookup(name)
			arg, usage := flag.UnquoteUsage(f)
			line := "  -" + f.Name
			if arg != "" {
				line += " " + arg
			}
			fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" && f.DefValue != "0s" {
				fmt.Fprintf(w, " (default %q)", f.DefValue)
			}
			fmt.Fprintln(w)
		}
	}
}
