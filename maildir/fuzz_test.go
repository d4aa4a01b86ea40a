package maildir

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
)

// FuzzParseUIDList: parseUIDList never panics, and a list that parses is a
// fixed point of marshal and parse.
func FuzzParseUIDList(f *testing.F) {
	for _, seed := range []string{
		dovecotUIDList,
		"",
		"\n",
		"3 V1795514794 N1 Gcc17ce16aa61056ba945000083ecc375\n1 :a\n2 :b\n3 :c\n",
		"3 V1000 N10 G0123456789abcdef0123456789abcdef\n2 O3 Pcustom-uidl-A :170000002.M1P1.h\n5 P :170000005.M1P1.h\n7 O1 :170000007.M1P1.h\n9 :170000009.M1P1.h\n",
		"3 V1000 N2 G0123456789abcdef0123456789abcdef Xfoo\n1 W5  :a:2,S\n",
		"1 1234 5\n1 1700000000.M0P0.host1:2,S\n3 file2\n",
		"1 1234 5\n1  leading space:2,\n",
		"3 V1 N5 G0123456789abcdef0123456789abcdef\n1 :a\n4294967295 :b\n",
		"3 V1 N1 G0123456789abcdef0123456789abcdef\n1 :a\n2 W7 :b",
		"3 V1 N9\n2 :b\n1 :a\n2 :c\n0 :z\nx\n5 W1\n6 :x/y\n",
		"2 1234 5\n1 :a\n",
		"3 N7 V42\n",
		"3\tV1\u00a0N2 G\r\n1 :a\r\n",
		"garbage\n1 :a\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, problems, err := parseUIDList(data)
		if err != nil {
			require.ErrorIs(t, err, errUIDListHeader)
			return
		}
		require.NotNil(t, l)
		assert.NotZero(t, l.uidValidity)
		for i, r := range l.records {
			assert.NotZero(t, r.uid)
			assert.NotEmpty(t, r.base)
			if i > 0 {
				assert.Greater(t, r.uid, l.records[i-1].uid, "records ascend")
			}
		}
		_ = problems

		var first bytes.Buffer
		require.NoError(t, l.marshal(&first))
		again, problems, err := parseUIDList(first.Bytes())
		require.NoError(t, err, "the marshalled list parses: %q", first.Bytes())
		assert.Empty(t, problems, "the marshalled list has no bad record: %q", first.Bytes())
		assert.Equal(t, l.uidValidity, again.uidValidity)
		assert.Equal(t, l.nextUID, again.nextUID)
		assert.Equal(t, l.guid, again.guid)
		assert.Equal(t, l.extraHeader, again.extraHeader)
		assert.Equal(t, l.records, again.records)

		var second bytes.Buffer
		require.NoError(t, again.marshal(&second))
		assert.Equal(t, first.String(), second.String(), "marshal is stable")
	})
}

// FuzzDeliverRoundTrip: a delivered message is served back as it would be
// served from the delivered bytes, and its W= is that size.
func FuzzDeliverRoundTrip(f *testing.F) {
	for _, seed := range []string{
		"",
		"\n",
		"\r\n",
		"\r",
		"\r\r\n",
		"\r\r\r\n",
		"a\rb",
		"Subject: a\n\nbody\n",
		"Subject: a\r\n\r\nbody\r\n",
		"Subject: a\r\nX: y\n\r\nbody",
		"no newline",
		".\n..\n.\r\n",
		"a\x00b\n",
		"\n\r\n\r\r\n\r",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		dir := t.TempDir()
		require.NoError(t, ensureMaildir(dir, owner{}))
		require.NoError(t, deliver(context.Background(), dir, bytes.NewReader(msg), owner{}))

		entries, err := os.ReadDir(filepath.Join(dir, "new"))
		require.NoError(t, err)
		require.Len(t, entries, 1)
		name := entries[0].Name()
		m := deliveredName.FindStringSubmatch(name)
		require.NotNil(t, m, "%q", name)
		fh, err := os.Open(filepath.Join(dir, "new", name))
		require.NoError(t, err)
		defer fh.Close()
		served, err := io.ReadAll(pop3.NewCRLFReader(fh))
		require.NoError(t, err)
		want, err := io.ReadAll(pop3.NewCRLFReader(bytes.NewReader(msg)))
		require.NoError(t, err)
		require.Equal(t, want, served)
		require.Equal(t, strconv.Itoa(len(served)), m[2], "W= is the served size")
		downgraded, err := pop3.DowngradedSize(bytes.NewReader(served), int64(len(served)))
		require.NoError(t, err)
		require.Equal(t, strconv.FormatInt(downgraded, 10), m[3], "D= is the downgraded size")
		size, err := fileSizes(filepath.Join(dir, "new", name))
		require.NoError(t, err)
		require.Equal(t, size.crlf, size.dovecot, "Dovecot counts the delivered file as W= too")

		st, err := fh.Stat()
		require.NoError(t, err)
		require.Equal(t, strconv.FormatInt(st.Size(), 10), m[1], "S= is the file size")
		tmp, err := os.ReadDir(filepath.Join(dir, "tmp"))
		require.NoError(t, err)
		require.Empty(t, tmp)
	})
}

// FuzzLFWriter is the conversion of FuzzDeliverRoundTrip without the file
// system, so that it runs fast: the CRLF form of msg written to an
// lfWriter in chunks of the given sizes is served back the same.
func FuzzLFWriter(f *testing.F) {
	f.Add([]byte("a\r\r\nb\rc\r\n"), []byte{1, 2, 3})
	f.Add([]byte("\r\r\r\r\n\r"), []byte{1})
	f.Add([]byte("Subject: x\n\nbody"), []byte{})
	f.Fuzz(func(t *testing.T, msg, chunks []byte) {
		crlf, err := io.ReadAll(pop3.NewCRLFReader(bytes.NewReader(msg)))
		require.NoError(t, err)
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		w := &lfWriter{w: bw}
		rest := crlf
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if len(chunks) > 0 {
				n = min(n, 1+int(chunks[i%len(chunks)]))
			}
			k, err := w.Write(rest[:n])
			require.NoError(t, err)
			require.Equal(t, n, k)
			rest = rest[n:]
		}
		require.NoError(t, bw.Flush())
		assert.Equal(t, int64(out.Len()), w.n, "n counts what was written")
		served, err := io.ReadAll(pop3.NewCRLFReader(bytes.NewReader(out.Bytes())))
		require.NoError(t, err)
		require.Equal(t, crlf, served)
		if len(crlf) > 0 {
			require.Equal(t, byte('\n'), out.Bytes()[out.Len()-1], "the stored form ends in LF")
		}
	})
}
