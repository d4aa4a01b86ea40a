package interop

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// poplibScript drives Python's poplib one command at a time, as its
// configuration (a JSON argument) says, and prints what it got as JSON.
// Message contents are base64 of the lines joined with CRLF, each line
// ended, as poplib returns them: without line ends and unstuffed.
const poplibScript = `import base64, json, poplib, ssl, sys

cfg = json.loads(sys.argv[1])
out = {}

def s(b):
    return b.decode("latin-1")

def msg(lines):
    return base64.b64encode(b"".join(l + b"\r\n" for l in lines)).decode()

ctx = ssl.create_default_context(cafile=cfg["cafile"])
mode = cfg["mode"]
if mode == "ssl":
    p = poplib.POP3_SSL(cfg["host"], cfg["tls_port"], context=ctx, timeout=30)
else:
    p = poplib.POP3(cfg["host"], cfg["port"], timeout=30)
out["welcome"] = s(p.getwelcome())
out["capa_pre"] = p.capa()
if mode.startswith("stls"):
    out["stls"] = s(p.stls(context=ctx))
    out["capa_tls"] = p.capa()

try:
    p.user(cfg["user"])
    p.pass_("wrong " + cfg["password"])
    out["bad_pass"] = "accepted"
except poplib.error_proto as e:
    out["bad_pass"] = s(e.args[0])

if mode.endswith("apop"):
    out["login"] = s(p.apop(cfg["user"], cfg["password"]))
else:
    out["user"] = s(p.user(cfg["user"]))
    out["login"] = s(p.pass_(cfg["password"]))

out["capa_post"] = p.capa()
out["stat"] = list(p.stat())
resp, lines, _ = p.list()
out["list"] = [s(l) for l in lines]
out["list_1"] = s(p.list(1))
resp, lines, _ = p.uidl()
out["uidl"] = [s(l) for l in lines]
out["uidl_2"] = s(p.uidl(2))
n = out["stat"][0]
out["top0"] = [msg(p.top(i, 0)[1]) for i in range(1, n + 1)]
out["top2_3"] = msg(p.top(2, 3)[1])
out["retr"] = []
for i in range(1, n + 1):
    resp, lines, octets = p.retr(i)
    out["retr"].append({"resp": s(resp), "data": msg(lines)})
out["noop"] = s(p.noop())
if cfg["delete"]:
    out["dele"] = [s(p.dele(i)) for i in range(1, n + 1)]
    out["stat_after_dele"] = list(p.stat())
out["quit"] = s(p.quit())
json.dump(out, sys.stdout)
`

// poplibResult is what poplibScript prints.
type poplibResult struct {
	Welcome  string              `json:"welcome"`
	CapaPre  map[string][]string `json:"capa_pre"`
	STLS     string              `json:"stls"`
	CapaTLS  map[string][]string `json:"capa_tls"`
	BadPass  string              `json:"bad_pass"`
	User     string              `json:"user"`
	Login    string              `json:"login"`
	CapaPost map[string][]string `json:"capa_post"`
	Stat     []int               `json:"stat"`
	List     []string            `json:"list"`
	List1    string              `json:"list_1"`
	UIDL     []string            `json:"uidl"`
	UIDL2    string              `json:"uidl_2"`
	Top0     []string            `json:"top0"`
	Top23    string              `json:"top2_3"`
	Retr     []struct {
		Resp string `json:"resp"`
		Data string `json:"data"`
	} `json:"retr"`
	Noop      string   `json:"noop"`
	Dele      []string `json:"dele"`
	StatAfter []int    `json:"stat_after_dele"`
	Quit      string   `json:"quit"`
}

// pythonInterpreter returns the path of the real python3 interpreter. A
// python3 on PATH may be a wrapper (pyenv's shim) that needs the
// developer's HOME, so it is asked once, in the test's own environment,
// where it is.
func pythonInterpreter(t testing.TB) string {
	t.Helper()
	path := requireClient(t, "python3", "python3")
	out, err := exec.Command(path, "-c", "import sys; print(sys.executable)").Output()
	require.NoError(t, err, "asking python3 for sys.executable")
	exe := strings.TrimSpace(string(out))
	require.NotEmpty(t, exe)
	return exe
}

// runPoplib runs poplibScript in isolated mode (-I: no PYTHON* variables,
// no user site directory) in mode "user", "apop", "stls", "stls-apop" or
// "ssl", and decodes its result.
func runPoplib(t *testing.T, srv *testServer, mode string, deleteAll bool) poplibResult {
	t.Helper()
	python := pythonInterpreter(t)
	home := t.TempDir()
	script := writeFile(t, home, "poplib_client.py", poplibScript, 0o600)
	cfg, err := json.Marshal(map[string]any{
		"mode": mode, "host": loopback, "port": srv.port, "tls_port": srv.tlsPort,
		"cafile": srv.certs.WriteCAFile(t, home), "user": testUser, "password": testPassword,
		"delete": deleteAll,
	})
	require.NoError(t, err)
	r := runClient(t, home, nil, nil, python, "-I", script, string(cfg))
	var res poplibResult
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&res), "%s", r)
	return res
}

// unb64 decodes a message poplibScript printed.
func unb64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

