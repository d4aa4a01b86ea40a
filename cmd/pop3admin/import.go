package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/maildir"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/postgres"
)

// "pop3admin import" copies users' mail from another POP3 server into
// pop3d's store, each message under the unique-id the old server showed
// (RFC 1939 §7), so that clients that leave mail on the server download
// nothing again once they are pointed at pop3d. It is not "migrate", which
// upgrades the database schema.

// Defaults and bounds of import's flags.
const (
	defaultImportParallel = 4
	maxImportParallel     = 64
	defaultImportTimeout  = time.Minute
)

// importTarget is a store that takes messages under given unique-ids: the
// maildir and postgres backends' Import and Listing.
type importTarget interface {
	// Listing lists the messages of the user's maildrop, each with the
	// unique-id UIDL shows and the size LIST shows (octets with CRLF line
	// ends, RFC 1939 §11); an unknown user wraps pop3.ErrNoSuchUser.
	Listing(ctx context.Context, username string) ([]pop3.MessageInfo, error)
	// Import stores msg under uidl once it is read whole, or nothing.
	Import(ctx context.Context, username, uidl string, msg io.Reader) error
}

// importDest is the opened destination.
type importDest struct {
	target importTarget
	// exists is the store's error (wrapped by Import) for a unique-id a
	// message of the maildrop shows already: a copy of the same message
	// that got there first, or another message altogether (a unique-id
	// the store computes, such as Maildir's %u, can equal the source's).
	exists error
	// into names the destination, in the journals' header.
	into  string
	close func()
}

// importAccount is a user to copy.
type importAccount struct {
	name     string // the name on both servers (the store normalises it)
	password string // the user's password; "" with -master
}

