package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/ldapdb"
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/mbox"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/sqldb"
)

// authTestTimeout bounds the lookups of auth-test.
const authTestTimeout = 30 * time.Second

// authTestFlags is "auth-test", like doveadm auth test: it logs NAME in as
// pop3d would, with the password read from stdin, and prints the user's
// fields.
func authTestFlags(fs *flag.FlagSet) func(*env, []string) error {
	var sqlConf, ldapConf, passwdFile, template, mboxTemplate, remote string
	var systemUsers bool
	var firstValidUID uint
	fs.StringVar(&sqlConf, "sql", "", "the users are in the SQL database of this dovecot-sql.conf.ext `FILE`")
	fs.StringVar(&ldapConf, "ldap", "", "the users are in the LDAP directory of this dovecot-ldap.conf.ext `FILE`")
	fs.StringVar(&passwdFile, "passwd", "", "the users are in this Dovecot passwd-file `FILE`")
	fs.BoolVar(&systemUsers, "system-users", false, "the users are the system's accounts (/etc/passwd, /etc/shadow), as pop3d -system-users")
	fs.UintVar(&firstValidUID, "first-valid-uid", passwd.DefaultFirstValidUID, "with -system-users: the lowest `UID` that may log in, as pop3d's -first-valid-uid")
	fs.StringVar(&template, "maildir", "%h/Maildir", "pop3d's -maildir `TEMPLATE`, against which the user's mail location is checked")
	fs.StringVar(&mboxTemplate, "mbox", "", "pop3d's -mbox `TEMPLATE` (such as /var/mail/%u), against which the user's spool is checked, instead of -maildir")
	fs.StringVar(&remote, "remote", "", "log in as a client at this IP `ADDRESS` would, for allow_nets (default: a local client)")
	return func(e *env, args []string) error {
		name, err := nameArg("auth-test", args)
		if err != nil {
			return err
		}
		set := 0
		for _, s := range []string{sqlConf, ldapConf, passwdFile} {
			if s != "" {
				set++
			}
		}
		if systemUsers {
			set++
		}
		if set != 1 {
			return usagef("auth-test: give the user database: one of -sql FILE, -ldap FILE, -passwd FILE and -system-users")
		}
		var conn *pop3.ConnInfo
		if remote != "" {
			ip, err := netip.ParseAddr(remote)
			if err != nil {
				return usagef("auth-test: -remote %q is not an IP address", remote)
			}
			conn = &pop3.ConnInfo{RemoteAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0))}
		}
		// What the store logs (the reason a login is refused) is shown.
		logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		users, closeUsers, err := openUserDB(sqlConf, ldapConf, passwdFile, systemUsers, logger)
		if err != nil {
			return err
		}
		if s, ok := users.(*passwd.System); ok {
			s.FirstValidUID = uint32(min(firstValidUID, math.MaxUint32))
		}
		defer closeUsers()
		var backend pop3.Backend
		if mboxTemplate != "" {
			backend, err = mbox.New(mboxTemplate, users, mbox.WithLogger(logger))
			if err != nil {
				return usagef("auth-test: -mbox: %v", err)
			}
		} else if backend, err = maildir.New(template, users, maildir.WithLogger(logger)); err != nil {
			return usagef("auth-test: -maildir: %v", err)
		}
		pw, err := readPasswordFrom(e.stdin, e.stderr, false)
		if err != nil {
			return err
		}
		defer clear(pw)
		ctx, cancel := context.WithTimeout(context.Background(), authTestTimeout)
		defer cancel()
		if conn != nil {
			ctx = pop3.ContextWithConnInfo(ctx, conn)
		}
		return authTest(ctx, e.stdout, backend, users, conn, name, pw)
	}
}

// openUserDB opens the user database of one of the flags.
func openUserDB(sqlConf, ldapConf, passwdFile string, systemUsers bool, logger *slog.Logger) (passwd.Source, func(), error) {
	switch {
	case systemUsers:
		s, err := passwd.OpenSystem("", "")
		if err != nil {
			return nil, nil, err
		}
		s.Logger = logger
		return s, func() {}, nil
	case sqlConf != "":
		db, err := sqldb.OpenFile(sqlConf, sqldb.WithLogger(logger))
		if err != nil {
			return nil, nil, err
		}
		return db, func() { db.Close() }, nil
	case ldapConf != "":
		db, err := ldapdb.OpenFile(ldapConf, ldapdb.WithLogger(logger))
		if err != nil {
			return nil, nil, err
		}
		return db, func() { db.Close() }, nil
	}
	f, err := passwd.OpenFile(passwdFile, logger)
	if err != nil {
		return nil, nil, err
	}
	return f, func() {}, nil
}

// authTest logs name in through backend, as pop3d does, and prints the
// outcome and the user's fields; never the password or its hash.
func authTest(ctx context.Context, w io.Writer, backend pop3.Backend, users passwd.Source, conn *pop3.ConnInfo, name string, pw []byte) error {
	looked := passwd.NormalizeUsername(name)
	entry, lookupErr := users.Lookup(ctx, looked)
	switch {
	case errors.Is(lookupErr, passwd.ErrNotFound):
		fmt.Fprintf(w, "user: %s\nresult: login refused: no such user\n", looked)
		return errAuthTestRefused
	case errors.Is(lookupErr, passwd.ErrInvalidEntry):
		fmt.Fprintf(w, "user: %s\nresult: login refused: %v\n", looked, lookupErr)
		return errAuthTestRefused
	case lookupErr != nil:
		return fmt.Errorf("auth-test: the user database failed (pop3d would answer -ERR [SYS/TEMP]): %w", lookupErr)
	}
	_, err := backend.Login(ctx, conn, name, string(pw))
	fmt.Fprintf(w, "user: %s\n", looked)
	printFields(w, entry)
	switch {
	case err == nil:
		fmt.Fprintf(w, "result: login succeeded\n")
		return nil
	case errors.Is(err, pop3.ErrAuthFailed):
		fmt.Fprintf(w, "result: login refused (a wrong password, or the reason logged above)\n")
		return errAuthTestRefused
	}
	return fmt.Errorf("auth-test: the user database failed (pop3d would answer -ERR [SYS/TEMP]): %w", err)
}

// errAuthTestRefused is a refused login: exit status 1, the reason already
// printed.
var errAuthTestRefused = errors.New("auth-test: login refused")

// printFields prints an entry without its password.
func printFields(w io.Writer, e *passwd.Entry) {
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "  %s: %s\n", k, v)
		}
	}
	field("dn", e.DN)
	field("home", e.Home)
	field("uid", e.UID)
	field("gid", e.GID)
	extra := append([]string(nil), e.Extra...)
	sort.Strings(extra)
	for _, x := range extra {
		k, v, _ := strings.Cut(x, "=")
		if strings.Contains(strings.ToLower(k), "pass") {
			v = "(hidden)"
		}
		field(k, v)
	}
}
