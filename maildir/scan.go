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
	files, _, err := scanFilesAndDuplicates(dir)
	return files, err
}

// scanFilesAndDuplicates is scanFiles that also returns the paths of the
// other files seen under a base name that is already listed: the same file
// seen twice as it moved, or a true duplicate (a copy restored beside the
// original), which would stay hidden behind the other.
func scanFilesAndDuplicates(dir string) (map[string]file, []string, error) {
	files := make(map[string]file)
	var duplicates []string
	for _, sub := range []string{"new", "cur"} {
		d, err := os.Open(filepath.Join(dir, sub))
		if err != nil {
			return nil, nil, fmt.Errorf("maildir: %w", err)
		}
		names, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("maildir: %w", err)
		}
		for _, name := range names {
			if name == "" || name[0] == '.' {
				continue
			}
			base := baseName(name)
			if seen, ok := files[base]; ok {
				duplicates = append(duplicates, seen.path)
			}
			files[base] = file{path: filepath.Join(dir, sub, name), base: base}
		}
	}
	return files, duplicates, nil
}

// renameDuplicates gives each true duplicate a base name of its own, as
// Dovecot does ("Fixed a duplicate"), so that it is listed as a message of
// its own, with a new UID. It reports the files it renamed. A path that no
// longer exists was the same file seen twice as it moved.
func renameDuplicates(duplicates []string) (renamed int) {
	for _, path := range duplicates {
		if _, err := os.Lstat(path); err != nil {
			continue
		}
		name := filepath.Base(path)
		info := ""
		if i := strings.IndexByte(name, ':'); i >= 0 {
			info = name[i:]
		}
		target := filepath.Join(filepath.Dir(path), uniqueBaseName()+info)
		if _, err := os.Lstat(target); err == nil {
			continue
		}
		if os.Rename(path, target) == nil {
			renamed++
		}
	}
	return renamed
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
	return numberFromName(base, "W=")
}

// numberFromName reads the field of a file's base name that starts with
// key, such as ",W=<size>".
func numberFromName(base, key string) (int64, bool) {
	_, rest, _ := strings.Cut(base, ",")
	for rest != "" {
		var field string
		field, rest, _ = strings.Cut(rest, ",")
		if v, ok := strings.CutPrefix(field, key); ok {
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
