package pop3

import (
	"container/list"
	"net"
	"net/netip"
	"sync"
	"time"
)

// The auth penalty: failed logins counted per client address across all
// sessions, as Dovecot's auth_penalty does, so that reconnecting does not
// reset what MaxAuthFailures counts per connection. An address with a
// penalty waits before its credentials are checked, success or not: a
// client cannot learn the answer sooner by hanging up early.
const (
	// penaltyFreeFailures is how many recent failures cost nothing: one
	// mistyped password is not an attack.
	penaltyFreeFailures = 1
	// penaltyFirstDelay is the wait after the first failure that costs;
	// each further failure doubles it, up to Server.MaxAuthPenalty.
	penaltyFirstDelay = 2 * time.Second
	// penaltyDecay is how long it takes to forget one failure.
	penaltyDecay = time.Minute
	// penaltyCapacity bounds the addresses remembered; the least recently
	// failed one is forgotten first. About 100 bytes each.
	penaltyCapacity = 16384
	// penaltyMaxCount caps the count, so that decay brings a hammering
	// address back within minutes once it stops.
	penaltyMaxCount = 8
)

// authPenalty is the per-address failure table: a map plus an LRU list,
// bounded by capacity. The zero value is ready to use.
type authPenalty struct {
	mu       sync.Mutex
	entries  map[netip.Addr]*list.Element // of *penaltyEntry
	lru      list.List                    // front: most recently failed
	capacity int                          // 0 means penaltyCapacity
}

type penaltyEntry struct {
	addr     netip.Addr
	failures int       // recent failures, as of updated
	updated  time.Time // when failures was last changed or decayed
}

// penaltyKey is the address a connection's failures are counted under: an
// IPv4 address, or the /64 of an IPv6 one (a client usually holds a whole
// /64). A unix socket or an unknown address has none.
func penaltyKey(a net.Addr) (netip.Addr, bool) {
	ip, ok := clientIP(a)
	if !ok {
		return netip.Addr{}, false
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		ip = p.Addr()
	}
	return ip, true
}

// penaltyKey is the address the session's failures count under, or false
// for a session that has none or is spared (Server.TrustedNetworks).
func (s *session) penaltyKey() (netip.Addr, bool) {
	if s.trustedNet {
		return netip.Addr{}, false
	}
	return penaltyKey(s.info.RemoteAddr)
}

// delay is how long a login attempt from addr waits now, at most maxDelay.
func (p *authPenalty) delay(addr netip.Addr, now time.Time, maxDelay time.Duration) time.Duration {
	if maxDelay <= 0 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	el, ok := p.entries[addr]
	if !ok {
		return 0
	}
	e := el.Value.(*penaltyEntry)
	e.decay(now)
	if e.failures == 0 {
		p.remove(el)
		return 0
	}
	return penaltyFor(e.failures, maxDelay)
}

// penaltyFor is the wait after n recent failures: nothing for the free
// ones, then penaltyFirstDelay doubling up to maxDelay.
func penaltyFor(n int, maxDelay time.Duration) time.Duration {
	n -= penaltyFreeFailures
	if n <= 0 {
		return 0
	}
	d := penaltyFirstDelay
	for ; n > 1 && d < maxDelay; n-- {
		d *= 2
	}
	return min(d, maxDelay)
}

// fail records a failed login from addr.
func (p *authPenalty) fail(addr netip.Addr, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.entries == nil {
		p.entries = make(map[netip.Addr]*list.Element)
	}
	if el, ok := p.entries[addr]; ok {
		e := el.Value.(*penaltyEntry)
		e.decay(now)
		e.failures = min(e.failures+1, penaltyMaxCount)
		p.lru.MoveToFront(el)
		return
	}
	capacity := p.capacity
	if capacity <= 0 {
		capacity = penaltyCapacity
	}
	for p.lru.Len() >= capacity {
		p.remove(p.lru.Back())
	}
	p.entries[addr] = p.lru.PushFront(&penaltyEntry{addr: addr, failures: 1, updated: now})
}

// inForce counts the addresses whose next login would wait, forgetting
// those whose failures have all decayed. It walks the whole table (at
// most penaltyCapacity entries), so it is for a metrics scrape, not for
// every login.
func (p *authPenalty) inForce(now time.Time, maxDelay time.Duration) int {
	if maxDelay <= 0 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for el := p.lru.Front(); el != nil; {
		next := el.Next()
		e := el.Value.(*penaltyEntry)
		e.decay(now)
		switch {
		case e.failures == 0:
			p.remove(el)
		case penaltyFor(e.failures, maxDelay) > 0:
			n++
		}
		el = next
	}
	return n
}

// len is the number of addresses remembered.
func (p *authPenalty) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lru.Len()
}

func (p *authPenalty) remove(el *list.Element) {
	delete(p.entries, el.Value.(*penaltyEntry).addr)
	p.lru.Remove(el)
}

// decay forgets one failure per penaltyDecay since the last update.
func (e *penaltyEntry) decay(now time.Time) {
	steps := int(now.Sub(e.updated) / penaltyDecay)
	if steps <= 0 {
		return
	}
	e.failures = max(e.failures-steps, 0)
	e.updated = e.updated.Add(time.Duration(steps) * penaltyDecay)
}
