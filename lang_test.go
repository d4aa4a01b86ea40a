package pop3_test

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

// isCyrillic reports whether text has Cyrillic letters, as a Bulgarian
// reply does.
func isCyrillic(text string) bool {
	return strings.IndexFunc(text, func(r rune) bool { return unicode.Is(unicode.Cyrillic, r) }) >= 0
}

// TestLang is RFC 6856 §3: the listing, a switch that answers in the new
// language with its tag first, response codes unchanged, an unknown range
// refused in the current language, "*" for the server's choice.
func TestLang(t *testing.T) {
	ts := pop3test.NewServer(t, aliceBackend(t, "Subject: 1\r\n\r\none\r\n"), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.Language = "bg"
	}))

	c := ts.Dial()
	c.Transcript(`
		S: +OK POP3 server ready...
		C: LANG
		S: +OK language listing follows
		S: en English
		S: bg Български
		S: .
		C: LANG xx-Nope-
		S: -ERR unsupported language: xx-Nope-
		C: LANG mul
		S: -ERR unsupported language: mul
		C: LANG bg-BG`)
	r := c.ReadReply()
	require.True(t, r.OK, r.Line)
	assert.True(t, strings.HasPrefix(r.Text, "bg "), r.Line)
	assert.True(t, isCyrillic(r.Text), r.Line)

	c.OK("USER alice")
	r = c.Cmd("PASS wrong")
	assert.Equal(t, "AUTH", r.Code, "the response code is not translated")
	assert.True(t, isCyrillic(r.Text), r.Line)
	r = c.Cmd("LANG zz")
	assert.False(t, r.OK)
	assert.True(t, isCyrillic(r.Text), "a refused LANG answers in the language in force: %s", r.Line)
	r = c.Cmd("NOOP")
	assert.False(t, r.OK)
	assert.True(t, isCyrillic(r.Text), r.Line)

	// In TRANSACTION too, with the numbers of a reply kept.
	c.OK("USER alice")
	r = c.OK("PASS secret")
	assert.Contains(t, r.Text, "1")
	assert.Contains(t, r.Text, "19")
	assert.True(t, isCyrillic(r.Text), r.Line)
	assert.Equal(t, "+OK 1 19", c.OK("STAT").Line, "a reply of numbers only stays as it is")
	r = c.Cmd("RETR 7")
	assert.True(t, isCyrillic(r.Text), r.Line)
	assert.Contains(t, r.Text, "1")
	c.Transcript(`
		C: LANG en
		S: +OK en language changed
		C: RETR 7
		S: -ERR no such message, only 1 in maildrop
		C: LANG *`)
	r = c.ReadReply()
	assert.True(t, strings.HasPrefix(r.Text, "bg "), "LANG * is the server's Language: %s", r.Line)
	c.OK("QUIT")
}

func TestLanguages(t *testing.T) {
	assert.Equal(t, []string{"en", "bg"}, pop3.Languages())

	srv := pop3.NewServer(memory.New())
	srv.Language = "tlh"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	err = srv.Serve(l)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Server.Language")
}

// TestLangForgottenAtSTLS: RFC 2595 §4 has the server forget what the
// client said before TLS; a LANG sent then may be a man in the middle's
// (RFC 6856 §7).
func TestLangForgottenAtSTLS(t *testing.T) {
	ts := pop3test.NewServer(t, aliceBackend(t), pop3test.WithTLS())
	c := ts.Dial()
	c.Greeting()
	require.True(t, isCyrillic(c.OK("LANG bg").Text))
	c.StartTLS(ts.ClientTLSConfig())
	assert.Equal(t, "-ERR command not valid in the AUTHORIZATION state", c.Cmd("STAT").Line)
}

// TestMessageCountGrammar: a count of one message is singular, in English
// and in Bulgarian, in the greeting after login, LIST and QUIT.
func TestMessageCountGrammar(t *testing.T) {
	for _, tc := range []struct {
		msgs                    int
		lang                    string
		maildrop, list, goodbye string
	}{
		{0, "", "+OK maildrop has 0 messages (0 octets)", "+OK 0 messages (0 octets)", "+OK bye, 0 messages left"},
		{1, "", "+OK maildrop has 1 message (3 octets)", "+OK 1 message (3 octets)", "+OK bye, 1 message left"},
		{2, "", "+OK maildrop has 2 messages (6 octets)", "+OK 2 messages (6 octets)", "+OK bye, 2 messages left"},
		{1, "bg", "+OK пощенската кутия съдържа 1 съобщение (3 октета)", "+OK 1 съобщение (3 октета)", "+OK довиждане, остава 1 съобщение"},
		{2, "bg", "+OK пощенската кутия съдържа 2 съобщения (6 октета)", "+OK 2 съобщения (6 октета)", "+OK довиждане, остават 2 съобщения"},
	} {
		t.Run(fmt.Sprintf("%d %s", tc.msgs, tc.lang), func(t *testing.T) {
			c := pop3test.NewServer(t, aliceBackend(t, slices.Repeat([]string{"a\r\n"}, tc.msgs)...)).Dial()
			if tc.lang != "" {
				c.OK("LANG " + tc.lang)
			}
			c.OK("USER alice")
			assert.Equal(t, tc.maildrop, c.Cmd("PASS secret").Line)
			assert.Equal(t, tc.list, c.OK("LIST").Line)
			assert.Equal(t, tc.goodbye, c.Cmd("QUIT").Line)
		})
	}
}
