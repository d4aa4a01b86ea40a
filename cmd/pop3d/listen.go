package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/pires/go-proxyproto"
)

// The names of the sockets pop3d takes from systemd (FileDescriptorName=
// in the .socket units of contrib/).
const (
	socketPOP3  = "pop3"  // POP3, with STLS when TLS is on
	socketPOP3S = "pop3s" // implicit TLS (RFC 8314)
)

// proxyHeaderTimeout bounds the wait for a PROXY protocol header: a proxy
// sends it at once, before any byte of the client's.
const proxyHeaderTimeout = 5 * time.Second

// listen returns the POP3 listener and, when withTLS, the implicit TLS one
// (nil when -tls-addr is empty): the sockets systemd passed (socket
// activation, by name), or new ones on -addr and -tls-addr.
func listen(ctx context.Context, o *options, withTLS bool, logger *slog.Logger) (l, tl net.Listener, err error) {
	activated, err := activation.ListenersWithNames()
	if err != nil {
		return nil, nil, fmt.Errorf("systemd socket activation: %w", err)
	}
	if len(activated) > 0 {
		return systemdListeners(activated, withTLS, logger)
	}
	var lc net.ListenConfig
	if l, err = lc.Listen(ctx, "tcp", o.addr); err != nil {
		return nil, nil, err
	}
	if withTLS && o.tlsAddr != "" {
		if tl, err = lc.Listen(ctx, "tcp", o.tlsAddr); err != nil {
			l.Close()
			return nil, nil, err
		}
	}
	return l, tl, nil
}

// systemdListeners picks the sockets named pop3 and pop3s from those
// systemd passed, and refuses any other: a socket pop3d does not serve
// would leave its clients hanging.
func systemdListeners(activated map[string][]net.Listener, withTLS bool, logger *slog.Logger) (l, tl net.Listener, err error) {
	closeAll := func() {
		for _, ls := range activated {
			for _, l := range ls {
				l.Close()
			}
		}
	}
	var names []string
	for name, ls := range activated {
		names = append(names, name)
		if len(ls) != 1 || (name != socketPOP3 && name != socketPOP3S) {
			closeAll()
			return nil, nil, fmt.Errorf("systemd passed %d socket(s) named %q; pop3d serves one named %q and, with TLS, one named %q (FileDescriptorName= in the .socket unit)",
				len(ls), name, socketPOP3, socketPOP3S)
		}
	}
	slices.Sort(names)
	switch {
	case activated[socketPOP3] == nil:
		closeAll()
		return nil, nil, fmt.Errorf("systemd passed sockets named %s but none named %q", strings.Join(names, ", "), socketPOP3)
	case activated[socketPOP3S] != nil && !withTLS:
		closeAll()
		return nil, nil, fmt.Errorf("systemd passed a socket named %q, but TLS is off: give -tls-cert and -tls-key", socketPOP3S)
	}
	l = activated[socketPOP3][0]
	if ls := activated[socketPOP3S]; ls != nil {
		tl = ls[0]
	}
	logger.Info("pop3d: using the sockets systemd passed", "sockets", strings.Join(names, ","))
	return l, tl, nil
}

// proxyListener wraps l for the PROXY protocol (v1 and v2): a connection
// from a trusted address must start with a header, whose client address
// then stands for the connection's, or it is closed before the greeting.
// Anyone else is served directly, and closed if it sends a header: its
// claim is never believed. (A header cannot be waited for from them:
// POP3 clients wait for the greeting before they send a byte.)
func proxyListener(l net.Listener, trusted []*net.IPNet) net.Listener {
	return refusingListener{&proxyproto.Listener{
		Listener:          l,
		ReadHeaderTimeout: proxyHeaderTimeout,
		ConnPolicy: func(opts proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
			if tcp, ok := opts.Upstream.(*net.TCPAddr); ok {
				for _, n := range trusted {
					if n.Contains(tcp.IP) {
						return proxyproto.REQUIRE, nil
					}
				}
			}
			return proxyproto.SKIP, nil
		},
	}}
}

// refusingListener hands out the untrusted connections (those the PROXY
// listener skipped) wrapped by headerRefusingConn.
type refusingListener struct{ *proxyproto.Listener }

func (l refusingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if pc, proxied := c.(*proxyproto.Conn); proxied {
		return proxiedConn{pc}, nil
	}
	return &headerRefusingConn{Conn: c}, nil
}

// proxiedConn is a connection from a trusted proxy. A header without a
// client address (a LOCAL one, as HAProxy's health checks send, or
// UNKNOWN) leaves the client unknown: go-proxyproto then reports the
// proxy's own address, which may be loopback and would allow cleartext
// logins, so it reports an address of no IP instead.
type proxiedConn struct{ *proxyproto.Conn }

func (c proxiedConn) RemoteAddr() net.Addr {
	addr := c.Conn.RemoteAddr() // waits for the header
	if h := c.Conn.ProxyHeader(); h != nil && !h.Command.IsLocal() && h.SourceAddr != nil {
		return addr
	}
	return unknownClient{via: c.Conn.Raw().RemoteAddr().String()}
}

// unknownClient is the remote address of a proxied connection whose
// header named no client.
type unknownClient struct{ via string }

func (unknownClient) Network() string  { return "proxy" }
func (a unknownClient) String() string { return "unknown-client-via-" + a.via }

// errUntrustedProxyHeader ends a connection from an untrusted address that
// sent a PROXY header.
var errUntrustedProxyHeader = errors.New("PROXY protocol header from an untrusted address")

// proxyV2Signature opens every PROXY protocol v2 header.
var proxyV2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

// headerRefusingConn fails its first read when it starts as a PROXY
// protocol header does, so that the session ends without answering it.
type headerRefusingConn struct {
	net.Conn
	checked bool
}

func (c *headerRefusingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.checked && n > 0 {
		c.checked = true
		first := p[:n]
		if bytes.HasPrefix(first, []byte("PROXY ")) || n >= 4 && bytes.HasPrefix(proxyV2Signature, first[:min(n, len(proxyV2Signature))]) {
			return 0, errUntrustedProxyHeader
		}
	}
	return n, err
}
