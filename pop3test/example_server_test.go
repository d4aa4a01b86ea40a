package pop3test_test

import (
	"testing"

	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

// testRetrieve is a test of a client-facing feature: a real server on
// loopback, with TLS, and the test client. (Here TestRetrieve calls it.)
func testRetrieve(t *testing.T) {
	be := memory.New(memory.DeterministicUIDs())
	if err := be.AddUser("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := be.AppendMessage("alice", []byte("Subject: hi\n\n.Hello.\n")); err != nil {
		t.Fatal(err)
	}

	srv := pop3test.NewServer(t, be, pop3test.WithTLS()) // closed when the test ends
	c := srv.Dial()
	c.StartTLS(srv.ClientTLSConfig())
	c.Login("alice", "secret")

	if got := c.OK("UIDL 1").Text; got != "1 uid-1" {
		t.Errorf("UIDL 1: %q", got)
	}
	msg := c.OK("RETR 1").Body // un-stuffed
	if string(msg) != "Subject: hi\r\n\r\n.Hello.\r\n" {
		t.Errorf("RETR 1: %q", msg)
	}
	c.OK("DELE 1")
	c.Quit()

	c = srv.DialTLS()
	c.Transcript(`
		S: +OK POP3 server ready...
		C: USER alice
		S: +OK...
		C: PASS secret
		S: +OK maildrop has 0 messages (0 octets)
	`)
}

// A test with a real server and the test client, as a backend's or a
// client's test file would hold it; the example is the whole file.
func ExampleNewServer() {
	// go test runs testRetrieve through TestRetrieve.
}
