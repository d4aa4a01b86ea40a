package passwd

import (
	"crypto/subtle"
	"strings"

	"github.com/go-crypt/x/yescrypt"
)

// yescryptDigestLen is the length of a yescrypt digest: 32 bytes in
// crypt's base64.
const yescryptDigestLen = 43

// yescryptMaxSalt is the longest salt, in characters, that libxcrypt
// reads: its buffer holds 64 bytes. It makes 22 (16 bytes).
const yescryptMaxSalt = 86

// verifyYescrypt checks "$y$" followed by the parameters, the salt and 43
// characters of digest, as libxcrypt writes it ("$y$j9T$salt$digest" with
// its default cost; see crypt(5)). The parameters are the flags ('j', the
// only ones libxcrypt makes), N and r, one character each; the extended
// ones (p, t, g, NROM), which libxcrypt never makes, are not implemented.
//
// The hash is computed by Solar Designer's Go yescrypt (openwall's
// yescrypt-go, as published in github.com/go-crypt/x), then compared in
// constant time, as compareCrypt does for the other crypt methods.
func verifyYescrypt(s string, password []byte) error {
	fields := strings.Split(s[len("$y$"):], "$")
	if len(fields) != 3 {
		return malformed("not $y$params$salt$digest")
	}
	params, salt, digest := fields[0], fields[1], fields[2]
	if params == "" || !isCrypt64(params) {
		return malformed("the yescrypt parameters are not crypt base64")
	}
	if len(params) != 3 || params[0] != 'j' {
		return unsupported("yescrypt parameters other than libxcrypt's are not supported")
	}
	nLog2, r := crypt64Value(params[1])+1, crypt64Value(params[2])+1
	// The Go implementation reads the range libxcrypt makes (cost 1 to
	// 11: N from 2^10 to 2^18) and r up to 32; libxcrypt's own crypt()
	// takes smaller N and larger r, which it never makes.
	if nLog2 < 10 || nLog2 > 18 || r > 32 {
		return unsupported("yescrypt with N=2^%d and r=%d is not supported", nLog2, r)
	}
	if memory := 128 * r << nLog2; memory > limits.yescryptMemory {
		return malformed("yescrypt N=2^%d and r=%d take %d MiB, above this package's limit of %d MiB",
			nLog2, r, memory>>20, limits.yescryptMemory>>20)
	}
	if len(salt) > yescryptMaxSalt || !isCrypt64(salt) {
		return malformed("the yescrypt salt is not at most %d crypt base64 characters", yescryptMaxSalt)
	}
	if len(digest) != yescryptDigestLen || !isCrypt64(digest) {
		return malformed("digest is not %d crypt base64 characters", yescryptDigestLen)
	}
	// Hash reads the setting up to the last '$' and appends the digest.
	got, err := yescrypt.Hash(password, []byte(s))
	if err != nil {
		return malformed("the salt does not parse")
	}
	if subtle.ConstantTimeCompare(got, []byte(s)) != 1 {
		return errMismatch
	}
	return nil
}

// crypt64Value is the value of one character of crypt's base64
// ("./0-9A-Za-z", in that order), which c is known to be.
func crypt64Value(c byte) int {
	switch {
	case c == '.' || c == '/':
		return int(c - '.')
	case c <= '9':
		return int(c-'0') + 2
	case c <= 'Z':
		return int(c-'A') + 12
	}
	return int(c-'a') + 38
}
