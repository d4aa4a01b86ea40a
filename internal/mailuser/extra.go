// The passwd entry's extra fields that decide who may log in and where a
// user's mail is: nologin, reason, allow_nets, user (userdb_user),
// userdb_home and userdb_mail.

package mailuser

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/gopop3/pop3"
)

// extraFields are the extra fields of a passwd entry that this package
// honours; see the package doc.
type extraFields struct {
	nologin      bool
	reason       string
	hasAllowNets bool
	allowNets    string
	hasHome      bool
	home         string
	hasMail      bool
	mail         string
	hasUser      bool
	user         string
}

// parseExtra reads the extra fields, each "key=value" or a flag "key";
// keys are matched exactly, and the last of a key counts.
func parseExtra(extra []string) extraFields {
	var f extraFields
	for _, field := range extra {
		key, value, _ := strings.Cut(field, "=")
		switch key {
		case "nologin":
			f.nologin = true
		case "reason":
			f.reason = value
		case "allow_nets":
			f.hasAllowNets, f.allowNets = true, value
		case "userdb_home":
			f.hasHome, f.home = true, value
		case "userdb_mail":
			f.hasMail, f.mail = true, value
		case "user", "userdb_user":
			f.hasUser, f.user = true, value
		}
	}
	return f
}

// userName is the name the user's mail is found by: the entry's user
// field when it has one (Dovecot's passdb and userdb field "user", which
// changes the user name: an SQL query that maps an alias to its mailbox),
// else name. A user field that could not name a mail path is an error.
func (f extraFields) userName(name string) (string, error) {
	if !f.hasUser || f.user == name {
		return name, nil
	}
	if err := CheckUsername(f.user); err != nil {
		return "", fmt.Errorf("the user database renames the user to an unusable name: %w", err)
	}
	return f.user, nil
}

// path returns the mail path of the user name (already renamed) whose
// entry's home field is home: the expansion of the store's template, or of
// the entry's userdb_mail, with the home directory of its userdb_home or
// else home. A name that cannot fill the path is an error wrapping
// errBadUsername; an unsupported userdb_mail, one wrapping
// errUnsupportedLocation.
func (a *Accounts) path(name, home string, fields extraFields) (string, error) {
	if fields.hasHome {
		h, err := expandHome(name, fields.home)
		if err != nil {
			return "", err
		}
		home = h
	}
	if !fields.hasMail {
		return a.template.Expand(name, home)
	}
	t, err := parseMailLocation(fields.mail, a.driver)
	if err != nil {
		return "", err
	}
	path, err := t.Expand(name, home)
	if err != nil {
		return "", fmt.Errorf("userdb_mail %q: %w", fields.mail, err)
	}
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("%w: userdb_mail %q is not an absolute path", errUnsupportedLocation, fields.mail)
	}
	return path, nil
}

// expandHome expands %u, %n, %d and %% in a userdb_home value, as Dovecot
// expands the variables of a passwd-file's userdb extra fields, with the
// checks of Template.Expand; %h is an error.
func expandHome(name, value string) (string, error) {
	t, err := parsePath(value)
	if err != nil {
		return "", fmt.Errorf("userdb_home: %w", err)
	}
	if t.uses['h'] {
		return "", fmt.Errorf("userdb_home %q refers to itself (%%h)", value)
	}
	home, err := t.Expand(name, "")
	if err != nil {
		return "", fmt.Errorf("userdb_home %q: %w", value, err)
	}
	return home, nil
}

// checkAllowNets returns nil when the client of c may log in under
// allow_nets=nets: a comma-separated list (spaces are separators too, as
// in Dovecot) of IP addresses, CIDR prefixes and "local". An address or
// prefix that does not parse, or has an IPv6 zone, refuses the login
// whatever the client's address. An IPv4-mapped IPv6 address, of the
// client or in nets, is compared as the IPv4 address.
func checkAllowNets(nets string, c *pop3.ConnInfo) error {
	var (
		prefixes []netip.Prefix
		local    bool
	)
	for _, n := range strings.FieldsFunc(nets, func(r rune) bool { return r == ',' || r == ' ' }) {
		if n == "local" {
			local = true
			continue
		}
		p, err := parseNet(n)
		if err != nil {
			return fmt.Errorf("allow_nets %q is malformed (%v); refusing every login", nets, err)
		}
		prefixes = append(prefixes, p)
	}
	ip, isLocal := remoteIP(c)
	if isLocal {
		if local {
			return nil
		}
		return fmt.Errorf("the connection is local (no IP address) and allow_nets %q has no \"local\"", nets)
	}
	for _, p := range prefixes {
		if p.Contains(ip) {
			return nil
		}
	}
	return fmt.Errorf("the client's address %s is not in allow_nets %q", ip, nets)
}

// parseNet reads an IP address, as a prefix of its full length, or a CIDR
// prefix, with IPv4-mapped IPv6 ones made IPv4.
func parseNet(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q has an IPv6 zone", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("%q is an IPv4-mapped prefix shorter than 96 bits", s)
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// remoteIP returns the client's IP address (IPv4-mapped ones made IPv4,
// without a zone), or local true for a connection without one: a nil c, a
// nil RemoteAddr, a *net.UnixAddr, or an address of another type whose
// String is not an IP address with or without a port. A *net.TCPAddr,
// *net.UDPAddr or *net.IPAddr without a valid IP returns the zero Addr,
// which no network contains, and local false.
func remoteIP(c *pop3.ConnInfo) (ip netip.Addr, local bool) {
	if c == nil || c.RemoteAddr == nil {
		return netip.Addr{}, true
	}
	switch a := c.RemoteAddr.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.IPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.UnixAddr:
		return netip.Addr{}, true
	default:
		s := a.String()
		if ap, err := netip.ParseAddrPort(s); err == nil {
			ip = ap.Addr()
		} else if ip, err = netip.ParseAddr(s); err != nil {
			return netip.Addr{}, true
		}
	}
	return ip.Unmap().WithZone(""), false
}
