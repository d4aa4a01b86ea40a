// Package dovecottest starts a real Dovecot for tests: the reference that
// the maildir package and pop3d are compared with.
package dovecottest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/testprog"
)

// Dovecot is a Dovecot 2.3 serving POP3 on loopback from a temporary
// directory, with Dovecot's default POP3 settings.
type Dovecot struct {
	// Root is the temporary directory; user U's home is Root/U and their
	// Maildir Root/U/Maildir.
	Root string
	// Users is the passwd-file: every user's password is "secret".
	Users string
	// Addr is the POP3 listener's host:port.
	Addr string
	// IMAPAddr is the IMAP listener's host:port, with [Options.IMAP].
	IMAPAddr string
	uid, gid int
	conf     string // dovecot.conf, for Restart
	opts     Options
}

// Options change the Dovecot that [StartWith] starts.
type Options struct {
	// Settings are lines added to dovecot.conf, such as
	// "pop3_uidl_format = %v.%u".
	Settings string
	// IMAP serves IMAP too (dovecot-imapd), on [Dovecot.IMAPAddr].
	IMAP bool
}

// Start starts Dovecot for the given users, and stops it when the test
// ends, printing its log if the test failed. Without Dovecot installed the
// test skips, or fails under CI=true.
func Start(t testing.TB, users ...string) *Dovecot {
	t.Helper()
	return StartWith(t, Options{}, users...)
}

// StartWith is [Start] with opts.
func StartWith(t testing.TB, opts Options, users ...string) *Dovecot {
	t.Helper()
	dc := newDovecot(t)
	dc.opts = opts
	var lines strings.Builder
	for _, u := range users {
		fmt.Fprintf(&lines, "%s:{PLAIN}secret:%d:%d::%s/%s::\n", u, dc.uid, dc.gid, dc.Root, u)
	}
	require.NoError(t, os.WriteFile(dc.Users, []byte(lines.String()), 0o644))
	dc.launch(t, fmt.Sprintf(`passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[1]s
}
`, dc.Users))
	return dc
}

// StartAuth starts Dovecot with the passdb and userdb sections of auth
// (for an SQL or LDAP user database: "passdb { driver = sql args = FILE }"
// ...), serving every user's mail as the uid of [Dovecot.Owner], from the
// Maildir at ~/Maildir of the home the userdb returns.
func StartAuth(t testing.TB, auth string) *Dovecot {
	t.Helper()
	dc := newDovecot(t)
	dc.launch(t, fmt.Sprintf("mail_uid = %d\nmail_gid = %d\n%s", dc.uid, dc.gid, auth))
	return dc
}

// Owner is the uid and gid Dovecot serves mail as.
func (dc *Dovecot) Owner() (uid, gid int) { return dc.uid, dc.gid }

// newDovecot makes the temporary directory.
func newDovecot(t testing.TB) *Dovecot {
	testprog.Require(t, "dovecot", "dovecot-core dovecot-pop3d")
	// Not t.TempDir: its parent is private, and Dovecot's processes run
	// as other users.
	root, err := os.MkdirTemp("", "pop3-dovecot-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	require.NoError(t, os.Chmod(root, 0o755))
	dc := &Dovecot{Root: root, Users: filepath.Join(root, "users"), uid: os.Getuid(), gid: os.Getgid()}
	if os.Getuid() == 0 {
		// Dovecot runs mail processes as the users' uid, which must not
		// be root.
		dc.uid, dc.gid = 65534, 65534
	}
	return dc
}

// launch writes dovecot.conf with the auth sections and starts Dovecot.
func (dc *Dovecot) launch(t testing.TB, auth string) {
	t.Helper()
	testprog.Require(t, "dovecot", "dovecot-core dovecot-pop3d")
	root := dc.Root
	extra := ""
	if os.Getuid() != 0 {
		me, err := user.Current()
		require.NoError(t, err)
		extra = fmt.Sprintf("default_login_user = %s\ndefault_internal_user = %s\n", me.Username, me.Username)
	}
	port := freePort(t)
	dc.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	protocols, imap := "pop3", ""
	if dc.opts.IMAP {
		testprog.Require(t, "/usr/lib/dovecot/imap", "dovecot-imapd")
		imapPort := freePort(t)
		dc.IMAPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(imapPort))
		protocols = "pop3 imap"
		imap = fmt.Sprintf(`service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %d
  }
  inet_listener imaps {
    port = 0
  }
}
`, imapPort)
	}
	for _, d := range []string{"run", "state", "log"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	conf := filepath.Join(root, "dovecot.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`instance_name = pop3-maildir-test-%d
base_dir = %[2]s/run
state_dir = %[2]s/state
log_path = %[2]s/log/dovecot.log
protocols = %[7]s
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_failure_delay = 0
first_valid_uid = %[3]d
mail_location = maildir:~/Maildir
%[4]s
%[5]s
%[8]s
%[9]s
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %[6]d
  }
}
service anvil {
  chroot =
}
service stats {
  chroot =
}
`, port, root, min(dc.uid, 100), extra, auth, port, protocols, dc.opts.Settings, imap)), 0o644))
	dc.conf = conf
	dc.run(t)
	t.Cleanup(func() {
		_ = exec.Command("doveadm", "-c", conf, "stop").Run()
		if t.Failed() {
			if log, err := os.ReadFile(filepath.Join(root, "log", "dovecot.log")); err == nil {
				t.Logf("dovecot.log:\n%s", log)
			}
		}
	})
}

// run starts Dovecot's master with dovecot.conf and waits for its
// listener.
func (dc *Dovecot) run(t testing.TB) {
	t.Helper()
	bin := testprog.Require(t, "dovecot", "dovecot-core dovecot-pop3d")
	// Dovecot's master goes to the background and keeps the standard
	// descriptors: a file, not a pipe that would never close.
	startLog, err := os.Create(filepath.Join(dc.Root, "log", "start.log"))
	require.NoError(t, err)
	defer startLog.Close()
	cmd := exec.Command(bin, "-c", dc.conf)
	cmd.Stdout, cmd.Stderr = startLog, startLog
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(startLog.Name())
		t.Fatalf("starting dovecot: %v: %s", err, out)
	}
	waitForPort(t, dc.Addr)
}

// Restart stops Dovecot and starts it again on the same address: its
// processes and their memory are new, its files on disk (the Maildirs'
// indexes) are kept.
func (dc *Dovecot) Restart(t testing.TB) {
	t.Helper()
	require.NoError(t, exec.Command("doveadm", "-c", dc.conf, "stop").Run())
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", dc.Addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("dovecot still listens on %s after doveadm stop", dc.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	dc.run(t)
}

// Chown gives the users' homes to the uid that Dovecot serves them as:
// call it after writing into them, before Dovecot reads them.
func (dc *Dovecot) Chown(t testing.TB, users ...string) {
	t.Helper()
	for _, u := range users {
		require.NoError(t, filepath.Walk(filepath.Join(dc.Root, u), func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, dc.uid, dc.gid)
		}))
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitForPort(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
