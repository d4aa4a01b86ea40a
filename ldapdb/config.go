package ldapdb

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/gopop3/pop3/internal/dovecotconf"
)

// Config is a dovecot-ldap.conf.ext: the settings of Dovecot 2.3's LDAP
// passdb and userdb, as described at
// https://doc.dovecot.org/2.3/configuration_manual/authentication/ldap/.
// The zero values of the optional fields are Dovecot's defaults.
type Config struct {
	// Path is the file the configuration was read from, for messages.
	Path string
	// URIs are the servers, ldap:// or ldaps://, tried in turn. Dovecot's
	// hosts setting ("host[:port] ...") adds ldap:// ones.
	URIs []string
	// DN and DNPass are the account lookups bind as; empty for an
	// anonymous bind.
	DN, DNPass string
	// StartTLS is Dovecot's tls = yes: StartTLS on ldap:// URIs.
	StartTLS bool
	// TLSCACertFile is the CA bundle that server certificates are checked
	// against (the system's roots when empty).
	TLSCACertFile string
	// TLSCertFile and TLSKeyFile are a client certificate, if the server
	// asks for one.
	TLSCertFile, TLSKeyFile string
	// TLSRequireCert is never, allow, try, demand or hard: the first three
	// skip the certificate's check, as libldap does; default demand.
	TLSRequireCert string
	// AuthBind checks passwords by binding as the user instead of reading
	// userPassword. AuthBindUserDN, when set, is the user's DN template
	// (uid=%n,ou=people,dc=example,dc=org), which saves the search for it:
	// then, as in Dovecot, pass_filter and pass_attrs are not used, so
	// passdb fields such as allow_nets and nologin are not read.
	AuthBind       bool
	AuthBindUserDN string
	// Base is the search base (required); %-variables are expanded, with
	// DN escaping.
	Base string
	// Scope is base, onelevel or subtree (the default).
	Scope string
	// Deref is never (the default), searching, finding or always.
	Deref string
	// PassFilter and PassAttrs are the passdb search: default
	// (&(objectClass=posixAccount)(uid=%u)) and uid=user,userPassword=password.
	PassFilter, PassAttrs string
	// UserFilter and UserAttrs are the userdb search: default
	// (&(objectClass=posixAccount)(uid=%u)) and
	// homeDirectory=home,uidNumber=uid,gidNumber=gid.
	UserFilter, UserAttrs string
	// DefaultPassScheme is the scheme of a userPassword without a
	// {SCHEME} prefix: default CRYPT.
	DefaultPassScheme string
}

// Dovecot's defaults.
const (
	defaultFilter    = "(&(objectClass=posixAccount)(uid=%u))"
	defaultPassAttrs = "uid=user,userPassword=password"
	defaultUserAttrs = "homeDirectory=home,uidNumber=uid,gidNumber=gid"
)

// knownKeys are the settings of a dovecot-ldap.conf.ext. Those in ignored
// are accepted and have no effect here.
var knownKeys = []string{
	"hosts", "uris", "dn", "dnpass", "tls", "tls_ca_cert_file", "tls_ca_cert_dir",
	"tls_cert_file", "tls_key_file", "tls_require_cert", "tls_cipher_suite",
	"auth_bind", "auth_bind_userdn", "base", "scope", "deref",
	"pass_filter", "pass_attrs", "user_filter", "user_attrs",
	"iterate_filter", "iterate_attrs", "default_pass_scheme",
	"ldap_version", "debug_level", "blocking", "ldaprc_path",
	"sasl_bind", "sasl_mech", "sasl_realm", "sasl_authz_id",
}

// ReadConfig reads a Dovecot dovecot-ldap.conf.ext. A line that does not
// parse, an unknown key, a setting pop3d cannot honour (sasl_bind = yes,
// ldap_version = 2), no uris or hosts, no base, and a filter or attribute
// list that does not parse are errors that name the file, the line and
// the key.
func ReadConfig(path string) (*Config, error) {
	c, _, err := readConfig(path)
	return c, err
}

