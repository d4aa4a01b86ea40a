package interop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
)

// intlMessage is an internationalized message (RFC 6532): a UTF-8 display
// name and address in From, a UTF-8 Subject, and a UTF-8 body.
const intlMessage = "" +
	"From: Jürgen Müller <jürgen@bücher.example>\r\n" +
	"To: Alice <alice@example.org>\r\n" +
	"Subject: Grüße aus Köln, 日本語\r\n" +
	"Date: Mon, 01 Jan 2024 11:00:00 +0000\r\n" +
	"Message-ID: <intl@interop.test>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: 8bit\r\n" +
	"\r\n" +
	"Grüße aus Köln — ein internationalisierter Brief.\r\n" +
	"日本語のテキスト ✉\r\n"

// poplibUTF8Script lists and retrieves every message, first without and
// then (in a second session) with UTF8 (RFC 6856), then tries LANG.
const poplibUTF8Script = `import base64, json, poplib, sys

cfg = json.loads(sys.argv[1])
out = {}

def s(b):
    return b.decode("utf-8", "replace")

def fetch(p):
    resp, lines, _ = p.list()
    sizes = [int(l.split()[1]) for l in lines]
    msgs = []
    for i in range(1, len(sizes) + 1):
        resp, lines, octets = p.retr(i)
        msgs.append({"resp": s(resp), "data": base64.b64encode(b"".join(l + b"\r\n" for l in lines)).decode()})
    return sizes, msgs

p = poplib.POP3(cfg["host"], cfg["port"], timeout=30)
out["capa"] = p.capa()
p.user(cfg["user"])
p.pass_(cfg["password"])
out["sizes"], out["retr"] = fetch(p)
p.quit()

p = poplib.POP3(cfg["host"], cfg["port"], timeout=30)
out["utf8"] = s(p.utf8())
p.user(cfg["user"])
p.pass_(cfg["password"])
out["utf8_sizes"], out["utf8_retr"] = fetch(p)
resp, lines, _ = p._longcmd("LANG")
out["lang_list"] = [s(l) for l in lines]
out["lang_bg"] = s(p._shortcmd("LANG bg"))
try:
    p._shortcmd("NOSUCHCOMMAND")
    out["wrong"] = "accepted"
except poplib.error_proto as e:
    out["wrong"] = s(e.args[0])
out["quit"] = s(p.quit())
json.dump(out, sys.stdout)
`

type poplibUTF8Result struct {
	Capa  map[string][]string `json:"capa"`
	Sizes []int               `json:"sizes"`
	Retr  []struct {
		Resp string `json:"resp"`
		Data string `json:"data"`
	} `json:"retr"`
	UTF8      string `json:"utf8"`
	UTF8Sizes []int  `json:"utf8_sizes"`
	UTF8Retr  []struct {
		Resp string `json:"resp"`
		Data string `json:"data"`
	} `json:"utf8_retr"`
	LangList []string `json:"lang_list"`
	LangBG   string   `json:"lang_bg"`
	Wrong    string   `json:"wrong"`
	Quit     string   `json:"quit"`
}

