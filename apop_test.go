package pop3_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/gopop3/pop3"
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
func TestVerifyAPOP(t *testing.T) {
	const ts = "<1896.697170952@dbc.mtview.ca.us>"
	assert.Equal(t, "c4c9334bac560ecc979e58001b3e22fb", pop3.APOPDigest(ts, "tanstaaf"))
	assert.True(t, pop3.VerifyAPOP(ts, "tanstaaf", "c4c9334bac560ecc979e58001b3e22fb"))
	assert.True(t, pop3.VerifyAPOP(ts, "tanstaaf", "C4C9334BAC560ECC979E58001B3E22FB"))
	assert.False(t, pop3.VerifyAPOP(ts, "tanstaaf", "c4c9334bac560ecc979e58001b3e22fa"))
	assert.False(t, pop3.VerifyAPOP(ts, "wrong", "c4c9334bac560ecc979e58001b3e22fb"))
	assert.False(t, pop3.VerifyAPOP(ts, "tanstaaf", ""))
}
