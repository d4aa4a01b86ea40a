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

// unknownDelta marks a message whose downgraded size is not known yet.
const unknownDelta = math.MinInt64

// knownDelta returns what downgrading adds to message i, if the session
// or the server has learnt it.
func (s *session) knownDelta(i int) (int64, bool) {
	if d := s.drop.delta(i); d != unknownDelta {
		return d, true
	}
	if d, ok := s.srv.deltas.get(s.username, s.drop.info(i).UID); ok {
		s.drop.setDelta(i, d)
		return d, true
	}
	return 0, false
}

// learnDelta keeps what downgrading adds to message i.
func (s *session) learnDelta(i int, d int64) {
	s.drop.setDelta(i, d)
	s.srv.deltas.put(s.username, s.drop.info(i).UID, d)
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
	hdr, err := readHeader(bufio.NewReader(r))
	if err != nil {
		return 0, s.userFacingError("read", err)
	}
	out, _ := downgrade.Header(hdr)
	d := int64(len(out) - len(hdr))
	s.learnDelta(i, d)
	return d, nil
}

// readHeader reads a message's header block. One too large to be a
// header (a message without a blank line, say) is taken for a body and
// sent as it is.
func readHeader(br *bufio.Reader) ([]byte, error) {
	hdr, err := downgrade.ReadHeader(br)
	if errors.Is(err, downgrade.ErrHeaderTooLarge) {
		return nil, nil
	}
	return hdr, err
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

// downgradeMessage returns message i, opened whole as r, with its header
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

// lazyDowngrade is TOP's reader: it downgrades the header as the body
// streams, after the +OK, as a TOP without downgrading reads.
type lazyDowngrade struct {
	s       *session
	i       int
	r       io.Reader // the message as opened, then as downgraded
	started bool
}

func (l *lazyDowngrade) Read(p []byte) (int, error) {
	if !l.started {
		l.started = true
		r, _, err := l.s.downgradeMessage(l.i, l.r)
		if err != nil {
			return 0, err
		}
		l.r = r
	}
	return l.r.Read(p)
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
type deltaKey struct{ user, uid string }

func (c *deltaCache) get(user, uid string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.m[deltaKey{user, uid}]
	return d, ok
}

func (c *deltaCache) put(user, uid string, d int64) {
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
	c.m[deltaKey{user, uid}] = d
}
