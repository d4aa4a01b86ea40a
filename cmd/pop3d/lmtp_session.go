package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/passwd"
)

const (
	// lmtpDeliveryTimeout bounds one recipient's Deliver; lmtpCheckTimeout
	// bounds one UserExists at RCPT TO.
	lmtpDeliveryTimeout = 5 * time.Minute
	lmtpCheckTimeout    = 30 * time.Second
)

// The replies LMTP gives for a recipient, at RCPT TO or after DATA.
var (
	// errLMTPNoSuchUser refuses a recipient for good (RFC 3463 X.1.1).
	errLMTPNoSuchUser = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	// errLMTPTempFailure defers a recipient: the MTA keeps the message and
	// tries again. The cause is logged, never told to the client.
	errLMTPTempFailure = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
	// errLMTPShuttingDown refuses a transaction that would start while the
	// server drains.
	errLMTPShuttingDown = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Server shutting down, try again later"}
	// lmtpDelivered is the success reply. It is an *SMTPError only because
	// go-smtp takes a reply's code and text from one; with nil it would
	// say "queued", which an operator reading the MTA's log would take
	// for something other than a final delivery.
	lmtpDelivered = &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Delivered"}
)

// lmtpRcpt is an accepted recipient: the address as given in RCPT TO,
// and the user it was resolved to there ("" when the store has no
// UserChecker: then Deliver resolves it).
type lmtpRcpt struct {
	addr, user string
}

// lmtpSession is one LMTP connection's transaction state.
type lmtpSession struct {
	srv    *lmtpServer
	conn   *lmtpConn // nil if the connection is not from lmtpListener
	remote string
	from   string
	rcpts  []lmtpRcpt
}

var _ smtp.LMTPSession = (*lmtpSession)(nil)

func (s *lmtpServer) newSession(c *smtp.Conn) (smtp.Session, error) {
	conn, _ := c.Conn().(*lmtpConn)
	return &lmtpSession{srv: s, conn: conn, remote: c.Conn().RemoteAddr().String()}, nil
}

func (s *lmtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.conn != nil && !s.conn.beginTx() {
		return errLMTPShuttingDown
	}
	s.from = from
	return nil
}

// Rcpt resolves the recipient now when the store can tell whether a user
// exists, so that an unknown one is refused before the message is sent
// (RFC 2033 §4.2); otherwise it accepts it and Deliver decides.
func (s *lmtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	r := lmtpRcpt{addr: to}
	if s.srv.checker != nil {
		user, err := s.srv.resolve(to)
		if err != nil {
			s.srv.logger.Warn("pop3d: LMTP: cannot check a recipient; deferred", "remote", s.remote, "from", s.from, "rcpt", to, "err", err)
			return errLMTPTempFailure
		}
		if user == "" {
			s.srv.logger.Info("pop3d: LMTP: unknown recipient refused", "remote", s.remote, "from", s.from, "rcpt", to)
			return errLMTPNoSuchUser
		}
		r.user = user
	}
	s.rcpts = append(s.rcpts, r)
	return nil
}

// Data completes smtp.Session; in LMTP mode go-smtp calls LMTPData
// instead, which alone can give each recipient its own reply.
func (s *lmtpSession) Data(io.Reader) error {
	return errLMTPTempFailure
}

// LMTPData spools the message once, then delivers a copy to each
// recipient in turn, setting its status as soon as it is known: go-smtp
// writes the replies in RCPT order (RFC 2033 §4.2), each one while the
// next delivery runs.
func (s *lmtpSession) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	sp, err := spoolMessage(r)
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			s.srv.logger.Info("pop3d: LMTP: message refused", "remote", s.remote, "from", s.from, "err", err)
			return se // 552 for a message over MaxMessageBytes
		}
		s.srv.logger.Warn("pop3d: LMTP: cannot receive the message", "remote", s.remote, "from", s.from, "err", err)
		return errLMTPTempFailure
	}
	defer sp.remove()

	done := map[string]error{} // a recipient given twice gets one copy
	for _, rc := range s.rcpts {
		err, ok := done[rc.addr]
		if !ok {
			err = s.deliver(rc, sp)
			done[rc.addr] = err
		}
		status.SetStatus(rc.addr, err)
	}
	return nil
}

// deliver stores one recipient's copy and returns its reply.
func (s *lmtpSession) deliver(rc lmtpRcpt, sp *spool) error {
	start := time.Now()
	names := []string{rc.user}
	if rc.user == "" {
		names = recipientUsers(rc.addr)
	}
	// The final delivery agent records the envelope (RFC 5321 §4.4), as
	// Dovecot's LMTP does: Return-Path from MAIL FROM, and Delivered-To
	// with the address this copy was delivered for.
	header := "Return-Path: <" + s.from + ">\r\nDelivered-To: " + rc.addr + "\r\n"
	var user string
	var err error
	for _, user = range names {
		ctx, cancel := context.WithTimeout(s.srv.ctx, lmtpDeliveryTimeout)
		err = s.srv.backend.Deliver(ctx, user, sp.reader(header))
		cancel()
		if !errors.Is(err, pop3.ErrNoSuchUser) {
			break
		}
	}
	attrs := []any{"remote", s.remote, "from", s.from, "rcpt", rc.addr, "user", user,
		"size", sp.size, "duration", time.Since(start).Round(time.Microsecond)}
	switch {
	case err == nil:
		s.srv.logger.Info("pop3d: LMTP delivery", append(attrs, "result", "delivered")...)
		return lmtpDelivered
	case errors.Is(err, pop3.ErrNoSuchUser):
		s.srv.logger.Info("pop3d: LMTP delivery", append(attrs, "result", "no such user")...)
		return errLMTPNoSuchUser
	default:
		s.srv.logger.Error("pop3d: LMTP delivery", append(attrs, "result", "failed", "err", err)...)
		return errLMTPTempFailure
	}
}

// resolve returns the user rcpt stands for ("" for none), asking the
// store's UserChecker about each name recipientUsers gives.
func (s *lmtpServer) resolve(rcpt string) (string, error) {
	for _, name := range recipientUsers(rcpt) {
		ctx, cancel := context.WithTimeout(s.ctx, lmtpCheckTimeout)
		ok, err := s.checker.UserExists(ctx, name)
		cancel()
		if err != nil {
			return "", err
		}
		if ok {
			return name, nil
		}
	}
	return "", nil
}

// recipientUsers lists the user names a recipient address may stand for,
// in order: the address as given, for stores whose users are addresses
// (alice@example.org), then its local part in lower case, for stores of
// plain names (alice), since mail arrives for Alice@host as well. The
// lower-casing is ASCII only: beyond ASCII, case rules are the store's
// business.
func recipientUsers(addr string) []string {
	local := addr
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		local = addr[:i]
	}
	local = passwd.NormalizeUsername(local)
	if local == addr || local == "" {
		return []string{addr}
	}
	return []string{addr, local}
}

func (s *lmtpSession) Reset() {
	s.from, s.rcpts = "", nil
	if s.conn != nil {
		s.conn.endTx()
	}
}

func (s *lmtpSession) Logout() error { return nil }
