package pop3

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"
)

// loginDelay is LoginDelay, 0 for none.
func (srv *Server) loginDelay() time.Duration { return max(srv.LoginDelay, 0) }

// checkLoginDelay refuses a login that comes sooner than the session's
// login delay after the user's previous one. A store that cannot tell is
// logged and lets the login through: LOGIN-DELAY spares the server, and a
// store failure must not lock users out.
func (s *session) checkLoginDelay(username string, user User, now time.Time) error {
	if s.loginDelay <= 0 {
		return nil
	}
	var last time.Time
	if lr, ok := user.(LoginRecorder); ok {
		var err error
		if last, err = lr.LastLogin(s.ctx); err != nil {
			s.logger().Warn("pop3: reading the last login time failed; not enforcing LOGIN-DELAY", "user", username, "err", err)
			return nil
		}
	} else {
		last = s.srv.logins.get(username)
	}
	if last.After(now.Add(maxClockSkew)) {
		// A clock that was wrong, a restored store or an edited file
		// must not lock the user out until that time.
		s.logger().Warn("pop3: the last login time is in the future; not enforcing LOGIN-DELAY", "user", username, "last_login", last)
		return nil
	}
	if last.IsZero() || now.Sub(last) >= s.loginDelay {
		return nil
	}
	wait := s.loginDelay - now.Sub(last)
	return &Error{Code: CodeLoginDelay, Text: "login too soon after the previous one, try again in " +
		strconv.FormatInt(delaySeconds(wait), 10) + " seconds"}
}

// recordLogin keeps now as the user's last login, with the maildrop open.
func (s *session) recordLogin(ctx context.Context, username string, user User, now time.Time) {
	if s.loginDelay <= 0 {
		return
	}
	if lr, ok := user.(LoginRecorder); ok {
		if err := lr.RecordLogin(ctx, now); err != nil {
			s.logger().Warn("pop3: recording the login time failed", "user", username, "err", err)
		}
		return
	}
	s.srv.logins.record(username, now, s.srv.loginDelay())
}

// maxClockSkew is how far ahead of the server's clock a recorded login may
// be, as another node's clock may be, before it is taken for a mistake.
const maxClockSkew = time.Minute

// maxLoginTimes bounds the users whose last login the server keeps in
// memory.
const maxLoginTimes = 100_000

// loginTimes keeps the last login time of each user whose store does not
// (see LoginRecorder), in bounded memory: a time older than the server's
// LoginDelay can refuse nothing and is dropped, and past maxLoginTimes
// users some are forgotten, which at worst lets a login through early.
type loginTimes struct {
	mu        sync.Mutex
	last      map[string]time.Time
	pruneSize int // the size at which the next record prunes
}

// loginKey is the key of a user's time: the name in lower case, so that a
// backend whose names ignore case cannot have the delay dodged by a
// change of case. Two users of a backend whose names differ only in case
// share a delay: too strict rather than too loose.
func loginKey(username string) string { return strings.ToLower(username) }

func (lt *loginTimes) get(username string) time.Time {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	return lt.last[loginKey(username)]
}

// record sets username's last login to now; entries older than maxAge go.
func (lt *loginTimes) record(username string, now time.Time, maxAge time.Duration) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if lt.last == nil {
		lt.last = make(map[string]time.Time)
	}
	username = loginKey(username)
	lt.last[username] = now
	if len(lt.last) >= max(lt.pruneSize, 1024) {
		for name, t := range lt.last {
			if now.Sub(t) >= maxAge {
				delete(lt.last, name)
			}
		}
		// Prune again only once the map has doubled, so that a server
		// with many recent logins does not scan it on every one.
		lt.pruneSize = 2 * len(lt.last)
	}
	for name := range lt.last {
		if len(lt.last) <= maxLoginTimes {
			break
		}
		if name != username {
			delete(lt.last, name)
		}
	}
}
