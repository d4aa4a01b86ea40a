package sqldb

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gopop3/pop3/internal/dovecotconf"
)

// query is a Dovecot query compiled for one driver: its %-variables turned
// into bound parameters. Dovecot pastes the escaped values into the SQL
// text; here the text is fixed when the configuration is read and a user
// name only ever travels as a parameter, so no name can change what runs.
type query struct {
	// text is the SQL with placeholders.
	text string
	// params are the templates whose expansions are the parameters, in
	// the placeholders' order.
	params []*dovecotconf.Template
}

// dialect says how a driver's SQL quotes and numbers its parameters.
type dialect struct {
	// doubleQuotedStrings is MySQL's "..." string literal (without
	// ANSI_QUOTES); elsewhere "..." is an identifier.
	doubleQuotedStrings bool
	// backslashEscapes is MySQL's \' inside a literal.
	backslashEscapes bool
	// hashComments is MySQL's # comment.
	hashComments bool
	// bracketIdentifiers is SQLite's [name].
	bracketIdentifiers bool
	// dollarQuotes is PostgreSQL's $$...$$ and $tag$...$tag$.
	dollarQuotes bool
	// dashCommentNeedsSpace is MySQL's "-- " comment, which needs a
	// space (or control character) after the dashes.
	dashCommentNeedsSpace bool
	// ownPlaceholder reports whether src[i:] starts with a placeholder
	// of the driver's own.
	ownPlaceholder func(src string, i int) bool
	// placeholder returns the n-th (from 1) parameter's placeholder.
	placeholder func(n int) string
}

var dialects = map[string]dialect{
	"pgsql": {
		dollarQuotes: true,
		placeholder:  func(n int) string { return "$" + strconv.Itoa(n) },
		ownPlaceholder: func(src string, i int) bool {
			return src[i] == '$' && i+1 < len(src) && '0' <= src[i+1] && src[i+1] <= '9'
		},
	},
	"mysql": {
		doubleQuotedStrings: true, backslashEscapes: true, hashComments: true, dashCommentNeedsSpace: true,
		placeholder:    func(int) string { return "?" },
		ownPlaceholder: func(src string, i int) bool { return src[i] == '?' },
	},
	"sqlite": {
		bracketIdentifiers: true,
		placeholder:        func(n int) string { return "?" + strconv.Itoa(n) },
		ownPlaceholder: func(src string, i int) bool {
			return src[i] == '?' || (src[i] == '$' || src[i] == ':' || src[i] == '@') &&
				i+1 < len(src) && (isLetter(src[i+1]) || '0' <= src[i+1] && src[i+1] <= '9')
		},
	},
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }

// isWordByte reports whether c can end a word (an identifier, a keyword,
// a literal's prefix such as E or _utf8mb4).
func isWordByte(c byte) bool { return isLetter(c) || '0' <= c && c <= '9' || c >= 0x80 }

func isSpace(c byte) bool { return c <= ' ' }

// dollarTag returns the PostgreSQL dollar-quote tag ($$ or $name$) that s
// starts with, or "".
func dollarTag(s string) string {
	if len(s) < 2 || s[0] != '$' {
		return ""
	}
	for j := 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '$':
			return s[:j+1]
		case isLetter(c) || (j > 1 && '0' <= c && c <= '9'):
		default:
			return ""
		}
	}
	return ""
}

