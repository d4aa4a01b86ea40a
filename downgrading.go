package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"sync"
	"sync/atomic"

	"github.com/gopop3/pop3/internal/downgrade"
)

// errNeedsUTF8 refuses a message whose header is too large to downgrade
// and not ASCII (RFC 6856 §5).
var errNeedsUTF8 = &Error{Code: "UTF8", Text: "this message can only be read in UTF-8 mode"}

// unknownDelta marks a message whose downgraded size is not known yet.
const unknownDelta = math.MinInt64

// learntDelta returns what downgrading adds to message i, if the session
// or the server has read it from the message itself.
func (s *session) learntDelta(i int) (int64, bool) {
	if d := s.drop.delta(i); d != unknownDelta {
		return d, true
	}
	if d, ok := s.srv.deltas.get(s.deltaKey(i)); ok && !s.drop.repaired {
		s.drop.setDelta(i, d)
		return d, true
	}
	return 0, false
}

// knownDelta returns what downgrading adds to message i, if it is known
// without reading the message: learnt, or told by the store in
// [MessageInfo.DowngradedSize]. Once a store's value has been found wrong,
// what the server learnt comes first, so that LIST keeps matching RETR.
func (s *session) knownDelta(i int) (int64, bool) {
	if d := s.drop.delta(i); d != unknownDelta {
		return d, true
	}
	info := s.drop.info(i)
	if info.Size == 0 {
		return 0, true // no header to downgrade
	}
	told := info.DowngradedSize > 0
	if !told || s.srv.deltas.contradicted.Load() {
		if d, ok := s.learntDelta(i); ok {
			return d, true
		}
	}
	if !told {
		return 0, false
	}
	return info.DowngradedSize - info.Size, true
}

// learnDelta keeps what downgrading adds to message i, read from the
// message, and reports once per maildrop a store whose
// [MessageInfo.DowngradedSize] says otherwise.
func (s *session) learnDelta(i int, d int64) {
	s.drop.setDelta(i, d)
	if !s.drop.repaired { // a repaired unique-id may not name one message
		s.srv.deltas.put(s.deltaKey(i), d)
	}
	info := s.drop.info(i)
	if info.DowngradedSize > 0 && info.DowngradedSize != info.Size+d {
		s.srv.deltas.contradicted.Store(true)
		if !s.drop.downgradedMismatchLogged {
			s.drop.downgradedMismatchLogged = true
			s.logger().Warn("pop3: backend listed a downgraded size other than the message's (see pop3.DowngradedSize)",
				"uid", info.UID, "listed", info.DowngradedSize, "actual", info.Size+d)
		}
	}
}

// deltaKey names message i for the server's cache: its user, its
// unique-id, which names one message for good (RFC 1939 §7), and its size.
func (s *session) deltaKey(i int) deltaKey {
	info := s.drop.info(i)
	return deltaKey{user: s.username, uid: info.UID, size: info.Size}
}

// sizeDelta returns how many octets downgrading adds to message i (RFC
// 6858): 0 for a message whose header is ASCII, which is most. Unless the
// store told it ([MessageInfo.DowngradedSize]), the header is read once
// per message and server, then remembered.
func (s *session) sizeDelta(i int) (int64, error) {
	if d, ok := s.knownDelta(i); ok {
		return d, nil
	}
	r, err := s.openStored(i, 0)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	out, n, refused, err := downgradeHeader(bufio.NewReader(r))
	if err != nil {
		return 0, s.userFacingError("read", err)
	}
	d := int64(len(out) - n)
	if !refused { // else RETR refuses it: no size to remember
		s.learnDelta(i, d)
	}
	return d, nil
}

// listedSize is the size LIST reports for message i: the octets RETR
// sends, downgraded or not (RFC 6856 §2.1).
func (s *session) listedSize(i int) (int64, error) {
	size := s.drop.info(i).Size
	if !s.downgrading() {
		return size, nil
	}
	d, err := s.sizeDelta(i)
	return size + d, err
}

// downgradeMessage returns message i, opened whole or for TOP as r, with its header
// downgraded, and the octets it yields: r itself for a message known to
// need nothing. Otherwise the header is read now, before RETR's +OK
// reports the size.
func (s *session) downgradeMessage(i int, r io.Reader) (io.Reader, int64, error) {
	size := s.drop.info(i).Size
	// Only what was read from the message spares reading its header: a
	// store that is wrong must not make RETR send 8-bit octets.
	if d, ok := s.learntDelta(i); ok && d == 0 {
		return r, size, nil
	}
	br := bufio.NewReader(r)
	out, n, refused, err := downgradeHeader(br)
	switch {
	case refused:
		return nil, 0, errNeedsUTF8
	case err != nil:
		return nil, 0, s.userFacingError("read", err)
	}
	d := int64(len(out) - n)
	s.learnDelta(i, d)
	return io.MultiReader(bytes.NewReader(out), br), size + d, nil
}

// downgradeHeader reads a message's header from br and returns what is
// sent in its place, and the length of what it read: the header
// downgraded, or as it is when it is too large to downgrade but ASCII
// (most likely a message without a header). refused reports a header too
// large to downgrade that is not ASCII, which RETR refuses (RFC 6856 §5)
// and LIST counts as it is.
func downgradeHeader(br *bufio.Reader) (out []byte, n int, refused bool, err error) {
	hdr, err := downgrade.ReadHeader(br)
	if errors.Is(err, downgrade.ErrHeaderTooLarge) {
		_, changed := downgrade.Header(hdr)
		return hdr, len(hdr), changed, nil
	}
	if err != nil {
		return nil, 0, false, err
	}
	out, _ = downgrade.Header(hdr)
	return out, len(hdr), false, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// maxDeltas bounds the messages whose downgrading the server remembers.
const maxDeltas = 100_000

// deltaCache remembers, per user and unique-id, what downgrading adds to
// a message, so that LIST reads each message's header once rather than
// in every session. A unique-id names one message for good (RFC 1939 §7).
type deltaCache struct {
	mu sync.Mutex
	m  map[deltaKey]int64
	// contradicted is set once a store's DowngradedSize was found wrong:
	// from then on, LIST looks here before it trusts a store.
	contradicted atomic.Bool
}

// deltaKey is a map key made without allocating.
type deltaKey struct {
	user, uid string
	size      int64
}

func (c *deltaCache) get(k deltaKey) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.m[k]
	return d, ok
}

func (c *deltaCache) put(k deltaKey, d int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[deltaKey]int64)
	}
	for k := range c.m {
		if len(c.m) < maxDeltas {
			break
		}
		delete(c.m, k) // any one: the cache only saves reading a header
	}
	c.m[k] = d
}

// DowngradedSize returns the size that LIST reports for a message to a
// client that has not enabled UTF-8 mode (RFC 6856 §2.1): the octets RETR
// sends once the message's header is downgraded (RFC 6858). msg yields the
// message as [Mailbox.Message] does, with CRLF line ends; only its header
// is read. size is the message's [MessageInfo.Size]. For a message whose
// header is ASCII, which is most, the result is size.
//
// A store calls it when a message arrives and keeps the result, to fill
// in [MessageInfo.DowngradedSize] without reading the message again.
func DowngradedSize(msg io.Reader, size int64) (int64, error) {
	out, n, _, err := downgradeHeader(bufio.NewReader(msg))
	if err != nil {
		return 0, err
	}
	return size + int64(len(out)-n), nil
}
