package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/gopop3/pop3"
)

const (
	// lmtpMaxMessageBytes is the largest message LMTP accepts (go-smtp
	// answers 552 beyond it, and advertises it as SIZE so that the MTA can
	// refuse a larger one before sending it).
	lmtpMaxMessageBytes = 100 << 20
	// lmtpReadTimeout bounds the wait for a command and, since go-smtp
	// sets the deadline at the DATA line, for the whole message; an MTA on
	// the same host or network sends 100 MiB in far less.
	lmtpReadTimeout = 10 * time.Minute
	// lmtpWriteTimeout bounds each reply to an MTA that stopped reading.
	lmtpWriteTimeout = time.Minute
)

// lmtpServer delivers mail from an MTA (Postfix's lmtp client, say) into
// the store over LMTP (RFC 2033), on TCP or a unix socket.
//
// Its shutdown is graceful in the way that matters for mail: an idle
// connection is told 421 at once, while one in a transaction may finish it,
// so that a message the MTA has sent is not sent twice. go-smtp cannot
// tell the two apart, so the server wraps every connection (lmtpConn) and
// the sessions mark when a transaction starts and ends.
type lmtpServer struct {
	smtp     *smtp.Server
	listener net.Listener
	addr     string // the address listened on, as pop3d reports it

	backend pop3.Deliverer
	checker pop3.UserChecker // nil when the store has none
	logger  *slog.Logger

	// ctx is the parent of every backend call. It is cancelled once the
	// shutdown grace is over, so that a delivery still running gives up
	// (its recipient unacknowledged) instead of holding the process.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	conns   map[*lmtpConn]struct{}
	closing bool
	open    sync.WaitGroup // connections not yet closed by go-smtp

	// testDrained, when set, is called once shutdown has told every
	// connection to drain: a test's way to act on a draining server.
	testDrained func()
}

// startLMTP listens for LMTP on addr: a unix socket path when addr
// contains "/", otherwise a TCP HOST:PORT. It fails when the store cannot
// take deliveries. Serve with serve; stop with shutdown.
func startLMTP(ctx context.Context, addr, domain string, store pop3.Backend, logger *slog.Logger) (*lmtpServer, error) {
	d, ok := store.(pop3.Deliverer)
	if !ok {
		return nil, fmt.Errorf("the store (%T) cannot take deliveries (it is no pop3.Deliverer)", store)
	}
	l, err := listenLMTP(ctx, addr)
	if err != nil {
		return nil, err
	}
	s := newLMTPServer(d, domain, logger)
	s.listener = &lmtpListener{Listener: l, srv: s}
	s.addr = l.Addr().String()
	return s, nil
}

// newLMTPServer returns an LMTP server for d that has no listener yet.
func newLMTPServer(d pop3.Deliverer, domain string, logger *slog.Logger) *lmtpServer {
	s := &lmtpServer{backend: d, logger: logger, conns: map[*lmtpConn]struct{}{}}
	s.checker, _ = d.(pop3.UserChecker)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.smtp = smtp.NewServer(smtp.BackendFunc(s.newSession))
	s.smtp.LMTP = true
	s.smtp.Domain = domain
	s.smtp.MaxMessageBytes = lmtpMaxMessageBytes
	s.smtp.ReadTimeout = lmtpReadTimeout
	s.smtp.WriteTimeout = lmtpWriteTimeout
	s.smtp.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	return s
}

// listenLMTP listens on a unix socket path or a TCP address. A socket
// file left by a process that died is removed first; anything else at the
// path is an error, never removed: the path may be a typo for a file that
// matters, or the socket of a server still running.
func listenLMTP(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	if !strings.Contains(addr, "/") {
		return lc.Listen(ctx, "tcp", addr)
	}
	fi, err := os.Lstat(addr)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	case fi.Mode().Type() != fs.ModeSocket:
		return nil, errors.New("the path exists and is not a socket; remove it or choose another path")
	default:
		var d net.Dialer
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := d.DialContext(dctx, "unix", addr)
		cancel()
		if err == nil {
			c.Close()
			return nil, errors.New("another process serves this socket")
		}
		if err := os.Remove(addr); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("removing the stale socket: %w", err)
		}
	}
	// A unix listener made by Listen removes its file when it is closed.
	return lc.Listen(ctx, "unix", addr)
}

// serve serves LMTP until shutdown, then returns nil.
func (s *lmtpServer) serve() error {
	err := s.smtp.Serve(s.listener)
	if errors.Is(err, smtp.ErrServerClosed) {
		err = nil
	}
	return err
}

