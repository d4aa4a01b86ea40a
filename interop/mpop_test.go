package interop

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mpopAdded are the header fields mpop prepends to every message it
// delivers: its own trace header (received_header is on by default).
var mpopAdded = []string{"Received"}

// mpopCase is one mpop configuration.
type mpopCase struct {
	name     string
	stls     bool   // tls on, tls_starttls on
	implicit bool   // tls on, tls_starttls off, the implicit TLS port
	auth     string // mpop's auth: user, apop, plain, on
	keep     bool
	traced   []string // client lines the server trace must show
}

var mpopCases = []mpopCase{
	{name: "plain-USER-keep", auth: "user", keep: true, traced: []string{"CAPA", "USER " + testUser, "PASS <redacted>", "UIDL"}},
	{name: "plain-APOP-delete", auth: "apop", traced: []string{"APOP " + testUser + " <redacted>", "DELE 5"}},
	{name: "STLS-AUTH-PLAIN-keep", stls: true, auth: "plain", keep: true, traced: []string{"STLS", "AUTH PLAIN"}},
	{name: "STLS-AUTH-PLAIN-delete", stls: true, auth: "plain", traced: []string{"STLS", "AUTH PLAIN", "DELE 1"}},
	{name: "STLS-USER-keep", stls: true, auth: "user", keep: true, traced: []string{"STLS", "USER " + testUser}},
	{name: "implicit-TLS-auth-on-delete", implicit: true, auth: "on", traced: []string{"AUTH PLAIN", "DELE 1"}},
	{name: "implicit-TLS-AUTH-LOGIN-keep", implicit: true, auth: "login", keep: true, traced: []string{"AUTH LOGIN"}},
}

// mpopClient is mpop with a private HOME, its configuration file, a
// Maildir to deliver to and a UIDL state file.
type mpopClient struct {
	path, home, rc, maildir string
}

// newMpop writes the configuration of account "test" for c.
func newMpop(t *testing.T, srv *testServer, c mpopCase) *mpopClient {
	t.Helper()
	m := &mpopClient{path: requireClient(t, "mpop", "mpop"), home: t.TempDir()}
	m.maildir = makeMaildir(t, filepath.Join(m.home, "Maildir"))
	caFile := srv.certs.WriteCAFile(t, m.home)

	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	port := srv.port
	if c.implicit {
		port = srv.tlsPort
	}
	var rc strings.Builder
	fmt.Fprintf(&rc, "defaults\ntimeout 30\n\naccount test\n")
	fmt.Fprintf(&rc, "host %s\nport %d\n", loopback, port)
	fmt.Fprintf(&rc, "user %s\npassword %s\nauth %s\n", testUser, testPassword, c.auth)
	fmt.Fprintf(&rc, "tls %s\n", onOff(c.stls || c.implicit))
	if c.stls || c.implicit {
		fmt.Fprintf(&rc, "tls_starttls %s\ntls_trust_file %s\n", onOff(c.stls), caFile)
	}
	fmt.Fprintf(&rc, "pipelining auto\n")
	fmt.Fprintf(&rc, "delivery maildir %s\n", m.maildir)
	fmt.Fprintf(&rc, "keep %s\nonly_new on\n", onOff(c.keep))
	fmt.Fprintf(&rc, "uidls_file %s\n", filepath.Join(m.home, "uidls"))
	// mpop refuses a configuration file with a password that others
	// can read.
	m.rc = writeFile(t, m.home, "mpoprc", rc.String(), 0o600)
	return m
}

// runMpop fetches the mail of account "test"; mpop must exit 0.
func (m *mpopClient) runMpop(t *testing.T) clientRun {
	t.Helper()
	return runClient(t, m.home, nil, nil, m.path, "--file="+m.rc, "test")
}

// TestMpop downloads the maildrop into a Maildir with mpop (pipelining
// on, its default when the server offers PIPELINING), in keep and delete
// mode, over cleartext, STLS and implicit TLS with several logins, then
// runs mpop again: with only_new (UIDL-based) it fetches nothing more.
func TestMpop(t *testing.T) {
	t.Parallel()
	for _, c := range mpopCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t)
			m := newMpop(t, srv, c)

			m.runMpop(t)
			assertDelivered(t, srv.loaded, readMaildir(t, m.maildir), mpopAdded...)
			srv.assertKeptOrEmptied(t, c.keep)
			for _, line := range c.traced {
				srv.assertTraced(t, line)
			}

			// Nothing is new the second time.
			m.runMpop(t)
			assertDelivered(t, srv.loaded, readMaildir(t, m.maildir), mpopAdded...)
			srv.assertKeptOrEmptied(t, c.keep)
		})
	}
}

// TestMpopPipelining has mpop fetch and delete a maildrop of 155 messages:
// with PIPELINING it sends up to about 100 RETRs, then as many DELEs,
// before reading the replies, and the server must keep answering.
func TestMpopPipelining(t *testing.T) {
	t.Parallel()
	srv := startServer(t, manyMessages(150)...)
	require.Len(t, srv.loaded, 155)
	m := newMpop(t, srv, mpopCase{auth: "user"})
	m.runMpop(t)
	assertDelivered(t, srv.loaded, readMaildir(t, m.maildir), mpopAdded...)
	srv.assertEmptied(t)
	srv.assertTraced(t, "RETR 155")
	srv.assertTraced(t, "DELE 155")
}

// TestMpopServerinfo runs mpop --serverinfo (CAPA, login, CAPA, QUIT),
// which describes the server's capabilities, in cleartext and over STLS.
func TestMpopServerinfo(t *testing.T) {
	t.Parallel()
	for _, c := range []mpopCase{
		{name: "plain", auth: "user", keep: true},
		{name: "STLS", stls: true, auth: "plain", keep: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t)
			m := newMpop(t, srv, c)
			r := runClient(t, m.home, nil, nil, m.path, "--file="+m.rc, "--serverinfo", "test")
			for _, want := range []string{"PIPELINING:", "TOP:", "UIDL:", "STLS:", "RESP-CODES:", "AUTH-RESP-CODE:", "PLAIN", "LOGIN", "APOP"} {
				assert.Contains(t, r.stdout, want, "%s", r)
			}
			if c.stls {
				assert.Contains(t, r.stdout, "Issuer:", "%s", r)
				srv.assertTraced(t, "STLS")
			}
			srv.assertTraced(t, "QUIT")
			srv.assertUnchanged(t)
		})
	}
}