// TestPoplibUTF8 has Python's poplib fetch an internationalized message
// and ASCII ones: without UTF8 the header is downgraded to ASCII (RFC 6858)
// and LIST gives the size RETR sends; after poplib's utf8() (RFC 6856) the
// message comes as stored. Then LANG lists and switches languages.
func TestPoplibUTF8(t *testing.T) {
	t.Parallel()
	srv := startServer(t, intlMessage)
	python := pythonInterpreter(t)
	home := t.TempDir()
	script := writeFile(t, home, "poplib_utf8.py", poplibUTF8Script, 0o600)
	cfg, err := json.Marshal(map[string]any{"host": loopback, "port": srv.port, "user": testUser, "password": testPassword})
	require.NoError(t, err)
	r := runClient(t, home, nil, nil, python, "-I", script, string(cfg))
	var res poplibUTF8Result
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&res), "%s", r)

	assert.Equal(t, []string{"USER"}, res.Capa["UTF8"], "CAPA: UTF8 USER")
	assert.Contains(t, res.Capa, "LANG")

	n := len(srv.loaded)
	intl := n - 1
	require.Equal(t, "<intl@interop.test>", messageID(srv.loaded[intl].Data))
	require.Len(t, res.Sizes, n)
	require.Len(t, res.Retr, n)
	for i, m := range srv.loaded {
		got := unb64(t, res.Retr[i].Data)
		assert.Equal(t, res.Sizes[i], len(got), "LIST %d is the size RETR sends", i+1)
		assert.Equal(t, fmt.Sprintf("+OK %d octets", len(got)), res.Retr[i].Resp)
		if i != intl {
			assertSameBytes(t, m.Data, got, "RETR %d of an ASCII-header message, not downgraded", i+1)
			continue
		}
		header, body, ok := bytes.Cut(got, []byte("\r\n\r\n"))
		require.True(t, ok)
		for j, c := range header {
			if !assert.Less(t, c, byte(0x80), "8-bit octet at %d of the downgraded header:\n%s", j, header) {
				break
			}
		}
		assert.Contains(t, string(header), "Message-ID: <intl@interop.test>")
		assert.NotEqual(t, len(m.Data), res.Sizes[i], "LIST reports the downgraded size")
		_, storedBody, _ := bytes.Cut(m.Data, []byte("\r\n\r\n"))
		assertSameBytes(t, storedBody, body, "the body is not downgraded")
		t.Logf("downgraded header:\n%s", header)
	}

	assert.True(t, strings.HasPrefix(res.UTF8, "+OK"), res.UTF8)
	require.Len(t, res.UTF8Sizes, n)
	require.Len(t, res.UTF8Retr, n)
	for i, m := range srv.loaded {
		assert.Equal(t, len(m.Data), res.UTF8Sizes[i], "LIST %d in UTF-8 mode: the stored size", i+1)
		assertSameBytes(t, m.Data, unb64(t, res.UTF8Retr[i].Data), "RETR %d in UTF-8 mode", i+1)
	}

	assert.Equal(t, []string{"en English", "bg Български"}, res.LangList)
	assert.Regexp(t, `^\+OK bg \p{Cyrillic}`, res.LangBG)
	assert.Regexp(t, `^-ERR \p{Cyrillic}`, res.Wrong)
	assert.NotRegexp(t, `[A-Za-z]{3}`, strings.TrimPrefix(res.Wrong, "-ERR "), "no English left")
	assert.True(t, strings.HasPrefix(res.Quit, "+OK"), res.Quit)
	srv.assertUnchanged(t)
	srv.assertTraced(t, "UTF8")
	srv.assertTraced(t, "LANG bg")
}

// TestLoginDelayWithClients has mpop and fetchmail fetch from a server with
// a LOGIN-DELAY of an hour: the first run fetches everything, a second run
// at once is refused with [LOGIN-DELAY], and no message is lost.
func TestLoginDelayWithClients(t *testing.T) {
	t.Parallel()
	withDelay := func(srv *pop3.Server) { srv.LoginDelay = time.Hour }

	t.Run("mpop-keep", func(t *testing.T) {
		t.Parallel()
		srv := startServerWith(t, withDelay)
		m := newMpop(t, srv, mpopCase{auth: "user", keep: true})
		m.runMpop(t)
		assertDelivered(t, srv.loaded, readMaildir(t, m.maildir), mpopAdded...)
		srv.assertUnchanged(t)

		// mpop takes any -ERR to PASS for a refused authentication:
		// exit status EX_NOPERM (77), with the server's text.
		r := runClient(t, m.home, nil, []int{mpopNoPerm}, m.path, "--file="+m.rc, "test")
		assert.Contains(t, r.stderr, "mpop: authentication failed (method USER)", "%s", r)
		assert.Contains(t, r.stderr, "POP3 server message: -ERR [LOGIN-DELAY] ", "%s", r)
		t.Logf("mpop refused: %s", r)
		assert.Contains(t, srv.trace.String(), " S: -ERR [LOGIN-DELAY] ")
		assertDelivered(t, srv.loaded, readMaildir(t, m.maildir), mpopAdded...)
		srv.assertUnchanged(t)
	})

	t.Run("fetchmail-delete", func(t *testing.T) {
		t.Parallel()
		srv := startServerWith(t, withDelay, manyMessages(2)...)
		f := newFetchmail(t, srv, fetchmailCase{proto: "POP3"})
		f.runFetchmail(t)
		assertDelivered(t, srv.loaded, readFiles(t, f.out), fetchmailAdded...)
		srv.assertEmptied(t)

		// fetchmail takes [LOGIN-DELAY] for "mailbox busy", PS_LOCKBUSY:
		// exit status 9 (fetchmail(1), EXIT CODES), not a bad password.
		r := f.runFetchmail(t, fetchmailLockBusy)
		assert.Contains(t, r.stdout+r.stderr, "[LOGIN-DELAY]", "%s", r)
		assert.Contains(t, r.stderr, "lock busy!  Is another session active?", "%s", r)
		assert.NotContains(t, r.stdout+r.stderr, "Authorization failure", "%s", r)
		t.Logf("fetchmail refused: %s", r)
		assert.Contains(t, srv.trace.String(), " S: -ERR [LOGIN-DELAY] ")
		assertDelivered(t, srv.loaded, readFiles(t, f.out), fetchmailAdded...)
	})
}

