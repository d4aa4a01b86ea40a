package pop3_test

import (
	"bufio"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/testcert"
	"github.com/gopop3/pop3/memory"
)

// talk connects to addr, sends the commands at once (the server supports
// PIPELINING), and prints every line the server sends until it closes the
// connection, so the last command should be QUIT.
func talk(addr string, commands ...string) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, strings.Join(commands, "\r\n")+"\r\n")
	out, _ := io.ReadAll(conn)
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n") {
		fmt.Println(line)
	}
}

// serveLoopback serves srv on a free loopback port and returns its
// address.
func serveLoopback(srv *pop3.Server) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(l)
	return l.Addr().String()
}

// A Backend that is a function: here every user but bob is refused, and
// bob gets a read-only maildrop.
func ExampleBackendFunc() {
	maildrop := staticBackend{messages: []string{"Subject: hi\r\n\r\nHello, Bob.\r\n"}}
	backend := pop3.BackendFunc(func(ctx context.Context, c *pop3.ConnInfo, username, password string) (pop3.User, error) {
		if username != "bob" || password != "hunter2" {
			return nil, pop3.ErrAuthFailed
		}
		return maildrop, nil
	})
	srv := pop3.NewServer(backend)
	defer srv.Close()
	talk(serveLoopback(srv), "USER bob", "PASS hunter2", "LIST", "QUIT")
	// Output:
	// +OK POP3 server ready
	// +OK send PASS
	// +OK maildrop has 1 message (28 octets)
	// +OK 1 message (28 octets)
	// 1 28
	// .
	// +OK bye, 1 message left
}

// secretBackend keeps each user's shared secret in the clear, as APOP
// needs (RFC 1939 §7), and offers APOP by implementing LoginAPOP.
type secretBackend struct {
	secrets  map[string]string
	maildrop pop3.User
}

func (b secretBackend) Login(_ context.Context, _ *pop3.ConnInfo, username, password string) (pop3.User, error) {
	secret, ok := b.secrets[username]
	if subtle.ConstantTimeCompare([]byte(secret), []byte(password)) != 1 || !ok {
		return nil, pop3.ErrAuthFailed
	}
	return b.maildrop, nil
}

func (b secretBackend) LoginAPOP(_ context.Context, _ *pop3.ConnInfo, username, timestamp, digest string) (pop3.User, error) {
	secret, ok := b.secrets[username]
	if !pop3.VerifyAPOP(timestamp, secret, digest) || !ok {
		return nil, pop3.ErrAuthFailed
	}
	return b.maildrop, nil
}

// An APOPBackend: the greeting then carries a timestamp, and the client
// logs in with the MD5 digest of timestamp and secret, never sending the
// secret itself.
func ExampleAPOPBackend() {
	backend := secretBackend{
		secrets:  map[string]string{"mrose": "tanstaaf"},
		maildrop: staticBackend{messages: []string{"Subject: a\r\n\r\nfirst\r\n"}},
	}
	srv := pop3.NewServer(backend)
	defer srv.Close()
	conn, err := net.Dial("tcp", serveLoopback(srv))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	greeting, _ := r.ReadString('\n')
	timestamp := greeting[strings.Index(greeting, "<") : strings.Index(greeting, ">")+1]
	fmt.Fprintf(conn, "APOP mrose %s\r\n", pop3.APOPDigest(timestamp, "tanstaaf"))
	reply, _ := r.ReadString('\n')
	fmt.Println(strings.TrimSpace(reply))
	// Output:
	// +OK maildrop has 1 message (21 octets)
}

// tokenBackend logs users in with OAuth 2.0 bearer tokens (RFC 7628) and
// has no passwords at all.
type tokenBackend struct {
	tokens   map[string]string // token -> user
	maildrop pop3.User
}

func (b tokenBackend) Login(context.Context, *pop3.ConnInfo, string, string) (pop3.User, error) {
	return nil, pop3.ErrAuthFailed
}

func (b tokenBackend) SASLMechanisms(*pop3.ConnInfo) []string { return []string{sasl.OAuthBearer} }

func (b tokenBackend) SASLServer(_ context.Context, _ *pop3.ConnInfo, _ string, authenticated func(string, pop3.User)) (sasl.Server, error) {
	return sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
		if user, ok := b.tokens[o.Token]; !ok || user != o.Username {
			return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"}
		}
		authenticated(o.Username, b.maildrop)
		return nil
	}), nil
}

// A SASLBackend offering OAUTHBEARER through go-sasl: AUTH carries the
// token (RFC 5034, RFC 7628).
func ExampleSASLBackend() {
	backend := tokenBackend{
		tokens:   map[string]string{"t0k3n": "alice"},
		maildrop: staticBackend{messages: []string{"Subject: a\r\n\r\nfirst\r\n"}},
	}
	srv := pop3.NewServer(backend)
	defer srv.Close()
	response := base64.StdEncoding.EncodeToString([]byte("n,a=alice,\x01auth=Bearer t0k3n\x01\x01"))
	talk(serveLoopback(srv), "AUTH OAUTHBEARER "+response, "STAT", "QUIT")
	// Output:
	// +OK POP3 server ready
	// +OK maildrop has 1 message (21 octets)
	// +OK 1 21
	// +OK bye, 1 message left
}

// splitMailbox keeps each message's header apart from its body, so that
// TOP reads the header and the lines it needs, not the whole message.
type splitMailbox struct {
	headers, bodies []string // CRLF lines; the header without its blank line
}

func (m splitMailbox) Open(context.Context) (pop3.Mailbox, error) { return m, nil }

