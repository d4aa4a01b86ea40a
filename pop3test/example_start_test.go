package pop3test_test

import (
	"testing"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

// newAppServer stands for an application's own constructor, which builds
// the server from its configuration.
func newAppServer(backend pop3.Backend) *pop3.Server {
	srv := pop3.NewServer(backend)
	srv.Greeting = "Example Mail ready"
	srv.MaxAuthFailures = 1
	srv.AuthFailureDelay = -1 // the application's choice; Start keeps it
	return srv
}

// testAppServer tests the server as the application configures it. (Here
// TestAppServer calls it.)
func testAppServer(t *testing.T) {
	be := memory.New(memory.DeterministicUIDs())
	if err := be.AddUser("alice", "secret"); err != nil {
		t.Fatal(err)
	}

	srv := pop3test.Start(t, newAppServer(be)) // closed when the test ends
	srv.Dial().Transcript(`
		S: +OK Example Mail ready...
		C: USER alice
		S: +OK...
		C: PASS wrong
		S: -ERR [AUTH]...
		S: <closed>
	`)
}

// A test of a server that the application has configured, with its own
// greeting and limits: Start serves it as it is.
func ExampleStart() {
	// go test runs testAppServer through TestAppServer.
}
