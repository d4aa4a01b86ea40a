package mariadbtest_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/mariadbtest"
	"github.com/gopop3/pop3/internal/testprog"
)

func TestMain(m *testing.M) { os.Exit(mariadbtest.Main(m)) }

// clientArgs are the client's options for logging in as d's user over TCP,
// as the code under test would. The password goes in the environment,
// which the client reads, to stay out of ps.
func clientArgs(d *mariadbtest.Database) (args, env []string) {
	return []string{"--no-defaults", "--protocol=TCP", "--host=" + d.Host, "--port=" + strconv.Itoa(d.Port),
			"--user=" + d.User, "--connect-timeout=10", "--batch", "--skip-column-names", "--database=" + d.Name},
		append(os.Environ(), "MYSQL_PWD="+d.Password)
}

// asUser runs sql as d's user over TCP and returns the output, or the
// client's error.
func asUser(t *testing.T, d *mariadbtest.Database, sql string) (string, error) {
	t.Helper()
	args, env := clientArgs(d)
	cmd := exec.Command(testprog.Require(t, "mariadb", "mariadb-client"), append(args, "--execute="+sql)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return strings.TrimSuffix(string(out), "\n"), nil
}

func TestNewDatabase(t *testing.T) {
	a, b := mariadbtest.NewDatabase(t), mariadbtest.NewDatabase(t)
	require.NotEqual(t, a.Name, b.Name)
	require.NotEqual(t, a.User, b.User)
	require.NotEqual(t, a.Password, b.Password)

	for _, d := range []*mariadbtest.Database{a, b} {
		assert.Regexp(t, `^pop3_testnewdatabase_\d+$`, d.Name)
		assert.Equal(t, "127.0.0.1", d.Host)
		assert.Equal(t, fmt.Sprintf("host=127.0.0.1 port=%d dbname=%s user=%s password=%s", d.Port, d.Name, d.User, d.Password),
			d.DovecotConnect())
		assert.Equal(t, fmt.Sprintf("%s:%s@tcp(127.0.0.1:%d)/%s", d.User, d.Password, d.Port, d.Name), d.DSN())
		assert.Equal(t, "utf8mb4", d.Query(t, "SELECT @@character_set_database"))

		// The password works over TCP, and a wrong one does not.
		out, err := asUser(t, d, "SELECT CURRENT_USER(), DATABASE()")
		require.NoError(t, err)
		assert.Equal(t, d.User+"@127.0.0.1\t"+d.Name, out)
		wrong := *d
		wrong.Password += "x"
		_, err = asUser(t, &wrong, "SELECT 1")
		assert.ErrorContains(t, err, "Access denied")
	}

	// Exec runs several statements; Query prints tab-separated rows.
	a.Exec(t, "CREATE TABLE users (name VARCHAR(64) PRIMARY KEY, password TEXT);\n"+
		"INSERT INTO users VALUES ('alice', 'x\ty'), ('bob', NULL);")
	assert.Equal(t, "alice\tx\\ty\nbob\tNULL", a.Query(t, "SELECT name, password FROM users ORDER BY name"))
	out, err := asUser(t, a, "SELECT COUNT(*) FROM users")
	require.NoError(t, err)
	assert.Equal(t, "2", out)

	// The databases are separate, and each user may use only its own.
	assert.Equal(t, "0", b.Query(t, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()"))
	_, err = asUser(t, b, "SELECT COUNT(*) FROM "+a.Name+".users")
	assert.ErrorContains(t, err, "denied")
	out, err = asUser(t, b, "SHOW DATABASES")
	require.NoError(t, err)
	assert.NotContains(t, out, a.Name)

	// An error fails the test with the client's message.
	failed := fakeTB{TB: t}
	func() {
		defer func() { _ = recover() }()
		a.Exec(&failed, "SELECT * FROM missing")
	}()
	assert.Regexp(t, regexp.MustCompile(`ERROR 1146.*missing.*doesn't exist`), failed.msg)
}

// Disconnect ends the user's connections and refuses new ones until
// reconnect, without touching other databases.
func TestDisconnect(t *testing.T) {
	d, other := mariadbtest.NewDatabase(t), mariadbtest.NewDatabase(t)

	// A session open across the Disconnect: the client reads statements
	// from a pipe and answers each.
	args, env := clientArgs(d)
	cmd := exec.Command(testprog.Require(t, "mariadb", "mariadb-client"), append(args, "--unbuffered")...)
	cmd.Env = env
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewReader(stdout)
	_, err = io.WriteString(stdin, "SELECT 'open';\n")
	require.NoError(t, err)
	line, err := lines.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "open\n", line)

	reconnect := d.Disconnect(t)

	// The open session is ended: the client fails on its next statement.
	_, _ = io.WriteString(stdin, "SELECT 'still open';\n")
	stdin.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		assert.Error(t, err, "the session survived Disconnect")
	case <-time.After(10 * time.Second):
		t.Fatal("the session survived Disconnect")
	}

	_, err = asUser(t, d, "SELECT 1")
	assert.ErrorContains(t, err, "locked")
	out, err := asUser(t, other, "SELECT 1")
	require.NoError(t, err, "another database is disconnected too")
	assert.Equal(t, "1", out)
	// The administrator still gets in, for the test's own checks.
	assert.Equal(t, "1", d.Query(t, "SELECT 1"))

	reconnect()
	out, err = asUser(t, d, "SELECT 1")
	require.NoError(t, err)
	assert.Equal(t, "1", out)
	reconnect() // a second call, and the one of the cleanup, do nothing
}

// Parallel tests share the one server, started once.
func TestParallel(t *testing.T) {
	var mu sync.Mutex
	ports := map[int]bool{}
	t.Run("group", func(t *testing.T) {
		for i := range 8 {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				d := mariadbtest.NewDatabase(t)
				out, err := asUser(t, d, "SELECT 1")
				require.NoError(t, err)
				assert.Equal(t, "1", out)
				mu.Lock()
				ports[d.Port] = true
				mu.Unlock()
			})
		}
	})
	assert.Len(t, ports, 1)
}

// fakeTB records a fatal error instead of ending the test.
type fakeTB struct {
	testing.TB
	msg string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}
