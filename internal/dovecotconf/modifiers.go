package dovecotconf

import (
	"crypto/md5"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// ModifierLetters are the modifiers of Dovecot 2.3's var_expand: L and U
// (ASCII case), E (a backslash before " ' and \), X (a decimal number in
// lower-case hexadecimal), R (reversed), H and N (hashes), M (MD5 in hex),
// T (trailing white space cut) and D (each "." as ",dc=").
const ModifierLetters = "LUEXRHNMTD"

// Modifiers are what Dovecot 2.3's var_expand reads between a % and its
// variable, "[-][0]W[.[0][-]W]<letters>": an offset and a width ("%2.4u"
// skips 2 and keeps 4, "%-4.4u" counts the offset from the end, "%8u"
// keeps 8, "%08u" pads with zeros to 8 without cutting) and modifier
// letters, applied in the order given.
type Modifiers struct {
	Offset, Width int
	ZeroPadding   bool
	// Letters are of ModifierLetters.
	Letters []byte
	numeric int // the length of the offset and width as written
}

// ParseModifiers reads the modifiers at the start of s, the text after a
// %, and returns them and their length.
func ParseModifiers(s string) (Modifiers, int) {
	var m Modifiers
	i, sign := 0, 1
	number := func() int {
		n := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			n = min(n*10+int(s[i]-'0'), 1<<20)
		}
		return n
	}
	if i < len(s) && s[i] == '-' {
		sign, i = -1, i+1
	}
	if i < len(s) && s[i] == '0' {
		m.ZeroPadding, i = true, i+1
	}
	m.Width = number()
	if i < len(s) && s[i] == '.' {
		// A zero before the offset is no padding: padding is the
		// width's.
		m.Offset, m.Width, m.ZeroPadding, sign = sign*m.Width, 0, false, 1
		i++
		if i < len(s) && s[i] == '0' {
			m.ZeroPadding, i = true, i+1
		}
		if i < len(s) && s[i] == '-' {
			sign, i = -1, i+1
		}
		m.Width = sign * number()
	}
	m.numeric = i
	for ; i < len(s) && strings.IndexByte(ModifierLetters, s[i]) >= 0; i++ {
		m.Letters = append(m.Letters, s[i])
	}
	return m, i
}

// HasWidth reports whether an offset or a width was written.
func (m *Modifiers) HasWidth() bool { return m.numeric > 0 }

// Apply returns s with the modifiers applied as var_expand applies them:
// the letters in order, then the offset, then the width.
func (m *Modifiers) Apply(s string) string {
	offset, width := m.Offset, m.Width
	for _, c := range m.Letters {
		switch c {
		case 'L':
			s = lowerASCII(s)
		case 'U':
			s = upperASCII(s)
		case 'E':
			var b strings.Builder
			for i := 0; i < len(s); i++ {
				if s[i] == '"' || s[i] == '\'' || s[i] == '\\' {
					b.WriteByte('\\')
				}
				b.WriteByte(s[i])
			}
			s = b.String()
		case 'X':
			// str_to_ullong: an unsigned decimal, else 0.
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil || s == "" || s[0] == '+' {
				n = 0
			}
			s = strconv.FormatUint(n, 16)
		case 'R':
			b := []byte(s)
			slices.Reverse(b)
			s = string(b)
		case 'H', 'N':
			// The C types matter: H's hash is an unsigned int, N's a
			// uint64_t, and each is taken modulo the width converted to
			// its type, then printed as an unsigned int; the width is
			// used up, and the offset pads with zeros.
			var value uint32
			if c == 'H' {
				value = strHash(s)
				if width != 0 {
					value %= uint32(int32(width))
				}
			} else {
				sum := md5.Sum([]byte(s))
				var v64 uint64
				for _, b := range sum[:8] {
					v64 = v64<<8 | uint64(b)
				}
				if width != 0 {
					v64 %= uint64(int64(width))
				}
				value = uint32(v64)
			}
			width = 0
			s = strconv.FormatUint(uint64(value), 16)
			for len(s) < offset {
				s = "0" + s
			}
			offset = 0
		case 'M':
			sum := md5.Sum([]byte(s))
			s = hex.EncodeToString(sum[:])
		case 'T':
			s = strings.TrimRight(s, " \t\r\n")
		case 'D':
			s = strings.ReplaceAll(s, ".", ",dc=")
		}
	}
	if offset < 0 {
		if from := -offset; len(s) > from {
			s = s[len(s)-from:]
		}
	} else {
		s = s[min(offset, len(s)):]
	}
	switch {
	case width == 0:
		return s
	case !m.ZeroPadding:
		if width < 0 {
			width = len(s) + width
		}
		return s[:max(0, min(width, len(s)))]
	default:
		if len(s) < width {
			return strings.Repeat("0", width-len(s)) + s
		}
		return s
	}
}

// upperASCII is Dovecot's %U: the ASCII letters only.
func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

// strHash is Dovecot's str_hash (the ELF hash), which %H uses.
func strHash(s string) uint32 {
	var h uint32
	for i := 0; i < len(s); i++ {
		h = h<<4 + uint32(s[i])
		if g := h & 0xf0000000; g != 0 {
			h ^= g >> 24
			h ^= g
		}
	}
	return h
}
