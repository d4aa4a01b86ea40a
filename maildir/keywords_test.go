package maildir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/passwd"
)

// names lists the letters a dovecot-keywords names, as "a=Name".
func (k *keywords) letters() []string {
	var out []string
	for i, n := range k.names {
		if n != "" {
			out = append(out, fmt.Sprintf("%c=%s", 'a'+i, n))
		}
	}
	return out
}

func TestParseKeywords(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       []string
	}{
		{"empty", "", nil},
		{"Dovecot's own", "0 $POP3Deleted\n1 Junk\n", []string{"a=$POP3Deleted", "b=Junk"}},
		{"gaps and order", "25 Last\n3 Fourth\n", []string{"d=Fourth", "z=Last"}},
		{"CRLF", "0 Junk\r\n", []string{"a=Junk"}},
		{"a name with spaces is the rest of the line", "0 a b\n", []string{"a=a b"}},
		{"no space (a .customflags header)", "Junk\n0 Ok\n", []string{"a=Ok"}},
		{"empty name", "0 \n1 Ok\n", []string{"b=Ok"}},
		{"index out of range", "26 No\n99999999999999999999 No\n1 Ok\n", []string{"b=Ok"}},
		{"not digits", "-1 No\n+1 No\n 1 No\nx No\n1 Ok\n", []string{"b=Ok"}},
		{"leading zeros", "007 Seven\n", []string{"h=Seven"}},
		{"a name twice, ignoring case: the first wins", "0 Junk\n1 JUNK\n", []string{"a=Junk"}},
		{"an index twice: the last names it", "0 First\n0 Second\n", []string{"a=Second"}},
		{"last line without LF is ignored", "0 Junk\n1 Cut", []string{"a=Junk"}},
		{"NUL ends the line", "0 Ju\x00nk\n1\x00 No\n", []string{"a=Ju"}},
		{"a line over 1024 octets ends the reading", "0 Ok\n1 " + strings.Repeat("x", 1100) + "\n2 Lost\n", []string{"a=Ok"}},
		{"a line of 1023 octets fits", "0 " + strings.Repeat("x", 1021) + "\n2 Kept\n", []string{"a=" + strings.Repeat("x", 1021), "c=Kept"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, parseKeywords([]byte(tc.data)).letters())
		})
	}
}

func TestKeywordsLookupAndAdd(t *testing.T) {
	k := parseKeywords([]byte("0 Junk\n2 $Label1\n"))
	c, ok := k.letter("junk")
	assert.True(t, ok)
	assert.Equal(t, byte('a'), c, "names are compared ignoring ASCII case, as strcasecmp")
	_, ok = k.letter("$POP3Deleted")
	assert.False(t, ok)
	c, err := k.add("$POP3Deleted")
	require.NoError(t, err)
	assert.Equal(t, byte('b'), c, "the first free letter")
	c, ok = k.letter("$pop3deleted")
	assert.True(t, ok)
	assert.Equal(t, byte('b'), c)
	assert.Equal(t, "0 Junk\n1 $POP3Deleted\n2 $Label1\n", string(k.marshal()))

	var full strings.Builder
	for i := range maxKeywords {
		fmt.Fprintf(&full, "%d k%d\n", i, i)
	}
	k = parseKeywords([]byte(full.String()))
	_, err = k.add("$POP3Deleted")
	assert.ErrorIs(t, err, errKeywordsFull)
	assert.Equal(t, full.String(), string(k.marshal()), "a full file is not changed")

	// Only the ASCII letters fold: the Kelvin sign is not a K.
	k = parseKeywords([]byte("0 Kelvin\n"))
	_, ok = k.letter("\u212aelvin")
	assert.False(t, ok)
}

