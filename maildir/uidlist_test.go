package maildir

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dovecotUIDList is a dovecot-uidlist as Dovecot 2.3 writes it: the header,
// a record with W, one with O, P and W, one with a bare P and W, and one
// that an LDA appended (sizes in the name).
const dovecotUIDList = "3 V1795514794 N5 Gcb072e2fb262056b754c000083ecc375\n" +
	"1 W51 :1700000000.M0P0.host1\n" +
	"2 O3 Pcustom-uidl-A W23 :1700000002.M1P1.h\n" +
	"3 P W23 :1700000005.M1P1.h\n" +
	"4 :1795514813.M430815P18014.vm,S=51,W=55\n"

func marshalString(t *testing.T, l *uidlist) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, l.marshal(&b))
	return b.String()
}

func recordUIDs(l *uidlist) []uint32 {
	uids := []uint32{}
	for _, r := range l.records {
		uids = append(uids, r.uid)
	}
	return uids
}

func TestParseUIDListDovecotV3RoundTrip(t *testing.T) {
	l, problems, err := parseUIDList([]byte(dovecotUIDList))
	require.NoError(t, err)
	assert.Empty(t, problems)
	assert.Equal(t, uint32(1795514794), l.uidValidity)
	assert.Equal(t, uint32(5), l.nextUID)
	assert.Equal(t, "cb072e2fb262056b754c000083ecc375", l.guid)
	assert.Empty(t, l.extraHeader)
	require.Len(t, l.records, 4)

	want := []record{
		{uid: 1, ext: []string{"W51"}, base: "1700000000.M0P0.host1"},
		{uid: 2, ext: []string{"O3", "Pcustom-uidl-A", "W23"}, base: "1700000002.M1P1.h"},
		{uid: 3, ext: []string{"P", "W23"}, base: "1700000005.M1P1.h"},
		{uid: 4, base: "1795514813.M430815P18014.vm,S=51,W=55"},
	}
	assert.Equal(t, want, l.records)

	o, ok := l.records[1].extension(extPOP3Order)
	assert.True(t, ok)
	assert.Equal(t, "3", o)
	p, ok := l.records[2].extension(extPOP3UIDL)
	assert.True(t, ok, "a bare P is an extension with an empty value")
	assert.Equal(t, "", p)
	_, ok = l.records[3].extension(extVirtualSize)
	assert.False(t, ok)

	assert.Equal(t, dovecotUIDList, marshalString(t, l), "parse then marshal gives Dovecot's bytes back")
}

// Header fields this package does not know are kept and written after G,
// as Dovecot does.
func TestParseUIDListKeepsUnknownHeaderFields(t *testing.T) {
	in := "3 V1000 N2 G0123456789abcdef0123456789abcdef Xfoo Pbar\n1 :a\n"
	l, problems, err := parseUIDList([]byte(in))
	require.NoError(t, err)
	assert.Empty(t, problems)
	assert.Equal(t, []string{"Xfoo", "Pbar"}, l.extraHeader)
	assert.Equal(t, in, marshalString(t, l))
}

// Keys may come in any order; a header without G gets a new GUID.
func TestParseUIDListHeaderOrderAndMissingGUID(t *testing.T) {
	l, _, err := parseUIDList([]byte("3 N7 V42\n"))
	require.NoError(t, err)
	assert.Equal(t, uint32(42), l.uidValidity)
	assert.Equal(t, uint32(7), l.nextUID)
	assert.Regexp(t, `^[0-9a-f]{32}$`, l.guid)
}

func TestParseUIDListVersion1(t *testing.T) {
	l, problems, err := parseUIDList([]byte("1 1234 5\n1 1700000000.M0P0.host1:2,S\n3 1700000001.M1P1.host1\n"))
	require.NoError(t, err)
	assert.Empty(t, problems)
	assert.Equal(t, uint32(1234), l.uidValidity)
	assert.Equal(t, uint32(5), l.nextUID)
	assert.Regexp(t, `^[0-9a-f]{32}$`, l.guid, "a version 1 list gets a GUID")
	assert.Equal(t, []record{
		{uid: 1, base: "1700000000.M0P0.host1"},
		{uid: 3, base: "1700000001.M1P1.host1"},
	}, l.records)
	assert.Equal(t, "3 V1234 N5 G"+l.guid+"\n1 :1700000000.M0P0.host1\n3 :1700000001.M1P1.host1\n",
		marshalString(t, l), "it is written back as version 3")
}

