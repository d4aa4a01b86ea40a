package pop3_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/downgrade"
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
	ts := pop3test.NewServer(t, aliceBackend(t, intlMessage, asciiMessage))

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

	c := ts.Dial()
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

	c = ts.Dial()
	c.OK("UTF8")
	c.Login("alice", "secret")
	listed, body, sent = retrieve(c)
	assert.Equal(t, intlMessage, body, "in UTF-8 mode the message goes as stored")
	assert.Equal(t, int64(len(intlMessage)), sent)
	assert.Equal(t, sent, listed[0])
	c.Quit()

	// A server without UTF8 sends the message as it is stored, as
	// before RFC 6856.
	c = pop3test.NewServer(t, aliceBackend(t, intlMessage), pop3test.WithConfig(func(srv *pop3.Server) {
		srv.Disable = []pop3.Extension{pop3.ExtUTF8}
	})).Dial()
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
	ts := pop3test.NewServer(t, aliceBackend(t, ascii, intl))
	c := ts.Dial()
	c.Login("alice", "secret")
	assert.Len(t, c.OK("LIST").Lines(), 2)
	assert.Equal(t, ascii, string(c.OK("RETR 1").Body))
	r := c.Cmd("RETR 2")
	assert.Equal(t, "UTF8", r.Code, r.Line)
	assert.Equal(t, "UTF8", c.Cmd("TOP 2 0").Code)
	c.Quit()

	c = ts.Dial()
	c.OK("UTF8")
	c.Login("alice", "secret")
	assert.Equal(t, intl, string(c.OK("RETR 2").Body))
	c.Quit()
}

// readCountingBackend serves fixed messages, with the DowngradedSize that
// downgraded gives, and counts the calls that read them.
type readCountingBackend struct {
	msgs       []string
	downgraded func(i int, msg string) int64
	reads      atomic.Int32
}

func (b *readCountingBackend) Login(context.Context, *pop3.ConnInfo, string, string) (pop3.User, error) {
	return b, nil
}

func (b *readCountingBackend) Open(context.Context) (pop3.Mailbox, error) {
	infos := make([]pop3.MessageInfo, len(b.msgs))
	for i, m := range b.msgs {
		infos[i] = pop3.MessageInfo{Size: int64(len(m)), UID: "u" + strconv.Itoa(i), DowngradedSize: b.downgraded(i, m)}
	}
	return &readCountingBox{b: b, infos: infos}, nil
}

type readCountingBox struct {
	b     *readCountingBackend
	infos []pop3.MessageInfo
}

func (m *readCountingBox) Messages() []pop3.MessageInfo { return m.infos }
func (m *readCountingBox) Message(_ context.Context, i int) (io.ReadCloser, error) {
	m.b.reads.Add(1)
	return io.NopCloser(strings.NewReader(m.b.msgs[i])), nil
}
func (m *readCountingBox) Delete(context.Context, []int) error { return nil }
func (m *readCountingBox) Close() error                        { return nil }

// knownDowngraded is what a store that computed DowngradedSize at
// delivery lists.
func knownDowngraded(t testing.TB) func(int, string) int64 {
	return func(_ int, msg string) int64 {
		n, err := pop3.DowngradedSize(strings.NewReader(msg), int64(len(msg)))
		require.NoError(t, err)
		return n
	}
}

// TestListReadsNoMessage: LIST in a session without UTF8 reads no message
// whose DowngradedSize the store gives, and reads each other one once per
// server, however many sessions list it.
func TestListReadsNoMessage(t *testing.T) {
	// An empty message has no header: nothing to read for it either.
	msgs := []string{intlMessage, asciiMessage, intlMessage + "more\r\n", ""}
	for _, tc := range []struct {
		name       string
		downgraded func(t testing.TB) func(int, string) int64
		firstReads int32
	}{
		{"store knows", knownDowngraded, 0},
		{"store does not know", func(testing.TB) func(int, string) int64 { return func(int, string) int64 { return 0 } }, 3},
		{"store knows some", func(t testing.TB) func(int, string) int64 {
			known := knownDowngraded(t)
			return func(i int, msg string) int64 {
				if i == 1 {
					return 0
				}
				return known(i, msg)
			}
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &readCountingBackend{msgs: msgs, downgraded: tc.downgraded(t)}
			ts := pop3test.NewServer(t, b)
			var want []string
			var total int64
			for i, m := range msgs {
				n := knownDowngraded(t)(i, m)
				want = append(want, strconv.Itoa(i+1)+" "+strconv.FormatInt(n, 10))
				total += n
			}
			for session := range 2 {
				c := ts.Dial()
				c.Login("alice", "secret")
				list := c.OK("LIST")
				assert.Equal(t, want, list.Lines())
				assert.Equal(t, "4 messages ("+strconv.FormatInt(total, 10)+" octets)", list.Text)
				assert.Equal(t, "+OK "+want[1], c.OK("LIST 2").Line)
				c.Quit()
				if session == 0 {
					assert.Equal(t, tc.firstReads, b.reads.Load(), "messages read by the first LIST")
				} else {
					assert.Equal(t, tc.firstReads, b.reads.Load(), "a later session reads nothing more")
				}
			}
			c := ts.Dial()
			c.OK("UTF8")
			c.Login("alice", "secret")
			c.OK("LIST")
			c.Quit()
			assert.Equal(t, tc.firstReads, b.reads.Load(), "LIST in UTF-8 mode reads nothing")
		})
	}
}

