package maildir

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testValues = uidlValues{
	uidValidity: 1700000123, uid: 42, md5: "0123456789abcdef0123456789abcdef",
	filename: "1700000000.M123P45.host,S=10,W=12", guid: "3a5e1d02c8a3dc65a2060000f6e5c2a1",
}

func TestUIDLFormat(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{"%08Xu%08Xv", "0000002a6553f17b"},
		{"dovecot", "0000002a6553f17b"},
		{"uw", "6553f17b0000002a"},
		{"%v.%u", "1700000123.42"},
		{"cyrus", "1700000123.42"},
		{"dovecot-0.99", "1700000123.42"},
		{"cyrus-old", "42"},
		{"courier", "1700000000.M123P45.host,S=10,W=12"},
		{"courier-uid", "1700000123-42"},
		{"tpop3d", "a5b1c4c8b6b44a1c2c6c7cb0c5b0f6a7"}, // replaced below by the real MD5
		{"%{uidvalidity}.%{uid}", "1700000123.42"},
		{"%X{uid}%{md5}", "2a0123456789abcdef0123456789abcdef"},
		{"%{filename}", testValues.filename},
		{"%{guid}", testValues.guid},
		{"%m", testValues.md5},
		{"%g", testValues.guid},
		{"%Uf", "1700000000.M123P45.HOST,S=10,W=12"},
		{"%LUf", "1700000000.M123P45.HOST,S=10,W=12"},
		{"%ULf", "1700000000.m123p45.host,s=10,w=12"},
		{"%4u", "42"},
		{"%1u", "4"},
		{"%04u", "0042"},
		{"%01u", "42"},
		{"%2.4f", "0000"},
		{"%-4.4f", "W=12"},
		{"%-4f", "1700"}, // a sign without an offset is ignored, as by Dovecot
		{"%2.-2f", "00000000.M123P45.host,S=10,W="},
		{"%Rf", "21=W,01=S,tsoh.54P321M.0000000071"},
		{"x%%%u", "x%42"},
		{"%Xv%u", "6553f17b42"},
		{"%Xf", "0"},
	} {
		f, err := parseUIDLFormat(tc.format)
		require.NoError(t, err, tc.format)
		if tc.format == "tpop3d" {
			tc.want = md5Hex(testValues.filename)
		}
		assert.Equal(t, tc.want, f.expand(&testValues), tc.format)
	}
}

func md5Hex(s string) string {
	f, _ := parseUIDLFormat("%Mf")
	return f.expand(&uidlValues{filename: s})
}

