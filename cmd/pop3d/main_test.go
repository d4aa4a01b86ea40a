package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
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
	"github.com/gopop3/pop3/pop3test"
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

// dial connects to the POP3 server at addr and checks its greeting.
func dial(t *testing.T, addr string) *pop3test.Client {
	t.Helper()
	return greeted(t, pop3test.Dial(t, addr))
}

// dialTLS connects to addr over implicit TLS, trusting any certificate,
// and checks the greeting.
func dialTLS(t *testing.T, addr string) *pop3test.Client {
	t.Helper()
	return greeted(t, pop3test.DialTLS(t, addr, &tls.Config{InsecureSkipVerify: true}))
}

// greeted reads c's greeting, which must be positive.
func greeted(t *testing.T, c *pop3test.Client) *pop3test.Client {
	t.Helper()
	greeting := c.Greeting()
	require.True(t, strings.HasPrefix(greeting, "+OK "), "greeting: %q", greeting)
	return c
}

// retr returns message n as sent (dot-stuffed, RFC 1939 §3) and
// un-stuffed, each line with its CRLF, checking that the size in the +OK
// line is the un-stuffed length.
func retr(t *testing.T, c *pop3test.Client, n int) (wire, content string) {
	t.Helper()
	c.Send("RETR " + strconv.Itoa(n))
	r := c.ReadReply()
	require.True(t, r.OK, "RETR %d: %q", n, r.Line)
	var w, b strings.Builder
	for {
		l := c.ReadLine()
		if l == "." {
			break
		}
		w.WriteString(l + "\r\n")
		b.WriteString(strings.TrimPrefix(l, ".") + "\r\n")
	}
	wire, content = w.String(), b.String()
	size, _, _ := strings.Cut(r.Text, " ")
	assert.Equal(t, size, strconv.Itoa(len(content)), "RETR %d: size in %q", n, r.Line)
	return wire, content
}

// stat returns the reply to STAT, as "count size".
func stat(c *pop3test.Client) string { return c.OK("STAT").Text }

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
	c.Login("demo", "demo")

	msgs := demoMessages("localhost", time.Now())
	require.Len(t, msgs, 2)
	size := 0
	for _, m := range msgs {
		size += len(bytes.ReplaceAll(m, []byte("\n"), []byte("\r\n")))
	}
	assert.Equal(t, "2 "+strconv.Itoa(size), stat(c))

	_, m1 := retr(t, c, 1)
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

	wire, m2 := retr(t, c, 2)
	assert.Contains(t, m2, "Subject: Lines that start with a dot\r\n")
	assert.Contains(t, m2, "\r\n.signature files")
	assert.Contains(t, m2, "\r\n.\r\nThe line above")
	assert.Contains(t, wire, "\r\n..signature files", "dot-stuffed on the wire")
	assert.Contains(t, wire, "\r\n..\r\nThe line above", "dot-stuffed on the wire")

	c.Quit()

	// The IMPLEMENTATION capability is shown after login.
	c = dial(t, s.Addr)
	c.Login("demo", "demo")
	caps := string(c.OK("CAPA").Body)
	assert.Contains(t, caps, "IMPLEMENTATION gopop3 pop3d\r\n")
	assert.NotContains(t, caps, "STLS")
	c.Quit()
}

func TestCancelReturnsNil(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0")
	c := dial(t, s.Addr)
	c.Login("demo", "demo")
	assert.Equal(t, "2", strings.Fields(stat(c))[0])

	// A logged-in session is told and closed; run returns nil.
	require.NoError(t, s.stop(t))
	assert.Equal(t, "-ERR [SYS/TEMP] server shutting down", c.ReadLine())
	c.ExpectClosed()
	_, err := net.DialTimeout("tcp", s.Addr, time.Second)
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
	c.Login("alice", "wonderland")
	assert.Equal(t, "3 "+strconv.Itoa(len(crlf(alice1))+len(crlf(alice10))+len(crlf(alice2))), stat(c))
	wire, m := retr(t, c, 1)
	assert.Equal(t, crlf(alice1), m)
	assert.Contains(t, wire, "\r\n..hidden dot line\r\n")
	_, m = retr(t, c, 2)
	assert.Equal(t, crlf(alice10), m)
	_, m = retr(t, c, 3)
	assert.Equal(t, crlf(alice2), m)
	assert.True(t, strings.HasPrefix(c.Cmd("RETR 4").Line, "-ERR"))
	c.Quit()

	c = dial(t, s.Addr)
	c.Login("bob", "s3cret pass")
	assert.Equal(t, "2 "+strconv.Itoa(len(bob1)+len(bob2)+2), stat(c))
	_, m = retr(t, c, 1)
	assert.Equal(t, bob1, m)
	_, m = retr(t, c, 2)
	assert.Equal(t, bob2+"\r\n", m)
	c.Quit()

	// The hidden directory is no user.
	c = dial(t, s.Addr)
	c.OK("USER .hidden")
	assert.True(t, strings.HasPrefix(c.Cmd("PASS x").Line, "-ERR"))
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
		{"-maildir-cache", "-1"},
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
	state := c.Conn().(*tls.Conn).ConnectionState()
	require.NotEmpty(t, state.PeerCertificates)
	cert := state.PeerCertificates[0]
	assert.NoError(t, cert.VerifyHostname("localhost"))
	assert.NoError(t, cert.VerifyHostname("127.0.0.1"))
	assert.Equal(t, x509.ECDSA, cert.PublicKeyAlgorithm)
	validity := cert.NotAfter.Sub(cert.NotBefore)
	assert.True(t, validity > 364*24*time.Hour && validity < 367*24*time.Hour, "valid for %v", validity)
	c.Login("demo", "demo")
	assert.Equal(t, "2", strings.Fields(stat(c))[0])
	c.Quit()

	// STLS on the cleartext port.
	c = dial(t, s.Addr)
	caps := string(c.OK("CAPA").Body)
	assert.Contains(t, caps, "STLS\r\n")
	c.StartTLS(&tls.Config{InsecureSkipVerify: true})
	c.Login("demo", "demo")
	assert.Equal(t, "2", strings.Fields(stat(c))[0])
	c.Quit()
}

func TestTLSCertFiles(t *testing.T) {
	cert, err := selfSignedCert(time.Now())
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePair(t, certFile, keyFile, cert, cert)

	s := start(t, "-addr", "127.0.0.1:0", "-tls-addr", "127.0.0.1:0", "-tls-cert", certFile, "-tls-key", keyFile)
	assert.Contains(t, s.stdout.String(), "curl pop3s://demo:demo@"+s.TLSAddr+"/1\n")

	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", s.TLSAddr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	require.NoError(t, err, "the server presents the certificate of -tls-cert")
	c := greeted(t, pop3test.NewClient(t, conn))
	c.Login("demo", "demo")
	c.Quit()

	t.Run("bad files", func(t *testing.T) {
		err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-tls-cert", keyFile, "-tls-key", certFile},
			io.Discard, io.Discard, nil)
		assert.Error(t, err)
	})
}

func TestDebugTrace(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-debug")
	c := dial(t, s.Addr)
	c.Login("demo", "demo")
	c.Quit()
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