// importFlags is "import".
func importFlags(fs *flag.FlagSet) func(*env, []string) error {
	var (
		o        importOptions
		d        dbFlags
		maildirT string
		sqlConf  string
		ldapConf string
		pwFile   string
		uidl     maildirUIDLFlags
	)
	fs.StringVar(&o.from, "from", "", "copy from the POP3 server at `URL`: pop3s://HOST[:995] (implicit TLS) or pop3://HOST[:110] (STLS, required unless HOST is loopback or -insecure is given)")
	fs.StringVar(&o.usersFile, "users", "", "the users to copy: a `FILE` of user:password lines (the password is all after the first ':'; blank lines and # comments skipped); with -master, of user names")
	fs.StringVar(&o.master, "master", "", "log in to the source as USER*`NAME` with this master user's password, read from stdin (Dovecot's auth_master_user_separator=*, UW's); the users come from -users FILE or the arguments")
	fs.StringVar(&maildirT, "maildir", "", "copy into the Maildirs at `TEMPLATE`, as pop3d's -maildir (%u user, %n local part, %d domain, %h home); needs -passwd, -sql or -ldap")
	fs.StringVar(&pwFile, "passwd", "", "the users of -maildir: a Dovecot passwd-file `FILE`")
	fs.StringVar(&sqlConf, "sql", "", "the users of -maildir: the SQL database that Dovecot's dovecot-sql.conf.ext `FILE` describes")
	fs.StringVar(&ldapConf, "ldap", "", "the users of -maildir: the LDAP directory that Dovecot's dovecot-ldap.conf.ext `FILE` describes")
	fs.StringVar(&uidl.format, "uidl-format", "", "with -maildir: the `FORMAT` (or preset) of pop3d's -uidl-format, so that a message already there under the unique-id pop3d shows is not copied again")
	fs.BoolVar(&uidl.reuseXUIDL, "reuse-xuidl", false, "with -maildir: as pop3d's -reuse-xuidl, for the same check")
	d.define(fs)
	fs.StringVar(&o.state, "state", "", "remember what was copied in journals under `DIR`, one per source host and user, so that a rerun copies only what is new (default $XDG_STATE_HOME/pop3admin/import, or ~/.local/state/pop3admin/import)")
	fs.BoolVar(&o.delete, "delete", false, "delete from the source the messages that are in the destination, copied now or before; one left out for its unique-id (refused by RFC 1939, shared by two messages, or shown by another message of the destination) stays there and fails its user; without -delete the source is left untouched")
	fs.IntVar(&o.parallel, "parallel", defaultImportParallel, fmt.Sprintf("copy `N` users at once, 1 to %d (default %d)", maxImportParallel, defaultImportParallel))
	fs.StringVar(&o.caFile, "ca", "", "trust the certificate authorities in this PEM `FILE` too, for a source with a private CA")
	fs.BoolVar(&o.skipVerify, "insecure-skip-verify", false, "do not check the source's TLS certificate: anyone between can read the passwords")
	fs.BoolVar(&o.insecure, "insecure", false, "let pop3:// log in without TLS when the server offers no STLS: the passwords cross the network in cleartext")
	fs.DurationVar(&o.timeout, "timeout", defaultImportTimeout, "give up on a source that sends or takes nothing for this `DURATION` (default 1m)")
	return func(e *env, args []string) error {
		src, err := o.check(args)
		if err != nil {
			return err
		}
		dsn := d.dsn
		if dsn == "" {
			dsn = e.dsn
		}
		switch {
		case maildirT != "" && dsn != "":
			return usagef("import: -maildir and -postgres are two destinations: choose one")
		case maildirT != "" && countNonEmpty(pwFile, sqlConf, ldapConf) != 1:
			return usagef("import: -maildir needs its users: one of -passwd FILE, -sql FILE and -ldap FILE")
		case maildirT == "" && (uidl.format != "" || uidl.reuseXUIDL):
			return usagef("import: -uidl-format and -reuse-xuidl are settings of -maildir, which is missing")
		case maildirT == "" && countNonEmpty(pwFile, sqlConf, ldapConf) > 0:
			return usagef("import: -passwd, -sql and -ldap are the users of -maildir, which is missing")
		case maildirT == "" && dsn == "" && os.Getenv(dsnEnv) == "":
			return usagef("import: give the destination: -maildir TEMPLATE with -passwd, -sql or -ldap, or -postgres DSN (or $%s)", dsnEnv)
		}
		accounts, err := o.accounts(args, e.stderr)
		if err != nil {
			return err
		}
		tlsConfig, err := importTLSConfig(o.caFile, o.skipVerify)
		if err != nil {
			return err
		}
		if o.skipVerify {
			fmt.Fprintln(e.stderr, "pop3admin: warning: -insecure-skip-verify: the source's certificate is not checked, so whoever answers gets the passwords")
		}
		state, err := importStateDir(o.state)
		if err != nil {
			return err
		}
		var masterPassword string
		if o.master != "" {
			pw, err := readPasswordFrom(e.stdin, e.stderr, false)
			if err != nil {
				return fmt.Errorf("the master password: %w", err)
			}
			masterPassword = string(pw)
			clear(pw)
		}

		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		var dest *importDest
		if maildirT != "" {
			dest, err = openMaildirDest(maildirT, sqlConf, ldapConf, pwFile, uidl, e.stderr)
		} else {
			dest, err = openPostgresDest(ctx, &d, e)
		}
		if err != nil {
			return err
		}
		defer dest.close()
		im := &importer{
			source:   sourceConfig{url: src, tls: tlsConfig, cleartext: o.insecure, timeout: o.timeout},
			dest:     dest,
			journals: filepath.Join(state, journalDirName(src.host)),
			master:   o.master, masterPassword: masterPassword,
			delete:   o.delete,
			parallel: o.parallel,
			out:      e.stdout,
		}
		return im.run(ctx, accounts)
	}
}

// importOptions are import's flags but those of the destination.
type importOptions struct {
	from, usersFile, master string
	state                   string
	delete                  bool
	parallel                int
	caFile                  string
	skipVerify, insecure    bool
	timeout                 time.Duration
}