func TestCheckKeyword(t *testing.T) {
	for _, kw := range []string{"$POP3Deleted", "Junk", "x", "$Label1", "a.b-c_d", "~!#&'+,-./:;<=>?@[^_`|", strings.Repeat("k", 50)} {
		assert.NoError(t, checkKeyword(kw), "%q", kw)
	}
	for _, kw := range []string{"", "\\Deleted", "a b", "a(b", "a)b", "a{b", "a%", "a*", `a"`, "a]", "a\tb", "a\x7f", "é", "a\nb", strings.Repeat("k", 51)} {
		assert.Error(t, checkKeyword(kw), "%q", kw)
	}
}

func TestWithDeletedFlagRefusesABadKeyword(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "passwd")
	require.NoError(t, os.WriteFile(pw, []byte("u1:{PLAIN}pw::::::\n"), 0o600))
	users, err := passwd.OpenFile(pw, nil)
	require.NoError(t, err)
	for _, kw := range []string{"", "\\Deleted", "two words"} {
		_, err := New(filepath.Join(t.TempDir(), "%u"), users, WithDeletedFlag(kw))
		require.Error(t, err, "%q", kw)
		assert.Contains(t, err.Error(), "pop3_deleted_flag")
	}
	_, err = New(filepath.Join(t.TempDir(), "%u"), users, WithDeletedFlag("bad keyword"), WithDeletedFlag("$POP3Deleted"))
	assert.NoError(t, err, "the last option counts")
}

func TestFileFlags(t *testing.T) {
	for name, want := range map[string]string{
		"1.M1P1.host":              "",
		"1.M1P1.host:2,":           "",
		"1.M1P1.host:2,FSa":        "FSa",
		"1.M1P1.host:1,abc":        "",
		"1.M1P1.host:2,Sab,xyz":    "Sab",
		"1.M1:P1.host:2,Sb":        "Sb",
		"1.M1P1.host:2,Sb:2,S":     "S",
		"1.M1P1.host,S=12,W=13:2,": "",
	} {
		assert.Equal(t, want, fileFlags(name), name)
	}
}

// Dovecot's maildir_filename_flags_full_set, as it adds a keyword letter.
func TestWithFlag(t *testing.T) {
	for _, tc := range []struct {
		name string
		flag byte
		want string
	}{
		{"1.M1P1.host", 'a', "1.M1P1.host:2,a"},
		{"1.M1P1.host:2,", 'a', "1.M1P1.host:2,a"},
		{"1.M1P1.host:2,S", 'a', "1.M1P1.host:2,Sa"},
		{"1.M1P1.host:2,FRSTbz", 'c', "1.M1P1.host:2,FRSTbcz"},
		{"1.M1P1.host:2,Sa", 'a', "1.M1P1.host:2,Sa"},
		{"1.M1P1.host:2,aS", 'b', "1.M1P1.host:2,Sab"},           // known flags sorted
		{"1.M1P1.host:2,SSa", 'b', "1.M1P1.host:2,Sab"},          // and written once
		{"1.M1P1.host:2,PS", 'a', "1.M1P1.host:2,PSa"},           // P (passed) is not Dovecot's: kept in place
		{"1.M1P1.host:2,TP", 'a', "1.M1P1.host:2,PTa"},           // T sorted around it
		{"1.M1P1.host:2,S{", 'a', "1.M1P1.host:2,Sa{"},           // an unknown flag after the letters
		{"1.M1P1.host:2,S,extra", 'a', "1.M1P1.host:2,Sa,extra"}, // another flag set is kept
		{"1.M1P1.host:1,junk", 'a', "1.M1P1.host:2,a"},           // an info other than 2, is dropped
		{"1.M1:P1.host:2,S", 'a', "1.M1:P1.host:2,Sa"},           // the last colon
	} {
		assert.Equal(t, tc.want, withFlag(tc.name, tc.flag), "%s + %c", tc.name, tc.flag)
	}
}

