package wire

import (
	"io"
	"sync"
)

// Output buffer classes. A connection takes a buffer of the smallest class
// that holds what it is about to write, moves to a larger one when a reply
// outgrows it (a message body, a pipelined batch), and gives it back when
// it flushes, so that an idle connection holds no output buffer at all.
// The largest class is the size of the writes that carry a large message.
var outClasses = [...]int{4 << 10, 32 << 10, maxOutBuffer}

// maxOutBuffer is the largest output buffer: the size of the writes that
// carry a large message.
const maxOutBuffer = 256 << 10

var outPools [len(outClasses)]sync.Pool

func init() {
	for i, size := range outClasses {
		outPools[i].New = func() any { b := make([]byte, 0, size); return &b }
	}
}

// outClass is the index of the smallest class of at least n octets, or of
// the largest.
func outClass(n int) int {
	for i, size := range outClasses {
		if n <= size {
			return i
		}
	}
	return len(outClasses) - 1
}

// OutBuffer gathers replies and writes them to w in as few writes as it
// can: a small RETR (status line, body and terminator) or a pipelined batch
// of replies goes out in one write, a large body in writes of the largest
// class. Its first write error is kept and returned by every later call.
type OutBuffer struct {
	w     io.Writer
	buf   []byte  // what is pending; nil while nothing is
	bufp  *[]byte // buf's pool handle
	class int
	err   error
}

// Reset drops anything pending, gives the buffer back and makes b write to
// w. An OutBuffer is usually part of a larger value, set up once.
func (b *OutBuffer) Reset(w io.Writer) {
	b.release()
	b.w, b.err = w, nil
}

// Buffered is the number of octets pending.
func (b *OutBuffer) Buffered() int { return len(b.buf) }

// Write adds p to what is pending, writing out when the largest buffer is
// full.
func (b *OutBuffer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && b.err == nil {
		free := b.reserve(len(p))
		k := copy(b.buf[len(b.buf):len(b.buf)+free], p)
		b.buf = b.buf[:len(b.buf)+k]
		p = p[k:]
	}
	return b.written(n, len(p))
}

// WriteString is Write for a string, without converting it. (Not one
// generic function for both: the compiler then lets the callers' stack
// buffers escape across the package boundary.)
func (b *OutBuffer) WriteString(s string) (int, error) {
	n := len(s)
	for len(s) > 0 && b.err == nil {
		free := b.reserve(len(s))
		k := copy(b.buf[len(b.buf):len(b.buf)+free], s)
		b.buf = b.buf[:len(b.buf)+k]
		s = s[k:]
	}
	return b.written(n, len(s))
}

// written is what a write of n octets returns with left of them unwritten.
func (b *OutBuffer) written(n, left int) (int, error) {
	if b.err != nil {
		return n - left, b.err
	}
	return n, nil
}

// reserve makes room for n more octets, or as many as the largest class
// allows, and returns the room there is (at least one octet, unless a
// write failed). It moves to a larger buffer while one can hold everything
// pending, and writes out what is pending only when none can.
func (b *OutBuffer) reserve(n int) int { return b.reserveAtLeast(n, n) }

// reserveAtLeast is reserve for a writer that can use less room than it
// would like (want) but no less than need: what is pending is written out
// only when the room is under need, so that a long body goes out in writes
// of nearly the largest class.
func (b *OutBuffer) reserveAtLeast(want, need int) int {
	if b.buf == nil {
		b.take(outClass(want))
	}
	free := cap(b.buf) - len(b.buf)
	if free >= want {
		return free
	}
	if b.class < len(outClasses)-1 {
		old, oldp, oldClass := b.buf, b.bufp, b.class
		b.take(outClass(len(old) + want))
		b.buf = append(b.buf, old...)
		*oldp = old[:0]
		outPools[oldClass].Put(oldp)
		if free = cap(b.buf) - len(b.buf); free >= want {
			return free
		}
	}
	if free < min(need, maxOutBuffer/2) {
		b.writeOut()
		free = cap(b.buf) - len(b.buf)
	}
	return free
}

func (b *OutBuffer) take(class int) {
	b.bufp = outPools[class].Get().(*[]byte)
	b.buf, b.class = (*b.bufp)[:0], class
}

// writeOut writes what is pending and keeps the buffer for more.
func (b *OutBuffer) writeOut() {
	if len(b.buf) == 0 || b.err != nil {
		return
	}
	_, b.err = b.w.Write(b.buf)
	b.buf = b.buf[:0]
}

// Flush writes what is pending, if anything, and gives the buffer back.
func (b *OutBuffer) Flush() error {
	b.writeOut()
	b.release()
	return b.err
}

// release gives the buffer back to its pool.
func (b *OutBuffer) release() {
	if b.bufp != nil {
		*b.bufp = b.buf[:0]
		outPools[b.class].Put(b.bufp)
		b.buf, b.bufp = nil, nil
	}
}
