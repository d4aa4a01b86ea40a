package passwd

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The errors of this package. Errors of [Verify] and [Hash] wrap one of
// them (test with [errors.Is]) and name the scheme, never the hash or the
// password.
var (
	// ErrUnknownScheme is a scheme this package does not implement: an
	// unknown {SCHEME}, an unknown encoding suffix, or a crypt(3) method
	// such as DES or gost-yescrypt.
	ErrUnknownScheme = errors.New("passwd: unknown password scheme")
	// ErrMalformedHash is a stored hash that cannot be read: bad hex or
	// base64, a wrong length, a parameter out of range, or an empty hash
	// (Dovecot lets a user with an empty password in only with the
	// nopassword extra field, which is the caller's to honour).
	ErrMalformedHash = errors.New("passwd: malformed password hash")
	// ErrNotFound is a user a [Source] does not have.
	ErrNotFound = errors.New("passwd: no such user")
	// ErrInvalidEntry is a user a [Source] has but cannot use: a query
	// that found two entries for one name, or a required field that is
	// missing. A store refuses the login, as for a wrong password, and
	// logs the reason, which the error gives without the stored hash.
	ErrInvalidEntry = errors.New("passwd: unusable user entry")
	// ErrMismatch is a password that does not match the stored hash.
	ErrMismatch = errors.New("passwd: password does not match")
)

// schemeError is an error of one scheme: kind is one of the sentinels,
// detail says what is wrong without quoting the hash or the password.
type schemeError struct {
	kind   error
	scheme string
	detail string
}

func (e *schemeError) Error() string {
	var note []string
	if e.scheme != "" {
		note = append(note, e.scheme)
	}
	if e.detail != "" {
		note = append(note, e.detail)
	}
	if len(note) == 0 {
		return e.kind.Error()
	}
	return e.kind.Error() + " (" + strings.Join(note, ": ") + ")"
}

func (e *schemeError) Unwrap() error { return e.kind }

// errMismatch is returned by the schemes' verify functions; Verify adds the
// scheme's name.
var errMismatch = &schemeError{kind: ErrMismatch}

func malformed(format string, args ...any) error {
	return &schemeError{kind: ErrMalformedHash, detail: fmt.Sprintf(format, args...)}
}

func unsupported(format string, args ...any) error {
	return &schemeError{kind: ErrUnknownScheme, detail: fmt.Sprintf(format, args...)}
}

// withScheme names the scheme in err, a schemeError of a verify function.
func withScheme(err error, name string) error {
	var se *schemeError
	if !errors.As(err, &se) {
		return &schemeError{kind: ErrMalformedHash, scheme: name}
	}
	return &schemeError{kind: se.kind, scheme: name, detail: se.detail}
}

// encoding is how a scheme's binary data is written after its {SCHEME}.
type encoding uint8

const (
	encNone encoding = iota
	encHex
	encBase64
)

type (
	verifyFunc   func(raw, password []byte) error
	generateFunc func(password []byte) ([]byte, error)
)

// scheme is one entry of Dovecot's table of password schemes.
type scheme struct {
	name string
	// enc is the encoding of the data when the name has no .hex, .b64 or
	// .base64 suffix.
	enc encoding
	// rawLen is the decoded length of a fixed-length digest, 0 otherwise.
	// As Dovecot does, data of such a scheme without a suffix is read as
	// hex when it is 2*rawLen characters long, as base64 otherwise.
	rawLen int
	// plain marks the schemes that keep the cleartext secret.
	plain    bool
	verify   verifyFunc
	generate generateFunc
}

