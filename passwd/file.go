package passwd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// Entry is one user of a passwd-file, a line of the form
//
//	user:password:uid:gid:gecos:home:shell:extra_fields
//
// Every field after the password may be missing, and is then "".
type Entry struct {
	// User is the name the line is found by, matched exactly.
	User string
	// Password is the stored hash, for [Verify]. libpam-pwdfile's
	// "hash[13]" and "hash[34]" are rewritten as Dovecot reads them, to
	// "{CRYPT}hash" and "{PLAIN-MD5}hash". An empty one never matches;
	// Dovecot lets such a user in with any password when Extra has
	// "nopassword", which is the caller's to decide.
	Password string
	// UID and GID are the owner of the user's mail, numeric or a name,
	// as written.
	UID, GID string
	// Gecos is the comment field, which Dovecot ignores.
	Gecos string
	// Home is the user's home directory.
	Home string
	// Shell is kept as written; Dovecot ignores it.
	Shell string
	// Extra holds the extra fields, split at spaces as written: key=value
	// pairs such as "userdb_quota_rule=*:storage=1G" and flags such as
	// "nopassword" or "nologin". Keys that begin with "userdb_" are for
	// the user database, the others for the password database; see
	// https://doc.dovecot.org/configuration_manual/authentication/password_database_extra_fields/.
	// The old format, an empty eighth field followed by a mail location,
	// reads as one field "userdb_mail=location", as in Dovecot.
	Extra []string
	// DN is the user's distinguished name in a directory whose source
	// checks passwords by binding as the user (an [Authenticator], such
	// as LDAP with auth_bind); empty for an entry that has a stored hash.
	DN string
}

// Source looks users up by name. [*File] is one; the SQL and LDAP user
// databases of the modules github.com/gopop3/pop3/sqldb and ldapdb, read
// from Dovecot's configuration files, are others, and so can be an
// embedder's own. A store such as the maildir package takes any of them.
type Source interface {
	// Lookup returns the user's entry, or an error wrapping ErrNotFound
	// when there is no such user.
	Lookup(ctx context.Context, user string) (*Entry, error)
}

// UserSource is implemented by a [Source] that can look a user up without
// the password lookup, for delivery: Dovecot's LDA and LMTP ask only the
// userdb (sqldb's user_query, ldapdb's user_filter), so that a user whose
// password entry is unusable, or who may not log in, still gets mail. The
// maildir store's Deliver uses it when the source has it.
type UserSource interface {
	Source
	// LookupUser returns the user's userdb fields (Home, UID, GID, Extra),
	// without a password, or an error wrapping ErrNotFound or
	// ErrInvalidEntry, as Lookup does.
	LookupUser(ctx context.Context, user string) (*Entry, error)
}

// Authenticator is implemented by a [Source] whose database checks
// passwords itself, as an LDAP directory does when Dovecot's auth_bind
// binds as the user: its entries carry a DN and no stored hash. A store
// calls Authenticate, through [Cache.VerifyFunc], where it would call
// [Verify] with Entry.Password.
type Authenticator interface {
	Source
	// Authenticate checks password for entry, as returned by Lookup: nil
	// when it is right, an error wrapping ErrMismatch when it is wrong
	// (an empty password is always wrong), any other error when the
	// database could not tell.
	Authenticate(ctx context.Context, entry *Entry, password []byte) error
}

// File is a Dovecot passwd-file, read by [OpenFile]. Its format is
// described at
// https://doc.dovecot.org/configuration_manual/authentication/passwd_file/:
// one user a line, fields separated by ':', the extra fields (the eighth and
// any after it, ':' included) separated by spaces. Blank lines and lines
// beginning with '#' are ignored. As in Dovecot, the first line of a user
// wins, and user names are matched exactly (the caller lowercases them or
// strips a domain if it wants to).
//
// A line without a password field, or with an empty user name or a control
// character in the user name, is skipped and logged as a warning, with the
// file's path and the line's number but not its content, which holds a
// password hash. (Dovecot reads a line without ':' as a user without a
// password, who cannot log in anyway.)
//
// Lookup checks the file's modification time, size and identity (one stat)
// and reads it again when one of them changed, so users can be added or
// removed without a restart. When that read fails, File logs an error and
// keeps the users it had. A File is safe for concurrent use.
type File struct {
	path   string
	logger *slog.Logger

	mu        sync.RWMutex
	users     map[string]*Entry
	plaintext int         // how many of users have a cleartext password
	info      os.FileInfo // of the file the users were read from
	lastErr   string      // the last reload error logged, to log each once
}

// OpenFile reads the passwd-file at path. A file that is missing or cannot
// be read is an error (wrapping the *os.PathError, with the path). Lines
// that do not parse are logged to logger, [slog.Default] when logger is nil.
func OpenFile(path string, logger *slog.Logger) (*File, error) {
	if logger == nil {
		logger = slog.Default()
	}
	f := &File{path: path, logger: logger}
	users, info, err := f.read()
	if err != nil {
		return nil, fmt.Errorf("passwd: reading passwd-file: %w", err)
	}
	f.users, f.plaintext, f.info = users, countPlaintext(users), info
	return f, nil
}

// Path returns the file's path, as given to OpenFile.
func (f *File) Path() string { return f.path }

