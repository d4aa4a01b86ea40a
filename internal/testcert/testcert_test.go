package testcert_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/testcert"
)

// A client with ClientTLS completes a handshake with a server using
// ServerTLS, by name and by address.
func TestHandshake(t *testing.T) {
	c := testcert.New(t)
	l, err := tls.Listen("tcp", "127.0.0.1:0", c.ServerTLS)
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			_ = conn.(*tls.Conn).Handshake()
			_, _ = conn.Write([]byte("ok"))
			conn.Close()
		}
	}()

	for _, name := range []string{"localhost", "127.0.0.1"} {
		t.Run(name, func(t *testing.T) {
			cfg := c.ClientTLS.Clone()
			cfg.ServerName = name
			conn, err := tls.Dial("tcp", l.Addr().String(), cfg)
			require.NoError(t, err)
			defer conn.Close()
			buf := make([]byte, 2)
			_, err = conn.Read(buf)
			require.NoError(t, err)
			assert.Equal(t, "ok", string(buf))
		})
	}

	// Another CA's client refuses the certificate.
	other := testcert.New(t)
	_, err = tls.Dial("tcp", l.Addr().String(), other.ClientTLS)
	assert.Error(t, err)
}

// The PEM file holds the CA, and the server certificate chains to it.
func TestCAFile(t *testing.T) {
	c := testcert.New(t)
	path := c.WriteCAFile(t, t.TempDir())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	block, rest := pem.Decode(data)
	require.NotNil(t, block)
	assert.Empty(t, rest)
	assert.Equal(t, "CERTIFICATE", block.Type)
	ca, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	assert.True(t, ca.IsCA)
	assert.True(t, ca.Equal(c.CA))

	leaf, err := x509.ParseCertificate(c.ServerTLS.Certificates[0].Certificate[0])
	require.NoError(t, err)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: c.CAPool, DNSName: testcert.ServerName})
	assert.NoError(t, err)
	assert.NoError(t, leaf.VerifyHostname("127.0.0.1"))
	assert.True(t, leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)))

	pair, err := tls.X509KeyPair(c.ServerCertPEM, c.ServerKeyPEM)
	require.NoError(t, err)
	assert.Equal(t, c.ServerTLS.Certificates[0].Certificate[0], pair.Certificate[0])
}

func TestNewRSA(t *testing.T) {
	c := testcert.NewRSA(t)
	leaf, err := x509.ParseCertificate(c.ServerTLS.Certificates[0].Certificate[0])
	require.NoError(t, err)
	assert.Equal(t, x509.RSA, leaf.PublicKeyAlgorithm)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: c.CAPool, DNSName: testcert.ServerName})
	assert.NoError(t, err)
}
