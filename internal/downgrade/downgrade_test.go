package downgrade

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"net/mail"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// field returns the unfolded value of the first field called name in
// hdr, and whether it is there.
func field(hdr []byte, name string) (string, bool) {
	lines := strings.Split(string(hdr), "\r\n")
	for i, l := range lines {
		k, v, ok := strings.Cut(l, ":")
		if !ok || !strings.EqualFold(k, name) {
			continue
		}
		for _, c := range lines[i+1:] {
			if c == "" || (c[0] != ' ' && c[0] != '\t') {
				break
			}
			v += c
		}
		return v, true
	}
	return "", false
}

func decode(t *testing.T, s string) string {
	t.Helper()
	d, err := new(mime.WordDecoder).DecodeHeader(s)
	require.NoError(t, err)
	return d
}

// checkASCII checks the invariants of every downgraded header.
func checkASCII(t *testing.T, out []byte) {
	t.Helper()
	for i, c := range out {
		require.Less(t, c, byte(0x80), "octet %d of %q", i, out)
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n") {
		assert.LessOrEqual(t, len(l), 998, "line %q", l)
		require.NotContains(t, l, "\n", "bare LF in %q", out)
	}
	for _, w := range strings.Fields(string(out)) {
		if strings.HasPrefix(w, "=?") {
			assert.LessOrEqual(t, len(strings.TrimRight(w, ",:;")), 75, "encoded-word %q", w)
		}
	}
}

// checkFolded checks that no line of out is longer than 78 characters.
func checkFolded(t *testing.T, out []byte) {
	t.Helper()
	for _, l := range strings.Split(string(out), "\r\n") {
		assert.LessOrEqual(t, len(l), 78, "line %q", l)
	}
}

func TestASCIIUnchanged(t *testing.T) {
	for _, hdr := range []string{
		"",
		"\r\n",
		"From: Arnt <arnt@example.com>\r\nSubject: hello\r\n\r\n",
		"Subject: =?utf-8?q?already_encoded?=\r\n folded\r\n\r\n",
		"Subject: no separator\r\n",
		"Subject: no final line end",
	} {
		in := []byte(hdr)
		out, changed := Header(in)
		assert.False(t, changed, "%q", hdr)
		assert.Equal(t, hdr, string(out))
		if len(in) > 0 {
			assert.Same(t, &in[0], &out[0], "Header must return hdr itself")
		}
	}
	in := []byte(strings.Repeat("X-Filler: some ascii text here\r\n", 500) + "\r\n")
	allocs := testing.AllocsPerRun(100, func() {
		if _, changed := Header(in); changed {
			t.Fatal("changed")
		}
	})
	assert.Zero(t, allocs)
}

func TestSubject(t *testing.T) {
	tests := []struct{ name, subject string }{
		{"latin", "Grüße aus Köln"},
		{"cjk", "会議の議事録について"},
		{"mixed", "Re: [list] Ærlig talt, dette er ø-vennlig tekst"},
		{"long", strings.Repeat("Ünïcödé wörds that keep going ", 12)},
		{"long cjk", strings.Repeat("長い件名", 40)},
		{"tabs", "a\tb ø\t\tc"},
		{"long ascii word", "ø " + strings.Repeat("a", 200)},
		// B for the whole run, whose last words are ASCII: every chunk of
		// it must still be an encoded-word, or the decoder would put spaces
		// into the URL.
		{"cjk then long url", strings.Repeat("日本語の記事", 6) + "https://example.com/a-very-long-path-name-for-this-article?id=12345&ref=mail"},
		{"ascii encoded-word lookalike", "é plain =?((((((=?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := []byte("From: a@example.com\r\nSubject: " + tt.subject + "\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n")
			out, changed := Header(hdr)
			require.True(t, changed)
			checkASCII(t, out)
			checkFolded(t, out)
			assert.True(t, bytes.HasPrefix(out, []byte("From: a@example.com\r\nSubject:")))
			assert.True(t, bytes.HasSuffix(out, []byte("\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n")))
			v, ok := field(out, "Subject")
			require.True(t, ok)
			got := decode(t, v)
			// Whitespace inside the text is kept; leading and
			// trailing whitespace is not part of the text.
			assert.Equal(t, strings.TrimSpace(tt.subject), strings.TrimSpace(got))
		})
	}
}

