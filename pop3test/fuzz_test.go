package pop3test_test

import (
	"bufio"
	"bytes"
	"net"
	"net/textproto"
	"testing"
	"time"

	"github.com/gopop3/pop3/pop3test"
)

// scriptConn is a connection to a fake server that sends out and then
// closes, and ignores what the client sends.
type scriptConn struct {
	net.Conn // nil: only the methods below are called
	out      *bytes.Reader
}

func (c *scriptConn) Read(p []byte) (int, error)         { return c.out.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error)        { return len(p), nil }
func (c *scriptConn) Close() error                       { return nil }
func (c *scriptConn) SetDeadline(time.Time) error        { return nil }
func (c *scriptConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(t time.Time) error { return nil }

// pipeServer returns a client of a fake server that sends out.
func pipeServer(tb testing.TB, out []byte) *pop3test.Client {
	return pop3test.NewClient(tb, &scriptConn{out: bytes.NewReader(out)})
}

// FuzzClientBody checks the client's un-stuffing against net/textproto's
// dot-stuffing: whatever a message holds, RETR's Body is the message as
// textproto's DotWriter normalised it.
func FuzzClientBody(f *testing.F) {
	for _, seed := range []string{"", "a\r\n", ".\r\n", "..\r\n.a\nb", "x\r\n.\r\n", "\r\n\r\n", "no end", "\n.\n..\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		var wire bytes.Buffer
		wire.WriteString("+OK hi\r\n+OK\r\n")
		bw := bufio.NewWriter(&wire)
		dw := textproto.NewWriter(bw).DotWriter()
		_, _ = dw.Write(content)
		_ = dw.Close()
		_ = bw.Flush()
		// What textproto's reader un-stuffs is what the client must.
		want, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(wire.Bytes()[len("+OK hi\r\n+OK\r\n"):]))).ReadDotBytes()
		if err != nil {
			t.Fatalf("textproto cannot read its own output: %v", err)
		}
		var got []byte
		fails := failures(t, func(tb testing.TB) {
			got = pipeServer(tb, wire.Bytes()).OK("RETR 1").Body
		})
		// textproto returns LF line ends; the client keeps the CRLFs.
		if len(fails) > 0 {
			t.Fatalf("the client failed on a well-formed body: %v", fails)
		}
		if normalised := bytes.ReplaceAll(got, []byte("\r\n"), []byte("\n")); !bytes.Equal(normalised, want) {
			t.Fatalf("body %q, textproto reads %q", got, want)
		}
	})
}

// FuzzClientReplies feeds the client arbitrary server output: it must
// parse it or fail the test with a message, never panic or hang.
func FuzzClientReplies(f *testing.F) {
	for _, seed := range []string{
		"+OK hi\r\n+OK 1 2\r\n+OK\r\n1 2\r\n.\r\n",
		"+OK\r\n-ERR [IN-USE] x\r\n+ abc\r\n",
		"+OK\n", "-ERR [\r\n", "+OK\r\n+OK\r\n..\r\n.",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		fails := failures(t, func(tb testing.TB) {
			c := pipeServer(tb, out)
			for _, cmd := range []string{"STAT", "LIST", "RETR 1", "AUTH PLAIN", "QUIT"} {
				r := c.Cmd(cmd)
				if r.Line == "" && !r.OK && r.Code == "" && r.Text == "" {
					tb.Errorf("an empty reply to %s was accepted", cmd)
				}
			}
		})
		for _, msg := range fails {
			if msg == "" {
				t.Fatal("a failure without a message")
			}
		}
	})
}
