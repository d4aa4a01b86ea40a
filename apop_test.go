package pop3_test

import (
	"testing"

	"github.com/gopop3/pop3/pop3test"
)

func TestAPOPFailure(t *testing.T) {
	ts := pop3test.NewServer(t, aliceBackend(t))
	ts.Dial().Transcript(`
		S: +OK ...
		C: APOP alice c4c9334bac560ecc979e58001b3e22fb
		S: -ERR [AUTH] authentication failed
		C: APOP alice
		S: -ERR missing argument
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: +OK ...
	`)
	ts = pop3test.NewServer(t, loginOnly(aliceBackend(t)))
	ts.Dial().Transcript(`
		S: +OK ...
		C: APOP alice c4c9334bac560ecc979e58001b3e22fb
		S: -ERR APOP not supported
	`)
}
