package passwd

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Limits on the salt and key of a stored Argon2 hash (limits has those on
// its cost).
const (
	argon2MinSalt = 8    // bytes, as the reference implementation
	argon2MinKey  = 4    // bytes, as the reference implementation
	argon2MaxLen  = 1024 // bytes of salt or of key
)

// The parameters of the hashes Hash makes: doveadm pw's in Dovecot 2.3
// (libsodium's crypto_pwhash_str), a 16-byte salt and a 32-byte key.
const (
	argon2SaltLen = 16
	argon2KeyLen  = 32
)

// argon2Hash is a parsed "$argon2id$v=19$m=65536,t=3,p=1$salt$key", the
// encoding of the reference implementation and of libsodium, which Dovecot
// uses: salt and key in base64 without padding.
type argon2Hash struct {
	variant   string // "argon2i" or "argon2id"
	memory    uint32 // KiB
	time      uint32 // passes
	threads   uint8
	salt, key []byte
}

func parseArgon2(s string) (*argon2Hash, error) {
	f := strings.Split(s, "$")
	if len(f) < 2 || f[0] != "" {
		return nil, malformed("not an Argon2 string")
	}
	h := &argon2Hash{variant: f[1]}
	switch h.variant {
	case "argon2i", "argon2id":
	case "argon2d":
		return nil, unsupported("argon2d is not supported")
	default:
		return nil, malformed("not $argon2i$ or $argon2id$")
	}
	if len(f) == 5 && strings.HasPrefix(f[2], "m=") {
		return nil, unsupported("Argon2 version 1.0 (no v=) is not supported")
	}
	if len(f) != 6 {
		return nil, malformed("not $%s$v=19$m=M,t=T,p=P$salt$key", h.variant)
	}
	switch f[2] {
	case "v=19":
	case "v=16":
		return nil, unsupported("Argon2 version 1.0 (v=16) is not supported")
	default:
		return nil, malformed("the version is not v=19")
	}
	params := strings.Split(f[3], ",")
	if len(params) != 3 {
		return nil, malformed("the parameters are not m=M,t=T,p=P")
	}
	m, okM := argon2Param(params[0], "m=")
	t, okT := argon2Param(params[1], "t=")
	p, okP := argon2Param(params[2], "p=")
	switch {
	case !okM || !okT || !okP:
		return nil, malformed("the parameters are not m=M,t=T,p=P")
	case p < 1 || p > 255:
		return nil, malformed("p=%d is out of range 1-255", p)
	case t < 1:
		return nil, malformed("t=%d is below 1", t)
	case m < 8*p:
		return nil, malformed("m=%d is below 8 KiB per lane", m)
	case m > limits.argon2Memory:
		return nil, malformed("m=%d is above this package's limit of %d KiB", m, limits.argon2Memory)
	case m*t > limits.argon2Work:
		return nil, malformed("m=%d and t=%d are above this package's limit of %d KiB passes", m, t, limits.argon2Work)
	}
	h.memory, h.time, h.threads = uint32(m), uint32(t), uint8(p)

	var err error
	if h.salt, err = argon2Base64(f[4], argon2MinSalt); err != nil {
		return nil, malformed("the salt is not %d to %d bytes of base64", argon2MinSalt, argon2MaxLen)
	}
	if h.key, err = argon2Base64(f[5], argon2MinKey); err != nil {
		return nil, malformed("the key is not %d to %d bytes of base64", argon2MinKey, argon2MaxLen)
	}
	return h, nil
}

// argon2Param reads "m=65536" as 65536: a decimal of at most ten digits,
// written as the reference implementation writes it.
func argon2Param(s, prefix string) (uint64, bool) {
	digits, ok := strings.CutPrefix(s, prefix)
	if !ok || len(digits) == 0 || len(digits) > 10 || (digits[0] == '0' && len(digits) > 1) {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil && n <= 1<<32-1
}

func argon2Base64(s string, minLen int) ([]byte, error) {
	if len(s) > base64.RawStdEncoding.EncodedLen(argon2MaxLen) {
		return nil, errOutOfRange
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if len(b) < minLen {
		return nil, errOutOfRange
	}
	return b, nil
}

var errOutOfRange = errors.New("out of range")

// derive computes the Argon2 key of password with h's parameters and keyLen.
func (h *argon2Hash) derive(password []byte, keyLen int) []byte {
	if h.variant == "argon2id" {
		return argon2.IDKey(password, h.salt, h.time, h.memory, h.threads, uint32(keyLen))
	}
	return argon2.Key(password, h.salt, h.time, h.memory, h.threads, uint32(keyLen))
}

func (h *argon2Hash) String() string {
	return "$" + h.variant + "$v=19$m=" + strconv.FormatUint(uint64(h.memory), 10) +
		",t=" + strconv.FormatUint(uint64(h.time), 10) +
		",p=" + strconv.FormatUint(uint64(h.threads), 10) +
		"$" + base64.RawStdEncoding.EncodeToString(h.salt) +
		"$" + base64.RawStdEncoding.EncodeToString(h.key)
}

// verifyArgon2 checks an Argon2 string: ARGON2I and ARGON2ID accept both
// variants, as Dovecot's libsodium does; the string says which.
func verifyArgon2(raw, password []byte) error {
	h, err := parseArgon2(string(raw))
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(h.derive(password, len(h.key)), h.key) != 1 {
		return errMismatch
	}
	return nil
}

func generateArgon2i(password []byte) ([]byte, error) {
	return newArgon2("argon2i", 4, 32<<10, 1, password), nil // doveadm: m=32768,t=4,p=1
}

func generateArgon2id(password []byte) ([]byte, error) {
	return newArgon2("argon2id", 3, 64<<10, 1, password), nil // doveadm: m=65536,t=3,p=1
}

func newArgon2(variant string, time, memory uint32, threads uint8, password []byte) []byte {
	h := &argon2Hash{variant: variant, memory: memory, time: time, threads: threads,
		salt: make([]byte, argon2SaltLen)}
	_, _ = rand.Read(h.salt) // crypto/rand.Read never fails on supported systems
	h.key = h.derive(password, argon2KeyLen)
	return []byte(h.String())
}
