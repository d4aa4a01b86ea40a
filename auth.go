package pop3

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"slices"
	"strings"

	"github.com/emersion/go-sasl"
)

// The SASL mechanisms the server provides on top of Backend.Login.
const (
	mechPlain = "PLAIN" // RFC 4616
	mechLogin = "LOGIN" // draft-murchison-sasl-login
)

// errAuthCancelled answers a client that cancels AUTH with "*" (RFC 5034
// §4).
var errAuthCancelled = &Error{Text: "authentication cancelled"}

// canSTLS reports whether STLS is offered: TLS is configured and not yet
// active (RFC 2595 §4).
func (s *session) canSTLS() bool {
	return s.srv.TLSConfig != nil && s.info.TLS == nil
}

// cmdSTLS handles STLS (RFC 2595 §4). After "+OK" the handshake starts at
// once. Whatever the client sent after the STLS line in cleartext is
// thrown away unread, so that no command can be injected into the TLS
// session (CVE-2011-0411). The session then forgets any USER and stays in
// AUTHORIZATION.
func (s *session) cmdSTLS([]string) error {
	if !s.canSTLS() {
		if s.info.TLS != nil {
			return &Error{Text: "TLS already active"}
		}
		return &Error{Text: "STLS not available"}
	}
	if err := s.replyOK("begin TLS negotiation"); err != nil {
		return err
	}
	if err := s.bw.Flush(); err != nil {
		return err
	}
	tc := tls.Server(s.conn, s.srv.TLSConfig)
	s.mu.Lock()
	s.conn = tc
	s.mu.Unlock()
	s.br.Reset(tc) // drops the pipelined cleartext
	if err := s.handshake(tc); err != nil {
		return &fatalError{err}
	}
	s.pendingUser = ""
	return nil
}

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
		if err := s.replyOK("SASL mechanisms follow"); err != nil {
			return err
		}
		return s.writeLines(s.saslMechanisms())
	}
	mech := strings.ToUpper(args[0])
	if !slices.Contains(s.saslMechanisms(), mech) {
		if (mech == mechPlain || mech == mechLogin) && !s.cleartextAllowed() {
			return errTLSRequired
		}
		return &Error{Text: "unsupported SASL mechanism"}
	}

	var (
		username string
		user     User
		loginErr error // from Backend.Login, shown as it is
	)
	authenticated := func(name string, u User) { username, user = name, u }
	var server sasl.Server
	err := s.backendCall("auth", func() (err error) {
		server, err = s.newSASLServer(mech, authenticated, &loginErr)
		return err
	})
	if err != nil {
		return s.authFailed(err)
	}

	var response []byte // nil: no initial response
	if len(args) == 2 {
		if response, err = decodeSASL(args[1]); err != nil {
			return err
		}
	}
	responded := response != nil
	for {
		var (
			challenge []byte
			done      bool
		)
		err := s.backendCall("auth", func() (err error) {
			challenge, done, err = server.Next(response)
			return err
		})
		switch {
		case isPanic(err):
			return err
		case err != nil && loginErr != nil:
			return s.authFailed(loginErr)
		case err != nil:
			var e *Error
			if !errors.As(err, &e) {
				s.log.Debug("pop3: SASL exchange failed", "mech", mech, "err", err)
				err = ErrAuthFailed
			}
			return s.authFailed(err)
		case done && user == nil:
			s.log.Error("pop3: SASL mechanism succeeded without a user", "mech", mech)
			return s.authFailed(ErrAuthFailed)
		case done && len(challenge) > 0:
			// Additional data with success (RFC 4422 §5, e.g. SCRAM's
			// server signature): POP3's +OK cannot carry it, so it goes as
			// a last challenge, which the client answers with an empty
			// response (RFC 5034 §4).
			final, err := s.saslChallenge(challenge)
			if err != nil {
				return s.saslAbort(err, true)
			}
			if len(final) != 0 {
				return s.authFailed(ErrAuthFailed)
			}
			fallthrough
		case done:
			return s.login(username, user)
		}
		if response, err = s.saslChallenge(challenge); err != nil {
			return s.saslAbort(err, responded)
		}
		responded = true
	}
}

// saslAbort ends an exchange that the client cancelled or broke. Once the
// client has sent a response, a cancel counts as a failed login, with its
// delay: otherwise a mechanism that rejects and then waits for the
// client's last word (OAUTHBEARER) would allow unlimited guesses.
func (s *session) saslAbort(err error, responded bool) error {
	if errors.Is(err, errAuthCancelled) && responded {
		return s.authFailed(ErrAuthFailed)
	}
	return err
}

// saslChallenge sends "+ " and the base64 challenge (RFC 5034 §4) and reads
// the client's response line, which may be as long as MaxAuthLineLength.
func (s *session) saslChallenge(challenge []byte) ([]byte, error) {
	if err := s.writeContinuation(challenge); err != nil {
		return nil, err
	}
	if err := s.bw.Flush(); err != nil {
		return nil, err
	}
	if err := s.awaitInput(); err != nil {
		_ = s.replyErr(CodeSysTemp, "server shutting down")
		return nil, &fatalError{err}
	}
	line, err := s.readLine(orDefault(s.srv.MaxAuthLineLength, DefaultMaxAuthLineLength), false)
	if errors.Is(err, errLineTooLongPending) {
		if err := s.discardLine(); err != nil {
			return nil, err
		}
	}
	if errors.Is(err, errLineTooLong) {
		return nil, &Error{Text: "SASL response too long"}
	}
	if err != nil {
		return nil, &fatalError{err}
	}
	s.trace("C: <SASL response redacted>")
	if string(line) == "*" {
		return nil, errAuthCancelled
	}
	return decodeSASL(string(line))
}

func (s *session) writeContinuation(challenge []byte) error {
	s.trace("S: + <challenge>")
	if _, err := s.bw.WriteString("+ "); err != nil {
		return err
	}
	enc := base64.StdEncoding
	var buf [512]byte
	if n := enc.EncodedLen(len(challenge)); n <= len(buf) {
		enc.Encode(buf[:n], challenge)
		if _, err := s.bw.Write(buf[:n]); err != nil {
			return err
		}
	} else if _, err := s.bw.WriteString(enc.EncodeToString(challenge)); err != nil {
		return err
	}
	_, err := s.bw.Write(crlf)
	return err
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
// otherwise the built-in PLAIN or LOGIN on Backend.Login, whose error is
// kept in loginErr.
func (s *session) newSASLServer(mech string, authenticated func(string, User), loginErr *error) (sasl.Server, error) {
	if slices.Contains(s.backendMechanisms(), mech) {
		return s.srv.Backend.(SASLBackend).SASLServer(s.ctx, &s.info, mech, authenticated)
	}
	check := func(username, password string) error {
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
