// Package mariadbtest gives tests a real MariaDB: each test gets a new,
// empty database of its own and a new user, with a password, that may use
// only that database. Tests can so run in parallel without seeing each
// other's rows, and check that their code really logs in with the user and
// password it was configured with, as Dovecot's SQL user database does.
//
// Each test process starts its own throwaway server on first use, with
// mariadb-install-db and mariadbd from PATH or /usr/sbin, where Debian
// installs mariadbd; durability is turned off, since the server is deleted
// at the end. Without MariaDB the tests skip, or fail under CI=true, as
// with testprog.Require.
//
// Only the standard library is used, so that every module of the
// repository can import it without new dependencies; SQL goes through the
// mariadb command-line client rather than a Go driver.
package mariadbtest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gopop3/pop3/internal/testprog"
)

// Database is a database made by NewDatabase for one test, with the user
// that owns it. The fields are what a client needs to connect, over TCP
// (Host and Port) or over the Unix socket (Socket).
type Database struct {
	// Host is always 127.0.0.1: the user may log in from there, or
	// through Socket, and from nowhere else.
	Host string
	Port int
	Name string
	// User has all privileges on Name and none elsewhere.
	User string
	// Password is random, and contains only letters and digits, so that
	// it needs no quoting in DovecotConnect or DSN.
	Password string
	// Socket is the server's Unix socket, reachable by every local user.
	Socket string

	srv *server
}

// server is the MariaDB server this process started.
type server struct {
	dir      string // temporary directory: data, logs, socket and pid files
	data     string
	socket   string
	errorLog string // mariadbd's --log-error
	outLog   string // mariadbd's stdout and stderr, for what precedes --log-error
	pidFile  string // the server's process id, written by us (see reapOrphans)
	port     int

	mariadbd, installDB, client string
	// admin is the MariaDB account the client logs in as through the
	// socket: one named after the OS user running the tests, which the
	// unix_socket plugin lets in without a password, and no one else.
	admin string
	// cred is nil unless running as root: the server then runs as nobody.
	cred *syscall.Credential

	proc   *exec.Cmd
	exited chan struct{} // closed when proc has been waited for
}

// state is the package's server, started once per process. A mutex rather
// than sync.Once: every caller must see the outcome (server, skip or error),
// and Main must be able to tell whether anything was started.
var state struct {
	mu   sync.Mutex
	done bool
	srv  *server
	// missing and debianPackage, when set, say which program is missing
	// and where to get it: a skip, or a failure under CI.
	missing, debianPackage string
	err                    error
}

var counter atomic.Int64

// Main runs the tests of a package and then stops the server if one was
// started. Use:
//
//	func TestMain(m *testing.M) { os.Exit(mariadbtest.Main(m)) }
//
// Stopping here, not in a test's Cleanup, lets every test of the package
// share one server, whose start costs a second or two.
func Main(m *testing.M) int { return testprog.RunThenStop(m, Stop) }

// Stop stops the server this process started, if any. Main calls it; a
// TestMain that runs the tests itself, to use this package and another
// like it, calls it after m.Run.
func Stop() error {
	state.mu.Lock()
	srv := state.srv
	state.srv = nil
	state.mu.Unlock()
	if srv != nil {
		if err := srv.stop(); err != nil {
			return fmt.Errorf("mariadbtest: %w", err)
		}
	}
	return nil
}

