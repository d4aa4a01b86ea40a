package pop3_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
)

// Embed a server: a memory backend with one user, served on a loopback
// port, and a client that reads the message.
func Example() {
	backend := memory.New()
	_ = backend.AddUser("alice", "secret")
	_, _ = backend.AppendMessage("alice", []byte("Subject: hello\n\nHi Alice!\n"))

	srv := pop3.NewServer(backend)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()

	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	readLine := func() string {
		line, _ := r.ReadString('\n')
		return strings.TrimRight(line, "\r\n")
	}
	greeting := readLine()
	fmt.Println(greeting[:len("+OK POP3 server ready")])
	for _, cmd := range []string{"USER alice", "PASS secret", "STAT", "RETR 1"} {
		fmt.Fprintf(conn, "%s\r\n", cmd)
		fmt.Println(readLine())
	}
	for line := readLine(); line != "."; line = readLine() {
		fmt.Println(line)
	}
	fmt.Fprintf(conn, "QUIT\r\n")
	fmt.Println(readLine())
	// Output:
	// +OK POP3 server ready
	// +OK send PASS
	// +OK maildrop has 1 message (29 octets)
	// +OK 1 29
	// +OK 29 octets
	// Subject: hello
	//
	// Hi Alice!
	// +OK bye, 1 message left
}

// staticBackend is a whole backend for a test: one user whose maildrop is
// a fixed list of messages that are never deleted.
type staticBackend struct{ messages []string }

func (b staticBackend) Login(_ context.Context, _ *pop3.ConnInfo, username, password string) (pop3.User, error) {
	if username != "test" || password != "test" {
		return nil, pop3.ErrAuthFailed
	}
	return b, nil
}

func (b staticBackend) Open(context.Context) (pop3.Mailbox, error) { return b, nil }

func (b staticBackend) Messages() []pop3.MessageInfo {
	infos := make([]pop3.MessageInfo, len(b.messages))
	for i, m := range b.messages {
		infos[i] = pop3.MessageInfo{Size: int64(len(m)), UID: fmt.Sprintf("msg-%d", i)}
	}
	return infos
}

func (b staticBackend) Message(_ context.Context, i int) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(b.messages[i])), nil
}

func (b staticBackend) Delete(context.Context, []int) error {
	return &pop3.Error{Code: pop3.CodeSysPerm, Text: "this maildrop is read-only"}
}

func (b staticBackend) Close() error { return nil }

// Write a fake backend: the four methods of Mailbox, plus Login and Open,
// are all a test needs.
func Example_fakeBackend() {
	srv := pop3.NewServer(staticBackend{messages: []string{"Subject: a\r\n\r\n.dot\r\n"}})
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(l)
	defer srv.Close()

	conn, _ := net.Dial("tcp", l.Addr().String())
	defer conn.Close()
	fmt.Fprintf(conn, "USER test\r\nPASS test\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n")
	out, _ := io.ReadAll(conn)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\r\n") {
		fmt.Println(line)
	}
	// Output:
	// +OK POP3 server ready
	// +OK send PASS
	// +OK maildrop has 1 message (20 octets)
	// +OK unique-id listing follows
	// 1 msg-0
	// .
	// +OK 20 octets
	// Subject: a
	//
	// ..dot
	// .
	// +OK message 1 deleted
	// -ERR [SYS/PERM] some deleted messages not removed: this maildrop is read-only
}

// Return an *Error from a backend to choose the response code the client
// sees (RFC 2449 §8, RFC 3206).
func ExampleError() {
	err := fmt.Errorf("checking quota: %w", &pop3.Error{Code: pop3.CodeLoginDelay, Text: "wait 5 minutes between logins"})
	var e *pop3.Error
	if errors.As(err, &e) {
		fmt.Println("-ERR " + e.Error())
	}
	// Output:
	// -ERR [LOGIN-DELAY] wait 5 minutes between logins
}
