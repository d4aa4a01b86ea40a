// Package slapdtest gives tests a real OpenLDAP slapd, the directory that
// Dovecot-compatible LDAP user databases are tested against: each Start
// makes a new server with a tree of its own, so tests can run in parallel
// and change entries without seeing each other. A start takes a fraction
// of a second, too little to be worth sharing servers for.
//
// The tree is dc=example,dc=org with ou=people for the test's users, an
// administrator (the rootdn) and a read-only service account
// cn=dovecot,dc=example,dc=org, as Dovecot's LDAP passdb and userdb bind
// with. The access rules are those of a typical Dovecot setup: userPassword
// is readable by the administrator and the service account, usable by
// anonymous connections only to bind, and hidden from everyone else;
// other attributes are readable by any authenticated connection.
//
// The server listens on loopback: ldap:// (offering StartTLS) and ldaps://
// with a testcert certificate, and an ldapi:// socket. Entries are loaded
// with ldapadd and ldapmodify, so only the standard library is used.
// Without slapd and ldap-utils the tests skip, or fail under CI=true, like
// testprog.Require.
package slapdtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gopop3/pop3/internal/testcert"
	"github.com/gopop3/pop3/internal/testprog"
)

// debianPackages are what a missing program is installed from.
const debianPackages = "slapd ldap-utils"

// The fixed names of the tree that Start creates.
const (
	// BaseDN is the suffix of the server's only database.
	BaseDN = "dc=example,dc=org"
	// PeopleDN is the empty organizational unit for the test's users.
	PeopleDN = "ou=people," + BaseDN
	// AdminDN is the rootdn: it may do anything, whatever the ACLs say.
	AdminDN = "cn=admin," + BaseDN
	// ServiceDN is the read-only account that Dovecot binds as to look
	// users up and, with auth_bind=no, to read their passwords.
	ServiceDN = "cn=dovecot," + BaseDN
)

// Server is a running slapd made by Start. Its fields must not be changed.
type Server struct {
	// URI is the plain listener, ldap://127.0.0.1:port, which offers
	// StartTLS with the same certificate as LDAPSURI.
	URI string
	// LDAPSURI is the TLS listener, ldaps://127.0.0.1:port.
	LDAPSURI string
	// LDAPIURI is the Unix socket listener, ldapi://<escaped path>; it
	// is in a directory everyone may enter.
	LDAPIURI string
	// Addr and LDAPSAddr are the host:port of URI and LDAPSURI, for
	// clients that dial rather than take URIs.
	Addr, LDAPSAddr string

	// BaseDN, PeopleDN, AdminDN and ServiceDN are the package's
	// constants, here so that configurations can be written from the
	// Server alone.
	BaseDN, PeopleDN, AdminDN, ServiceDN string
	// AdminPassword and ServicePassword are random, new for each server,
	// so that a test passing only because it used the wrong account's
	// password cannot happen.
	AdminPassword, ServicePassword string

	// CAFile is the PEM file of the CA that signed the server's
	// certificate, for LDAPTLS_CACERT or Dovecot's tls_ca_cert_file.
	CAFile string
	// Certs holds the CA and the server certificate (for "localhost"
	// and 127.0.0.1); Certs.ClientTLS trusts the server.
	Certs *testcert.Certs

	slapd      string
	dir        string
	conf       string
	logFile    string
	ldapiPath  string
	ldapadd    string
	ldapmodify string
	ldapwhoami string
	cred       *syscall.Credential // nobody's, when running as root

	// mu serializes starting and stopping, since a test's Stop or
	// Restart may run in another goroutine than its Cleanup.
	mu   sync.Mutex
	proc *process // nil while stopped
}

// process is one run of slapd.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when slapd has exited
	err  error         // cmd.Wait's, set before done is closed
}

// dirPrefix names the servers' directories in the temporary directory;
// ownerFile in each holds the process id of the test binary that made it,
// and slapdPIDFile slapd's.
const (
	dirPrefix    = "pop3-slapdtest-"
	ownerFile    = "owner.pid"
	slapdPIDFile = "slapd.pid"
)

// startTimeout bounds a start or stop, generous for a loaded CI machine.
const startTimeout = 30 * time.Second

var reapOnce sync.Once

