package pop3

// The seams that the external tests reach through internal/testhooks: a
// clock for LOGIN-DELAY and EXPIRE, and a fixed APOP timestamp for golden
// transcripts.

import (
	"time"

	"github.com/gopop3/pop3/internal/testhooks"
)

func init() {
	testhooks.SetClock = func(srv any, now func() time.Time) {
		srv.(*Server).clock = now
	}
	testhooks.SetAPOPTimestamp = func(srv any, next func() string) {
		srv.(*Server).fixedTimestamp = next
	}
}