func (m splitMailbox) Messages() []pop3.MessageInfo {
	infos := make([]pop3.MessageInfo, len(m.headers))
	for i := range m.headers {
		infos[i] = pop3.MessageInfo{Size: int64(len(m.headers[i]) + 2 + len(m.bodies[i])), UID: fmt.Sprint("m", i)}
	}
	return infos
}

func (m splitMailbox) Message(_ context.Context, i int) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(m.headers[i] + "\r\n" + m.bodies[i])), nil
}

// Top is what makes splitMailbox a TopMailbox.
func (m splitMailbox) Top(_ context.Context, i, lines int) (io.ReadCloser, error) {
	body := strings.SplitAfter(m.bodies[i], "\r\n")
	body = body[:min(lines, len(body))]
	return io.NopCloser(strings.NewReader(m.headers[i] + "\r\n" + strings.Join(body, ""))), nil
}

func (m splitMailbox) Delete(context.Context, []int) error { return nil }
func (m splitMailbox) Close() error                        { return nil }

// A TopMailbox serves TOP (RFC 1939 §7) itself.
func ExampleTopMailbox() {
	maildrop := splitMailbox{
		headers: []string{"From: carol@example.com\r\nSubject: report\r\n"},
		bodies:  []string{"line 1\r\nline 2\r\nline 3\r\n"},
	}
	srv := pop3.NewServer(pop3.BackendFunc(func(_ context.Context, _ *pop3.ConnInfo, username, password string) (pop3.User, error) {
		if username != "carol" || password != "pw" {
			return nil, pop3.ErrAuthFailed
		}
		return maildrop, nil
	}))
	defer srv.Close()
	talk(serveLoopback(srv), "USER carol", "PASS pw", "TOP 1 1", "QUIT")
	// Output:
	// +OK POP3 server ready
	// +OK send PASS
	// +OK maildrop has 1 message (68 octets)
	// +OK top of message follows
	// From: carol@example.com
	// Subject: report
	//
	// line 1
	// .
	// +OK bye, 1 message left
}

// Stop gracefully on SIGTERM: idle sessions are told the server is
// shutting down, a command in progress completes first, and nothing is
// deleted without QUIT.
func ExampleServer_Shutdown() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv := pop3.NewServer(memory.New())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	// A client is connected when the signal comes.
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	greeting, _ := r.ReadString('\n')
	fmt.Println(strings.Fields(greeting)[:4]) // the rest is the APOP timestamp of the memory backend
	self, _ := os.FindProcess(os.Getpid())
	_ = self.Signal(syscall.SIGTERM) // as "kill" or systemd would

	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Print("sessions still open after 10 s were closed: ", err)
	}
	fmt.Println(<-served)
	last, _ := r.ReadString('\n')
	fmt.Println(strings.TrimSpace(last))
	// Output:
	// [+OK POP3 server ready]
	// pop3: server closed
	// -ERR [SYS/TEMP] server shutting down
}

// certFile and keyFile hold a throw-away certificate for the examples.
var certFile, keyFile = writeExampleCert()

func writeExampleCert() (string, string) {
	certs, err := testcert.Generate()
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "pop3-example")
	if err != nil {
		log.Fatal(err)
	}
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if os.WriteFile(cert, certs.ServerCertPEM, 0o600) != nil || os.WriteFile(key, certs.ServerKeyPEM, 0o600) != nil {
		log.Fatal("cannot write the example certificate")
	}
	return cert, key
}

// One Server on two ports, as mail clients expect: POP3 with STLS (RFC
// 2595) on 110 and POP3 over implicit TLS (RFC 8314) on 995. Here both
// listen on free loopback ports.
func Example_stlsAndImplicitTLS() {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		log.Fatal(err)
	}
	srv := pop3.NewServer(memory.New())
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}

	plain, err := net.Listen("tcp", "127.0.0.1:0") // ":110"
	if err != nil {
		log.Fatal(err)
	}
	implicit, err := net.Listen("tcp", "127.0.0.1:0") // ":995"
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(plain)
	go srv.Serve(tls.NewListener(implicit, srv.TLSConfig))
	defer srv.Close()

	client := &tls.Config{InsecureSkipVerify: true} // only because the certificate is a throw-away one
	// Port 110: cleartext until STLS.
	conn, _ := net.Dial("tcp", plain.Addr().String())
	r := bufio.NewReader(conn)
	line, _ := r.ReadString('\n')
	fmt.Println("110:", strings.Fields(line)[:4])
	fmt.Fprint(conn, "STLS\r\n")
	line, _ = r.ReadString('\n')
	fmt.Println("110:", strings.TrimSpace(line))
	tc := tls.Client(conn, client)
	fmt.Fprint(tc, "QUIT\r\n")
	line, _ = bufio.NewReader(tc).ReadString('\n')
	fmt.Println("110 over TLS:", strings.TrimSpace(line))
	tc.Close()

	// Port 995: TLS from the first octet.
	tc, _ = tls.Dial("tcp", implicit.Addr().String(), client)
	line, _ = bufio.NewReader(tc).ReadString('\n')
	fmt.Println("995 over TLS:", strings.Fields(line)[:4])
	tc.Close()
	// Output:
	// 110: [+OK POP3 server ready]
	// 110: +OK begin TLS negotiation
	// 110 over TLS: +OK bye
	// 995 over TLS: [+OK POP3 server ready]
}

// The size to list for a message stored with LF line ends, as in a Maildir
// or an .eml file: what the client receives, with CRLF line ends.
func ExampleCRLFSize() {
	raw := "Subject: hi\n\nHello\n"
	size, err := pop3.CRLFSize(strings.NewReader(raw))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(raw), size)
	// Output: 19 22
}
