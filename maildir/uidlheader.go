package maildir

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"strings"
)

// maxUIDLHeader bounds what is read of a message for its header MD5 and
// X-UIDL: a header longer than that is cut there.
const maxUIDLHeader = 1 << 20

// headerUIDLs are what a message's header gives the unique-ids.
type headerUIDLs struct {
	md5   string // the apop3d header MD5, in hex
	xuidl string // the first X-UIDL header, unfolded and trimmed; "" without one
}

// readHeaderUIDLs reads the header of the message file at path.
func readHeaderUIDLs(path string) (headerUIDLs, error) {
	f, err := openMessageFile(path)
	if err != nil {
		return headerUIDLs{}, err
	}
	defer f.Close()
	return scanHeaderUIDLs(io.LimitReader(f, maxUIDLHeader))
}

// scanHeaderUIDLs computes the header MD5 as Dovecot's mbox storage does
// (mbox-md5-apop3d.c, its default mbox_md5 = apop3d), and finds the first
// X-UIDL header. Dovecot's header parser gives, for each line without its
// line end: the value after the colon and one space or tab, for the first
// line of a header; the whole line, for a continuation line, which keeps
// the name of its header. The MD5 is taken over the values of the first
// Received header (all its lines), of Delivered-To and X-Delivery-ID
// headers, and of Date and Message-ID headers that come before the first
// Received header ends. Header names are compared without case.
func scanHeaderUIDLs(r io.Reader) (headerUIDLs, error) {
	br := bufio.NewReaderSize(r, 4096)
	h := md5.New()
	var (
		name         string // the header of the current line
		seenReceived bool
		xuidl        strings.Builder
		inXUIDL      bool
		gotXUIDL     bool
	)
	for first := true; ; first = false {
		line, err := readHeaderLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return headerUIDLs{}, err
		}
		if len(line) == 0 {
			break // the empty line that ends the header, or the end of the file
		}
		var value []byte
		if !first && startsWithWSP(line) {
			value = line // a continuation line, of the header named before
		} else {
			if inXUIDL {
				inXUIDL, gotXUIDL = false, true
			}
			colon := bytes.IndexByte(line, ':')
			if colon < 0 {
				name, value = "", line
			} else {
				name = string(bytes.TrimRight(line[:colon], " \t"))
				value = line[colon+1:]
				if startsWithWSP(value) {
					value = value[1:]
				}
			}
		}
		switch {
		case strings.EqualFold(name, "Received"):
			if !seenReceived {
				h.Write(value)
				seenReceived = !nextContinues(br)
			}
		case strings.EqualFold(name, "Date"), strings.EqualFold(name, "Message-ID"):
			if !seenReceived {
				h.Write(value)
			}
		case strings.EqualFold(name, "Delivered-To"), strings.EqualFold(name, "X-Delivery-ID"):
			h.Write(value)
		case strings.EqualFold(name, "X-UIDL") && !gotXUIDL:
			inXUIDL = true
			xuidl.Write(value)
		}
		if err != nil {
			break
		}
	}
	out := headerUIDLs{md5: hex.EncodeToString(h.Sum(nil))}
	out.xuidl = strings.Trim(xuidl.String(), " \t")
	return out, nil
}

// readHeaderLine reads a line and returns it without its LF or CRLF; at
// the end of the input it returns what is left with io.EOF.
func readHeaderLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = br.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		return line, nil
	}
	if len(line) == 0 {
		return nil, io.EOF
	}
	return line, io.EOF
}

func startsWithWSP(line []byte) bool {
	return len(line) > 0 && (line[0] == ' ' || line[0] == '\t')
}

// nextContinues reports whether the next line continues the current
// header.
func nextContinues(br *bufio.Reader) bool {
	b, err := br.Peek(1)
	return err == nil && (b[0] == ' ' || b[0] == '\t')
}
