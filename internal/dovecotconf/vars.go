package dovecotconf

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Values are what the variables of a query stand for in one lookup.
type Values struct {
	// User is the user name as looked up (after auth_username_format).
	User string
	// Service is "pop3".
	Service string
	// Local and Remote are the connection's addresses, invalid when
	// unknown (a lookup for delivery, or a unix socket).
	Local, Remote netip.AddrPort
	// Secured is true on a TLS connection (or one the server trusts).
	Secured bool
	// LDAP returns an attribute of the entry found, for %{ldap:NAME};
	// nil outside LDAP's attribute templates.
	LDAP func(attr string) (string, bool)
	// Attr is the attribute's own value, for %$ in LDAP's attribute
	// templates.
	Attr string
}

// Part is a piece of a [Template]: literal Text, or a variable.
type Part struct {
	Text string
	Var  *Var
}

// Var is one %-variable with its modifiers.
type Var struct {
	// Name is the long name: "user", "username", "domain", "service",
	// "lip", "rip", "lport", "rport", "secured", "ldap:ATTR", or "$".
	Name string
	// Source is the text the variable was written as, for messages.
	Source string
	mods   Modifiers // of L, U, R and D: escaping (E) is the caller's
	def    string    // after a second ':' in %{ldap:attr:default}
}

// Template is a text with Dovecot 2.3 %-variables.
type Template struct {
	Parts []Part
}

// short are the one-letter variables, by their long names.
var short = map[byte]string{
	'u': "user", 'n': "username", 'd': "domain", 's': "service",
	'l': "lip", 'r': "rip", 'a': "lport", 'b': "rport", 'c': "secured",
	'$': "$",
}

// long are the long names this package knows, with "real_" ones being the
// same as the others here: pop3d has no proxy of its own between.
var long = map[string]bool{
	"user": true, "username": true, "domain": true, "service": true,
	"lip": true, "rip": true, "lport": true, "rport": true, "secured": true,
	"real_lip": true, "real_rip": true, "real_lport": true, "real_rport": true,
	"orig_user": true, "orig_username": true, "orig_domain": true,
}

// unsupported are variables Dovecot has that a lookup here cannot fill,
// with why.
var unsupported = map[string]string{
	"w":        "the password (%w) is not given to queries: let pop3d check the hash",
	"password": "the password (%w) is not given to queries: let pop3d check the hash",
	"h":        "the home directory (%h) is not known before the lookup",
	"home":     "the home directory (%h) is not known before the lookup",
	"p":        "the process id (%p) means nothing to pop3d", "pid": "the process id (%p) means nothing to pop3d",
	"m": "the SASL mechanism (%m) is not known to the lookup", "mech": "the SASL mechanism (%m) is not known to the lookup",
	"mechanism": "the SASL mechanism (%m) is not known to the lookup",
	"k":         "client certificates (%k) are not supported", "cert": "client certificates (%k) are not supported",
	"session":     "Dovecot's session ids are not supported",
	"master_user": "master users are not supported", "login_user": "master users are not supported",
	"domain_first": "user names with two '@' are not supported", "domain_last": "user names with two '@' are not supported",
}

// ParseTemplate reads s. ldap allows %{ldap:ATTR} and %$, which only
// LDAP's attribute templates have. A variable or modifier that Dovecot 2.3
// has but this package does not support, or one that neither knows, is an
// error that names it.
func ParseTemplate(s string, ldap bool) (*Template, error) {
	t := &Template{}
	var lit strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '%' {
			j := strings.IndexByte(s[i:], '%')
			if j < 0 {
				j = len(s) - i
			}
			lit.WriteString(s[i : i+j])
			i += j
			continue
		}
		if i+1 < len(s) && s[i+1] == '%' {
			lit.WriteByte('%')
			i += 2
			continue
		}
		v, n, err := parseVar(s[i:], ldap)
		if err != nil {
			return nil, err
		}
		if lit.Len() > 0 {
			t.Parts = append(t.Parts, Part{Text: lit.String()})
			lit.Reset()
		}
		t.Parts = append(t.Parts, Part{Var: v})
		i += n
	}
	if lit.Len() > 0 {
		t.Parts = append(t.Parts, Part{Text: lit.String()})
	}
	return t, nil
}

