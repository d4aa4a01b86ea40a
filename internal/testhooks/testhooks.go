// Package testhooks reaches behaviour of package pop3 that only tests may
// change, and that must therefore stay out of its public API: a fixed APOP
// timestamp would let anyone who saw one APOP login replay it. Package
// pop3 installs the hooks when it is initialised; pop3test calls them.
package testhooks

import "time"

// SetAPOPTimestamp makes srv, a *pop3.Server not yet serving, greet every
// connection with the APOP timestamp that next returns (RFC 1939 §7), so
// that a golden transcript needs no masking. Installed by package pop3.
var SetAPOPTimestamp func(srv any, next func() string)

// SetClock makes srv, a *pop3.Server not yet serving, read the time from
// now for LOGIN-DELAY and EXPIRE, so that a test can move it forward by
// days. Installed by package pop3.
var SetClock func(srv any, now func() time.Time)
