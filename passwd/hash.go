package passwd

import (
	"errors"
	"strings"
)

// Hash returns a stored hash of password in scheme, as "doveadm pw -s
// SCHEME" of Dovecot 2.3 prints it: the "{SCHEME}" prefix in upper case,
// then the data, with a fresh random salt. scheme is any name of [Schemes],
// in any letter case, with an optional encoding suffix (.hex, .b64 or
// .base64); an unknown one is [ErrUnknownScheme].
//
// The parameters are doveadm pw's defaults: BLF-CRYPT and CRYPT make bcrypt
// "$2y$05$" (cost 5), SHA256-CRYPT and SHA512-CRYPT 5000 rounds and 16
// characters of salt, ARGON2ID m=65536,t=3,p=1 and ARGON2I m=32768,t=4,p=1
// (16 bytes of salt, 32 of key), the salted digests (SSHA, SSHA256,
// SSHA512, SMD5) 4 bytes of salt, MD5 and MD5-CRYPT "$1$" with 8 characters
// of salt. Choose ARGON2ID, SHA512-CRYPT or BLF-CRYPT for new
// passwords; PLAIN keeps the secret in the clear, which only APOP needs.
//
// Hash refuses an empty password, and BLF-CRYPT and CRYPT refuse one longer
// than 72 bytes, which bcrypt would silently truncate.
func Hash(scheme string, password []byte) (string, error) {
	s, enc, _, err := lookupScheme(scheme)
	if err != nil {
		return "", err
	}
	if len(password) == 0 {
		return "", errors.New("passwd: refusing to hash an empty password")
	}
	raw, err := s.generate(password)
	if err != nil {
		return "", err
	}
	return "{" + strings.ToUpper(scheme) + "}" + encode(raw, enc), nil
}