// shutdown stops accepting, tells idle connections 421, and waits for
// the transactions in progress until ctx ends; then it cancels their
// deliveries and closes their connections. It returns once every
// connection is closed, with ctx's error if the grace ran out.
func (s *lmtpServer) shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for c := range s.conns {
		c.drain()
	}
	s.mu.Unlock()
	if s.testDrained != nil {
		s.testDrained()
	}

	err := s.smtp.Shutdown(ctx) // closes the listener, waits for the connections
	if errors.Is(err, net.ErrClosed) || errors.Is(err, smtp.ErrServerClosed) {
		err = nil // the listener had failed already
	}
	if ctx.Err() != nil {
		s.cancel()
		s.mu.Lock()
		for c := range s.conns {
			c.Conn.Close() // go-smtp's read fails and its handler ends
		}
		s.mu.Unlock()
	}
	s.open.Wait()
	s.cancel()
	return err
}

// lmtpListener registers each connection it accepts with the server.
type lmtpListener struct {
	net.Listener
	srv *lmtpServer
}

// A connection that arrives once shutdown has begun is closed at once (the
// MTA tries again later) and never registered, so that shutdown's Wait
// cannot race with an Add.
func (l *lmtpListener) Accept() (net.Conn, error) {
	s := l.srv
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			nc.Close()
			continue // until shutdown closes the listener
		}
		c := &lmtpConn{Conn: nc, srv: s}
		s.conns[c] = struct{}{}
		s.open.Add(1)
		s.mu.Unlock()
		return c, nil
	}
}

// aLongTimeAgo is a read deadline that has passed: a read blocked on the
// connection returns a timeout at once, and go-smtp answers it with 421
// and closes the connection.
var aLongTimeAgo = time.Unix(1, 0)

// lmtpConn is a connection that shutdown can end between transactions.
type lmtpConn struct {
	net.Conn
	srv *lmtpServer

	mu        sync.Mutex
	inTx      bool // between MAIL and the end of the transaction
	draining  bool // end the connection before its next command
	closeOnce sync.Once
}

// drain ends the connection at its next command, which is now if it is
// between transactions.
func (c *lmtpConn) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draining = true
	if !c.inTx {
		_ = c.Conn.SetReadDeadline(aLongTimeAgo)
	}
}

// SetReadDeadline is how go-smtp arms its read timeout before each
// command; a draining connection gets a deadline in the past instead.
func (c *lmtpConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining && !c.inTx {
		t = aLongTimeAgo
	}
	return c.Conn.SetReadDeadline(t)
}

// beginTx marks a transaction started (MAIL), unless the connection is
// draining: then no transaction may start.
func (c *lmtpConn) beginTx() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining {
		return false
	}
	c.inTx = true
	return true
}

// endTx marks the transaction over (RSET, or after the replies to DATA).
func (c *lmtpConn) endTx() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inTx = false
	if c.draining {
		_ = c.Conn.SetReadDeadline(aLongTimeAgo)
	}
}

// goSMTPBadRcpt is go-smtp's reply to a RCPT command whose argument its
// parser refuses: no "TO:", or a path that is not <local-part@domain>.
// The parser, which the server has no option to relax (go-smtp v0.25),
// calls no session method first, so the reply is all there is to change.
var goSMTPBadRcpt = []byte("501 5.5.2 Was expecting RCPT arg syntax of TO:<address>\r\n")

// lmtpBadRcpt replaces goSMTPBadRcpt. Its commonest cause is an address
// without a domain, RCPT TO:<alice>, which Dovecot's LMTP takes as a user
// name (sendmail's local_lmtp mailer sends such addresses) and RFC 5321
// §4.1.2 does not allow: the reply says that a domain is needed, with the
// enhanced code of a bad destination address (RFC 3463 §3.2, X.1.3).
var lmtpBadRcpt = []byte("501 5.1.3 Bad recipient address syntax: use RCPT TO:<user@domain>, with a domain even for a local user\r\n")

// Write sends a reply of go-smtp's, which writes each line of a reply
// with one call; goSMTPBadRcpt is sent as lmtpBadRcpt, and logged, since
// no session method sees the command.
func (c *lmtpConn) Write(p []byte) (int, error) {
	if !bytes.Equal(p, goSMTPBadRcpt) {
		return c.Conn.Write(p)
	}
	c.srv.logger.Info("pop3d: LMTP: unreadable recipient refused (an address without a domain?)", "remote", c.RemoteAddr().String())
	if _, err := c.Conn.Write(lmtpBadRcpt); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close is called by go-smtp once the connection's handler is done.
func (c *lmtpConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		c.srv.mu.Lock()
		delete(c.srv.conns, c)
		c.srv.mu.Unlock()
		c.srv.open.Done()
	})
	return err
}
