package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

// countingSigner counts the signatures made with a certificate's key: the
// expensive part of a full TLS handshake for the server, which a resumed
// one must not need.
type countingSigner struct {
	crypto.Signer
	signs atomic.Int64
}

func (s *countingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.signs.Add(1)
	return s.Signer.Sign(r, digest, opts)
}

// certWithKey returns a self-signed certificate for localhost whose key is
// an RSA-2048 one when rsaKey is set, else pop3d's own ECDSA P-256.
func certWithKey(t testing.TB, rsaKey bool) tls.Certificate {
	t.Helper()
	cert, err := selfSignedCert(time.Now())
	require.NoError(t, err)
	if !rsaKey {
		return cert
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := *cert.Leaf
	tmpl.SignatureAlgorithm = x509.UnknownSignatureAlgorithm // chosen by the new key
	tmpl.PublicKey = &key.PublicKey
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// fakeClock is a clock for crypto/tls's Config.Time that a test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// A client that resumes its TLS session, with TLS 1.3 or 1.2, costs pop3d
// no signature, over implicit TLS and STLS alike, also after the session
// ticket keys have rotated (crypto/tls makes a new one a day and accepts
// tickets of the last seven days' keys); a ticket older than that gets a
// full handshake.
func TestTLSResumptionSignsNothing(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			cert := certWithKey(t, false)
			signer := &countingSigner{Signer: cert.PrivateKey.(crypto.Signer)}
			cert.PrivateKey = signer
			certs := &certificates{}
			certs.cert.Store(&cert)
			clock := &fakeClock{now: time.Now()}
			config := newTLSConfig(certs)
			config.Time = clock.Now

			b := memory.New()
			require.NoError(t, b.AddUser("alice", "alice-pw"))
			srv := pop3.NewServer(b)
			srv.TLSConfig = config
			srv.Logger = slog.New(slog.DiscardHandler)
			plain, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			implicit, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			go srv.Serve(plain)
			go srv.Serve(tlsListener(implicit, config))
			t.Cleanup(func() { srv.Close() })

			client := &tls.Config{InsecureSkipVerify: true, MinVersion: version, MaxVersion: version,
				ClientSessionCache: tls.NewLRUClientSessionCache(4), Time: clock.Now}
			// session logs in over implicit TLS or STLS and tells whether
			// the handshake resumed a session.
			session := func(stls bool) bool {
				var c *pop3test.Client
				if stls {
					c = dial(t, plain.Addr().String())
					c.StartTLS(client)
				} else {
					c = greeted(t, pop3test.DialTLS(t, implicit.Addr().String(), client))
				}
				c.Login("alice", "alice-pw") // reads what follows the handshake, the TLS 1.3 ticket too
				c.Quit()
				return c.Conn().(*tls.Conn).ConnectionState().DidResume
			}

			for _, stls := range []bool{false, true} {
				before := signer.signs.Load()
				assert.False(t, session(stls), "the first connection is a full handshake")
				assert.Equal(t, before+1, signer.signs.Load(), "which signs once")
				for range 3 {
					assert.True(t, session(stls), "the next ones resume")
				}
				assert.Equal(t, before+1, signer.signs.Load(), "and sign nothing (stls %v)", stls)
			}

			clock.Add(25 * time.Hour) // the ticket keys rotate
			before := signer.signs.Load()
			assert.True(t, session(false), "a ticket of the previous key still resumes")
			assert.True(t, session(true))
			assert.Equal(t, before, signer.signs.Load(), "without a signature")

			clock.Add(8 * 24 * time.Hour) // past every key's and ticket's lifetime
			assert.False(t, session(false), "a ticket too old gets a full handshake")
			assert.Equal(t, before+1, signer.signs.Load())
		})
	}
}

// pop3d itself, through run(): a client's second connection resumes, on
// the implicit TLS port and after STLS.
func TestTLSResumptionPop3d(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-tls-addr", "127.0.0.1:0", "-tls-self-signed")
	// With a ServerName, Go's client keys its session cache by it rather
	// than by address and port, so that it offers the implicit TLS port's
	// ticket after STLS too.
	client := &tls.Config{InsecureSkipVerify: true, ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	for range 2 {
		c := greeted(t, pop3test.DialTLS(t, s.TLSAddr, client))
		c.Login("demo", "demo")
		c.Quit()
	}
	c := greeted(t, pop3test.DialTLS(t, s.TLSAddr, client))
	c.Login("demo", "demo")
	assert.True(t, c.Conn().(*tls.Conn).ConnectionState().DidResume, "implicit TLS")
	c.Quit()
	c = dial(t, s.Addr)
	c.StartTLS(client)
	c.Login("demo", "demo")
	assert.True(t, c.Conn().(*tls.Conn).ConnectionState().DidResume, "STLS on the other port shares the ticket keys")
	c.Quit()
}

// BenchmarkTLSHandshake is pop3d's TLS handshake, server and client
// together in one process, with each kind of certificate key, full and
// resumed. The client is Go's, with its default key exchanges
// (X25519MLKEM768 first). BenchmarkTLSSign isolates the server's
// signature, the part that the key type decides.
func BenchmarkTLSHandshake(b *testing.B) {
	for _, kind := range []struct {
		name string
		rsa  bool
	}{{"ecdsa-p256", false}, {"rsa-2048", true}} {
		cert := certWithKey(b, kind.rsa)
		certs := &certificates{}
		certs.cert.Store(&cert)
		config := newTLSConfig(certs)
		for _, resume := range []bool{false, true} {
			name := kind.name + "/full"
			if resume {
				name = kind.name + "/resumed"
			}
			b.Run(name, func(b *testing.B) {
				client := &tls.Config{InsecureSkipVerify: true}
				if resume {
					client.ClientSessionCache = tls.NewLRUClientSessionCache(1)
					handshake(b, config, client) // the ticket
				}
				for b.Loop() {
					if resumed := handshake(b, config, client); resumed != resume {
						b.Fatalf("resumed %v, want %v", resumed, resume)
					}
				}
			})
		}
	}
}

// handshake runs one handshake over a pipe, reading one byte so that the
// client takes the TLS 1.3 session ticket, and tells whether it resumed.
func handshake(b *testing.B, server, client *tls.Config) bool {
	sc, cc := net.Pipe()
	done := make(chan error, 1)
	go func() {
		s := tls.Server(sc, server)
		err := s.Handshake()
		if err == nil {
			_, err = s.Write([]byte{'+'})
		}
		done <- err
	}()
	c := tls.Client(cc, client)
	var one [1]byte
	if _, err := io.ReadFull(c, one[:]); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	// Closing the pipe, not the TLS connections, whose close_notify
	// alerts nobody would read.
	sc.Close()
	cc.Close()
	return c.ConnectionState().DidResume
}

// BenchmarkTLSSign is the signature a full handshake costs the server, by
// the key of its certificate.
func BenchmarkTLSSign(b *testing.B) {
	digest := sha256.Sum256([]byte("handshake transcript"))
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(b, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(b, err)
	for _, k := range []struct {
		name string
		key  crypto.Signer
		opts crypto.SignerOpts
	}{
		{"ecdsa-p256", ecKey, crypto.SHA256},
		{"rsa-2048-pss", rsaKey, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}},
	} {
		b.Run(k.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := k.key.Sign(rand.Reader, digest[:], k.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