// Dovecot appends records without updating N: the next UID follows the
// last record, and that is no problem.
func TestParseUIDListLaggingNextUID(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		next uint32
	}{
		{"N1 with three records", "3 V1795514794 N1 Gcc17ce16aa61056ba945000083ecc375\n1 :a\n2 :b\n3 :c\n", 4},
		{"N4 with record 9", "3 V1 N4 G0123456789abcdef0123456789abcdef\n1 :a\n9 :b\n", 10},
		{"N ahead of the records", "3 V1 N100 G0123456789abcdef0123456789abcdef\n1 :a\n", 100},
		{"N0 and no records", "3 V1 N0 G0123456789abcdef0123456789abcdef\n", 1},
		{"version 1 lagging", "1 77 2\n5 x\n", 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, problems, err := parseUIDList([]byte(tc.in))
			require.NoError(t, err)
			assert.Empty(t, problems)
			assert.Equal(t, tc.next, l.nextUID)
		})
	}
}

func TestParseUIDListBadRecords(t *testing.T) {
	const header = "3 V1000 N9 G0123456789abcdef0123456789abcdef\n"
	for _, tc := range []struct {
		name     string
		records  string
		uids     []uint32
		badLines []int // line numbers reported, the header being line 1
	}{
		{"out of order", "1 :a\n3 :c\n2 :b\n4 :d\n", []uint32{1, 3, 4}, []int{4}},
		{"duplicate UID", "1 :a\n2 :b\n2 :b2\n3 :c\n", []uint32{1, 2, 3}, []int{4}},
		{"no colon", "1 :a\n2 W5 b\n3 :c\n", []uint32{1, 3}, []int{3}},
		{"no file name after the colon", "1 :a\n2 W5 :\n3 :c\n", []uint32{1, 3}, []int{3}},
		{"only extensions", "1 :a\n2 W5\n3 :c\n", []uint32{1, 3}, []int{3}},
		{"uid 0", "0 :zero\n1 :a\n", []uint32{1}, []int{2}},
		{"negative uid", "-1 :a\n1 :b\n", []uint32{1}, []int{2}},
		{"uid beyond 32 bits", "4294967296 :a\n1 :b\n", []uint32{1}, []int{2}},
		{"garbage", "1 :a\nhello world\n\x00\x01\x02\n2 :b\n", []uint32{1, 2}, []int{3, 4}},
		{"empty line", "1 :a\n\n2 :b\n", []uint32{1, 2}, []int{3}},
		{"uid without anything", "1 :a\n2\n3 :c\n", []uint32{1, 3}, []int{3}},
		{"slash in the name", "1 :a\n2 :x/y\n3 :c\n", []uint32{1, 3}, []int{3}},
		{"NUL in the name", "1 :a\n2 :x\x00y\n3 :c\n", []uint32{1, 3}, []int{3}},
		{"several", "5 :e\n1 :a\nxx\n6 :f\n6 :g\n7 f\n8 :h\n", []uint32{5, 6, 8}, []int{3, 4, 6, 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, problems, err := parseUIDList([]byte(header + tc.records))
			require.NoError(t, err, "bad records do not fail the header")
			assert.Equal(t, tc.uids, recordUIDs(l))
			require.Len(t, problems, len(tc.badLines), "problems: %q", problems)
			for i, line := range tc.badLines {
				assert.True(t, strings.HasPrefix(problems[i], fmt.Sprintf("line %d:", line)),
					"problem %q names line %d", problems[i], line)
			}
			assert.Equal(t, uint32(9), l.nextUID)
		})
	}
}

// Dovecot refuses a record of UID 4294967295 ("UID too high", it cannot
// have a next UID); the next UID must in any case be above every record.
func TestParseUIDListHighestUID(t *testing.T) {
	l, problems, err := parseUIDList([]byte("3 V1 N5 G0123456789abcdef0123456789abcdef\n1 :a\n4294967295 :b\n"))
	require.NoError(t, err)
	assert.Len(t, problems, 1, "the record of UID 4294967295 is refused")
	for _, r := range l.records {
		assert.Less(t, r.uid, l.nextUID, "every record is below the next UID")
	}
	assert.NotZero(t, l.nextUID)
}

func TestParseUIDListBadHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		uids []uint32 // records kept; nil for no list at all
	}{
		{"empty file", "", nil},
		{"just a newline", "\n", []uint32{}},
		{"garbage", "garbage here\n1 :a\n2 :b\n", []uint32{1, 2}},
		{"version 2", "2 1234 5\n1 :a\n", []uint32{1}},
		{"version 4", "4 V1 N1\n", []uint32{}},
		{"no V", "3 N5 G0123456789abcdef0123456789abcdef\n1 :a\n", []uint32{1}},
		{"V0", "3 V0 N5\n1 :a\n", []uint32{1}},
		{"V not a number", "3 Vx N5\n1 :a\n", []uint32{1}},
		{"N not a number", "3 V1 N-1\n1 :a\n", []uint32{1}},
		{"V beyond 32 bits", "3 V4294967296 N1\n1 :a\n", []uint32{1}},
		{"version 1 with two fields", "1 1234\n", []uint32{}},
		{"version 1 with letters", "1 V1 N2\n", []uint32{}},
		{"blank first line", "   \n1 :a\n", []uint32{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _, err := parseUIDList([]byte(tc.in))
			require.Error(t, err)
			assert.ErrorIs(t, err, errUIDListHeader)
			if tc.uids == nil {
				assert.Nil(t, l)
				return
			}
			require.NotNil(t, l, "the records are returned with the header error")
			assert.Equal(t, tc.uids, recordUIDs(l), "the records keep their UIDs")
			if len(tc.uids) > 0 {
				assert.Equal(t, tc.uids[len(tc.uids)-1]+1, l.nextUID)
			}
		})
	}
}

// A last line without its line end is read when it parses and left out
// (with a problem) when it does not.
func TestParseUIDListUnterminatedLastLine(t *testing.T) {
	const header = "3 V1 N1 G0123456789abcdef0123456789abcdef\n"
	l, problems, err := parseUIDList([]byte(header + "1 :a\n2 W7 :b"))
	require.NoError(t, err)
	assert.Empty(t, problems)
	assert.Equal(t, []uint32{1, 2}, recordUIDs(l))
	assert.Equal(t, "b", l.records[1].base)
	assert.Equal(t, uint32(3), l.nextUID)

	l, problems, err = parseUIDList([]byte(header + "1 :a\n2 W7"))
	require.NoError(t, err)
	assert.Equal(t, []uint32{1}, recordUIDs(l))
	assert.Len(t, problems, 1)

	l, problems, err = parseUIDList([]byte("3 V9 N3 G0123456789abcdef0123456789abcdef"))
	require.NoError(t, err, "a header alone without its line end")
	assert.Empty(t, problems)
	assert.Equal(t, uint32(9), l.uidValidity)
}

func TestRecordSetExtension(t *testing.T) {
	r := record{uid: 1, ext: []string{"O3", "W10"}, base: "a"}
	r.setExtension(extVirtualSize, "20")
	assert.Equal(t, []string{"O3", "W20"}, r.ext, "an extension is replaced in place")
	r.setExtension(extPOP3UIDL, "x")
	assert.Equal(t, []string{"O3", "W20", "Px"}, r.ext, "a new one is appended")
	v, ok := r.extension(extPOP3UIDL)
	assert.True(t, ok)
	assert.Equal(t, "x", v)
}

// ---- the lock ----

func lockContent(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, uidlistLockName))
	require.NoError(t, err)
	return string(data)
}

// deadPID is the pid of a process of this host that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	require.NoError(t, cmd.Wait())
	require.False(t, processExists(pid), "the process %d is gone", pid)
	return pid
}

// plantLock writes a lock file with content, last modified age ago.
func plantLock(t *testing.T, dir, content string, age time.Duration) {
	t.Helper()
	path := filepath.Join(dir, uidlistLockName)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	when := time.Now().Add(-age)
	require.NoError(t, os.Chtimes(path, when, when))
}

