package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// file is a message file found in new/ or cur/.
type file struct {
	path string // the full path when it was seen
	base string // the name without its ":2,<flags>"
}

// scanFiles lists the messages of the Maildir at dir by base name: new/
// first, then cur/, so that a file that another program moves from new/ to
// cur/ meanwhile is seen at least once; when it is seen twice the cur/ name
// wins. tmp/ and names that start with a dot are not messages.
func scanFiles(dir string) (map[string]file, error) {
	files := make(map[string]file)
	for _, sub := range []string{"new", "cur"} {
		d, err := os.Open(filepath.Join(dir, sub))
		if err != nil {
			return nil, fmt.Errorf("maildir: %w", err)
		}
		names, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			return nil, fmt.Errorf("maildir: %w", err)
		}
		for _, name := range names {
			if name == "" || name[0] == '.' {
				continue
			}
			base := baseName(name)
			files[base] = file{path: filepath.Join(dir, sub, name), base: base}
		}
	}
	return files, nil
}

// findFile looks for the current name of the message whose base name is
// base, after its file moved (new/ to cur/, or new flags). ok is false when
// it is gone.
func findFile(dir, base string) (path string, ok bool) {
	files, err := scanFiles(dir)
	if err != nil {
		return "", false
	}
	f, ok := files[base]
	return f.path, ok
}

// sizeFromName reads ",W=<size>" from a Maildir file name: the size with
// CRLF line ends, which Dovecot's delivery and this package's put there.
func sizeFromName(base string) (int64, bool) {
	for _, field := range strings.Split(base, ",")[1:] {
		if v, ok := strings.CutPrefix(field, "W="); ok {
			if v == "" || strings.Trim(v, "0123456789") != "" {
				return 0, false // digits only, as Dovecot reads it
			}
			n, err := strconv.ParseInt(v, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// compareFileNames orders new files as Dovecot gives them UIDs
// (maildir_filename_sort_cmp): by the seconds that start the name, then by
// the microseconds of its "M<usec>" part when both have one, then by name.
func compareFileNames(a, b string) int {
	sa, ra := leadingNumber(a)
	sb, rb := leadingNumber(b)
	if sa != sb {
		if sa < sb {
			return -1
		}
		return 1
	}
	if ua, ok := microseconds(ra); ok {
		if ub, ok := microseconds(rb); ok && ua != ub {
			if ua < ub {
				return -1
			}
			return 1
		}
	}
	return strings.Compare(ra, rb)
}

func leadingNumber(s string) (uint64, string) {
	var n uint64
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + uint64(s[i]-'0')
	}
	return n, s[i:]
}

// microseconds reads the digits after 'M' in the ".<unique>." part that
// follows the seconds.
func microseconds(rest string) (uint64, bool) {
	if !strings.HasPrefix(rest, ".") {
		return 0, false
	}
	unique := rest[1:]
	if i := strings.IndexAny(unique, ".:"); i >= 0 {
		unique = unique[:i]
	}
	i := strings.IndexByte(unique, 'M')
	if i < 0 {
		return 0, false
	}
	n, _ := leadingNumber(unique[i+1:])
	return n, true
}
