package pop3_test

import (
	"mime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/pop3test"
)

// intlMessage has an internationalized header (RFC 6532).
const intlMessage = "From: Jöran Åberg <jöran@exämple.se>\r\n" +
	"To: alice@example.org\r\n" +
	"Subject: Привет, мир\r\n" +
	"\r\n" +
	"Тело письма.\r\n"

const asciiMessage = "Subject: plain\r\n\r\nbody\r\n"

// TestDowngrade is RFC 6856 §2.1 with RFC 6858: without UTF8 the client
// gets the message with an ASCII header, and LIST reports what RETR
// sends; with UTF8 it gets the message as stored.
func TestDowngrade(t *testing.T) {
	srv, _ := newMemoryServer(t, intlMessage, asciiMessage)
	srv.Logger = discardLogger()
	addr := startServer(t, srv)

	retrieve := func(c *pop3test.Client) (listed []int64, retr string, sent int64) {
		list := c.OK("LIST")
		var total int64
		for _, l := range list.Lines() {
			_, size, _ := strings.Cut(l, " ")
			n, err := strconv.ParseInt(size, 10, 64)
			require.NoError(t, err)
			listed = append(listed, n)
			total += n
		}
		assert.Equal(t, "2 messages ("+strconv.FormatInt(total, 10)+" octets)", list.Text)
		r := c.OK("RETR 1")
		octets, _, _ := strings.Cut(r.Text, " ")
		sent, _ = strconv.ParseInt(octets, 10, 64)
		assert.Equal(t, int64(len(r.Body)), sent, "the octets RETR announces are those it sends")
		list1 := c.OK("LIST 1")
		assert.Equal(t, "1 "+strconv.FormatInt(listed[0], 10), list1.Text)
		return listed, string(r.Body), sent
	}

	c := pop3test.Dial(t, addr)
	c.Login("alice", "secret")
	listed, body, sent := retrieve(c)
	assert.Equal(t, sent, listed[0], "LIST reports the downgraded size")
	assert.Equal(t, "+OK 2 "+strconv.Itoa(len(intlMessage)+len(asciiMessage)), c.OK("STAT").Line,
		"STAT reports the stored sizes (RFC 6856 §2.1 asks it of LIST only)")
	assert.Equal(t, int64(len(asciiMessage)), listed[1], "an ASCII message is unchanged")
	header, rest, ok := strings.Cut(body, "\r\n\r\n")
	require.True(t, ok)
	for i := 0; i < len(header); i++ {
		require.Less(t, header[i], byte(0x80), "no 8-bit octet in a downgraded header: %q", header)
	}
	assert.Equal(t, "Тело письма.\r\n", rest, "the body is not touched")
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(strings.TrimPrefix(headerField(header, "Subject"), " "))
	require.NoError(t, err)
	assert.Equal(t, "Привет, мир", subject)
	top := c.OK("TOP 1 0")
	assert.Equal(t, header+"\r\n\r\n", string(top.Body), "TOP downgrades as RETR does")
	c.Quit()

	c = pop3test.Dial(t, addr)
	c.OK("UTF8")
	c.Login("alice", "secret")
	listed, body, sent = retrieve(c)
	assert.Equal(t, intlMessage, body, "in UTF-8 mode the message goes as stored")
	assert.Equal(t, int64(len(intlMessage)), sent)
	assert.Equal(t, sent, listed[0])
	c.Quit()

	// A server without UTF8 sends the message as it is stored, as
	// before RFC 6856.
	srv2, _ := newMemoryServer(t, intlMessage)
	srv2.Disable = []pop3.Extension{pop3.ExtUTF8}
	c = pop3test.Dial(t, startServer(t, srv2))
	c.Login("alice", "secret")
	assert.Equal(t, intlMessage, string(c.OK("RETR 1").Body))
	c.Quit()
}

// headerField returns the unfolded value of a header field.
func headerField(header, name string) string {
	for _, f := range strings.Split(strings.ReplaceAll(header, "\r\n ", " "), "\r\n") {
		if k, v, ok := strings.Cut(f, ":"); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// TestDowngradeHugeHeader: a header too large to downgrade is sent as it
// is when it is ASCII (a message without a blank line, say), and refused
// with [UTF8] (RFC 6856 §5) when it is not, except in UTF-8 mode.
func TestDowngradeHugeHeader(t *testing.T) {
	ascii := strings.Repeat("X-Filler: "+strings.Repeat("z", 88)+"\r\n", 3000) + "\r\nbody\r\n"
	intl := "Subject: gr\u00fc\u00df\r\n" + ascii
	srv, _ := newMemoryServer(t, ascii, intl)
	srv.Logger = discardLogger()
	addr := startServer(t, srv)
	c := pop3test.Dial(t, addr)
	c.Login("alice", "secret")
	assert.Len(t, c.OK("LIST").Lines(), 2)
	assert.Equal(t, ascii, string(c.OK("RETR 1").Body))
	r := c.Cmd("RETR 2")
	assert.Equal(t, "UTF8", r.Code, r.Line)
	assert.Equal(t, "UTF8", c.Cmd("TOP 2 0").Code)
	c.Quit()

	c = pop3test.Dial(t, addr)
	c.OK("UTF8")
	c.Login("alice", "secret")
	assert.Equal(t, intl, string(c.OK("RETR 2").Body))
	c.Quit()
}
