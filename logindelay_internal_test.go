package pop3

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The server's own login times stay bounded: times older than the delay
// go once the map has grown, and past maxLoginTimes users some are
// forgotten, never the one just recorded.
func TestLoginTimesBounded(t *testing.T) {
	var lt loginTimes
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 2000 {
		lt.record("old"+strconv.Itoa(i), t0, time.Minute)
	}
	later := t0.Add(time.Hour)
	lt.record("Alice", later, time.Minute)
	assert.Equal(t, later, lt.get("alice"), "keyed in lower case")
	for i := range 100 {
		lt.record("new"+strconv.Itoa(i), later, time.Minute)
	}
	assert.Less(t, len(lt.last), 1024+200, "the old times were pruned")
	assert.True(t, lt.get("old1").IsZero())

	for i := range maxLoginTimes + 10 {
		lt.record("u"+strconv.Itoa(i), later, time.Hour)
	}
	assert.LessOrEqual(t, len(lt.last), maxLoginTimes)
	assert.Equal(t, later, lt.get("u"+strconv.Itoa(maxLoginTimes+9)))
}
