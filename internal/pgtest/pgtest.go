// Package pgtest gives tests a real PostgreSQL: each test gets a new, empty
// database of its own, so tests can run in parallel without seeing each
// other's rows.
//
// If POP3_TEST_POSTGRES is set, it is the URL of an existing server's
// maintenance database, as a user with CREATEDB, and the databases are
// created (and dropped) there. Otherwise each test process starts its own
// throwaway cluster on first use, with initdb and pg_ctl from PATH or, as
// Debian installs them, from /usr/lib/postgresql/*/bin; durability is
// turned off, since the cluster is deleted at the end. Without PostgreSQL
// the tests skip, or fail under CI=true, like testprog.Require.
//
// Only the standard library is used, so that all three modules of the
// repository can import it without new dependencies; SQL goes through psql.
package pgtest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/gopop3/pop3/internal/testprog"
)

// EnvVar names the environment variable holding an external server's
// maintenance database URL.
const EnvVar = "POP3_TEST_POSTGRES"

// server is where the databases are created: the external server, or the
// cluster this process started (then local is set).
type server struct {
	admin *url.URL // the maintenance database
	psql  string
	local *cluster
}

// cluster is a PostgreSQL cluster started by this process.
type cluster struct {
	dir     string // temporary directory: data, log and Unix socket
	data    string
	logFile string
	pgCtl   string
	runuser string // non-empty when running as root: run as nobody
	port    int
}

// state is the package's server, started once per process. A mutex rather
// than sync.Once: every caller must see the outcome (server, skip or error),
// and Main must be able to tell whether anything was started.
var state struct {
	mu   sync.Mutex
	done bool
	srv  *server
	skip string // why PostgreSQL is unavailable: a skip, or a failure under CI
	err  error
}

var counter atomic.Int64

// Main runs the tests of a package and then stops the cluster if one was
// started. Use:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// Stopping here, not in a test's Cleanup, lets every test of the package
// share one cluster, whose start costs about a second.
func Main(m *testing.M) int { return testprog.RunThenStop(m, Stop) }

// Stop stops the server this process started, if any. Main calls it; a
// TestMain that runs the tests itself, to use this package and another
// like it, calls it after m.Run.
func Stop() error {
	state.mu.Lock()
	srv := state.srv
	state.srv = nil
	state.mu.Unlock()
	if srv != nil && srv.local != nil {
		if err := srv.local.stop(); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}
	return nil
}

// NewDatabase returns the connection string (a postgres:// URL with
// sslmode=disable) of a new, empty database for this test, dropped at the
// end of the test when an external server is used. It starts the package's
// cluster on first use.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	srv := get(tb)
	name := databaseName(tb.Name())
	if err := srv.exec("CREATE DATABASE " + quoteIdent(name)); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	if srv.local == nil {
		// A local cluster is deleted whole by Main; an external server
		// keeps what is not dropped. FORCE ends connections the test
		// left open.
		tb.Cleanup(func() {
			if err := srv.exec("DROP DATABASE IF EXISTS " + quoteIdent(name) + " WITH (FORCE)"); err != nil {
				tb.Errorf("pgtest: %v", err)
			}
		})
	}
	dsn := *srv.admin
	dsn.Path = "/" + name
	dsn.RawPath = ""
	return dsn.String()
}

// Disconnect makes the database of dsn, made by NewDatabase, unreachable
// as if its server had stopped: new connections are refused and the open
// ones are ended. Other databases, and so other tests, are not touched.
// reconnect undoes it; it is also called when the test ends.
func Disconnect(tb testing.TB, dsn string) (reconnect func()) {
	tb.Helper()
	srv := get(tb)
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if err := srv.exec("ALTER DATABASE " + quoteIdent(name) + " WITH ALLOW_CONNECTIONS false"); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	lit := "'" + strings.ReplaceAll(name, "'", "''") + "'"
	if err := srv.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = " + lit); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	var once sync.Once
	reconnect = func() {
		once.Do(func() {
			if err := srv.exec("ALTER DATABASE " + quoteIdent(name) + " WITH ALLOW_CONNECTIONS true"); err != nil {
				tb.Errorf("pgtest: %v", err)
			}
		})
	}
	tb.Cleanup(reconnect)
	return reconnect
}

// AdminDSN returns the connection string of the server's maintenance
// database (postgres), for tests that need to run SQL as the superuser, or
// as the CREATEDB user of an external server. It starts the package's
// cluster on first use.
func AdminDSN(tb testing.TB) string {
	tb.Helper()
	return get(tb).admin.String()
}

