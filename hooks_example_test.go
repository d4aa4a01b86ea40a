package pop3_test

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
)

// Count logins and commands, as a Prometheus or OpenTelemetry adapter
// would with its counters: the hooks only add to them.
func ExampleHooks() {
	backend := memory.New()
	_ = backend.AddUser("alice", "secret")
	_, _ = backend.AppendMessage("alice", []byte("Subject: hello\n\nHi Alice!\n"))

	var (
		mu     sync.Mutex
		counts = map[string]int{}
		ended  = make(chan pop3.SessionEndEvent, 1)
	)
	count := func(key string) {
		mu.Lock()
		counts[key]++
		mu.Unlock()
	}
	srv := pop3.NewServer(backend)
	srv.AuthFailureDelay = -1 // not to wait in an example
	srv.Logger = slog.New(slog.DiscardHandler)
	srv.Hooks = &pop3.Hooks{
		Login:        func(ev pop3.LoginEvent) { count("login " + ev.Method + " " + string(ev.Result)) },
		Command:      func(ev pop3.CommandEvent) { count("command " + ev.Name + " " + ev.Status) },
		SessionEnded: func(ev pop3.SessionEndEvent) { ended <- ev },
	}
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
	fmt.Fprint(conn, "USER alice\r\nPASS guess\r\nUSER alice\r\nPASS secret\r\nRETR 1\r\nQUIT\r\n")
	_, _ = io.Copy(io.Discard, bufio.NewReader(conn))

	end := <-ended
	fmt.Println("session ended:", end.Reason, "retrieved", end.Retrieved)
	mu.Lock()
	defer mu.Unlock()
	for _, key := range slices.Sorted(maps.Keys(counts)) {
		fmt.Println(key, counts[key])
	}
	// Output:
	// session ended: quit retrieved 1
	// command PASS +OK 1
	// command PASS -ERR 1
	// command QUIT +OK 1
	// command RETR +OK 1
	// command USER +OK 2
	// login USER failed 1
	// login USER ok 1
}
