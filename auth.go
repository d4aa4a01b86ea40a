package pop3

import (
	"bytes"
	"encoding/base64"
	"errors"
	"slices"
	"strings"

	"github.com/emersion/go-sasl"

	"github.com/gopop3/pop3/internal/wire"
)

// The SASL mechanisms the server provides on top of Backend.Login.
const (
	mechPlain = "PLAIN" // RFC 4616
	mechLogin = "LOGIN" // draft-murchison-sasl-login
)

// errAuthCancelled answers a client that cancels AUTH with "*" (RFC 5034
// §4).
var errAuthCancelled = &Error{Text: "authentication cancelled"}

// saslMechanisms lists the mechanisms AUTH accepts on this connection:
// PLAIN and LOGIN where a cleartext login is allowed, and the backend's own.
func (s *session) saslMechanisms() []string {
	var mechs []string
	if s.cleartextAllowed() {
		mechs = append(mechs, mechPlain, mechLogin)
	}
	for _, m := range s.backendMechanisms() {
		if !slices.Contains(mechs, m) {
			mechs = append(mechs, m)
		}
	}
	return mechs
}

// cmdAuth handles AUTH (RFC 5034 §4). A bare AUTH lists the mechanisms, one
// per line, as Outlook expects. A failed or cancelled exchange leaves the
// session as if AUTH had not been sent.
func (s *session) cmdAuth(args []string) error {
	if len(args) == 0 {
		mechs := s.saslMechanisms() // before +OK: the backend may fail
		if err := s.replyOK("SASL mechanisms follow"); err != nil {
			return err
		}
		return s.writeLines(mechs)
	}
	mech := strings.ToUpper(args[0])
	if !slices.Contains(s.saslMechanisms(), mech) {
		if (mech == mechPlain || mech == mechLogin) && !s.cleartextAllowed() {
			return errTLSRequired
		}
		return &Error{Text: "unsupported SASL mechanism"}
	}
	var initial []byte // nil: no initial response
	if len(args) == 2 {
		var err error
		if initial, err = decodeSASL(args[1]); err != nil {
			return err
		}
	}
	return s.authenticate("AUTH "+mech, func() (string, User, error) {
		return s.saslExchange(mech, initial)
	})
}

// saslExchange runs a SASL exchange to its end and returns the user it
// authenticated, or the error to count as a failed login. Only the end of
// the session, and a cancel before the client has sent any response, are
// not failures.
func (s *session) saslExchange(mech string, response []byte) (username string, user User, err error) {
	var loginErr error // from Backend.Login in PLAIN and LOGIN, shown as it is
	authenticated := func(name string, u User) { username, user = name, u }
	server, err := s.newSASLServer(mech, authenticated, &username, &loginErr)
	if err != nil {
		return username, nil, err
	}
	responded := response != nil
	// respond sends a challenge and reads the answer. Once the client has
	// sent a response, a cancel counts as a failed login, with its delay:
	// otherwise a mechanism that rejects and then waits for the client's
	// last word (OAUTHBEARER) would allow unlimited guesses.
	respond := func(challenge []byte, responded bool) ([]byte, error) {
		r, err := s.saslChallenge(challenge)
		if err == errAuthCancelled && responded {
			err = ErrAuthFailed
		}
		return r, err
	}
	for {
		challenge, done, err := server.Next(response)
		switch {
		case err != nil && loginErr != nil:
			return username, nil, loginErr
		case err != nil:
			var e *Error
			if !errors.As(err, &e) {
				s.logger().Debug("pop3: SASL exchange failed", "mech", mech, "err", err)
				err = ErrAuthFailed
			}
			return username, nil, err
		case done && user == nil:
			s.logger().Error("pop3: SASL mechanism succeeded without a user", "mech", mech)
			return username, nil, ErrAuthFailed
		case done && len(challenge) > 0:
			// Additional data with success (RFC 4422 §5, e.g. SCRAM's
			// server signature): POP3's +OK cannot carry it, so it goes as
			// a last challenge, which the client answers with an empty
			// response (RFC 5034 §4).
			final, err := respond(challenge, true)
			if err != nil {
				return username, nil, err
			}
			if len(final) != 0 {
				return username, nil, ErrAuthFailed
			}
			return username, user, nil
		case done:
			return username, user, nil
		}
		if response, err = respond(challenge, responded); err != nil {
			return username, nil, err
		}
		responded = true
	}
}

