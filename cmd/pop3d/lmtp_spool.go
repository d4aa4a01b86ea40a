package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
)

// lmtpSpoolMemory is how much of a message is kept in memory; a larger
// one goes to a temporary file, so that a few big messages arriving at
// once do not take 100 MiB of memory each.
const lmtpSpoolMemory = 1 << 20

// spool is a message read once from the client, to be read again for
// each recipient.
type spool struct {
	mem  []byte
	file *os.File // nil when the message fits in mem
	size int64
}

// spoolMessage reads r to its end into memory or, past lmtpSpoolMemory,
// into a temporary file that remove deletes. On error nothing is left.
func spoolMessage(r io.Reader) (*spool, error) {
	var buf bytes.Buffer
	n, err := io.CopyN(&buf, r, lmtpSpoolMemory+1)
	if errors.Is(err, io.EOF) {
		return &spool{mem: buf.Bytes(), size: n}, nil
	}
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "pop3d-lmtp-*")
	if err != nil {
		return nil, err
	}
	sp := &spool{file: f}
	n, err = io.Copy(f, io.MultiReader(&buf, r))
	if err != nil {
		sp.remove()
		return nil, err
	}
	sp.size = n
	return sp, nil
}

// reader returns a new reader of header followed by the message.
func (sp *spool) reader(header string) io.Reader {
	var body io.Reader = bytes.NewReader(sp.mem)
	if sp.file != nil {
		body = io.NewSectionReader(sp.file, 0, sp.size)
	}
	return io.MultiReader(strings.NewReader(header), body)
}

// remove deletes the temporary file, if any.
func (sp *spool) remove() {
	if sp.file != nil {
		sp.file.Close()
		os.Remove(sp.file.Name())
	}
}
