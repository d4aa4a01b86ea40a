package passwd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The files [OpenSystem] reads when given "".
const (
	DefaultPasswdPath = "/etc/passwd"
	DefaultShadowPath = "/etc/shadow"
)

// DefaultFirstValidUID is the [System.FirstValidUID] that [OpenSystem]
// sets: the first uid of a person's account on Debian (FIRST_UID in
// /etc/adduser.conf, UID_MIN in /etc/login.defs) and on Red Hat systems
// since RHEL 7. Dovecot's own default, first_valid_uid = 500, is Red Hat's
// older UID_MIN; on Debian, uids 100 to 999 are system accounts that
// adduser --system hands out (Debian Policy §9.2.2), which must not log in.
const DefaultFirstValidUID = 1000

// System is the system's accounts, read by [OpenSystem] from passwd(5) and
// shadow(5) as the C library and pam_unix read them: the users a classic
// Unix mail host delivers to (Postfix's local(8), procmail) and lets read
// their mail, as Dovecot's passdb shadow and userdb passwd do.
//
// [System.Lookup] returns an [Entry] for a login: User, Password (the
// hash, a crypt(3) string that [Verify] reads as CRYPT: yescrypt "$y$",
// SHA512-crypt "$6$", SHA256-crypt "$5$", MD5-crypt "$1$", bcrypt), UID
// and GID (decimal), Gecos, Home and Shell. The password is the shadow
// file's when the passwd file's password field is "x", as pam_unix reads
// it; a passwd file's field that is itself a hash is used as it is. The
// shell is not checked: a mail-only user's is often /usr/sbin/nologin.
//
// Lookup refuses an account that cannot log in with an error wrapping
// [ErrInvalidEntry] that says why, so that a store refuses the login as
// for a wrong password (with its decoy check) and logs the reason:
//   - a password field that is empty, "*" or begins with '*' (no password),
//     or begins with '!' (locked by passwd -l or usermod -L, "!!" of an
//     account never given one), or "x" in the shadow file;
//   - a passwd file's "x" without a line in the shadow file;
//   - an account expired (shadow field 8, in days since 1970-01-01: from
//     that day on, as pam_unix and chage -E read it; 0 is expired too, as
//     for pam_unix, which shadow(5) leaves ambiguous);
//   - a password expired (field 3, the last change, plus field 5, the
//     maximum age) whose inactivity period (field 7) is over: pam_unix's
//     PAM_AUTHTOK_EXPIRED;
//   - a uid outside [System.FirstValidUID] and [System.LastValidUID];
//   - a line of either file that does not parse, for the user it names.
//
// A password that must be changed (field 3 is 0, or the password is past
// its maximum age but within its inactivity period, or has none) still
// logs in, although pam_unix asks for a new one (PAM_NEW_AUTHTOK_REQD)
// and Dovecot's PAM passdb therefore refuses it: shadow(5) keeps the
// password valid until then, and POP3 has no way to change it, so refusing
// would lock a mail-only user out for good. (Dovecot's shadow passdb looks
// at none of the aging fields.) Fields 4 and 6, the minimum age and the
// warning period, are about changing a password, not using it.
//
// The aging fields apply whenever the user has a shadow line, also to a
// hash kept in the passwd file, which pam_unix would not check them for.
//
// [System.LookupUser], for delivery, returns the same accounts without a
// password and without the password and expiry checks: mail is still
// delivered to a locked account, as Postfix's local(8) does. It still
// refuses a uid out of range, as Dovecot's mail processes do.
//
// As the C library does, the first line of a name wins; blank lines,
// lines beginning with '#' and NIS lines ("+" or "-" names) are ignored.
// Names are matched exactly. The users are read at OpenSystem and read
// again when a Lookup sees, by a stat of each file (its identity, size and
// modification time), that one changed, as [File] does: useradd, passwd,
// chage and vipw replace the files by renaming. When that read fails,
// System logs an error to Logger and keeps the users it had. A System is
// safe for concurrent use, once its exported fields are set.
type System struct {
	// FirstValidUID is the lowest uid that may log in or receive mail,
	// as Dovecot's first_valid_uid: root and the system accounts are
	// below it. OpenSystem sets it to [DefaultFirstValidUID]; 0 allows
	// every uid.
	FirstValidUID uint32
	// LastValidUID is the highest uid that may, as Dovecot's
	// last_valid_uid; 0, OpenSystem's, is no limit.
	LastValidUID uint32
	// Logger receives the reads of a changed file, and the errors of a
	// read that failed; nil is [slog.Default].
	Logger *slog.Logger

	now func() time.Time // time.Now, or a test's clock

	mu     sync.RWMutex
	passwd systemFile[*passwdLine]
	shadow systemFile[*shadowLine]
	// decoy is DecoyHash's choice, for the files as last read, when
	// decoyValid.
	decoy      string
	decoyValid bool
}

