package maildir

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// compareFileNames is Dovecot's maildir_filename_sort_cmp: the seconds as
// a number, then the M<usec> of the unique part as a number when both
// names have one, then the rest of the name.
func TestCompareFileNames(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"999.x", "1000.x", -1},
		{"999.M1P1.host", "1000.M0P1.host", -1},
		{"1699999999.M999999P1.h", "1700000000.M0P1.h", -1},
		{"5.M9P1.h", "5.M10P1.h", -1},
		{"5.M999999P1.h", "5.M1000000P1.h", -1},
		{"5.M9P1.h,S=100,W=102", "5.M10P1.h,S=1,W=2", -1},
		{"5.P1M9.h", "5.P1M10.h", -1}, // M anywhere in the unique part
		{"5.M1P1.a", "5.M1P1.b", -1},
		{"5.M1P2.a", "5.M1P10.a", 1}, // the pid is compared as text
		{"5.M1P1.h", "5.M1P1.h", 0},
		{"5.abc", "5.abd", -1},
		{"5.M7P1.h", "5.Q1.h", -1}, // only one has M<usec>: by name
		{"5.x.M9", "5.x.M10", 1},   // an M after the unique part is not usec
		{"5.M9:2,S", "5.M10:2,", -1},
		{"abc", "1.x", -1}, // no seconds is 0 seconds
		{"", "0", 0},
		{"", "", 0},
		{"005.x", "5.x", 0}, // the same seconds and the same rest
	} {
		assert.Equal(t, tc.want, compareFileNames(tc.a, tc.b), "compare(%q, %q)", tc.a, tc.b)
		assert.Equal(t, -tc.want, compareFileNames(tc.b, tc.a), "compare(%q, %q)", tc.b, tc.a)
	}
}

// Sorting delivery names of one process puts them in time order, which a
// plain string sort does not.
func TestCompareFileNamesSortsDeliveries(t *testing.T) {
	want := []string{
		"999.M999999P7.h,S=1,W=1",
		"1000.M0P7.h,S=1,W=1",
		"1000.M5P7.h,S=1,W=1",
		"1000.M10P7.h,S=1,W=1",
		"1000.M100P7.h,S=1,W=1",
		"1000.M100P7.i",
		"1001.M2P7.h,S=1,W=1",
		"10000.M1P7.h,S=1,W=1",
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		got := slices.Clone(want)
		r.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
		slices.SortFunc(got, compareFileNames)
		assert.Equal(t, want, got)
	}
	plain := slices.Sorted(slices.Values(want))
	assert.NotEqual(t, want, plain, "the order is not the order of the strings")
}

func TestSizeFromName(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int64
		ok   bool
	}{
		{"1700000000.M1P1.host,S=10,W=12", 12, true},
		{"1700000000.M1P1.host,W=12,S=10", 12, true},
		{",S=10,W=12", 12, true},
		{"1700000000.M1P1.host,W=0", 0, true},
		{"1700000000.M1P1.host,S=10,W=12,Xfoo", 12, true},
		{"1700000000.M1P1.host,W=9223372036854775807", 9223372036854775807, true},
		{"1700000000.M1P1.host", 0, false},
		{"1700000000.M1P1.host,S=10", 0, false},
		{"W=12", 0, false}, // not after a comma
		{"1700000000.M1P1.host,w=12", 0, false},
		{"1700000000.M1P1.host,W=abc", 0, false},
		{"1700000000.M1P1.host,W=12abc", 0, false},
		{"1700000000.M1P1.host,W=-1", 0, false},
		{"1700000000.M1P1.host,W=1 2", 0, false},
		{"1700000000.M1P1.host,W=0x10", 0, false},
		{"1700000000.M1P1.host,W=99999999999999999999", 0, false},
		{"", 0, false},
	} {
		size, ok := sizeFromName(tc.name)
		assert.Equal(t, tc.ok, ok, "%q", tc.name)
		if tc.ok {
			assert.Equal(t, tc.size, size, "%q", tc.name)
		}
	}
}

