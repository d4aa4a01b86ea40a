package pop3_test

import (
	"testing"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/pop3test"
)

// A response code that is not RFC 2449 syntax is dropped, not sent.
func TestInvalidResponseCodeDropped(t *testing.T) {
	faulty := pop3test.NewFaultBackend(aliceBackend(t),
		pop3test.Fault{Op: pop3test.OpLogin, Err: &pop3.Error{Code: "BAD] CODE", Text: "nope"}})
	pop3test.NewServer(t, faulty.Backend()).Dial().Transcript(`
		S: +OK ...
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: -ERR nope
	`)
}