// passwdLine is a parsed line of passwd(5):
// name:password:uid:gid:gecos:home:shell.
type passwdLine struct {
	name, password, uid, gid, gecos, home, shell string
	uidNum                                       uint32
}

// shadowLine is the part of a parsed line of shadow(5),
// name:password:lastchg:min:max:warn:inactive:expire:reserved, that says
// whether the user may log in. The days are counted from 1970-01-01; -1
// stands for an empty field, as in the C library's struct spwd.
type shadowLine struct {
	password                             string
	lastChange, maxAge, inactive, expire int64
}

// badLine is a line that does not parse: its number, and why.
type badLine struct {
	line int
	err  error
}

// systemFile is one of the two files as last read.
type systemFile[T any] struct {
	path  string
	kind  string // "passwd" or "shadow", for messages
	parse func([]string) (T, error)
	users map[string]T
	// bad says, for a name that has no line that parses, why its first
	// line did not, by the line's number and not its content.
	bad     map[string]badLine
	info    os.FileInfo // of the file the users were read from
	lastErr string      // the last read error logged, to log each once
}

// OpenSystem reads the system's accounts: passwdPath is passwd(5),
// [DefaultPasswdPath] when "", and shadowPath shadow(5),
// [DefaultShadowPath] when "". See [System] for how they are read and
// when Lookup refuses an account; FirstValidUID is [DefaultFirstValidUID].
//
// Both files must be readable: a shadow file that cannot be read is an
// error, not a system with no passwords. On Debian /etc/shadow is
// root:shadow 0640, so a server that does not run as root needs the
// supplementary group shadow (SupplementaryGroups=shadow in its systemd
// unit); the error says so.
func OpenSystem(passwdPath, shadowPath string) (*System, error) {
	if passwdPath == "" {
		passwdPath = DefaultPasswdPath
	}
	if shadowPath == "" {
		shadowPath = DefaultShadowPath
	}
	s := &System{
		FirstValidUID: DefaultFirstValidUID,
		now:           time.Now,
		passwd:        systemFile[*passwdLine]{path: passwdPath, kind: "passwd", parse: parsePasswdFields},
		shadow:        systemFile[*shadowLine]{path: shadowPath, kind: "shadow", parse: parseShadowFields},
	}
	if err := s.passwd.read(); err != nil {
		return nil, fmt.Errorf("passwd: reading the passwd file: %w", err)
	}
	if err := s.shadow.read(); err != nil {
		return nil, shadowError(err)
	}
	return s, nil
}

// shadowError explains a shadow file that cannot be read, where it is
// most likely: a server without read access to it.
func shadowError(err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("passwd: cannot read the shadow file, which holds the system's password hashes: "+
			"the server needs read access to it (on Debian, /etc/shadow is root:shadow 0640: "+
			"run the server with the supplementary group shadow): %w", err)
	}
	return fmt.Errorf("passwd: reading the shadow file: %w", err)
}

// Lookup returns the entry of user for a login, with the password hash, or
// an error wrapping [ErrInvalidEntry] that says why the account cannot log
// in (see [System]), or one wrapping [ErrNotFound]. It re-reads a file that
// changed first. The errors do not quote the name (a user may type a
// password as the name) nor the hash.
func (s *System) Lookup(ctx context.Context, user string) (*Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.reloadIfChanged()
	return s.lookup(user)
}