// check validates the flags that need no file, and parses -from.
func (o *importOptions) check(args []string) (sourceURL, error) {
	switch {
	case o.from == "":
		return sourceURL{}, usagef("import: give the source server: -from pop3s://HOST or -from pop3://HOST")
	case o.usersFile == "" && o.master == "":
		return sourceURL{}, usagef("import: give the users: -users FILE of user:password lines, or -master NAME with user names")
	case o.master == "" && len(args) > 0:
		return sourceURL{}, usagef("import: unexpected argument %q: without -master the users and their passwords come from -users FILE, never from the command line", args[0])
	case o.master != "" && o.usersFile == "" && len(args) == 0:
		return sourceURL{}, usagef("import: -master needs the user names: -users FILE, or as arguments")
	case o.master != "" && (hasControl(o.master) || strings.ContainsAny(o.master, " \t*")):
		return sourceURL{}, usagef("import: -master %q is not a user name", o.master)
	case o.parallel < 1 || o.parallel > maxImportParallel:
		return sourceURL{}, usagef("import: -parallel must be 1 to %d", maxImportParallel)
	case o.timeout <= 0:
		return sourceURL{}, usagef("import: -timeout must be more than 0")
	case o.caFile != "" && o.skipVerify:
		return sourceURL{}, usagef("import: -ca and -insecure-skip-verify: trust a CA, or check nothing, not both")
	}
	src, err := parseSourceURL(o.from)
	if err != nil {
		return sourceURL{}, usagef("import: %v", err)
	}
	return src, nil
}

func countNonEmpty(values ...string) int {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	return n
}

// accounts reads the users of -users and the arguments. A user listed
// twice (after normalisation, as the store matches names) is refused: two
// copies of one maildrop at once would race.
func (o *importOptions) accounts(args []string, stderr io.Writer) ([]importAccount, error) {
	var accounts []importAccount
	if o.usersFile != "" {
		var err error
		accounts, err = readImportUsers(o.usersFile, o.master != "", stderr)
		if err != nil {
			return nil, err
		}
	}
	for _, a := range args {
		if a == "" || hasControl(a) || strings.ContainsAny(a, " \t:") {
			return nil, usagef("import: %q is not a user name", a)
		}
		accounts = append(accounts, importAccount{name: a})
	}
	seen := make(map[string]bool, len(accounts))
	for _, a := range accounts {
		if o.master != "" && strings.Contains(a.name, "*") {
			// The server would split "a*b*master" at the first "*".
			return nil, usagef("import: the user name %q holds the master separator \"*\"", a.name)
		}
		n := passwd.NormalizeUsername(a.name)
		if seen[n] {
			return nil, usagef("import: the user %q is listed twice", n)
		}
		seen[n] = true
	}
	if len(accounts) == 0 {
		return nil, usagef("import: %s lists no user", o.usersFile)
	}
	return accounts, nil
}

// readImportUsers reads -users: "user:password" lines, or user names with
// -master. Blank lines and lines starting with # are skipped. An error
// never quotes a password.
func readImportUsers(path string, master bool, stderr io.Writer) ([]importAccount, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("import: -users: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && !master && fi.Mode().Perm()&0o004 != 0 {
		fmt.Fprintf(stderr, "pop3admin: warning: %s holds passwords and every local user can read it\n", path)
	}
	var accounts []importAccount
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		name, pw, found := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		switch {
		case master && found:
			return nil, usagef("import: %s:%d: with -master, the file lists user names, without passwords", path, n)
		case !master && !found:
			return nil, usagef("import: %s:%d: not user:password", path, n)
		case name == "" || hasControl(name) || strings.ContainsAny(name, " \t"):
			return nil, usagef("import: %s:%d: no valid user name before the ':'", path, n)
		case !master && pw == "":
			return nil, usagef("import: %s:%d: the password of %q is empty", path, n, name)
		case !master && hasControl(pw):
			return nil, usagef("import: %s:%d: the password of %q holds a control character", path, n, name)
		}
		accounts = append(accounts, importAccount{name: name, password: pw})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("import: -users %s: %w", path, err)
	}
	return accounts, nil
}

// importTLSConfig verifies the source with the system's roots, and the
// CAs of caFile too.
func importTLSConfig(caFile string, skipVerify bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: skipVerify}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("import: -ca: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, usagef("import: -ca %s: no PEM certificate in it", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// importStateDir is -state, or its default under $XDG_STATE_HOME or the
// home directory.
func importStateDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if x := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "pop3admin", "import"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", usagef("import: give -state DIR: there is no home directory for the default (%v)", err)
	}
	return filepath.Join(home, ".local", "state", "pop3admin", "import"), nil
}

// importer copies the users' maildrops.
type importer struct {
	source         sourceConfig
	dest           *importDest
	journals       string // the journals' directory for this source
	master         string
	masterPassword string
	delete         bool
	parallel       int

	mu  sync.Mutex // serialises out
	out io.Writer
}

