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

// parseTemplate reads a template with Dovecot's variables: %u the user
// name, %n its local part, %d its domain, %h the home directory of the
// user's passwd entry, %% a percent sign.
func parseTemplate(s string) (*template, error) {
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
	if !t.uses['u'] && !t.uses['n'] && !t.uses['h'] {
		return nil, fmt.Errorf("maildir: template %q names no user (%%u, %%n or %%h): every user would share one Maildir", s)
	}
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
