package ldapdb

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// pool keeps open connections to the directory, bound as one identity (the
// configuration's dn, or each user in turn for auth_bind), so that a
// lookup does not pay a TCP and TLS handshake.
type pool struct {
	cfg     *compiled
	bindDN  string // "" for anonymous, or for a pool whose users bind themselves
	bindPw  string
	dial    time.Duration
	request time.Duration
	max     int // idle connections kept
	// open holds a token per connection open or being opened: at most
	// its capacity, so that a burst of logins waits for a connection
	// rather than opening hundreds.
	open chan struct{}

	mu     sync.Mutex
	idle   []*ldap.Conn
	wake   chan struct{} // closed when a connection is put back or closed
	closed bool
}

// get returns an idle connection, or a new one (each URI tried in turn)
// when fewer than the pool's limit are open; else it waits for one.
func (p *pool) get(ctx context.Context) (*ldap.Conn, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errors.New("ldapdb: closed")
		}
		for len(p.idle) > 0 {
			c := p.idle[len(p.idle)-1]
			p.idle = p.idle[:len(p.idle)-1]
			if !c.IsClosing() {
				p.mu.Unlock()
				return c, nil
			}
			p.discard(c)
		}
		// Taken with the idle list empty, so that no put is missed.
		if p.wake == nil {
			p.wake = make(chan struct{})
		}
		returned := p.wake
		p.mu.Unlock()
		select {
		case p.open <- struct{}{}:
			c, err := p.dialAny(ctx)
			if err != nil {
				p.mu.Lock()
				<-p.open
				p.signal()
				p.mu.Unlock()
			}
			return c, err
		case <-returned:
			// A connection came back, or a place was freed: look again.
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// signal wakes the waiters of returned; p.mu is held.
func (p *pool) signal() {
	if p.wake != nil {
		close(p.wake)
		p.wake = nil
	}
}

// discard closes a connection and frees its place; p.mu is held.
func (p *pool) discard(c *ldap.Conn) {
	c.Close()
	<-p.open
	p.signal()
}

// dialAny connects to the first URI that answers.
func (p *pool) dialAny(ctx context.Context) (*ldap.Conn, error) {
	var errs []error
	for _, u := range p.cfg.uris {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, err := p.connect(ctx, u.String(), serverName(u))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// connect opens, secures and binds one connection.
func (p *pool) connect(ctx context.Context, uri, name string) (*ldap.Conn, error) {
	dialer := &net.Dialer{Timeout: p.dial}
	if d, ok := ctx.Deadline(); ok && time.Until(d) < p.dial {
		dialer.Deadline = d
	}
	tc := p.cfg.tls.Clone()
	tc.ServerName = name
	c, err := ldap.DialURL(uri, ldap.DialWithDialer(dialer), ldap.DialWithTLSConfig(tc))
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", uri, err)
	}
	c.SetTimeout(p.request)
	if p.cfg.startTLS && isPlain(uri) {
		if err := p.startTLS(c, tc); err != nil {
			c.Close()
			return nil, fmt.Errorf("StartTLS with %s: %w", uri, err)
		}
	}
	if p.bindDN != "" {
		if err := c.Bind(p.bindDN, p.bindPw); err != nil {
			c.Close()
			return nil, fmt.Errorf("binding to %s as %s: %w", uri, p.bindDN, err)
		}
	}
	return c, nil
}

// startTLS runs StartTLS within the request timeout: go-ldap gives the
// TLS handshake no deadline, and a server that stalls in it would hold the
// connection's place in the pool for ever. Closing the connection ends a
// handshake that takes too long.
func (p *pool) startTLS(c *ldap.Conn, tc *tls.Config) error {
	done := make(chan error, 1)
	go func() { done <- c.StartTLS(tc) }()
	timer := time.NewTimer(p.request)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		c.Close()
		<-done
		return fmt.Errorf("no answer within %v", p.request)
	}
}

func isPlain(uri string) bool { return len(uri) >= 7 && uri[:7] == "ldap://" }

// put gives a connection back: kept when it is still good and the pool
// keeps fewer than max idle ones, else closed.
func (p *pool) put(c *ldap.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || c.IsClosing() || len(p.idle) >= p.max {
		p.discard(c)
		return
	}
	p.idle = append(p.idle, c)
	p.signal()
}

// drop closes a connection that failed.
func (p *pool) drop(c *ldap.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.discard(c)
}

// do runs f on a connection. When f fails for the connection's sake (the
// server restarted, or a firewall dropped it), the connection is dropped
// and f runs once more on a new one.
func (p *pool) do(ctx context.Context, f func(*ldap.Conn) error) error {
	for attempt := 0; ; attempt++ {
		c, err := p.get(ctx)
		if err != nil {
			return err
		}
		err = f(c)
		if err != nil && isConnError(err, c) {
			p.drop(c)
			if attempt == 0 && ctx.Err() == nil {
				continue
			}
			return err
		}
		p.put(c)
		return err
	}
}

// isConnError reports whether err is the connection's failure rather than
// an answer of the server.
func isConnError(err error, c *ldap.Conn) bool {
	return c.IsClosing() || ldap.IsErrorAnyOf(err, ldap.ErrorNetwork, ldap.LDAPResultServerDown,
		ldap.LDAPResultUnavailable, ldap.LDAPResultBusy, ldap.LDAPResultTimeout)
}

// close closes the idle connections; those in use are closed when put.
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.idle {
		p.discard(c)
	}
	p.idle = nil
	p.signal() // waiters see closed
}