func FuzzParseKeywords(f *testing.F) {
	f.Add([]byte("0 $POP3Deleted\n1 Junk\n"))
	f.Add([]byte("25 z\r\n0 a\n0 b\nx y\n\n26 no\n1 JUNK\n"))
	f.Add([]byte("3 a\x00b\n"))
	f.Add([]byte("0 \r\r\n1 x\r\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k := parseKeywords(data)
		for i, n := range k.names {
			if n == "" {
				continue
			}
			require.NotContains(t, n, "\n")
			require.NotContains(t, n, "\x00")
			c, ok := k.letter(n)
			require.True(t, ok, "a named letter's name is found")
			if c != byte('a'+i) {
				// Only when a later line renamed the letter that a name
				// was first given.
				require.NotEqual(t, asciiLower(n), asciiLower(k.names[c-'a']))
			}
		}
		// What it writes, it reads back as it was, as Dovecot would: but
		// for a name that ends in CR (from "0 x\r\r\n"), which loses it.
		again := parseKeywords(k.marshal())
		var want []string
		seen := map[string]bool{}
		for i, n := range k.names {
			n = strings.TrimSuffix(n, "\r")
			if n != "" && !seen[asciiLower(n)] {
				seen[asciiLower(n)] = true
				want = append(want, fmt.Sprintf("%c=%s", 'a'+i, n))
			}
		}
		require.Equal(t, want, again.letters())
	})
}

func FuzzWithFlag(f *testing.F) {
	f.Add("1.M1P1.host:2,FSa", byte('b'))
	f.Add("1.M1P1.host", byte('a'))
	f.Add("1.M1:P1.host:2,PTz{,extra", byte('c'))
	f.Add("x:1,junk", byte('z'))
	f.Fuzz(func(t *testing.T, name string, flag byte) {
		flag = 'a' + flag%maxKeywords
		got := withFlag(name, flag)
		base := name
		if i := strings.LastIndexByte(name, ':'); i >= 0 {
			base = name[:i]
		}
		require.True(t, strings.HasPrefix(got, base+":2,"), "the name before the info is kept: %q", got)
		flags := fileFlags(got)
		require.Equal(t, 1, strings.Count(flags, string(flag)), "the flag once: %q", got)
		var known []byte
		for i := 0; i < len(flags); i++ {
			if isKnownFlag(flags[i]) {
				known = append(known, flags[i])
			}
		}
		require.True(t, slices.IsSorted(known), "known flags in ASCII order: %q", got)
		require.Equal(t, len(slices.Compact(slices.Clone(known))), len(known), "each once: %q", got)
		require.Equal(t, got, withFlag(got, flag), "adding it again changes nothing")
	})
}

// openU1 logs user u1 in and opens the maildrop.
func openU1(t *testing.T, b *Backend) *mailbox {
	t.Helper()
	u, err := b.Login(context.Background(), nil, "u1", "pw")
	require.NoError(t, err)
	box, err := u.Open(context.Background())
	require.NoError(t, err)
	return box.(*mailbox)
}

// deleteAndClose deletes messages of u1 (0-based) and closes the maildrop.
func deleteAndClose(t *testing.T, b *Backend, indexes ...int) error {
	t.Helper()
	box := openU1(t, b)
	defer func() { require.NoError(t, box.Close()) }()
	return box.Delete(context.Background(), indexes)
}

// resettle dates new/, cur/ and dovecot-uidlist back, to another time than
// settleMaildir and earlier calls gave: a listing cached at those times
// must not match again.
func resettle(t *testing.T, dir string) {
	t.Helper()
	resettled++
	old := settledTime.Add(time.Duration(resettled) * time.Second)
	for _, name := range []string{"new", "cur", uidlistName} {
		require.NoError(t, os.Chtimes(filepath.Join(dir, name), old, old))
	}
}

var resettled int

// listedFiles returns the names of u1's message files in listing order.
func listedFiles(t *testing.T, b *Backend) []string {
	t.Helper()
	box := openU1(t, b)
	defer func() { require.NoError(t, box.Close()) }()
	var names []string
	for _, m := range box.msgs {
		names = append(names, filepath.Base(m.path))
	}
	return names
}

// curFiles lists the names in dir's cur/, sorted.
func curFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "cur"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

