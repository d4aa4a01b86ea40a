package pop3

import (
	"sync"
	"time"
)

// loginTimes keeps the last login time of each user whose store does not
// (see LoginRecorder), in bounded memory: a time older than the server's
// LoginDelay can refuse nothing and is dropped.
type loginTimes struct {
	mu   sync.Mutex
	last map[string]time.Time
}