// lookup is Lookup without the reload.
func (s *System) lookup(user string) (*Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lookupLocked(user)
}

// lookupLocked is lookup with s.mu held.
func (s *System) lookupLocked(user string) (*Entry, error) {
	pw, pwErr := s.passwd.lookup(user)
	sh, shErr := s.shadow.lookup(user)
	if pwErr != nil {
		return nil, pwErr
	}
	if err := s.checkUID(pw); err != nil {
		return nil, err
	}
	if shErr != nil && !errors.Is(shErr, ErrNotFound) {
		return nil, shErr
	}
	hash, where := pw.password, s.passwd.path
	if hash == "x" {
		if sh == nil {
			return nil, fmt.Errorf("%w: its password is in the shadow file (\"x\" in %s), which has no line for it",
				ErrInvalidEntry, s.passwd.path)
		}
		hash, where = sh.password, s.shadow.path
	}
	if err := checkPasswordField(hash, where == s.shadow.path); err != nil {
		return nil, fmt.Errorf("%w: %v (%s)", ErrInvalidEntry, err, where)
	}
	if sh != nil {
		if err := sh.checkAging(s.today()); err != nil {
			return nil, fmt.Errorf("%w: %v (%s)", ErrInvalidEntry, err, s.shadow.path)
		}
	}
	e := pw.entry()
	e.Password = hash
	return e, nil
}

// LookupUser returns the entry of user for delivery, without a password:
// a locked or expired account still gets mail. It refuses a uid out of
// range and a passwd line that does not parse with an error wrapping
// [ErrInvalidEntry]; an unknown user is [ErrNotFound]. It reads only the
// passwd file.
func (s *System) LookupUser(ctx context.Context, user string) (*Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.reloadIfChanged()
	return s.lookupUser(user)
}

// lookupUser is LookupUser without the reload.
func (s *System) lookupUser(user string) (*Entry, error) {
	s.mu.RLock()
	pw, err := s.passwd.lookup(user)
	s.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	if err := s.checkUID(pw); err != nil {
		return nil, err
	}
	return pw.entry(), nil
}

// DecoyHash returns the hash of one account that can log in, for
// [VerifyUnknownUserOf]: of the costliest scheme among the accounts'
// (yescrypt, then bcrypt, SHA512-crypt, SHA256-crypt, MD5-crypt), the
// first by name, so that a refusal never takes less time than a wrong
// password of the system's users (yescrypt on Debian). "" when no account
// can log in. It is chosen again when the files change.
func (s *System) DecoyHash() string {
	s.reloadIfChanged()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.decoyValid {
		return s.decoy
	}
	names := make([]string, 0, len(s.shadow.users))
	for name := range s.shadow.users {
		names = append(names, name)
	}
	slices.Sort(names)
	s.decoy, s.decoyValid = "", true
	best := -1
	for _, name := range names {
		if e, err := s.lookupLocked(name); err == nil {
			if r := schemeCost(e.Password); r > best {
				s.decoy, best = e.Password, r
			}
		}
	}
	return s.decoy
}

// schemeCost ranks the crypt(3) schemes of the system's accounts by what
// a check costs at their usual parameters.
func schemeCost(hash string) int {
	for i, prefix := range []string{"$1$", "$5$", "$6$", "$2", "$y$"} {
		if strings.HasPrefix(hash, prefix) {
			return i + 1
		}
	}
	return 0
}

// checkUID refuses a uid outside FirstValidUID and LastValidUID.
func (s *System) checkUID(pw *passwdLine) error {
	if pw.uidNum < s.FirstValidUID {
		return fmt.Errorf("%w: uid %d is below FirstValidUID, %d (root and system accounts are refused; Dovecot's first_valid_uid)",
			ErrInvalidEntry, pw.uidNum, s.FirstValidUID)
	}
	if s.LastValidUID != 0 && pw.uidNum > s.LastValidUID {
		return fmt.Errorf("%w: uid %d is above LastValidUID, %d (Dovecot's last_valid_uid)",
			ErrInvalidEntry, pw.uidNum, s.LastValidUID)
	}
	return nil
}

