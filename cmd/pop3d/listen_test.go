package main

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/pop3test"
)

// tlsRequired starts the reply to a cleartext login refused without TLS
// (auth.go, errTLSRequired).
const tlsRequired = "-ERR [AUTH] TLS is required"

// dialProxied connects to addr over TCP and writes a PROXY protocol header
// of version (1 or 2) claiming that the client is source, before any byte
// of POP3.
func dialProxied(t *testing.T, addr string, version byte, source string) *pop3test.Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, pop3test.DefaultTimeout)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	src, err := net.ResolveTCPAddr("tcp", source)
	require.NoError(t, err)
	header := proxyproto.HeaderProxyFromAddrs(version, src, conn.RemoteAddr())
	require.NoError(t, conn.SetWriteDeadline(time.Now().Add(5*time.Second)))
	_, err = header.WriteTo(conn)
	require.NoError(t, err, "writing the PROXY v%d header", version)
	return pop3test.NewClient(t, conn)
}

// readUntilClosed returns what the server sends on conn until it closes
// it (a reset counts as closed), failing the test if it is still open
// after within.
func readUntilClosed(t *testing.T, conn net.Conn, within time.Duration) []byte {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(within)))
	got, err := io.ReadAll(conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		require.Failf(t, "the server did not close the connection", "within %v; it sent %q", within, got)
	}
	return got
}

// logRemote matches a log record of a session from host (an IP address).
func logRemote(host string) *regexp.Regexp {
	return regexp.MustCompile(`remote=` + regexp.QuoteMeta(host) + `:\d+\b`)
}

// eventuallyLogged waits until pop3d's log matches re: a session's
// records are written as it ends, after the client saw it close.
func eventuallyLogged(t *testing.T, s *server, re *regexp.Regexp) bool {
	t.Helper()
	return assert.Eventually(t, func() bool { return re.MatchString(s.stderr.String()) },
		5*time.Second, 10*time.Millisecond, "pop3d's log matches %s", re)
}

func TestProxyProtocolTrusted(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-proxy-protocol", "127.0.0.1/32")

	for _, tc := range []struct {
		name    string
		version byte
		source  string
		// loginOK: the claimed client is loopback, so cleartext login
		// is allowed; otherwise it needs TLS.
		loginOK bool
	}{
		{"v1 remote client", 1, "203.0.113.7:40001", false},
		{"v2 remote client", 2, "203.0.113.7:40002", false},
		{"v1 loopback client", 1, "127.0.0.5:40003", true},
		{"v2 loopback client", 2, "127.0.0.5:40004", true},
		{"v2 IPv6 remote client", 2, "[2001:db8::7]:40005", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialProxied(t, s.Addr, tc.version, tc.source)
			greeting := c.Greeting()
			require.True(t, strings.HasPrefix(greeting, "+OK "), "greeting: %q", greeting)

			if tc.loginOK {
				c.Login("demo", "demo")
				assert.Equal(t, "2", strings.Fields(stat(c))[0], "the demo mailbox holds 2 messages")
			} else {
				r := c.Cmd("USER demo")
				assert.True(t, strings.HasPrefix(r.Line, tlsRequired),
					"USER from %s, proxied from loopback, needs TLS: %q", tc.source, r.Line)
				r = c.Cmd("PASS demo")
				assert.False(t, r.OK, "PASS after a refused USER: %q", r.Line)
			}
			c.Quit()

			host, port, err := net.SplitHostPort(tc.source)
			require.NoError(t, err)
			re := regexp.MustCompile(`remote=` + regexp.QuoteMeta(net.JoinHostPort(host, port)) + `\s`)
			eventuallyLogged(t, s, re)
			if tc.loginOK {
				eventuallyLogged(t, s, regexp.MustCompile(`session ended".* remote=`+regexp.QuoteMeta(net.JoinHostPort(host, port))+` user=demo\b`))
			}
		})
	}
	// No session was logged with the proxy's own address.
	assert.NotRegexp(t, logRemote("127.0.0.1"), s.stderr.String(), "the proxy's address stands for no client")
}