// get returns the package's server, starting it on the first call, and
// skips or fails tb as that first start did.
func get(tb testing.TB) *server {
	tb.Helper()
	state.mu.Lock()
	if !state.done {
		// Holding the lock makes parallel tests wait for the one start.
		state.srv, state.skip, state.err = start()
		state.done = true
	}
	srv, skip, err := state.srv, state.skip, state.err
	state.mu.Unlock()
	switch {
	case skip != "" && os.Getenv("CI") == "true":
		tb.Fatal("pgtest: " + skip)
	case skip != "":
		tb.Skip("pgtest: " + skip)
	case err != nil:
		tb.Fatalf("pgtest: %v", err)
	case srv == nil:
		// Main has already stopped the cluster.
		tb.Fatal("pgtest: used after Main returned")
	}
	return srv
}

// start finds the external server or starts a cluster. It returns a skip
// message, not a skip, since it runs for whichever test came first while
// the outcome applies to all.
func start() (srv *server, skip string, err error) {
	psql, binDir, skip := findPrograms(os.Getenv(EnvVar) == "")
	if skip != "" {
		return nil, skip, nil
	}
	if dsn := os.Getenv(EnvVar); dsn != "" {
		u, err := url.Parse(dsn)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return nil, "", fmt.Errorf("%s must be a postgres:// URL, not %q", EnvVar, dsn)
		}
		if !u.Query().Has("sslmode") {
			q := u.Query()
			q.Set("sslmode", "disable")
			u.RawQuery = q.Encode()
		}
		srv := &server{admin: u, psql: psql}
		// Fail early, and once, if the server is unreachable.
		if err := srv.exec("SELECT 1"); err != nil {
			return nil, "", err
		}
		return srv, "", nil
	}
	c, err := startCluster(binDir)
	if err != nil {
		return nil, "", err
	}
	admin := &url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
	return &server{admin: admin, psql: psql, local: c}, "", nil
}

// findPrograms returns psql and, if needServer, the directory holding
// initdb and pg_ctl, or a message naming the Debian package to install.
func findPrograms(needServer bool) (psql, binDir, skip string) {
	if needServer {
		binDir = serverBinDir()
		if binDir == "" {
			return "", "", "initdb and pg_ctl not found in PATH or /usr/lib/postgresql/*/bin: " +
				"install the Debian package postgresql (apt-get install -y postgresql)"
		}
	}
	psql, err := exec.LookPath("psql")
	if err != nil && binDir != "" {
		// Debian's server package has its own psql too.
		if p := filepath.Join(binDir, "psql"); isExecutable(p) {
			return p, binDir, ""
		}
	}
	if err != nil {
		return "", "", fmt.Sprintf("psql not found (%v): install the Debian package postgresql-client "+
			"(apt-get install -y postgresql-client)", err)
	}
	return psql, binDir, ""
}

// serverBinDir returns the directory of initdb and pg_ctl: PATH first, so
// a chosen version wins, then the newest of Debian's versioned directories,
// which are not in PATH.
func serverBinDir() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		if dir := filepath.Dir(p); isExecutable(filepath.Join(dir, "pg_ctl")) {
			return dir
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest first, numerically: 9.6 is older than 15.
	sort.Slice(dirs, func(i, j int) bool {
		return versionLess(versionOf(dirs[j]), versionOf(dirs[i]))
	})
	for _, dir := range dirs {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "pg_ctl")) {
			return dir
		}
	}
	return ""
}

// versionOf returns the numbers of /usr/lib/postgresql/<version>/bin.
func versionOf(binDir string) []int {
	var v []int
	for _, f := range strings.Split(filepath.Base(filepath.Dir(binDir)), ".") {
		n, err := strconv.Atoi(f)
		if err != nil {
			n = -1
		}
		v = append(v, n)
	}
	return v
}

func versionLess(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// startCluster creates and starts a cluster in a new temporary directory.
// Not tb.TempDir: that is private to root, and removed when the first test
// ends, while the cluster serves the whole process.
func startCluster(binDir string) (_ *cluster, err error) {
	reapOrphans(binDir)
	dir, err := os.MkdirTemp("", clusterPrefix)
	if err != nil {
		return nil, err
	}
	c := newCluster(dir, binDir)
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		if err := c.useNobody(); err != nil {
			return nil, err
		}
	}
	out, err := c.command(filepath.Join(binDir, "initdb"), "-D", c.data,
		"-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	// The port is free when picked but may be taken before postgres binds
	// it, so retry on that race.
	for attempt := 1; ; attempt++ {
		port, err := testprog.FreePort()
		if err != nil {
			return nil, err
		}
		c.port = port
		err = c.start()
		if err == nil {
			return c, nil
		}
		// pg_ctl -w may give up while postgres is still starting.
		_ = c.command(c.pgCtl, "stop", "-D", c.data, "-m", "immediate", "-w").Run()
		if attempt == 5 || !errors.Is(err, errPortInUse) {
			return nil, err
		}
	}
}

// clusterPrefix names the clusters' directories in the temporary
// directory; ownerFile in each holds the process id of the test binary
// that started it.
const (
	clusterPrefix = "pop3-pgtest-"
	ownerFile     = "owner.pid"
)

func newCluster(dir, binDir string) *cluster {
	return &cluster{
		dir:     dir,
		data:    filepath.Join(dir, "data"),
		logFile: filepath.Join(dir, "postgres.log"),
		pgCtl:   filepath.Join(binDir, "pg_ctl"),
	}
}

// reapOrphans stops and removes the clusters whose test binary died
// without running Main's cleanup (killed by go test -timeout, or by hand),
// so that such deaths do not leave servers running.
func reapOrphans(binDir string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), clusterPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // not ours to judge
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || ownerAlive(pid) {
			continue
		}
		c := newCluster(dir, binDir)
		if os.Geteuid() == 0 {
			if c.runuser = runuserPath(); c.runuser == "" {
				continue
			}
		}
		if c.stop() != nil {
			os.RemoveAll(dir) // no server left to stop it: only files
		}
	}
}