// userResult is what copying one user did.
type userResult struct {
	name                      string
	started                   bool
	onSource, copied, already int
	skipped, conflicts        int
	deleted                   int
	octets                    int64
	elapsed                   time.Duration
	err                       error
}

func (im *importer) printf(format string, args ...any) {
	im.mu.Lock()
	defer im.mu.Unlock()
	fmt.Fprintf(im.out, format, args...)
}

// run copies every account, -parallel at once, prints a line per user as
// it ends and a summary, and returns an error naming the users that
// failed.
func (im *importer) run(ctx context.Context, accounts []importAccount) error {
	start := time.Now()
	results := make([]userResult, len(accounts))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(im.parallel, len(accounts)) {
		wg.Go(func() {
			for i := range next {
				r := userResult{name: accounts[i].name}
				if ctx.Err() == nil {
					r = im.importUser(ctx, accounts[i])
					im.printf("%s\n", r.line())
				} else {
					r.err = errors.New("not started: interrupted")
				}
				results[i] = r
			}
		})
	}
	for i := range accounts {
		next <- i
	}
	close(next)
	wg.Wait()
	return im.summary(results, time.Since(start))
}

// line is the user's progress line.
func (r *userResult) line() string {
	counts := fmt.Sprintf("%d on the source, %d copied, %d already copied, %d deleted", r.onSource, r.copied, r.already, r.deleted)
	if r.skipped > 0 {
		counts += fmt.Sprintf(", %d skipped", r.skipped)
	}
	if r.conflicts > 0 {
		counts += fmt.Sprintf(", %d in conflict", r.conflicts)
	}
	counts += fmt.Sprintf(" (%s in %.1fs)", formatOctets(r.octets), r.elapsed.Seconds())
	if r.err != nil {
		return fmt.Sprintf("%s: FAILED: %v; %s", r.name, r.err, counts)
	}
	return r.name + ": " + counts
}

// summary prints the totals and the failed users with their reasons.
func (im *importer) summary(results []userResult, elapsed time.Duration) error {
	var total userResult
	var failed []string
	notStarted := 0
	for _, r := range results {
		total.copied += r.copied
		total.already += r.already
		total.deleted += r.deleted
		total.skipped += r.skipped
		total.conflicts += r.conflicts
		total.octets += r.octets
		if r.err != nil {
			failed = append(failed, r.name)
			if !r.started {
				notStarted++
			}
		}
	}
	im.printf("import: %d users, %d done, %d failed; %d messages copied, %d already copied, %d deleted, %d skipped, %d in conflict (%s in %.1fs)\n",
		len(results), len(results)-len(failed), len(failed), total.copied, total.already, total.deleted, total.skipped,
		total.conflicts, formatOctets(total.octets), elapsed.Seconds())
	for _, r := range results {
		if r.err != nil && r.started {
			im.printf("failed: %s: %v\n", r.name, r.err)
		}
	}
	if notStarted > 0 {
		im.printf("not started (interrupted): %d users\n", notStarted)
	}
	if len(failed) == 0 {
		return nil
	}
	names := failed
	if len(names) > 20 {
		names = append(names[:20:20], fmt.Sprintf("and %d more", len(failed)-20))
	}
	return fmt.Errorf("import: %d of %d users failed: %s", len(failed), len(results), strings.Join(names, ", "))
}

