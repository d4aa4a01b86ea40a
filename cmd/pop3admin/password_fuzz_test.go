package main

import (
	"bytes"
	"testing"
)

// A password read from stdin is the first line without its line end ("\n"
// or "\r\n"): never an LF, never empty, never over the limit, and otherwise as typed.
func FuzzReadPassword(f *testing.F) {
	for _, s := range []string{"secret\n", "secret\r\n", "secret", "\n", "", "a\nb\n", "x\r\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		pw, err := readPassword(bytes.NewReader(in), nil)
		if err != nil {
			if len(pw) != 0 {
				t.Fatalf("readPassword(%q) returned %q with error %v", in, pw, err)
			}
			return
		}
		line, _, found := bytes.Cut(in, []byte("\n"))
		if found { // "\r\n" is a line end, a lone "\r" at the end is not
			line = bytes.TrimSuffix(line, []byte("\r"))
		}
		if bytes.ContainsAny(pw, "\n") || !bytes.Equal(pw, line) || len(pw) == 0 || len(pw) > maxPassword {
			t.Fatalf("readPassword(%q) = %q", in, pw)
		}
	})
}
