package interop

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/syncbuf"
	"github.com/gopop3/pop3/internal/testcert"
	"github.com/gopop3/pop3/pop3test"
)

// testsslTimeout bounds one testssl.sh run (about 20 s here).
const testsslTimeout = 4 * time.Minute

// The TLS that pop3d offers passes an audit with testssl.sh, run offline
// on both ports (STLS on the POP3 port, and implicit TLS): nothing below
// TLS 1.2, no cipher finding rated MEDIUM or worse, no vulnerability
// reported, and every accepted cipher forward-secret. Then what testssl.sh
// 3.0 cannot see: SHA-1 signatures are refused in TLS 1.2, and the hybrid
// post-quantum key exchange X25519MLKEM768 is negotiated. The certificate
// is RSA, since only RSA certificates reveal the 3DES suites (SWEET32).
func TestTLSAudit(t *testing.T) {
	testssl := requireClient(t, "testssl", "testssl.sh")
	openssl := requireClient(t, "openssl", "openssl")
	addr, tlsAddr, certs := startPop3d(t)

	var wg sync.WaitGroup
	for _, port := range []struct{ name, addr, starttls string }{
		{"STLS", addr, "pop3"},
		{"implicit TLS", tlsAddr, ""},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			findings := runTestssl(t, testssl, port.addr, port.starttls)
			t.Run("testssl.sh on "+port.name, func(t *testing.T) { checkTestsslFindings(t, findings) })
		}()
	}
	wg.Wait()

	for _, port := range []struct{ name, addr, starttls string }{
		{"STLS", addr, "pop3"},
		{"implicit TLS", tlsAddr, ""},
	} {
		t.Run("signatures and key exchange on "+port.name, func(t *testing.T) {
			sslClient := func(sigalgs string) string {
				args := []string{"s_client", "-connect", port.addr, "-tls1_2", "-sigalgs", sigalgs,
					"-cipher", "DEFAULT:@SECLEVEL=0", "-servername", testcert.ServerName}
				if port.starttls != "" {
					args = append(args, "-starttls", port.starttls)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				out, _ := exec.CommandContext(ctx, openssl, args...).CombinedOutput()
				// "New, TLSv1.2, Cipher is X", where X is (NONE) when the
				// handshake failed.
				return regexp.MustCompile(`Cipher is \S+`).FindString(string(out))
			}
			assert.Contains(t, sslClient("RSA+SHA256"), "Cipher is ECDHE-RSA-", "a TLS 1.2 client with SHA-256 signatures gets in")
			assert.Equal(t, "Cipher is (NONE)", sslClient("RSA+SHA1"), "a TLS 1.2 client that accepts only SHA-1 signatures is refused")

			state := handshakeWith(t, certs, port.addr, port.starttls != "", []tls.CurveID{tls.X25519MLKEM768})
			assert.Equal(t, tls.X25519MLKEM768, state.CurveID, "post-quantum hybrid key exchange")
		})
	}
}

// startPop3d builds cmd/pop3d as this module's main package (so with this
// go.mod's TLS defaults), starts it with an RSA certificate on free
// loopback ports, and returns its STLS and implicit TLS addresses. It is
// stopped with SIGTERM when the test ends.
func startPop3d(t *testing.T) (addr, tlsAddr string, certs *testcert.Certs) {
	t.Helper()
	dir := t.TempDir()
	bin := buildPop3d(t, dir)

	certs = testcert.NewRSA(t)
	cert := writeFile(t, dir, "cert.pem", string(certs.ServerCertPEM), 0o600)
	key := writeFile(t, dir, "key.pem", string(certs.ServerKeyPEM), 0o600)
	m := runPop3d(t, bin, regexp.MustCompile(`serving POP3 on (\S+) \(with STLS\) and POP3 over TLS on (\S+)`), &syncbuf.Buffer{},
		"-addr", loopback+":0", "-tls-addr", loopback+":0", "-tls-cert", cert, "-tls-key", key)
	return m[1], m[2], certs
}

// testsslFinding is one entry of testssl.sh's --jsonfile output.
type testsslFinding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Finding  string `json:"finding"`
}

func (f testsslFinding) String() string {
	return fmt.Sprintf("%s [%s] %s", f.ID, f.Severity, f.Finding)
}

