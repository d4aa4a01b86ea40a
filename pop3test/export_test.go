package pop3test

import (
	"testing"
	"time"
)

// SetSlowClose makes the kit note a Mailbox.Close or a QUIT that takes
// longer than d, instead of a second, until tb ends, so that a test of the
// note needs no slow backend.
func SetSlowClose(tb testing.TB, d time.Duration) {
	old := slowClose.Swap(int64(d))
	tb.Cleanup(func() { slowClose.Store(old) })
}
