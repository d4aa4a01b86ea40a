package interop

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/testcert"
)

// fetchmailAdded are the header fields fetchmail prepends to every message
// it delivers: its trace header.
var fetchmailAdded = []string{"Received"}

// fetchmailNoMail is fetchmail's exit status when there was no mail to
// fetch (PS_NOMAIL in its manual), the expected result of a run that finds
// nothing new.
const fetchmailNoMail = 1

// fetchmailDeliver is the MDA fetchmail runs once per message: it writes
// the message on its standard input to a new file in the directory given
// as its argument.
const fetchmailDeliver = `#!/bin/sh
set -e
exec cat > "$(mktemp "$1/msg.XXXXXXXX")"
`

// fetchmailCase is one fetchmail configuration.
type fetchmailCase struct {
	name     string
	proto    string // POP3 or APOP
	uidl     bool
	keep     bool
	stls     bool // STLS required (sslproto), certificate checked
	implicit bool // ssl on the implicit TLS port, certificate checked
	// cmdline gives the options on the command line instead of in an rc
	// file, and the password in ~/.netrc.
	cmdline bool
	traced  []string
}

var fetchmailCases = []fetchmailCase{
	// Without UIDL fetchmail asks LAST (RFC 1460). It reads messages
	// with RETR in keep mode, and with TOP n 99999999 ("the whole
	// message") otherwise, and in UIDL mode.
	{name: "plain-keep", proto: "POP3", keep: true, traced: []string{"CAPA", "USER " + testUser, "STAT", "LAST", "LIST 1", "RETR 5"}},
	{name: "plain-delete", proto: "POP3", traced: []string{"LAST", "TOP 1 99999999", "DELE 1", "DELE 5"}},
	{name: "plain-UIDL-keep", proto: "POP3", uidl: true, keep: true, traced: []string{"UIDL", "TOP 5 99999999"}},
	{name: "plain-APOP-keep", proto: "APOP", keep: true, traced: []string{"APOP " + testUser + " <redacted>"}},
	{name: "STLS-UIDL-keep", proto: "POP3", uidl: true, keep: true, stls: true, traced: []string{"STLS", "UIDL", "TOP 1 99999999"}},
	{name: "cmdline-STLS-UIDL-keep", proto: "POP3", uidl: true, keep: true, stls: true, cmdline: true, traced: []string{"STLS", "UIDL", "TOP 1 99999999"}},
	{name: "STLS-delete", proto: "POP3", stls: true, traced: []string{"STLS", "DELE 5"}},
	{name: "implicit-TLS-UIDL-delete", proto: "POP3", uidl: true, implicit: true, traced: []string{"UIDL", "DELE 1"}},
}

// fetchmailClient is fetchmail with its private HOME and FETCHMAILHOME, its
// options and the directory its MDA delivers to.
type fetchmailClient struct {
	path, home, fmHome, out string
	args                    []string
}

