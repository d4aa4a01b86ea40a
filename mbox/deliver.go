package mbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/mailuser"
)

// Deliver appends a message to the user's spool as Postfix local(8) does
// (pop3.Deliverer: pop3d's LMTP listener), under the spool's dotlock and
// fcntl lock: a "From SENDER DATE" line (SENDER from a first Return-Path
// header, as the LMTP listener writes it, else MAILER-DAEMON), the message
// with LF line ends and its lines that begin with "From " escaped as
// ">From ", and an empty line. The header fields the spool keeps for
// itself (Status, X-UID, X-IMAPbase, Content-Length...) are left out, as
// Dovecot leaves them out: a sender must not set them. The spool is synced
// before Deliver returns. A spool that does not exist is created, mode
// 0660 (owned by the user when the server runs as root). A failed write
// is cut off again, so the spool is left as it was. An unknown user is
// [pop3.ErrNoSuchUser].
func (b *Backend) Deliver(ctx context.Context, username string, r io.Reader) error {
	a, err := b.accounts.Lookup(ctx, mailuser.NormalizeUsername(username))
	if errors.Is(err, pop3.ErrNoSuchUser) {
		return err
	}
	if err == nil {
		err = checkSpoolPath(a.Path)
	}
	if err != nil {
		return fmt.Errorf("mbox: deliver to %q: %w", username, err)
	}
	ctx, cancel := b.lockContext(ctx)
	defer cancel()
	lock, err := takeDotlock(ctx, a.Path)
	if err != nil {
		return err
	}
	defer lock.releaseLogged(b.logger)
	f, err := openSpool(a.Path, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return fmt.Errorf("mbox: opening the spool of %q: %w", a.Name, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() == 0 {
		// Debian's USER:mail 0660, whatever the umask: the server reads
		// it through group mail when it does not own it.
		_ = f.Chmod(0o660)
		if uid, ok := owner(a); ok {
			chown(f, uid, -1) // the group stays the directory's: mail
		}
	}
	if err := fcntlLock(ctx, f, true); err != nil {
		return err
	}
	defer fcntlUnlock(f)
	if err := b.finishUpdate(f, a.Path, lock, a.Name); err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("mbox: %w", err)
	}
	size := fi.Size()
	w := bufio.NewWriterSize(io.NewOffsetWriter(f, size), 64<<10)
	err = writeMessage(w, r, separatorNeeded(f, size), time.Now())
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		// Leave the spool as it was: a half-written message would be
		// shown, and the client's retry would add it again.
		if terr := f.Truncate(size); terr != nil {
			err = errors.Join(err, terr)
		}
		return fmt.Errorf("mbox: delivering to %q: %w", a.Name, err)
	}
	return nil
}

// separatorNeeded returns what must come before a new From line at the
// end of a spool of size octets so that it starts a line after an empty
// one, as the mbox format has it, whatever the last writer left.
func separatorNeeded(f *os.File, size int64) string {
	if size == 0 {
		return ""
	}
	var tail [2]byte
	n := min(size, 2)
	if _, err := f.ReadAt(tail[2-n:], size-n); err != nil {
		return "\n"
	}
	switch {
	case tail[1] != '\n':
		return "\n\n"
	case n == 2 && tail[0] != '\n':
		return "\n"
	}
	return ""
}

// writeMessage writes one mbox message: the From line, the message from
// r with LF line ends and ">From " escaping, without the header fields
// that the spool keeps for itself (dropHeaders), and a final empty line.
func writeMessage(w *bufio.Writer, r io.Reader, before string, now time.Time) error {
	br := bufio.NewReaderSize(r, 32<<10)
	w.WriteString(before)
	w.WriteString("From " + envelopeSender(br) + " " + now.UTC().Format(time.ANSIC) + "\n")
	atLineStart, lastLF := true, true
	inHeader, skipping := true, false
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			line := chunk
			complete := line[len(line)-1] == '\n'
			if complete {
				line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
			}
			if atLineStart && inHeader {
				switch {
				case len(line) == 0 && complete:
					inHeader, skipping = false, false
				case line[0] == ' ' || line[0] == '\t':
					// a continuation: dropped with its field
				default:
					name, _, _ := bytes.Cut(line, []byte(":"))
					skipping = dropHeaders[strings.ToLower(string(bytes.TrimRight(name, " \t")))]
				}
			}
			if !skipping {
				if atLineStart && bytes.HasPrefix(line, []byte("From ")) {
					w.WriteByte('>')
				}
				w.Write(line)
				if complete {
					w.WriteByte('\n')
				}
				lastLF = complete
			}
			atLineStart = complete
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	if !lastLF {
		w.WriteByte('\n')
	}
	return w.WriteByte('\n')
}

// dropHeaders are the header fields a delivery leaves out, as Dovecot's
// mbox_save_drop_headers: the ones the spool keeps for itself, which a
// sender must not set (a forged X-UID or X-IMAPbase would change the
// unique-ids; a forged Status would mark the message read).
var dropHeaders = map[string]bool{
	"content-length": true, "status": true, "x-delivery-id": true, "x-imap": true,
	"x-imapbase": true, "x-keywords": true, "x-status": true, "x-uid": true,
}

// envelopeSender is the sender a From line names: the address of the
// message's Return-Path header when it is its first line, as pop3d's LMTP
// listener and Postfix write it, else (and for the null sender <>)
// MAILER-DAEMON, as Postfix and Dovecot write them.
func envelopeSender(br *bufio.Reader) string {
	const name = "Return-Path:"
	line, _ := br.Peek(512)
	if len(line) < len(name) || !strings.EqualFold(string(line[:len(name)]), name) {
		return "MAILER-DAEMON"
	}
	line = line[len(name):]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	addr := strings.TrimSpace(string(line))
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "<"), ">")
	if addr == "" || strings.ContainsFunc(addr, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '<' || r == '>' }) {
		return "MAILER-DAEMON"
	}
	return addr
}

// owner returns the numeric uid of the account's passwd entry.
func owner(a *mailuser.Account) (uid int, ok bool) {
	if a.Entry == nil {
		return 0, false
	}
	u, err := strconv.Atoi(a.Entry.UID)
	return u, err == nil
}
