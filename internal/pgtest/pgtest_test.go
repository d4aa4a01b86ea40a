package pgtest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/testprog"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// query runs sql with psql on dsn and returns its unaligned output.
func query(t *testing.T, dsn, sql string) string {
	t.Helper()
	psql := testprog.Require(t, "psql", "postgresql-client")
	out, err := exec.Command(psql, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return strings.TrimSpace(string(out))
}

func TestNewDatabase(t *testing.T) {
	a, b := NewDatabase(t), NewDatabase(t)
	require.NotEqual(t, a, b)
	for _, dsn := range []string{a, b} {
		u, err := url.Parse(dsn)
		require.NoError(t, err)
		assert.Equal(t, "disable", u.Query().Get("sslmode"))
		assert.Equal(t, "1", query(t, dsn, "select 1"))
		assert.Equal(t, strings.TrimPrefix(u.Path, "/"), query(t, dsn, "select current_database()"))
		assert.Equal(t, "0", query(t, dsn, "select count(*) from pg_tables where schemaname = 'public'"))
	}
	// The databases are separate: a table made in one is not in the other.
	query(t, a, "create table t (x int)")
	assert.Equal(t, "0", query(t, b, "select count(*) from pg_tables where tablename = 't'"))
}

func TestAdminDSN(t *testing.T) {
	assert.Equal(t, "postgres", query(t, AdminDSN(t), "select current_database()"))
}

// Parallel tests share the one cluster, started once.
func TestParallel(t *testing.T) {
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, "1", query(t, NewDatabase(t), "select 1"))
		})
	}
}

func TestDatabaseName(t *testing.T) {
	n := databaseName("TestFoo/Sub_Case#01 é" + strings.Repeat("x", 100))
	assert.Regexp(t, `^pop3_testfoo_sub_case_01_x+_\d+_\d+$`, n)
	assert.LessOrEqual(t, len(n), 63)
	assert.NotEqual(t, n, databaseName("TestFoo"))
}

// A cluster whose test binary died (its owner.pid names no process) is
// stopped and removed by the next start; a living owner's is left alone.
func TestReapOrphans(t *testing.T) {
	if os.Getenv(EnvVar) != "" {
		t.Skip("an external server is in use: no cluster is started")
	}
	_, binDir, skip := findPrograms(true)
	if skip != "" {
		testprog.Require(t, "initdb", "postgresql") // skips, or fails under CI=true
	}
	orphan, err := startCluster(binDir)
	require.NoError(t, err)
	alive, err := startCluster(binDir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = alive.stop() })

	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	require.NoError(t, os.WriteFile(orphan.dir+"/"+ownerFile, []byte(fmt.Sprint(dead.Process.Pid)), 0o644))

	reapOrphans(binDir)
	_, err = os.Stat(orphan.dir)
	assert.ErrorIs(t, err, os.ErrNotExist, "the orphan's directory is removed")
	_, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", orphan.port))
	assert.Error(t, err, "the orphan's server is stopped")
	_, err = os.Stat(alive.dir)
	assert.NoError(t, err, "a living owner's cluster stays")
}
