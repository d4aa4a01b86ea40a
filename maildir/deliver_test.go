package maildir

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
)

// deliveredName is the name of a delivered file in new/.
var deliveredName = regexp.MustCompile(`^\d+\.M\d+P\d+\.[^,/]+,S=(\d+),W=(\d+),D=(\d+)$`)

// dirNames lists the names in dir/sub.
func dirNames(t testing.TB, dir, sub string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, sub))
	require.NoError(t, err)
	names := []string{}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// servedCRLF is what a message of content msg is served as.
func servedCRLF(t testing.TB, msg []byte) []byte {
	t.Helper()
	out, err := io.ReadAll(pop3.NewCRLFReader(bytes.NewReader(msg)))
	require.NoError(t, err)
	return out
}

// checkDelivered checks the one file that a delivery of msg left in dir
// and returns its content.
func checkDelivered(t testing.TB, dir string, msg []byte) []byte {
	t.Helper()
	assert.Empty(t, dirNames(t, dir, "tmp"), "tmp/ is left empty")
	assert.Empty(t, dirNames(t, dir, "cur"))
	names := dirNames(t, dir, "new")
	require.Len(t, names, 1)
	m := deliveredName.FindStringSubmatch(names[0])
	require.NotNil(t, m, "the name %q is a Maildir delivery name", names[0])
	stored, err := os.ReadFile(filepath.Join(dir, "new", names[0]))
	require.NoError(t, err)

	s, err := strconv.ParseInt(m[1], 10, 64)
	require.NoError(t, err)
	w, err := strconv.ParseInt(m[2], 10, 64)
	require.NoError(t, err)
	assert.Equal(t, int64(len(stored)), s, "S= is the size of the file")
	crlfSize, err := pop3.CRLFSize(bytes.NewReader(msg))
	require.NoError(t, err)
	assert.Equal(t, crlfSize, w, "W= is pop3.CRLFSize of the message")

	want := servedCRLF(t, msg)
	served := servedCRLF(t, stored)
	assert.True(t, bytes.Equal(want, served), "the file is served as the message would be: %q, want %q", head(served), head(want))
	assert.Equal(t, int64(len(served)), w, "W= is what is served")
	size, ok := sizeFromName(baseName(names[0]))
	assert.True(t, ok)
	assert.Equal(t, w, size, "sizeFromName reads W=")
	return stored
}

func head(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// megabyte is 1 MiB of lines with every kind of line end.
func megabyte() []byte {
	r := rand.New(rand.NewPCG(5, 6))
	var b bytes.Buffer
	ends := []string{"\n", "\r\n", "\r", "\r\r\n", "\n\n"}
	for b.Len() < 1<<20 {
		b.WriteString(strings.Repeat("x", r.IntN(100)))
		if r.IntN(10) == 0 {
			b.WriteString(".")
		}
		b.WriteString(ends[r.IntN(len(ends))])
	}
	return b.Bytes()[:1<<20]
}

func TestDeliver(t *testing.T) {
	big := megabyte()
	for _, tc := range []struct {
		name   string
		msg    []byte
		stored []byte // the file; nil to check the line ends only
	}{
		{"LF", []byte("Subject: a\n\nbody\n"), []byte("Subject: a\n\nbody\n")},
		{"CRLF", []byte("Subject: a\r\n\r\nbody\r\n"), []byte("Subject: a\n\nbody\n")},
		{"mixed", []byte("Subject: a\r\nX: y\n\r\nbody\nmore\r\n"), []byte("Subject: a\nX: y\n\nbody\nmore\n")},
		{"no final newline", []byte("Subject: a\n\nno newline"), []byte("Subject: a\n\nno newline\n")},
		{"no final newline after CRLF", []byte("a\r\nb"), []byte("a\nb\n")},
		{"CR CR LF", []byte("a\r\r\nb\r\n"), []byte("a\r\r\r\nb\n")}, // kept as served: Dovecot sends it as it is
		{"lone CR", []byte("a\rb\n"), []byte("a\rb\n")},
		{"lone CR at the end", []byte("a\nb\r"), []byte("a\nb\n")},
		{"CR run", []byte("a\r\r\r\r\n"), nil},
		{"dots", []byte(".\n..\n.x\n"), []byte(".\n..\n.x\n")},
		{"NUL octets", []byte("a\x00b\n\x00\n"), []byte("a\x00b\n\x00\n")},
		{"only a newline", []byte("\n"), []byte("\n")},
		{"only CRLF", []byte("\r\n"), []byte("\n")},
		{"empty", []byte{}, []byte{}},
		{"1 MiB", big, nil},
		{"1 MiB, CRLF", bytes.ReplaceAll(bytes.ReplaceAll(big, []byte("\r"), nil), []byte("\n"), []byte("\r\n")), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := makeMaildir(t)
			require.NoError(t, deliver(context.Background(), dir, bytes.NewReader(tc.msg), owner{}))
			stored := checkDelivered(t, dir, tc.msg)
			if tc.stored != nil {
				assert.Equal(t, tc.stored, stored)
			}
			if len(tc.msg) > 0 {
				assert.True(t, bytes.HasSuffix(stored, []byte("\n")), "the file ends in LF")
			}
			if !bytes.Contains(tc.msg, []byte("\r")) {
				assert.Equal(t, tc.msg, stored[:len(tc.msg)], "an LF message is stored as it is")
			}
			if !bytes.Contains(bytes.ReplaceAll(tc.msg, []byte("\r\n"), nil), []byte("\r")) {
				assert.NotContains(t, string(stored), "\r", "CRLF line ends are stored as LF")
			}
		})
	}
}