func TestProxyProtocolTrustedWithoutHeader(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-proxy-protocol", "127.0.0.1/32")

	conn, err := net.DialTimeout("tcp", s.Addr, pop3test.DefaultTimeout)
	require.NoError(t, err)
	defer conn.Close()
	began := time.Now()

	// While it waits for that header, other connections are served.
	c := dialProxied(t, s.Addr, 2, "127.0.0.5:40010")
	c.Login("demo", "demo")
	c.Quit()
	assert.Less(t, time.Since(began), 2*time.Second, "a connection waiting for its header holds up no other")

	got := readUntilClosed(t, conn, proxyHeaderTimeout+time.Second)
	assert.Empty(t, string(got), "no greeting without a PROXY header from a trusted address")
	assert.GreaterOrEqual(t, time.Since(began), proxyHeaderTimeout-500*time.Millisecond,
		"closed when the header timeout runs out, not at once")
}

func TestProxyProtocolPerAddressLimit(t *testing.T) {
	// The limit counts the clients the headers name, not the proxy.
	s := start(t, "-addr", "127.0.0.1:0", "-proxy-protocol", "127.0.0.1/32", "-max-connections-per-ip", "1")

	first := dialProxied(t, s.Addr, 2, "203.0.113.7:40030")
	require.True(t, strings.HasPrefix(first.Greeting(), "+OK "), "greeting: %q", first.Greeting())

	same := dialProxied(t, s.Addr, 1, "203.0.113.7:40031")
	assert.Equal(t, "-ERR [SYS/TEMP] too many connections", same.ReadLine(), "a second connection from 203.0.113.7")
	same.ExpectClosed()
	eventuallyLogged(t, s, regexp.MustCompile(`connection refused" remote=203\.0\.113\.7:40031 reason=`))

	for _, tc := range []struct {
		version byte
		source  string
	}{{2, "203.0.113.8:40032"}, {1, "127.0.0.5:40033"}} {
		other := dialProxied(t, s.Addr, tc.version, tc.source)
		assert.True(t, strings.HasPrefix(other.Greeting(), "+OK "), "another client, %s: %q", tc.source, other.Greeting())
		other.Quit()
	}
	first.Quit()
}

func TestProxyProtocolTrustedBadHeader(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-proxy-protocol", "127.0.0.1/32")

	for _, tc := range []struct{ name, first string }{
		{"POP3 first", "USER demo\r\n"},
		{"malformed v1", "PROXY TCP4 nonsense\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", s.Addr, pop3test.DefaultTimeout)
			require.NoError(t, err)
			defer conn.Close()
			_, err = io.WriteString(conn, tc.first)
			require.NoError(t, err)
			got := readUntilClosed(t, conn, proxyHeaderTimeout+time.Second)
			assert.Empty(t, string(got), "nothing is sent to a trusted address without a valid header")
		})
	}
	assert.NotContains(t, s.stderr.String(), "user=demo")
}