// NewDatabase returns a new, empty database for this test, with a new user
// that may use it, both dropped when the test ends. It starts the package's
// server on first use.
func NewDatabase(tb testing.TB) *Database {
	tb.Helper()
	srv := get(tb)
	n := counter.Add(1)
	d := &Database{
		Host:     "127.0.0.1",
		Port:     srv.port,
		Name:     databaseName(tb.Name(), n),
		User:     fmt.Sprintf("pop3_user_%d", n),
		Password: rand.Text(),
		Socket:   srv.socket,
		srv:      srv,
	}
	// Both hosts, since the server does not resolve names: 127.0.0.1
	// matches TCP connections, localhost those through the socket.
	accounts := d.accounts()
	create := fmt.Sprintf("CREATE DATABASE %s;\n"+
		"CREATE USER %s IDENTIFIED BY %s, %s IDENTIFIED BY %s;\n"+
		"GRANT ALL PRIVILEGES ON %s.* TO %s;\n",
		quoteIdent(d.Name),
		d.account("127.0.0.1"), quoteString(d.Password), d.account("localhost"), quoteString(d.Password),
		quoteIdent(d.Name), accounts)
	if _, err := srv.run("", create); err != nil {
		tb.Fatalf("mariadbtest: %v", err)
	}
	tb.Cleanup(func() {
		// Dropping the user first keeps a pool from reconnecting; ending
		// its connections then releases their locks, which DROP DATABASE
		// would otherwise wait for, lock_wait_timeout being a day.
		drop := fmt.Sprintf("SET SESSION lock_wait_timeout = 10;\n"+
			"DROP USER IF EXISTS %s;\n"+
			"KILL CONNECTION USER %s;\n"+
			"DROP DATABASE IF EXISTS %s;\n",
			accounts, quoteString(d.User), quoteIdent(d.Name))
		if _, err := srv.run("", drop); err != nil {
			tb.Errorf("mariadbtest: %v", err)
		}
	})
	return d
}

// Exec runs sql, one statement or several separated by semicolons, in the
// database as the server's administrator, failing the test with the
// client's error if any statement fails. sql is read by the mariadb
// client, so its commands such as DELIMITER work too.
func (d *Database) Exec(tb testing.TB, sql string) {
	tb.Helper()
	if _, err := d.srv.run(d.Name, sql); err != nil {
		tb.Fatalf("mariadbtest: %v", err)
	}
}

// Query runs sql like Exec and returns what the client printed in batch
// mode without column names: rows separated by newlines, with no final
// one, columns by tabs, NULL printed as NULL, and tabs, newlines and
// backslashes within values escaped as \t, \n and \\.
func (d *Database) Query(tb testing.TB, sql string) string {
	tb.Helper()
	out, err := d.srv.run(d.Name, sql)
	if err != nil {
		tb.Fatalf("mariadbtest: %v", err)
	}
	return strings.TrimSuffix(out, "\n")
}

// DovecotConnect returns the value of the connect setting of Dovecot's
// SQL driver for MySQL, which serves MariaDB, for logging in as the user
// over TCP.
func (d *Database) DovecotConnect() string {
	return fmt.Sprintf("host=%s port=%d dbname=%s user=%s password=%s", d.Host, d.Port, d.Name, d.User, d.Password)
}

// DSN returns the data source name of github.com/go-sql-driver/mysql for
// logging in as the user over TCP.
func (d *Database) DSN() string {
	return fmt.Sprintf("%s:%s@tcp(%s)/%s", d.User, d.Password, net.JoinHostPort(d.Host, strconv.Itoa(d.Port)), d.Name)
}

// Disconnect makes the database unreachable, as if its server had gone
// away, for testing reconnection: the user's connections are ended and its
// new logins refused. Other databases, and so other tests running in
// parallel, are not touched, which is why the server itself keeps running:
// a client sees its connection closed and then MariaDB's error 4151
// ("Access denied, this account is locked"), not a refused TCP connection.
// reconnect undoes it; it is also called when the test ends.
func (d *Database) Disconnect(tb testing.TB) (reconnect func()) {
	tb.Helper()
	// Locked first, so that no connection can start between the kill and
	// the lock; a locked account's existing connections go on, hence KILL.
	lock := fmt.Sprintf("ALTER USER %s ACCOUNT LOCK;\nKILL CONNECTION USER %s;\n",
		d.accounts(), quoteString(d.User))
	if _, err := d.srv.run("", lock); err != nil {
		tb.Fatalf("mariadbtest: %v", err)
	}
	var once sync.Once
	reconnect = func() {
		once.Do(func() {
			// IF EXISTS: the cleanup may come after a drop.
			if _, err := d.srv.run("", "ALTER USER IF EXISTS "+d.accounts()+" ACCOUNT UNLOCK;"); err != nil {
				tb.Errorf("mariadbtest: %v", err)
			}
		})
	}
	tb.Cleanup(reconnect)
	return reconnect
}