// Start starts a new slapd with the base tree and stops it, deleting its
// files, when the test ends (printing the end of its log if the test
// failed). It fails the test if slapd does not start.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{
		BaseDN:          BaseDN,
		PeopleDN:        PeopleDN,
		AdminDN:         AdminDN,
		ServiceDN:       ServiceDN,
		AdminPassword:   randomPassword(tb),
		ServicePassword: randomPassword(tb),
	}
	s.slapd = findSlapd(tb)
	s.ldapadd = testprog.Require(tb, "ldapadd", debianPackages)
	s.ldapmodify = testprog.Require(tb, "ldapmodify", debianPackages)
	s.ldapwhoami = testprog.Require(tb, "ldapwhoami", debianPackages)
	reapOnce.Do(reapOrphans)

	// Not tb.TempDir: slapd runs as nobody when we are root, and could
	// not enter tb.TempDir's private parent.
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		tb.Fatalf("slapdtest: %v", err)
	}
	s.dir = dir
	s.conf = filepath.Join(dir, "slapd.conf")
	s.logFile = filepath.Join(dir, "slapd.log")
	s.ldapiPath = filepath.Join(dir, "ldapi")
	s.LDAPIURI = "ldapi://" + url.PathEscape(s.ldapiPath)
	tb.Cleanup(func() {
		s.mu.Lock()
		err := s.stop()
		s.mu.Unlock()
		if err != nil {
			tb.Errorf("slapdtest: %v", err)
		}
		if tb.Failed() {
			tb.Logf("slapd log (%s):\n%s", s.logFile, testprog.Tail(testprog.ReadFrom(s.logFile, 0), 60))
		}
		os.RemoveAll(dir)
	})
	if err := s.setUp(tb); err != nil {
		tb.Fatalf("slapdtest: %v", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// A port is free when picked but may be taken before slapd binds
	// it, so retry on that race.
	for attempt := 1; ; attempt++ {
		var ports [2]int
		for i := range ports {
			if ports[i], err = testprog.FreePort(); err != nil {
				tb.Fatalf("slapdtest: %v", err)
			}
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
		s.LDAPSAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
		s.URI = "ldap://" + s.Addr
		s.LDAPSURI = "ldaps://" + s.LDAPSAddr
		err = s.start()
		if err == nil {
			break
		}
		if attempt == 5 || !errors.Is(err, errPortInUse) {
			tb.Fatalf("slapdtest: %v", err)
		}
	}
	s.add(tb, s.ldapadd, baseLDIF(s.ServicePassword))
	return s
}

// findSlapd returns slapd's path. Debian puts it in /usr/sbin, which is
// not in PATH for most users.
func findSlapd(tb testing.TB) string {
	tb.Helper()
	if p, err := exec.LookPath("slapd"); err == nil {
		return p
	}
	if isExecutable("/usr/sbin/slapd") {
		return "/usr/sbin/slapd"
	}
	return testprog.Require(tb, "slapd", debianPackages)
}

// setUp writes the configuration, certificates and owner file into s.dir
// and hands the directory to nobody when running as root.
func (s *Server) setUp(tb testing.TB) error {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	schemaDir := firstDir("/etc/ldap/schema", "/etc/openldap/schema")
	if schemaDir == "" {
		return errors.New("OpenLDAP's schema directory (/etc/ldap/schema) not found: " +
			"reinstall the Debian package slapd")
	}
	s.Certs = testcert.New(tb)
	s.CAFile = s.Certs.WriteCAFile(tb, s.dir)
	certFile := filepath.Join(s.dir, "cert.pem")
	keyFile := filepath.Join(s.dir, "key.pem")
	if err := os.WriteFile(certFile, s.Certs.ServerCertPEM, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, s.Certs.ServerKeyPEM, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(s.conf, []byte(s.config(schemaDir, certFile, keyFile)), 0o644); err != nil {
		return err
	}
	dbDir := filepath.Join(s.dir, "db")
	if err := os.Mkdir(dbDir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(s.dir, 0o755); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return nil
	}
	// slapd has no business running as root, and a bug of ours that
	// only root's rights would hide must show.
	u, err := user.Lookup("nobody")
	if err != nil {
		return fmt.Errorf("running as root, and slapd is to run as nobody: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	// slapd writes its database, socket and pid file here and reads the
	// key, which must stay private.
	for _, p := range []string{s.dir, dbDir, keyFile} {
		if err := os.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// config returns slapd.conf. The rootDSE and schema are readable by all,
// as clients discover the server's features there.
func (s *Server) config(schemaDir, certFile, keyFile string) string {
	var b strings.Builder
	for _, schema := range []string{"core", "cosine", "nis", "inetorgperson"} {
		fmt.Fprintf(&b, "include %s\n", quoteConf(filepath.Join(schemaDir, schema+".schema")))
	}
	// Debian builds the backends as modules; other builds may link
	// them in, and then there is nothing to load.
	for _, dir := range []string{"/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap"} {
		if _, err := os.Stat(filepath.Join(dir, "back_mdb.so")); err == nil {
			fmt.Fprintf(&b, "modulepath %s\nmoduleload back_mdb\n", quoteConf(dir))
			break
		}
	}
	fmt.Fprintf(&b, `pidfile %s
argsfile %s
TLSCACertificateFile %s
TLSCertificateFile %s
TLSCertificateKeyFile %s

access to dn.base="" by * read
access to dn.base="cn=Subschema" by * read

database mdb
suffix %q
rootdn %q
rootpw %s
directory %s
# The database is deleted at the end: durability only costs time.
dbnosync
index objectClass eq
index uid eq
index mail eq
# The rootdn (the administrator) passes every ACL unnamed.
access to attrs=userPassword
	by dn.exact=%q read
	by anonymous auth
	by * none
access to *
	by users read
	by * none
`,
		quoteConf(filepath.Join(s.dir, slapdPIDFile)), quoteConf(filepath.Join(s.dir, "slapd.args")),
		quoteConf(s.CAFile), quoteConf(certFile), quoteConf(keyFile),
		BaseDN, AdminDN, s.AdminPassword, quoteConf(filepath.Join(s.dir, "db")),
		ServiceDN)
	return b.String()
}

// baseLDIF is the tree that every server starts with.
func baseLDIF(servicePassword string) string {
	return fmt.Sprintf(`dn: %s
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: %s
objectClass: organizationalUnit
ou: people

dn: %s
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: dovecot
description: Dovecot's read-only service account
userPassword: %s
`, BaseDN, PeopleDN, ServiceDN, servicePassword)
}

// Add adds the entries of ldif (an LDIF of entries, as ldapadd reads) as
// the administrator, failing the test on any error. Passwords go in as
// given: hash them first ({SSHA}…) to store hashes, since slapd does not.
func (s *Server) Add(tb testing.TB, ldif string) {
	tb.Helper()
	s.add(tb, s.ldapadd, ldif)
}

// Modify applies ldif (an LDIF of changes, as ldapmodify reads:
// changetype: modify, add, delete, modrdn) as the administrator, failing
// the test on any error.
func (s *Server) Modify(tb testing.TB, ldif string) {
	tb.Helper()
	s.add(tb, s.ldapmodify, ldif)
}

// add runs ldapadd or ldapmodify on ldif over the Unix socket, which
// needs no TLS settings and works while a test has blocked the ports.
func (s *Server) add(tb testing.TB, program, ldif string) {
	tb.Helper()
	if out, err := s.admin(program, ldif); err != nil {
		tb.Fatalf("slapdtest: %s: %v\n%s", filepath.Base(program), err, out)
	}
}

// admin runs an ldap-utils program as the administrator over the Unix
// socket. LDAPNOINIT keeps ldap.conf, ~/.ldaprc and LDAP* variables from
// changing what is run; the timeouts keep a hung server from hanging the
// test.
func (s *Server) admin(program, stdin string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, program, "-x", "-H", s.LDAPIURI,
		"-D", AdminDN, "-w", s.AdminPassword, "-o", "nettimeout=10")
	cmd.Env = append(os.Environ(), "LDAPNOINIT=1")
	cmd.Stdin = strings.NewReader(stdin)
	return cmd.CombinedOutput()
}

// Stop stops slapd, for tests of what a client does when its server goes
// away; Restart starts it again. Stopping a stopped server does nothing.
func (s *Server) Stop(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stop(); err != nil {
		tb.Fatalf("slapdtest: %v", err)
	}
}

// Restart stops slapd if it runs and starts it again with the same
// database, addresses and passwords, for tests that a client reconnects.
// It returns once the server answers.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stop(); err != nil {
		tb.Fatalf("slapdtest: %v", err)
	}
	if err := s.start(); err != nil {
		tb.Fatalf("slapdtest: %v", err)
	}
}

var errPortInUse = errors.New("port in use")

// start runs slapd in the foreground (-d) so that it stays our child, and
// waits until it answers as the administrator. s.mu is held.
//
// The log level "stats" records every connection and operation with its
// result, which is what explains a failed test; it goes to slapd.log.
func (s *Server) start() error {
	var logStart int64
	if fi, err := os.Stat(s.logFile); err == nil {
		logStart = fi.Size()
	}
	logf, err := os.OpenFile(s.logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.slapd, "-f", s.conf, "-d", "stats",
		"-h", strings.Join([]string{s.URI, s.LDAPSURI, s.LDAPIURI}, " "))
	cmd.Dir = s.dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Pdeathsig kills slapd if the test binary dies without cleaning up
	// (go test -timeout, a crash). Go sets it after switching to nobody,
	// which would otherwise clear it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL}
	p := &process{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that started slapd ends, not
		// the process, and Go ends threads that a goroutine locked and
		// did not unlock. Keeping the thread locked to this goroutine
		// while slapd runs means no such goroutine gets it.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("starting slapd: %v", err)
	}

	deadline := time.Now().Add(startTimeout)
	for {
		// A connection made before slapd serves waits in the socket's
		// backlog, so one attempt usually suffices once the socket
		// exists.
		if _, err := os.Stat(s.ldapiPath); err == nil {
			if _, err := s.admin(s.ldapwhoami, ""); err == nil {
				s.proc = p
				return nil
			}
		}
		select {
		case <-p.done:
			log := testprog.ReadFrom(s.logFile, logStart)
			err := fmt.Errorf("slapd exited at start: %v\nslapd log (%s):\n%s", p.err, s.logFile, testprog.Tail(log, 30))
			if strings.Contains(log, "Address already in use") {
				err = fmt.Errorf("%w: %w", errPortInUse, err)
			}
			return err
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-p.done
			return fmt.Errorf("slapd did not answer within %v\nslapd log (%s):\n%s",
				startTimeout, s.logFile, testprog.Tail(testprog.ReadFrom(s.logFile, logStart), 30))
		}
	}
}

// stop stops slapd with SIGTERM, which lets it close its database, and
// waits for it to exit. s.mu is held.
func (s *Server) stop() error {
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(startTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("slapd did not stop within %v of SIGTERM; killed", startTimeout)
	}
	if p.err != nil {
		// It exits with 0 when stopped: anything else is a crash or a
		// failure, during the test, worth knowing of.
		return fmt.Errorf("slapd: %v (see %s)", p.err, s.logFile)
	}
	return nil
}

// reapOrphans kills the servers whose test binary died without its
// cleanup, which Pdeathsig should have killed already, and removes their
// directories.
func reapOrphans() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		owner, err := readPID(filepath.Join(dir, ownerFile))
		if err != nil || ownerAlive(owner) {
			continue // not ours to judge, or still in use
		}
		if pid, err := readPID(filepath.Join(dir, slapdPIDFile)); err == nil && isSlapdOf(pid, dir) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		os.RemoveAll(dir)
	}
}

// isSlapdOf reports whether process pid is the slapd of dir, and not a
// process that reused the number of a dead slapd.
func isSlapdOf(pid int, dir string) bool {
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return false
	}
	args := strings.Split(string(cmdline), "\x00")
	return len(args) > 0 && filepath.Base(args[0]) == "slapd" &&
		strings.Contains(string(cmdline), filepath.Join(dir, "slapd.conf"))
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s: bad process id %q", path, b)
	}
	return pid, nil
}

// ownerAlive reports whether process pid still runs (signal 0 tests it).
func ownerAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return !errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

// randomPassword returns 32 hex digits: nothing that LDIF or slapd.conf
// would need quoted.
func randomPassword(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("slapdtest: %v", err)
	}
	return hex.EncodeToString(b)
}

// quoteConf quotes a path for slapd.conf, which splits on spaces.
func quoteConf(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

func firstDir(dirs ...string) string {
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
	}
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