func TestProxyProtocolUntrusted(t *testing.T) {
	// 127.0.0.1 is not in 192.0.2.0/24: its connections are served
	// directly, and a PROXY header from it is not believed.
	s := start(t, "-addr", "127.0.0.1:0", "-proxy-protocol", "192.0.2.0/24")

	t.Run("plain client", func(t *testing.T) {
		began := time.Now()
		c := dial(t, s.Addr)
		assert.Less(t, time.Since(began), 2*time.Second, "the greeting does not wait for a header")
		c.Login("demo", "demo")
		assert.Equal(t, "2", strings.Fields(stat(c))[0])
		c.Quit()
		eventuallyLogged(t, s, regexp.MustCompile(`session ended".* remote=127\.0\.0\.1:\d+ user=demo\b`))
	})

	for _, tc := range []struct {
		name    string
		version byte
		claim   string
	}{
		{"v1 header", 1, "203.0.113.8:40021"},
		{"v2 header", 2, "203.0.113.9:40022"},
		{"v2 header claiming loopback", 2, "127.0.0.9:40023"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", s.Addr, pop3test.DefaultTimeout)
			require.NoError(t, err)
			defer conn.Close()
			src, err := net.ResolveTCPAddr("tcp", tc.claim)
			require.NoError(t, err)
			_, err = proxyproto.HeaderProxyFromAddrs(tc.version, src, conn.RemoteAddr()).WriteTo(conn)
			require.NoError(t, err)
			_, err = io.WriteString(conn, "USER demo\r\nPASS demo\r\n")
			// The server may have closed (and reset) already.
			_ = err

			got := string(readUntilClosed(t, conn, 5*time.Second))
			// The greeting may have gone out before the header was read;
			// nothing else may.
			lines := strings.Split(strings.TrimSuffix(got, "\r\n"), "\r\n")
			if got != "" {
				assert.Len(t, lines, 1, "at most the greeting: %q", got)
				assert.True(t, strings.HasPrefix(lines[0], "+OK "), "greeting: %q", got)
			}
			assert.NotContains(t, got, "send PASS", "the commands after the header are not answered")
			host, _, err := net.SplitHostPort(tc.claim)
			require.NoError(t, err)
			// The session ends for that header, logged with the sender's
			// own address.
			eventuallyLogged(t, s, regexp.MustCompile(`remote=127\.0\.0\.1:`+strconv.Itoa(conn.LocalAddr().(*net.TCPAddr).Port)+
				` .*err="`+regexp.QuoteMeta(errUntrustedProxyHeader.Error())+`"`))
			assert.NotContains(t, s.stderr.String(), host, "the claimed address is never believed")
		})
	}
	assert.Equal(t, 1, strings.Count(s.stderr.String(), "user=demo"), "only the plain client logged in")
}

func TestParseCIDRs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string // the prefixes, as net.IPNet.String
		err  string   // a part of the error, "" for none
	}{
		{in: "10.0.0.0/8,192.0.2.1", want: []string{"10.0.0.0/8", "192.0.2.1/32"}},
		{in: " ::1 ", want: []string{"::1/128"}},
		{in: "10.1.2.3/8", want: []string{"10.0.0.0/8"}},
		{in: "127.0.0.1/32, 2001:db8::/32 ,", want: []string{"127.0.0.1/32", "2001:db8::/32"}},
		{in: "", err: "no CIDR prefix given"},
		{in: " , ", err: "no CIDR prefix given"},
		{in: "nonsense", err: `"nonsense" is neither an address nor a CIDR prefix`},
		{in: "10.0.0.0/33", err: `"10.0.0.0/33" is not a CIDR prefix`},
		{in: "10.0.0.0/8,bad/8", err: `"bad/8" is not a CIDR prefix`},
	} {
		t.Run(strconv.Quote(tc.in), func(t *testing.T) {
			nets, err := parseCIDRs(tc.in)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				assert.Nil(t, nets)
				return
			}
			require.NoError(t, err)
			var got []string
			for _, n := range nets {
				got = append(got, n.String())
			}
			assert.Equal(t, tc.want, got)
		})
	}

	// A bare IPv4 address is stored in its 4-byte form, so that it
	// contains the addresses a TCP connection reports.
	nets, err := parseCIDRs("192.0.2.1")
	require.NoError(t, err)
	require.Len(t, nets, 1)
	assert.True(t, nets[0].Contains(net.ParseIP("192.0.2.1")))
	assert.False(t, nets[0].Contains(net.ParseIP("192.0.2.2")))
}

