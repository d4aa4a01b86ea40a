package pop3_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

// TestUTF8Command is RFC 6856 §2.1: UTF8 before login, and only there;
// no STLS after it.
func TestUTF8Command(t *testing.T) {
	ts := pop3test.NewServer(t, aliceBackend(t, "Subject: 1\r\n\r\none\r\n"), pop3test.WithTLS())
	ts.Dial().Transcript(`
		S: +OK POP3 server ready...
		C: UTF8
		S: +OK UTF-8 mode enabled
		C: STLS
		S: -ERR STLS not allowed after UTF8
		C: utf8
		S: +OK UTF-8 mode enabled
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: +OK maildrop has 1 message (19 octets)
		C: UTF8
		S: -ERR command not valid in the TRANSACTION state
		C: QUIT
		S: +OK bye, 1 message left`)
}

// TestUTF8Credentials is RFC 6856 §2.2: UTF-8 user names and passwords,
// before UTF8 too, are checked and normalised (PRECIS, RFC 8265), so that
// a client that sends decomposed characters logs in as one that sends
// composed ones.
func TestUTF8Credentials(t *testing.T) {
	b := memory.New()
	require.NoError(t, b.AddUser("j\u00f6ran", "p\u00e4ss w\u00f6rd"))
	_, err := b.AppendMessage("j\u00f6ran", []byte("Subject: hej\r\n\r\nhej\r\n"))
	require.NoError(t, err)
	ts := pop3test.NewServer(t, b, pop3test.WithConfig(func(srv *pop3.Server) {
		srv.MaxAuthFailures = -1
	}))

	// Decomposed (NFD) name and password, and a no-break space in the
	// password, which OpaqueString maps to a space.
	ts.Dial().Transcript("S: +OK POP3 server ready...\n" +
		"C: USER jo\u0308ran\nS: +OK send PASS\n" +
		"C: PASS pa\u0308ss\u00a0wo\u0308rd\nS: +OK maildrop has 1 message (21 octets)\n" +
		"C: QUIT\nS: +OK bye, 1 message left\n")
	ts.Dial().Transcript("S: +OK POP3 server ready...\n" +
		"C: USER j\xf6ran\nS: -ERR [AUTH] user name is not valid UTF-8\n" +
		"C: USER \u0378man\nS: -ERR [AUTH] user name has characters that are not allowed\n" +
		// A name with a space, as ASCII names may have, and a symbol.
		"C: USER jos\u00e9 smith \u2603\nS: +OK send PASS\n" +
		"C: PASS x\nS: -ERR [AUTH] authentication failed\n" +
		"C: USER j\u00f6ran\nS: +OK send PASS\n" +
		"C: PASS p\xe4ss\nS: -ERR [AUTH] password is not valid UTF-8\n" +
		// AUTH PLAIN of "\x00jöran\x00päss wörd", decomposed.
		"C: AUTH PLAIN AGpvzIhyYW4AcGHMiHNzIHdvzIhyZA==\nS: +OK maildrop has 1 message (21 octets)\n" +
		"C: QUIT\nS: +OK bye, 1 message left\n")

	// Without the UTF8 extension the octets reach the backend as sent.
	ts2 := pop3test.NewServer(t, b, pop3test.WithConfig(func(srv *pop3.Server) {
		srv.Disable = []pop3.Extension{pop3.ExtUTF8}
	}))
	ts2.Dial().Transcript("S: +OK POP3 server ready...\n" +
		"C: USER jo\u0308ran\nS: +OK send PASS\n" +
		"C: PASS pa\u0308ss wo\u0308rd\nS: -ERR [AUTH] authentication failed\n" +
		"C: USER j\u00f6ran\nS: +OK send PASS\n" +
		"C: PASS p\u00e4ss w\u00f6rd\nS: +OK maildrop has 1 message (21 octets)\n")
}