func TestQOrB(t *testing.T) {
	out, _ := Header([]byte("Subject: caf\u00e9\r\n\r\n"))
	assert.Contains(t, string(out), "=?utf-8?q?caf=C3=A9?=", "mostly ASCII: Q")
	out, _ = Header([]byte("Subject: 日本語\r\n\r\n"))
	assert.Contains(t, string(out), "=?utf-8?b?", "mostly non-ASCII: B")
}

func TestAddressGroups(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // exact downgraded value, after "From:"
		names    []string
	}{
		{
			name:  "utf8 local part with name",
			in:    "Jøran Øygarden <jøran@example.com>",
			names: []string{"Jøran Øygarden"},
		},
		{
			name:  "utf8 domain, no name",
			in:    "<info@exämple.com>",
			names: []string{"info@exämple.com"},
		},
		{
			name:  "bare addr-spec",
			in:    "用户@例子.广告",
			names: []string{"用户@例子.广告"},
		},
		{
			name:  "quoted name",
			in:    `"Øy, Jøran" <jøran@example.com>`,
			names: []string{"Øy, Jøran"},
		},
		{
			name:  "comment as name",
			in:    "jøran@example.com (Jøran)",
			names: []string{"Jøran"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed := Header([]byte("From: " + tt.in + "\r\n\r\n"))
			require.True(t, changed)
			checkASCII(t, out)
			v, _ := field(out, "From")
			v = strings.TrimSpace(v)
			require.True(t, strings.HasSuffix(v, ":;"), "group syntax: %q", v)
			assert.NotContains(t, v, "<")
			assert.Equal(t, tt.names[0], decode(t, strings.TrimSuffix(v, ":;")))
		})
	}
}

func TestDisplayNameKeepsAddress(t *testing.T) {
	out, changed := Header([]byte("From: Jøran Øygarden <joran@example.com>\r\nTo: \"Ærlig, Åse\" <ase@example.org>, plain@example.net\r\n\r\n"))
	require.True(t, changed)
	checkASCII(t, out)
	v, _ := field(out, "From")
	a, err := mail.ParseAddress(strings.TrimSpace(v))
	require.NoError(t, err)
	assert.Equal(t, "Jøran Øygarden", a.Name)
	assert.Equal(t, "joran@example.com", a.Address)

	v, _ = field(out, "To")
	list, err := mail.ParseAddressList(strings.TrimSpace(v))
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "Ærlig, Åse", list[0].Name)
	assert.Equal(t, "ase@example.org", list[0].Address)
	assert.Equal(t, "plain@example.net", list[1].Address)
}

func TestAddressListMixed(t *testing.T) {
	in := "To: a@example.com, Ünï <ü@example.com>, Team: c@example.com, Ëve <ë@example.com>, d@example.com;, \"Bob\" <bob@example.com>\r\n\r\n"
	out, changed := Header([]byte(in))
	require.True(t, changed)
	checkASCII(t, out)
	v, _ := field(out, "To")
	v = decode(t, v)
	// ASCII mailboxes are kept, non-ASCII ones become empty groups; the
	// member that must become a group follows its group (groups do
	// not nest).
	assert.Equal(t, " a@example.com, Ünï:;, Team: c@example.com, d@example.com;, Ëve:;, \"Bob\" <bob@example.com>", v)
}

