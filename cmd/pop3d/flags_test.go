package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
)

// pop3d -h lists every flag once, under its group.
func TestUsageGroupsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	_, err := parseFlags([]string{"-h"}, &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	usage := out.String()
	for _, g := range flagGroups {
		assert.Contains(t, usage, "\n"+g.title+":\n")
	}
	grouped := map[string]bool{}
	for _, g := range flagGroups {
		for _, name := range g.names {
			assert.False(t, grouped[name], "-%s is in two groups", name)
			grouped[name] = true
		}
	}
	// Every flag parseFlags defines appears in the usage, so in a group.
	for _, line := range strings.Split(usage, "\n") {
		if name, ok := strings.CutPrefix(line, "  -"); ok {
			name, _, _ = strings.Cut(name, " ")
			assert.True(t, grouped[name], "-%s", name)
		}
	}
	assert.Equal(t, len(grouped), strings.Count(usage, "\n  -"), "every grouped flag is printed once")
	assert.Contains(t, usage, "  -tls-addr HOST:PORT\n")
	assert.Contains(t, usage, `(default "127.0.0.1:1110")`)
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-log-format", "xml"},
		{"-log-level", "loud"},
		{"-proxy-protocol", "nonsense"},
		{"-shutdown-grace", "-1s"},
		{"-max-connections", "-5"},
		{"-login-delay", "-1s"},
		{"-expire", "3d"},
		{"-expire", "-1"},
		{"-disable", "UIDL,XFOO"},
		{"-language", "tlh"},
		{"-auth-cache-size", "-1"},
		{"-auth-cache-ttl", "0"},
		{"-auth-cache-ttl", "-1h"},
		{"-auth-failure-delay", "-1s"},
		{"-auth-penalty", "-1s"},
		{"-auth-penalty", "soon"},
		{"-trusted-networks", "nonsense"},
		{"-trusted-networks", "10.0.0.0/33"},
		{"-trusted-networks", ""},
	} {
		_, err := parseFlags(args, io.Discard)
		var ue *usageError
		assert.ErrorAs(t, err, &ue, "%q", args)
	}
}

func TestProtocolFlags(t *testing.T) {
	o, err := parseFlags([]string{"-login-delay", "90s", "-expire", "30", "-disable", "capa,uidl", "-disable", "TOP", "-language", "bg"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, o.loginDelay)
	assert.Equal(t, pop3.ExpireAfter(30), o.expire)
	assert.Equal(t, []pop3.Extension{pop3.ExtCAPA, pop3.ExtUIDL, pop3.ExtTOP}, o.disable)
	assert.Equal(t, "bg", o.language)

	o, err = parseFlags([]string{"-language", "bg-BG"}, io.Discard)
	require.NoError(t, err, "a language range the library matches")
	assert.Equal(t, "bg-BG", o.language)

	o, err = parseFlags([]string{"-expire", "never"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, pop3.ExpireNever, o.expire)
	o, err = parseFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.True(t, o.expire.IsZero(), "the default is the library's: NEVER")
	// The limits' defaults are the library's, which -help shows.
	assert.Equal(t, pop3.DefaultMaxConnections, o.maxConnections)
	assert.Equal(t, pop3.DefaultMaxConnectionsPerIP, o.maxConnectionsPerIP)
	assert.Equal(t, pop3.DefaultIdleTimeout, o.idleTimeout)
	assert.Equal(t, pop3.DefaultAuthFailureDelay, o.authFailureDelay)
	assert.Equal(t, pop3.DefaultMaxAuthPenalty, o.authPenalty)
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"-version"}, &out, io.Discard, nil))
	assert.Regexp(t, `^pop3d \S+.* built with go1\.\d+`, out.String())
}

// -log-format json writes one JSON object per record; -log-level warn
// leaves out the info records.
func TestLogFlags(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-log-format", "json")
	dial(t, s.Addr).Quit()
	require.NoError(t, s.stop(t))
	lines := strings.Split(strings.TrimSpace(s.stderr.String()), "\n")
	require.NotEmpty(t, lines)
	for _, line := range lines {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		assert.Contains(t, rec, "msg")
	}

	quiet := start(t, "-addr", "127.0.0.1:0", "-log-level", "warn")
	dial(t, quiet.Addr).Quit()
	require.NoError(t, quiet.stop(t))
	assert.NotContains(t, quiet.stderr.String(), "session ended")
}

// -tls-addr "" keeps STLS and serves no implicit TLS port.
func TestNoImplicitTLSListener(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-tls-addr", "", "-tls-self-signed")
	assert.Empty(t, s.TLSAddr)
	c := dial(t, s.Addr)
	assert.Contains(t, string(c.OK("CAPA").Body), "STLS\r\n")
	c.Quit()
}

// parseCIDRs never panics, and what it accepts holds the address each
// prefix names; parsePrefixes (-trusted-networks) accepts the same lists,
// as the same networks.
func FuzzParseCIDRs(f *testing.F) {
	for _, seed := range []string{"10.0.0.0/8,192.0.2.1", " ::1 ", "", ",", "nonsense", "10.0.0.0/33", "fe80::/10,127.0.0.1/32"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		nets, err := parseCIDRs(v)
		if err != nil {
			assert.Nil(t, nets)
			return
		}
		require.NotEmpty(t, nets)
		for _, n := range nets {
			assert.True(t, n.Contains(n.IP), "%v", n)
		}
		prefixes, err := parsePrefixes(v)
		require.NoError(t, err)
		require.Len(t, prefixes, len(nets))
		for i, p := range prefixes {
			require.True(t, p.IsValid(), "%v", p)
			ip, _ := netip.AddrFromSlice(nets[i].IP)
			assert.True(t, p.Contains(ip.Unmap()), "%v from %v", p, nets[i])
		}
	})
}

// The package documentation, which go doc shows, names every flag that
// pop3d -h lists.
func TestPackageDocNamesEveryFlag(t *testing.T) {
	src, err := os.ReadFile("main.go")
	require.NoError(t, err)
	doc, _, ok := strings.Cut(string(src), "\npackage main")
	require.True(t, ok)
	for _, g := range flagGroups {
		for _, name := range g.names {
			assert.Regexp(t, `(?m)^//\t.*-`+regexp.QuoteMeta(name)+`\b`, doc, "main.go's package comment does not name -%s", name)
		}
	}
}