func readKeywordsFile(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, keywordsName))
	require.NoError(t, err)
	return string(data)
}

// DELE and QUIT with a deleted flag keep the file, renamed with the
// keyword's letter, which dovecot-keywords names; the next sessions do not
// list the message, and a second deletion reuses the letter.
func TestDeletedFlag(t *testing.T) {
	b, dirs := cacheBackend(t, 1, 3, WithDeletedFlag("$POP3Deleted"))
	dir := dirs[0]
	all := listUIDLs(t, b, 1)
	require.Len(t, all, 3)
	before := listedFiles(t, b)

	require.NoError(t, deleteAndClose(t, b, 1))
	assert.ElementsMatch(t, []string{before[0], before[1] + "a", before[2]}, curFiles(t, dir), "no file removed")
	assert.Equal(t, "0 $POP3Deleted\n", readKeywordsFile(t, dir))
	assert.NoFileExists(t, filepath.Join(dir, keywordsLockName))
	assert.NoFileExists(t, filepath.Join(dir, uidlistLockName))
	assert.Equal(t, []string{all[0], all[2]}, listUIDLs(t, b, 1), "the flagged message is not listed")

	// From the cache too, once the Maildir settles.
	resettle(t, dir)
	assert.Equal(t, []string{all[0], all[2]}, listUIDLs(t, b, 1))
	require.NotNil(t, b.cache.byDir[dir], "cached")
	assert.Equal(t, []string{all[0], all[2]}, listUIDLs(t, b, 1), "the cached listing hides it too")

	// RETR and DELE of another message: it is flagged with the same
	// letter, and not marked seen, as Dovecot does not.
	kwInfo, err := os.Stat(filepath.Join(dir, keywordsName))
	require.NoError(t, err)
	box := openU1(t, b)
	r, err := box.Message(context.Background(), 1) // the third message
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, box.Delete(context.Background(), []int{1}))
	require.NoError(t, box.Close())
	assert.ElementsMatch(t, []string{before[0], before[1] + "a", before[2] + "a"}, curFiles(t, dir))
	again, err := os.Stat(filepath.Join(dir, keywordsName))
	require.NoError(t, err)
	assert.True(t, os.SameFile(kwInfo, again), "dovecot-keywords is not rewritten for a keyword it has")
	assert.Equal(t, []string{all[0]}, listUIDLs(t, b, 1))
}

// The keyword takes the first free letter, keeps the other keywords and
// the flags of the file, is found ignoring case, and the last letter works.
func TestDeletedFlagAmongOtherKeywords(t *testing.T) {
	for _, tc := range []struct {
		name, keywords, wantFile, wantFlags string
	}{
		{"after others", "0 Junk\n1 NonJunk\n3 $Label4\n", "0 Junk\n1 NonJunk\n2 $POP3Deleted\n3 $Label4\n", "FSac"},
		{"already there", "0 Junk\n1 $POP3Deleted\n", "0 Junk\n1 $POP3Deleted\n", "FSab"},
		{"in another case", "0 Junk\n7 $pop3deleted\n", "0 Junk\n7 $pop3deleted\n", "FSah"},
		{"the 26th letter", lettersBut(25) + "25 $POP3Deleted\n", lettersBut(25) + "25 $POP3Deleted\n", "FSaz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, dirs := cacheBackend(t, 1, 2, WithDeletedFlag("$POP3Deleted"))
			dir := dirs[0]
			require.NoError(t, os.WriteFile(filepath.Join(dir, keywordsName), []byte(tc.keywords), 0o600))
			files := listedFiles(t, b)
			// An IMAP client flagged the first message \Flagged, \Seen and Junk.
			flagged := files[0] + "FSa"
			require.NoError(t, os.Rename(filepath.Join(dir, "cur", files[0]), filepath.Join(dir, "cur", flagged)))
			require.Len(t, listUIDLs(t, b, 1), 2)

			require.NoError(t, deleteAndClose(t, b, 0))
			assert.Equal(t, tc.wantFile, readKeywordsFile(t, dir))
			assert.Contains(t, curFiles(t, dir), files[0]+tc.wantFlags)
			assert.Len(t, listUIDLs(t, b, 1), 1)
		})
	}
}