// parseVar reads the variable at the start of s, which begins with '%',
// and returns its length.
func parseVar(s string, ldap bool) (*Var, int, error) {
	v := &Var{}
	mods, n := ParseModifiers(s[1:])
	if mods.HasWidth() {
		return nil, 0, fmt.Errorf("%q: offsets and widths (%%N.Mx) are not supported", s[:min(1+n+1, len(s))])
	}
	i := 1 + n
	for j, c := range mods.Letters {
		switch c {
		case 'X', 'H', 'N', 'M', 'T':
			return nil, 0, fmt.Errorf("%q: the %%%c modifier is not supported", s[:2+j], c)
		case 'E':
			// Escaping is the caller's (bound parameters, LDAP escaping).
		default:
			v.mods.Letters = append(v.mods.Letters, c)
		}
	}
	if i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '-' || s[i] == '.') {
		return nil, 0, fmt.Errorf("%q: offsets and widths (%%N.Mx) are not supported", s[:min(i+4, len(s))])
	}
	if i >= len(s) {
		return nil, 0, fmt.Errorf("%q: a lone %% at the end (write %%%% for a percent sign)", s)
	}
	if s[i] == '{' {
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, 0, fmt.Errorf("%q: no closing brace", s)
		}
		name := s[i+1 : i+end]
		v.Source = s[:i+end+1]
		if attr, ok := strings.CutPrefix(name, "ldap:"); ok {
			if !ldap {
				return nil, 0, fmt.Errorf("%s: %%{ldap:...} is only for LDAP attribute templates", v.Source)
			}
			attr, def, _ := strings.Cut(attr, ":")
			if attr == "" {
				return nil, 0, fmt.Errorf("%s: no attribute name", v.Source)
			}
			v.Name, v.def = "ldap:"+attr, def
			return v, i + end + 1, nil
		}
		if why, ok := unsupported[name]; ok {
			return nil, 0, fmt.Errorf("%s: %s", v.Source, why)
		}
		if !long[name] {
			return nil, 0, fmt.Errorf("%s: unknown variable", v.Source)
		}
		v.Name = strings.TrimPrefix(name, "real_")
		return v, i + end + 1, nil
	}
	v.Source = s[:i+1]
	if why, ok := unsupported[string(s[i])]; ok {
		return nil, 0, fmt.Errorf("%s: %s", v.Source, why)
	}
	name, ok := short[s[i]]
	if !ok || (name == "$" && !ldap) {
		return nil, 0, fmt.Errorf("%s: unknown variable (write %%%% for a percent sign)", v.Source)
	}
	v.Name = name
	return v, i + 1, nil
}

// HasVars reports whether the template has a variable.
func (t *Template) HasVars() bool {
	return slices.ContainsFunc(t.Parts, func(p Part) bool { return p.Var != nil })
}

// Expand returns the template's text with each variable's value passed
// through escape (nil: as it is), before the variable's modifiers.
func (t *Template) Expand(vals *Values, escape func(string) string) string {
	var b strings.Builder
	for _, p := range t.Parts {
		if p.Var == nil {
			b.WriteString(p.Text)
			continue
		}
		b.WriteString(p.Var.expand(vals, escape))
	}
	return b.String()
}

// Expand returns the variable's value, with its modifiers applied.
func (v *Var) Expand(vals *Values) string { return v.expand(vals, nil) }

// expand is Expand with the value passed through escape (when not nil)
// before the modifiers, as Dovecot does, so that the ",dc=" that %D puts
// in a DN is not escaped.
func (v *Var) expand(vals *Values, escape func(string) string) string {
	var s string
	switch v.Name {
	case "user", "orig_user":
		s = vals.User
	case "username", "orig_username":
		s, _, _ = strings.Cut(vals.User, "@")
	case "domain", "orig_domain":
		_, s, _ = strings.Cut(vals.User, "@")
	case "service":
		s = vals.Service
	case "lip":
		s = addr(vals.Local)
	case "rip":
		s = addr(vals.Remote)
	case "lport":
		s = port(vals.Local)
	case "rport":
		s = port(vals.Remote)
	case "secured":
		if vals.Secured {
			s = "secured"
		}
	case "$":
		s = vals.Attr
	default:
		if attr, ok := strings.CutPrefix(v.Name, "ldap:"); ok {
			var found bool
			if vals.LDAP != nil {
				s, found = vals.LDAP(attr)
			}
			if !found {
				s = v.def
			}
		}
	}
	if escape != nil {
		s = escape(s)
	}
	s = v.mods.Apply(s)
	return s
}

func addr(ap netip.AddrPort) string {
	if !ap.IsValid() {
		return ""
	}
	return ap.Addr().Unmap().String()
}

func port(ap netip.AddrPort) string {
	if !ap.IsValid() {
		return ""
	}
	return strconv.Itoa(int(ap.Port()))
}

// lowerASCII is Dovecot's %L: the ASCII letters only.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
