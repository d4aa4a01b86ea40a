package interop

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// getmailAdded are the header fields getmail6 prepends to every message it
// delivers (its options delivered_to and received, both on by default,
// and the envelope sender it records as Return-Path).
var getmailAdded = []string{"Return-Path", "Delivered-To", "Received"}

// getmailDeliver is the external MDA of the MDA_external cases: it writes
// the message on its standard input to a new file in the directory given
// as its argument.
const getmailDeliver = `#!/bin/sh
set -e
exec cat > "$(mktemp "$1/msg.XXXXXXXX")"
`

// getmailCase is one getmail6 configuration.
type getmailCase struct {
	name     string
	implicit bool // SimplePOP3SSLRetriever on the implicit TLS port, with the test CA
	apop     bool // use_apop
	mda      bool // MDA_external instead of Maildir
	delete   bool
	traced   []string
}

var getmailCases = []getmailCase{
	{name: "plain-Maildir-keep", traced: []string{"USER " + testUser, "UIDL", "LIST", "RETR 5", "QUIT"}},
	{name: "plain-Maildir-delete", delete: true, traced: []string{"RETR 1", "DELE 1", "DELE 5"}},
	{name: "plain-APOP-MDA-keep", apop: true, mda: true, traced: []string{"APOP " + testUser + " <redacted>"}},
	{name: "implicit-TLS-Maildir-keep", implicit: true, traced: []string{"USER " + testUser, "RETR 5"}},
	{name: "implicit-TLS-MDA-delete", implicit: true, mda: true, delete: true, traced: []string{"DELE 5"}},
}

// getmailClient is getmail6 with a private HOME, its rc file, its
// getmaildir (which keeps the list of messages seen) and the directory it
// delivers to.
type getmailClient struct {
	path, home, rc, getmaildir, out string
	mda                             bool
}

// newGetmail writes the rc file for c. getmail refuses to deliver to a
// Maildir as root; then the Maildir destination names an unprivileged
// user (nobody) to deliver as, and that user is given access to the
// test's directories. An MDA_external destination as root needs
// allow_root_commands.
func newGetmail(t *testing.T, srv *testServer, c getmailCase) *getmailClient {
	t.Helper()
	g := &getmailClient{path: requireClient(t, "getmail", "getmail6"), home: t.TempDir(), mda: c.mda}
	g.getmaildir = filepath.Join(g.home, "getmail")
	require.NoError(t, os.Mkdir(g.getmaildir, 0o700))

	var rc strings.Builder
	retriever, port := "SimplePOP3Retriever", srv.port
	if c.implicit {
		retriever, port = "SimplePOP3SSLRetriever", srv.tlsPort
	}
	// timeout is also how long getmail waits for a delivery child it lost
	// track of (see getmailLostChild): then it fails soon.
	fmt.Fprintf(&rc, "[retriever]\ntype = %s\nserver = %s\nport = %d\nusername = %s\npassword = %s\ntimeout = 15\n",
		retriever, loopback, port, testUser, testPassword)
	if c.implicit {
		fmt.Fprintf(&rc, "ca_certs = %s\n", srv.certs.WriteCAFile(t, g.home))
	}
	if c.apop {
		rc.WriteString("use_apop = true\n")
	}

	rc.WriteString("\n[destination]\n")
	if c.mda {
		g.out = filepath.Join(g.home, "delivered")
		require.NoError(t, os.Mkdir(g.out, 0o700))
		script := writeFile(t, g.home, "deliver.sh", getmailDeliver, 0o755)
		fmt.Fprintf(&rc, "type = MDA_external\npath = %s\narguments = (%q,)\n", script, g.out)
		if os.Geteuid() == 0 {
			rc.WriteString("allow_root_commands = true\n")
		}
	} else {
		g.out = makeMaildir(t, filepath.Join(g.home, "Maildir"))
		fmt.Fprintf(&rc, "type = Maildir\npath = %s/\n", g.out)
		if os.Geteuid() == 0 {
			fmt.Fprintf(&rc, "user = %s\n", shareWithUnprivileged(t, g.home, g.out))
		}
	}

	fmt.Fprintf(&rc, "\n[options]\nverbose = 2\nread_all = false\ndelete = %t\nmessage_log_syslog = false\n", c.delete)
	g.rc = writeFile(t, g.home, "getmailrc", rc.String(), 0o600)
	return g
}