// today is the number of days from 1970-01-01 to now, in UTC, as pam_unix
// counts them (time(NULL) / 86400).
func (s *System) today() int64 {
	t := s.now().Unix()
	d := t / 86400
	if t < 0 && t%86400 != 0 {
		d--
	}
	return d
}

func (s *System) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// entry is the Entry of a passwd line, without a password.
func (pw *passwdLine) entry() *Entry {
	return &Entry{User: pw.name, UID: pw.uid, GID: pw.gid, Gecos: pw.gecos, Home: pw.home, Shell: pw.shell}
}

// checkPasswordField refuses the fields that are not a password, as
// Dovecot's IS_VALID_PASSWD does (empty, '*', '!') and "x" in the shadow
// file, whose own password field is never that marker. Anything else is
// left to Verify, which names what it cannot read.
func checkPasswordField(p string, inShadow bool) error {
	switch {
	case p == "":
		return errors.New("the account has no password (an empty password field)")
	case strings.HasPrefix(p, "!"):
		return errors.New("the account is locked (its password field begins with '!')")
	case strings.HasPrefix(p, "*"):
		return errors.New("the account has no password (its password field begins with '*')")
	case p == "x" && inShadow:
		return errors.New("the account has no password (its shadow password field is \"x\")")
	}
	return nil
}

// checkAging refuses an account that pam_unix's check_shadow_expiry
// refuses (PAM_ACCT_EXPIRED, PAM_AUTHTOK_EXPIRED), with its conditions,
// and lets in the ones it asks for a new password (PAM_NEW_AUTHTOK_REQD):
// see System.
func (sh *shadowLine) checkAging(today int64) error {
	if sh.expire != -1 && today >= sh.expire {
		return fmt.Errorf("the account expired on %s (shadow field 8)", day(sh.expire))
	}
	if sh.lastChange == 0 || today < sh.lastChange {
		return nil // must change it; or changed "in the future", which pam_unix lets in
	}
	age := today - sh.lastChange
	if age > sh.maxAge && age > sh.inactive && age > sh.maxAge+sh.inactive && sh.maxAge != -1 && sh.inactive != -1 {
		return fmt.Errorf("the password expired on %s and its inactivity period of %d days is over (shadow fields 3, 5 and 7)",
			day(sh.lastChange+sh.maxAge), sh.inactive)
	}
	return nil
}

// day writes a day counted from 1970-01-01 as a date.
func day(d int64) string {
	return time.Unix(d*86400, 0).UTC().Format(time.DateOnly)
}