// schemeTable maps the upper-case names to the schemes. Dovecot's
// definitions: src/auth/password-scheme.c; its list: doveadm pw -l.
var schemeTable = func() map[string]*scheme {
	list := []*scheme{
		{name: "PLAIN", plain: true, verify: verifyPlain, generate: generatePlain},
		{name: "CLEAR", plain: true, verify: verifyPlain, generate: generatePlain},
		{name: "CLEARTEXT", plain: true, verify: verifyPlain, generate: generatePlain},

		{name: "PLAIN-MD5", enc: encHex, rawLen: md5.Size, verify: verifyDigest(md5.New), generate: generateDigest(md5.New)},
		{name: "LDAP-MD5", enc: encBase64, rawLen: md5.Size, verify: verifyDigest(md5.New), generate: generateDigest(md5.New)},
		{name: "SHA", enc: encBase64, rawLen: sha1.Size, verify: verifyDigest(sha1.New), generate: generateDigest(sha1.New)},
		{name: "SHA1", enc: encBase64, rawLen: sha1.Size, verify: verifyDigest(sha1.New), generate: generateDigest(sha1.New)},
		{name: "SHA256", enc: encBase64, rawLen: sha256.Size, verify: verifyDigest(sha256.New), generate: generateDigest(sha256.New)},
		{name: "SHA512", enc: encBase64, rawLen: sha512.Size, verify: verifyDigest(sha512.New), generate: generateDigest(sha512.New)},

		{name: "SMD5", enc: encBase64, verify: verifySalted(md5.New), generate: generateSalted(md5.New)},
		{name: "SSHA", enc: encBase64, verify: verifySalted(sha1.New), generate: generateSalted(sha1.New)},
		{name: "SSHA256", enc: encBase64, verify: verifySalted(sha256.New), generate: generateSalted(sha256.New)},
		{name: "SSHA512", enc: encBase64, verify: verifySalted(sha512.New), generate: generateSalted(sha512.New)},

		// Dovecot's MD5 is MD5-CRYPT, or PLAIN-MD5 for data without "$1$".
		{name: "MD5", verify: verifyMD5, generate: generateMD5Crypt},
		{name: "MD5-CRYPT", verify: verifyCrypt, generate: generateMD5Crypt},
		{name: "SHA256-CRYPT", verify: verifyCrypt, generate: generateSHA256Crypt},
		{name: "SHA512-CRYPT", verify: verifyCrypt, generate: generateSHA512Crypt},
		{name: "BLF-CRYPT", verify: verifyCrypt, generate: generateBcrypt},
		{name: "CRYPT", verify: verifyCrypt, generate: generateBcrypt},

		{name: "ARGON2I", verify: verifyArgon2, generate: generateArgon2i},
		{name: "ARGON2ID", verify: verifyArgon2, generate: generateArgon2id},
	}
	m := make(map[string]*scheme, len(list))
	for _, s := range list {
		m[s.name] = s
	}
	return m
}()

