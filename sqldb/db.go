package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gopop3/pop3/internal/dovecotconf"
	"github.com/gopop3/pop3/passwd"
)

// Compile-time check: a DB is a password source for the maildir store.
var _ passwd.UserSource = (*DB)(nil)

// DefaultQueryTimeout bounds one query, unless the caller's context ends
// sooner: a database that hangs makes a login fail, not wait forever.
const DefaultQueryTimeout = 10 * time.Second

// DB is a Dovecot SQL user database: a [passwd.Source] whose Lookup runs
// the configuration's password_query (and user_query), with the user's
// name as a bound parameter. Open it with [Open] or [OpenFile]; it is safe
// for concurrent use and keeps a pool of at most maxconns connections,
// reconnecting by itself after the database restarts.
type DB struct {
	cfg    *compiled
	db     *sql.DB
	logger *slog.Logger
	// timeout bounds each query; see WithQueryTimeout.
	timeout time.Duration
}

// An Option configures a [DB].
type Option func(*DB)

// WithLogger sets where a DB logs what a client is not told (an entry
// that cannot be used, a retried query); the default is [slog.Default].
// Passwords and hashes are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(d *DB) {
		if l != nil {
			d.logger = l
		}
	}
}

// WithQueryTimeout bounds each query (see [DefaultQueryTimeout]).
func WithQueryTimeout(t time.Duration) Option {
	return func(d *DB) {
		if t > 0 {
			d.timeout = t
		}
	}
}

// Open checks cfg and returns its database. It does not connect: a
// database that is down when Open is called makes lookups fail until it
// is back, which [DB.Ping] tells.
func Open(cfg *Config, opts ...Option) (*DB, error) {
	c, err := cfg.compile(nil)
	if err != nil {
		return nil, err
	}
	return open(c, opts)
}

// OpenFile reads the dovecot-sql.conf.ext at path ([ReadConfig]) and opens
// its database.
func OpenFile(path string, opts ...Option) (*DB, error) {
	_, c, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	return open(c, opts)
}

func open(c *compiled, opts []Option) (*DB, error) {
	d := &DB{cfg: c, logger: slog.Default(), timeout: DefaultQueryTimeout}
	for _, o := range opts {
		o(d)
	}
	db, err := c.connect.open(d.logger)
	if err != nil {
		return nil, fmt.Errorf("sqldb: %w", err)
	}
	d.db = db
	return d, nil
}

// Ping connects to the database, if no connection is open, and reports
// whether it answers and whether it can prepare the queries: a query that
// names a table or column the database lacks fails here, rather than at
// every login.
func (d *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if err := d.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqldb: %w", err)
	}
	for _, q := range []struct {
		name string
		q    *query
	}{{"password_query", d.cfg.passwordQuery}, {"user_query", d.cfg.userQuery}} {
		if q.q == nil {
			continue
		}
		st, err := d.db.PrepareContext(ctx, q.q.text)
		if err != nil {
			return fmt.Errorf("sqldb: the database cannot prepare %s: %w", q.name, err)
		}
		st.Close()
	}
	return nil
}

// Close closes the connections.
func (d *DB) Close() error { return d.db.Close() }

