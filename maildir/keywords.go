package maildir

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gopop3/pop3"
)

// WithDeletedFlag makes DELE and QUIT set keyword on a message instead of
// removing its file, as Dovecot's pop3_deleted_flag does: the keyword is
// written as Dovecot's IMAP keeps keywords (a letter in the file name's
// flags, named in dovecot-keywords), so that an IMAP client on the same
// Maildir sees it, and later POP3 sessions do not list the message. A
// message that an IMAP client gave the keyword is not listed either.
//
// The keyword is looked up in dovecot-keywords as Dovecot looks it up
// (ignoring ASCII case), and added to it at the first free index when it
// is not there, through dovecot-keywords.lock renamed over the file, under
// the dovecot-uidlist.lock that Dovecot takes to change the file. A
// Maildir has 26 such letters ('a' to 'z'): when all are taken by other
// keywords, [pop3.Mailbox.Delete] fails (the client's QUIT gets -ERR) and
// the messages are kept, flagged by nothing.
//
// keyword must be an IMAP flag-keyword (RFC 3501 §9, an atom: no space,
// control character, 8-bit octet or any of `(){%*"\]`), of at most 50
// octets, Dovecot's mail_max_keyword_length: [New] fails on another one,
// such as "" or "\Deleted", as Dovecot refuses it.
func WithDeletedFlag(keyword string) Option {
	return func(b *Backend) {
		b.deletedFlag = keyword
		b.deletedFlagErr = nil
		if err := checkKeyword(keyword); err != nil {
			b.deletedFlagErr = fmt.Errorf("maildir: the deleted flag (pop3_deleted_flag) %q: %w", keyword, err)
		}
	}
}

// WithNoFlagUpdates leaves the messages' flags alone, as Dovecot's
// pop3_no_flag_updates does: opening the maildrop moves nothing from new/
// to cur/, and RETR does not mark a message seen. A Maildir whose files
// stay in new/ is still listed from the listing cache (see
// [WithListingCache]) while it does not change.
func WithNoFlagUpdates() Option {
	return func(b *Backend) { b.noFlagUpdates = true }
}

const (
	// keywordsName is the file where Dovecot names the keyword letters
	// of a Maildir's file names (maildir-keywords.c).
	keywordsName = "dovecot-keywords"
	// keywordsLockName is the dot-lock through which Dovecot writes it,
	// renamed over it when complete.
	keywordsLockName = keywordsName + ".lock"
	// maxKeywords is how many keyword letters a Maildir has: 'a' to 'z'
	// (Dovecot's MAILDIR_MAX_KEYWORDS).
	maxKeywords = 26
	// maxKeywordLength is Dovecot's default mail_max_keyword_length.
	maxKeywordLength = 50
	// keywordsLineMax is Dovecot's read buffer for dovecot-keywords: a
	// line that does not fit in it, LF included, ends the reading.
	keywordsLineMax = 1024
	// keywordsReadLimit bounds what is read of a dovecot-keywords that
	// is far larger than 26 lines could be.
	keywordsReadLimit = 1 << 20
)

// checkKeyword refuses what Dovecot's mailbox_keyword_is_valid refuses: an
// empty keyword, a character that is not an IMAP ATOM-CHAR (RFC 3501 §9:
// atom-specials are "(", ")", "{", SP, CTL, "%", "*", DQUOTE, "\" and
// "]"; 8-bit octets are not CHAR), and one longer than 50 octets. System
// flags such as \Deleted start with "\", so they are refused too.
func checkKeyword(kw string) error {
	if kw == "" {
		return errors.New("an empty keyword")
	}
	for i := 0; i < len(kw); i++ {
		c := kw[i]
		if c >= 0x80 {
			return fmt.Errorf("8-bit octet 0x%02x in the keyword: an IMAP keyword is an atom (RFC 3501 §9)", c)
		}
		if isAtomSpecial(c) {
			return fmt.Errorf("character %q in the keyword: an IMAP keyword is an atom (RFC 3501 §9)", c)
		}
	}
	if len(kw) > maxKeywordLength {
		return fmt.Errorf("a keyword of %d octets, over Dovecot's mail_max_keyword_length of %d", len(kw), maxKeywordLength)
	}
	return nil
}

// isAtomSpecial is RFC 3501's atom-specials, with DEL as the CTL it is.
func isAtomSpecial(c byte) bool {
	return c <= 0x20 || c == 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0
}

// keywords is a dovecot-keywords file: the names of the keyword letters.
type keywords struct {
	// names holds the name of letter 'a'+i at i; "" is a free letter.
	names [maxKeywords]string
	// index finds a name's letter, by its ASCII lower-case form: Dovecot
	// compares keyword names with strcasecmp.
	index map[string]int
}

