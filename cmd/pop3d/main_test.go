package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/syncbuf"
)

// server is run() started in the background.
type server struct {
	listening
	stdout, stderr *syncbuf.Buffer
	cancel         context.CancelFunc
	done           chan error
}

// start runs run(args) until the test ends, and waits until it serves.
// At the end of the test it cancels run and checks that it returned nil.
func start(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	ready := make(chan listening, 1)
	go func() {
		s.done <- run(ctx, args, s.stdout, s.stderr, func(l listening) { ready <- l })
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", s.stdout, s.stderr)
		}
	})
	select {
	case s.listening = <-ready:
	case err := <-s.done:
		cancel()
		require.FailNow(t, "run returned before serving", "error: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		require.FailNow(t, "run did not start serving in time")
	}
	t.Cleanup(func() { assert.NoError(t, s.stop(t)) })
	return s
}

// stop cancels run and returns what it returned. It may be called more
// than once.
func (s *server) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for a later call
		return err
	case <-time.After(15 * time.Second):
		return errors.New("run did not return after its context was cancelled")
	}
}

// client is a minimal POP3 client for the tests.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	return newClient(t, conn)
}

func dialTLS(t *testing.T, addr string) *client {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	require.NoError(t, err)
	return newClient(t, conn)
}

// newClient wraps conn and reads the greeting.
func newClient(t *testing.T, conn net.Conn) *client {
	t.Helper()
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
	c := &client{t: t, conn: conn, r: bufio.NewReader(conn)}
	greeting := c.line()
	require.True(t, strings.HasPrefix(greeting, "+OK "), "greeting: %q", greeting)
	return c
}

func (c *client) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	require.NoError(c.t, err)
	require.True(c.t, strings.HasSuffix(l, "\r\n"), "line without CRLF: %q", l)
	return strings.TrimSuffix(l, "\r\n")
}

// cmd sends line and returns the first line of the reply.
func (c *client) cmd(line string) string {
	c.t.Helper()
	_, err := io.WriteString(c.conn, line+"\r\n")
	require.NoError(c.t, err)
	return c.line()
}

// ok sends line and requires a +OK reply, whose text it returns.
func (c *client) ok(line string) string {
	c.t.Helper()
	reply := c.cmd(line)
	require.True(c.t, reply == "+OK" || strings.HasPrefix(reply, "+OK "), "%s: %q", line, reply)
	return strings.TrimPrefix(strings.TrimPrefix(reply, "+OK"), " ")
}

// multi reads the body of a multi-line reply and returns it as sent
// (stuffed) and un-stuffed, each line with its CRLF.
func (c *client) multi() (wire, content string) {
	c.t.Helper()
	var w, b strings.Builder
	for {
		l := c.line()
		if l == "." {
			return w.String(), b.String()
		}
		w.WriteString(l + "\r\n")
		b.WriteString(strings.TrimPrefix(l, ".") + "\r\n") // RFC 1939 §3
	}
}

func (c *client) login(user, pass string) {
	c.t.Helper()
	c.ok("USER " + user)
	c.ok("PASS " + pass)
}

// retr returns message n as served (un-stuffed), checking that the size
// in the +OK line is its length.
func (c *client) retr(n int) (wire, content string) {
	c.t.Helper()
	text := c.ok("RETR " + strconv.Itoa(n))
	wire, content = c.multi()
	size, _, _ := strings.Cut(text, " ")
	assert.Equal(c.t, size, strconv.Itoa(len(content)), "RETR %d: size in %q", n, text)
	return wire, content
}

// stat returns the reply to STAT, as "count size".
func (c *client) stat() string {
	c.t.Helper()
	return c.ok("STAT")
}

func (c *client) quit() {
	c.t.Helper()
	c.ok("QUIT")
	_, err := c.r.ReadByte()
	assert.ErrorIs(c.t, err, io.EOF, "the server closes the connection after QUIT")
}