// runTestssl audits addr's protocols (-p), cipher categories (-s), forward
// secrecy (-f), vulnerabilities (-U) and every cipher per protocol (-E),
// offline: no DNS, no HTTP checks.
func runTestssl(t *testing.T, testssl, addr, starttls string) []testsslFinding {
	home := t.TempDir()
	jsonFile := filepath.Join(home, "findings.json")
	args := []string{"--quiet", "--warnings", "off", "--color", "0", "--nodns", "none",
		"--ip", loopback, "--jsonfile", jsonFile, "-p", "-s", "-f", "-U", "-E"}
	if starttls != "" {
		args = append(args, "--starttls", starttls)
	}
	args = append(args, addr)
	ctx, cancel := context.WithTimeout(context.Background(), testsslTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, testssl, args...)
	cmd.Dir = home
	cmd.Env = clientEnv(t, home)
	out, _ := cmd.CombinedOutput() // its exit status is not a verdict; the findings are
	data, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Errorf("testssl.sh wrote no findings (%v):\n%s", err, out)
		return nil
	}
	var findings []testsslFinding
	if err := json.Unmarshal(data, &findings); err != nil {
		t.Errorf("testssl.sh findings: %v", err)
	}
	return findings
}

// testsslVulnerabilities are the ids of -U's checks.
var testsslVulnerabilities = map[string]bool{
	"heartbleed": true, "CCS": true, "ticketbleed": true, "ROBOT": true, "secure_renego": true,
	"secure_client_renego": true, "CRIME_TLS": true, "BREACH": true, "POODLE_SSL": true,
	"fallback_SCSV": true, "SWEET32": true, "FREAK": true, "DROWN": true, "LOGJAM": true,
	"LOGJAM-common_primes": true, "BEAST": true, "BEAST_CBC_TLS1": true, "LUCKY13": true,
	"RC4": true, "winshock": true,
}

func checkTestsslFindings(t *testing.T, findings []testsslFinding) {
	require.NotEmpty(t, findings)
	seen := map[string]bool{}
	ciphers := 0
	for _, f := range findings {
		seen[f.ID] = true
		switch {
		case f.Severity == "WARN" || f.Severity == "FATAL" || f.ID == "scanProblem":
			t.Errorf("testssl.sh could not complete: %s", f)
		case f.ID == "SSLv2" || f.ID == "SSLv3" || f.ID == "TLS1" || f.ID == "TLS1_1":
			assert.True(t, strings.HasPrefix(f.Finding, "not offered"), "a protocol below TLS 1.2: %s", f)
		case testsslVulnerabilities[f.ID]:
			assert.Contains(t, []string{"OK", "INFO"}, f.Severity, "vulnerability reported: %s", f)
		case strings.HasPrefix(f.ID, "cipher-"):
			// "TLS 1.2   xc02f   ECDHE-RSA-AES128-GCM-SHA256   ECDH 253 ...":
			// the fifth field is the key exchange.
			ciphers++
			fields := strings.Fields(f.Finding)
			if assert.GreaterOrEqual(t, len(fields), 5, "%s", f) {
				kx := fields[4]
				assert.True(t, strings.HasPrefix(kx, "ECDH") || strings.HasPrefix(kx, "DH"),
					"a cipher without forward secrecy: %s", f)
			}
		}
		if strings.HasPrefix(f.ID, "cipher") || f.ID == "PFS" || f.ID == "FS" {
			assert.NotContains(t, []string{"MEDIUM", "HIGH", "CRITICAL"}, f.Severity, "cipher finding: %s", f)
		}
	}
	assert.Positive(t, ciphers, "testssl.sh listed the accepted ciphers")
	for _, id := range []string{"TLS1_2", "SWEET32", "LUCKY13", "cipherlist_3DES_IDEA"} {
		assert.True(t, seen[id], "testssl.sh reported on %s", id)
	}
}

// handshakeWith connects to addr (after STLS when stls is true) offering
// only the given key exchanges, and returns the connection state.
func handshakeWith(t *testing.T, certs *testcert.Certs, addr string, stls bool, curves []tls.CurveID) tls.ConnectionState {
	t.Helper()
	config := certs.ClientTLS.Clone()
	config.CurvePreferences = curves
	var c *pop3test.Client
	if stls {
		c = dialPOP(t, addr, nil)
		startTLS(t, c, config)
	} else {
		c = dialPOP(t, addr, config)
	}
	okReply(t, c, "QUIT")
	return c.Conn().(*tls.Conn).ConnectionState()
}
