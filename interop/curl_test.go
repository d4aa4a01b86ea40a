package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// curlClient runs curl with a private HOME and no .curlrc (-q), trusting
// the test CA for TLS.
type curlClient struct {
	path   string
	home   string
	caFile string
}

func newCurl(t *testing.T, srv *testServer) *curlClient {
	t.Helper()
	path := requireClient(t, "curl", "curl")
	home := t.TempDir()
	return &curlClient{path: path, home: home, caFile: srv.certs.WriteCAFile(t, home)}
}

// runCurl runs curl with the credentials, an overall time limit and args;
// it must exit 0.
func (c *curlClient) runCurl(t *testing.T, args ...string) clientRun {
	t.Helper()
	base := []string{"-q", "--silent", "--show-error", "--max-time", "50",
		"--user", testUser + ":" + testPassword}
	return runClient(t, c.home, nil, nil, c.path, append(base, args...)...)
}

// curlMode is a way of connecting and logging in.
type curlMode struct {
	name     string
	stls     bool     // STLS required (--ssl-reqd), trusting the test CA
	implicit bool     // pop3s:// on the implicit TLS port, trusting the test CA
	args     []string // more options
	traced   []string // client lines the server trace must show
}

var curlModes = []curlMode{
	{name: "plain-AUTH-PLAIN", traced: []string{"CAPA", "AUTH PLAIN"}},
	{name: "plain-sasl-ir", args: []string{"--sasl-ir"}, traced: []string{"AUTH PLAIN <redacted>"}},
	{name: "plain-AUTH-LOGIN", args: []string{"--login-options", "AUTH=LOGIN"}, traced: []string{"AUTH LOGIN"}},
	{name: "plain-APOP", args: []string{"--login-options", "AUTH=+APOP"}, traced: []string{"APOP " + testUser + " <redacted>"}},
	{name: "STLS", stls: true, traced: []string{"STLS", "AUTH PLAIN"}},
	{name: "STLS-AUTH-LOGIN", stls: true, args: []string{"--login-options", "AUTH=LOGIN"}, traced: []string{"STLS", "AUTH LOGIN"}},
	{name: "implicit-TLS", implicit: true, traced: []string{"AUTH PLAIN"}},
	{name: "implicit-TLS-sasl-ir", implicit: true, args: []string{"--sasl-ir"}, traced: []string{"AUTH PLAIN <redacted>"}},
}

// options returns the mode's curl options.
func (m curlMode) options(c *curlClient) []string {
	var args []string
	if m.stls {
		args = append(args, "--ssl-reqd")
	}
	if m.stls || m.implicit {
		args = append(args, "--cacert", c.caFile)
	}
	return append(args, m.args...)
}

// url returns the mode's URL for path ("" is the maildrop, "3" message 3).
func (m curlMode) url(srv *testServer, path string) string {
	if m.implicit {
		return fmt.Sprintf("pop3s://%s/%s", srv.tlsAddr(), path)
	}
	return fmt.Sprintf("pop3://%s/%s", srv.addr(), path)
}

// TestCurl lists the maildrop and retrieves every message in one curl run
// (curl reuses the connection for the URLs), in every connection and login
// mode, and compares what curl printed byte for byte.
func TestCurl(t *testing.T) {
	t.Parallel()
	for _, mode := range curlModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t)
			curl := newCurl(t, srv)
			out := t.TempDir()

			args := mode.options(curl)
			args = append(args, mode.url(srv, ""), "-o", filepath.Join(out, "list"))
			for i := range srv.loaded {
				n := strconv.Itoa(i + 1)
				args = append(args, mode.url(srv, n), "-o", filepath.Join(out, "msg"+n))
			}
			curl.runCurl(t, args...)

			list, err := os.ReadFile(filepath.Join(out, "list"))
			require.NoError(t, err)
			assert.Equal(t, wantListing(srv, func(i int) string { return strconv.Itoa(len(srv.loaded[i].Data)) }), string(list))
			for i, m := range srv.loaded {
				got, err := os.ReadFile(filepath.Join(out, "msg"+strconv.Itoa(i+1)))
				require.NoError(t, err)
				// curl prints the message exactly as served, unstuffed:
				// no line-end normalisation is needed.
				assertSameBytes(t, m.Data, got, "RETR %d", i+1)
			}
			for _, c := range mode.traced {
				srv.assertTraced(t, c)
			}
			srv.assertUnchanged(t)
		})
	}
}

// wantListing is the expected body of LIST or UIDL: "n value" CRLF lines.
func wantListing(srv *testServer, value func(i int) string) string {
	var b strings.Builder
	for i := range srv.loaded {
		fmt.Fprintf(&b, "%d %s\r\n", i+1, value(i))
	}
	return b.String()
}

// TestCurlCommands sends custom commands with -X: UIDL, TOP (given without
// a message number in the URL, since curl appends the URL's number to the
// command), and DELE, which with -I (no body) removes a message at QUIT.
func TestCurlCommands(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	curl := newCurl(t, srv)
	stls := []string{"--ssl-reqd", "--cacert", curl.caFile}
	base := fmt.Sprintf("pop3://%s/", srv.addr())

	t.Run("UIDL", func(t *testing.T) {
		r := curl.runCurl(t, append(stls, "-X", "UIDL", base)...)
		assert.Equal(t, wantListing(srv, func(i int) string { return srv.loaded[i].UID }), r.stdout)
	})
	t.Run("UIDL-n", func(t *testing.T) {
		// A single-line reply: curl shows no body, only success.
		curl.runCurl(t, append(stls, "-X", "UIDL 2", "-I", base)...)
		srv.assertTraced(t, "UIDL 2")
	})
	t.Run("TOP-0", func(t *testing.T) {
		for i, m := range srv.loaded {
			r := curl.runCurl(t, append(stls, "-X", fmt.Sprintf("TOP %d 0", i+1), base)...)
			header, _, ok := strings.Cut(string(m.Data), "\r\n\r\n")
			require.True(t, ok)
			assert.Equal(t, header+"\r\n\r\n", r.stdout, "TOP %d 0", i+1)
		}
	})
	t.Run("TOP-3", func(t *testing.T) {
		r := curl.runCurl(t, append(stls, "-X", "TOP 2 3", base)...)
		header, body, _ := strings.Cut(string(srv.loaded[1].Data), "\r\n\r\n")
		lines := strings.SplitAfter(body, "\r\n")
		assert.Equal(t, header+"\r\n\r\n"+strings.Join(lines[:3], ""), r.stdout)
	})
	t.Run("DELE", func(t *testing.T) {
		curl.runCurl(t, append(stls, "-X", "DELE", "-I", base+"1")...)
		srv.assertTraced(t, "DELE 1")
		srv.assertMaildrop(t, srv.loaded[1:])
	})
}