// Exit statuses of the clients, from their manuals.
const (
	mpopNoPerm        = 77 // EX_NOPERM
	fetchmailLockBusy = 9  // PS_LOCKBUSY: "the server responded 'lock busy'"
)

// TestExpireZeroWithClients runs clients in keep mode against a server
// with EXPIRE 0: every message they retrieve with RETR is gone after
// their QUIT, as if they had deleted it; a client that only lists
// removes nothing.
func TestExpireZeroWithClients(t *testing.T) {
	t.Parallel()
	expireZero := func(srv *pop3.Server) { srv.Expire = pop3.ExpireAfter(0) }

	t.Run("mpop-status-only", func(t *testing.T) {
		t.Parallel()
		srv := startServerWith(t, expireZero)
		m := newMpop(t, srv, mpopCase{auth: "user", keep: true})
		r := runClient(t, m.home, nil, nil, m.path, "--file="+m.rc, "--status-only", "test")
		assert.Contains(t, r.stdout, "5 messages", "%s", r)
		srv.assertUnchanged(t)
		assert.Empty(t, readMaildir(t, m.maildir))
	})

	t.Run("fetchmail-check", func(t *testing.T) {
		t.Parallel()
		srv := startServerWith(t, expireZero)
		f := newFetchmail(t, srv, fetchmailCase{proto: "POP3", keep: true})
		// -c: "return a status code to indicate whether there is mail
		// waiting, without actually fetching or deleting mail": 0, mail.
		r := runClient(t, f.home, []string{"FETCHMAILHOME=" + f.fmHome}, nil, f.path,
			append([]string{"--verbose", "--nodetach", "--check",
				"--pidfile", filepath.Join(f.fmHome, "fetchmail.pid")}, f.args...)...)
		assert.Contains(t, r.stdout, "5 messages", "%s", r)
		assert.NotContains(t, srv.trace.String(), " C: RETR ")
		assert.Empty(t, readFiles(t, f.out))
		srv.assertUnchanged(t)
	})

	t.Run("fetchmail-UIDL-keep", func(t *testing.T) {
		t.Parallel()
		srv := startServerWith(t, expireZero)
		// In UIDL mode fetchmail reads with TOP n 99999999, which is
		// no RETR: EXPIRE 0 removes nothing.
		f := newFetchmail(t, srv, fetchmailCase{proto: "POP3", uidl: true, keep: true})
		f.runFetchmail(t)
		assertDelivered(t, srv.loaded, readFiles(t, f.out), fetchmailAdded...)
		srv.assertTraced(t, "TOP 5 99999999")
		assert.NotContains(t, srv.trace.String(), " C: RETR ")
		srv.assertUnchanged(t)
	})

	t.Run("mpop-keep", func(t *testing.T) {
		t.Parallel()
		srv := startServerWith(t, expireZero)
		m := newMpop(t, srv, mpopCase{auth: "user", keep: true})
		m.runMpop(t)
		assertDelivered(t, srv.loaded, readMaildir(t, m.maildir), mpopAdded...)
		srv.assertTraced(t, "RETR 5")
		assert.NotContains(t, srv.trace.String(), " C: DELE ", "keep: mpop deletes nothing")
		srv.assertEmptied(t)
	})

	t.Run("fetchmail-keep", func(t *testing.T) {
		t.Parallel()
		srv := startServerWith(t, expireZero)
		// In keep mode without uidl, fetchmail reads with RETR.
		f := newFetchmail(t, srv, fetchmailCase{proto: "POP3", keep: true})
		f.runFetchmail(t)
		assertDelivered(t, srv.loaded, readFiles(t, f.out), fetchmailAdded...)
		srv.assertTraced(t, "RETR 5")
		assert.NotContains(t, srv.trace.String(), " C: DELE ", "keep: fetchmail deletes nothing")
		srv.assertEmptied(t)
	})
}
