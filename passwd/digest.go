package passwd

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"hash"
)

// saltedSaltLen is the salt length of SMD5, SSHA, SSHA256 and SSHA512, as
// doveadm pw makes them. Verification takes any salt length.
const saltedSaltLen = 4

// verifyPlain compares the SHA-256 sums of the two secrets, so that the
// time taken tells nothing, not even the stored secret's length.
func verifyPlain(raw, password []byte) error {
	want := sha256.Sum256(raw)
	got := sha256.Sum256(password)
	if subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
		return errMismatch
	}
	return nil
}

func generatePlain(password []byte) ([]byte, error) {
	return bytes.Clone(password), nil
}

// verifyDigest checks an unsalted digest of the password (PLAIN-MD5,
// LDAP-MD5, SHA, SHA256, SHA512).
func verifyDigest(newHash func() hash.Hash) verifyFunc {
	return func(raw, password []byte) error {
		h := newHash()
		h.Write(password)
		sum := h.Sum(nil)
		if len(raw) != len(sum) {
			return malformed("the digest is %d bytes, not %d", len(raw), len(sum))
		}
		if subtle.ConstantTimeCompare(raw, sum) != 1 {
			return errMismatch
		}
		return nil
	}
}

func generateDigest(newHash func() hash.Hash) generateFunc {
	return func(password []byte) ([]byte, error) {
		h := newHash()
		h.Write(password)
		return h.Sum(nil), nil
	}
}

// verifySalted checks digest(password || salt) || salt (SMD5, SSHA,
// SSHA256, SSHA512): the salt is whatever follows the digest, at least one
// byte, as Dovecot requires.
func verifySalted(newHash func() hash.Hash) verifyFunc {
	return func(raw, password []byte) error {
		h := newHash()
		size := h.Size()
		if len(raw) <= size {
			return malformed("%d bytes: not a %d-byte digest followed by a salt", len(raw), size)
		}
		h.Write(password)
		h.Write(raw[size:])
		if subtle.ConstantTimeCompare(raw[:size], h.Sum(nil)) != 1 {
			return errMismatch
		}
		return nil
	}
}

func generateSalted(newHash func() hash.Hash) generateFunc {
	return func(password []byte) ([]byte, error) {
		salt := make([]byte, saltedSaltLen)
		_, _ = rand.Read(salt) // crypto/rand.Read never fails on supported systems
		h := newHash()
		h.Write(password)
		h.Write(salt)
		return append(h.Sum(nil), salt...), nil
	}
}

// verifyMD5 is Dovecot's MD5 scheme: MD5-CRYPT when the data starts with
// "$1$", otherwise a PLAIN-MD5 digest in hex or base64.
func verifyMD5(raw, password []byte) error {
	if bytes.HasPrefix(raw, []byte("$1$")) {
		return verifyCrypt(raw, password)
	}
	digest, err := decode(string(raw), encHex, true, md5.Size)
	if err != nil {
		return malformed("neither MD5-CRYPT nor a PLAIN-MD5 digest")
	}
	return verifyDigest(md5.New)(digest, password)
}