// Schemes returns the names of the supported schemes, sorted. Each works
// with [Verify] and [Hash], in any letter case and with Dovecot's encoding
// suffixes .hex, .b64 and .base64 (as in "{SHA256.HEX}").
func Schemes() []string {
	names := make([]string, 0, len(schemeTable))
	for name := range schemeTable {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// splitScheme splits "{SCHEME}data" as Dovecot does (the name ends at the
// first '}'); ok is false when stored has no {SCHEME} prefix.
func splitScheme(stored string) (name, data string, ok bool) {
	if strings.HasPrefix(stored, "{") {
		if i := strings.IndexByte(stored, '}'); i > 0 {
			return stored[1:i], stored[i+1:], true
		}
	}
	return "", stored, false
}

// lookupScheme finds a scheme by a name such as "sha256.hex". enc is the
// encoding of its data: the suffix's, or the scheme's own when explicit is
// false.
func lookupScheme(name string) (s *scheme, enc encoding, explicit bool, err error) {
	base, suffix, explicit := strings.Cut(name, ".")
	s = schemeTable[strings.ToUpper(base)]
	if s == nil {
		return nil, 0, false, &schemeError{kind: ErrUnknownScheme, scheme: printableName(name)}
	}
	if !explicit {
		return s, s.enc, false, nil
	}
	switch strings.ToLower(suffix) {
	case "hex":
		return s, encHex, true, nil
	case "b64", "base64":
		return s, encBase64, true, nil
	}
	// Dovecot also refuses an unknown encoding as an unknown scheme.
	return nil, 0, false, &schemeError{kind: ErrUnknownScheme, scheme: printableName(name),
		detail: "the encoding suffix is not .hex, .b64 or .base64"}
}

// printableName returns name for an error message when it looks like a
// scheme name, so that an error never carries other text from a stored hash.
func printableName(name string) string {
	if name == "" {
		return "empty scheme name"
	}
	if len(name) > 32 {
		return "unreadable scheme name"
	}
	for _, c := range name {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return "unreadable scheme name"
		}
	}
	return strings.ToUpper(name)
}

// decode decodes a scheme's data. With guess set and rawLen > 0 it chooses
// between hex and base64 by the length, as Dovecot's password_decode does.
func decode(data string, enc encoding, guess bool, rawLen int) ([]byte, error) {
	if guess && rawLen > 0 && enc != encNone {
		if len(data) == 2*rawLen {
			if raw, err := hex.DecodeString(data); err == nil {
				return raw, nil
			}
		}
		enc = encBase64
	}
	var raw []byte
	switch enc {
	case encHex:
		b, err := hex.DecodeString(data)
		if err != nil {
			return nil, malformed("not valid hex")
		}
		raw = b
	case encBase64:
		b, err := decodeBase64(data)
		if err != nil {
			return nil, malformed("not valid base64")
		}
		raw = b
	default:
		raw = []byte(data)
	}
	if rawLen > 0 && len(raw) != rawLen {
		return nil, malformed("the digest is %d bytes, not %d", len(raw), rawLen)
	}
	return raw, nil
}

// decodeBase64 reads standard base64, with or without its padding.
func decodeBase64(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") || len(s)%4 == 0 {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func encode(raw []byte, enc encoding) string {
	switch enc {
	case encHex:
		return hex.EncodeToString(raw)
	case encBase64:
		return base64.StdEncoding.EncodeToString(raw)
	}
	return string(raw)
}

// Verify reports whether password matches stored, a hash as Dovecot stores
// it: "{SCHEME}data", or bare data, which is the CRYPT scheme (a crypt(3)
// string read by its "$id$": $1$ MD5-crypt, $5$ SHA256-crypt, $6$
// SHA512-crypt, $y$ yescrypt, $2a$ $2b$ $2y$ bcrypt, and $argon2i$
// $argon2id$). See
// https://doc.dovecot.org/configuration_manual/authentication/password_schemes/
// and [Schemes] for the schemes.
//
// Verify returns nil when the password matches, an error wrapping
// [ErrMismatch] when it does not, and one wrapping [ErrUnknownScheme] or
// [ErrMalformedHash] when stored cannot be checked. An empty hash never
// matches, whatever its scheme. The comparison is in constant time; the
// errors name the scheme, never the hash or the password.
func Verify(stored string, password []byte) error {
	name, data, prefixed := splitScheme(stored)
	if !prefixed {
		name = "CRYPT"
	}
	s, enc, explicit, err := lookupScheme(name)
	if err != nil {
		return err
	}
	label := s.name
	if explicit {
		label = strings.ToUpper(name) // a known name and a known suffix
	}
	if data == "" {
		return &schemeError{kind: ErrMalformedHash, scheme: label, detail: "empty hash"}
	}
	raw, err := decode(data, enc, !explicit, s.rawLen)
	if err == nil {
		err = s.verify(raw, password)
	}
	if err != nil {
		return withScheme(err, label)
	}
	return nil
}

// PlaintextScheme reports whether name, a scheme as Dovecot's
// default_pass_scheme setting gives it ("PLAIN", "cleartext", "PLAIN.B64"),
// keeps the cleartext secret, so that [Plaintext] recovers it from a hash in
// that scheme: PLAIN, CLEAR or CLEARTEXT, in any letter case, with or
// without an encoding suffix. It is false for every other scheme and for a
// name this package does not know.
func PlaintextScheme(name string) bool {
	s, _, _, err := lookupScheme(name)
	return err == nil && s.plain
}

// Plaintext returns the cleartext secret kept by stored when its scheme keeps
// one: PLAIN, CLEAR or CLEARTEXT, with or without an encoding suffix (as in
// "{PLAIN.B64}c2VjcmV0"). APOP (RFC 1939 §7) needs it: the server computes
// the digest of the shared secret. ok is false for every other scheme, for
// bare (CRYPT) data, for an empty secret and for data that does not decode.
func Plaintext(stored string) (secret string, ok bool) {
	name, data, prefixed := splitScheme(stored)
	if !prefixed {
		return "", false
	}
	s, enc, _, err := lookupScheme(name)
	if err != nil || !s.plain {
		return "", false
	}
	raw, err := decode(data, enc, false, 0)
	if err != nil || len(raw) == 0 {
		return "", false
	}
	return string(raw), true
}
