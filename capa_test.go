package pop3_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/pop3test"
)

func TestCapa(t *testing.T) {
	c := pop3test.NewServer(t, aliceBackend(t), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.Implementation = "gopop3 test"
	})).Dial()
	c.ReadReply()
	c.Send("CAPA")
	require.Equal(t, "+OK capability list follows", c.ReadLine())
	before := strings.Split(strings.TrimSpace(string(c.ReadBody())), "\r\n")
	assert.Equal(t, []string{"TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "SASL PLAIN LOGIN",
		"EXPIRE NEVER", "UTF8 USER", "LANG"}, before)

	c.Send("USER alice")
	c.ReadReply()
	c.Send("PASS secret")
	c.ReadReply()
	c.Send("capa")
	require.Equal(t, "+OK capability list follows", c.ReadLine())
	after := strings.Split(strings.TrimSpace(string(c.ReadBody())), "\r\n")
	// RFC 2449 §5: what AUTHORIZATION offers is announced in both states.
	assert.Equal(t, []string{"TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "SASL PLAIN LOGIN",
		"EXPIRE NEVER", "UTF8 USER", "LANG", "IMPLEMENTATION gopop3 test"}, after)
	assert.NotContains(t, after, "LAST")
}

// TestCapaAfterUTF8: STLS is not offered once UTF8 is on, since it is
// then refused (RFC 6856 §2.1).
func TestCapaAfterUTF8(t *testing.T) {
	c := pop3test.NewServer(t, aliceBackend(t), pop3test.WithTLS()).Dial()
	assert.Contains(t, c.OK("CAPA").Lines(), "STLS")
	c.OK("UTF8")
	assert.NotContains(t, c.OK("CAPA").Lines(), "STLS")
}