func TestDemo(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0")
	host, port, err := net.SplitHostPort(s.Addr)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
	assert.NotEqual(t, "0", port)
	assert.Empty(t, s.TLSAddr, "no TLS listener without a TLS flag")

	out := s.stdout.String()
	assert.Contains(t, out, "nc 127.0.0.1 "+port+"\n")
	assert.Contains(t, out, "  USER demo\n  PASS demo\n  LIST\n  RETR 1\n  QUIT\n")
	assert.Contains(t, out, "curl pop3://demo:demo@"+s.Addr+"/1\n")
	assert.NotContains(t, out, "pop3s://")

	c := dial(t, s.Addr)
	c.login("demo", "demo")

	msgs := demoMessages("localhost", time.Now())
	require.Len(t, msgs, 2)
	size := 0
	for _, m := range msgs {
		size += len(bytes.ReplaceAll(m, []byte("\n"), []byte("\r\n")))
	}
	assert.Equal(t, "2 "+strconv.Itoa(size), c.stat())

	_, m1 := c.retr(1)
	for _, want := range []string{
		"From: pop3d <postmaster@localhost>\r\n",
		"To: Demo User <demo@localhost>\r\n",
		"Subject: Welcome to pop3d\r\n",
		"\r\nDate: ",
		"\r\nMessage-ID: <welcome-1.",
		"\r\n\r\nHello!\r\n",
		"RETR 1 ",
	} {
		assert.Contains(t, m1, want)
	}
	assert.NotContains(t, strings.ReplaceAll(m1, "\r\n", ""), "\n", "bare LF in message 1")
	date := strings.SplitN(strings.SplitN(m1, "\r\nDate: ", 2)[1], "\r\n", 2)[0]
	_, err = time.Parse(time.RFC1123Z, date)
	assert.NoError(t, err, "Date: %q", date)

	wire, m2 := c.retr(2)
	assert.Contains(t, m2, "Subject: Lines that start with a dot\r\n")
	assert.Contains(t, m2, "\r\n.signature files")
	assert.Contains(t, m2, "\r\n.\r\nThe line above")
	assert.Contains(t, wire, "\r\n..signature files", "dot-stuffed on the wire")
	assert.Contains(t, wire, "\r\n..\r\nThe line above", "dot-stuffed on the wire")

	c.quit()

	// The IMPLEMENTATION capability is shown after login.
	c = dial(t, s.Addr)
	c.login("demo", "demo")
	c.ok("CAPA")
	_, caps := c.multi()
	assert.Contains(t, caps, "IMPLEMENTATION gopop3 pop3d\r\n")
	assert.NotContains(t, caps, "STLS")
	c.quit()
}

func TestCancelReturnsNil(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0")
	c := dial(t, s.Addr)
	c.login("demo", "demo")
	assert.Equal(t, "2", strings.Fields(c.stat())[0])

	// A logged-in session is told and closed; run returns nil.
	require.NoError(t, s.stop(t))
	assert.Equal(t, "-ERR [SYS/TEMP] server shutting down", c.line())
	_, err := c.r.ReadByte()
	assert.ErrorIs(t, err, io.EOF)
	_, err = net.DialTimeout("tcp", s.Addr, time.Second)
	assert.Error(t, err, "the listener is closed")
}

// writeFiles creates the files of files (path: content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	alice1 := "From: bob@example.org\nSubject: first\n\nfirst message\n.hidden dot line\n"
	alice10 := "From: bob@example.org\nSubject: tenth\n\nsorted by name, so second\n"
	alice2 := "From: bob@example.org\nSubject: second\n\nsorted by name, so third\n"
	bob1 := "From: alice@example.org\r\nSubject: hi\r\n\r\nCRLF already\r\n"
	bob2 := "From: alice@example.org\r\nSubject: again\r\n\r\nno final line end"
	writeFiles(t, dir, map[string]string{
		"alice/password":        "wonderland\n",
		"alice/1.eml":           alice1,
		"alice/10.eml":          alice10,
		"alice/2.eml":           alice2,
		"alice/.DS_Store":       "not a message",
		"alice/sub/ignored.eml": "not a message either",
		"bob/password":          "s3cret pass\r\nsecond line is ignored\r\n",
		"bob/a":                 bob1,
		"bob/b":                 bob2,
		".hidden/password":      "x\n",
		".hidden/msg":           "not loaded\n",
		"README":                "a regular file at the top is not a user\n",
	})

	s := start(t, "-addr", "127.0.0.1:0", "-load", dir)
	out := s.stdout.String()
	assert.Contains(t, out, "loaded 2 users and 5 messages from "+dir)
	assert.Contains(t, out, "USER alice\n")
	assert.NotContains(t, out, "wonderland", "passwords are not printed")

	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

	c := dial(t, s.Addr)
	c.login("alice", "wonderland")
	assert.Equal(t, "3 "+strconv.Itoa(len(crlf(alice1))+len(crlf(alice10))+len(crlf(alice2))), c.stat())
	wire, m := c.retr(1)
	assert.Equal(t, crlf(alice1), m)
	assert.Contains(t, wire, "\r\n..hidden dot line\r\n")
	_, m = c.retr(2)
	assert.Equal(t, crlf(alice10), m)
	_, m = c.retr(3)
	assert.Equal(t, crlf(alice2), m)
	assert.True(t, strings.HasPrefix(c.cmd("RETR 4"), "-ERR"))
	c.quit()

	c = dial(t, s.Addr)
	c.login("bob", "s3cret pass")
	assert.Equal(t, "2 "+strconv.Itoa(len(bob1)+len(bob2)+2), c.stat())
	_, m = c.retr(1)
	assert.Equal(t, bob1, m)
	_, m = c.retr(2)
	assert.Equal(t, bob2+"\r\n", m)
	c.quit()

	// The hidden directory is no user.
	c = dial(t, s.Addr)
	c.ok("USER .hidden")
	assert.True(t, strings.HasPrefix(c.cmd("PASS x"), "-ERR"))
}

