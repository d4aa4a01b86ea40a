package pop3_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/pop3test"
)

func TestParseWorkarounds(t *testing.T) {
	both := []pop3.Workaround{pop3.WorkaroundOutlookNoNULs, pop3.WorkaroundOENSEOH}
	for _, tc := range []struct {
		in   string
		want []pop3.Workaround
	}{
		{"", nil},
		{" , ", nil},
		{"outlook-no-nuls", both[:1]},
		{"oe-ns-eoh", both[1:]},
		{"outlook-no-nuls,oe-ns-eoh", both},
		{"Outlook-No-NULs, OE-NS-EOH", both},
		{"outlook-no-nuls oe-ns-eoh", both}, // as Dovecot's setting is written
		{"oe-ns-eoh,outlook-no-nuls,oe-ns-eoh", []pop3.Workaround{pop3.WorkaroundOENSEOH, pop3.WorkaroundOutlookNoNULs}},
	} {
		got, err := pop3.ParseWorkarounds(tc.in)
		require.NoError(t, err, "%q", tc.in)
		assert.Equal(t, tc.want, got, "%q", tc.in)
	}
	for _, in := range []string{"delay-newmail", "outlook-no-nuls,tb-extra-mailbox-sep", "outlook_no_nuls"} {
		_, err := pop3.ParseWorkarounds(in)
		require.Error(t, err, "%q", in)
		assert.ErrorContains(t, err, "unknown client workaround", in)
		assert.ErrorContains(t, err, "(known: outlook-no-nuls, oe-ns-eoh)", in)
	}
}

func ExampleParseWorkarounds() {
	// As pop3d's -client-workarounds or Dovecot's pop3_client_workarounds.
	ws, err := pop3.ParseWorkarounds("outlook-no-nuls, oe-ns-eoh")
	if err != nil {
		panic(err)
	}
	fmt.Println(ws)
	srv := pop3.NewServer(nil)
	srv.ClientWorkarounds = ws

	_, err = pop3.ParseWorkarounds("outlook-no-nuls,no-such-thing")
	fmt.Println(err)
	// Output:
	// [outlook-no-nuls oe-ns-eoh]
	// pop3: unknown client workaround "no-such-thing" (known: outlook-no-nuls, oe-ns-eoh)
}

// withWorkarounds is a test server option that sets ClientWorkarounds.
func withWorkarounds(ws ...pop3.Workaround) pop3test.Option {
	return pop3test.WithConfig(func(srv *pop3.Server) { srv.ClientWorkarounds = ws })
}

// What the two workarounds look like on the wire, with dot-stuffing next
// to them: a NUL before a dot keeps the dot from starting the line, a dot
// before a NUL is stuffed, and the empty line is added after a last
// header line that is a lone dot, before the terminator. Sizes stay
// those of the stored messages.
func TestClientWorkaroundsTranscript(t *testing.T) {
	const (
		nuls   = "Subject: nul\r\n\r\nbefore\x00after\r\n\x00.not stuffed\r\n.\x00stuffed\r\n"
		header = "Subject: header only\r\n.\r\n"
	)
	ts := pop3test.NewServer(t, aliceBackend(t, nuls, header),
		withWorkarounds(pop3.WorkaroundOutlookNoNULs, pop3.WorkaroundOENSEOH))
	ts.Dial().Transcript(fmt.Sprintf(`
		S: +OK ...
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: +OK maildrop has 2 messages (...
		C: LIST
		S: +OK 2 messages (%[3]d octets)
		S: 1 %[1]d
		S: 2 %[2]d
		S: .
		C: RETR 1
		S: +OK %[1]d octets
		S: Subject: nul
		S:
		S: before`+"\x80"+`after
		S: `+"\x80"+`.not stuffed
		S: ..`+"\x80"+`stuffed
		S: .
		C: RETR 2
		S: +OK %[2]d octets
		S: Subject: header only
		S: ..
		S:
		S: .
		C: TOP 2 0
		S: +OK top of message follows
		S: Subject: header only
		S: ..
		S:
		S: .
		C: TOP 1 1
		S: +OK top of message follows
		S: Subject: nul
		S:
		S: before`+"\x80"+`after
		S: .
		C: QUIT
		S: +OK ...
		S: <closed>
	`, len(nuls), len(header), len(nuls)+len(header)))
	assert.NotContains(t, ts.Logs(), "level=WARN", "the added empty line is not the backend's size mismatch")
}