func TestAddressFolding(t *testing.T) {
	var list []string
	for i := range 20 {
		list = append(list, "Nåme Nümber"+strings.Repeat("x", i)+" <user"+strings.Repeat("y", i)+"@example.com>")
	}
	out, changed := Header([]byte("Cc: " + strings.Join(list, ", ") + "\r\n\r\n"))
	require.True(t, changed)
	checkASCII(t, out)
	checkFolded(t, out)
	v, _ := field(out, "Cc")
	addrs, err := mail.ParseAddressList(strings.TrimSpace(v))
	require.NoError(t, err)
	require.Len(t, addrs, 20)
	for i, a := range addrs {
		assert.Equal(t, "Nåme Nümber"+strings.Repeat("x", i), a.Name)
		assert.Equal(t, "user"+strings.Repeat("y", i)+"@example.com", a.Address)
	}
}

func TestMsgIDAndTrace(t *testing.T) {
	in := "Message-ID: <ø@example.com>\r\nReferences: <a@b> <ø@example.com>\r\nReturn-Path: <jøran@example.com>\r\n\r\n"
	out, changed := Header([]byte(in))
	require.True(t, changed)
	checkASCII(t, out)
	assert.Equal(t, "Message-ID: <%C3%B8@example.com>\r\nReferences: <a@b> <%C3%B8@example.com>\r\nReturn-Path: <j%C3%B8ran@example.com>\r\n\r\n", string(out))
}

func TestMIMEParams(t *testing.T) {
	long := strings.Repeat("Prøvefil ", 20) + ".pdf"
	for _, name := range []string{"rapport-æøå.pdf", long, `a "quoted" ø`} {
		quoted := `"` + strings.ReplaceAll(name, `"`, `\"`) + `"`
		in := "Content-Type: application/pdf; name=" + quoted + "\r\nContent-Disposition: attachment; filename=" + quoted + "; size=10\r\n\r\n"
		out, changed := Header([]byte(in))
		require.True(t, changed)
		checkASCII(t, out)
		checkFolded(t, out)
		v, _ := field(out, "Content-Disposition")
		disp, params, err := mime.ParseMediaType(v)
		require.NoError(t, err, "%q", v)
		assert.Equal(t, "attachment", disp)
		assert.Equal(t, name, params["filename"])
		assert.Equal(t, "10", params["size"])
		v, _ = field(out, "Content-Type")
		typ, params, err := mime.ParseMediaType(v)
		require.NoError(t, err, "%q", v)
		assert.Equal(t, "application/pdf", typ)
		assert.Equal(t, name, params["name"])
	}
}

func TestInvalidUTF8(t *testing.T) {
	tests := []struct{ name, in string }{
		{"subject", "Subject: a\xffb \xc3\r\n\r\n"},
		{"from", "From: \xff <a\xfe@b>\r\n\r\n"},
		{"bad name", "Sub\xffject: x\r\n\r\n"},
		{"no colon", "just \xff garbage\r\n\r\n"},
		{"continuation first", " \xff\r\n\r\n"},
		{"msgid", "Message-ID: <\xff>\r\n\r\n"},
		{"params", "Content-Type: text/plain; charset=\xff\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed := Header([]byte(tt.in))
			require.True(t, changed)
			checkASCII(t, out)
			assert.True(t, bytes.HasSuffix(out, []byte("\r\n\r\n")), "%q", out)
		})
	}
	out, _ := Header([]byte("Subject: a\xffb\r\n\r\n"))
	v, _ := field(out, "Subject")
	assert.Equal(t, " a\uFFFDb", decode(t, v))
	out, _ = Header([]byte("Sub\xffject: x\r\n\r\n"))
	assert.Equal(t, "Sub?ject: x\r\n\r\n", string(out))
}

func TestNoBodySeparator(t *testing.T) {
	for _, end := range []string{"\r\n", ""} {
		in := "From: a@example.com\r\nSubject: é" + end
		out, changed := Header([]byte(in))
		require.True(t, changed)
		checkASCII(t, out)
		assert.Equal(t, "From: a@example.com\r\nSubject: =?utf-8?q?=C3=A9?="+end, string(out))
	}
}

