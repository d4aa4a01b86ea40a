package maildir

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// errBadUsername is why a login name cannot name a Maildir: the login fails.
var errBadUsername = errors.New("maildir: user name unusable in a path")

// template is a parsed path template such as "/var/mail/%d/%n/Maildir".
type template struct {
	raw    string
	parts  []templatePart
	prefix string // the literal start, which every expansion keeps
	uses   map[byte]bool
}

// templatePart is a literal (variable 0) or one variable: 'u', 'n', 'd' or
// 'h'.
type templatePart struct {
	literal  string
	variable byte
}

// longVariables are Dovecot's long names of the variables (%{user}, ...).
var longVariables = map[string]byte{"user": 'u', "username": 'n', "domain": 'd', "home": 'h'}

// parseTemplate reads the Backend's template with Dovecot's variables: %u
// the user name, %n its local part, %d its domain, %h the home directory
// of the user's passwd entry, %% a percent sign. A template that names no
// user (%u, %n or %h) is an error, since every user would share one
// Maildir; see parsePath for the other rules.
func parseTemplate(s string) (*template, error) {
	t, err := parsePath(s)
	if err != nil {
		return nil, err
	}
	if !t.uses['u'] && !t.uses['n'] && !t.uses['h'] {
		return nil, fmt.Errorf("maildir: template %q names no user (%%u, %%n or %%h): every user would share one Maildir", s)
	}
	return t, nil
}

// parsePath reads a path with the variables of parseTemplate, without
// requiring one that names the user: a per-user location may be a fixed
// path. A ".." element, an unknown variable, an unclosed %{ and a trailing
// % are errors.
func parsePath(s string) (*template, error) {
	if hasDotDot(s) {
		return nil, fmt.Errorf("maildir: template %q has a \"..\" element", s)
	}
	t := &template{raw: s, uses: map[byte]bool{}}
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			lit.WriteByte(s[i])
			continue
		}
		i++
		if i == len(s) {
			return nil, fmt.Errorf("maildir: template %q ends in %%", s)
		}
		v := s[i]
		if v == '{' {
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("maildir: template %q has an unclosed %%{", s)
			}
			long, ok := longVariables[s[i+1:i+end]]
			if !ok {
				return nil, fmt.Errorf("maildir: template %q: unknown variable %%{%s}", s, s[i+1:i+end])
			}
			v, i = long, i+end
		}
		switch v {
		case '%':
			lit.WriteByte('%')
			continue
		case 'u', 'n', 'd', 'h':
		default:
			return nil, fmt.Errorf("maildir: template %q: unknown variable %%%c (use %%u, %%n, %%d or %%h)", s, v)
		}
		if len(t.parts) == 0 {
			t.prefix = lit.String()
		}
		t.parts = append(t.parts, templatePart{literal: lit.String()}, templatePart{variable: v})
		lit.Reset()
		t.uses[v] = true
	}
	t.parts = append(t.parts, templatePart{literal: lit.String()})
	if len(t.parts) == 1 {
		t.prefix = s
	}
	return t, nil
}

// expand returns the Maildir of user (already normalised) whose passwd
// entry gives home. A name that could make the path leave the template's
// place, or a variable the name does not provide, is errBadUsername.
func (t *template) expand(user, home string) (string, error) {
	if err := checkUsername(user); err != nil {
		return "", err
	}
	local, domain, _ := strings.Cut(user, "@")
	var b strings.Builder
	for _, p := range t.parts {
		var v string
		switch p.variable {
		case 0:
			b.WriteString(p.literal)
			continue
		case 'u':
			v = user
		case 'n':
			v = local
		case 'd':
			v = domain
		case 'h':
			if home == "" || !filepath.IsAbs(home) {
				return "", fmt.Errorf("%w: the template uses %%h and the user's home %q is not an absolute path", errBadUsername, home)
			}
			b.WriteString(filepath.Clean(home))
			continue
		}
		if err := checkPathElement(v); err != nil {
			return "", fmt.Errorf("%w: %%%c would be %q: %v", errBadUsername, p.variable, v, err)
		}
		b.WriteString(v)
	}
	path := b.String()
	clean := filepath.Clean(path)
	if root := t.root(); hasDotDot(path) || (root != "" && !strings.HasPrefix(clean, root)) {
		return "", fmt.Errorf("%w: the path leaves its root", errBadUsername)
	}
	return clean, nil
}

// root is the directory that the template's literal start names, which
// every expansion must stay under, or "" for none.
func (t *template) root() string {
	dir := filepath.Dir(t.prefix + "x")
	switch dir {
	case ".":
		return ""
	case string(filepath.Separator):
		return dir
	}
	return dir + string(filepath.Separator)
}