// Each workaround alone changes only what it names.
func TestClientWorkaroundsAlone(t *testing.T) {
	const msg = "Subject: \x00\r\n" // a NUL, and no empty line
	for _, tc := range []struct {
		ws   []pop3.Workaround
		want string
	}{
		{nil, msg},
		{[]pop3.Workaround{pop3.WorkaroundOutlookNoNULs}, "Subject: \x80\r\n"},
		{[]pop3.Workaround{pop3.WorkaroundOENSEOH}, msg + "\r\n"},
		{[]pop3.Workaround{"OE-NS-EOH", "Outlook-No-NULs"}, "Subject: \x80\r\n\r\n"}, // names in any case
	} {
		c := pop3test.NewServer(t, aliceBackend(t, msg), withWorkarounds(tc.ws...)).Dial()
		c.Login("alice", "secret")
		r := c.OK("RETR 1")
		assert.Equal(t, "+OK "+strconv.Itoa(len(msg))+" octets", r.Line, "%v", tc.ws)
		assert.Equal(t, tc.want, string(r.Body), "%v", tc.ws)
		assert.Equal(t, tc.want, string(c.OK("TOP 1 5").Body), "%v", tc.ws)
		c.Quit()
	}
}

// rawBackend serves alice's messages as a store over files does: the
// stored octets, with LF or CRLF line ends, through pop3.NewCRLFReader,
// and sizes from pop3.CRLFSize. With top it is a TopMailbox too. It counts
// the messages it opens.
type rawBackend struct {
	msgs  []string
	top   bool
	opens atomic.Int32
}

func (b *rawBackend) Login(_ context.Context, _ *pop3.ConnInfo, username, password string) (pop3.User, error) {
	if username != "alice" || password != "secret" {
		return nil, pop3.ErrAuthFailed
	}
	return b, nil
}

func (b *rawBackend) Open(context.Context) (pop3.Mailbox, error) {
	if b.top {
		return rawTopMailbox{rawMailbox{b}}, nil
	}
	return rawMailbox{b}, nil
}

type rawMailbox struct{ b *rawBackend }

func (m rawMailbox) Messages() []pop3.MessageInfo {
	infos := make([]pop3.MessageInfo, len(m.b.msgs))
	for i, msg := range m.b.msgs {
		size, err := pop3.CRLFSize(strings.NewReader(msg))
		if err != nil {
			panic(err)
		}
		infos[i] = pop3.MessageInfo{Size: size, UID: "raw-" + strconv.Itoa(i+1)}
	}
	return infos
}

func (m rawMailbox) Message(_ context.Context, i int) (io.ReadCloser, error) {
	m.b.opens.Add(1)
	return pop3.NewCRLFReader(strings.NewReader(m.b.msgs[i])), nil
}

func (rawMailbox) Delete(context.Context, []int) error { return nil }
func (rawMailbox) Close() error                        { return nil }

type rawTopMailbox struct{ rawMailbox }

func (m rawTopMailbox) Top(ctx context.Context, i, lines int) (io.ReadCloser, error) {
	r, err := m.Message(ctx, i)
	if err != nil {
		return nil, err
	}
	return pop3.NewTopReader(r, lines), nil
}

// allHeader reports whether msg, with its line ends made CRLF, has no
// empty line: a message that the empty line is added to.
func allHeader(t *testing.T, msg string) bool {
	crlf, err := io.ReadAll(pop3.NewCRLFReader(strings.NewReader(msg)))
	require.NoError(t, err)
	c := string(crlf)
	return !strings.HasPrefix(c, "\r\n") && !strings.Contains(c, "\n\r\n")
}

