package pop3_test

import (
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

// TestDisable removes each extension in turn: it leaves CAPA, and its
// commands answer as a server without them would.
func TestDisable(t *testing.T) {
	for _, tc := range []struct {
		ext    pop3.Extension
		absent string // the CAPA line that goes
		script string // after the greeting
	}{
		{pop3.ExtCAPA, "", `
			C: CAPA
			S: -ERR unknown command`},
		{pop3.ExtTOP, "TOP", `
			C: USER alice
			S: +OK send PASS
			C: PASS secret
			S: +OK maildrop has 1 message (19 octets)
			C: TOP 1 0
			S: -ERR unknown command`},
		{pop3.ExtUIDL, "UIDL", `
			C: USER alice
			S: +OK send PASS
			C: PASS secret
			S: +OK maildrop has 1 message (19 octets)
			C: UIDL
			S: -ERR unknown command
			C: UIDL 1
			S: -ERR unknown command`},
		{pop3.ExtLAST, "", `
			C: USER alice
			S: +OK send PASS
			C: PASS secret
			S: +OK maildrop has 1 message (19 octets)
			C: LAST
			S: -ERR unknown command`},
		{pop3.ExtUSER, "USER", `
			C: USER alice
			S: -ERR unknown command
			C: PASS secret
			S: -ERR unknown command
			C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
			S: +OK maildrop has 1 message (19 octets)`},
		{pop3.ExtSASL, "SASL PLAIN LOGIN", `
			C: AUTH
			S: -ERR unknown command
			C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
			S: -ERR unknown command
			C: USER alice
			S: +OK send PASS
			C: PASS secret
			S: +OK maildrop has 1 message (19 octets)`},
		{pop3.ExtSTLS, "STLS", `
			C: STLS
			S: -ERR unknown command`},
		{pop3.ExtAPOP, "", `
			C: APOP alice 0123456789abcdef0123456789abcdef
			S: -ERR unknown command`},
		{pop3.ExtRespCodes, "RESP-CODES", `
			C: USER alice
			S: +OK send PASS
			C: PASS wrong
			S: -ERR authentication failed
			C: USER alice
			S: +OK send PASS
			C: PASS secret
			S: -ERR maildrop already locked by another session`},
		{pop3.ExtAuthRespCode, "AUTH-RESP-CODE", `
			C: USER alice
			S: +OK send PASS
			C: PASS wrong
			S: -ERR authentication failed
			C: USER alice
			S: +OK send PASS
			C: PASS secret
			S: -ERR [IN-USE] maildrop already locked by another session`},
		{pop3.ExtPipelining, "PIPELINING", `
			C: USER alice
			S: +OK send PASS`},
		{pop3.ExtUTF8, "UTF8 USER", `
			C: UTF8
			S: -ERR unknown command`},
		{pop3.ExtLANG, "LANG", `
			C: LANG
			S: -ERR unknown command
			C: LANG bg
			S: -ERR unknown command`},
	} {
		t.Run(string(tc.ext), func(t *testing.T) {
			ts := pop3test.NewServer(t, aliceBackend(t, "Subject: 1\r\n\r\none\r\n"), pop3test.WithTLS(),
				pop3test.WithConfig(func(srv *pop3.Server) {
					srv.Disable = []pop3.Extension{tc.ext}
					srv.MaxAuthFailures = -1
				}))

			c := ts.Dial()
			greeting := c.Greeting()
			assert.Equal(t, tc.ext != pop3.ExtAPOP, strings.Contains(greeting, "<"), "APOP timestamp in %q", greeting)
			if tc.ext != pop3.ExtCAPA {
				caps := c.OK("CAPA").Lines()
				assert.NotContains(t, caps, string(tc.ext))
				if tc.absent != "" {
					assert.NotContains(t, caps, tc.absent)
				}
				if tc.ext == pop3.ExtRespCodes {
					assert.NotContains(t, caps, "AUTH-RESP-CODE", "RESP-CODES takes AUTH-RESP-CODE with it")
				}
			}
			if strings.Contains(tc.script, "locked") {
				holder := ts.Dial()
				holder.ReadReply()
				holder.Login("alice", "secret")
			}
			c.Transcript(tc.script)
		})
	}
}

// TestDisablePipelining: without PIPELINING the replies to commands sent
// together still come, in order, each flushed on its own.
func TestDisablePipelining(t *testing.T) {
	c := pop3test.NewServer(t, aliceBackend(t, "Subject: 1\r\n\r\none\r\n"), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.Disable = []pop3.Extension{pop3.ExtPipelining}
	})).Dial()
	replies := c.Pipeline("USER alice", "PASS secret", "STAT", "LIST", "QUIT")
	require.Len(t, replies, 5)
	for _, r := range replies {
		assert.True(t, r.OK, r.Line)
	}
	assert.Equal(t, "+OK 1 19", replies[2].Line)
}

// TestDisableRFC1939Only is a server of RFC 1939 alone, as an old client's
// test needs it: no CAPA, no extension commands, no response codes.
func TestDisableRFC1939Only(t *testing.T) {
	exts, err := pop3.ParseExtensions("capa, sasl,STLS,resp-codes,utf8,lang,pipelining,last")
	require.NoError(t, err)
	ts := pop3test.NewServer(t, aliceBackend(t, "Subject: 1\r\n\r\none\r\n"), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.Disable = exts
	}))
	ts.Dial().Transcript(`
		S: +OK POP3 server ready...
		C: CAPA
		S: -ERR unknown command
		C: USER alice
		S: +OK send PASS
		C: PASS nope
		S: -ERR authentication failed
		C: UTF8
		S: -ERR unknown command
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: +OK maildrop has 1 message (19 octets)
		C: UIDL
		S: +OK unique-id listing follows
		S: 1 ...
		S: .
		C: TOP 1 0
		S: +OK top of message follows
		S: Subject: 1
		S:
		S: .
		C: RETR 9
		S: -ERR no such message, only 1 in maildrop
		C: QUIT
		S: +OK bye, 1 message left`)
}

func TestDisableUnknown(t *testing.T) {
	_, err := pop3.ParseExtensions("UIDL,XFOO")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"XFOO"`)
	_, err = pop3.ParseExtensions("stls, foo ,")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown extension "foo"`, "the name as given, without the list's spaces")

	// Server.Disable takes names as they are: one with a space is a
	// mistake, not STLS.
	for _, ext := range []pop3.Extension{"NOPE", " stls"} {
		srv := pop3.NewServer(memory.New())
		srv.Disable = []pop3.Extension{ext}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		err = srv.Serve(l)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `unknown extension "`+string(ext)+`"`)
	}
}

// TestDisableRespCodesRefusal: without RESP-CODES even a connection
// refused before its session has no code.
func TestDisableRespCodesRefusal(t *testing.T) {
	ts := pop3test.NewServer(t, aliceBackend(t), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.Disable = []pop3.Extension{pop3.ExtRespCodes}
		srv.MaxConnections = 1
	}))
	first := ts.Dial()
	first.Greeting()
	second := ts.Dial()
	assert.Equal(t, "-ERR too many connections", second.ReadLine())
}