// formatOctets writes n in decimal units, as "3.2 MB".
func formatOctets(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, suffix := float64(n)/unit, "kB"
	for _, s := range []string{"MB", "GB", "TB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}

// importUser copies one user's maildrop.
func (im *importer) importUser(ctx context.Context, a importAccount) (r userResult) {
	r = userResult{name: a.name, started: true}
	start := time.Now()
	defer func() {
		r.elapsed = time.Since(start)
		if r.err != nil && ctx.Err() != nil {
			r.err = fmt.Errorf("interrupted: %w", r.err)
		}
	}()
	r.err = im.copyUser(ctx, a, &r)
	return r
}

// copyUser is importUser, filling r in as it goes.
//
// A message is in the destination when the journal has its unique-id, or
// when the destination shows a message of the same size under it
// (sameMessage); only those are journaled, and only journaled ones are
// deleted with -delete. A message left out for its unique-id (skipped,
// or in conflict with another message of the destination) stays on the
// source and fails the user, but the others are still deleted: each of
// them is in the destination. An error that stops the copy (the store,
// the source, the journal) deletes nothing.
func (im *importer) copyUser(ctx context.Context, a importAccount, r *userResult) error {
	user := passwd.NormalizeUsername(a.name)
	j, err := openJournal(im.journals, user, im.dest.into)
	if err != nil {
		return err
	}
	defer j.close()
	dest, err := im.listDest(ctx, a.name)
	if errors.Is(err, pop3.ErrNoSuchUser) {
		return fmt.Errorf("no such user in the destination (add the user first): %w", err)
	}
	if err != nil {
		return err
	}

	c, err := dialSource(ctx, &im.source)
	if err != nil {
		return err
	}
	// A session that ends early ends with QUIT while no DELE was sent
	// (nothing is deleted, and the server sees a clean end), and without
	// once one was: then the server deletes nothing (RFC 1939 §6).
	quitted, marked := false, false
	quit := func() error {
		quitted = true
		return c.quit()
	}
	defer func() {
		if !quitted && !marked {
			_ = quit()
		}
		c.Close()
	}()
	login, password := a.name, a.password
	if im.master != "" {
		login, password = a.name+"*"+im.master, im.masterPassword
	}
	if err := c.login(login, password); err != nil {
		return fmt.Errorf("logging in to the source as %q: %w", login, err)
	}
	entries, err := c.uidl()
	if err != nil {
		return fmt.Errorf("listing the source's unique-ids: %w", err)
	}
	r.onSource = len(entries)
	sizes, err := sourceSizes(c, entries)
	if err != nil {
		return err
	}
	entries, problems := checkUIDLs(entries)
	for _, p := range problems {
		im.printf("%s: %s\n", a.name, p)
	}
	r.skipped = r.onSource - len(entries)

	var journaled []uidlEntry // in the destination: the ones -delete deletes
	for _, e := range entries {
		m := im.copyEntry(ctx, c, j, a.name, e, sizes[e.num], &dest)
		r.octets += m.octets
		if m.err != nil {
			return m.err
		}
		switch m.outcome {
		case outcomeConflict:
			r.conflicts++
			im.printf("%s: message %d: the destination has another message under unique-id %q (%d octets, the source's has %d): not copied, left on the source\n",
				a.name, e.num, e.uidl, m.destSize, sizes[e.num])
			continue
		case outcomeCopied:
			r.copied++
		default:
			r.already++
		}
		if err := j.add(e.uidl); err != nil {
			return err
		}
		journaled = append(journaled, e)
	}
	if err := j.sync(); err != nil {
		return err
	}
	left := leftOnSource(r)
	if !im.delete || len(journaled) == 0 {
		if err := quit(); err != nil && left == nil {
			return err
		}
		return left
	}
	// The journal is synced: every message in it is in the destination
	// (or was, and was deleted there by its user). The deletions happen
	// at QUIT only: a DELE refused leaves the session without QUIT.
	marked = true
	for _, e := range journaled {
		if err := c.dele(e.num); err != nil {
			return fmt.Errorf("deleting from the source (nothing was deleted): %w", err)
		}
	}
	if err := quit(); err != nil {
		return fmt.Errorf("deleting from the source (messages may remain there): %w", err)
	}
	r.deleted = len(journaled)
	return left
}

// leftOnSource is the user's failure when messages were left on the
// source for their unique-ids, or nil.
func leftOnSource(r *userResult) error {
	var parts []string
	if r.skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d messages skipped for their unique-ids", r.skipped))
	}
	if r.conflicts > 0 {
		parts = append(parts, fmt.Sprintf("%d messages not copied: the destination has other messages under their unique-ids", r.conflicts))
	}
	if len(parts) == 0 {
		return nil
	}
	return fmt.Errorf("%s (listed above); they are still on the source", strings.Join(parts, "; "))
}

// copyMessage retrieves message e and imports it, streaming. It returns
// the octets read.
func (im *importer) copyMessage(ctx context.Context, c *sourceConn, user string, e uidlEntry) (int64, error) {
	body, err := c.retr(e.num)
	if err != nil {
		return 0, fmt.Errorf("retrieving message %d from the source: %w", e.num, err)
	}
	err = im.dest.target.Import(ctx, user, e.uidl, body)
	if body.err != nil && !body.atEnd() {
		// The source failed (the store then stored nothing, since its
		// reader failed); the session is lost.
		return body.n, fmt.Errorf("retrieving message %d from the source: %w", e.num, body.err)
	}
	if !body.atEnd() {
		// The store stopped reading: read the rest, so that the session
		// can go on to QUIT, and see whether there was a rest.
		before := body.n
		if derr := body.drain(); derr != nil {
			return body.n, fmt.Errorf("retrieving message %d from the source: %w", e.num, errors.Join(derr, err))
		}
		if err == nil && body.n > before {
			return body.n, fmt.Errorf("importing message %d (unique-id %q): the store did not read the whole message", e.num, e.uidl)
		}
	}
	if err != nil && !errors.Is(err, im.dest.exists) {
		return body.n, fmt.Errorf("importing message %d (unique-id %q): %w", e.num, e.uidl, err)
	}
	return body.n, err
}

// checkUIDLs returns the entries whose unique-ids can be kept, in the
// source's order, and a report for each of the others: one that RFC 1939
// §7 forbids, or one that several messages share. Importing those under a
// unique-id of our making would make clients download them again, or
// never; they are left for the operator.
func checkUIDLs(entries []uidlEntry) ([]uidlEntry, []string) {
	byUIDL := make(map[string][]int, len(entries))
	for _, e := range entries {
		byUIDL[e.uidl] = append(byUIDL[e.uidl], e.num)
	}
	var ok []uidlEntry
	var problems []string
	reported := make(map[string]bool)
	for _, e := range entries {
		switch nums := byUIDL[e.uidl]; {
		case !pop3.ValidUID(e.uidl):
			problems = append(problems, fmt.Sprintf("message %d skipped: its unique-id %q breaks RFC 1939 §7 (1 to 70 characters from 0x21 to 0x7E)", e.num, abbreviate([]byte(e.uidl))))
		case len(nums) > 1:
			if !reported[e.uidl] {
				reported[e.uidl] = true
				problems = append(problems, fmt.Sprintf("messages %s skipped: they share the unique-id %q", joinInts(nums), e.uidl))
			}
		default:
			ok = append(ok, e)
		}
	}
	return ok, problems
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	sort.Ints(ns)
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

// maildirUIDLFlags are pop3d's flags that decide the unique-ids a Maildir
// shows: import compares the source's with those.
type maildirUIDLFlags struct {
	format     string
	reuseXUIDL bool
}

// openMaildirDest opens the Maildirs of -maildir, with the users of
// -passwd, -sql or -ldap, as pop3d does.
func openMaildirDest(template, sqlConf, ldapConf, pwFile string, uidl maildirUIDLFlags, stderr io.Writer) (*importDest, error) {
	// What the store logs (a user database that fails) is shown.
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	users, closeUsers, err := openUserDB(sqlConf, ldapConf, pwFile, false, logger)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	opts := []maildir.Option{maildir.WithLogger(logger)}
	if uidl.format != "" {
		opts = append(opts, maildir.WithUIDLFormat(uidl.format))
	}
	if uidl.reuseXUIDL {
		opts = append(opts, maildir.WithReuseXUIDL())
	}
	b, err := maildir.New(template, users, opts...)
	if err != nil {
		closeUsers()
		return nil, usagef("import: -maildir: %v", err)
	}
	return &importDest{target: b, exists: maildir.ErrUIDLExists, into: "maildir " + template, close: closeUsers}, nil
}

// openPostgresDest opens the database of -postgres or $POP3_POSTGRES,
// migrating its schema first as every command does.
func openPostgresDest(ctx context.Context, d *dbFlags, e *env) (*importDest, error) {
	s, err := d.open(ctx, e, false)
	if err != nil {
		return nil, err
	}
	return &importDest{target: s.backend, exists: postgres.ErrUIDLExists, into: "postgres " + databaseName(d, e), close: s.Close}, nil
}

// databaseName names the database of the DSN, without its password, as
// "HOST:PORT/DATABASE".
func databaseName(d *dbFlags, e *env) string {
	dsn := d.dsn
	if dsn == "" {
		dsn = e.dsn
	}
	if dsn == "" {
		dsn = os.Getenv(dsnEnv)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return "(unparsed DSN)" // open parsed it; this is not reached
	}
	return fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}