// The writes of a reader that returns one octet at a time split every CR
// from its LF; the file is the same.
func TestDeliverOneOctetAtATime(t *testing.T) {
	msg := []byte("a\r\nb\r\r\nc\rd\r\n\r\n.\r\ne\r")
	dir := makeMaildir(t)
	require.NoError(t, deliver(context.Background(), dir, &oneByteReader{r: bytes.NewReader(msg)}, owner{}))
	stored := checkDelivered(t, dir, msg)
	other := makeMaildir(t)
	require.NoError(t, deliver(context.Background(), other, bytes.NewReader(msg), owner{}))
	assert.Equal(t, dirFile(t, other), stored)
}

type oneByteReader struct{ r io.Reader }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

// dirFile is the content of the one file in new/.
func dirFile(t *testing.T, dir string) []byte {
	t.Helper()
	names := dirNames(t, dir, "new")
	require.Len(t, names, 1)
	data, err := os.ReadFile(filepath.Join(dir, "new", names[0]))
	require.NoError(t, err)
	return data
}

func TestDeliverFileMode(t *testing.T) {
	dir := makeMaildir(t)
	require.NoError(t, deliver(context.Background(), dir, strings.NewReader("x\n"), owner{}))
	st, err := os.Stat(filepath.Join(dir, "new", dirNames(t, dir, "new")[0]))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

// contentIndex reads back "<goroutine> <index>" from a delivered file.
func contentIndex(t *testing.T, dir, name string) (g, i int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "new", name))
	require.NoError(t, err)
	_, err = fmt.Sscanf(string(data), "%d %d\n", &g, &i)
	require.NoError(t, err, "%q", data)
	return g, i
}

func TestDeliverManyInOrder(t *testing.T) {
	const n = 1000
	dir := makeMaildir(t)
	ctx := context.Background()
	for i := range n {
		require.NoError(t, deliver(ctx, dir, strings.NewReader(fmt.Sprintf("0 %d\n", i)), owner{}))
	}
	names := dirNames(t, dir, "new")
	require.Len(t, names, n, "every delivery has its own name")
	assert.Empty(t, dirNames(t, dir, "tmp"))
	slices.SortFunc(names, compareFileNames)
	for pos, name := range names {
		assert.Regexp(t, deliveredName, name)
		_, i := contentIndex(t, dir, name)
		require.Equal(t, pos, i, "compareFileNames sorts %q in delivery order", name)
	}
}

