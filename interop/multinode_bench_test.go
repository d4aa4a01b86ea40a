package interop

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkHAProxyNodes measures whole POP3 sessions through HAProxy to
// one pop3d node and to two, on one PostgreSQL: log in (SHA512-CRYPT),
// STAT, RETR of a message of up to 4 KB, QUIT, 32 sessions at a time. It reports
// sessions/s and the resident memory each idle logged-in session adds to
// the nodes. On a machine where HAProxy, PostgreSQL and the nodes share the
// same cores, a second node adds no cores: compare the two to see the
// cost of the spread, not a speed-up.
func BenchmarkHAProxyNodes(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			const parallel = 32
			python := pythonInterpreter(b)
			c := startCluster(b, n)
			users := c.addUsers(b, parallel)
			c.deliver(b, python, &deliveries{delivered: map[string]bool{}}, users, 0, parallel)()

			b.ResetTimer()
			sessions := 0
			for b.Loop() {
				var wg sync.WaitGroup
				errs := make(chan error, parallel)
				for _, u := range users {
					wg.Go(func() {
						if err := oneSession(c.proxyAddr, u); err != nil {
							errs <- err
						}
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
				sessions += parallel
			}
			b.ReportMetric(float64(sessions)/b.Elapsed().Seconds(), "sessions/s")
			b.ReportMetric(0, "ns/op")
			b.StopTimer()
			b.ReportMetric(c.idleSessionMemory(b, 2000)/1024, "KiB/idle-session")
		})
	}
}

// oneSession is the session the benchmark repeats.
func oneSession(addr, user string) error {
	p, err := dialProxied(addr, 30*time.Second)
	if err != nil {
		return err
	}
	defer p.close()
	if err := p.login(user, "pw-"+user); err != nil {
		return err
	}
	if _, err := p.cmd("STAT"); err != nil {
		return err
	}
	if _, err := p.multi("RETR 1"); err != nil {
		return err
	}
	_, err = p.cmd("QUIT")
	return err
}

// idleSessionMemory opens n sessions through HAProxy that log in (as
// users made for them, with empty maildrops) and stay idle, and returns
// how many bytes of resident memory each added to the nodes, in all.
func (c *cluster) idleSessionMemory(tb testing.TB, n int) float64 {
	tb.Helper()
	psql(tb, c.dsn, fmt.Sprintf("INSERT INTO pop3_users (name, password) SELECT 'idle' || g, '{PLAIN}pw' FROM generate_series(1, %d) AS g", n))
	before := c.resident(tb)
	var open []*popClient
	defer func() {
		for _, p := range open {
			p.close()
		}
	}()
	for i := range n {
		p, err := dialProxied(c.proxyAddr, time.Minute)
		if err != nil {
			tb.Fatal(err)
		}
		open = append(open, p)
		if err := p.login(fmt.Sprintf("idle%d", i+1), "pw"); err != nil {
			tb.Fatal(err)
		}
	}
	after := c.resident(tb)
	return float64(after-before) / float64(n)
}

// resident is the nodes' resident memory in bytes, from /proc.
func (c *cluster) resident(tb testing.TB) int64 {
	tb.Helper()
	var total int64
	for _, nd := range c.nodes {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", nd.pid()))
		if err != nil {
			tb.Fatal(err)
		}
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				if err != nil {
					tb.Fatal(err)
				}
				total += kb << 10
			}
		}
	}
	return total
}
