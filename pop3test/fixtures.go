package pop3test

import (
	"bytes"
	"fmt"
	"strings"
)

// The accounts of most checks. alice's messages mix line ends and
// dot-lines; mrose is the user of RFC 1939's APOP example.
var (
	alice = Account{Username: "alice", Password: "alice-secret-1", Messages: [][]byte{
		[]byte("From: bob@example.org\r\nTo: alice@example.org\r\nSubject: first\r\n\r\nHello Alice.\r\nSecond line.\r\nThird line.\r\n"),
		[]byte("From: carol@example.org\nSubject: second, LF line ends\n\nLine one.\nLine two.\n"),
		[]byte("Subject: third, dot lines\r\n\r\n.\r\n..\r\n.leading dot\r\nlast\r\n"),
		[]byte("Subject: fourth\r\nX-Long: " + strings.Repeat("x", 300) + "\r\n\r\nbody\r\n"),
		[]byte("Subject: fifth\r\n\r\nThe last one.\r\n"),
	}}
	bob = Account{Username: "bob", Password: "bob-secret-2", Messages: [][]byte{
		[]byte("Subject: for bob\r\n\r\nHi Bob.\r\n"),
		[]byte("Subject: for bob, again\r\n\r\nHi again.\r\n"),
	}}
	carol = Account{Username: "carol", Password: "carol-secret-3"}
	mrose = Account{Username: "mrose", Password: "tanstaaf", Messages: [][]byte{
		[]byte("Subject: APOP\r\n\r\nRFC 1939 section 7.\r\n"),
	}}
)

// accounts is the set most checks build their backend with.
func accounts() []Account { return []Account{alice, bob, carol, mrose} }

// newMail is a message the checks deliver while a session is open.
var newMail = []byte("Subject: new mail\nX-Delivered: while a session held the maildrop\n\nFresh.\n")

// oddContent is a message that stores, sizes or dot-stuffing get wrong.
type oddContent struct {
	name string
	raw  func() []byte
}

// oddContents are the messages of the Content checks.
func oddContents() []oddContent {
	return []oddContent{
		{"a 20 MB message", func() []byte { return bigMessage(20 << 20) }},
		{"lines of 998 octets and more", func() []byte {
			return []byte("Subject: long lines\r\nX-Long: " + strings.Repeat("h", 990) + "\r\n\r\n" +
				strings.Repeat("a", 998) + "\r\n" + strings.Repeat("b", 999) + "\r\n" +
				strings.Repeat("c", 5000) + "\r\n." + strings.Repeat("d", 1200) + "\r\n")
		}},
		{"lines that start with a dot", func() []byte {
			return []byte("Subject: dots\r\n\r\n.\r\n..\r\n...\r\n.\r\n.x\r\n. \r\nend\r\n.")
		}},
		{"no final line end", func() []byte {
			return []byte("Subject: unterminated\r\n\r\nThe last line has no line end.")
		}},
		{"8-bit bytes", func() []byte {
			var b bytes.Buffer
			b.WriteString("Subject: =?UTF-8?B?w6nDqcOp?=\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
			b.WriteString("Grüße, 日本語, ")
			for c := 0x80; c <= 0xff; c++ {
				b.WriteByte(byte(c))
			}
			b.WriteString("\r\n\ttab and \x7f\r\n")
			return b.Bytes()
		}},
		{"an empty body", func() []byte { return []byte("Subject: empty body\r\n\r\n") }},
		{"a header-only message", func() []byte { return []byte("Subject: header only\r\nX-Second: header\r\n") }},
		{"bare LF line ends", func() []byte {
			return []byte("Subject: LF\n\n.dot line\n\nafter an empty line\n")
		}},
	}
}

// bigMessage returns a message of about size octets in numbered lines of
// 76 characters, some starting with a dot, with LF line ends.
func bigMessage(size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 100)
	b.WriteString("Subject: big\nContent-Type: text/plain\n\n")
	for n := 0; b.Len() < size; n++ {
		if n%50 == 0 {
			b.WriteByte('.')
		}
		fmt.Fprintf(&b, "%08d ", n)
		b.WriteString(strings.Repeat("0123456789", 6))
		b.WriteString("abcdefg\n")
	}
	return b.Bytes()
}