func TestDeliverManyConcurrently(t *testing.T) {
	const goroutines, each = 8, 125
	dir := makeMaildir(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := deliver(ctx, dir, strings.NewReader(fmt.Sprintf("%d %d\n", g, i)), owner{}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	names := dirNames(t, dir, "new")
	require.Len(t, names, goroutines*each, "every delivery has its own name")
	assert.Empty(t, dirNames(t, dir, "tmp"))
	slices.SortFunc(names, compareFileNames)
	last := make([]int, goroutines)
	for g := range last {
		last[g] = -1
	}
	seen := make(map[[2]int]bool)
	for _, name := range names {
		g, i := contentIndex(t, dir, name)
		require.False(t, seen[[2]int{g, i}], "message %d %d once", g, i)
		seen[[2]int{g, i}] = true
		require.Greater(t, i, last[g], "each goroutine's deliveries sort in their order")
		last[g] = i
	}
	assert.Len(t, seen, goroutines*each)
}

func TestDeliverCancelled(t *testing.T) {
	dir := makeMaildir(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := deliver(ctx, dir, strings.NewReader("Subject: x\n\nx\n"), owner{})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, dirNames(t, dir, "new"))
	assert.Empty(t, dirNames(t, dir, "tmp"))
}

// A context cancelled while the message is read: nothing is delivered and
// the file in tmp/ is removed.
func TestDeliverCancelledWhileReading(t *testing.T) {
	dir := makeMaildir(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := &funcReader{r: strings.NewReader("Subject: x\n\nx\n"), atEOF: cancel}
	err := deliver(ctx, dir, r, owner{})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, dirNames(t, dir, "new"))
	assert.Empty(t, dirNames(t, dir, "tmp"))
}

// funcReader reads r and calls atEOF when it reaches its end.
type funcReader struct {
	r     io.Reader
	atEOF func()
}

func (f *funcReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF && f.atEOF != nil {
		f.atEOF()
		f.atEOF = nil
	}
	return n, err
}

var errMidway = errors.New("connection lost")

// failingReader yields n octets of content and then fails.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errMidway
	}
	k := min(len(p), f.n)
	for i := range k {
		p[i] = "line\n"[i%5]
	}
	f.n -= k
	return k, nil
}

func TestDeliverReaderFails(t *testing.T) {
	for _, n := range []int{0, 10, 100 << 10} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			dir := makeMaildir(t)
			err := deliver(context.Background(), dir, &failingReader{n: n}, owner{})
			assert.ErrorIs(t, err, errMidway)
			assert.Empty(t, dirNames(t, dir, "new"), "nothing is delivered")
			assert.Empty(t, dirNames(t, dir, "tmp"), "the partial file is removed")
		})
	}
}

func TestDeliverWithoutMaildir(t *testing.T) {
	err := deliver(context.Background(), filepath.Join(t.TempDir(), "none"), strings.NewReader("x\n"), owner{})
	assert.Error(t, err)
}

func TestEnsureMaildir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "Maildir")
	require.NoError(t, ensureMaildir(dir, owner{}))
	for _, sub := range []string{"cur", "new", "tmp"} {
		st, err := os.Stat(filepath.Join(dir, sub))
		require.NoError(t, err)
		assert.True(t, st.IsDir())
	}
	require.NoError(t, ensureMaildir(dir, owner{}), "again is fine")
}

func TestUniqueBaseNameAndHostname(t *testing.T) {
	assert.NotContains(t, hostname, "/")
	assert.NotContains(t, hostname, ":")
	assert.NotContains(t, hostname, ",")
	a, b := uniqueBaseName(), uniqueBaseName()
	assert.NotEqual(t, a, b)
	assert.Equal(t, -1, compareFileNames(a, b))
	assert.Regexp(t, `^\d+\.M\d{1,6}P`+strconv.Itoa(os.Getpid())+`\.`+regexp.QuoteMeta(hostname)+`$`, a)
}
