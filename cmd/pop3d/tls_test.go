package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/pop3test"
)

// writePair writes cert, and key's private key, as PEM files, each
// replaced at once (by a rename), as certbot and the like do.
func writePair(t *testing.T, certFile, keyFile string, cert, key tls.Certificate) {
	t.Helper()
	keyDER, err := x509.MarshalPKCS8PrivateKey(key.PrivateKey)
	require.NoError(t, err)
	for file, block := range map[string]*pem.Block{
		certFile: {Type: "CERTIFICATE", Bytes: cert.Certificate[0]},
		keyFile:  {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		require.NoError(t, os.WriteFile(file+".new", pem.EncodeToMemory(block), 0o600))
		require.NoError(t, os.Rename(file+".new", file))
	}
}

// presented connects over implicit TLS and returns the certificate the
// server presents, with the session, greeted.
func presented(t *testing.T, addr string) (*x509.Certificate, *pop3test.Client) {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	require.NoError(t, err)
	return conn.ConnectionState().PeerCertificates[0], greeted(t, pop3test.NewClient(t, conn))
}

// servedCert is the certificate a new implicit TLS connection to addr is
// presented, the session greeted and ended.
func servedCert(t *testing.T, addr string) *x509.Certificate {
	t.Helper()
	cert, c := presented(t, addr)
	c.Quit()
	return cert
}

// SIGHUP puts a renewed certificate in use for new connections, without
// dropping a session in progress; a bad pair is refused and logged, and
// the current certificate stays.
func TestCertificateReload(t *testing.T) {
	oldCert, err := selfSignedCert(time.Now())
	require.NoError(t, err)
	newCert, err := selfSignedCert(time.Now())
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePair(t, certFile, keyFile, oldCert, oldCert)

	s := start(t, "-addr", "127.0.0.1:0", "-tls-addr", "127.0.0.1:0", "-tls-cert", certFile, "-tls-key", keyFile)
	got, before := presented(t, s.TLSAddr)
	assert.True(t, got.Equal(oldCert.Leaf))
	before.Login("demo", "demo")

	hup := func() { require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP)) }
	writePair(t, certFile, keyFile, newCert, newCert)
	hup()
	require.Eventually(t, func() bool {
		return servedCert(t, s.TLSAddr).Equal(newCert.Leaf)
	}, 5*time.Second, 20*time.Millisecond, "new connections get the new certificate")
	assert.Contains(t, s.stderr.String(), "certificate reloaded")
	before.OK("STAT") // the session that began before the reload goes on
	before.Quit()

	// A key that does not match the certificate is refused.
	writePair(t, certFile, keyFile, oldCert, newCert)
	hup()
	require.Eventually(t, func() bool {
		return containsAll(s.stderr.String(), "the old one stays in use", "private key does not match")
	}, 5*time.Second, 20*time.Millisecond)
	got, c := presented(t, s.TLSAddr)
	assert.True(t, got.Equal(newCert.Leaf), "the certificate in use stays")
	c.Login("demo", "demo")
	c.Quit()
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