// account returns the user's account at host, quoted for SQL.
func (d *Database) account(host string) string {
	return quoteString(d.User) + "@" + quoteString(host)
}

// accounts returns both of the user's accounts, as a SQL list.
func (d *Database) accounts() string {
	return d.account("127.0.0.1") + ", " + d.account("localhost")
}

// get returns the package's server, starting it on the first call, and
// skips or fails tb as that first start did.
func get(tb testing.TB) *server {
	tb.Helper()
	state.mu.Lock()
	if !state.done {
		// Holding the lock makes parallel tests wait for the one start.
		state.srv, state.missing, state.debianPackage, state.err = start()
		state.done = true
	}
	srv, missing, debianPackage, err := state.srv, state.missing, state.debianPackage, state.err
	state.mu.Unlock()
	switch {
	case missing != "":
		// Require looks in PATH, where missing is not either: it skips,
		// or fails under CI=true, with testprog's message.
		testprog.Require(tb, missing, debianPackage)
		tb.Fatalf("mariadbtest: %s not found", missing)
	case err != nil:
		tb.Fatalf("mariadbtest: %v", err)
	case srv == nil:
		// Main has already stopped the server.
		tb.Fatal("mariadbtest: used after Main returned")
	}
	return srv
}

// start finds the programs and starts a server. A missing program is
// returned, not skipped, since start runs for whichever test came first
// while the outcome applies to all.
func start() (srv *server, missing, debianPackage string, err error) {
	srv = &server{}
	for _, p := range []struct {
		path          *string
		names         []string
		debianPackage string
	}{
		{&srv.mariadbd, []string{"mariadbd"}, "mariadb-server"},
		{&srv.installDB, []string{"mariadb-install-db"}, "mariadb-server"},
		// MariaDB's client was called mysql before 10.4; it is still a
		// link to mariadb.
		{&srv.client, []string{"mariadb", "mysql"}, "mariadb-client"},
	} {
		if *p.path = findProgram(p.names...); *p.path == "" {
			return nil, p.names[0], p.debianPackage, nil
		}
	}
	if err := srv.init(); err != nil {
		return nil, "", "", err
	}
	return srv, "", "", nil
}

// findProgram returns the path of the first of names found in PATH or in
// the directories where distributions put daemons, which are in root's
// PATH but not always in other users'; or "" if none is found.
func findProgram(names ...string) string {
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/libexec"} {
			if p := filepath.Join(dir, name); isExecutable(p) {
				return p
			}
		}
	}
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// serverPrefix names the servers' directories in the temporary directory;
// ownerFile in each holds the process id of the test binary that started
// it.
const (
	serverPrefix = "pop3-mariadbtest-"
	ownerFile    = "owner.pid"
)

// init creates a server in a new temporary directory and starts it. Not
// tb.TempDir: that is private to root, and removed when the first test
// ends, while the server serves the whole process.
func (s *server) init() (err error) {
	reapOrphans()
	dir, err := os.MkdirTemp("", serverPrefix)
	if err != nil {
		return err
	}
	s.setDir(dir)
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	// Readable by everyone: the socket is for every local user, and the
	// server may run as nobody.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	me, err := user.Current()
	if err != nil {
		return err
	}
	s.admin = me.Username
	if os.Geteuid() == 0 {
		// mariadbd refuses to run as root unless told --user=root, and
		// should not: it would then write as root wherever SQL tells it.
		if err := s.useNobody(); err != nil {
			return err
		}
	}
	// Not --user, which makes the script as root chown the PAM plugin's
	// files under /usr; it is run as the server's user instead. No test
	// database, whose grants let anonymous users in.
	args := append([]string{"--no-defaults", "--datadir=" + s.data,
		"--auth-root-authentication-method=socket", "--auth-root-socket-user=" + s.admin,
		"--skip-test-db", "--skip-name-resolve"}, innodbOptions...)
	out, err := s.command(s.installDB, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mariadb-install-db: %v\n%s", err, out)
	}
	// The port is free when picked but may be taken before mariadbd binds
	// it, so retry on that race.
	for attempt := 1; ; attempt++ {
		port, err := testprog.FreePort()
		if err != nil {
			return err
		}
		s.port = port
		err = s.start()
		if err == nil {
			return nil
		}
		if attempt == 5 || !errors.Is(err, errPortInUse) {
			return err
		}
	}
}

