package pop3

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"
)

// errTLSRequired refuses a cleartext login where it is not allowed (RFC
// 8314 §5).
var errTLSRequired = &Error{Code: CodeAuth, Text: "TLS is required for cleartext login: use STLS or the TLS port"}

// cleartextAllowed reports whether a cleartext password may be sent here
// (RFC 2595 §6, RFC 8314 §5): on TLS, on a connection that
// Server.TrustedConn vouched for, from Server.TrustedNetworks, from a
// loopback address or over a unix socket, or anywhere when the server
// allows insecure auth.
func (s *session) cleartextAllowed() bool {
	if s.info.TLS != nil || s.info.Trusted || s.trustedNet || s.srv.AllowInsecureAuth {
		return true
	}
	if ip, ok := clientIP(s.info.RemoteAddr); ok {
		return ip.IsLoopback()
	}
	_, remoteUnix := s.info.RemoteAddr.(*net.UnixAddr)
	_, localUnix := s.info.LocalAddr.(*net.UnixAddr)
	return remoteUnix || localUnix
}

// cmdUser handles USER (RFC 1939 §7). It always answers +OK, so that no
// one learns which users exist.
func (s *session) cmdUser(args []string) error {
	if !s.cleartextAllowed() {
		return errTLSRequired
	}
	name, err := s.prepareUsername(args[0])
	if err != nil {
		return err
	}
	s.pendingUser = name
	return s.replyOK("send PASS")
}

// cmdPass handles PASS (RFC 1939 §7): the rest of the line, spaces
// included, is the password.
func (s *session) cmdPass(args []string) error {
	// USER has checked the cleartext policy, which cannot tighten later.
	if s.pendingUser == "" {
		return syntaxError("PASS must follow USER")
	}
	username, password := s.pendingUser, args[0]
	s.pendingUser = ""
	return s.authenticate("USER", func() (string, User, error) {
		password, err := s.preparePassword(password)
		if err != nil {
			return username, nil, err
		}
		user, err := s.srv.Backend.Login(s.ctx, &s.info, username, password)
		return username, user, err
	})
}

// authenticate is the one path of every login attempt, whatever its
// method (PASS, APOP, AUTH): it waits out the client address's penalty,
// lets check ask the backend, then enters TRANSACTION or counts the
// failure. check returns the name logged in, or the one attempted.
func (s *session) authenticate(method string, check func() (username string, user User, err error)) error {
	var penalty time.Duration
	if addr, ok := s.penaltyKey(); ok {
		penalty = s.srv.penalty.delay(addr, time.Now(), s.srv.maxAuthPenalty())
		if err := s.wait(penalty); err != nil {
			return err
		}
	}
	username, user, err := check()
	if err == nil && user == nil {
		err = fmt.Errorf("pop3: %s returned a nil User and a nil error", loginCall(s, method))
	}
	if err != nil {
		return s.loginFailed(method, username, penalty, err)
	}
	return s.login(method, username, penalty, user)
}

// loginCall names the backend method that logged a user in by method,
// for the log of a backend that broke its contract.
func loginCall(s *session, method string) string {
	switch {
	case method == "APOP":
		return "APOPBackend.LoginAPOP"
	case strings.HasPrefix(method, "AUTH ") && slices.Contains(s.backendMechanisms(), method[len("AUTH "):]):
		return "the authenticated callback of SASLBackend.SASLServer"
	}
	return "Backend.Login"
}

// loginFailed answers a refused login. Every error counts as a failure, is
// delayed by AuthFailureDelay and raises the address's penalty, except a
// deliberate [LOGIN-DELAY] or [IN-USE] from the backend (the credentials
// were right), a cancel before any credentials, and the end of the session.
// After MaxAuthFailures the connection is closed.
func (s *session) loginFailed(method, username string, penalty time.Duration, err error) error {
	var end *sessionEnd
	if errors.As(err, &end) || err == errAuthCancelled || s.ctx.Err() != nil {
		return err // the session is ending, or no credentials were tried
	}
	attrs := []any{"method", method}
	if username != "" {
		attrs = append(attrs, "user", shorten(username, 64))
	}
	level := slog.LevelInfo
	var e *Error
	if !errors.As(err, &e) {
		// A backend failure, not a verdict on the credentials: the detail
		// is for the operator only.
		e = &Error{Code: CodeSysTemp, Text: "login failed, try again later"}
		attrs = append(attrs, "err", err)
		level = slog.LevelWarn
		s.reportLogin(method, username, penalty, LoginError)
	} else {
		s.reportLogin(method, username, penalty, loginResult(e))
	}
	if e.Code == CodeLoginDelay || e.Code == CodeInUse {
		s.logger().Info("pop3: login refused", append(attrs, "code", e.Code)...)
		return e
	}
	s.counts.authFailures++
	if addr, ok := s.penaltyKey(); ok && s.srv.maxAuthPenalty() > 0 {
		s.srv.penalty.fail(addr, time.Now())
	}
	s.logger().Log(s.ctx, level, "pop3: authentication failed", append(attrs, "failures", s.counts.authFailures)...)
	if err := s.wait(s.srv.authFailureDelay()); err != nil {
		return err
	}
	if s.counts.authFailures >= s.srv.maxAuthFailures() {
		return endSession(EndAuthFailures, &Error{Code: e.Code, Text: e.Text + "; too many failed logins, closing connection"}, nil)
	}
	return e
}

