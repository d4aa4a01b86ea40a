package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"sync/atomic"
	"time"
)

// certificates holds the certificate pop3d serves, which SIGHUP may
// replace: every handshake takes the current one, so that sessions already
// in TLS keep theirs and new ones get the new one.
type certificates struct {
	certFile, keyFile string // empty for a self-signed certificate
	cert              atomic.Pointer[tls.Certificate]
}

// newCertificates loads the certificate in certFile and keyFile, or makes a
// self-signed one, or returns nil when neither is asked for (no TLS).
func newCertificates(certFile, keyFile string, selfSigned bool) (*certificates, error) {
	c := &certificates{certFile: certFile, keyFile: keyFile}
	switch {
	case selfSigned:
		cert, err := selfSignedCert(time.Now())
		if err != nil {
			return nil, err
		}
		c.cert.Store(&cert)
	case certFile != "":
		if err := c.reload(); err != nil {
			return nil, err
		}
	default:
		return nil, nil
	}
	return c, nil
}

// reload reads the pair again and puts it in use only when it is valid: a
// key that matches the certificate, which parses and has not expired. On
// any error the current certificate stays.
func (c *certificates) reload() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("loading TLS certificate: %w", err)
	}
	if now := time.Now(); now.After(cert.Leaf.NotAfter) {
		return fmt.Errorf("loading TLS certificate: %s expired on %s", c.certFile, cert.Leaf.NotAfter.Format(time.DateOnly))
	}
	c.cert.Store(&cert)
	return nil
}

func (c *certificates) current() *tls.Certificate { return c.cert.Load() }

// newTLSConfig returns pop3d's TLS configuration for certs.
func newTLSConfig(certs *certificates) *tls.Config {
	return &tls.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return certs.current(), nil },
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   tls12CipherSuites,
	}
}

// tls12CipherSuites are the TLS 1.2 suites pop3d offers: forward-secret
// AEAD ones only (Mozilla's "intermediate" profile), which every client
// with TLS 1.2 has. Go's default list also has CBC suites, which audits
// flag (LUCKY13). TLS 1.3 suites are not configurable and all good. The
// rest of the defaults (no 3DES, no SHA-1 signatures, X25519MLKEM768 key
// exchange) come from the go line of go.mod (1.25).
var tls12CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// selfSignedCert makes an ECDSA P-256 certificate for localhost, 127.0.0.1
// and ::1, valid for a year from now, signed by its own key.
func selfSignedCert(now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"gopop3 pop3d (self-signed)"}},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:             now.Add(-time.Minute), // some slack for clocks
		NotAfter:              now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// tlsListener wraps l for implicit TLS (RFC 8314): pop3.Server.Serve treats
// the *tls.Conn it yields as TLS from the first octet.
func tlsListener(l net.Listener, config *tls.Config) net.Listener {
	return tls.NewListener(l, config)
}