func readConfig(path string) (*Config, *compiled, error) {
	m, err := dovecotconf.ReadSettings("ldapdb", path, knownKeys)
	if err != nil {
		return nil, nil, err
	}
	fail := dovecotconf.Failer("ldapdb", path, m.Line)
	yes := func(key string) (bool, error) {
		switch strings.ToLower(m[key].Value) {
		case "", "no":
			return false, nil
		case "yes":
			return true, nil
		}
		return false, fail(key, "%q is neither yes nor no", m[key].Value)
	}
	c := &Config{
		Path:              path,
		DN:                m["dn"].Value,
		DNPass:            m["dnpass"].Value,
		TLSCACertFile:     m["tls_ca_cert_file"].Value,
		TLSCertFile:       m["tls_cert_file"].Value,
		TLSKeyFile:        m["tls_key_file"].Value,
		TLSRequireCert:    m["tls_require_cert"].Value,
		AuthBindUserDN:    m["auth_bind_userdn"].Value,
		Base:              m["base"].Value,
		Scope:             m["scope"].Value,
		Deref:             m["deref"].Value,
		PassFilter:        m["pass_filter"].Value,
		PassAttrs:         m["pass_attrs"].Value,
		UserFilter:        m["user_filter"].Value,
		UserAttrs:         m["user_attrs"].Value,
		DefaultPassScheme: m["default_pass_scheme"].Value,
	}
	c.URIs = strings.Fields(m["uris"].Value)
	for _, h := range strings.Fields(m["hosts"].Value) {
		c.URIs = append(c.URIs, "ldap://"+h)
	}
	if c.StartTLS, err = yes("tls"); err != nil {
		return nil, nil, err
	}
	if c.AuthBind, err = yes("auth_bind"); err != nil {
		return nil, nil, err
	}
	if sasl, err := yes("sasl_bind"); err != nil {
		return nil, nil, err
	} else if sasl {
		return nil, nil, fail("sasl_bind", "SASL binds are not supported; use dn and dnpass")
	}
	if v := m["ldap_version"].Value; v != "" && v != "3" {
		return nil, nil, fail("ldap_version", "only LDAP version 3 is supported")
	}
	if m["tls_ca_cert_dir"].Value != "" {
		return nil, nil, fail("tls_ca_cert_dir", "not supported; concatenate the certificates into tls_ca_cert_file")
	}
	comp, err := c.compile(m.Line)
	if err != nil {
		return nil, nil, err
	}
	return c, comp, nil
}

// compiled is a checked Config.
type compiled struct {
	uris          []*url.URL
	tls           *tls.Config // for ldaps:// and StartTLS
	startTLS      bool
	base          *dovecotconf.Template
	scope, deref  int
	passFilter    *dovecotconf.Template
	passAttrs     *attrMap
	userFilter    *dovecotconf.Template
	userAttrs     *attrMap
	userDN        *dovecotconf.Template // auth_bind_userdn
	defaultScheme string
	// oneSearch: the passdb and userdb searches are the same search, so
	// one request fetches the attributes of both.
	oneSearch bool
	// passSearchAttrs and userSearchAttrs are the attributes the two
	// searches ask for (with oneSearch, the first asks for both lists).
	passSearchAttrs, userSearchAttrs []string
}

