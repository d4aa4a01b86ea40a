package dovecotconf

import (
	"context"
	"net"
	"net/netip"

	"github.com/gopop3/pop3"
)

// ValuesFor returns the values of a lookup of user made with ctx: the
// connection's addresses come from the session's [pop3.ConnInfo], when the
// lookup is made for one.
func ValuesFor(ctx context.Context, user string) *Values {
	v := &Values{User: user, Service: "pop3"}
	if c := pop3.ConnInfoFromContext(ctx); c != nil {
		v.Local = addrPort(c.LocalAddr)
		v.Remote = addrPort(c.RemoteAddr)
		v.Secured = c.TLS != nil || c.Trusted
	}
	return v
}

func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort()
	case nil:
		return netip.AddrPort{}
	default:
		ap, _ := netip.ParseAddrPort(a.String())
		return ap
	}
}
