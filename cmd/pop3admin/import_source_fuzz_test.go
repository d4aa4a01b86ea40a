package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// A message goes through stuffing (as a server sends it) and the message
// reader back to itself, with a line end added when it had none, whatever
// the buffer size.
func FuzzDotReader(f *testing.F) {
	for _, s := range []string{"", "a", ".", "..\r\n", "x\r\n.\r\n", ".\n.\n", "a\rb\n.c", "\r\n.\r\n.."} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, msg []byte, size uint8) {
		want := msg
		if len(msg) > 0 && msg[len(msg)-1] != '\n' {
			want = append(append([]byte(nil), msg...), "\r\n"...)
		}
		wire := stuff(string(msg)) + "+OK after"
		r := bufio.NewReaderSize(bytes.NewReader([]byte(wire)), 16+int(size))
		d := newDotReader(r, nil)
		got, err := io.ReadAll(d)
		if err != nil {
			t.Fatalf("%q: %v", wire, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%q: read %q, want %q", wire, got, want)
		}
		if rest, _ := io.ReadAll(r); string(rest) != "+OK after" {
			t.Fatalf("%q: %q left after the message", wire, rest)
		}
	})
}

// Whatever a server sends, a session (greeting, CAPA, STLS, login, UIDL,
// RETR, QUIT) ends with a reply or an error, never a panic or a hang, and a
// UIDL listing it accepts numbers each message once.
func FuzzSourceReplies(f *testing.F) {
	for _, s := range []string{
		"+OK hi\r\n+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n+OK\r\n+OK\r\n+OK\r\n1 a\r\n2 b\r\n.\r\n+OK\r\n..x\r\n.\r\n+OK\r\nbody\r\n.\r\n+OK bye\r\n",
		"+OK\r\n-ERR no capa\r\n-ERR no tls\r\n+OK\r\n+OK\r\n+OK\r\n1 " + string(bytes.Repeat([]byte("x"), 80)) + "\r\n.\r\n",
		"+OK\r\n+OK\r\nSASL PLAIN\r\n.\r\n+ \r\n-ERR [AUTH] no\r\n",
		"-ERR go away\r\n",
		"+OK\n+OK\nSTLS\n.\n+OK\n\x16\x03\x01",
		"+OK\r\n+OK\r\n.\r\n+OK\r\n+OK\r\n+OK\r\n1 a\r\n1 b\r\n.\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		defer client.Close()
		go io.Copy(io.Discard, server)
		go func() {
			server.Write(data)
			server.Close()
		}()
		cfg := &sourceConfig{url: sourceURL{host: "localhost", port: "110"}, cleartext: true, timeout: 5 * time.Second}
		c, err := startSource(context.Background(), client, cfg)
		if err != nil {
			return
		}
		defer c.Close()
		if c.login("alice", "pw") != nil {
			return
		}
		entries, err := c.uidl()
		if err != nil {
			return
		}
		seen := map[int]bool{}
		for _, e := range entries {
			if e.num < 1 || seen[e.num] {
				t.Fatalf("UIDL listing %v numbers message %d wrongly", entries, e.num)
			}
			seen[e.num] = true
		}
		for _, e := range entries[:min(len(entries), 3)] {
			body, err := c.retr(e.num)
			if err != nil {
				return
			}
			if _, err := io.Copy(io.Discard, body); err != nil {
				return
			}
		}
		_ = c.quit()
	})
}