// Lookup returns a copy of user's entry, re-reading the file first if it
// changed. An unknown user is an error wrapping [ErrNotFound], which does
// not quote the name (a user may type a password as the name).
func (f *File) Lookup(ctx context.Context, user string) (*Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.reloadIfChanged()
	f.mu.RLock()
	e := f.users[user]
	f.mu.RUnlock()
	if e == nil {
		return nil, fmt.Errorf("%w in %s", ErrNotFound, f.path)
	}
	return e.clone(), nil
}

// CountPlaintext returns how many users have a password from which
// [Plaintext] recovers the cleartext secret ({PLAIN}, {CLEARTEXT}, ...):
// the users who can log in with APOP (RFC 1939 §7), whose digest needs
// that secret. A server that finds none need not offer APOP. Like
// Lookup, it re-reads the file first if it changed; the count is kept
// from the last read, so a call costs one stat.
func (f *File) CountPlaintext() int {
	f.reloadIfChanged()
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.plaintext
}

// countPlaintext counts the users of CountPlaintext.
func countPlaintext(users map[string]*Entry) int {
	n := 0
	for _, e := range users {
		if _, ok := Plaintext(e.Password); ok {
			n++
		}
	}
	return n
}

// reloadIfChanged reads the file again when a stat says it changed.
func (f *File) reloadIfChanged() {
	info, err := os.Stat(f.path)
	f.mu.RLock()
	current := f.info
	f.mu.RUnlock()
	if err == nil && sameFile(info, current) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil && sameFile(info, f.info) {
		return // another Lookup has just read it
	}
	var users map[string]*Entry
	if err == nil {
		users, info, err = f.read()
	}
	if err != nil {
		if msg := err.Error(); msg != f.lastErr {
			f.lastErr = msg
			f.logger.Error("passwd: cannot read the passwd-file again; keeping the users read before",
				"path", f.path, "err", err)
		}
		return
	}
	f.users, f.plaintext, f.info, f.lastErr = users, countPlaintext(users), info, ""
	f.logger.Info("passwd: the passwd-file changed; read it again", "path", f.path, "users", len(users))
}

// sameFile reports whether the file did not change between two stats.
func sameFile(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) &&
		a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// read reads and parses the whole file; info is of the file that was read.
func (f *File) read() (map[string]*Entry, os.FileInfo, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, nil, err
	}
	defer fh.Close()
	info, err := fh.Stat()
	if err != nil {
		return nil, nil, err
	}
	if info.IsDir() {
		return nil, nil, &os.PathError{Op: "read", Path: f.path, Err: errors.New("is a directory")}
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(fh); err != nil {
		return nil, nil, err
	}
	return f.parse(buf.String()), info, nil
}

// parse reads the lines of a passwd-file, logging the ones it skips.
func (f *File) parse(content string) map[string]*Entry {
	users := make(map[string]*Entry)
	firstLine := make(map[string]int)
	start := time.Now()
	lineNo := 0
	for len(content) > 0 {
		var line string
		line, content, _ = strings.Cut(content, "\n")
		lineNo++
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := parseLine(line)
		if err != nil {
			f.logger.Warn("passwd: skipping a line of the passwd-file",
				"path", f.path, "line", lineNo, "reason", err.Error())
			continue
		}
		if first, dup := firstLine[e.User]; dup {
			f.logger.Warn("passwd: skipping a user already defined in the passwd-file",
				"path", f.path, "line", lineNo, "first_line", first)
			continue
		}
		users[e.User] = e
		firstLine[e.User] = lineNo
	}
	f.logger.Debug("passwd: read the passwd-file", "path", f.path, "users", len(users),
		"duration", time.Since(start))
	return users
}

// parseLine parses one line of a passwd-file (not blank, not a comment) as
// Dovecot's db-passwd-file.c does. Its errors say what is wrong without
// quoting the line.
func parseLine(line string) (*Entry, error) {
	fields := strings.Split(line, ":")
	if len(fields) < 2 {
		return nil, errors.New("no ':' after the user name")
	}
	e := &Entry{User: fields[0], Password: pamPassword(fields[1])}
	if e.User == "" {
		return nil, errors.New("empty user name")
	}
	if strings.ContainsFunc(e.User, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return nil, errors.New("control character in the user name")
	}
	rest := fields[2:]
	for _, p := range []*string{&e.UID, &e.GID, &e.Gecos, &e.Home, &e.Shell} {
		if len(rest) == 0 {
			return e, nil
		}
		*p, rest = rest[0], rest[1:]
	}
	if len(rest) == 0 {
		return e, nil
	}
	var extra string
	if rest[0] == "" {
		// The old format: an empty field, then the mail location.
		if len(rest) > 1 && rest[1] != "" {
			extra = "userdb_mail=" + strings.Join(rest[1:], ":")
		}
	} else {
		extra = strings.Join(rest, ":")
	}
	for _, field := range strings.Split(extra, " ") {
		if field != "" {
			e.Extra = append(e.Extra, field)
		}
	}
	return e, nil
}

// pamPassword rewrites libpam-pwdfile's "hash[NN]" as Dovecot does: [34] is
// PLAIN-MD5, [56] DIGEST-MD5 (which this package cannot verify), any other
// number CRYPT.
func pamPassword(p string) string {
	n := len(p)
	if n <= 4 || p[0] == '{' || p[0] == '$' || p[n-1] != ']' || p[n-4] != '[' {
		return p
	}
	switch p[n-3 : n-1] {
	case "34":
		return "{PLAIN-MD5}" + p[:n-4]
	case "56":
		return "{DIGEST-MD5}" + p[:n-4]
	}
	return "{CRYPT}" + p[:n-4]
}
