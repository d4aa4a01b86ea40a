// Package dovecotconf reads the files Dovecot keeps its SQL and LDAP user
// databases in (dovecot-sql.conf.ext, dovecot-ldap.conf.ext) and expands
// the %-variables of their queries and filters, for the sqldb and ldapdb
// modules and pop3admin.
package dovecotconf

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Setting is one "key = value" line of a file.
type Setting struct {
	Key, Value string
	// Line is the number of the line the setting starts on.
	Line int
}

// File is a parsed configuration file.
type File struct {
	// Path is the file's path, for messages.
	Path string
	// Settings in the order of the file; a key given twice is there twice.
	Settings []Setting
}

// Error is a problem with one line (or, with Line 0, the whole file).
type Error struct {
	Path string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		fmt.Fprintf(&b, "%s: ", e.Key)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ReadFile reads the file at path. A file that cannot be read is an error
// naming it.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse reads a file's content as Dovecot's settings parser reads a file
// without sections: "key = value" lines; blank lines and lines beginning
// with '#' are skipped; a '#' outside quotes ends the line; a line ending
// in a backslash continues on the next, whose leading white space is
// dropped; a value in double or single quotes has them removed, with its
// backslash escapes. Sections ("name {") are an error: the files these are
// have none.
func Parse(path string, data []byte) (*File, error) {
	f := &File{Path: path}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	var (
		pending   strings.Builder
		startLine int
		lineNo    int
	)
	for sc.Scan() {
		lineNo++
		line := strings.TrimLeft(sc.Text(), " \t\r")
		line = strings.TrimRight(line, " \t\r")
		if pending.Len() == 0 {
			if line == "" || line[0] == '#' {
				continue
			}
			startLine = lineNo
		}
		if strings.HasSuffix(line, "\\") {
			pending.WriteString(line[:len(line)-1])
			continue
		}
		pending.WriteString(line)
		full := pending.String()
		pending.Reset()
		s, err := parseLine(full)
		if err != nil {
			return nil, &Error{Path: path, Line: startLine, Msg: err.Error()}
		}
		s.Line = startLine
		f.Settings = append(f.Settings, s)
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{Path: path, Line: lineNo + 1, Msg: err.Error()}
	}
	if pending.Len() > 0 {
		return nil, &Error{Path: path, Line: startLine, Msg: "the last line ends in a backslash"}
	}
	return f, nil
}

// parseLine reads "key = value", dropping a comment.
func parseLine(line string) (Setting, error) {
	line = stripComment(line)
	key, value, ok := strings.Cut(line, "=")
	key = strings.TrimSpace(key)
	if !ok {
		if strings.HasSuffix(key, "{") || key == "}" {
			return Setting{}, fmt.Errorf("sections are not allowed here")
		}
		return Setting{}, fmt.Errorf("expected \"key = value\"")
	}
	if key == "" || strings.ContainsAny(key, " \t") {
		return Setting{}, fmt.Errorf("malformed key %q", key)
	}
	value = strings.TrimSpace(value)
	if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
		value = unescape(value[1 : len(value)-1])
	}
	return Setting{Key: key, Value: value}, nil
}

// stripComment cuts line at the first '#' outside quotes, as Dovecot does.
func stripComment(line string) string {
	for i := 0; i < len(line); i++ {
		switch c := line[i]; c {
		case '\'', '"':
			for i++; i < len(line) && line[i] != c; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
			}
			if i >= len(line) {
				return line
			}
		case '#':
			return strings.TrimRight(line[:i], " \t")
		}
	}
	return line
}

// unescape removes the backslashes of a quoted value.
func unescape(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Settings are a file's settings by key.
type Settings map[string]Setting

// Line returns the line key is set on, or 0 when it is not set.
func (s Settings) Line(key string) int { return s[key].Line }

// Map returns the file's settings by key, the last of a key winning
// as in Dovecot, and checks them against known: a key that is not in it
// is an error naming the file, the line and the key.
func (f *File) Map(known []string) (Settings, error) {
	m := make(Settings, len(f.Settings))
	for _, s := range f.Settings {
		if !slices.Contains(known, s.Key) {
			return nil, &Error{Path: f.Path, Line: s.Line, Key: s.Key,
				Msg: fmt.Sprintf("unknown setting (known: %s)", strings.Join(slices.Sorted(slices.Values(known)), ", "))}
		}
		m[s.Key] = s
	}
	return m, nil
}

// ReadSettings reads the file at path and checks its keys against known,
// as ReadFile and Map do, with pkg before every error.
func ReadSettings(pkg, path string, known []string) (Settings, error) {
	f, err := ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkg, err)
	}
	m, err := f.Map(known)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkg, err)
	}
	return m, nil
}