func TestLockUIDListCommit(t *testing.T) {
	dir := t.TempDir()
	old := "3 V7 N2 G0123456789abcdef0123456789abcdef\n1 :old\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, uidlistName), []byte(old), 0o600))
	// A hard link keeps the old file: the new list must be a new file
	// renamed over it, not the old one rewritten in place.
	require.NoError(t, os.Link(filepath.Join(dir, uidlistName), filepath.Join(dir, "old-link")))

	lock, err := lockUIDList(dir, 0, 0o640, owner{})
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("%d:%s", os.Getpid(), lockHostname), lockContent(t, dir),
		"the lock holds <pid>:<host> while it is held")

	l := &uidlist{uidValidity: 7, nextUID: 3, guid: "0123456789abcdef0123456789abcdef",
		records: []record{{uid: 1, base: "old"}, {uid: 2, ext: []string{"W9"}, base: "new"}}}
	require.NoError(t, lock.commit(l))
	assert.FileExists(t, filepath.Join(dir, uidlistLockName), "the caller releases the lock")
	lock.release()

	data, err := os.ReadFile(filepath.Join(dir, uidlistName))
	require.NoError(t, err)
	assert.Equal(t, "3 V7 N3 G0123456789abcdef0123456789abcdef\n1 :old\n2 W9 :new\n", string(data))
	linked, err := os.ReadFile(filepath.Join(dir, "old-link"))
	require.NoError(t, err)
	assert.Equal(t, old, string(linked), "the old file was replaced by a rename, not rewritten")
	st, err := os.Stat(filepath.Join(dir, uidlistName))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), st.Mode().Perm(), "the new list has the mode asked for")
	assert.NoFileExists(t, filepath.Join(dir, uidlistName+".tmp"))
	assert.NoFileExists(t, filepath.Join(dir, uidlistLockName), "release removes the lock")

	again, err := lockUIDList(dir, 0, 0o600, owner{})
	require.NoError(t, err, "the lock can be taken again")
	again.release()
	assert.NoFileExists(t, filepath.Join(dir, uidlistLockName))
}

// When dovecot-uidlist.tmp cannot be written the old list stays as it was
// and no temporary file is left.
func TestLockUIDListCommitFailureKeepsOldList(t *testing.T) {
	dir := t.TempDir()
	old := "3 V7 N2 G0123456789abcdef0123456789abcdef\n1 :old\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, uidlistName), []byte(old), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, uidlistName+".tmp", "blocker"), 0o700))

	lock, err := lockUIDList(dir, 0, 0o600, owner{})
	require.NoError(t, err)
	err = lock.commit(&uidlist{uidValidity: 7, nextUID: 9, guid: "x"})
	assert.Error(t, err)
	lock.release()
	data, rerr := os.ReadFile(filepath.Join(dir, uidlistName))
	require.NoError(t, rerr)
	assert.Equal(t, old, string(data))
	assert.NoFileExists(t, filepath.Join(dir, uidlistLockName))
}

func TestLockUIDListBusy(t *testing.T) {
	dir := t.TempDir()
	first, err := lockUIDList(dir, 0, 0o600, owner{})
	require.NoError(t, err)

	start := time.Now()
	second, err := lockUIDList(dir, 80*time.Millisecond, 0o600, owner{})
	assert.ErrorIs(t, err, errUIDListBusy)
	assert.Nil(t, second)
	assert.GreaterOrEqual(t, time.Since(start), 80*time.Millisecond, "it waited")
	assert.Less(t, time.Since(start), 2*time.Second, "it gave up after about the wait")
	assert.Equal(t, fmt.Sprintf("%d:%s", os.Getpid(), lockHostname), lockContent(t, dir),
		"the waiter left the holder's lock alone")

	// Released while a waiter waits: the waiter gets it.
	done := make(chan error, 1)
	go func() {
		k, err := lockUIDList(dir, 5*time.Second, 0o600, owner{})
		if err == nil {
			k.release()
		}
		done <- err
	}()
	time.Sleep(30 * time.Millisecond)
	first.release()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter did not get the released lock")
	}
}

