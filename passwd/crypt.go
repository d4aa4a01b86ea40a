package passwd

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/GehirnInc/crypt"
	"github.com/GehirnInc/crypt/md5_crypt"
	"github.com/GehirnInc/crypt/sha256_crypt"
	"github.com/GehirnInc/crypt/sha512_crypt"
	"golang.org/x/crypto/bcrypt"
)

// bcryptCost is the cost of the hashes Hash makes: doveadm pw's default for
// BLF-CRYPT in Dovecot 2.3 ("$2y$05$").
const bcryptCost = 5

// limits caps the work of checking one stored hash, so that a corrupt or
// hostile one cannot take minutes or gigabytes; a hash above a limit is
// ErrMalformedHash. The fuzz tests lower them.
var limits = struct {
	// cryptRounds caps the rounds= of SHA256-crypt and SHA512-crypt
	// (glibc allows 999999999): ten million take seconds already.
	cryptRounds int
	// bcryptCost caps the bcrypt cost (bcrypt allows 31): each step
	// doubles the time, and 18 takes tens of seconds.
	bcryptCost int
	// argon2Memory caps Argon2's m, in KiB.
	argon2Memory uint64
	// argon2Work caps Argon2's m times t, in KiB passes.
	argon2Work uint64
	// yescryptMemory caps yescrypt's 128*r*N, in bytes: the memory one
	// check fills, which sets its time too.
	yescryptMemory int
}{
	cryptRounds:  10_000_000,
	bcryptCost:   18,
	argon2Memory: 4 << 20,  // 4 GiB
	argon2Work:   16 << 20, // 16 GiB passes
	// 128 MiB: N=2^15 at r=32, what libxcrypt makes at cost 8 (Debian's
	// YESCRYPT_COST_FACTOR in login.defs, 1 to 11); its default, 5, is
	// N=2^12 and 16 MiB. Cost 8 takes 0.6 s here, cost 11 (1 GiB) 5 s.
	yescryptMemory: 128 << 20,
}

// cryptMethods names the crypt(3) methods that are not implemented, for the
// error message.
var cryptMethods = map[string]string{
	"2":    "original bcrypt",
	"2x":   "bcrypt with the 8-bit bug",
	"3":    "NT-Hash",
	"7":    "scrypt",
	"apr1": "Apache MD5-crypt",
	"gy":   "gost-yescrypt",
	"md5":  "Sun MD5-crypt",
	"sha1": "SHA1-crypt",
}

// verifyCrypt checks a crypt(3) string, chosen by its "$id$" as the system's
// crypt() would for Dovecot. The crypt schemes (CRYPT, MD5-CRYPT,
// SHA256-CRYPT, SHA512-CRYPT, BLF-CRYPT) all use it: in Dovecot, too, the
// string decides. "$y$" is yescrypt, Debian's default in /etc/shadow since
// Debian 11, which Dovecot checks through libxcrypt's crypt().
func verifyCrypt(raw, password []byte) error {
	s := string(raw)
	switch {
	case strings.HasPrefix(s, "$1$"):
		return verifyMD5Crypt(s, password)
	case strings.HasPrefix(s, "$5$"):
		return verifySHACrypt(s, password, sha256_crypt.New(), 43)
	case strings.HasPrefix(s, "$6$"):
		return verifySHACrypt(s, password, sha512_crypt.New(), 86)
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		return verifyBcrypt(s, password)
	case strings.HasPrefix(s, "$argon2"):
		return verifyArgon2(raw, password)
	case strings.HasPrefix(s, "$y$"):
		return verifyYescrypt(s, password)
	}
	return unknownCrypt(s)
}

// unknownCrypt explains a crypt string that verifyCrypt cannot check.
func unknownCrypt(s string) error {
	if strings.HasPrefix(s, "$") {
		id, _, ok := strings.Cut(s[1:], "$")
		if !ok {
			return malformed("not a crypt(3) string")
		}
		if name, known := cryptMethods[id]; known {
			return unsupported("%s ($%s$) is not supported", name, id)
		}
		// Not quoted: bare data might be a password stored without {PLAIN}.
		return unsupported("unknown crypt method")
	}
	if len(s) == 13 && isCrypt64(s) {
		return unsupported("DES-crypt is not supported")
	}
	if len(s) == 20 && s[0] == '_' && isCrypt64(s[1:]) {
		return unsupported("BSDi extended DES-crypt is not supported")
	}
	return malformed("not a crypt(3) string")
}

// isCrypt64 reports whether s is made of the characters of crypt's base64
// ("./0-9A-Za-z"; bcrypt uses the same set in another order).
func isCrypt64(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '/') {
			return false
		}
	}
	return true
}

// verifyMD5Crypt checks "$1$salt$digest".
func verifyMD5Crypt(s string, password []byte) error {
	salt, digest, ok := strings.Cut(s[len("$1$"):], "$")
	if !ok || strings.Contains(digest, "$") {
		return malformed("not $1$salt$digest")
	}
	if len(salt) > 8 {
		return malformed("MD5-crypt salt longer than 8 characters")
	}
	if len(digest) != 22 || !isCrypt64(digest) {
		return malformed("MD5-crypt digest is not 22 crypt base64 characters")
	}
	return compareCrypt(md5_crypt.New(), s, len(digest), password)
}

