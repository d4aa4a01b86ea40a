package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/passwd"
)

// DefaultLeaseTime is how long a maildrop lock outlives its node's last
// renewal: the longest a user waits after a node died holding it.
const DefaultLeaseTime = 30 * time.Second

// Backend serves the users and maildrops of a PostgreSQL database. It
// implements [pop3.Backend], [pop3.APOPBackend], [pop3.Deliverer],
// [pop3.UserChecker] and [pop3.RetrievalBackend]; its users are
// [pop3.LoginRecorder] values and its mailboxes [pop3.RetrievalMailbox]
// values, so that LOGIN-DELAY and EXPIRE hold across restarts and across
// the nodes that share the database. [Backend.Import] and [Backend.Listing]
// move a maildrop from another server with its unique-ids. Make it with
// [New] and stop it with [Backend.Close].
type Backend struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	node   string
	leases *leases
	// deliveries bounds the deliveries in progress to half the pool: each
	// holds a connection while it stores a message, and the rest of the
	// pool must stay free for logins, RETRs and the lease renewals, whose
	// starvation would make every session of the node lose its lease.
	deliveries chan struct{}
	// verified remembers successful password checks; see WithVerifyCache.
	verified *passwd.Cache
	// backfill fills in the downgraded sizes that rows stored before
	// schema version 3 lack.
	backfill *backfiller
}

var (
	_ pop3.Backend          = (*Backend)(nil)
	_ pop3.APOPBackend      = (*Backend)(nil)
	_ pop3.Deliverer        = (*Backend)(nil)
	_ pop3.UserChecker      = (*Backend)(nil)
	_ pop3.RetrievalBackend = (*Backend)(nil)
	_ pop3.LoginRecorder    = (*user)(nil)
	_ pop3.RetrievalMailbox = (*mailbox)(nil)
)

// Option configures a Backend.
type Option func(*Backend)

// WithLogger sends the backend's records (lost leases, refused logins
// for a reason other than a wrong password) to logger instead of
// slog.Default().
func WithLogger(logger *slog.Logger) Option { return func(b *Backend) { b.logger = logger } }

// WithLeaseTime sets how long a maildrop lock lasts without renewal
// (default [DefaultLeaseTime]); the Backend renews its locks every third of
// it. A shorter lease frees a dead node's users sooner; it must still be
// well above the database's worst response time, or a slow database makes
// sessions lose their locks. Values under one second are raised to one.
func WithLeaseTime(d time.Duration) Option {
	return func(b *Backend) { b.leases.duration = max(d, time.Second) }
}

// WithNodeName sets the name this node writes in the locks it holds, for
// an operator reading pop3_locks (default "<hostname>:<pid>").
func WithNodeName(name string) Option { return func(b *Backend) { b.node = name } }

// WithVerifyCache puts c in front of the password checks of
// [Backend.Login]: a user who logs in again with the password that
// succeeded last time, against the same stored hash, is let in without the
// hash being run again (see [passwd.Cache]); [Backend.SetPassword] takes
// effect at the next login all the same. When the database cannot be
// reached, such a user passes the password check, with a warning in the
// log, as Dovecot's auth cache allows; here the mail is in the database
// too, so opening the maildrop then fails until it is back, and the
// client is told to try again later (the SYS/TEMP response code), as
// everyone else is. Nil, the default, checks every password with [passwd.Verify].
func WithVerifyCache(c *passwd.Cache) Option { return func(b *Backend) { b.verified = c } }

// New returns a Backend on pool, whose database [Migrate] has brought to
// [SchemaVersion]; a database at another version is an error that wraps
// [ErrSchemaOutdated] or [ErrSchemaTooNew]. The Backend starts the
// goroutine that renews its leases; Close stops it. The pool stays the
// caller's.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Backend, error) {
	host, _ := os.Hostname()
	b := &Backend{
		pool:       pool,
		logger:     slog.Default(),
		node:       fmt.Sprintf("%s:%d", host, os.Getpid()),
		leases:     newLeases(pool, DefaultLeaseTime),
		deliveries: make(chan struct{}, max(1, pool.Config().MaxConns/2)),
	}
	for _, opt := range opts {
		opt(b)
	}
	b.leases.logger = b.logger
	if err := checkSchema(ctx, pool); err != nil {
		return nil, err
	}
	b.leases.start()
	b.backfill = &backfiller{pool: pool, logger: b.logger}
	b.backfill.start()
	return b, nil
}