// TestClientWorkaroundsCompose checks every workaround against a server
// without it, over stores with CRLF and with LF line ends, with and without
// TopMailbox, in sessions with and without UTF8 (RFC 6856: without it the
// header is downgraded first): RETR and TOP send what the plain server
// sends with NULs as 0x80 and, for a message that is all header, CRLF
// more; LIST, STAT and RETR's +OK report the same sizes; no size mismatch
// is logged, and LIST opens no message for the workarounds.
func TestClientWorkaroundsCompose(t *testing.T) {
	msgs := []string{
		"Subject: a\x00b\r\n\r\nbody\x00\r\n.\x00\r\n\x00.\r\n",
		"Subject: only\r\nX: y\r\n",
		"Subject: only\r\n.\r\n",
		"Subject: Привет\r\nFrom: Jöran <j@exämple.se>\r\n",
		"Subject: Привет\x00\r\n\r\nТело\x00\r\n",
		"From: Jöran <j@exämple.se>\r\n.dot\r\n",
		"\r\nno header at all\r\n",
	}
	raw := append(slices.Clone(msgs),
		"Subject: lf\nX: y",
		"Subject: lf\n\nbody\x00\n.\n",
		"Subject: Привет\n.",
		"Subject: cr\r",
		"Subject: two crs\r\r",
		"Subject: lone cr last\n\r",
		"",
	)
	stores := []struct {
		name string
		msgs []string
		new  func() pop3.Backend
	}{
		{"memory", msgs, func() pop3.Backend { return aliceBackend(t, msgs...) }},
		{"raw", raw, func() pop3.Backend { return &rawBackend{msgs: raw} }},
		{"raw-top", raw, func() pop3.Backend { return &rawBackend{msgs: raw, top: true} }},
	}
	sets := [][]pop3.Workaround{
		{pop3.WorkaroundOutlookNoNULs},
		{pop3.WorkaroundOENSEOH},
		{pop3.WorkaroundOutlookNoNULs, pop3.WorkaroundOENSEOH},
	}
	for _, st := range stores {
		plain := pop3test.NewServer(t, st.new())
		for _, ws := range sets {
			be := st.new()
			worked := pop3test.NewServer(t, be, withWorkarounds(ws...))
			nuls := slices.Contains(ws, pop3.WorkaroundOutlookNoNULs)
			eoh := slices.Contains(ws, pop3.WorkaroundOENSEOH)
			for _, utf8 := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%v/utf8=%v", st.name, ws, utf8), func(t *testing.T) {
					pc, wc := plain.Dial(), worked.Dial()
					for _, c := range []*pop3test.Client{pc, wc} {
						if utf8 {
							c.OK("UTF8")
						}
						c.Login("alice", "secret")
					}
					if rb, ok := be.(*rawBackend); ok && utf8 {
						rb.opens.Store(0)
						wc.OK("LIST")
						assert.Zero(t, rb.opens.Load(), "LIST opens no message")
					}
					assert.Equal(t, pc.OK("LIST").Body, wc.OK("LIST").Body, "LIST")
					assert.Equal(t, pc.OK("STAT").Line, wc.OK("STAT").Line, "STAT")
					for i, msg := range st.msgs {
						n := strconv.Itoa(i + 1)
						for _, cmd := range []string{"RETR " + n, "TOP " + n + " 0", "TOP " + n + " 1", "TOP " + n + " 100"} {
							p, w := pc.OK(cmd), wc.OK(cmd)
							assert.Equal(t, p.Line, w.Line, "%s of %q", cmd, msg)
							want := string(p.Body)
							if nuls {
								want = strings.ReplaceAll(want, "\x00", "\x80")
							}
							if eoh && allHeader(t, msg) {
								want += "\r\n"
							}
							assert.Equal(t, want, string(w.Body), "%s of %q", cmd, msg)
						}
					}
					pc.Quit()
					wc.Quit()
				})
			}
			assert.NotContains(t, worked.Logs(), "level=WARN")
		}
	}
}

func TestServeRefusesUnknownWorkaround(t *testing.T) {
	srv := pop3.NewServer(aliceBackend(t))
	srv.ClientWorkarounds = []pop3.Workaround{"outlook-no-nuls", "no-such"}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	assert.EqualError(t, srv.Serve(l), `pop3: Server.ClientWorkarounds: unknown client workaround "no-such" (known: outlook-no-nuls, oe-ns-eoh)`)
}
