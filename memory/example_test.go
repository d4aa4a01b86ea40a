package memory_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
)

// A backend with one user and two messages, inspected directly and then as
// a POP3 session sees it: logged in, opened (which locks the maildrop) and
// listed.
func Example() {
	be := memory.New()
	if err := be.AddUser("alice", "secret"); err != nil {
		log.Fatal(err)
	}
	for _, raw := range []string{
		"Subject: hello\n\nHi Alice.\n",
		"Subject: again\r\n\r\nStill there?",
	} {
		if _, err := be.AppendMessage("alice", []byte(raw)); err != nil {
			log.Fatal(err)
		}
	}

	msgs, err := be.Messages("alice")
	if err != nil {
		log.Fatal(err)
	}
	for i, m := range msgs {
		fmt.Printf("stored %d: %q\n", i+1, m.Data)
	}

	ctx := context.Background()
	user, err := be.Login(ctx, &pop3.ConnInfo{}, "alice", "secret")
	if err != nil {
		log.Fatal(err)
	}
	mbox, err := user.Open(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer mbox.Close()
	for i, info := range mbox.Messages() {
		fmt.Printf("LIST %d %d\n", i+1, info.Size)
	}

	_, err = be.Login(ctx, &pop3.ConnInfo{}, "alice", "wrong")
	fmt.Println("wrong password:", err)
	// Output:
	// stored 1: "Subject: hello\r\n\r\nHi Alice.\r\n"
	// stored 2: "Subject: again\r\n\r\nStill there?\r\n"
	// LIST 1 29
	// LIST 2 32
	// wrong password: [AUTH] authentication failed
}

// AppendMessage stores messages with CRLF line ends and a final CRLF, so
// that the size a client is told is the number of octets it receives.
func ExampleBackend_AppendMessage() {
	be := memory.New()
	if err := be.AddUser("bob", "pw"); err != nil {
		log.Fatal(err)
	}
	if _, err := be.AppendMessage("bob", []byte("line one\nline two")); err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	user, err := be.Login(ctx, &pop3.ConnInfo{}, "bob", "pw")
	if err != nil {
		log.Fatal(err)
	}
	mbox, err := user.Open(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer mbox.Close()

	r, err := mbox.Message(ctx, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", data)
	fmt.Println("size:", mbox.Messages()[0].Size, "octets served:", len(data))
	// Output:
	// "line one\r\nline two\r\n"
	// size: 20 octets served: 20
}

// A maildrop is locked while a session has it open (RFC 1939 §4); another
// session gets pop3.ErrMailboxLocked until the first one closes.
func ExampleBackend_Login_locked() {
	be := memory.New()
	if err := be.AddUser("carol", "pw"); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	user, err := be.Login(ctx, &pop3.ConnInfo{}, "carol", "pw")
	if err != nil {
		log.Fatal(err)
	}

	first, err := user.Open(ctx)
	if err != nil {
		log.Fatal(err)
	}
	_, err = user.Open(ctx)
	fmt.Println("second open:", err)

	if err := first.Close(); err != nil {
		log.Fatal(err)
	}
	again, err := user.Open(ctx)
	fmt.Println("after close:", err)
	again.Close()
	// Output:
	// second open: [IN-USE] maildrop already locked by another session
	// after close: <nil>
}

// Delivery through pop3.Deliverer, as an LMTP listener does it, with
// deterministic unique-ids for a golden test; an unknown recipient is told
// apart with errors.Is.
func ExampleBackend_Deliver() {
	be := memory.New(memory.DeterministicUIDs())
	if err := be.AddUser("alice", "secret"); err != nil {
		log.Fatal(err)
	}
	var d pop3.Deliverer = be
	ctx := context.Background()
	if err := d.Deliver(ctx, "alice", strings.NewReader("Subject: hi\n\nHello.\n")); err != nil {
		log.Fatal(err)
	}
	err := d.Deliver(ctx, "bob", strings.NewReader("Subject: hi\n\n"))
	fmt.Println(errors.Is(err, pop3.ErrNoSuchUser))

	msgs, err := be.Messages("alice")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %q\n", msgs[0].UID, msgs[0].Data)
	// Output:
	// true
	// uid-1 "Subject: hi\r\n\r\nHello.\r\n"
}