// ownerAlive reports whether process pid still runs (signal 0 tests it).
func ownerAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return !errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

// runuserPath is runuser's path, or "" without it.
func runuserPath() string {
	if p, err := exec.LookPath("runuser"); err == nil {
		return p
	}
	if isExecutable("/usr/sbin/runuser") {
		return "/usr/sbin/runuser"
	}
	return ""
}

// useNobody makes the cluster run as nobody: its directory becomes theirs
// (they write the data, log and socket there) and readable by everyone.
func (c *cluster) useNobody() error {
	u, err := user.Lookup("nobody")
	if err != nil {
		return fmt.Errorf("running as root, and initdb refuses to: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if c.runuser = runuserPath(); c.runuser == "" {
		return errors.New("running as root, and runuser (to run initdb as nobody) not found")
	}
	if err := os.Chmod(c.dir, 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(c.data, 0o700); err != nil {
		return err
	}
	for _, p := range []string{c.dir, c.data} {
		if err := os.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// command runs a server program, as nobody when running as root, from the
// cluster's directory since nobody may not be able to enter the current one.
func (c *cluster) command(name string, args ...string) *exec.Cmd {
	if c.runuser != "" {
		args = append([]string{"-u", "nobody", "--", name}, args...)
		name = c.runuser
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = c.dir
	return cmd
}

var errPortInUse = errors.New("port in use")

// start starts postgres on c.port, waiting until it accepts connections.
func (c *cluster) start() error {
	var logStart int64
	if fi, err := os.Stat(c.logFile); err == nil {
		logStart = fi.Size()
	}
	settings := []string{
		"listen_addresses=127.0.0.1",
		"port=" + strconv.Itoa(c.port),
		"unix_socket_directories=" + c.dir,
		// Durability is pointless for a cluster deleted at the end.
		"fsync=off",
		"synchronous_commit=off",
		"full_page_writes=off",
		// Parallel tests each open a pool.
		"max_connections=300",
		"shared_buffers=32MB",
	}
	var opts []string
	for _, s := range settings {
		opts = append(opts, "-c", shellQuote(s))
	}
	// pg_ctl passes -o to a shell, hence the quoting.
	out, err := c.command(c.pgCtl, "start", "-w", "-t", "60", "-D", c.data, "-l", c.logFile,
		"-o", strings.Join(opts, " ")).CombinedOutput()
	if err == nil {
		return nil
	}
	log := testprog.ReadFrom(c.logFile, logStart)
	err = fmt.Errorf("pg_ctl start: %v\n%s\nserver log (%s):\n%s", err, out, c.logFile, testprog.Tail(log, 30))
	if strings.Contains(log, "could not bind") || strings.Contains(log, "already in use") {
		err = fmt.Errorf("%w: %w", errPortInUse, err)
	}
	return err
}

// stop stops postgres without a checkpoint, since its data is thrown away,
// and removes the cluster's directory.
func (c *cluster) stop() error {
	out, err := c.command(c.pgCtl, "stop", "-D", c.data, "-m", "immediate", "-w").CombinedOutput()
	if err != nil {
		// Keep the directory: its log says what went wrong.
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return os.RemoveAll(c.dir)
}

// exec runs one SQL statement on the maintenance database. psql's -X skips
// ~/.psqlrc, and a connect timeout keeps a dead server from hanging tests.
func (s *server) exec(sql string) error {
	cmd := exec.Command(s.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", s.admin.String(), "-c", sql)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql -c %q on %s: %v\n%s", sql, s.admin.Redacted(), err, out)
	}
	return nil
}

// databaseName returns a new database name that says which test it is for.
// The process id keeps test processes sharing an external server apart
// (go test runs packages in parallel); the counter, the tests of one
// process. PostgreSQL truncates names to 63 bytes, so the test's part is cut.
func databaseName(testName string) string {
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
	if len(s) > 32 {
		s = s[:32]
	}
	s = strings.TrimSuffix(s, "_")
	return fmt.Sprintf("pop3_%s_%d_%d", s, os.Getpid(), counter.Add(1))
}

// quoteIdent quotes a SQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
