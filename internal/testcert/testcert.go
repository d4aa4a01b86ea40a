// Package testcert makes throw-away TLS certificates for tests: a
// certificate authority and a server certificate it signed for "localhost"
// and 127.0.0.1, generated in memory (ECDSA P-256) and valid for a few
// hours around the time they are made.
//
// The Go side of a test uses ServerTLS and ClientTLS; an external client
// (curl, mpop, fetchmail, getmail, Python) is told to trust the CA through
// the PEM file that WriteCAFile writes.
package testcert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// ServerName is the DNS name the server certificate is issued for, and the
// ServerName of ClientTLS. The certificate also holds the IP address
// 127.0.0.1, so that a client connecting to that address verifies it too.
const ServerName = "localhost"

// CAFileName is the name WriteCAFile gives the CA's PEM file.
const CAFileName = "ca.pem"

// Certs is a test CA and a server certificate it signed.
type Certs struct {
	// ServerTLS is a server configuration presenting the server
	// certificate (for "localhost" and 127.0.0.1).
	ServerTLS *tls.Config
	// ClientTLS is a client configuration that trusts only the test CA
	// and expects the server name "localhost".
	ClientTLS *tls.Config
	// CA is the test CA's certificate.
	CA *x509.Certificate
	// CAPool is a certificate pool holding only the test CA.
	CAPool *x509.CertPool
	// CAPEM is the test CA's certificate, PEM-encoded, for clients that
	// read their trust anchors from a file.
	CAPEM []byte
	// ServerCertPEM and ServerKeyPEM are the server certificate and its
	// private key (PKCS #8), PEM-encoded, for servers started as programs.
	ServerCertPEM, ServerKeyPEM []byte
}

// New generates a fresh CA and server certificate (ECDSA P-256). It fails
// the test on error, which only a broken crypto/rand could cause.
func New(t testing.TB) *Certs {
	t.Helper()
	c, err := Generate()
	check(t, err)
	return c
}

// NewRSA is New with an RSA 2048 server key, for what only RSA
// certificates reveal (cipher suites with RSA authentication, such as
// 3DES ones, in a TLS audit).
func NewRSA(t testing.TB) *Certs {
	t.Helper()
	c, err := generate(func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) })
	check(t, err)
	return c
}

// Generate is New for code without a testing.TB, such as examples.
func Generate() (*Certs, error) {
	return generate(func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) })
}

func generate(newServerKey func() (crypto.Signer, error)) (*Certs, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caSerial, err := serial()
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          caSerial,
		Subject:               pkix.Name{CommonName: "pop3 interop test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}

	key, err := newServerKey()
	if err != nil {
		return nil, err
	}
	srvSerial, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: srvSerial,
		Subject:      pkix.Name{CommonName: ServerName},
		DNSNames:     []string{ServerName},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &Certs{
		ServerTLS: &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
			MinVersion:   tls.VersionTLS12,
		},
		ClientTLS: &tls.Config{
			RootCAs:    pool,
			ServerName: ServerName,
			MinVersion: tls.VersionTLS12,
		},
		CA:            ca,
		CAPool:        pool,
		CAPEM:         pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		ServerCertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		ServerKeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// WriteCAFile writes CAPEM to dir/ca.pem (mode 0644) and returns the
// file's path.
func (c *Certs) WriteCAFile(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, CAFileName)
	check(t, os.WriteFile(path, c.CAPEM, 0o644))
	return path
}

// serial returns a random 128-bit certificate serial number.
func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}

// check fails the test at once on err.
func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("testcert: %v", err)
	}
}
