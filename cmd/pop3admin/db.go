package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/postgres"
)

// connectTimeout bounds connecting to the database, so that an unreachable
// one is an error rather than a hang.
const connectTimeout = 15 * time.Second

// dbFlags is -postgres after the command; it wins over the one before.
type dbFlags struct{ dsn string }

func (d *dbFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&d.dsn, "postgres", "", "the PostgreSQL database `DSN` (default $"+dsnEnv+")")
}

// store is a migrated database and its backend.
type store struct {
	pool    *pgxpool.Pool
	backend *postgres.Backend
	applied []int // the migrations applied on opening
}

func (s *store) Close() {
	s.backend.Close()
	s.pool.Close()
}

// open connects to the database of -postgres or $POP3_POSTGRES, applies
// the migrations it lacks, and opens the backend. It says on stderr when
// it migrated.
func (d *dbFlags) open(ctx context.Context, e *env, quiet bool) (*store, error) {
	dsn := d.dsn
	if dsn == "" {
		dsn = e.dsn
	}
	if dsn == "" {
		dsn = os.Getenv(dsnEnv)
	}
	if dsn == "" {
		return nil, usagef("no database: give -postgres DSN, or set %s", dsnEnv)
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	pool, err := postgres.Connect(cctx, dsn)
	if err != nil {
		if cctx.Err() != nil {
			err = fmt.Errorf("%w (gave up after %v)", err, connectTimeout)
		}
		return nil, err
	}
	applied, err := postgres.Migrate(cctx, pool) // bounded too: it may wait for another node's migration
	if err != nil {
		pool.Close()
		return nil, err
	}
	if len(applied) > 0 && !quiet {
		fmt.Fprintf(e.stderr, "pop3admin: migrated the schema to version %d (applied %s)\n", postgres.SchemaVersion, versions(applied))
	}
	b, err := postgres.New(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &store{pool: pool, backend: b, applied: applied}, nil
}

func versions(vs []int) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ", ")
}

// describe rewrites the errors an operator meets often into plain words.
func describe(name string, err error) error {
	switch {
	case errors.Is(err, postgres.ErrUserExists):
		return fmt.Errorf("user %q already exists", passwd.NormalizeUsername(name))
	case errors.Is(err, pop3.ErrNoSuchUser):
		return fmt.Errorf("no such user %q", passwd.NormalizeUsername(name))
	case errors.Is(err, pop3.ErrMailboxLocked):
		return fmt.Errorf("the maildrop of %q is locked by a session (a client is connected); try again later", passwd.NormalizeUsername(name))
	}
	return err
}

// migrate applies the migrations and says which.
func migrateFlags(fs *flag.FlagSet) func(*env, []string) error {
	var d dbFlags
	d.define(fs)
	return func(e *env, args []string) error {
		if err := noArgs("migrate", args); err != nil {
			return err
		}
		s, err := d.open(context.Background(), e, true)
		if err != nil {
			return err
		}
		defer s.Close()
		return printMigrated(e.stdout, s.applied)
	}
}

func printMigrated(w io.Writer, applied []int) error {
	var err error
	if len(applied) == 0 {
		_, err = fmt.Fprintf(w, "schema is current at version %d\n", postgres.SchemaVersion)
	} else {
		_, err = fmt.Fprintf(w, "applied migrations %s: schema is now at version %d\n", versions(applied), postgres.SchemaVersion)
	}
	return err
}
