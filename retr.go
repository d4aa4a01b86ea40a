package pop3

import (
	"errors"
	"io"
	"strconv"

	"github.com/gopop3/pop3/internal/wire"
)

// cmdRetr handles RETR (RFC 1939 §5). It checks the octets sent against
// the listed size, which clients rely on (RFC 1939 §11): a backend that
// gets it wrong is logged, once per maildrop. The octets that a client
// workaround adds (see [WorkaroundOENSEOH]) are not the backend's, and
// are not counted.
func (s *session) cmdRetr(args []string) error {
	i, err := s.drop.lookup(args[0])
	if err != nil {
		return err
	}
	r, size, err := s.openMessage(i, -1)
	if err != nil {
		return err
	}
	defer r.Close()
	s.counts.retrieved++
	s.drop.access(i)
	var buf [32]byte
	if err := s.replyOKBytes(append(strconv.AppendInt(buf[:0], size, 10), " octets"...)); err != nil {
		return err
	}
	sent, err := s.writeRetrieved(r)
	if err == nil && s.expire.notesRetrievals() {
		s.drop.retrieve(i)
	}
	if err == nil && sent != size && !s.drop.sizeMismatchLogged {
		s.drop.sizeMismatchLogged = true
		s.logger().Warn("pop3: backend listed a message size other than the octets sent; clients may reject the message (see pop3.CRLFSize)",
			"uid", s.drop.info(i).UID, "listed", size, "sent", sent)
	}
	return err
}

// cmdTop handles TOP msg n (RFC 1939 §7): the header, the blank line and
// the first n lines of the body; all of it when n is larger.
func (s *session) cmdTop(args []string) error {
	i, err := s.drop.lookup(args[0])
	if err != nil {
		return err
	}
	lines, ok := parseNumber(args[1])
	if !ok {
		return syntaxError("invalid line count: " + shorten(args[1], 40))
	}
	r, _, err := s.openMessage(i, lines)
	if err != nil {
		return err
	}
	defer r.Close()
	s.counts.topped++
	if err := s.replyOK("top of message follows"); err != nil {
		return err
	}
	_, err = s.writeRetrieved(r)
	return err
}

// openMessage opens message i as the session gets it: whole (lines < 0)
// or, for TOP, its header and first lines of body, and with its header
// downgraded for a client that has not sent UTF8 (RFC 6856 §3). size is
// what the whole message is then: its listed size, or the downgraded one.
func (s *session) openMessage(i, lines int) (r io.ReadCloser, size int64, err error) {
	if r, err = s.openStored(i, lines); err != nil {
		return nil, 0, err
	}
	if !s.downgrading() {
		return r, s.drop.info(i).Size, nil
	}
	return s.downgraded(i, r)
}

// downgraded is message i, open as r, with its header downgraded, and the
// size of the whole message downgraded. It closes r when it fails, a panic
// of r's included: the caller's deferred Close is not set yet.
func (s *session) downgraded(i int, r io.ReadCloser) (_ io.ReadCloser, size int64, err error) {
	ok := false
	defer func() {
		if !ok {
			_ = r.Close()
		}
	}()
	body, size, err := s.downgradeMessage(i, r)
	if err != nil {
		return nil, 0, err
	}
	ok = true
	if body != io.Reader(r) {
		return readCloser{body, r}, size, nil
	}
	return r, size, nil
}

// openStored opens message i as the store has it, through TopMailbox for
// TOP when the backend has it.
func (s *session) openStored(i, lines int) (io.ReadCloser, error) {
	var (
		r   io.ReadCloser
		err error
	)
	tm, hasTop := s.drop.box.(TopMailbox)
	switch {
	case lines < 0:
		r, err = s.drop.box.Message(s.ctx, i)
	case hasTop:
		r, err = tm.Top(s.ctx, i, lines)
	default:
		if r, err = s.drop.box.Message(s.ctx, i); err == nil && r != nil {
			r = wire.NewTopReader(r, lines)
		}
	}
	if err == nil && r == nil {
		call := "Mailbox.Message"
		if hasTop && lines >= 0 {
			call = "TopMailbox.Top"
		}
		err = errors.New("pop3: " + call + " returned a nil reader and a nil error")
	}
	if err != nil {
		return nil, s.userFacingError("read", err)
	}
	return r, nil
}

// NewTopReader cuts a whole message, as [Mailbox.Message] yields it, down
// to what TOP sends (RFC 1939 §7): the header, the blank line after it and
// at most lines lines of the body. A message without a blank line is all
// header and is yielded whole. It stops reading r once it has that much,
// so a [TopMailbox] over whole stored messages can serve Top with it.
// Closing the returned reader closes r.
func NewTopReader(r io.ReadCloser, lines int) io.ReadCloser { return wire.NewTopReader(r, lines) }