// TestDowngradedSizeWrong: a store whose DowngradedSize is wrong cannot
// make RETR send 8-bit octets to a client that has not enabled UTF-8; the
// server says so in its log, once per maildrop.
func TestDowngradedSizeWrong(t *testing.T) {
	b := &readCountingBackend{msgs: []string{intlMessage, intlMessage},
		downgraded: func(_ int, msg string) int64 { return int64(len(msg)) }}
	ts := pop3test.NewServer(t, b)
	c := ts.Dial()
	c.Login("alice", "secret")
	assert.Equal(t, "+OK 1 "+strconv.Itoa(len(intlMessage)), c.OK("LIST 1").Line, "LIST trusts the store")
	for _, n := range []string{"1", "2"} {
		body := c.OK("RETR " + n).Body
		header, _, _ := strings.Cut(string(body), "\r\n\r\n")
		for i := 0; i < len(header); i++ {
			require.Less(t, header[i], byte(0x80), "RETR downgrades all the same: %q", header)
		}
	}
	assert.Equal(t, "+OK 1 "+strconv.Itoa(len(c.OK("RETR 1").Body)), c.OK("LIST 1").Line, "then LIST reports what RETR sends")
	c.Quit()
	assert.Equal(t, 1, strings.Count(ts.Logs(), "backend listed a downgraded size other than the message's"), ts.Logs())

	// The next session too: the server remembers what it read over the
	// store's word.
	c = ts.Dial()
	c.Login("alice", "secret")
	list := c.OK("LIST").Lines()
	for i, n := range []string{"1", "2"} {
		assert.Equal(t, n+" "+strconv.Itoa(len(c.OK("RETR "+n).Body)), list[i])
	}
	c.Quit()
}

// FuzzDowngradedSize: the size DowngradedSize gives is the length of what
// the server sends for the message when it downgrades it.
func FuzzDowngradedSize(f *testing.F) {
	f.Add(intlMessage)
	f.Add(asciiMessage)
	f.Add("Subject: \xff\xfe\r\n\r\n")
	f.Add("From: A <\u00fc@x>\r\nTo: b\r\n\r\nbody")
	f.Fuzz(func(t *testing.T, msg string) {
		n, err := pop3.DowngradedSize(strings.NewReader(msg), int64(len(msg)))
		require.NoError(t, err)
		hdr, err := downgrade.ReadHeader(bufio.NewReader(strings.NewReader(msg)))
		require.NoError(t, err)
		out, _ := downgrade.Header(hdr)
		assert.Equal(t, int64(len(out)+len(msg)-len(hdr)), n, "the downgraded header and the body as it is")
	})
}

func ExampleDowngradedSize() {
	msg := "From: Jöran <joran@example.se>\r\nSubject: hej\r\n\r\nbody\r\n"
	downgraded, err := pop3.DowngradedSize(strings.NewReader(msg), int64(len(msg)))
	if err != nil {
		panic(err)
	}
	// A store keeps both, and lists them:
	info := pop3.MessageInfo{Size: int64(len(msg)), UID: "1", DowngradedSize: downgraded}
	fmt.Println(info.Size, info.DowngradedSize)

	ascii := "Subject: hello\r\n\r\nbody\r\n"
	same, _ := pop3.DowngradedSize(strings.NewReader(ascii), int64(len(ascii)))
	fmt.Println(len(ascii), same)
	// Output:
	// 55 71
	// 24 24
}
