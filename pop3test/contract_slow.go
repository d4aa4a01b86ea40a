package pop3test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopop3/pop3"
)

// A slow Mailbox.Close slows every client's QUIT: the server sends QUIT's
// +OK only after UPDATE, which removes the deleted messages and then
// closes the maildrop (RFC 1939 §6). The kit opens hundreds of mailboxes,
// so a Close that takes a second makes it take minutes; it says so, once
// per check, rather than seeming to hang.

// slowClose is how long a Mailbox.Close, or a QUIT, may take before the
// check notes it. The kit's own tests shorten it (export_test.go).
var slowClose atomic.Int64

func init() { slowClose.Store(int64(time.Second)) }

// noted holds the checks (*testing.T) that have noted a slow call, each
// of which notes only its first. run removes a check's entry when the
// check and its cleanups are over.
var noted sync.Map

// noteSlow logs in the check t, once, that a call took long: what is
// "Mailbox.Close" for a call of the kit's, or "QUIT" for a session's,
// whose reply waits for the server's Close.
func noteSlow(t *testing.T, what string, took time.Duration) {
	limit := time.Duration(slowClose.Load())
	if took <= limit {
		return
	}
	if _, dup := noted.LoadOrStore(t, true); dup {
		return
	}
	took = took.Round(time.Millisecond)
	const after = "so a slow Close makes every client wait that long for QUIT's +OK, " +
		"and this kit, which closes hundreds of mailboxes, run that much slower. " +
		"(This check notes no further slow call.)"
	if what == "QUIT" {
		t.Logf("pop3test: QUIT took %v to answer, more than %v. A server answers QUIT only after UPDATE, "+
			"which calls Mailbox.Delete and then Mailbox.Close (RFC 1939 §6), "+after, took, limit)
		return
	}
	t.Logf("pop3test: %s took %v, more than %v. A server closes the maildrop before it answers QUIT (RFC 1939 §6), "+
		after, what, took, limit)
}

// closeBox closes mb, noting a slow Close.
func closeBox(t *testing.T, mb pop3.Mailbox) error {
	start := time.Now()
	err := mb.Close()
	noteSlow(t, "Mailbox.Close", time.Since(start))
	return err
}