func TestReadHeader(t *testing.T) {
	long := "X-Long: " + strings.Repeat("y", 10000) + "\r\n"
	tests := []struct{ in, hdr string }{
		{"Subject: a\r\n\r\nbody\r\n\r\nmore", "Subject: a\r\n\r\n"},
		{"Subject: a\r\n", "Subject: a\r\n"},
		{"Subject: a", "Subject: a"},
		{"", ""},
		{"\r\nbody", "\r\n"},
		{long + "\r\nbody", long + "\r\n"},
		{"Subject: a\n\nbody", "Subject: a\n\n"},
	}
	for _, tt := range tests {
		br := bufio.NewReaderSize(strings.NewReader(tt.in), 16)
		hdr, err := ReadHeader(br)
		require.NoError(t, err)
		assert.Equal(t, tt.hdr, string(hdr))
		rest, err := io.ReadAll(br)
		require.NoError(t, err)
		assert.Equal(t, tt.in[len(tt.hdr):], string(rest))
	}
}

func TestHeaderTooLarge(t *testing.T) {
	line := "X-Filler: " + strings.Repeat("z", 88) + "\r\n" // 100 octets
	ok := strings.Repeat(line, MaxHeader/100) + strings.Repeat("x", MaxHeader%100-2) + "\r\n"
	require.Len(t, ok, MaxHeader)
	hdr, err := ReadHeader(bufio.NewReader(strings.NewReader(ok + "\r\nbody")))
	require.ErrorIs(t, err, ErrHeaderTooLarge, "the blank line makes it MaxHeader+2")
	assert.Equal(t, ok+"\r\n", string(hdr), "what was read comes back, to be sent as it is")

	ok = ok[:len(ok)-2] + "\r\n"
	ok = ok[:len(ok)-4] + "\r\n\r\n"
	require.Len(t, ok, MaxHeader)
	hdr, err = ReadHeader(bufio.NewReader(strings.NewReader(ok + "body")))
	require.NoError(t, err)
	assert.Len(t, hdr, MaxHeader)

	big := strings.Repeat(line, MaxHeader/100+1) + "\r\nbody"
	_, err = ReadHeader(bufio.NewReader(strings.NewReader(big)))
	require.ErrorIs(t, err, ErrHeaderTooLarge)
}

// An encoded-word already in a header stays one: encoding it again would
// show its raw text.
func TestExistingEncodedWordKept(t *testing.T) {
	hdr := "Subject: =?utf-8?q?caf=C3=A9?= d\u00e9j\u00e0 vu\r\nFrom: =?utf-8?b?SsO2cmFu?= <j@example.se>\r\n\r\n"
	out, changed := Header([]byte(hdr))
	require.True(t, changed)
	assert.Contains(t, string(out), "Subject: =?utf-8?q?caf=C3=A9?= ")
	assert.Contains(t, string(out), "From: =?utf-8?b?SsO2cmFu?= <j@example.se>")
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(strings.TrimPrefix(strings.Split(string(out), "\r\n")[0], "Subject: "))
	require.NoError(t, err)
	assert.Equal(t, "caf\u00e9d\u00e9j\u00e0 vu", subject, "RFC 2047 §6.2: the space between two encoded-words goes")
}

// Words that start with "=?" and end with "?=" but are no encoded-word,
// the shortest sharing their question mark, are encoded like any other.
func TestEncodedWordLookalikes(t *testing.T) {
	for _, w := range []string{"=?=", "=??=", "=?a?=", "=?a?q?=", "=?a?x?b?="} {
		assert.False(t, isEncodedWord(w), w)
		out, changed := Header([]byte("Subject: \u00e9 " + w + "\r\n\r\n"))
		require.True(t, changed)
		checkASCII(t, out)
	}
	assert.True(t, isEncodedWord("=?c?q??="))
}
