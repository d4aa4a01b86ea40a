package pop3

import (
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPenaltyGrowsAndIsBounded(t *testing.T) {
	var p authPenalty
	addr := netip.MustParseAddr("192.0.2.1")
	now := time.Now()
	var got []time.Duration
	for range 7 {
		got = append(got, p.delay(addr, now, 15*time.Second))
		p.fail(addr, now)
	}
	s := time.Second
	assert.Equal(t, []time.Duration{0, 0, 2 * s, 4 * s, 8 * s, 15 * s, 15 * s}, got)
	assert.Equal(t, 5*s, p.delay(addr, now, 5*s), "bounded by the configured maximum")
	assert.Zero(t, p.delay(addr, now, 0), "off")
	assert.Zero(t, p.delay(netip.MustParseAddr("192.0.2.2"), now, 15*s), "other addresses are not affected")
}

func TestPenaltyDecays(t *testing.T) {
	var p authPenalty
	addr := netip.MustParseAddr("192.0.2.1")
	t0 := time.Now()
	for range 4 {
		p.fail(addr, t0)
	}
	assert.Equal(t, 8*time.Second, p.delay(addr, t0, 15*time.Second))
	assert.Equal(t, 4*time.Second, p.delay(addr, t0.Add(penaltyDecay), 15*time.Second), "one failure forgotten per penaltyDecay")
	assert.Equal(t, 2*time.Second, p.delay(addr, t0.Add(2*penaltyDecay+penaltyDecay/2), 15*time.Second))
	assert.Zero(t, p.delay(addr, t0.Add(10*penaltyDecay), 15*time.Second))
	assert.Zero(t, p.len(), "a forgiven address is forgotten")

	// The count is capped, so that a client that hammered the server is
	// forgiven within minutes of stopping.
	for range 1000 {
		p.fail(addr, t0)
	}
	assert.Zero(t, p.delay(addr, t0.Add(penaltyMaxCount*penaltyDecay), 15*time.Second))
}

// inForce counts the addresses whose next attempt waits: not one with only
// a free failure, not one whose failures have decayed (which it forgets).
func TestPenaltyInForce(t *testing.T) {
	var p authPenalty
	t0 := time.Now()
	one, two, three := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("2001:db8::")
	p.fail(one, t0)
	for range 2 {
		p.fail(two, t0)
	}
	for range 4 {
		p.fail(three, t0)
	}
	assert.Equal(t, 2, p.inForce(t0, 15*time.Second))
	assert.Zero(t, p.inForce(t0, 0), "penalty off")
	assert.Equal(t, 1, p.inForce(t0.Add(2*penaltyDecay), 15*time.Second), "two's failures decayed")
	assert.Equal(t, 1, p.len(), "one and two are forgotten")
	assert.Zero(t, p.inForce(t0.Add(10*penaltyDecay), 15*time.Second))
	assert.Zero(t, p.len())
}

// The table holds at most its capacity: the address that failed longest
// ago goes first. 100,000 distinct addresses leave it at its bound.
func TestPenaltyMemoryBounded(t *testing.T) {
	var p authPenalty
	now := time.Now()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	first := netip.AddrFrom4([4]byte{10, 0, 0, 0})
	var last netip.Addr
	for i := range 100_000 {
		last = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		p.fail(last, now)
		p.fail(last, now)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	assert.Equal(t, penaltyCapacity, p.len())
	assert.Zero(t, p.delay(first, now, time.Minute), "the oldest address was evicted")
	assert.Equal(t, penaltyFirstDelay, p.delay(last, now, time.Minute), "the newest is kept")
	assert.Less(t, int64(after.HeapAlloc)-int64(before.HeapAlloc), int64(8<<20), "heap kept by the table")
}

func TestPenaltyKey(t *testing.T) {
	key := func(a net.Addr) string {
		k, ok := penaltyKey(a)
		if !ok {
			return "none"
		}
		return k.String()
	}
	tcp := func(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }
	assert.Equal(t, "192.0.2.7", key(tcp("192.0.2.7:110")))
	assert.Equal(t, "192.0.2.7", key(tcp("[::ffff:192.0.2.7]:110")), "an IPv4-mapped address is the IPv4 one")
	assert.Equal(t, "2001:db8:1:2::", key(tcp("[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:110")), "IPv6 counts per /64")
	assert.Equal(t, key(tcp("[2001:db8:1:2::1]:1")), key(tcp("[2001:db8:1:2:ffff::9]:2")))
	assert.NotEqual(t, key(tcp("[2001:db8:1:2::1]:1")), key(tcp("[2001:db8:1:3::1]:1")))
	assert.Equal(t, "none", key(&net.UnixAddr{Name: "@", Net: "unix"}), "a unix socket has no address to penalise")
	assert.Equal(t, "none", key(nil))
}

func TestPenaltyForNeverOverflows(t *testing.T) {
	require.Equal(t, time.Hour, penaltyFor(1<<20, time.Hour))
}