// Dovecot's maildir_filename_get_size takes digits only: a sign is garbage
// and the size is read from the file.
func TestSizeFromNameRefusesASign(t *testing.T) {
	for _, name := range []string{"1.M1P1.h,W=+12", "1.M1P1.h,W=-0"} {
		_, ok := sizeFromName(name)
		assert.False(t, ok, "%q: only digits are a size", name)
	}
}

func TestScanFiles(t *testing.T) {
	dir := makeMaildir(t)
	writeMessage(t, dir, "new", "1.M1P1.h", "a\n")
	writeMessage(t, dir, "cur", "2.M2P1.h:2,S", "b\n")
	writeMessage(t, dir, "cur", "3.M3P1.h,S=2,W=3:2,", "c\n")
	writeMessage(t, dir, "tmp", "4.M4P1.h", "in delivery\n")
	writeMessage(t, dir, "new", ".hidden", "x\n")
	writeMessage(t, dir, "cur", ".5.M5P1.h:2,", "x\n")
	// Moved from new/ to cur/ by another program while the directories
	// were read: seen in both, listed once with its cur/ name.
	writeMessage(t, dir, "new", "6.M6P1.h", "d\n")
	writeMessage(t, dir, "cur", "6.M6P1.h:2,", "d\n")
	writeMessage(t, dir, "new", "7.M7P1.h,S=2,W=3", "e\n")
	writeMessage(t, dir, "cur", "7.M7P1.h,S=2,W=3:2,FS", "e\n")

	files, err := scanFiles(dir)
	require.NoError(t, err)
	assert.Equal(t, map[string]file{
		"1.M1P1.h":         {path: filepath.Join(dir, "new", "1.M1P1.h"), base: "1.M1P1.h"},
		"2.M2P1.h":         {path: filepath.Join(dir, "cur", "2.M2P1.h:2,S"), base: "2.M2P1.h"},
		"3.M3P1.h,S=2,W=3": {path: filepath.Join(dir, "cur", "3.M3P1.h,S=2,W=3:2,"), base: "3.M3P1.h,S=2,W=3"},
		"6.M6P1.h":         {path: filepath.Join(dir, "cur", "6.M6P1.h:2,"), base: "6.M6P1.h"},
		"7.M7P1.h,S=2,W=3": {path: filepath.Join(dir, "cur", "7.M7P1.h,S=2,W=3:2,FS"), base: "7.M7P1.h,S=2,W=3"},
	}, files)
}

func TestScanFilesEmptyAndMissing(t *testing.T) {
	files, err := scanFiles(makeMaildir(t))
	require.NoError(t, err)
	assert.Empty(t, files)

	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "cur"), 0o700))
	_, err = scanFiles(dir)
	assert.Error(t, err, "a Maildir without new/ is an error")
}

func TestFindFile(t *testing.T) {
	dir := makeMaildir(t)
	writeMessage(t, dir, "new", "1.M1P1.h,S=2,W=3", "a\n")
	writeMessage(t, dir, "new", "1.M1P1.h,S=2,W=3X", "not it\n")

	path, ok := findFile(dir, "1.M1P1.h,S=2,W=3")
	assert.True(t, ok)
	assert.Equal(t, filepath.Join(dir, "new", "1.M1P1.h,S=2,W=3"), path)

	// Another program moves it to cur/ and gives it flags.
	require.NoError(t, os.Rename(path, filepath.Join(dir, "cur", "1.M1P1.h,S=2,W=3:2,RS")))
	path, ok = findFile(dir, "1.M1P1.h,S=2,W=3")
	assert.True(t, ok)
	assert.Equal(t, filepath.Join(dir, "cur", "1.M1P1.h,S=2,W=3:2,RS"), path)

	// A prefix of another name is not that name.
	_, ok = findFile(dir, "1.M1P1.h")
	assert.False(t, ok)

	require.NoError(t, os.Remove(path))
	_, ok = findFile(dir, "1.M1P1.h,S=2,W=3")
	assert.False(t, ok, "gone")

	_, ok = findFile(filepath.Join(dir, "nowhere"), "x")
	assert.False(t, ok)
}
