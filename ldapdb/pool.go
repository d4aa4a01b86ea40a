package ldapdb

import (
	"context"
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
	max     int

	mu     sync.Mutex
	idle   []*ldap.Conn
	closed bool
}

// get returns an idle connection, or a new one: each URI is tried in turn.
func (p *pool) get(ctx context.Context) (*ldap.Conn, error) {
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
		c.Close()
	}
	p.mu.Unlock()
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
		if err := c.StartTLS(tc); err != nil {
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

func isPlain(uri string) bool { return len(uri) >= 7 && uri[:7] == "ldap://" }

// put returns a connection that is still good to the pool.
func (p *pool) put(c *ldap.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || c.IsClosing() || len(p.idle) >= p.max {
		c.Close()
		return
	}
	p.idle = append(p.idle, c)
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
			c.Close()
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
		c.Close()
	}
	p.idle = nil
}