// shareWithUnprivileged lets the user nobody reach home and own maildir,
// so that getmail, running as root, can deliver as nobody; it returns the
// user name. Only the test's own temporary directories are changed.
func shareWithUnprivileged(t *testing.T, home, maildir string) string {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("running as root, getmail delivers to a Maildir only as another user, and there is no user nobody: %v", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	require.NoError(t, err)
	gid, err := strconv.Atoi(u.Gid)
	require.NoError(t, err)
	// t.TempDir makes home and its parent 0700: let others traverse them.
	for _, dir := range []string{filepath.Dir(home), home} {
		fi, err := os.Stat(dir)
		require.NoError(t, err)
		require.NoError(t, os.Chmod(dir, fi.Mode().Perm()|0o011))
	}
	require.NoError(t, filepath.Walk(maildir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(path, uid, gid)
	}))
	return u.Username
}

// delivered returns what getmail delivered so far.
func (g *getmailClient) delivered(t *testing.T) [][]byte {
	t.Helper()
	if g.mda {
		return readFiles(t, g.out)
	}
	return readMaildir(t, g.out)
}

// runGetmail runs getmail once; it must exit 0.
func (g *getmailClient) runGetmail(t *testing.T) clientRun {
	t.Helper()
	return runClient(t, g.home, nil, nil, g.path, "--rcfile", g.rc, "--getmaildir", g.getmaildir)
}

// getmailLostChild is what getmail6 (6.18) says when it missed the exit of
// the child it forked to deliver a message: it installs its SIGCHLD
// handler only after fork returns, so a child that exits first, as on a
// loaded machine, is never reaped, and getmail waits for it until its
// timeout. That is getmail's race, not the server's; a run that hits it is
// done again from the start.
const getmailLostChild = "waiting child pid"

// anyExitStatus lets runClient return whatever getmail exits with.
var anyExitStatus = func() []int {
	codes := make([]int, 256)
	for i := range codes {
		codes[i] = i
	}
	return codes
}()

// runGetmailFirst is the first run of a case: it starts a server and
// getmail for c, and runs getmail, again from scratch (new server, new
// getmail state) when getmail lost its delivery child. It must exit 0.
func runGetmailFirst(t *testing.T, c getmailCase) (*testServer, *getmailClient) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		srv := startServer(t)
		g := newGetmail(t, srv, c)
		r := runClient(t, g.home, nil, anyExitStatus, g.path, "--rcfile", g.rc, "--getmaildir", g.getmaildir)
		if r.code != 0 && strings.Contains(r.stdout+r.stderr, getmailLostChild) && attempt < 3 {
			t.Logf("attempt %d: getmail lost its delivery child (its own race); again from scratch:\n%s", attempt, r)
			continue
		}
		require.Equal(t, 0, r.code, "getmail failed\n%s", r)
		return srv, g
	}
}

// TestGetmail retrieves the maildrop with getmail6 (which has no STLS) in
// cleartext and over implicit TLS, into a Maildir or through an external
// MDA, keeping or deleting, then runs it again: with read_all = false it
// fetches nothing more.
func TestGetmail(t *testing.T) {
	t.Parallel()
	for _, c := range getmailCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv, g := runGetmailFirst(t, c)
			assertDelivered(t, srv.loaded, g.delivered(t), getmailAdded...)
			srv.assertKeptOrEmptied(t, !c.delete)
			for _, line := range c.traced {
				srv.assertTraced(t, line)
			}

			g.runGetmail(t)
			assertDelivered(t, srv.loaded, g.delivered(t), getmailAdded...)
			srv.assertKeptOrEmptied(t, !c.delete)
		})
	}
}