// Lookup finds user (a name already normalised by the store, Dovecot's
// %Lu) with password_query, and, when that returned no userdb_ field and
// there is a user_query, with user_query too. It returns:
//
//   - an error wrapping [passwd.ErrNotFound] when password_query returns
//     no row;
//   - one wrapping [passwd.ErrInvalidEntry] when it returns more than one,
//     when the password is NULL or empty, or when user_query finds no row
//     or more than one: the store refuses such a login and logs why;
//   - any other error when the database fails, which a store reports as a
//     temporary failure.
//
// The entry's Password is the password column with default_pass_scheme
// put in front when it has no {SCHEME} (a password_noscheme column never
// has one read). The home column (or userdb_home) is its Home, uid and
// gid its UID and GID, and mail (or userdb_mail) an extra field
// "userdb_mail=..."; every other non-NULL column is an extra field
// "name=value" (nologin, allow_nets, reason, userdb_quota_rule ...). A
// user column that differs from the name looked up renames the user, as
// in Dovecot: it becomes an extra field "user=NAME", and the maildir
// store serves NAME's mail.
func (d *DB) Lookup(ctx context.Context, user string) (*passwd.Entry, error) {
	vals := dovecotconf.ValuesFor(ctx, user)
	rows, err := d.query(ctx, "password_query", d.cfg.passwordQuery, vals)
	if err != nil {
		return nil, err
	}
	switch len(rows) {
	case 0:
		return nil, fmt.Errorf("%w (sqldb password_query)", passwd.ErrNotFound)
	case 1:
	default:
		return nil, fmt.Errorf("%w: password_query returned %d rows for the user; Dovecot refuses such a login too", passwd.ErrInvalidEntry, len(rows))
	}
	e := &passwd.Entry{User: user}
	prefetch := false
	password, havePassword := "", false
	renamed := ""
	for _, f := range rows[0] {
		if strings.HasPrefix(f.name, "userdb_") {
			prefetch = true // even when NULL, as Dovecot's prefetch
		}
		if !f.valid {
			continue
		}
		switch f.name {
		case "password":
			password, havePassword = dovecotconf.WithScheme(f.value, d.cfg.defaultScheme, false), true
		case "password_noscheme":
			password, havePassword = dovecotconf.WithScheme(f.value, d.cfg.defaultScheme, true), true
		case "user":
			// Dovecot's rename (an alias mapped to its mailbox): the
			// store serves the mail of the name returned.
			if f.value != user {
				renamed = f.value
				e.Extra = append(e.Extra, "user="+f.value)
			}
		case "nopassword":
			return nil, fmt.Errorf("%w: password_query returned nopassword, which pop3d does not honour", passwd.ErrInvalidEntry)
		default:
			userdbName, userdb := strings.CutPrefix(f.name, "userdb_")
			dovecotconf.AddField(e, userdbName, f.value, userdb)
		}
	}
	if !havePassword || password == "" {
		return nil, fmt.Errorf("%w: password_query returned no password (a NULL or empty password column)", passwd.ErrInvalidEntry)
	}
	e.Password = password
	if !prefetch && d.cfg.userQuery != nil {
		if renamed != "" {
			// Dovecot asks the userdb for the renamed user.
			vals = dovecotconf.ValuesFor(ctx, renamed)
		}
		rows, err := d.query(ctx, "user_query", d.cfg.userQuery, vals)
		if err != nil {
			return nil, err
		}
		if len(rows) != 1 {
			return nil, fmt.Errorf("%w: user_query returned %d rows for the user (one expected)", passwd.ErrInvalidEntry, len(rows))
		}
		for _, f := range rows[0] {
			if f.valid {
				dovecotconf.AddField(e, strings.TrimPrefix(f.name, "userdb_"), f.value, true)
			}
		}
	}
	return e, nil
}

// LookupUser finds user for delivery, as Dovecot's LMTP does: with
// user_query alone when there is one (no password is read, so a user
// whose password is NULL still gets mail), else as Lookup does. Its errors
// are Lookup's.
func (d *DB) LookupUser(ctx context.Context, user string) (*passwd.Entry, error) {
	if d.cfg.userQuery == nil {
		e, err := d.Lookup(ctx, user)
		if e != nil {
			e.Password = ""
		}
		return e, err
	}
	rows, err := d.query(ctx, "user_query", d.cfg.userQuery, dovecotconf.ValuesFor(ctx, user))
	if err != nil {
		return nil, err
	}
	switch len(rows) {
	case 0:
		return nil, fmt.Errorf("%w (sqldb user_query)", passwd.ErrNotFound)
	case 1:
	default:
		return nil, fmt.Errorf("%w: user_query returned %d rows for the user (one expected)", passwd.ErrInvalidEntry, len(rows))
	}
	e := &passwd.Entry{User: user}
	for _, f := range rows[0] {
		if f.valid {
			dovecotconf.AddField(e, strings.TrimPrefix(f.name, "userdb_"), f.value, true)
		}
	}
	return e, nil
}

// field is one column of a row.
type field struct {
	name, value string
	valid       bool // not NULL
}

// maxRows is how many rows a lookup reads: two tell that there is more
// than one.
const maxRows = 2

// query runs q, retrying once when the connection it used was broken (a
// database restarted since: database/sql retries only what the driver
// knew to be broken before it sent the query), and returns at most
// maxRows rows.
func (d *DB) query(ctx context.Context, name string, q *query, vals *dovecotconf.Values) ([][]field, error) {
	args := q.args(vals)
	var rows [][]field
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		rows, err = d.run(ctx, q.text, args)
		if err == nil || ctx.Err() != nil || !brokenConn(err) {
			break
		}
		if attempt == 0 {
			d.logger.Info("sqldb: a query failed on a broken connection; trying again on another", "query", name, "err", err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sqldb: %s: %w", name, err)
	}
	return rows, nil
}

func (d *DB) run(ctx context.Context, text string, args []any) ([][]field, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	rs, err := d.db.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]field
	for rs.Next() {
		if len(out) == maxRows {
			break
		}
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]field, len(cols))
		for i, c := range cols {
			row[i] = field{name: c, value: vals[i].String, valid: vals[i].Valid}
		}
		out = append(out, row)
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// brokenConn reports whether err is a connection that broke (the server
// restarted or ended it), after which another connection may succeed;
// not an error of the query, nor a timeout, which a retry would only
// make longer.
func brokenConn(err error) bool {
	var pgErr *pgconn.PgError
	switch {
	case pgconn.Timeout(err), errors.Is(err, context.DeadlineExceeded):
		return false
	case errors.As(err, &pgErr):
		// Class 57: the server ended the session (57P01
		// admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now).
		return strings.HasPrefix(pgErr.Code, "57")
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return !netErr.Timeout()
	}
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || pgconn.SafeToRetry(err) || strings.Contains(err.Error(), "conn closed")
}