func (s *server) setDir(dir string) {
	s.dir = dir
	s.data = filepath.Join(dir, "data")
	s.socket = filepath.Join(dir, "mariadbd.sock")
	s.errorLog = filepath.Join(dir, "error.log")
	s.outLog = filepath.Join(dir, "mariadbd.out")
	s.pidFile = filepath.Join(dir, "server.pid")
}

// useNobody makes the server run as nobody: its directory becomes theirs,
// since they write the data, logs and socket there.
func (s *server) useNobody() error {
	u, err := user.Lookup("nobody")
	if err != nil {
		return fmt.Errorf("running as root, and mariadbd should not: %v", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return err
	}
	// Setting the credentials in exec, rather than with runuser, keeps
	// mariadbd our child: the process we signal and wait for is the
	// server itself.
	s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if err := os.Mkdir(s.data, 0o700); err != nil {
		return err
	}
	for _, p := range []string{s.dir, s.data} {
		if err := os.Chown(p, int(uid), int(gid)); err != nil {
			return err
		}
	}
	return nil
}

// innodbOptions turn durability off, pointless for a server deleted at the
// end, and make the files small, for both mariadb-install-db (which passes
// them to its mariadbd) and mariadbd, since a different log size would make
// the server resize the log at start.
var innodbOptions = []string{
	"--innodb-flush-log-at-trx-commit=0",
	"--innodb-flush-method=nosync",
	"--innodb-doublewrite=0",
	"--innodb-buffer-pool-size=32M",
	"--innodb-log-file-size=16M",
}

// command runs a server program from the server's directory, as nobody when
// running as root, since nobody may not be able to enter the current one.
// --no-defaults must come first in args: the server's settings are all on
// the command line, none from /etc/mysql or ~/.my.cnf.
func (s *server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.dir
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

var errPortInUse = errors.New("port in use")

// start starts mariadbd on s.port, waiting until it accepts connections.
func (s *server) start() error {
	var logStart int64
	if fi, err := os.Stat(s.errorLog); err == nil {
		logStart = fi.Size()
	}
	args := append([]string{"--no-defaults",
		"--datadir=" + s.data,
		"--socket=" + s.socket,
		"--pid-file=" + filepath.Join(s.dir, "mariadbd.pid"),
		"--log-error=" + s.errorLog,
		"--tmpdir=" + s.dir,
		"--port=" + strconv.Itoa(s.port),
		"--bind-address=127.0.0.1",
		// Accounts are matched by address: no DNS in tests.
		"--skip-name-resolve",
		// Debian's defaults, so that tests see what its servers do, not
		// the compiled-in latin1.
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_general_ci",
		// Parallel tests each open a pool.
		"--max-connections=500",
		"--innodb-buffer-pool-dump-at-shutdown=0",
		"--innodb-buffer-pool-load-at-startup=0",
	}, innodbOptions...)
	out, err := os.OpenFile(s.outLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := s.command(s.mariadbd, args...)
	// A file, not a pipe: mariadbd may outlive this process's reading.
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	s.proc = cmd
	s.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	if err := os.WriteFile(s.pidFile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		s.kill()
		return err
	}
	err = s.waitReady(30 * time.Second)
	if err == nil {
		return nil
	}
	s.kill()
	log := testprog.ReadFrom(s.errorLog, logStart)
	err = fmt.Errorf("mariadbd: %v\nserver log (%s):\n%s%s", err, s.errorLog, testprog.Tail(log, 30), testprog.Tail(testprog.ReadFrom(s.outLog, 0), 10))
	if strings.Contains(log, "Address already in use") {
		err = fmt.Errorf("%w: %w", errPortInUse, err)
	}
	return err
}

// waitReady polls the server with the client until it answers, it exits,
// or timeout passes.
func (s *server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := s.run("", "SELECT 1")
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("exited: %v", s.proc.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not accepting connections after %v: %v", timeout, err)
		}
	}
}

// kill ends a server that failed to start.
func (s *server) kill() {
	_ = s.proc.Process.Kill()
	<-s.exited
}

// stop stops mariadbd and removes the server's directory. Its normal
// shutdown takes a fraction of a second with durability off.
func (s *server) stop() error {
	if err := s.proc.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stopping mariadbd: %v", err)
	}
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.kill()
	}
	return os.RemoveAll(s.dir)
}