func TestLoadErrors(t *testing.T) {
	t.Run("missing password", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			"alice/password": "pw\n",
			"bob/1.eml":      "Subject: x\n\nbody\n",
		})
		err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-load", dir}, io.Discard, io.Discard, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), filepath.Join(dir, "bob", "password"))
	})
	t.Run("empty password", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"alice/password": "\r\nnot the first line\n"})
		err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-load", dir}, io.Discard, io.Discard, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), filepath.Join(dir, "alice", "password"))
	})
	t.Run("no users", func(t *testing.T) {
		dir := t.TempDir()
		err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-load", dir}, io.Discard, io.Discard, nil)
		assert.Error(t, err)
	})
	t.Run("no such directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "nope")
		err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-load", dir}, io.Discard, io.Discard, nil)
		assert.Error(t, err)
	})
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-tls-cert", "cert.pem"},
		{"-tls-key", "key.pem"},
		{"-tls-cert", "cert.pem", "-tls-key", "key.pem", "-tls-self-signed"},
		{"-no-such-flag"},
		{"extra-argument"},
	} {
		var stderr bytes.Buffer
		err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, args...), io.Discard, &stderr, nil)
		var ue *usageError
		assert.ErrorAs(t, err, &ue, "%q", args)
		assert.Contains(t, stderr.String(), "Usage: pop3d", "%q", args)
	}

	err := run(context.Background(), []string{"-h"}, io.Discard, io.Discard, nil)
	assert.ErrorIs(t, err, flag.ErrHelp)
}

func TestTLSSelfSigned(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-tls-addr", "127.0.0.1:0", "-tls-self-signed")
	require.NotEmpty(t, s.TLSAddr)
	out := s.stdout.String()
	assert.Contains(t, out, "self-signed")
	assert.Contains(t, out, "curl -k pop3s://demo:demo@"+s.TLSAddr+"/1\n")

	// Implicit TLS.
	c := dialTLS(t, s.TLSAddr)
	state := c.conn.(*tls.Conn).ConnectionState()
	require.NotEmpty(t, state.PeerCertificates)
	cert := state.PeerCertificates[0]
	assert.NoError(t, cert.VerifyHostname("localhost"))
	assert.NoError(t, cert.VerifyHostname("127.0.0.1"))
	assert.Equal(t, x509.ECDSA, cert.PublicKeyAlgorithm)
	validity := cert.NotAfter.Sub(cert.NotBefore)
	assert.True(t, validity > 364*24*time.Hour && validity < 367*24*time.Hour, "valid for %v", validity)
	c.login("demo", "demo")
	assert.Equal(t, "2", strings.Fields(c.stat())[0])
	c.quit()

	// STLS on the cleartext port.
	c = dial(t, s.Addr)
	c.ok("CAPA")
	_, caps := c.multi()
	assert.Contains(t, caps, "STLS\r\n")
	c.ok("STLS")
	tc := tls.Client(c.conn, &tls.Config{InsecureSkipVerify: true})
	require.NoError(t, tc.Handshake())
	c.conn, c.r = tc, bufio.NewReader(tc)
	c.login("demo", "demo")
	assert.Equal(t, "2", strings.Fields(c.stat())[0])
	c.quit()
}

func TestTLSCertFiles(t *testing.T) {
	cert, err := selfSignedCert(time.Now())
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))

	s := start(t, "-addr", "127.0.0.1:0", "-tls-addr", "127.0.0.1:0", "-tls-cert", certFile, "-tls-key", keyFile)
	assert.Contains(t, s.stdout.String(), "curl pop3s://demo:demo@"+s.TLSAddr+"/1\n")

	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", s.TLSAddr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	require.NoError(t, err, "the server presents the certificate of -tls-cert")
	c := newClient(t, conn)
	c.login("demo", "demo")
	c.quit()

	t.Run("bad files", func(t *testing.T) {
		err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-tls-cert", keyFile, "-tls-key", certFile},
			io.Discard, io.Discard, nil)
		assert.Error(t, err)
	})
}

func TestDebugTrace(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-debug")
	c := dial(t, s.Addr)
	c.login("demo", "demo")
	c.quit()
	require.NoError(t, s.stop(t))
	trace := s.stderr.String()
	assert.Contains(t, trace, "USER demo")
	assert.NotContains(t, trace, "PASS demo", "the trace redacts passwords")
}

func TestConnectHostPort(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:1110": "127.0.0.1 1110",
		"0.0.0.0:1110":   "127.0.0.1 1110",
		"[::]:1110":      "127.0.0.1 1110",
		"[::1]:1110":     "::1 1110",
		"10.1.2.3:110":   "10.1.2.3 110",
	} {
		host, port := connectHostPort(addr)
		assert.Equal(t, want, host+" "+port, addr)
	}
}