// lettersBut is a dovecot-keywords that names every letter below n.
func lettersBut(n int) string {
	var s strings.Builder
	for i := range n {
		fmt.Fprintf(&s, "%d Other%d\n", i, i)
	}
	return s.String()
}

// When all 26 letters name other keywords, DELE and QUIT fail and nothing
// is lost: no file is removed or renamed, and dovecot-keywords is kept.
func TestDeletedFlagWithNoFreeLetter(t *testing.T) {
	b, dirs := cacheBackend(t, 1, 2, WithDeletedFlag("$POP3Deleted"))
	dir := dirs[0]
	full := lettersBut(maxKeywords)
	require.NoError(t, os.WriteFile(filepath.Join(dir, keywordsName), []byte(full), 0o600))
	before := curFiles(t, dir)
	all := listUIDLs(t, b, 1)

	err := deleteAndClose(t, b, 0, 1)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "all 26 keyword letters")
	assert.Contains(t, err.Error(), "they are kept")
	assert.Equal(t, before, curFiles(t, dir))
	assert.Equal(t, full, readKeywordsFile(t, dir))
	assert.Equal(t, all, listUIDLs(t, b, 1))
	assert.NoFileExists(t, filepath.Join(dir, uidlistLockName))
}

// A file that is already gone is not an error; one that cannot be
// renamed is, and the others are flagged all the same.
func TestDeletedFlagFileProblems(t *testing.T) {
	b, dirs := cacheBackend(t, 1, 3, WithDeletedFlag("$POP3Deleted"))
	dir := dirs[0]
	files := listedFiles(t, b)
	box := openU1(t, b)
	require.NoError(t, os.Remove(filepath.Join(dir, "cur", files[0])))
	// The name the second file would get is taken: renaming over it
	// would lose that file.
	blocker := filepath.Join(dir, "cur", files[1]+"a")
	require.NoError(t, os.WriteFile(blocker, []byte("x\n"), 0o600))
	err := box.Delete(context.Background(), []int{0, 1, 2})
	require.NoError(t, box.Close())
	require.Error(t, err)
	assert.Contains(t, err.Error(), strings.TrimSuffix(files[1], ":2,"))
	assert.NotContains(t, err.Error(), strings.TrimSuffix(files[0], ":2,"))
	got := curFiles(t, dir)
	assert.Contains(t, got, files[1], "kept as it was")
	assert.Contains(t, got, files[2]+"a", "flagged all the same")
}

// A file that another program moved since the listing is found and
// flagged; one in new/ moves to cur/ with the letter.
func TestDeletedFlagFindsMovedFiles(t *testing.T) {
	b, dirs := cacheBackend(t, 1, 2, WithDeletedFlag("$POP3Deleted"), WithNoFlagUpdates())
	dir := dirs[0]
	box := openU1(t, b)
	require.Len(t, box.msgs, 2)
	for _, m := range box.msgs {
		require.Equal(t, "new", filepath.Base(filepath.Dir(m.path)), "left in new/")
	}
	// Another program moves the first one to cur/ with \Seen.
	moved := filepath.Join(dir, "cur", box.msgs[0].base+":2,S")
	require.NoError(t, os.Rename(box.msgs[0].path, moved))
	require.NoError(t, box.Delete(context.Background(), []int{0, 1}))
	require.NoError(t, box.Close())
	assert.ElementsMatch(t, []string{box.msgs[0].base + ":2,Sa", box.msgs[1].base + ":2,a"}, curFiles(t, dir))
	assert.Empty(t, listUIDLs(t, b, 1))
}