// Close stops renewing leases, and filling in the downgraded sizes of
// messages stored before schema version 3 (which the next Backend goes on
// with). Mailboxes still open lose their locks once the lease expires, so
// close them first (Server.Shutdown does).
func (b *Backend) Close() error {
	b.backfill.stop()
	b.leases.stop()
	return nil
}

// RecordsRetrievals reports true: every mailbox records when its messages
// were first retrieved, in the database, so that the server can offer
// EXPIRE with a number of days. It implements [pop3.RetrievalBackend].
func (b *Backend) RecordsRetrievals() bool { return true }

// Login checks password against the user's stored hash with
// [passwd.Verify], or through the cache of [WithVerifyCache]. An unknown
// user costs a check too ([passwd.VerifyUnknownUser]), so that timing does
// not tell which names exist.
func (b *Backend) Login(ctx context.Context, c *pop3.ConnInfo, username, password string) (pop3.User, error) {
	pw := []byte(password)
	u, err := b.login(ctx, username, func(name, stored string) error {
		return b.verified.Verify(&passwd.Entry{User: name, Password: stored}, pw)
	}, func() { passwd.VerifyUnknownUser(pw) })
	if err == nil || errors.Is(err, pop3.ErrAuthFailed) || ctx.Err() != nil {
		return u, err
	}
	// The database failed: a user whose password the cache remembers
	// passes, and finds its id when it opens the maildrop.
	name := passwd.NormalizeUsername(username)
	if _, ok := b.verified.Offline(name, pw); ok {
		b.logger.Warn("postgres: the database failed; letting the user in on the password that last succeeded (verification cache)",
			"user", name, "err", err)
		return &user{backend: b, name: name, offlinePassword: pw}, nil
	}
	return nil, err
}

// LoginAPOP checks an APOP digest (RFC 1939 §7). Only a user whose password
// is stored in cleartext ({PLAIN}) has the shared secret APOP needs; for
// the others it fails as a wrong password does.
func (b *Backend) LoginAPOP(ctx context.Context, c *pop3.ConnInfo, username, timestamp, digest string) (pop3.User, error) {
	return b.login(ctx, username, func(_, stored string) error {
		secret, ok := passwd.Plaintext(stored)
		if !ok || !pop3.VerifyAPOP(timestamp, secret, digest) {
			return passwd.ErrMismatch
		}
		return nil
	}, func() {})
}

// login looks the user up and calls check with its stored hash, or decoy
// for an unknown user. A database failure is returned as it is (the client
// sees a temporary failure); every refusal is pop3.ErrAuthFailed.
func (b *Backend) login(ctx context.Context, username string, check func(name, stored string) error, decoy func()) (pop3.User, error) {
	name := passwd.NormalizeUsername(username)
	var id int64
	var stored string
	err := b.pool.QueryRow(ctx, "SELECT id, password FROM pop3_users WHERE name = $1", name).Scan(&id, &stored)
	if errors.Is(err, pgx.ErrNoRows) {
		decoy()
		return nil, pop3.ErrAuthFailed
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: looking up %q: %w", name, err)
	}
	if err := check(name, stored); err != nil {
		if !errors.Is(err, passwd.ErrMismatch) {
			b.logger.Warn("postgres: login refused", "user", name, "reason", err)
		}
		return nil, pop3.ErrAuthFailed
	}
	return &user{backend: b, id: id, name: name}, nil
}

// user is a logged-in user.
type user struct {
	backend *Backend
	// id is the user's row, 0 for a user let in by the verification
	// cache while the database was down, until resolveID finds it. A user
	// is one session's, so it needs no lock.
	id   int64
	name string
	// offlinePassword is the password of a user let in while the
	// database was down, until resolveID has checked it against the
	// user's row as it is now.
	offlinePassword []byte
}