// verifySHACrypt checks "$5$[rounds=N$]salt$digest" or its "$6$" twin, as
// specified in https://www.akkadia.org/drepper/SHA-crypt.txt.
func verifySHACrypt(s string, password []byte, c crypt.Crypter, digestLen int) error {
	fields := strings.Split(s[len("$5$"):], "$")
	if strings.HasPrefix(fields[0], "rounds=") {
		rounds, err := strconv.Atoi(fields[0][len("rounds="):])
		switch {
		case err != nil || fields[0] != "rounds="+strconv.Itoa(rounds):
			return malformed("rounds= is not a decimal number")
		case rounds < 1000:
			return malformed("rounds=%d is below the minimum of 1000", rounds)
		case rounds > limits.cryptRounds:
			return malformed("rounds=%d is above this package's limit of %d", rounds, limits.cryptRounds)
		}
		fields = fields[1:]
	}
	if len(fields) != 2 {
		return malformed("not $id$[rounds=N$]salt$digest")
	}
	if len(fields[0]) > 16 {
		return malformed("salt longer than 16 characters")
	}
	if len(fields[1]) != digestLen || !isCrypt64(fields[1]) {
		return malformed("digest is not %d crypt base64 characters", digestLen)
	}
	return compareCrypt(c, s, digestLen, password)
}

// compareCrypt hashes password with the setting of s (s without its digest)
// and compares the result with s in constant time, as crypt(3) users do.
//
// It never calls the crypters' Verify: that reads the salt of a stored hash
// with rounds= and a salt shorter than 16 characters wrongly (it keeps the
// '$' and the digest's first characters), so such hashes would never match.
func compareCrypt(c crypt.Crypter, s string, digestLen int, password []byte) error {
	setting := s[:len(s)-digestLen-1]
	got, err := c.Generate(password, []byte(setting))
	if err != nil {
		return malformed("the salt does not parse")
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(s)) != 1 {
		return errMismatch
	}
	return nil
}

// verifyBcrypt checks "$2y$NN$" followed by 22 characters of salt and 31 of
// digest. The Go bcrypt implements the correct algorithm of $2b$ and $2y$;
// for $2a$ it agrees with crypt_blowfish except for rare passwords with
// 8-bit characters that crypt_blowfish hashes specially to avoid collisions
// with the old $2x$ bug.
func verifyBcrypt(s string, password []byte) error {
	if len(s) != 60 || s[6] != '$' {
		return malformed("not $2y$NN$ and 53 characters")
	}
	cost, err := strconv.Atoi(s[4:6])
	switch {
	case err != nil || s[4] < '0' || s[4] > '9':
		return malformed("the cost is not two digits")
	case cost < bcrypt.MinCost || cost > bcrypt.MaxCost:
		return malformed("cost %d is out of bcrypt's range", cost)
	case cost > limits.bcryptCost:
		return malformed("cost %d is above this package's limit of %d", cost, limits.bcryptCost)
	}
	if !isCrypt64(s[7:]) {
		return malformed("salt and digest are not bcrypt base64")
	}
	err = bcrypt.CompareHashAndPassword([]byte(s), password)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return errMismatch
	}
	return malformed("bcrypt cannot read it")
}

func generateMD5Crypt(password []byte) ([]byte, error) {
	return generateCrypt(md5_crypt.New(), password) // "$1$" and 8 characters of salt
}

func generateSHA256Crypt(password []byte) ([]byte, error) {
	return generateCrypt(sha256_crypt.New(), password) // "$5$", 16 of salt, 5000 rounds
}

func generateSHA512Crypt(password []byte) ([]byte, error) {
	return generateCrypt(sha512_crypt.New(), password) // "$6$", 16 of salt, 5000 rounds
}

func generateCrypt(c crypt.Crypter, password []byte) ([]byte, error) {
	s, err := c.Generate(password, nil) // nil: a random salt, the default rounds
	if err != nil {
		return nil, fmt.Errorf("passwd: crypt: %w", err)
	}
	return []byte(s), nil
}

// generateBcrypt makes "$2y$05$...", as doveadm pw does. Go writes "$2a$";
// the algorithm is the same, and $2y$ tells crypt_blowfish (Dovecot's, and
// libxcrypt's) to use it without the $2a$ countermeasure.
func generateBcrypt(password []byte) ([]byte, error) {
	if len(password) > 72 {
		return nil, errors.New("passwd: bcrypt hashes at most 72 bytes of password")
	}
	h, err := bcrypt.GenerateFromPassword(password, bcryptCost)
	if err != nil {
		return nil, fmt.Errorf("passwd: bcrypt: %w", err)
	}
	if len(h) < 4 || string(h[:4]) != "$2a$" {
		return nil, errors.New("passwd: bcrypt made an unexpected hash")
	}
	h[2] = 'y'
	return h, nil
}