// run runs sql with the client through the socket as the administrator,
// in database db unless it is "", and returns the client's output. The
// connect timeout keeps a dead server from hanging tests.
func (s *server) run(db, sql string) (string, error) {
	args := []string{"--no-defaults", "--socket=" + s.socket, "--user=" + s.admin,
		"--connect-timeout=10", "--default-character-set=utf8mb4", "--batch", "--skip-column-names"}
	if db != "" {
		args = append(args, "--database="+db)
	}
	cmd := exec.Command(s.client, args...)
	cmd.Stdin = strings.NewReader(sql)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		where := "the server"
		if db != "" {
			where = "database " + db
		}
		return "", fmt.Errorf("mariadb on %s, SQL:\n%s\n%v: %s", where, sql, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// reapOrphans stops and removes the servers whose test binary died without
// running Main's cleanup (killed by go test -timeout, or by hand), so that
// such deaths do not leave servers running.
func reapOrphans() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), serverPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // not ours to judge
		}
		owner, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || owner <= 0 || processAlive(owner) {
			continue
		}
		var s server
		s.setDir(dir)
		if b, err := os.ReadFile(s.pidFile); err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err == nil && !stopOrphan(pid, s.data) {
				continue // still running: keep its files
			}
		}
		os.RemoveAll(dir)
	}
}

// stopOrphan stops the orphaned server pid serving data, and reports
// whether it is gone.
func stopOrphan(pid int, data string) bool {
	if !serves(pid, data) {
		return true
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return true
	}
	if p.Signal(syscall.SIGTERM) != nil {
		return !serves(pid, data)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if !serves(pid, data) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = p.Kill()
	time.Sleep(100 * time.Millisecond)
	return !serves(pid, data)
}

// serves reports whether process pid is a mariadbd serving data: the
// process id may have been reused by now, and the orphan, not our child,
// may stay a zombie, which has no command line, when init does not reap.
// Where there is no /proc to tell, a living process is assumed to be it.
func serves(pid int, data string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		if _, err := os.Stat("/proc/self"); err != nil {
			return processAlive(pid)
		}
		return false
	}
	return bytes.Contains(cmdline, []byte("\x00--datadir="+data+"\x00"))
}

// processAlive reports whether process pid still runs (signal 0 tests it).
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return !errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

// databaseName returns a new database name that says which test it is for;
// n keeps the tests of one process apart. MariaDB allows 64 characters, so
// the test's part is cut.
func databaseName(testName string, n int64) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 40 {
		s = s[:40]
	}
	s = strings.TrimSuffix(s, "_")
	return fmt.Sprintf("pop3_%s_%d", s, n)
}

// quoteIdent quotes a SQL identifier for MariaDB.
func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// quoteString quotes a SQL string for MariaDB, where backslashes escape
// unless the NO_BACKSLASH_ESCAPES mode is set.
func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}