func TestLockUIDListStaleness(t *testing.T) {
	dead := deadPID(t)
	for _, tc := range []struct {
		name    string
		content string
		age     time.Duration
		broken  bool
	}{
		{"dead pid of this host, 3 s old", fmt.Sprintf("%d:%s", dead, lockHostname), 3 * time.Second, true},
		{"dead pid of this host, just made", fmt.Sprintf("%d:%s", dead, lockHostname), 0, false},
		{"live pid of this host, old", fmt.Sprintf("1:%s", lockHostname), time.Hour, false},
		{"other host, young", fmt.Sprintf("%d:other.example.org", dead), time.Minute, false},
		{"other host, older than the stale time", fmt.Sprintf("%d:other.example.org", dead), uidlistStaleAfter + 10*time.Second, true},
		{"no content, young", "", 10 * time.Second, false},
		{"no content, old", "", uidlistStaleAfter + 10*time.Second, true},
		{"garbage, young", "not a pid", 10 * time.Second, false},
		{"garbage, old", "not a pid", uidlistStaleAfter + 10*time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			plantLock(t, dir, tc.content, tc.age)
			// No wait: a lock that is not broken at once is busy.
			lock, err := lockUIDList(dir, 0, 0o600, owner{})
			if !tc.broken {
				assert.ErrorIs(t, err, errUIDListBusy)
				assert.Equal(t, tc.content, lockContent(t, dir), "the lock is left alone")
				return
			}
			require.NoError(t, err, "a stale lock is broken at once")
			assert.Equal(t, fmt.Sprintf("%d:%s", os.Getpid(), lockHostname), lockContent(t, dir))
			lock.release()
		})
	}
}

// Dovecot overrides a lock older than 2 s that names its own pid ("it's us.
// either we're locking it again, or it's a stale lock file with same pid
// than us"): a restarted container reuses its small pids.
func TestLockUIDListOwnPIDLeftover(t *testing.T) {
	dir := t.TempDir()
	plantLock(t, dir, fmt.Sprintf("%d:%s", os.Getpid(), lockHostname), time.Hour)
	lock, err := lockUIDList(dir, 20*time.Millisecond, 0o600, owner{})
	require.NoError(t, err, "a lock of this pid from an earlier process is broken")
	require.NoError(t, err)
	lock.release()
}

// A stale lock that cannot be removed must not make lockUIDList spin for
// ever: it gives up after its wait like for any other lock.
func TestLockUIDListUnremovableStaleLock(t *testing.T) {
	dir := t.TempDir()
	// A non-empty directory in the lock's place stands for what the
	// process cannot remove (a read-only file system, a Maildir directory
	// it may not write).
	lockPath := filepath.Join(dir, uidlistLockName)
	require.NoError(t, os.MkdirAll(filepath.Join(lockPath, "x"), 0o700))
	old := time.Now().Add(-uidlistStaleAfter - time.Minute)
	require.NoError(t, os.Chtimes(lockPath, old, old))

	done := make(chan error, 1)
	go func() {
		k, err := lockUIDList(dir, 50*time.Millisecond, 0o600, owner{})
		if err == nil {
			k.release()
		}
		done <- err
	}()
	select {
	case err := <-done:
		assert.Error(t, err)
	case <-time.After(time.Second):
		// Let the spinning goroutine finish before reporting.
		require.NoError(t, os.RemoveAll(filepath.Join(lockPath, "x")))
		<-done
		t.Error("lockUIDList did not give up on a stale lock that it cannot remove")
	}
}

// ---- a crash leftover, and newUIDList ----

func discardLogger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, nil))
}

func makeMaildir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, ensureMaildir(dir, owner{}))
	return dir
}

func writeMessage(t *testing.T, dir, sub, name, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, sub, name), []byte(content), 0o600))
}