// parseKeywords reads a dovecot-keywords file as Dovecot 2.3 reads it
// (maildir_keywords_sync): lines of "<index> <name>", where index is
// decimal digits below 26 and name is the rest of the line, which must not
// be empty. A CR before the LF is not part of the name, and a NUL ends the
// line as it ends a C string. A line without a space, with another index,
// or whose name an earlier line had (ignoring ASCII case) is skipped; a
// later line with the same index renames that letter. A last line without
// LF is ignored, and a line longer than Dovecot's 1024-octet buffer ends
// the reading, as in Dovecot. Nothing is an error.
func parseKeywords(data []byte) *keywords {
	k := &keywords{index: make(map[string]int)}
	for {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 || nl >= keywordsLineMax {
			break
		}
		line := data[:nl]
		data = data[nl+1:]
		line = bytes.TrimSuffix(line, []byte("\r"))
		if z := bytes.IndexByte(line, 0); z >= 0 {
			line = line[:z]
		}
		num, name, ok := bytes.Cut(line, []byte(" "))
		if !ok || len(name) == 0 {
			continue
		}
		idx, ok := keywordIndex(num)
		if !ok {
			continue
		}
		key := asciiLower(string(name))
		if _, dup := k.index[key]; dup {
			continue
		}
		k.index[key] = idx
		k.names[idx] = string(name)
	}
	return k
}

// keywordIndex reads an index as Dovecot's str_to_uint does (digits only,
// at least one) and keeps it when it names a letter.
func keywordIndex(num []byte) (int, bool) {
	if len(num) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n = n*10 + int(c-'0'); n >= maxKeywords {
			n = maxKeywords // stays out of range, whatever follows
		}
	}
	return n, n < maxKeywords
}

