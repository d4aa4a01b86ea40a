package pop3

import (
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// cmdUTF8 handles UTF8 (RFC 6856 §2.1), valid only before login: from now
// on messages are sent as they are stored, internationalized headers (RFC
// 6532) included, rather than downgraded (RFC 6858).
func (s *session) cmdUTF8([]string) error {
	s.utf8 = true
	return s.replyOK("UTF-8 mode enabled")
}

// downgrading reports whether messages with internationalized headers are
// downgraded for this session: the server has UTF8, and the client has
// not enabled it (RFC 6856 §2.1).
func (s *session) downgrading() bool { return !s.utf8 && s.srv.exts.has(ExtUTF8) }

// prepareUsername checks and normalises a user name from USER, APOP or
// AUTH (RFC 6856 §2.2): a name of ASCII is taken as it is; one with UTF-8
// must be valid UTF-8, and is normalised by the PRECIS
// UsernameCasePreserved profile (RFC 8265 §3.4, the successor of
// SASLprep), which leaves case to the backend, or, for a name that
// profile refuses (one with a space, say, as "john smith" may have), by
// OpaqueString.
func (s *session) prepareUsername(name string) (string, error) {
	if !s.srv.exts.has(ExtUTF8) || isASCII(name) {
		return name, nil
	}
	if !utf8.ValidString(name) {
		return "", &Error{Code: CodeAuth, Text: "user name is not valid UTF-8"}
	}
	out, err := precis.UsernameCasePreserved.String(name)
	if err != nil {
		// A name with spaces or symbols, which the identifier class
		// refuses and SASLprep took: the freeform class still maps and
		// normalises it, and refuses controls and unassigned code points.
		if out, err = precis.OpaqueString.String(name); err != nil {
			return "", &Error{Code: CodeAuth, Text: "user name has characters that are not allowed"}
		}
	}
	return out, nil
}

// preparePassword is prepareUsername for a password, with the PRECIS
// OpaqueString profile (RFC 8265 §4.2).
func (s *session) preparePassword(password string) (string, error) {
	if !s.srv.exts.has(ExtUTF8) || isASCII(password) {
		return password, nil
	}
	if !utf8.ValidString(password) {
		return "", &Error{Code: CodeAuth, Text: "password is not valid UTF-8"}
	}
	out, err := precis.OpaqueString.String(password)
	if err != nil {
		return "", &Error{Code: CodeAuth, Text: "password has characters that are not allowed"}
	}
	return out, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