// A writer that died while it wrote dovecot-uidlist.tmp leaves its lock,
// the partial .tmp and the intact old list: the next sync breaks the lock,
// keeps the old UIDs and replaces the leftovers.
func TestSyncAfterCrashedWriter(t *testing.T) {
	dir := makeMaildir(t)
	writeMessage(t, dir, "cur", "1700000000.M0P0.host1:2,S", "Subject: a\n\nA\n")
	writeMessage(t, dir, "cur", "1700000001.M1P1.host1:2,", "Subject: b\n\nB\n")
	writeMessage(t, dir, "new", "1700000009.M9P9.host1", "Subject: c\n\nC\n")
	oldList := "3 V1000 N3 G0123456789abcdef0123456789abcdef\n" +
		"7 W17 :1700000000.M0P0.host1\n" +
		"8 W17 :1700000001.M1P1.host1\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, uidlistName), []byte(oldList), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, uidlistName+".tmp"), []byte("3 V1000 N10 G0123456789abcdef0123456789abcdef\n7 W15 :17000"), 0o600))
	plantLock(t, dir, fmt.Sprintf("%d:%s", deadPID(t), lockHostname), 3*time.Second)

	var logs bytes.Buffer
	msgs, _, err := syncMaildir(context.Background(), dir, discardLogger(&logs), owner{}, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 3)
	assert.Equal(t, uint32(7), msgs[0].uid)
	assert.Equal(t, "1700000000.M0P0.host1", msgs[0].base)
	assert.Equal(t, "00000007000003e8", msgs[0].uidl)
	assert.Equal(t, uint32(8), msgs[1].uid)
	assert.Equal(t, "00000008000003e8", msgs[1].uidl)
	assert.Equal(t, uint32(9), msgs[2].uid, "the new file gets the next UID after the records")
	assert.Equal(t, "1700000009.M9P9.host1", msgs[2].base)
	assert.Equal(t, int64(17), msgs[2].size, "its size is computed and kept")

	assert.NoFileExists(t, filepath.Join(dir, uidlistLockName))
	assert.NoFileExists(t, filepath.Join(dir, uidlistName+".tmp"))
	data, err := os.ReadFile(filepath.Join(dir, uidlistName))
	require.NoError(t, err)
	assert.Equal(t, "3 V1000 N10 G0123456789abcdef0123456789abcdef\n"+
		"7 W17 :1700000000.M0P0.host1\n"+
		"8 W17 :1700000001.M1P1.host1\n"+
		"9 W17 :1700000009.M9P9.host1\n", string(data))
}

// With nothing to write, a sync takes no lock at all, as Dovecot does, and
// lists the old UIDs whatever the leftovers.
func TestSyncWithLeftoversAndNothingToWrite(t *testing.T) {
	dir := makeMaildir(t)
	writeMessage(t, dir, "cur", "1700000000.M0P0.host1,S=3,W=4:2,S", "ab\n")
	oldList := "3 V1000 N3 G0123456789abcdef0123456789abcdef\n2 :1700000000.M0P0.host1,S=3,W=4\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, uidlistName), []byte(oldList), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, uidlistName+".tmp"), []byte("3 V1"), 0o600))
	plantLock(t, dir, fmt.Sprintf("%d:%s", deadPID(t), lockHostname), 3*time.Second)

	var logs bytes.Buffer
	msgs, _, err := syncMaildir(context.Background(), dir, discardLogger(&logs), owner{}, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, uint32(2), msgs[0].uid)
	assert.Equal(t, int64(4), msgs[0].size)
	data, err := os.ReadFile(filepath.Join(dir, uidlistName))
	require.NoError(t, err)
	assert.Equal(t, oldList, string(data))
	assert.FileExists(t, filepath.Join(dir, uidlistLockName), "no lock was taken, so none was broken")
}