// A message that an IMAP client flagged with the keyword is not listed; a
// letter that dovecot-keywords does not name (or names otherwise), or a
// Maildir without the file, hides nothing.
func TestDeletedFlagSetByIMAP(t *testing.T) {
	for _, tc := range []struct {
		name, keywords, flags string
		hidden                bool
	}{
		{"flagged", "0 Junk\n1 $POP3Deleted\n", "Sab", true},
		{"flagged, another case", "0 $pop3deleted\n", "a", true},
		{"other keywords only", "0 Junk\n1 $POP3Deleted\n", "Sa", false},
		{"a letter without a name", "0 Junk\n", "b", false},
		{"no dovecot-keywords", "", "ab", false},
		{"a renamed letter", "0 $POP3Deleted\n0 Junk\n", "a", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, dirs := cacheBackend(t, 1, 2, WithDeletedFlag("$POP3Deleted"))
			dir := dirs[0]
			if tc.keywords != "" {
				require.NoError(t, os.WriteFile(filepath.Join(dir, keywordsName), []byte(tc.keywords), 0o600))
			}
			all := listUIDLs(t, b, 1)
			files := listedFiles(t, b)
			require.NoError(t, os.Rename(filepath.Join(dir, "cur", files[1]), filepath.Join(dir, "cur", files[1]+tc.flags)))
			if tc.hidden {
				assert.Equal(t, all[:1], listUIDLs(t, b, 1))
			} else {
				assert.Equal(t, all, listUIDLs(t, b, 1))
			}
		})
	}
	// Without WithDeletedFlag nothing is hidden.
	b, dirs := cacheBackend(t, 1, 2)
	require.NoError(t, os.WriteFile(filepath.Join(dirs[0], keywordsName), []byte("0 $POP3Deleted\n"), 0o600))
	files := curFiles(t, dirs[0])
	require.NoError(t, os.Rename(filepath.Join(dirs[0], "cur", files[0]), filepath.Join(dirs[0], "cur", files[0]+"a")))
	assert.Len(t, listUIDLs(t, b, 1), 2)
}

// The cached listing holds every message, and each session hides the
// flagged ones with the dovecot-keywords of the moment: a letter that
// gets the keyword's name while cur/ is unchanged hides its message.
func TestDeletedFlagListingCache(t *testing.T) {
	b, dirs := cacheBackend(t, 1, 3, WithDeletedFlag("$POP3Deleted"))
	dir := dirs[0]
	kwPath := filepath.Join(dir, keywordsName)
	require.NoError(t, os.WriteFile(kwPath, []byte("0 Junk\n"), 0o600))
	files := listedFiles(t, b)
	require.NoError(t, os.Rename(filepath.Join(dir, "cur", files[2]), filepath.Join(dir, "cur", files[2]+"b")))
	resettle(t, dir)
	all := listUIDLs(t, b, 1)
	require.Len(t, all, 3)
	require.NotNil(t, b.cache.byDir[dir])
	assert.Equal(t, all, listUIDLs(t, b, 1))

	require.NoError(t, os.WriteFile(kwPath, []byte("0 Junk\n1 $POP3Deleted\n"), 0o600))
	assert.Equal(t, all[:2], listUIDLs(t, b, 1))
	require.NotNil(t, b.cache.byDir[dir], "still served from the cache")
	assert.Len(t, b.cache.byDir[dir].infos, 3, "the cache holds the whole listing")

	// A dovecot-keywords that cannot be read fails the session, rather
	// than show deleted messages again.
	require.NoError(t, os.Remove(kwPath))
	require.NoError(t, os.Mkdir(kwPath, 0o700))
	u, err := b.Login(context.Background(), nil, "u1", "pw")
	require.NoError(t, err)
	_, err = u.Open(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), keywordsName)
	require.NoError(t, os.Remove(kwPath))
	assert.Equal(t, all, listUIDLs(t, b, 1), "and the lock is released")
}

