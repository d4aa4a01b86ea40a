package interop

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
)

// reducedServer is a server without some extensions (Server.Disable).
type reducedServer struct {
	name    string
	disable []pop3.Extension
}

var reducedServers = []reducedServer{
	{"without-UIDL", []pop3.Extension{pop3.ExtUIDL}},
	{"without-TOP", []pop3.Extension{pop3.ExtTOP}},
	{"without-CAPA", []pop3.Extension{pop3.ExtCAPA}},
	// What RFC 1939 alone has: USER/PASS, APOP, TOP, UIDL (and LAST,
	// RFC 1460), nothing announced, no STLS, no response codes.
	{"RFC1939-only", []pop3.Extension{pop3.ExtCAPA, pop3.ExtSASL, pop3.ExtSTLS, pop3.ExtRespCodes,
		pop3.ExtUTF8, pop3.ExtLANG, pop3.ExtPipelining}},
}

func (r reducedServer) has(x pop3.Extension) bool {
	for _, d := range r.disable {
		if d == x {
			return false
		}
	}
	return true
}

// startReduced starts a server holding fixtures() without r's extensions.
func startReduced(t *testing.T, r reducedServer) *testServer {
	t.Helper()
	return startServerWith(t, func(srv *pop3.Server) { srv.Disable = r.disable })
}

// unknownCommand is how the server answers a command it does not have,
// as its trace shows it.
const unknownCommand = " S: -ERR unknown command\n"

// assertDeliveredTimes is assertDelivered for a client that delivered
// every message of want exactly times times (each copy byte for byte).
func assertDeliveredTimes(t *testing.T, want []memory.Message, got [][]byte, times int, added ...string) {
	t.Helper()
	byID := make(map[string][]byte, len(want))
	for _, m := range want {
		byID[messageID(m.Data)] = m.Data
	}
	assert.Len(t, got, times*len(want), "number of delivered messages")
	count := make(map[string]int)
	for i, g := range got {
		g = stripAddedHeaders(toCRLF(g), added...)
		id := messageID(g)
		w, ok := byID[id]
		if !assert.True(t, ok, "delivered message %d has an unknown Message-ID %q; it starts:\n%s", i, id, head(g)) {
			continue
		}
		count[id]++
		assertSameBytes(t, w, g, "message %s, copy %d", id, count[id])
	}
	for id := range byID {
		assert.Equal(t, times, count[id], "copies of %s delivered", id)
	}
}

// addFetchall adds fetchmail's "fetchall" user option to its rc file, which
// makes it read messages with RETR, never TOP (fetchmail(1), "RETR or
// TOP").
func addFetchall(t *testing.T, f *fetchmailClient) {
	t.Helper()
	require.Equal(t, "--fetchmailrc", f.args[0])
	rc, err := os.ReadFile(f.args[1])
	require.NoError(t, err)
	writeFile(t, f.home, "fetchmailrc", string(rc)+"  fetchall\n", 0o600)
}

// TestClientsWithoutExtensions has fetchmail and mpop fetch the whole
// maildrop, byte for byte, in keep and delete mode, from servers that lack
// UIDL, TOP, CAPA, or everything RFC 1939 does not have.
func TestClientsWithoutExtensions(t *testing.T) {
	t.Parallel()
	for _, r := range reducedServers {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			t.Run("fetchmail", func(t *testing.T) {
				t.Parallel()
				testFetchmailWithout(t, r)
			})
			t.Run("mpop", func(t *testing.T) {
				t.Parallel()
				testMpopWithout(t, r)
			})
		})
	}
}