// newFetchmail writes the rc file for c (server options before "user",
// user options after it), or the ~/.netrc that holds the password when
// the options are on the command line.
func newFetchmail(t *testing.T, srv *testServer, c fetchmailCase) *fetchmailClient {
	t.Helper()
	f := &fetchmailClient{path: requireClient(t, "fetchmail", "fetchmail"), home: t.TempDir()}
	f.fmHome = filepath.Join(f.home, "fetchmailhome")
	require.NoError(t, os.Mkdir(f.fmHome, 0o700))
	f.out = filepath.Join(f.home, "delivered")
	require.NoError(t, os.Mkdir(f.out, 0o700))
	mda := writeFile(t, f.home, "deliver.sh", fetchmailDeliver, 0o755)
	caFile := srv.certs.WriteCAFile(t, f.home)
	local := "nobody"
	if u, err := user.Current(); err == nil {
		local = u.Username
	}

	port := srv.port
	if c.implicit {
		port = srv.tlsPort
	}
	if c.cmdline {
		f.args = fetchmailFlags(c, port, caFile, mda+" "+f.out)
		// fetchmail, like ftp, looks for the password in ~/.netrc,
		// which must not be readable by others.
		writeFile(t, f.home, ".netrc", fmt.Sprintf("machine %s login %s password %s\n", loopback, testUser, testPassword), 0o600)
		return f
	}

	var rc strings.Builder
	rc.WriteString("set no syslog\nset no bouncemail\n")
	fmt.Fprintf(&rc, "poll %s port %d proto %s", loopback, port, c.proto)
	if c.uidl {
		rc.WriteString(" uidl")
	}
	fmt.Fprintf(&rc, " timeout 30\n  user %q there with password %q is %q here\n", testUser, testPassword, local)
	if c.keep {
		rc.WriteString("  keep\n")
	} else {
		rc.WriteString("  no keep\n")
	}
	switch {
	case c.implicit:
		fmt.Fprintf(&rc, "  ssl sslcertck sslcertfile %q sslcommonname %q\n", caFile, testcert.ServerName)
	case c.stls:
		// An sslproto without ssl makes STLS mandatory.
		fmt.Fprintf(&rc, "  sslproto %q sslcertck sslcertfile %q sslcommonname %q\n", "TLS1.2+", caFile, testcert.ServerName)
	default:
		// No opportunistic STLS: the session stays in cleartext.
		rc.WriteString("  sslproto ''\n")
	}
	fmt.Fprintf(&rc, "  no rewrite\n  mda %q\n", mda+" "+f.out)
	// fetchmail refuses an rc file that others can read.
	rcFile := writeFile(t, f.home, "fetchmailrc", rc.String(), 0o600)
	f.args = []string{"--fetchmailrc", rcFile}
	return f
}

// fetchmailFlags returns the command-line options for c: the same
// configuration as the rc file, with the user's name but no password.
func fetchmailFlags(c fetchmailCase, port int, caFile, mda string) []string {
	args := []string{"--nosyslog", "--nobounce", "--fetchmailrc", "/dev/null",
		"--protocol", c.proto, "--service", strconv.Itoa(port), "--timeout", "30",
		"--username", testUser, "--norewrite", "--mda", mda}
	if c.uidl {
		args = append(args, "--uidl")
	}
	if c.keep {
		args = append(args, "--keep")
	} else {
		args = append(args, "--nokeep")
	}
	switch {
	case c.implicit:
		args = append(args, "--ssl", "--sslcertck", "--sslcertfile", caFile, "--sslcommonname", testcert.ServerName)
	case c.stls:
		args = append(args, "--sslproto", "TLS1.2+", "--sslcertck", "--sslcertfile", caFile, "--sslcommonname", testcert.ServerName)
	default:
		args = append(args, "--sslproto", "")
	}
	return append(args, loopback)
}

// runFetchmail polls the server once; its exit status must be one of
// okCodes (0, "mail delivered", when none is given).
func (f *fetchmailClient) runFetchmail(t *testing.T, okCodes ...int) clientRun {
	t.Helper()
	return runClient(t, f.home, []string{"FETCHMAILHOME=" + f.fmHome}, okCodes,
		f.path, append([]string{"--verbose", "--nodetach",
			// As root, fetchmail keeps its lock in /var/run whatever
			// FETCHMAILHOME says, which would serialise parallel tests.
			"--pidfile", filepath.Join(f.fmHome, "fetchmail.pid")}, f.args...)...)
}

// TestFetchmail polls with fetchmail in keep and delete mode, with and
// without UIDL, over cleartext, STLS and implicit TLS, delivering each
// message through an MDA into its own file, then polls again: nothing new
// is fetched (in UIDL mode with keep, thanks to its list of seen UIDs).
func TestFetchmail(t *testing.T) {
	t.Parallel()
	for _, c := range fetchmailCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t)
			f := newFetchmail(t, srv, c)

			f.runFetchmail(t)
			assertDelivered(t, srv.loaded, readFiles(t, f.out), fetchmailAdded...)
			srv.assertKeptOrEmptied(t, c.keep)
			for _, line := range c.traced {
				srv.assertTraced(t, line)
			}

			if !c.uidl && c.keep {
				// Without UIDL fetchmail has no memory of what it
				// fetched: a second poll fetches everything again.
				return
			}
			r := f.runFetchmail(t, fetchmailNoMail)
			assert.Contains(t, r.stdout, "normal termination, status 1", "%s", r)
			assert.Len(t, readFiles(t, f.out), len(srv.loaded), "nothing more is delivered")
			srv.assertKeptOrEmptied(t, c.keep)
		})
	}
}
