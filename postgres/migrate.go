package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migration is one step of the schema. Steps are applied in order, each
// once, and never edited once released: a change is a new step.
type migration struct {
	description string
	sql         string
}

// migrations is the schema's history; SchemaVersion is its length (a test
// checks).
var migrations = []migration{
	{"users, messages in chunks, maildrop leases", `
CREATE TABLE pop3_users (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name       text NOT NULL UNIQUE,
	password   text NOT NULL,
	next_uid   bigint NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE pop3_messages (
	user_id      bigint NOT NULL REFERENCES pop3_users (id) ON DELETE CASCADE,
	uid          bigint NOT NULL,
	size         bigint NOT NULL,
	chunks       integer NOT NULL,
	delivered_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, uid)
);
CREATE TABLE pop3_chunks (
	user_id bigint NOT NULL,
	uid     bigint NOT NULL,
	seq     integer NOT NULL,
	data    bytea NOT NULL,
	PRIMARY KEY (user_id, uid, seq),
	FOREIGN KEY (user_id, uid) REFERENCES pop3_messages (user_id, uid) ON DELETE CASCADE
);
CREATE TABLE pop3_locks (
	user_id    bigint PRIMARY KEY REFERENCES pop3_users (id) ON DELETE CASCADE,
	holder     text NOT NULL,
	taken_at   timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL
);
`},
	// Nullable columns without a default: PostgreSQL adds them without
	// rewriting the tables, and NULL is "never" for the rows already
	// there. Nodes of the release before that are still running keep
	// working on the migrated tables, as they name the columns they read;
	// restarted, they refuse the database (ErrSchemaTooNew).
	{"last login of each user (LOGIN-DELAY), first retrieval of each message (EXPIRE)", `
ALTER TABLE pop3_users ADD COLUMN last_login timestamptz;
ALTER TABLE pop3_messages ADD COLUMN first_retrieved timestamptz;
`},
	// NULL for the rows already there, as for those that nodes of the
	// release before deliver meanwhile: each Backend fills them in, in the
	// background, found through the partial index, which holds only them.
	{"downgraded size of each message (LIST without UTF8 reads no message)", `
ALTER TABLE pop3_messages ADD COLUMN downgraded_size bigint;
CREATE INDEX pop3_messages_downgraded_unknown ON pop3_messages (user_id, uid) WHERE downgraded_size IS NULL;
`},
	// NULL, a unique-id of the store's own ("<user id>.<uid>"), for the
	// rows already there, and for those that nodes of the release before
	// deliver meanwhile: they name the columns they write. Those nodes do
	// not read the column either, and would list an imported message
	// under the store's own unique-id: import once every node runs this
	// release (doc.go says so).
	//
	// The CHECK is added NOT VALID: every row is NULL, which passes it,
	// and a CHECK added with the column would still read the whole table
	// to prove it, under the ALTER's exclusive lock (the column alone
	// rewrites nothing). NOT VALID constraints hold for every row written
	// from then on, as any other does. The unique index must read the
	// table to be built, as migration 3's did: it holds deliveries back
	// while it runs, though it keeps no entry for the NULL rows.
	{"unique-id kept from another server (pop3admin import), checked and unique per maildrop", `
ALTER TABLE pop3_messages ADD COLUMN uidl text,
	ADD CONSTRAINT pop3_messages_uidl_check CHECK (octet_length(uidl) BETWEEN 1 AND 70 AND uidl ~ '^[\x21-\x7e]+$') NOT VALID;
CREATE UNIQUE INDEX pop3_messages_uidl_unique ON pop3_messages (user_id, uidl) WHERE uidl IS NOT NULL;
`},
}

// SchemaVersion is the version of the schema this package uses: the number
// of migrations it knows.
const SchemaVersion = 4

// ErrSchemaTooNew is returned by [Migrate] and [New] for a database that a
// newer release of this package has migrated: its schema may hold what this
// one does not know, so it is not used.
var ErrSchemaTooNew = errors.New("postgres: the database schema is newer than this program; upgrade it")

// ErrSchemaOutdated is returned by [New] for a database that [Migrate] has
// not brought to [SchemaVersion].
var ErrSchemaOutdated = errors.New("postgres: the database schema is not migrated; run Migrate (pop3admin migrate, or start pop3d)")

// migrateLockID is the key of the advisory lock that serializes Migrate
// across nodes: the octets "pop3migr".
const migrateLockID = 0x706f70336d696772

// Migrate creates the schema or upgrades it to [SchemaVersion], in one
// transaction, and returns the versions it applied (none when the schema
// was current). Nodes that call it together wait for one another on an
// advisory lock, so each step runs once. Steps only add tables, columns and
// indexes; a step that fails rolls back whole, leaving the schema as it
// was.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (applied []int, err error) {
	// A current schema needs nothing, not even the CREATE privilege, so
	// that nodes may connect as a role that cannot change the schema.
	if err := checkSchema(ctx, pool); err == nil || errors.Is(err, ErrSchemaTooNew) {
		return nil, err
	}
	return migrateTo(ctx, pool, len(migrations))
}

// migrateTo is Migrate up to version target only, which the tests use to
// make a database as an older release left it. A database past target is
// left as it is, and one past the last version known is ErrSchemaTooNew.
func migrateTo(ctx context.Context, pool *pgxpool.Pool, target int) (applied []int, err error) {
	err = inTx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrateLockID)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS pop3_schema_migrations (
	version     integer PRIMARY KEY,
	description text NOT NULL,
	applied_at  timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return err
		}
		current, err := schemaVersion(ctx, tx)
		if err != nil {
			return err
		}
		if current > len(migrations) {
			return fmt.Errorf("%w (database at version %d, this program knows %d)", ErrSchemaTooNew, current, len(migrations))
		}
		for v := current + 1; v <= target; v++ {
			m := migrations[v-1]
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %d (%s): %w", v, m.description, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO pop3_schema_migrations (version, description) VALUES ($1, $2)", v, m.description); err != nil {
				return err
			}
			applied = append(applied, v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: migrating the schema: %w", err)
	}
	return applied, nil
}

// querier is what both a pool and a transaction offer.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// schemaVersion reads the highest version applied; 0 for none.
func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	err := q.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM pop3_schema_migrations").Scan(&v)
	return v, err
}

// checkSchema returns an error unless the database is at SchemaVersion.
func checkSchema(ctx context.Context, pool *pgxpool.Pool) error {
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass('pop3_schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return fmt.Errorf("postgres: reading the schema version: %w", err)
	}
	if !exists {
		return ErrSchemaOutdated
	}
	v, err := schemaVersion(ctx, pool)
	switch {
	case err != nil:
		return fmt.Errorf("postgres: reading the schema version: %w", err)
	case v > len(migrations):
		return fmt.Errorf("%w (database at version %d, this program knows %d)", ErrSchemaTooNew, v, len(migrations))
	case v < len(migrations):
		return fmt.Errorf("%w (database at version %d, this program needs %d)", ErrSchemaOutdated, v, len(migrations))
	}
	return nil
}
