package dovecotconf

import (
	"fmt"
	"strings"

	"github.com/gopop3/pop3/passwd"
)

// Failer returns the function a package's config check reports a key's
// problem with: an *Error naming the file (or "pkg config" for a
// configuration built in code), the key's line when line is not nil, and
// prefixed with pkg.
func Failer(pkg, path string, line func(key string) int) func(key, format string, args ...any) error {
	if path == "" {
		path = pkg + " config"
	}
	return func(key, format string, args ...any) error {
		e := &Error{Path: path, Key: key, Msg: fmt.Sprintf(format, args...)}
		if line != nil {
			e.Line = line(key)
		}
		return fmt.Errorf("%s: %w", pkg, e)
	}
}

// CheckScheme returns the upper-cased name of a default_pass_scheme, or an
// error when the passwd package does not know it.
func CheckScheme(name string) (string, error) {
	scheme := strings.ToUpper(name)
	err := passwd.CheckHash("{" + scheme + "}x")
	if err != nil && strings.Contains(err.Error(), passwd.ErrUnknownScheme.Error()) {
		return "", fmt.Errorf("%q is not a scheme pop3d knows (%s)", name, strings.Join(passwd.Schemes(), ", "))
	}
	return scheme, nil
}

// WithScheme puts defaultScheme in front of a stored password that has no
// {SCHEME}, as Dovecot does; noscheme (a password_noscheme field) never
// reads one.
func WithScheme(p, defaultScheme string, noscheme bool) string {
	if p == "" {
		return ""
	}
	if !noscheme && p[0] == '{' && strings.Contains(p, "}") {
		return p
	}
	return "{" + defaultScheme + "}" + p
}

// AddField puts one field of a lookup into e. A userdb field (of a user
// query, or a passdb field named userdb_NAME, given here as NAME) sets
// Home, UID or GID, or becomes an extra field "userdb_mail=..." or
// "userdb_NAME=..."; a passdb field becomes an extra field "name=value"
// (nologin, allow_nets, reason ...).
func AddField(e *passwd.Entry, name, value string, userdb bool) {
	if !userdb {
		e.Extra = append(e.Extra, name+"="+value)
		return
	}
	switch name {
	case "home":
		e.Home = value
	case "uid":
		e.UID = value
	case "gid":
		e.GID = value
	default:
		e.Extra = append(e.Extra, "userdb_"+name+"="+value)
	}
}