// loginResult is the verdict that a backend's refusal e stands for.
func loginResult(e *Error) LoginResult {
	switch e.Code {
	case CodeInUse:
		return LoginInUse
	case CodeLoginDelay:
		return LoginDelayed
	}
	return LoginFailed
}

// reportLogin reports a login attempt to Hooks.Login.
func (s *session) reportLogin(method, username string, penalty time.Duration, result LoginResult) {
	if h := s.srv.Hooks; h != nil && h.Login != nil {
		callHook(s.srv, "Login", h.Login, LoginEvent{Conn: &s.info, Method: method,
			Username: username, Result: result, Penalty: penalty})
	}
}

// wait sleeps for d, or until the session is closed.
func (s *session) wait(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// login completes a successful authentication: it opens the maildrop and
// enters TRANSACTION (RFC 1939 §4). A maildrop that cannot be opened (in
// use by another session) leaves the session in AUTHORIZATION.
func (s *session) login(method, username string, penalty time.Duration, user User) error {
	s.applyPolicy(user)
	now := s.srv.now()
	if err := s.checkLoginDelay(username, user, now); err != nil {
		return s.loginDelayed(method, username, penalty, err)
	}
	box, err := user.Open(s.ctx)
	if err == nil && box == nil {
		err = errors.New("pop3: User.Open returned a nil Mailbox and a nil error")
	}
	if err != nil {
		if errors.Is(err, ErrMailboxLocked) {
			s.logger().Info("pop3: maildrop in use", "user", username)
		}
		result := LoginError
		if e := (*Error)(nil); errors.As(err, &e) {
			result = loginResult(e)
		}
		s.reportLogin(method, username, penalty, result)
		return s.userFacingError("open", err)
	}
	// Held before the snapshot is taken, so that finish closes the box
	// even if Messages panics.
	s.drop = &maildrop{box: box}
	// Again with the maildrop held, so that of two sessions that passed
	// the first check together, the second to open it is refused.
	if err := s.checkLoginDelay(username, user, now); err != nil {
		s.closeMailbox()
		s.drop = nil
		return s.loginDelayed(method, username, penalty, err)
	}
	if s.drop.load() {
		s.logger().Error("pop3: backend returned invalid unique-ids; repairing them", "user", username)
	}
	if _, ok := box.(RetrievalMailbox); !ok && s.expire.expiresLater() {
		s.logger().Error("pop3: EXPIRE with a number of days needs a mailbox that records retrievals (pop3.RetrievalMailbox); this maildrop's messages do not expire", "user", username)
		s.expire = ExpireNever
	}
	s.recordLogin(s.ctx, username, user, now)
	s.username, s.method = username, method
	s.log = nil // now with the user
	s.state = stateTransaction
	s.counts.badCommands = 0
	s.reportLogin(method, username, penalty, LoginOK)
	return s.replyMaildrop()
}

// applyPolicy sets the session's LOGIN-DELAY and EXPIRE for user: the
// server's, or with UserPolicies the user's own, held within the bounds
// that CAPA announced before login (RFC 2449 §6.5, §6.7).
func (s *session) applyPolicy(user User) {
	s.loginDelay, s.expire = s.srv.loginDelay(), s.srv.expire()
	pu, ok := user.(PolicyUser)
	if !s.srv.UserPolicies || !ok {
		return
	}
	p := pu.Policy()
	switch {
	case p.LoginDelay < 0:
		s.loginDelay = 0
	case p.LoginDelay > 0:
		s.loginDelay = min(p.LoginDelay, s.loginDelay)
	}
	if !p.Expire.IsZero() && !p.Expire.shorter(s.expire) {
		s.expire = p.Expire
	}
}

// loginDelayed answers a login refused by LOGIN-DELAY: like a backend's
// [ErrLoginDelay], it is not a failed login.
func (s *session) loginDelayed(method, username string, penalty time.Duration, err error) error {
	s.logger().Info("pop3: login refused", "method", method, "user", shorten(username, 64), "code", CodeLoginDelay)
	s.reportLogin(method, username, penalty, LoginDelayed)
	return err
}
