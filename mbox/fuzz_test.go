package mbox

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
)

// FuzzParseSpool: parseSpool never panics, refuses only with errBadSpool,
// and gives messages that cover the spool with offsets in order, sizes
// that are pop3.CRLFSize of what reader shows and the sums of their
// octets (checkSpool); the same whatever the window; UIDs that grow in
// file order; unique-ids that are valid and unique.
func FuzzParseSpool(f *testing.F) {
	for _, s := range dovecotSpools {
		f.Add([]byte(s))
	}
	for _, tc := range uidCases {
		f.Add([]byte(tc.raw))
	}
	f.Add(benchSpool(3))
	f.Add([]byte(fromLine + "Content-Length: 56\nSubject: x\n\nbody\n" + fromLine + "\n\n" + fromLine + "X-IMAP: 5 6\n\nb\n"))
	f.Add([]byte("From a Sun Dec  6 19:22:23 2026\r\nContent-Length: 6\r\n\r\nbody\r\n\r\nFrom b Sun Dec  6 19:22:23 2026\r\n\r\n"))
	f.Add([]byte(""))
	f.Add([]byte("From x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseSpool(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			require.ErrorIs(t, err, errBadSpool)
			return
		}
		checkSpool(t, data, s)
		small, err := parseWindowed(bytes.NewReader(data), bytes.NewReader(data), int64(len(data)), 16)
		require.NoError(t, err)
		require.Equal(t, s, small, "with a window of 16 octets")

		assignUIDs(s, time.Unix(1800000000, 0))
		require.NotZero(t, s.uidValidity)
		prev := uint32(0)
		for i := range s.msgs {
			require.Greater(t, s.msgs[i].uid, prev, "message %d: UID", i+1)
			prev = s.msgs[i].uid
		}
		require.Greater(t, s.nextUID, prev, "next UID")
		ids := uidls(s, true)
		seen := make(map[string]bool, len(ids))
		for i, id := range ids {
			require.True(t, pop3.ValidUID(id), "message %d: unique-id %q", i+1, id)
			require.False(t, seen[id], "message %d: unique-id %q repeated", i+1, id)
			seen[id] = true
		}
	})
}

// FuzzFromLine: the date check never panics, whatever it is given.
func FuzzFromLine(f *testing.F) {
	for _, line := range []string{
		"sender@example.org  Sun Dec  6 19:22:23 2026\n", "\"a b\"@c Thu, 9 Nov 2002 22:33:52 +0100\n",
		"x Sun Dec  6 19:22 CET 2026 -0130\n", "x Sun ??? 31 23:59:60 1969 +0000\n", "x abc\nJan  1 00:00:00 2001\n",
	} {
		f.Add([]byte(line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		fromLineValid(line)
		fromLineValid(cutFrom(line))
	})
}

// FuzzCRLFCounter: the size that the parser counts is pop3.CRLFSize,
// however the lines come in pieces.
func FuzzCRLFCounter(f *testing.F) {
	for _, s := range crlfSizes {
		f.Add([]byte(s), 1)
	}
	f.Fuzz(func(t *testing.T, b []byte, split int) {
		want, err := pop3.CRLFSize(bytes.NewReader(b))
		require.NoError(t, err)
		assert.Equal(t, want, countCRLF(b, max(split, 0)))
	})
}