// reloadIfChanged reads a file again when a stat says it changed.
func (s *System) reloadIfChanged() {
	pwInfo, pwErr := os.Stat(s.passwd.path)
	shInfo, shErr := os.Stat(s.shadow.path)
	s.mu.RLock()
	fresh := pwErr == nil && sameFile(pwInfo, s.passwd.info) && shErr == nil && sameFile(shInfo, s.shadow.info)
	s.mu.RUnlock()
	if fresh {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	reloadSystemFile(s, &s.passwd, pwInfo, pwErr)
	reloadSystemFile(s, &s.shadow, shInfo, shErr)
	s.decoyValid = false
}

// reloadSystemFile reads f again unless the stat (info, err) shows that it
// is the file already read; s.mu is held.
func reloadSystemFile[T any](s *System, f *systemFile[T], info os.FileInfo, err error) {
	if err == nil && sameFile(info, f.info) {
		return // unchanged, or another Lookup has just read it
	}
	if err == nil {
		err = f.read()
	}
	if err != nil {
		if f.kind == "shadow" {
			err = shadowError(err)
		}
		if msg := err.Error(); msg != f.lastErr {
			f.lastErr = msg
			s.logger().Error("passwd: cannot read the "+f.kind+" file again; keeping the users read before",
				"path", f.path, "err", err)
		}
		return
	}
	f.lastErr = ""
	s.logger().Info("passwd: the "+f.kind+" file changed; read it again", "path", f.path, "users", len(f.users))
}

// lookup returns the line of name, or an error wrapping ErrNotFound or,
// for a name whose only lines do not parse, ErrInvalidEntry.
func (f *systemFile[T]) lookup(name string) (T, error) {
	if u, ok := f.users[name]; ok {
		return u, nil
	}
	var zero T
	if b, ok := f.bad[name]; ok {
		return zero, fmt.Errorf("%w: line %d of %s %v", ErrInvalidEntry, b.line, f.path, b.err)
	}
	return zero, fmt.Errorf("%w in %s", ErrNotFound, f.path)
}

// read reads and parses the whole file, replacing the users only when it
// could be read.
func (f *systemFile[T]) read() error {
	fh, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer fh.Close()
	info, err := fh.Stat()
	if err != nil {
		return err
	}
	if info.IsDir() {
		return &os.PathError{Op: "read", Path: f.path, Err: errors.New("is a directory")}
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(fh); err != nil {
		return err
	}
	f.users, f.bad = parseSystemFile(buf.String(), f.parse)
	f.info = info
	return nil
}

// parseSystemFile parses the lines of passwd(5) or shadow(5) with parse,
// which gets the fields of a line and checks all but the name. It keeps
// the first line of each name that parses; bad says why the lines of the
// other names did not. Lines without a usable name, which no lookup can
// find, are dropped.
func parseSystemFile[T any](content string, parse func([]string) (T, error)) (users map[string]T, bad map[string]badLine) {
	users = make(map[string]T)
	bad = make(map[string]badLine)
	lineNo := 0
	for len(content) > 0 {
		var line string
		line, content, _ = strings.Cut(content, "\n")
		lineNo++
		// As the C library's files module: leading blanks are skipped,
		// and blank and comment lines ignored.
		line = strings.TrimLeft(strings.TrimSuffix(line, "\r"), " \t")
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue // '+' and '-': NIS compat entries, which need NIS
		}
		fields := strings.Split(line, ":")
		name := fields[0]
		if name == "" || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			continue
		}
		if _, dup := users[name]; dup {
			continue
		}
		u, err := parse(fields)
		if err != nil {
			if _, seen := bad[name]; !seen {
				bad[name] = badLine{lineNo, err}
			}
			continue
		}
		users[name] = u
		delete(bad, name)
	}
	return users, bad
}

// parsePasswdFields parses the fields of a passwd(5) line:
// name:password:uid:gid:gecos:home:shell, uid and gid decimal.
func parsePasswdFields(fields []string) (*passwdLine, error) {
	if len(fields) != 7 {
		return nil, fmt.Errorf("has %d fields, not 7", len(fields))
	}
	uid, err := strconv.ParseUint(fields[2], 10, 32)
	if err != nil {
		return nil, errors.New("has a uid that is not a decimal number")
	}
	if _, err := strconv.ParseUint(fields[3], 10, 32); err != nil {
		return nil, errors.New("has a gid that is not a decimal number")
	}
	return &passwdLine{
		name: fields[0], password: fields[1], uid: fields[2], gid: fields[3],
		gecos: fields[4], home: fields[5], shell: fields[6], uidNum: uint32(uid),
	}, nil
}

// shadowFields names the numeric fields of shadow(5), from the third.
var shadowFields = [...]string{"the date of the last password change", "the minimum password age",
	"the maximum password age", "the password warning period", "the password inactivity period",
	"the account expiration date", "the reserved field"}

// parseShadowFields parses the fields of a shadow(5) line:
// name:password:lastchg:min:max:warn:inactive:expire:reserved. As the C
// library, it takes 7 to 9 fields, and every field after the password
// empty (-1) or a number.
func parseShadowFields(fields []string) (*shadowLine, error) {
	if len(fields) < 7 || len(fields) > 9 {
		return nil, fmt.Errorf("has %d fields, not 9", len(fields))
	}
	var n [len(shadowFields)]int64
	for i := range n {
		n[i] = -1
		if i+2 >= len(fields) || fields[i+2] == "" {
			continue
		}
		v, err := strconv.ParseInt(fields[i+2], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("has %s (field %d) that is not a number", shadowFields[i], i+3)
		}
		n[i] = v
	}
	return &shadowLine{password: fields[1], lastChange: n[0], maxAge: n[2], inactive: n[4], expire: n[5]}, nil
}