// dovecot-keywords is written through dovecot-keywords.lock (one left over
// is replaced), with the Maildir's mode, and a modification time later in
// seconds than the file it replaces, as Dovecot needs to see the change.
func TestWriteKeywords(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o770))
	path := filepath.Join(dir, keywordsName)
	require.NoError(t, os.WriteFile(path, []byte("0 Junk\n"), 0o600))
	future := time.Now().Add(time.Hour).Truncate(time.Second)
	require.NoError(t, os.Chtimes(path, future, future))
	other := filepath.Join(t.TempDir(), "target")
	require.NoError(t, os.WriteFile(other, []byte("not to be written\n"), 0o600))
	// A lock left over, here a planted link, is removed, not written
	// through.
	require.NoError(t, os.Symlink(other, filepath.Join(dir, keywordsLockName)))

	k, err := readKeywords(dir)
	require.NoError(t, err)
	_, err = k.add("$POP3Deleted")
	require.NoError(t, err)
	require.NoError(t, writeKeywords(dir, k, owner{}))
	assert.Equal(t, "0 Junk\n1 $POP3Deleted\n", readKeywordsFile(t, dir))
	data, err := os.ReadFile(other)
	require.NoError(t, err)
	assert.Equal(t, "not to be written\n", string(data))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), fi.Mode().Perm(), "the Maildir's mode without x, whatever the umask")
	assert.Equal(t, future.Unix()+1, fi.ModTime().Unix(), "one second later than the file it replaced")
	assert.NoFileExists(t, filepath.Join(dir, keywordsLockName))

	// A link planted at dovecot-keywords is replaced, not followed, and
	// not read.
	require.NoError(t, os.Remove(path))
	require.NoError(t, os.Symlink(other, path))
	_, err = readKeywords(dir)
	require.Error(t, err)
	require.NoError(t, writeKeywords(dir, k, owner{}))
	data, err = os.ReadFile(other)
	require.NoError(t, err)
	assert.Equal(t, "not to be written\n", string(data))
	assert.Equal(t, "0 Junk\n1 $POP3Deleted\n", readKeywordsFile(t, dir))
}

// With no flag updates, opening the maildrop leaves new/ as it is and RETR
// marks nothing seen; the listing is cached all the same, and stays right
// when the files change.
func TestNoFlagUpdates(t *testing.T) {
	b, dirs := cacheBackend(t, 1, 2, WithNoFlagUpdates())
	dir := dirs[0]
	newFiles := func() []string {
		entries, err := os.ReadDir(filepath.Join(dir, "new"))
		require.NoError(t, err)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	delivered := newFiles()
	require.Len(t, delivered, 2, "cacheBackend's session left them in new/")
	assert.Empty(t, curFiles(t, dir))

	box := openU1(t, b)
	for i := range box.Messages() {
		r, err := box.Message(context.Background(), i)
		require.NoError(t, err)
		require.NoError(t, r.Close())
	}
	require.NoError(t, box.Close())
	assert.Equal(t, delivered, newFiles(), "no S, no move to cur/")
	assert.Empty(t, curFiles(t, dir))

	all := listUIDLs(t, b, 1)
	require.NotNil(t, b.cache.byDir[dir], "a listing with files in new/ is cached")
	plantHidden(t, dir)
	assert.Equal(t, all, listUIDLs(t, b, 1), "served from the cache")

	// Another program (Dovecot's IMAP) moves a message to cur/: the cached
	// listing is not used, and the file is read where it is.
	now := time.Now()
	require.NoError(t, os.Rename(filepath.Join(dir, "new", delivered[0]), filepath.Join(dir, "cur", delivered[0]+":2,S")))
	require.NoError(t, os.Chtimes(filepath.Join(dir, "new"), now, now))
	box = openU1(t, b)
	assert.Len(t, box.Messages(), 3, "the planted file is seen now")
	for i := range box.Messages() {
		r, err := box.Message(context.Background(), i)
		require.NoError(t, err)
		require.NoError(t, r.Close())
	}
	require.NoError(t, box.Close())
	assert.Contains(t, curFiles(t, dir), delivered[0]+":2,S")
	assert.Equal(t, delivered[1:], newFiles())
}