func TestProxyProtocolFlag(t *testing.T) {
	var stderr strings.Builder
	_, err := parseFlags([]string{"-proxy-protocol", "nonsense"}, &stderr)
	require.Error(t, err)
	assert.Contains(t, stderr.String(), `"nonsense" is neither an address nor a CIDR prefix`)

	o, err := parseFlags([]string{"-proxy-protocol", "127.0.0.1/32,::1"}, io.Discard)
	require.NoError(t, err)
	require.Len(t, o.proxyProtocol, 2)
	assert.Equal(t, "127.0.0.1/32", o.proxyProtocol[0].String())
	assert.Equal(t, "::1/128", o.proxyProtocol[1].String())
}

func TestProxyProtocolTLS(t *testing.T) {
	// Both listeners take PROXY headers; TLS starts after the header. A
	// proxied remote client logs in once its connection is TLS.
	s := start(t, "-addr", "127.0.0.1:0", "-tls-addr", "127.0.0.1:0", "-tls-self-signed",
		"-proxy-protocol", "127.0.0.1/32")
	require.NotEmpty(t, s.TLSAddr)
	cfg := &tls.Config{InsecureSkipVerify: true}

	for _, tc := range []struct {
		name    string
		version byte
		source  string
		connect func(t *testing.T, source string, version byte) *pop3test.Client
	}{
		{"implicit TLS", 2, "203.0.113.7:40040", func(t *testing.T, source string, version byte) *pop3test.Client {
			raw := dialProxied(t, s.TLSAddr, version, source).Conn()
			tc := tls.Client(raw, cfg)
			require.NoError(t, tc.SetDeadline(time.Now().Add(pop3test.DefaultTimeout)))
			require.NoError(t, tc.Handshake(), "TLS handshake after the PROXY header")
			return pop3test.NewClient(t, tc)
		}},
		{"STLS", 1, "203.0.113.7:40041", func(t *testing.T, source string, version byte) *pop3test.Client {
			c := dialProxied(t, s.Addr, version, source)
			r := c.Cmd("USER demo")
			assert.True(t, strings.HasPrefix(r.Line, tlsRequired), "before STLS: %q", r.Line)
			c.StartTLS(cfg)
			return c
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.connect(t, tc.source, tc.version)
			c.Login("demo", "demo")
			assert.Equal(t, "2", strings.Fields(stat(c))[0])
			c.Quit()
			eventuallyLogged(t, s, regexp.MustCompile(`session ended".* remote=`+regexp.QuoteMeta(tc.source)+` tls_version="TLS 1\.[23]" user=demo\b.* tls=true\b`))
		})
	}
	assert.NotRegexp(t, logRemote("127.0.0.1"), s.stderr.String(), "the proxy's address stands for no client")
}

// A header that names no client (LOCAL, as HAProxy's health checks send,
// or UNKNOWN) is served, so that the check sees the greeting; but the
// client is unknown, not the proxy: no cleartext login for it even though
// the proxy is on loopback.
func TestProxyProtocolNoClientAddress(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-proxy-protocol", "127.0.0.1/32")
	for _, tc := range []struct {
		name   string
		header []byte
	}{
		{"v2 LOCAL", func() []byte {
			b, err := (&proxyproto.Header{Version: 2, Command: proxyproto.LOCAL, TransportProtocol: proxyproto.UNSPEC}).Format()
			require.NoError(t, err)
			return b
		}()},
		{"v1 UNKNOWN", []byte("PROXY UNKNOWN\r\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", s.Addr, pop3test.DefaultTimeout)
			require.NoError(t, err)
			t.Cleanup(func() { conn.Close() })
			_, err = conn.Write(tc.header)
			require.NoError(t, err)
			c := greeted(t, pop3test.NewClient(t, conn))
			r := c.Cmd("USER demo")
			assert.True(t, strings.HasPrefix(r.Line, tlsRequired), "USER from an unknown client: %q", r.Line)
			c.Quit()
		})
	}
	eventuallyLogged(t, s, regexp.MustCompile(`remote=unknown-client-via-127\.0\.0\.1:\d+`))
	assert.NotRegexp(t, logRemote("127.0.0.1"), s.stderr.String())
}