// compile turns a query with %-variables into SQL with parameters:
//
//   - a string literal that holds a variable ('%u', '%n@%d') becomes one
//     parameter, the literal's text with its variables expanded;
//   - a variable outside a literal (id = %u) becomes a parameter too;
//   - a variable inside a quoted identifier or a comment is an error, as
//     it could not be a parameter.
//
// Literals without variables, and everything else, are kept as written.
func compile(src string, d dialect) (*query, error) {
	q := &query{}
	var out strings.Builder
	addParam := func(t *dovecotconf.Template) {
		q.params = append(q.params, t)
		out.WriteString(d.placeholder(len(q.params)))
	}
	// plain is text outside literals: its variables become parameters.
	plain := func(s string) error {
		if !strings.Contains(s, "%") {
			out.WriteString(s)
			return nil
		}
		t, err := dovecotconf.ParseTemplate(s, false)
		if err != nil {
			return err
		}
		for _, p := range t.Parts {
			if p.Var == nil {
				out.WriteString(p.Text)
				continue
			}
			addParam(&dovecotconf.Template{Parts: []dovecotconf.Part{p}})
		}
		return nil
	}
	start := 0 // of the plain text not yet written
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\'' || (c == '"' && d.doubleQuotedStrings):
			end, content, err := readLiteral(src, i, d)
			if err != nil {
				return nil, err
			}
			if i > 0 && isWordByte(src[i-1]) && strings.Contains(content, "%") {
				// E'...', N'...', _utf8mb4'...': the prefix would be
				// left before a placeholder.
				return nil, fmt.Errorf("a %%-variable in a prefixed string literal (E'...', N'...', _charset'...') at byte %d cannot be a bound parameter; write a plain '...'", i)
			}
			if err := plain(src[start:i]); err != nil {
				return nil, err
			}
			if strings.Contains(content, "%") {
				t, err := dovecotconf.ParseTemplate(content, false)
				if err != nil {
					return nil, err
				}
				if t.HasVars() {
					addParam(t)
				} else {
					// Only %%: the literal as written, with them halved,
					// so that its own escapes (MySQL's \_) stay.
					out.WriteString(strings.ReplaceAll(src[i:end], "%%", "%"))
				}
			} else {
				out.WriteString(src[i:end])
			}
			i, start = end, end
		case c == '"' || c == '`' || (c == '[' && d.bracketIdentifiers):
			closer := c
			if c == '[' {
				closer = ']'
			}
			end := strings.IndexByte(src[i+1:], closer)
			if end < 0 {
				return nil, fmt.Errorf("an identifier opened with %c at byte %d is not closed", c, i)
			}
			end += i + 2
			if strings.Contains(src[i:end], "%") {
				return nil, fmt.Errorf("a %%-variable in the quoted identifier %s cannot be a bound parameter", src[i:end])
			}
			i = end
		case c == '$' && d.dollarQuotes && dollarTag(src[i:]) != "":
			tag := dollarTag(src[i:])
			end := strings.Index(src[i+len(tag):], tag)
			if end < 0 {
				return nil, fmt.Errorf("a string opened with %s at byte %d is not closed", tag, i)
			}
			end += i + 2*len(tag)
			if strings.Contains(src[i:end], "%") {
				return nil, fmt.Errorf("a %%-variable in the dollar-quoted string at byte %d cannot be a bound parameter; write a plain '...'", i)
			}
			i = end
		case c == '-' && strings.HasPrefix(src[i:], "--") && (!d.dashCommentNeedsSpace || len(src) == i+2 || isSpace(src[i+2])),
			c == '#' && d.hashComments:
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				end = len(src) - i
			}
			if strings.Contains(src[i:i+end], "%") {
				return nil, fmt.Errorf("a %%-variable in a comment cannot be a bound parameter: %q", src[i:i+end])
			}
			i += end
		case c == '/' && strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("a comment opened at byte %d is not closed", i)
			}
			end += i + 4
			if strings.Contains(src[i:end], "%") {
				return nil, fmt.Errorf("a %%-variable in a comment cannot be a bound parameter: %q", src[i:end])
			}
			i = end
		case d.ownPlaceholder(src, i):
			// A placeholder of the query's own would take a parameter
			// this package does not pass.
			return nil, fmt.Errorf("the query has a placeholder of its own (%q at byte %d); write Dovecot's %%-variables instead", c, i)
		default:
			i++
		}
	}
	if err := plain(src[start:]); err != nil {
		return nil, err
	}
	q.text = out.String()
	return q, nil
}

// readLiteral reads the string literal that starts at src[i], returning
// the index after its closing quote and its content with the quoting
// undone.
func readLiteral(src string, i int, d dialect) (end int, content string, err error) {
	quote := src[i]
	var b strings.Builder
	for j := i + 1; j < len(src); j++ {
		c := src[j]
		switch {
		case c == '\\' && d.backslashEscapes && j+1 < len(src):
			j++
			b.WriteByte(unescapeMySQL(src[j]))
		case c == quote && j+1 < len(src) && src[j+1] == quote:
			j++
			b.WriteByte(quote)
		case c == quote:
			return j + 1, b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return 0, "", fmt.Errorf("a string literal opened at byte %d is not closed", i)
}

// unescapeMySQL is the character a MySQL backslash escape stands for.
func unescapeMySQL(c byte) byte {
	switch c {
	case '0':
		return 0
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'Z':
		return 26
	}
	return c
}

// args expands the query's parameters for one lookup.
func (q *query) args(vals *dovecotconf.Values) []any {
	args := make([]any, len(q.params))
	for i, t := range q.params {
		args[i] = t.Expand(vals, nil)
	}
	return args
}