// marshal writes the file as Dovecot writes it: a "<index> <name>" line
// for each letter that has a name, in letter order.
func (k *keywords) marshal() []byte {
	var b bytes.Buffer
	for i, name := range k.names {
		if name != "" {
			b.WriteString(strconv.Itoa(i))
			b.WriteByte(' ')
			b.WriteString(name)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// letter returns the letter that Dovecot gives the keyword name.
func (k *keywords) letter(name string) (byte, bool) {
	i, ok := k.index[asciiLower(name)]
	return byte('a' + i), ok
}

// errKeywordsFull is why a keyword cannot be added to a dovecot-keywords.
var errKeywordsFull = errors.New("all 26 keyword letters (a to z) of dovecot-keywords name other keywords")

// add names the first free letter name, as Dovecot does.
func (k *keywords) add(name string) (byte, error) {
	for i, n := range k.names {
		if n == "" {
			k.names[i] = name
			k.index[asciiLower(name)] = i
			return byte('a' + i), nil
		}
	}
	return 0, errKeywordsFull
}

// named returns the letters whose name is keyword, ignoring ASCII case:
// Dovecot reads each letter of a file name into its index by the letter's
// name. Usually one letter; none when dovecot-keywords does not name it.
func (k *keywords) named(keyword string) (letters [maxKeywords]bool, ok bool) {
	want := asciiLower(keyword)
	for i, name := range k.names {
		if name != "" && asciiLower(name) == want {
			letters[i], ok = true, true
		}
	}
	return letters, ok
}

// hasLetter reports whether the flags of a file name (see fileFlags) carry
// one of letters.
func hasLetter(fileName string, letters *[maxKeywords]bool) bool {
	flags := fileFlags(fileName)
	for i := 0; i < len(flags); i++ {
		if c := flags[i]; c >= 'a' && c <= 'z' && letters[c-'a'] {
			return true
		}
	}
	return false
}

// asciiLower lower-cases the ASCII letters of s only, as strcasecmp
// compares.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// readKeywords reads the dovecot-keywords of the Maildir at dir; a Maildir
// without one names no keyword. The file must be a regular file, reached
// without following a symbolic link at its name.
func readKeywords(dir string) (*keywords, error) {
	f, err := openMessageFile(filepath.Join(dir, keywordsName))
	if errors.Is(err, fs.ErrNotExist) {
		return parseKeywords(nil), nil
	}
	if err != nil {
		return nil, fmt.Errorf("maildir: reading %s: %w", keywordsName, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, keywordsReadLimit))
	if err != nil {
		return nil, fmt.Errorf("maildir: reading %s: %w", keywordsName, err)
	}
	return parseKeywords(data), nil
}

// writeKeywords replaces the dovecot-keywords of the Maildir at dir as
// Dovecot's maildir_keywords_commit does, which the caller's
// dovecot-uidlist.lock allows: a dovecot-keywords.lock left over is
// removed, the new one is created (never opened through a link), written,
// given a modification time later in seconds than the file it replaces,
// since Dovecot rereads the file only when that second changes, synced
// and renamed over dovecot-keywords. Its mode is the Maildir directory's
// without the execute bits (and at least 0600), as Dovecot's
// file_create_mode, whatever the umask, and it belongs to o.
func writeKeywords(dir string, k *keywords, o owner) error {
	path := filepath.Join(dir, keywordsName)
	lockPath := filepath.Join(dir, keywordsLockName)
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(dir); err == nil {
		mode |= fi.Mode().Perm() & 0o666
	}
	var previous time.Time
	if fi, err := os.Lstat(path); err == nil {
		previous = fi.ModTime()
	}
	if err := os.Remove(lockPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("maildir: writing %s: %w", keywordsName, err)
	}
	f, err := createFile(lockPath, mode, o)
	if err != nil {
		return fmt.Errorf("maildir: writing %s: %w", keywordsName, err)
	}
	// Dovecot sets its umask so that the file gets exactly this mode.
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(k.marshal())
	}
	if err == nil && !previous.IsZero() {
		var fi os.FileInfo
		if fi, err = f.Stat(); err == nil && fi.ModTime().Unix() <= previous.Unix() {
			next := time.Unix(previous.Unix()+1, 0)
			err = os.Chtimes(lockPath, next, next)
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(lockPath, path)
	}
	if err != nil {
		_ = os.Remove(lockPath)
		return fmt.Errorf("maildir: writing %s: %w", keywordsName, err)
	}
	_ = syncDir(dir)
	return nil
}

// fileFlags returns the flags of a Maildir file name as Dovecot reads them
// (maildir_filename_flags_get): after the last ':', when "2," follows it,
// up to a ',' that starts a set of flags Dovecot does not know.
func fileFlags(name string) string {
	i := strings.LastIndexByte(name, ':')
	if i < 0 || !strings.HasPrefix(name[i+1:], "2,") {
		return ""
	}
	flags, _, _ := strings.Cut(name[i+3:], ",")
	return flags
}

// isKnownFlag reports whether Dovecot sorts flag into place when it
// renames a file: the system flags D, F, R, S, T and the keyword letters.
func isKnownFlag(c byte) bool {
	return c == 'D' || c == 'F' || c == 'R' || c == 'S' || c == 'T' || c >= 'a' && c <= 'z'
}

// withFlag returns a Maildir file name with flag added to its flags, as
// Dovecot renames a file whose flags change
// (maildir_filename_flags_full_set): the info after the last ':' becomes
// ":2,<flags>" (an info other than "2," is dropped); the flags Dovecot
// knows (D, F, R, S, T, 'a' to 'z') are written once each in ASCII order,
// around the unknown ones, which keep their places; a ',' and what follows
// it are kept.
func withFlag(name string, flag byte) string {
	base, old := name, ""
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		base = name[:i]
		if rest, ok := strings.CutPrefix(name[i+1:], "2,"); ok {
			old = rest
		}
	}
	flags, extra, hasExtra := strings.Cut(old, ",")
	var known [256]bool
	known[flag] = true
	for i := 0; i < len(flags); i++ {
		if isKnownFlag(flags[i]) {
			known[flags[i]] = true
		}
	}
	var b strings.Builder
	b.Grow(len(name) + 4)
	b.WriteString(base)
	b.WriteString(":2,")
	next := 0 // the next known flag to write, by its code
	emitBelow := func(limit int) {
		for ; next < limit; next++ {
			if known[next] {
				b.WriteByte(byte(next))
			}
		}
	}
	for i := 0; i < len(flags); i++ {
		if c := flags[i]; !isKnownFlag(c) {
			emitBelow(int(c))
			b.WriteByte(c)
		}
	}
	emitBelow(len(known))
	if hasExtra {
		b.WriteByte(',')
		b.WriteString(extra)
	}
	return b.String()
}

// deleteFlagged gives the messages the deleted flag's keyword instead of
// removing them (Dovecot's pop3_deleted_flag): under dovecot-uidlist.lock,
// it finds or adds the keyword's letter in dovecot-keywords, then renames
// each file into cur/ with that letter in its flags. A file already gone
// is not an error; one that cannot be renamed is reported, and the others
// are flagged all the same. When the keyword cannot get a letter, no
// message is touched.
func (m *mailbox) deleteFlagged(indexes []int) error {
	dir := m.user.dir
	keyword := m.user.backend.deletedFlag
	var errs []error
	todo := make([]int, 0, len(indexes))
	for _, i := range indexes {
		if i < 0 || i >= len(m.msgs) {
			errs = append(errs, fmt.Errorf("maildir: no message %d", i))
			continue
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return errors.Join(errs...)
	}
	lock, err := lockUIDList(dir, uidlistLockWait, 0o600, m.owner)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("maildir: flagging %d deleted messages of %q with %s, which needs %s: %w; they are kept",
			len(todo), m.user.name, keyword, uidlistLockName, err))...)
	}
	defer lock.release()
	letter, err := keywordLetter(dir, keyword, m.owner)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("maildir: flagging %d deleted messages of %q with %s: %w; they are kept",
			len(todo), m.user.name, keyword, err))...)
	}
	for _, i := range todo {
		if err := addFlag(dir, &m.msgs[i], letter); err != nil {
			errs = append(errs, fmt.Errorf("maildir: flagging %s of %q with %s: %w", m.msgs[i].base, m.user.name, keyword, err))
			continue
		}
		// Dovecot does not mark a deleted message seen.
		m.retrieved[i] = false
	}
	_ = syncDir(filepath.Join(dir, "cur"))
	return errors.Join(errs...)
}