func testFetchmailWithout(t *testing.T, r reducedServer) {
	for _, c := range []fetchmailCase{
		{name: "keep", proto: "POP3", keep: true},
		{name: "delete", proto: "POP3"},
		{name: "UIDL-keep", proto: "POP3", uidl: true, keep: true},
		{name: "UIDL-delete", proto: "POP3", uidl: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := startReduced(t, r)
			f := newFetchmail(t, srv, c)
			// fetchmail reads with RETR in keep mode without uidl, with
			// TOP n 99999999 otherwise, whether or not CAPA lists TOP.
			usesTop := !c.keep || c.uidl
			if usesTop && !r.has(pop3.ExtTOP) {
				// Its manual: "fetchmail will always use the RETR command
				// if fetchall is set"; without it, a server without TOP
				// gets TOP, refuses it, and nothing is fetched: fetchmail
				// says it "couldn't fetch headers" of each message and
				// ends with status 1, deleting nothing.
				run := f.runFetchmail(t, fetchmailNoMail)
				assert.Contains(t, run.stdout, "POP3> TOP 1 99999999", "%s", run)
				assert.Contains(t, run.stdout, "POP3< -ERR unknown command", "%s", run)
				assert.Contains(t, run.stderr+run.stdout, "couldn't fetch headers, message alice@127.0.0.1:5", "%s", run)
				assert.Contains(t, run.stdout, "normal termination, status 1", "%s", run)
				assert.Empty(t, readFiles(t, f.out), "nothing delivered")
				srv.assertUnchanged(t)
				// The server's trace does not show an unknown command,
				// which may be a password sent out of turn.
				srv.assertTraced(t, "<unrecognised line of 14 octets>")
				assert.Contains(t, srv.trace.String(), unknownCommand)
				addFetchall(t, f)
			}
			fetchall := usesTop && !r.has(pop3.ExtTOP)
			run := f.runFetchmail(t)
			assertDelivered(t, srv.loaded, readFiles(t, f.out), fetchmailAdded...)
			srv.assertKeptOrEmptied(t, c.keep)
			if fetchall {
				srv.assertTraced(t, "RETR 5")
			}

			if !r.has(pop3.ExtCAPA) {
				// CAPA refused, fetchmail connects again and goes on as
				// with a server of RFC 1939.
				assert.Contains(t, run.stdout, "POP3> CAPA\nfetchmail: POP3< -ERR unknown command", "%s", run)
				assert.Equal(t, 2, strings.Count(run.stdout, "POP3< +OK POP3 server ready"), "a second connection\n%s", run)
			}
			if c.uidl {
				if r.has(pop3.ExtUIDL) {
					srv.assertTraced(t, "UIDL")
				} else {
					// It asks anyway, whatever CAPA said.
					assert.Contains(t, run.stdout, "POP3> UIDL\nfetchmail: POP3< -ERR unknown command", "%s", run)
				}
			}
			if c.keep && (!c.uidl || !r.has(pop3.ExtUIDL) || fetchall) {
				// Without UIDs fetchmail has no memory of what it
				// fetched (LAST, RFC 1460, says 0: this server keeps no
				// "seen" state), and fetchall means "old ones too": a
				// second poll fetches everything again.
				second := f.runFetchmail(t)
				assert.Contains(t, second.stdout, "normal termination, status 0", "%s", second)
				assertDeliveredTimes(t, srv.loaded, readFiles(t, f.out), 2, fetchmailAdded...)
				srv.assertUnchanged(t)
				return
			}
			// Nothing more the second time: in delete mode, nothing is
			// left; in UIDL mode with keep, every message's UID is known.
			second := f.runFetchmail(t, fetchmailNoMail)
			assert.Contains(t, second.stdout, "normal termination, status 1", "%s", second)
			assert.Len(t, readFiles(t, f.out), len(srv.loaded), "nothing more is delivered")
			srv.assertKeptOrEmptied(t, c.keep)
		})
	}
}

func testMpopWithout(t *testing.T, r reducedServer) {
	for _, keep := range []bool{true, false} {
		name := "delete"
		if keep {
			name = "keep"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := startReduced(t, r)
			m := newMpop(t, srv, mpopCase{auth: "user", keep: keep})
			m.runMpop(t)
			assertDelivered(t, srv.loaded, readMaildir(t, m.maildir), mpopAdded...)
			srv.assertKeptOrEmptied(t, keep)
			srv.assertTraced(t, "USER "+testUser)
			srv.assertTraced(t, "RETR 5")
			if !keep {
				srv.assertTraced(t, "DELE 5")
			}
			if !r.has(pop3.ExtCAPA) {
				// mpop takes the refused CAPA for a server of RFC 1939
				// and asks for UIDL all the same.
				assert.Contains(t, srv.trace.String(), unknownCommand)
				srv.assertTraced(t, "UIDL")
			}

			second := m.runMpop(t)
			switch {
			case !keep:
				assertDelivered(t, srv.loaded, readMaildir(t, m.maildir), mpopAdded...)
				assert.Contains(t, second.stdout, "no messages", "%s", second)
			case r.has(pop3.ExtUIDL):
				// only_new goes by UIDL: nothing is new.
				assertDelivered(t, srv.loaded, readMaildir(t, m.maildir), mpopAdded...)
				assert.Contains(t, second.stdout, "new: no messages", "%s", second)
			default:
				// Without UIDL mpop cannot tell what it already has
				// (only_new needs the UIDs it keeps in uidls_file):
				// in keep mode it fetches every message again, and
				// never sends UIDL, which CAPA did not offer.
				assertDeliveredTimes(t, srv.loaded, readMaildir(t, m.maildir), 2, mpopAdded...)
				assert.Contains(t, second.stdout, "new: 5 messages", "%s", second)
				assert.NotContains(t, srv.trace.String(), " C: UIDL\n")
			}
			srv.assertKeptOrEmptied(t, keep)
		})
	}
}
