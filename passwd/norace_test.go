//go:build !race

package passwd

// raceEnabled reports a -race build, where sync.Pool drops what it is
// given at random and allocation counts mean nothing.
const raceEnabled = false