// keywordLetter returns the letter of keyword in the dovecot-keywords of
// the Maildir at dir, adding it there when it is missing. The caller holds
// dovecot-uidlist.lock.
func keywordLetter(dir, keyword string, o owner) (byte, error) {
	k, err := readKeywords(dir)
	if err != nil {
		return 0, err
	}
	if c, ok := k.letter(keyword); ok {
		return c, nil
	}
	c, err := k.add(keyword)
	if err != nil {
		return 0, err
	}
	if err := writeKeywords(dir, k, o); err != nil {
		return 0, err
	}
	return c, nil
}

// addFlag renames a message's file into cur/ with flag among its flags. A
// file that another program renamed meanwhile is found by its base name;
// one that is gone is not an error.
func addFlag(dir string, msg *message, flag byte) error {
	for attempt := 0; attempt < 2; attempt++ {
		name := filepath.Base(msg.path)
		inCur := filepath.Base(filepath.Dir(msg.path)) == "cur"
		if inCur && strings.IndexByte(fileFlags(name), flag) >= 0 {
			return nil
		}
		target := filepath.Join(dir, "cur", withFlag(name, flag))
		err := renameNoReplace(msg.path, target)
		if !errors.Is(err, fs.ErrNotExist) {
			if err == nil {
				msg.path = target
			}
			return err
		}
		path, ok := findFile(dir, msg.base)
		if !ok {
			return nil // removed by another program meanwhile
		}
		msg.path = path
	}
	return nil
}

// hideDeleted drops from a listing the messages whose flags carry the
// deleted flag's keyword, as Dovecot's POP3 searches for the messages
// without it. msgs is the session's own; infos may be shared, so a listing
// that hides something gets new slices. dovecot-keywords is read only when
// a message has a keyword letter at all.
func (u *user) hideDeleted(msgs []message, infos []pop3.MessageInfo) ([]message, []pop3.MessageInfo, error) {
	keyword := u.backend.deletedFlag
	if keyword == "" || !anyKeywordLetter(msgs) {
		return msgs, infos, nil
	}
	k, err := readKeywords(u.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("maildir: opening %s for %q, whose messages flagged %s are not listed: %w", u.dir, u.name, keyword, err)
	}
	letters, ok := k.named(keyword)
	if !ok {
		return msgs, infos, nil
	}
	var keptMsgs []message
	var keptInfos []pop3.MessageInfo
	for i := range msgs {
		hidden := hasLetter(filepath.Base(msgs[i].path), &letters)
		if hidden && keptMsgs == nil {
			keptMsgs = append(make([]message, 0, len(msgs)-1), msgs[:i]...)
			keptInfos = append(make([]pop3.MessageInfo, 0, len(msgs)-1), infos[:i]...)
		}
		if !hidden && keptMsgs != nil {
			keptMsgs = append(keptMsgs, msgs[i])
			keptInfos = append(keptInfos, infos[i])
		}
	}
	if keptMsgs == nil {
		return msgs, infos, nil
	}
	return keptMsgs, keptInfos, nil
}

// anyKeywordLetter reports whether a message's file name has a keyword
// letter in its flags.
func anyKeywordLetter(msgs []message) bool {
	for i := range msgs {
		flags := fileFlags(filepath.Base(msgs[i].path))
		for j := 0; j < len(flags); j++ {
			if flags[j] >= 'a' && flags[j] <= 'z' {
				return true
			}
		}
	}
	return false
}