// saslChallenge sends a challenge and reads the client's response line,
// which may be as long as MaxAuthLineLength. A cancel ("*") returns
// errAuthCancelled; a response that cannot be read ends the session.
func (s *session) saslChallenge(challenge []byte) ([]byte, error) {
	if err := s.writeContinuation(challenge); err != nil {
		return nil, endSession(EndError, nil, err)
	}
	if err := s.c.flush(); err != nil {
		return nil, endSession(EndError, nil, err)
	}
	if err := s.awaitInput(); err != nil {
		return nil, s.readError(err)
	}
	line, err := s.c.lines.ReadLine(s.srv.maxAuthLineLength(), 0)
	if errors.Is(err, wire.ErrLineTooLongPending) {
		if err := s.c.lines.DiscardLine(); err != nil {
			return nil, s.readError(err)
		}
	}
	if errors.Is(err, wire.ErrLineTooLong) {
		return nil, &Error{Text: "SASL response too long"}
	}
	if err != nil {
		return nil, s.readError(err)
	}
	s.trace("C: <SASL response redacted>")
	if string(line) == "*" {
		return nil, errAuthCancelled
	}
	return decodeSASL(string(line))
}

// decodeSASL decodes a base64 SASL response; "=" is an empty one (RFC 5034
// §4). The result is never nil, since go-sasl reads nil as "no response".
func decodeSASL(arg string) ([]byte, error) {
	if arg == "=" {
		return []byte{}, nil
	}
	b, err := base64.StdEncoding.DecodeString(arg)
	if err != nil || strings.ContainsAny(arg, "\r\n") { // the decoder would skip CR and LF
		return nil, &Error{Text: "invalid base64 in SASL response"}
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// newSASLServer starts mech: the backend's own when it offers it,
// otherwise the built-in PLAIN or LOGIN on Backend.Login, whose username
// is kept in attempted and error in loginErr.
func (s *session) newSASLServer(mech string, authenticated func(string, User), attempted *string, loginErr *error) (sasl.Server, error) {
	if slices.Contains(s.backendMechanisms(), mech) {
		return s.srv.Backend.(SASLBackend).SASLServer(s.ctx, &s.info, mech, authenticated)
	}
	check := func(username, password string) error {
		*attempted = username
		var err error
		if username, err = s.prepareUsername(username); err != nil {
			*loginErr = err
			return err
		}
		if password, err = s.preparePassword(password); err != nil {
			*loginErr = err
			return err
		}
		user, err := s.srv.Backend.Login(s.ctx, &s.info, username, password)
		if err != nil {
			*loginErr = err
			return err
		}
		authenticated(username, user)
		return nil
	}
	if mech == mechLogin {
		return &loginServer{check: check}, nil
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return errors.New("authorization identity not supported")
		}
		return check(username, password)
	}), nil
}

// backendMechanisms lists a SASLBackend's mechanisms, upper-cased.
func (s *session) backendMechanisms() []string {
	sb, ok := s.srv.Backend.(SASLBackend)
	if !ok {
		return nil
	}
	mechs := sb.SASLMechanisms(&s.info)
	out := make([]string, len(mechs))
	for i, m := range mechs {
		out[i] = strings.ToUpper(m)
	}
	return out
}

// loginServer is the server side of the LOGIN mechanism
// (draft-murchison-sasl-login), which go-sasl no longer provides: the
// challenges "Username:" and "Password:", and an optional initial response
// that is the username.
type loginServer struct {
	check    func(username, password string) error
	step     int
	username string
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		l.step = 1
		if response == nil {
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		if bytes.IndexByte(response, 0) >= 0 || strings.IndexByte(l.username, 0) >= 0 {
			return nil, true, errors.New("NUL in LOGIN credentials")
		}
		return nil, true, l.check(l.username, string(response))
	}
	return nil, true, sasl.ErrUnexpectedClientResponse
}