// checkUsername refuses a login name that no Maildir path may be built
// from: empty, too long, not UTF-8, or holding a byte that a path or the
// passwd-file format gives a meaning (a slash, a backslash, NUL and other
// controls, space, ':', '%'), more than one '@', or a leading dot, also
// before or after the '@'.
func checkUsername(user string) error {
	switch {
	case user == "":
		return fmt.Errorf("%w: empty", errBadUsername)
	case len(user) > 255:
		return fmt.Errorf("%w: longer than 255 octets", errBadUsername)
	case !utf8.ValidString(user):
		return fmt.Errorf("%w: not UTF-8", errBadUsername)
	case strings.Count(user, "@") > 1:
		return fmt.Errorf("%w: more than one @", errBadUsername)
	case user[0] == '.':
		return fmt.Errorf("%w: starts with a dot", errBadUsername)
	}
	for i := 0; i < len(user); i++ {
		if c := user[i]; c <= ' ' || c == 0x7f || strings.IndexByte(`/\:%`, c) >= 0 {
			return fmt.Errorf("%w: holds the octet %#02x", errBadUsername, c)
		}
	}
	if local, domain, ok := strings.Cut(user, "@"); ok {
		if err := checkPathElement(local); err != nil {
			return fmt.Errorf("%w: the part before @ %v", errBadUsername, err)
		}
		if err := checkPathElement(domain); err != nil {
			return fmt.Errorf("%w: the domain %v", errBadUsername, err)
		}
	}
	return nil
}

// checkPathElement refuses what would not stay one ordinary path element.
func checkPathElement(v string) error {
	switch {
	case v == "":
		return errors.New("empty")
	case v[0] == '.':
		return errors.New("starts with a dot")
	case strings.ContainsAny(v, "/\\\x00"):
		return errors.New("holds a path separator or NUL")
	}
	return nil
}

// hasDotDot reports whether path has a ".." element.
func hasDotDot(path string) bool {
	for _, e := range strings.Split(filepath.ToSlash(path), "/") {
		if e == ".." {
			return true
		}
	}
	return false
}

// errUnsupportedLocation is a per-user mail location (the userdb field
// mail) that this package cannot serve: the login fails.
var errUnsupportedLocation = errors.New("maildir: mail location not supported")

// ignoredLocationKeys are the keys of a mail location that do not move the
// INBOX's files or its dovecot-uidlist, and so do not matter to this
// package: the index files, which it does not use, and settings of the
// other mailboxes. LAYOUT is ignored only as "Maildir++", the default.
var ignoredLocationKeys = map[string]bool{
	"INDEX": true, "INDEXPVT": true, "INDEXSHARED": true, "ITERINDEX": true, "LISTINDEX": true,
	"UTF-8": true, "BROKENCHAR": true, "NO-NOSELECT": true, "KEEP-NOSELECT": true, "SUBSCRIPTIONS": true,
}

// parseMailLocation reads a per-user mail location, in Dovecot's syntax
// "maildir:PATH[:KEY=VALUE...]", where "::" is a literal colon in PATH or a
// value. The driver is matched in any letter case; any other driver than
// maildir, or a location without one (Dovecot's autodetection), is
// errUnsupportedLocation. PATH "~" or "~/..." is the home directory (%h);
// PATH takes the variables of parseTemplate but need not name the user, as
// parsePath reads it. The keys in ignoredLocationKeys and LAYOUT=Maildir++
// are ignored; any other key (INBOX, CONTROL, VOLATILEDIR, another LAYOUT,
// DIRNAME, ...) is errUnsupportedLocation, since it could move the files
// that Dovecot reads for POP3 away from where this package reads them.
func parseMailLocation(loc string) (*template, error) {
	driver, rest, ok := strings.Cut(loc, ":")
	if !ok || strings.ContainsRune(driver, '/') {
		return nil, fmt.Errorf("%w: %q names no driver (as in \"maildir:~/Maildir\"), and autodetection is not supported", errUnsupportedLocation, loc)
	}
	if !strings.EqualFold(driver, "maildir") {
		return nil, fmt.Errorf("%w: %q uses the driver %q; only maildir is supported", errUnsupportedLocation, loc, driver)
	}
	args := splitLocation(rest)
	path := args[0]
	for _, arg := range args[1:] {
		key, value, _ := strings.Cut(arg, "=")
		if ignoredLocationKeys[key] || key == "LAYOUT" && strings.EqualFold(value, "Maildir++") {
			continue
		}
		return nil, fmt.Errorf("%w: %q has the option %q, which this package does not support", errUnsupportedLocation, loc, arg)
	}
	switch {
	case path == "":
		return nil, fmt.Errorf("%w: %q has no path", errUnsupportedLocation, loc)
	case path == "~" || strings.HasPrefix(path, "~/"):
		path = "%h" + path[1:]
	}
	t, err := parsePath(path)
	if err != nil {
		return nil, fmt.Errorf("maildir: mail location %q: %w", loc, err)
	}
	return t, nil
}

// splitLocation splits the part of a mail location after the driver at
// its colons, reading "::" as a colon that belongs to the argument, and
// ignoring a trailing colon, as Dovecot's mailbox_list_settings_parse does.
// It returns at least one argument.
func splitLocation(s string) []string {
	fields := strings.Split(s, ":")
	var args []string
	for i := 0; i < len(fields); {
		arg := fields[i]
		i++
		for i < len(fields) && fields[i] == "" {
			i++
			if i == len(fields) {
				break // a trailing ":"
			}
			arg += ":" + fields[i]
			i++
		}
		args = append(args, arg)
	}
	return args
}
