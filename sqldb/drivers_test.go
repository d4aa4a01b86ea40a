package sqldb_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/mariadbtest"
	"github.com/gopop3/pop3/internal/pgtest"
)

// testDB is a real database of one driver, with a PostfixAdmin-shaped
// mailbox table.
type testDB struct {
	driver  string
	connect string
	// exec runs SQL as the database's owner.
	exec func(t testing.TB, sql string)
	// count returns the rows of the mailbox table.
	count func(t testing.TB) int
	// concat is SQL concatenating its arguments.
	concat func(parts ...string) string
	// disconnect makes the database unreachable until reconnect is called.
	disconnect func(t testing.TB) (reconnect func())
}

// mailboxSchema is PostfixAdmin's mailbox table, trimmed to what Dovecot's
// queries read.
const mailboxSchema = `CREATE TABLE mailbox (
	username VARCHAR(255) NOT NULL PRIMARY KEY,
	password VARCHAR(255),
	name VARCHAR(255) NOT NULL DEFAULT '',
	maildir VARCHAR(255) NOT NULL DEFAULT '',
	quota BIGINT NOT NULL DEFAULT 0,
	local_part VARCHAR(255) NOT NULL DEFAULT '',
	domain VARCHAR(255) NOT NULL DEFAULT '',
	active SMALLINT NOT NULL DEFAULT 1,
	allow_nets VARCHAR(255)
)`

var drivers = map[string]func(t testing.TB) *testDB{
	"sqlite": sqliteDB,
	"pgsql":  pgsqlDB,
	"mysql":  mysqlDB,
}

func forEachDriver(t *testing.T, test func(t *testing.T, db *testDB)) {
	for _, name := range []string{"sqlite", "pgsql", "mysql"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := drivers[name](t)
			db.exec(t, mailboxSchema)
			test(t, db)
		})
	}
}

func sqlExec(t testing.TB, db *sql.DB, stmt string) {
	t.Helper()
	_, err := db.ExecContext(context.Background(), stmt)
	require.NoError(t, err, stmt)
}

func sqlCount(t testing.TB, db *sql.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM mailbox").Scan(&n))
	return n
}

func pipeConcat(parts ...string) string { return "(" + strings.Join(parts, " || ") + ")" }

func sqliteDB(t testing.TB) *testDB {
	path := filepath.Join(t.TempDir(), "users.sqlite")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return &testDB{
		driver:  "sqlite",
		connect: path,
		exec:    func(t testing.TB, s string) { sqlExec(t, db, s) },
		count:   func(t testing.TB) int { return sqlCount(t, db) },
		concat:  pipeConcat,
		// The file is missing until reconnect: for a database not opened yet.
		disconnect: func(t testing.TB) func() {
			moved := path + ".away"
			require.NoError(t, os.Rename(path, moved))
			return func() { require.NoError(t, os.Rename(moved, path)) }
		},
	}
}

func pgsqlDB(t testing.TB) *testDB {
	dsn := pgtest.NewDatabase(t)
	cfg, err := pgx.ParseConfig(dsn)
	require.NoError(t, err)
	connect := fmt.Sprintf("host=%s port=%d dbname=%s user=%s", cfg.Host, cfg.Port, cfg.Database, cfg.User)
	if cfg.Password != "" {
		connect += " password=" + cfg.Password
	}
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return &testDB{
		driver:     "pgsql",
		connect:    connect,
		exec:       func(t testing.TB, s string) { sqlExec(t, db, s) },
		count:      func(t testing.TB) int { return sqlCount(t, db) },
		concat:     pipeConcat,
		disconnect: func(t testing.TB) func() { return pgtest.Disconnect(t, dsn) },
	}
}

func mysqlDB(t testing.TB) *testDB {
	d := mariadbtest.NewDatabase(t)
	return &testDB{
		driver:  "mysql",
		connect: d.DovecotConnect() + " character_set=utf8mb4",
		exec:    func(t testing.TB, s string) { d.Exec(t, s) },
		count: func(t testing.TB) int {
			var n int
			_, err := fmt.Sscan(d.Query(t, "SELECT COUNT(*) FROM mailbox"), &n)
			require.NoError(t, err)
			return n
		},
		concat:     func(parts ...string) string { return "CONCAT(" + strings.Join(parts, ", ") + ")" },
		disconnect: func(t testing.TB) func() { return d.Disconnect(t) },
	}
}