func TestNewUIDList(t *testing.T) {
	t.Run("from dovecot-uidvalidity", func(t *testing.T) {
		for _, content := range []string{"6b0561aa", "6b0561aa\n", "6B0561AA"} {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, uidvalidityName), []byte(content), 0o600))
			l := newUIDList(dir, &uidlistLock{dir: dir, mode: 0o600})
			assert.Equal(t, uint32(0x6b0561ab), l.uidValidity, "%q", content)
			assert.Equal(t, uint32(1), l.nextUID)
			assert.Regexp(t, `^[0-9a-f]{32}$`, l.guid)
			assert.Empty(t, l.records)
			data, err := os.ReadFile(filepath.Join(dir, uidvalidityName))
			require.NoError(t, err)
			assert.Equal(t, "6b0561ab", string(data), "the new value is recorded as Dovecot writes it")
		}
	})
	t.Run("without the file", func(t *testing.T) {
		dir := t.TempDir()
		before := time.Now().Unix()
		l := newUIDList(dir, &uidlistLock{dir: dir, mode: 0o600})
		after := time.Now().Unix()
		assert.GreaterOrEqual(t, int64(l.uidValidity), before)
		assert.LessOrEqual(t, int64(l.uidValidity), after)
		data, err := os.ReadFile(filepath.Join(dir, uidvalidityName))
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("%08x", l.uidValidity), string(data))
		next := newUIDList(dir, &uidlistLock{dir: dir, mode: 0o600})
		assert.Equal(t, l.uidValidity+1, next.uidValidity, "the next list of the Maildir gets one more")
		assert.NotEqual(t, l.guid, next.guid, "each list gets its own GUID")
	})
	t.Run("without recording", func(t *testing.T) {
		dir := t.TempDir()
		l := newUIDList(dir, nil)
		assert.InDelta(t, time.Now().Unix(), int64(l.uidValidity), 2)
		assert.NoFileExists(t, filepath.Join(dir, uidvalidityName))
	})
	t.Run("unreadable content", func(t *testing.T) {
		for _, content := range []string{"", "zz", "00000000", "123456789"} {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, uidvalidityName), []byte(content), 0o600))
			l := newUIDList(dir, nil)
			assert.InDelta(t, time.Now().Unix(), int64(l.uidValidity), 2, "%q falls back to the clock", content)
		}
	})
	t.Run("wrap", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, uidvalidityName), []byte("ffffffff"), 0o600))
		l := newUIDList(dir, &uidlistLock{dir: dir, mode: 0o600})
		assert.NotZero(t, l.uidValidity)
		data, err := os.ReadFile(filepath.Join(dir, uidvalidityName))
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("%08x", l.uidValidity), string(data))
	})
}

// The header that newUIDList makes parses back.
func TestNewUIDListMarshalsAndParses(t *testing.T) {
	l := newUIDList(t.TempDir(), nil)
	l.records = []record{{uid: 1, base: "a"}}
	l.nextUID = 2
	text := marshalString(t, l)
	assert.Regexp(t, regexp.MustCompile(`^3 V`+strconv.FormatUint(uint64(l.uidValidity), 10)+` N2 G[0-9a-f]{32}\n1 :a\n$`), text)
	back, problems, err := parseUIDList([]byte(text))
	require.NoError(t, err)
	assert.Empty(t, problems)
	assert.Equal(t, l, back)
}

// syncMaildir must remove only the lock it holds: once commit has released
// it, another writer may hold dovecot-uidlist.lock, and removing it again
// lets two writers into the list at once.
func TestSyncReleasesTheLockOnce(t *testing.T) {
	const trials = 40
	for trial := 0; trial < trials; trial++ {
		dir := makeMaildir(t)
		var list strings.Builder
		list.WriteString("3 V1000 N1 G0123456789abcdef0123456789abcdef\n")
		for i := 1; i <= 300; i++ {
			name := fmt.Sprintf("1700000000.M%dP1.h,S=2,W=3", i)
			writeMessage(t, dir, "cur", name+":2,", "a\n")
			fmt.Fprintf(&list, "%d :%s\n", i, name)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, uidlistName), []byte(list.String()), 0o600))
		writeMessage(t, dir, "new", "1700000001.M1P1.h,S=2,W=3", "b\n") // something to write

		lockPath := filepath.Join(dir, uidlistLockName)
		stop := make(chan struct{})
		took := make(chan bool, 1) // the other writer took the lock during the sync
		go func() {
			stopped := func() bool {
				select {
				case <-stop:
					return true
				default:
					return false
				}
			}
			for { // wait for the sync to hold the lock
				if _, err := os.Lstat(lockPath); err == nil {
					break
				}
				if stopped() {
					took <- false
					return
				}
			}
			for { // and take it the moment it is released
				f, err := os.OpenFile(lockPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				if err == nil {
					f.WriteString("other writer")
					f.Close()
					break
				}
				if stopped() {
					took <- false
					return
				}
			}
			took <- true
		}()
		var logs bytes.Buffer
		msgs, _, err := syncMaildir(context.Background(), dir, discardLogger(&logs), owner{}, nil)
		close(stop)
		require.NoError(t, err)
		require.Len(t, msgs, 301)
		if !<-took {
			continue
		}
		_, err = os.Lstat(lockPath)
		require.NoError(t, err, "trial %d of %d: the lock another writer took in between was removed", trial+1, trials)
		data, err := os.ReadFile(lockPath)
		require.NoError(t, err)
		assert.Equal(t, "other writer", string(data))
	}
}