// TestPoplib drives Python's poplib through USER/PASS (after a refused
// password), APOP, STLS and implicit TLS (POP3_SSL), and checks CAPA in
// each state, STAT, LIST, UIDL, TOP, RETR, NOOP, DELE and QUIT.
func TestPoplib(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode      string
		deleteAll bool
		traced    []string
	}{
		{mode: "user", traced: []string{"USER " + testUser, "PASS <redacted>"}},
		{mode: "apop", deleteAll: true, traced: []string{"APOP " + testUser + " <redacted>", "DELE 5"}},
		{mode: "stls", traced: []string{"STLS", "USER " + testUser}},
		{mode: "stls-apop", deleteAll: true, traced: []string{"STLS", "APOP " + testUser + " <redacted>"}},
		{mode: "ssl", deleteAll: true, traced: []string{"USER " + testUser, "DELE 1"}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t)
			res := runPoplib(t, srv, tc.mode, tc.deleteAll)
			checkPoplib(t, srv, tc.mode, tc.deleteAll, res)
			for _, line := range tc.traced {
				srv.assertTraced(t, line)
			}
			srv.assertKeptOrEmptied(t, !tc.deleteAll)
		})
	}
}

// checkPoplib checks every answer poplib got.
func checkPoplib(t *testing.T, srv *testServer, mode string, deleteAll bool, res poplibResult) {
	t.Helper()
	// The greeting carries an APOP timestamp, which poplib finds with a
	// greedy <.*> match: there must be exactly one <...>.
	assert.Regexp(t, `^\+OK [^<>]*<[^<>]+@[^<>]+>$`, res.Welcome)

	assert.Contains(t, res.CapaPre, "TOP")
	assert.Contains(t, res.CapaPre, "UIDL")
	assert.Contains(t, res.CapaPre, "USER")
	assert.Contains(t, res.CapaPre, "PIPELINING")
	assert.Contains(t, res.CapaPre["SASL"], "PLAIN")
	if strings.HasPrefix(mode, "stls") {
		assert.Contains(t, res.CapaPre, "STLS")
		assert.Equal(t, "+OK begin TLS negotiation", res.STLS)
		assert.NotContains(t, res.CapaTLS, "STLS", "no STLS once TLS is on")
		assert.Contains(t, res.CapaTLS, "USER")
	} else if mode == "ssl" {
		assert.NotContains(t, res.CapaPre, "STLS", "no STLS on implicit TLS")
	}
	assert.Equal(t, "-ERR [AUTH] authentication failed", strings.TrimSpace(res.BadPass), "a wrong password")

	total := 0
	for _, m := range srv.loaded {
		total += len(m.Data)
	}
	assert.Regexp(t, fmt.Sprintf(`^\+OK .*\b%d\b.*\b%d\b`, len(srv.loaded), total), res.Login)
	// RFC 2449 §5: what AUTHORIZATION offered is announced in both states.
	authorization := res.CapaPre
	if strings.HasPrefix(mode, "stls") {
		authorization = res.CapaTLS
	}
	for name := range authorization {
		assert.Contains(t, res.CapaPost, name, "CAPA after login")
	}

	assert.Equal(t, []int{len(srv.loaded), total}, res.Stat)
	var wantList, wantUIDL []string
	for i, m := range srv.loaded {
		wantList = append(wantList, strconv.Itoa(i+1)+" "+strconv.Itoa(len(m.Data)))
		wantUIDL = append(wantUIDL, strconv.Itoa(i+1)+" "+m.UID)
	}
	assert.Equal(t, wantList, res.List)
	assert.Equal(t, "+OK "+wantList[0], res.List1)
	assert.Equal(t, wantUIDL, res.UIDL)
	assert.Equal(t, "+OK "+wantUIDL[1], res.UIDL2)

	require.Len(t, res.Top0, len(srv.loaded))
	require.Len(t, res.Retr, len(srv.loaded))
	for i, m := range srv.loaded {
		header, body, ok := bytes.Cut(m.Data, []byte("\r\n\r\n"))
		require.True(t, ok)
		assertSameBytes(t, append(header, "\r\n\r\n"...), unb64(t, res.Top0[i]), "TOP %d 0", i+1)
		assert.Equal(t, fmt.Sprintf("+OK %d octets", len(m.Data)), res.Retr[i].Resp)
		assertSameBytes(t, m.Data, unb64(t, res.Retr[i].Data), "RETR %d", i+1)
		if i == 1 {
			lines := bytes.SplitAfter(body, []byte("\r\n"))
			want := append(append(header, "\r\n\r\n"...), bytes.Join(lines[:3], nil)...)
			assertSameBytes(t, want, unb64(t, res.Top23), "TOP 2 3")
		}
	}
	assert.True(t, strings.HasPrefix(res.Noop, "+OK"), res.Noop)
	if deleteAll {
		require.Len(t, res.Dele, len(srv.loaded))
		for _, r := range res.Dele {
			assert.True(t, strings.HasPrefix(r, "+OK"), r)
		}
		assert.Equal(t, []int{0, 0}, res.StatAfter, "deleted messages are gone from STAT")
	}
	assert.True(t, strings.HasPrefix(res.Quit, "+OK"), res.Quit)
}
