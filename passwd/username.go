package passwd

import "strings"

// NormalizeUsername is Dovecot's default auth_username_format, %Lu: it
// lower-cases the ASCII letters A to Z and leaves every other byte as it
// is, as Dovecot's %L does. (strings.ToLower would also map non-ASCII
// letters, such as the Kelvin sign U+212A, to ASCII ones, and
// strings.Map would replace invalid UTF-8.) The stores of this module
// match user names with it, and the LMTP listener maps a recipient's local
// part with it.
func NormalizeUsername(name string) string {
	i := strings.IndexFunc(name, func(r rune) bool { return 'A' <= r && r <= 'Z' })
	if i < 0 {
		return name
	}
	b := []byte(name)
	for ; i < len(b); i++ {
		if c := b[i]; 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
