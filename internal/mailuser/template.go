package mailuser

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// errBadUsername is why a login name cannot name a mail path: the login
// fails, and a delivery finds no such user.
var errBadUsername = errors.New("user name unusable in a path")

// Template is a parsed path template such as "/var/mail/%d/%n/Maildir" or
// "/var/mail/%u": where a store finds each user's mail.
type Template struct {
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

// ParseTemplate reads a store's path template with Dovecot's variables: %u
// the user name, %n its local part (before the @, the whole name when it
// has none), %d its domain (after the @), %h the home directory of the
// user's passwd entry, %% a percent sign; %{user}, %{username}, %{domain}
// and %{home} are the long forms. A template that names no user (%u, %n or
// %h) is an error, since every user would share one mailbox; so are a ".."
// element, an unknown variable, an unclosed %{ and a trailing %. Its errors
// have no store prefix: the store adds its own.
func ParseTemplate(s string) (*Template, error) {
	t, err := parsePath(s)
	if err != nil {
		return nil, err
	}
	if !t.uses['u'] && !t.uses['n'] && !t.uses['h'] {
		return nil, fmt.Errorf("template %q names no user (%%u, %%n or %%h): every user would share one mailbox", s)
	}
	return t, nil
}

// parsePath reads a path with the variables of ParseTemplate, without
// requiring one that names the user: a per-user location may be a fixed
// path.
func parsePath(s string) (*Template, error) {
	if hasDotDot(s) {
		return nil, fmt.Errorf("template %q has a \"..\" element", s)
	}
	t := &Template{raw: s, uses: map[byte]bool{}}
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			lit.WriteByte(s[i])
			continue
		}
		i++
		if i == len(s) {
			return nil, fmt.Errorf("template %q ends in %%", s)
		}
		v := s[i]
		if v == '{' {
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("template %q has an unclosed %%{", s)
			}
			long, ok := longVariables[s[i+1:i+end]]
			if !ok {
				return nil, fmt.Errorf("template %q: unknown variable %%{%s}", s, s[i+1:i+end])
			}
			v, i = long, i+end
		}
		switch v {
		case '%':
			lit.WriteByte('%')
			continue
		case 'u', 'n', 'd', 'h':
		default:
			return nil, fmt.Errorf("template %q: unknown variable %%%c (use %%u, %%n, %%d or %%h)", s, v)
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

// String returns the template as it was written.
func (t *Template) String() string { return t.raw }

// Expand returns the path of user (already normalised, see
// [NormalizeUsername]) whose passwd entry gives home, cleaned. A name that
// [CheckUsername] refuses, a variable the name does not provide (%d for a
// name without a domain), a home that is not an absolute path for %h, and
// an expansion that would leave [Template.Root] are errors.
func (t *Template) Expand(user, home string) (string, error) {
	if err := CheckUsername(user); err != nil {
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
	if root := t.Root(); hasDotDot(path) || (root != "" && !strings.HasPrefix(clean, root)) {
		return "", fmt.Errorf("%w: the path leaves its root", errBadUsername)
	}
	return clean, nil
}

// Root is the directory that the template's literal start names, with a
// trailing separator, which every expansion stays under: "/var/mail/" for
// "/var/mail/%u" and for "/var/mail/%d/%n/Maildir", "/var/" for
// "/var/mail-%u"; "" for a template that starts with a variable, such as
// "%h/Maildir".
func (t *Template) Root() string {
	dir := filepath.Dir(t.prefix + "x")
	switch dir {
	case ".":
		return ""
	case string(filepath.Separator):
		return dir
	}
	return dir + string(filepath.Separator)
}

// CheckUsername refuses a user name that no mail path may be built from:
// empty, too long, not UTF-8, or holding a byte that a path or the
// passwd-file format gives a meaning (a slash, a backslash, NUL and other
// controls, space, ':', '%'), more than one '@', or a leading dot, also
// before or after the '@'.
func CheckUsername(user string) error {
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