// resolveID finds the row of a user that logged in while the database was
// down, and checks the password against the hash it holds now (through the
// cache: no hash runs when it has not changed), so that a password changed
// or a user deleted and added again meanwhile is not let in on the old
// password. Either is refused as a wrong password is.
func (u *user) resolveID(ctx context.Context) error {
	if u.id != 0 {
		return nil
	}
	var (
		id     int64
		stored string
	)
	err := u.backend.pool.QueryRow(ctx, "SELECT id, password FROM pop3_users WHERE name = $1", u.name).Scan(&id, &stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %q: %w (%w)", u.name, pop3.ErrAuthFailed, pop3.ErrNoSuchUser)
	}
	if err != nil {
		return fmt.Errorf("postgres: looking up %q: %w", u.name, err)
	}
	err = u.backend.verified.Verify(&passwd.Entry{User: u.name, Password: stored}, u.offlinePassword)
	clear(u.offlinePassword)
	u.offlinePassword = nil
	if err != nil {
		u.backend.logger.Warn("postgres: login refused: the password let in while the database was down no longer matches",
			"user", u.name)
		return pop3.ErrAuthFailed
	}
	u.id = id
	return nil
}

// Open takes the user's lease and reads the listing.
func (u *user) Open(ctx context.Context) (pop3.Mailbox, error) {
	if err := u.resolveID(ctx); err != nil {
		return nil, err
	}
	l, err := u.backend.leases.acquire(ctx, u.id, u.backend.node)
	if err != nil {
		return nil, err
	}
	mb := &mailbox{backend: u.backend, user: u, lease: l}
	if err := u.backend.listing(ctx, mb); err != nil {
		u.backend.leases.release(l)
		return nil, err
	}
	return mb, nil
}

// dbTime is t as a timestamptz column keeps it: truncated to the
// microsecond, without the monotonic clock reading, in UTC.
func dbTime(t time.Time) time.Time {
	return t.Truncate(time.Microsecond).UTC()
}

// LastLogin reads the time RecordLogin last stored for the user (in UTC,
// to the microsecond), or the zero Time if none was: a user that has not
// logged in since the schema gained the column, or at all. It implements
// [pop3.LoginRecorder]. A user deleted since Login wraps
// [pop3.ErrNoSuchUser].
func (u *user) LastLogin(ctx context.Context) (time.Time, error) {
	if err := u.resolveID(ctx); err != nil {
		return time.Time{}, err
	}
	var t *time.Time
	err := u.backend.pool.QueryRow(ctx, "SELECT last_login FROM pop3_users WHERE id = $1", u.id).Scan(&t)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, fmt.Errorf("postgres: reading the last login of %q: %w", u.name, pop3.ErrNoSuchUser)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("postgres: reading the last login of %q: %w", u.name, err)
	}
	if t == nil {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}

// RecordLogin stores t as the user's last login, in place of the one
// before, for every node to see. t is the clock of the node that serves
// the login: the nodes' clocks must agree (NTP) for LOGIN-DELAY to be
// right across them. It implements [pop3.LoginRecorder].
//
// It does not check the maildrop's lease, which the session holds when the
// server calls it: the time is true whoever holds the maildrop now, and
// only the deletions of an UPDATE, which another session could contradict,
// need the lease (see [ErrLeaseLost]). A user deleted since Login (possible
// only once the lease was lost) wraps [pop3.ErrNoSuchUser].
func (u *user) RecordLogin(ctx context.Context, t time.Time) error {
	if err := u.resolveID(ctx); err != nil {
		return err
	}
	tag, err := u.backend.pool.Exec(ctx, "UPDATE pop3_users SET last_login = $2 WHERE id = $1", u.id, dbTime(t))
	if err != nil {
		return fmt.Errorf("postgres: recording the login of %q: %w", u.name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: recording the login of %q: %w", u.name, pop3.ErrNoSuchUser)
	}
	return nil
}