func (c *Config) compile(line func(key string) int) (*compiled, error) {
	fail := dovecotconf.Failer("ldapdb", c.Path, line)
	out := &compiled{startTLS: c.StartTLS, defaultScheme: "CRYPT"}
	if len(c.URIs) == 0 {
		return nil, fail("uris", "missing; set uris (ldap://host or ldaps://host) or hosts")
	}
	for _, s := range c.URIs {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
			return nil, fail("uris", "%q is not an ldap:// or ldaps:// URI with a host (ldapi:// is not supported)", s)
		}
		out.uris = append(out.uris, u)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLSCACertFile != "" {
		pem, err := os.ReadFile(c.TLSCACertFile)
		if err != nil {
			return nil, fail("tls_ca_cert_file", "%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fail("tls_ca_cert_file", "%s holds no PEM certificate", c.TLSCACertFile)
		}
		tc.RootCAs = pool
	}
	if c.TLSCertFile != "" || c.TLSKeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, fail("tls_cert_file", "%v", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	switch strings.ToLower(c.TLSRequireCert) {
	case "", "demand", "hard":
	case "never", "allow", "try":
		tc.InsecureSkipVerify = true
	default:
		return nil, fail("tls_require_cert", "%q is not never, allow, try, demand or hard", c.TLSRequireCert)
	}
	out.tls = tc

	if strings.TrimSpace(c.Base) == "" {
		return nil, fail("base", "missing; it is where users are searched for")
	}
	var err error
	if out.base, err = dovecotconf.ParseTemplate(c.Base, false); err != nil {
		return nil, fail("base", "%v", err)
	}
	switch strings.ToLower(c.Scope) {
	case "", "subtree":
		out.scope = ldap.ScopeWholeSubtree
	case "onelevel":
		out.scope = ldap.ScopeSingleLevel
	case "base":
		out.scope = ldap.ScopeBaseObject
	default:
		return nil, fail("scope", "%q is not base, onelevel or subtree", c.Scope)
	}
	switch strings.ToLower(c.Deref) {
	case "", "never":
		out.deref = ldap.NeverDerefAliases
	case "searching":
		out.deref = ldap.DerefInSearching
	case "finding":
		out.deref = ldap.DerefFindingBaseObj
	case "always":
		out.deref = ldap.DerefAlways
	default:
		return nil, fail("deref", "%q is not never, searching, finding or always", c.Deref)
	}
	filter := func(key, value string) (*dovecotconf.Template, error) {
		if value == "" {
			value = defaultFilter
		}
		t, err := dovecotconf.ParseTemplate(value, false)
		if err != nil {
			return nil, fail(key, "%v", err)
		}
		// A filter is checked with its variables standing for a name.
		if _, err := ldap.CompileFilter(t.Expand(&dovecotconf.Values{User: "u@d"}, ldap.EscapeFilter)); err != nil {
			return nil, fail(key, "not an LDAP filter: %v", err)
		}
		return t, nil
	}
	if out.passFilter, err = filter("pass_filter", c.PassFilter); err != nil {
		return nil, err
	}
	if out.userFilter, err = filter("user_filter", c.UserFilter); err != nil {
		return nil, err
	}
	passAttrs, userAttrs := c.PassAttrs, c.UserAttrs
	if passAttrs == "" {
		passAttrs = defaultPassAttrs
	}
	if userAttrs == "" {
		userAttrs = defaultUserAttrs
	}
	if out.passAttrs, err = parseAttrs(passAttrs); err != nil {
		return nil, fail("pass_attrs", "%v", err)
	}
	if out.userAttrs, err = parseAttrs(userAttrs); err != nil {
		return nil, fail("user_attrs", "%v", err)
	}
	if c.AuthBindUserDN != "" {
		if !c.AuthBind {
			return nil, fail("auth_bind_userdn", "has no effect without auth_bind = yes")
		}
		if out.userDN, err = dovecotconf.ParseTemplate(c.AuthBindUserDN, false); err != nil {
			return nil, fail("auth_bind_userdn", "%v", err)
		}
	}
	if !c.AuthBind && !out.passAttrs.has("password") {
		return nil, fail("pass_attrs", "maps no attribute to password, and auth_bind is not set: no password could be checked")
	}
	if c.DefaultPassScheme != "" {
		if out.defaultScheme, err = dovecotconf.CheckScheme(c.DefaultPassScheme); err != nil {
			return nil, fail("default_pass_scheme", "%v", err)
		}
	}
	out.oneSearch = c.AuthBindUserDN == "" && c.UserFilter == c.PassFilter
	out.passSearchAttrs = out.passAttrs.attributes()
	out.userSearchAttrs = out.userAttrs.attributes()
	if out.oneSearch {
		out.passSearchAttrs = appendNew(out.passSearchAttrs, out.userSearchAttrs)
	}
	return out, nil
}

// serverName is the name a server's certificate is checked against.
func serverName(u *url.URL) string {
	host, _, err := net.SplitHostPort(u.Host)
	if err != nil {
		return u.Host
	}
	return host
}
