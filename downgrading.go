package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"sync"

	"github.com/gopop3/pop3/internal/downgrade"
)

// errNeedsUTF8 refuses a message whose header is too large to downgrade
// and not ASCII (RFC 6856 §5).
var errNeedsUTF8 = &Error{Code: "UTF8", Text: "this message can only be read in UTF-8 mode"}

// unknownDelta marks a message whose downgraded size is not known yet.
const unknownDelta = math.MinInt64

// knownDelta returns what downgrading adds to message i, if the session
// or the server has learnt it.
func (s *session) knownDelta(i int) (int64, bool) {
	if d := s.drop.delta(i); d != unknownDelta {
		return d, true
	}
	if d, ok := s.srv.deltas.get(s.deltaKey(i)); ok && !s.drop.repaired {
		s.drop.setDelta(i, d)
		return d, true
	}
	return 0, false
}

// learnDelta keeps what downgrading adds to message i.
func (s *session) learnDelta(i int, d int64) {
	s.drop.setDelta(i, d)
	if !s.drop.repaired { // a repaired unique-id may not name one message
		s.srv.deltas.put(s.deltaKey(i), d)
	}
}

// deltaKey names message i for the server's cache: its user, its
// unique-id, which names one message for good (RFC 1939 §7), and its size.
func (s *session) deltaKey(i int) deltaKey {
	info := s.drop.info(i)
	return deltaKey{user: s.username, uid: info.UID, size: info.Size}
}

// sizeDelta returns how many octets downgrading adds to message i (RFC
// 6858): 0 for a message whose header is ASCII, which is most. The header
// is read once per message and server, then remembered.
func (s *session) sizeDelta(i int) (int64, error) {
	if d, ok := s.knownDelta(i); ok {
		return d, nil
	}
	r, err := s.openMessage(i, 0)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	hdr, err := downgrade.ReadHeader(bufio.NewReader(r))
	if errors.Is(err, downgrade.ErrHeaderTooLarge) {
		// Sent as it is if ASCII, refused by RETR if not: neither adds.
		if headerASCII(hdr) {
			s.learnDelta(i, 0)
		}
		return 0, nil
	}
	if err != nil {
		return 0, s.userFacingError("read", err)
	}
	out, _ := downgrade.Header(hdr)
	d := int64(len(out) - len(hdr))
	s.learnDelta(i, d)
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
	if d, ok := s.knownDelta(i); ok && d == 0 {
		return r, size, nil
	}
	br := bufio.NewReader(r)
	hdr, err := downgrade.ReadHeader(br)
	if errors.Is(err, downgrade.ErrHeaderTooLarge) {
		if !headerASCII(hdr) {
			return nil, 0, errNeedsUTF8
		}
		// Most likely a message without a header: sent as it is.
		s.learnDelta(i, 0)
		return io.MultiReader(bytes.NewReader(hdr), br), size, nil
	}
	if err != nil {
		return nil, 0, s.userFacingError("read", err)
	}
	out, _ := downgrade.Header(hdr)
	d := int64(len(out) - len(hdr))
	s.learnDelta(i, d)
	return io.MultiReader(bytes.NewReader(out), br), size + d, nil
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

// headerASCII reports whether a header needs no downgrading.
func headerASCII(hdr []byte) bool {
	_, changed := downgrade.Header(hdr)
	return !changed
}
