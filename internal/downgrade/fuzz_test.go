package downgrade

import (
	"bytes"
	"testing"
)

// lastLine returns the final line of b, line end included.
func lastLine(b []byte) []byte {
	t := bytes.TrimSuffix(b, []byte("\n"))
	return b[bytes.LastIndexByte(t, '\n')+1:]
}

func longestLine(b []byte) int {
	n := 0
	for _, l := range bytes.Split(b, []byte("\n")) {
		n = max(n, len(l))
	}
	return n
}

func FuzzHeader(f *testing.F) {
	for _, s := range []string{
		"",
		"\r\n",
		"Subject: hello\r\n\r\n",
		"Subject: Grüße\r\n\r\n",
		"Subject: 会議の議事録について 会議の議事録について 会議の議事録について\r\n\r\n",
		"From: Jøran <jøran@example.com>\r\nTo: a@b, Team: ü@x, c@d;\r\n\r\nbody",
		"From: \"Øy, J\\\"x\" <j@example.com> (cömment)\r\n\r\n",
		"To: Ünterminated: a@b, ë@x\r\n\r\n",
		"Cc: <@route:ø@x>, [ø], \"\\\r\n\r\n",
		"Message-ID: <ø@x>\r\nReferences: <a@b>\r\n <ø@y>\r\n\r\n",
		"Return-Path: <jøran@example.com>\r\n\r\n",
		"Content-Type: text/plain; name=\"æøå.txt\"; x*0*=a\r\n\r\n",
		"Content-Disposition: attachment; filename*=\"ø\"; filename=ø\r\n\r\n",
		"Subject: a\xffb\r\n\r\n",
		"Sub\xffject: x\r\n\r\n",
		" \xff leading continuation\r\n\r\n",
		"no colon \xc3\r\n\r\n",
		"Subject: é",
		"Subject: é\r\n",
		"Subject: é\n\nbody",
		"Subject: é\r\r\n\r\n",
		"Subject: é\r\n\r\nSubject: é\r\n\r\n",
		"X-Long: " + string(bytes.Repeat([]byte("ø"), 600)) + "\r\n\r\n",
		"Subject: =?utf-8?q?fake?= ø\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, changed := Header(in)
		if !changed {
			if !isASCII(in) || !bytes.Equal(out, in) {
				t.Fatalf("unchanged but %q -> %q", in, out)
			}
		} else {
			if isASCII(in) {
				t.Fatalf("changed an ASCII header %q", in)
			}
			for i, c := range out {
				if c >= 0x80 {
					t.Fatalf("octet %d of %q is %#x (input %q)", i, out, c, in)
				}
			}
			if _, again := Header(out); again {
				t.Fatalf("output not ASCII")
			}
			// The header keeps its terminator: its final line end
			// and, if any, the empty line that ends it.
			if l := lastLine(in); isBlank(l) && !bytes.Equal(lastLine(out), l) {
				t.Fatalf("blank line lost: %q -> %q", in, out)
			}
			if bytes.HasSuffix(in, []byte("\r\n")) != bytes.HasSuffix(out, []byte("\r\n")) ||
				bytes.HasSuffix(in, []byte("\n")) != bytes.HasSuffix(out, []byte("\n")) {
				t.Fatalf("line end changed: %q -> %q", in, out)
			}
			// Rewritten lines are folded; only words that cannot be
			// split (long msg-ids, percent-encoded) may stay long.
			if n := longestLine(out); n > 998 && n > 3*longestLine(in)+20 {
				t.Fatalf("line of %d octets in %q", n, out)
			}
		}
	})
}