// The hashes and modifiers whose results are only known from Dovecot's
// C code; TestUIDLFormatSameAsDovecot compares them with Dovecot.
func TestUIDLFormatHashes(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{"%Hu", "372"},   // str_hash("42") = '4'<<4 + '2'
		{"%100Hu", "52"}, // 0x372 % 100 = 82
		{"%E{filename}x", testValues.filename + "x"},
		{"%Tu", "42"},
		{"%Du", "42"},
	} {
		f, err := parseUIDLFormat(tc.format)
		require.NoError(t, err, tc.format)
		assert.Equal(t, tc.want, f.expand(&testValues), tc.format)
	}
	f, err := parseUIDLFormat("%Ef")
	require.NoError(t, err)
	assert.Equal(t, `a\"b\'c\\`, f.expand(&uidlValues{filename: `a"b'c\`}))
}

func TestUIDLFormatErrors(t *testing.T) {
	for _, tc := range []struct{ format, why string }{
		{"", "names nothing"},
		{"fixed", "names nothing"},
		{"%v", "names nothing"},
		{"%v.%x", "unknown variable %x"},
		{"%{user}", "unknown variable %{user}"},
		{"%{uid", "without }"},
		{"%u%", "unfinished"},
		{"%u-%08X", "unfinished"},
		{"%u %v", "cannot be in a unique-id"},
		{"%u\té", "cannot be in a unique-id"},
	} {
		_, err := parseUIDLFormat(tc.format)
		if assert.Error(t, err, tc.format) {
			assert.Contains(t, err.Error(), tc.why, tc.format)
			assert.Contains(t, err.Error(), "maildir: UIDL format", tc.format)
		}
	}
}

func TestUIDLPresetsParse(t *testing.T) {
	names := UIDLPresets()
	assert.Equal(t, []string{"courier", "courier-uid", "cyrus", "cyrus-old", "dovecot", "dovecot-0.99", "tpop3d", "uw"}, names)
	for _, name := range names {
		_, err := parseUIDLFormat(name)
		assert.NoError(t, err, name)
	}
}

// writeMaildir makes a Maildir at dir with a uidlist of the given records
// (each "<uid> [ext...] :<name>") and files of those names in cur/.
func writeMaildir(t *testing.T, dir string, records []string, bodies map[string]string) {
	t.Helper()
	for _, sub := range []string{"cur", "new", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, sub), 0o700))
	}
	list := "3 V1700000123 N100 G3a5e1d02c8a3dc65a2060000f6e5c2a1\n" + strings.Join(records, "\n") + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, uidlistName), []byte(list), 0o600))
	for name, body := range bodies {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cur", name+":2,"), []byte(body), 0o600))
	}
}

func syncedUIDLs(t *testing.T, dir string, settings *uidlSettings) []string {
	t.Helper()
	var logs bytes.Buffer
	msgs, _, err := syncMaildir(context.Background(), dir, discardLogger(&logs), owner{}, settings)
	require.NoError(t, err)
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.uidl
	}
	return out
}

// Kept unique-ids come first; then X-UIDL headers that are valid and not
// taken; then the format, renamed when taken; an expansion that is too
// long falls back to the default format. A message that shows another
// unique-id than its own (its X-UIDL taken, or "-N" added) keeps it in the
// list, so that it does not change when the other message is deleted.
func TestAssignUIDLs(t *testing.T) {
	long := strings.Repeat("n", 75)
	maildir := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "Maildir")
		writeMaildir(t, dir, []string{
			"1 :a",
			"2 Pkept :b",
			"3 :c",
			"4 P :d",
			"5 Pbad\x01id :e",
			"6 :" + long,
			"7 :f",
		}, map[string]string{
			"a":  "X-UIDL: kept\n\nsame as a kept one: not used\n",
			"b":  "X-UIDL: other\n\nb\n",
			"c":  "X-UIDL: x-c\n\nc\n",
			"d":  "X-UIDL: d\n\nd taken by the bare P of d\n",
			"e":  "e\n",
			long: "long\n",
			"f":  "X-UIDL: x-c\n\nf repeats c's X-UIDL\n",
		})
		return dir
	}
	for _, tc := range []struct {
		name     string
		settings *uidlSettings
		want     []string
		kept     []string // the records that get a P
	}{
		{"X-UIDL", &uidlSettings{reuseXUIDL: true, format: mustFormat(t, "%f")},
			[]string{"a", "kept", "x-c", "d", "e", defaultUIDL(6, 1700000123), "f"}, []string{"1 .*Pa :a", "7 .*Pf :f"}},
		{"format", &uidlSettings{format: mustFormat(t, "%1f")},
			[]string{"a", "kept", "c", "d", "e", "n", "f"}, nil},
		{"duplicates", &uidlSettings{format: mustFormat(t, "x%1.1f")},
			[]string{"x", "kept", "x-2", "d", "x-3", "xn", "x-4"}, []string{"3 .*Px-2 :c", "7 .*Px-4 :f"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := maildir(t)
			assert.Equal(t, tc.want, syncedUIDLs(t, dir, tc.settings))
			list, err := os.ReadFile(filepath.Join(dir, uidlistName))
			require.NoError(t, err)
			for _, k := range tc.kept {
				assert.Regexp(t, "(?m)^"+k+"$", string(list))
			}
			// b, d and e had a P; e's, not a valid unique-id, stays.
			assert.Equal(t, 3+len(tc.kept), strings.Count(string(list), " P"),
				"only the messages that must keep theirs get a P:\n%s", list)
			// Once the messages that took the others' own unique-ids are
			// gone, the others keep what they showed.
			for _, name := range []string{"b", "c"} {
				require.NoError(t, os.Remove(filepath.Join(dir, "cur", name+":2,")))
			}
			var want []string
			for i, u := range tc.want {
				if i != 1 && i != 2 {
					want = append(want, u)
				}
			}
			if tc.name == "duplicates" {
				// The one exception: e, whose P is not a valid unique-id,
				// keeps that P (Dovecot shows it), so what it shows
				// instead is not kept.
				want[2] = "x-2"
			}
			assert.Equal(t, want, syncedUIDLs(t, dir, tc.settings), "after b and c are gone")
		})
	}
}

// With save, every message's unique-id becomes its P record, once; a
// later listing with another format shows the same unique-ids.
func TestSaveUIDLsWritesRecords(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Maildir")
	writeMaildir(t, dir, []string{"1 :a", "2 Pkept :b", "3 :c"}, map[string]string{"a": "a\n", "b": "b\n", "c": "c\n", "d": "new file\n"})
	first := syncedUIDLs(t, dir, &uidlSettings{format: mustFormat(t, "uw"), save: true})
	assert.Equal(t, []string{"6553f17b00000001", "kept", "6553f17b00000003", "6553f17b00000064"}, first)
	list, err := os.ReadFile(filepath.Join(dir, uidlistName))
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^1 .*P6553f17b00000001.* :a$`, string(list))
	assert.Regexp(t, `(?m)^2 Pkept .*:b$`, string(list))
	assert.Regexp(t, `(?m)^3 .*P6553f17b00000003 :c$`, string(list))
	assert.Regexp(t, `(?m)^100 .*P6553f17b00000064 :d$`, string(list))

	st, err := os.Stat(filepath.Join(dir, uidlistName))
	require.NoError(t, err)
	assert.Equal(t, first, syncedUIDLs(t, dir, &uidlSettings{format: mustFormat(t, "%v.%u"), save: true}))
	again, err := os.Stat(filepath.Join(dir, uidlistName))
	require.NoError(t, err)
	assert.Equal(t, st.ModTime(), again.ModTime(), "nothing left to save: the list is not written again")
	assert.Equal(t, first, syncedUIDLs(t, dir, nil), "the default settings show the kept ones")
}

func mustFormat(t *testing.T, s string) *uidlFormat {
	t.Helper()
	f, err := parseUIDLFormat(s)
	require.NoError(t, err)
	return f
}

func FuzzUIDLFormat(f *testing.F) {
	for _, s := range []string{"%08Xu%08Xv", "%v.%u", "%-4.4f", "%2.-2f", "%100Hf", "%LUMEXRTNDf", "%{uid}", "%%%u", "%-0.-0g"} {
		f.Add(s, "1700000000.M1P1.host,S=1", uint32(7))
	}
	f.Fuzz(func(t *testing.T, format, filename string, uid uint32) {
		p, err := parseUIDLFormat(format)
		if err != nil {
			return
		}
		v := uidlValues{uidValidity: 1700000123, uid: uid, md5: "0123456789abcdef0123456789abcdef", filename: filename, guid: filename}
		_ = p.expand(&v) // never panics, whatever the widths and offsets
	})
}

// A unique-id that stands in for one that could not be computed (the
// header of a message could not be read, here a symbolic link, which is
// never followed) is not cached: the next session computes it again.
func TestStandInUIDLNotCached(t *testing.T) {
	b, dirs := cacheBackend(t, 1, 1, WithReuseXUIDL(), WithLogger(slog.New(slog.DiscardHandler)))
	dir := dirs[0]
	target := filepath.Join(t.TempDir(), "elsewhere")
	require.NoError(t, os.WriteFile(target, []byte("X-UIDL: linked\n\nx\n"), 0o600))
	require.NoError(t, os.Symlink(target, filepath.Join(dir, "cur", "1700000000.M9P9.link,S=18,W=21:2,")))
	settleMaildir(t, dir)
	require.Len(t, listUIDLs(t, b, 1), 2) // gives the link its UID
	settleMaildir(t, dir)
	require.Len(t, listUIDLs(t, b, 1), 2)
	plantHidden(t, dir)
	assert.Len(t, listUIDLs(t, b, 1), 3, "the listing with a stand-in unique-id was not cached")
}
