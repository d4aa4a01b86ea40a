package passwd

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// doveadmPassword is the password of doveadmHashes: spaces, punctuation
// and UTF-8.
const doveadmPassword = "Tr0ub4dor&3 ünïcode"

// doveadmHashes came from `doveadm pw -s SCHEME -p "$doveadmPassword"`
// (with -r ROUNDS where the name says so) of Dovecot 2.3.19.1 (Debian 12).
var doveadmHashes = []struct{ name, stored string }{
	{"PLAIN", "{PLAIN}Tr0ub4dor&3 ünïcode"},
	{"CLEAR", "{CLEAR}Tr0ub4dor&3 ünïcode"},
	{"CLEARTEXT", "{CLEARTEXT}Tr0ub4dor&3 ünïcode"},
	{"PLAIN.B64", "{PLAIN.B64}VHIwdWI0ZG9yJjMgw7xuw69jb2Rl"},
	{"PLAIN.HEX", "{PLAIN.HEX}547230756234646f72263320c3bc6ec3af636f6465"},
	{"PLAIN-MD5", "{PLAIN-MD5}f5ca37037c8b9f0bf82f9fe640ef3e5b"},
	{"PLAIN-MD5.B64", "{PLAIN-MD5.B64}9co3A3yLnwv4L5/mQO8+Ww=="},
	{"LDAP-MD5", "{LDAP-MD5}9co3A3yLnwv4L5/mQO8+Ww=="},
	{"LDAP-MD5.HEX", "{LDAP-MD5.HEX}f5ca37037c8b9f0bf82f9fe640ef3e5b"},
	{"MD5", "{MD5}$1$h/8iGujL$e/o2kjeSL5zCLlHrt6yJg1"},
	{"MD5-CRYPT", "{MD5-CRYPT}$1$6A20sCUn$W0vmNVOzYs9SZYe6dJ0kZ."},
	{"SMD5", "{SMD5}e+HB6mYF3qdjP1Z6qalBsTLWgXM="},
	{"SHA", "{SHA}X1tGkJNvqACMeoAndrhEmdp8d2k="},
	{"SHA1", "{SHA1}X1tGkJNvqACMeoAndrhEmdp8d2k="},
	{"SHA.HEX", "{SHA.HEX}5f5b4690936fa8008c7a802776b84499da7c7769"},
	{"SHA256", "{SHA256}8xKh+iBbhCLISAyuhd4PFaL5yz9rOzYucvLWSlzWFks="},
	{"SHA256.HEX", "{SHA256.HEX}f312a1fa205b8422c8480cae85de0f15a2f9cb3f6b3b362e72f2d64a5cd6164b"},
	{"SHA512", "{SHA512}eQdqiPxUmslkJi8WaPHZFa83AJkmDFDjskFuhGHMlPO+KmhNxkLjrUHDBNG5am7exFOsNfusFoTqs8pU/bGjrg=="},
	{"SHA512.HEX", "{SHA512.HEX}79076a88fc549ac964262f1668f1d915af370099260c50e3b2416e8461cc94f3be2a684dc642e3ad41c304d1b96a6edec453ac35fbac1684eab3ca54fdb1a3ae"},
	{"SSHA", "{SSHA}3gmMxYdioyPruEHDBt9mqNbOf+KJmMgF"},
	{"SSHA.HEX", "{SSHA.HEX}b85282ac6c7b86f04605e8f32108cb677877d1633f776c9b"},
	{"SSHA256", "{SSHA256}NAL48vT2W37tVwgnaETZ+v9Tyjz6r55/9+KOQmYOtr43d/ao"},
	{"SSHA512", "{SSHA512}j1AL3mjimeeHxwgP1IZlzZ2OqfOyBN/DRIKt+hos0c3zpcpgBDX0pQSLYzSrOax+dRkkkQ+G9n+yuDBPPltuqU22QAo="},
	{"SSHA512.HEX", "{SSHA512.HEX}94d23aadd5da5871c3d3acfd43fe529e7c648d12ee3ccc064d69cbf634c77eadb26e14e6cc620ac60015cee6005cb085b4c5ca20ed27cb362af497f37b00178719f5e5ec"},
	{"SHA256-CRYPT", "{SHA256-CRYPT}$5$Xbj4hsjg5gQWIlgH$IxhS/dQLUchKRqBDe10IguB479n6WMCog2MY9g7ingD"},
	{"SHA256-CRYPT -r 10000", "{SHA256-CRYPT}$5$rounds=10000$ARYMkWxMPgUbzUzW$0g786VmT/aiwdPYwfEriECzTEOocdq/iRfBFGVHCgTC"},
	{"SHA512-CRYPT", "{SHA512-CRYPT}$6$KnAVk8T1HtLOCqrt$A980bN5We0AGOYg009MNsHodcFddduZ4iJfFo8pCpmrJsj4ndb./phrCxOQILmU3YRh8Wj0OTmlo/ttOI5jM10"},
	{"SHA512-CRYPT -r 12345", "{SHA512-CRYPT}$6$rounds=12345$N0TNsL0UyWeAgOGp$7QEH8wJeoYVEgMKJq1gjqaAfjqv1W6QPKxO33V2144bG1AYIK1OANE3dZmbDaarNnAYIAou4H2JQO6g7q30yM1"},
	{"BLF-CRYPT", "{BLF-CRYPT}$2y$05$HG.ikn16sF/8HqMs/MF41e5qOltD2860HPmTIOP2/jv1FimaGb.YW"},
	{"BLF-CRYPT -r 8", "{BLF-CRYPT}$2y$08$zRQXZHL9ytaYuilGMuoBy.Et.73p.HgF8J15DfT/C.a1DWYg66r1G"},
	{"CRYPT", "{CRYPT}$2y$05$SO2Py38EOwe3ZCy02Lzug.47XD80nvQbkvyq9ZNVr4zGsaAdptXQC"},
	{"ARGON2I", "{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$He9lYDhCuVx2PvAFpTlGiQ$XjFQw7J0/SBx69NbB58v5ZhsLdf5RAq4taK5SF1ZBtA"},
	{"ARGON2ID", "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$sf6zgZ5NUkpxDa1fD7ZZ5A$kwmNSC+0uskoGvCjHhQUtikV/VUbx7vDzOwMAYRnMq4"},
}

// plainScheme reports whether the stored hash keeps the password itself,
// so that a garbled one is another password, not a malformed hash.
func plainScheme(stored string) bool {
	name, _, _ := splitScheme(stored)
	base, _, _ := strings.Cut(name, ".")
	return slices.Contains([]string{"PLAIN", "CLEAR", "CLEARTEXT"}, base)
}

func TestVerifyDoveadmHashes(t *testing.T) {
	for _, tc := range doveadmHashes {
		t.Run(tc.name, func(t *testing.T) {
			name, data, ok := splitScheme(tc.stored)
			require.True(t, ok)

			assert.NoError(t, Verify(tc.stored, []byte(doveadmPassword)))
			assert.NoError(t, Verify("{"+strings.ToLower(name)+"}"+data, []byte(doveadmPassword)), "scheme names are case-insensitive")

			for _, wrong := range []string{"", "Tr0ub4dor&3 ünïcodE", doveadmPassword + " ", "Tr0ub4dor&3"} {
				err := Verify(tc.stored, []byte(wrong))
				assert.ErrorIs(t, err, ErrMismatch, "password %q", wrong)
				assertSafeError(t, err, tc.stored, wrong)
			}

			if plainScheme(tc.stored) {
				return
			}
			truncated := "{" + name + "}" + data[:len(data)/2]
			err := Verify(truncated, []byte(doveadmPassword))
			assert.ErrorIs(t, err, ErrMalformedHash, "truncated")
			assertSafeError(t, err, truncated, doveadmPassword)

			garbled := "{" + name + "}" + data[:len(data)-1] + "!"
			err = Verify(garbled, []byte(doveadmPassword))
			assert.ErrorIs(t, err, ErrMalformedHash, "garbled")
			assertSafeError(t, err, garbled, doveadmPassword)

			err = Verify("{X"+name+"}"+data, []byte(doveadmPassword))
			assert.ErrorIs(t, err, ErrUnknownScheme)
		})
	}
}

// assertSafeError checks that err names neither the hash nor the password.
func assertSafeError(t *testing.T, err error, stored, password string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	_, data, _ := splitScheme(stored)
	if len(data) >= 4 {
		assert.NotContains(t, msg, data, "the error quotes the hash")
	}
	if len(password) >= 4 {
		assert.NotContains(t, msg, password, "the error quotes the password")
	}
}

// The crypt schemes without their {SCHEME}: Dovecot reads bare data as CRYPT.
func TestVerifyBareCrypt(t *testing.T) {
	for _, tc := range doveadmHashes {
		_, data, _ := splitScheme(tc.stored)
		if !strings.HasPrefix(data, "$") {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			assert.NoError(t, Verify(data, []byte(doveadmPassword)))
			assert.NoError(t, Verify("{CRYPT}"+data, []byte(doveadmPassword)))
			assert.ErrorIs(t, Verify(data, []byte("wrong")), ErrMismatch)
		})
	}
}

func TestVerifyErrors(t *testing.T) {
	tests := []struct {
		name, stored string
		want         error
	}{
		{"empty", "", ErrMalformedHash},
		{"empty PLAIN", "{PLAIN}", ErrMalformedHash},
		{"empty CRYPT", "{CRYPT}", ErrMalformedHash},
		{"empty SHA512-CRYPT", "{SHA512-CRYPT}", ErrMalformedHash},
		{"empty name", "{}secret", ErrUnknownScheme},
		{"unknown scheme", "{ROT13}frperg", ErrUnknownScheme},
		{"unknown encoding", "{SHA256.ROT13}abc", ErrUnknownScheme},
		{"DIGEST-MD5", "{DIGEST-MD5}0123456789abcdef0123456789abcdef", ErrUnknownScheme},
		{"DES-CRYPT scheme", "{DES-CRYPT}ra3CvuCZ/anag", ErrUnknownScheme},
		{"DES crypt", "ra3CvuCZ/anag", ErrUnknownScheme},
		{"BSDi crypt", "_J9..CCCCXBrJUJV154M", ErrUnknownScheme},
		{"gost-yescrypt", "$gy$j9T$abcd$eNx5Ts/33O7c0szGVRoZ9FC5cuK11v8Hgb3mQmq02S1", ErrUnknownScheme},
		{"scrypt", "$7$CU..../....2KfQ5cZ0fYSuGYi1i7Ulr/$v7VGrqJI8.ghxBxb9gkN6vHN8yYq1fFwrYJ6FDnTOJ.", ErrUnknownScheme},
		{"unknown crypt id", "$zz$abc$def", ErrUnknownScheme},
		{"bcrypt 2x", "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", ErrUnknownScheme},
		{"argon2d", "$argon2d$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA", ErrUnknownScheme},
		{"no crypt id", "$", ErrMalformedHash},
		{"not crypt", "just some text", ErrMalformedHash},
		{"unclosed brace is CRYPT", "{PLAIN secret", ErrMalformedHash},
		{"bad hex", "{PLAIN-MD5.HEX}f5ca37037c8b9f0bf82f9fe640ef3e5x", ErrMalformedHash},
		{"short hex", "{SHA.HEX}5f5b", ErrMalformedHash},
		{"bad base64", "{SSHA256}!!!!", ErrMalformedHash},
		{"digest too long", "{SHA}X1tGkJNvqACMeoAndrhEmdp8d2kAAAAA", ErrMalformedHash},
		{"salted without salt", "{SSHA}X1tGkJNvqACMeoAndrhEmdp8d2k=", ErrMalformedHash},
		{"MD5 neither", "{MD5}not md5 at all", ErrMalformedHash},
		{"PLAIN.B64 bad", "{PLAIN.B64}*", ErrMalformedHash},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = Verify(tc.stored, []byte("secret")) })
			assert.ErrorIs(t, err, tc.want)
			assertSafeError(t, err, tc.stored, "secret")
		})
	}
}

// Dovecot guesses hex or base64 for the fixed-length digests without a
// suffix, by the length.
func TestVerifyGuessedEncoding(t *testing.T) {
	for _, stored := range []string{
		"{PLAIN-MD5}9co3A3yLnwv4L5/mQO8+Ww==",
		"{LDAP-MD5}f5ca37037c8b9f0bf82f9fe640ef3e5b",
		"{LDAP-MD5}F5CA37037C8B9F0BF82F9FE640EF3E5B",
		"{MD5}f5ca37037c8b9f0bf82f9fe640ef3e5b",
		"{MD5}9co3A3yLnwv4L5/mQO8+Ww==",
		"{SHA}5f5b4690936fa8008c7a802776b84499da7c7769",
		"{SHA256}f312a1fa205b8422c8480cae85de0f15a2f9cb3f6b3b362e72f2d64a5cd6164b",
		"{SHA256}8xKh+iBbhCLISAyuhd4PFaL5yz9rOzYucvLWSlzWFks", // no padding
		"{SHA512.b64}eQdqiPxUmslkJi8WaPHZFa83AJkmDFDjskFuhGHMlPO+KmhNxkLjrUHDBNG5am7exFOsNfusFoTqs8pU/bGjrg==",
		"{sha512.Base64}eQdqiPxUmslkJi8WaPHZFa83AJkmDFDjskFuhGHMlPO+KmhNxkLjrUHDBNG5am7exFOsNfusFoTqs8pU/bGjrg==",
	} {
		assert.NoError(t, Verify(stored, []byte(doveadmPassword)), stored)
	}
}

func TestVerifyErrorText(t *testing.T) {
	err := Verify("{SHA512-CRYPT}$6$abc$def", []byte("pw"))
	assert.EqualError(t, err, "passwd: malformed password hash (SHA512-CRYPT: digest is not 86 crypt base64 characters)")
	err = Verify("{SHA256.HEX}"+strings.Repeat("00", 32), []byte("pw"))
	assert.EqualError(t, err, "passwd: password does not match (SHA256.HEX)")
	err = Verify("{NOPE}x", []byte("pw"))
	assert.EqualError(t, err, "passwd: unknown password scheme (NOPE)")
	err = Verify("{a secret!}x", []byte("pw"))
	assert.EqualError(t, err, "passwd: unknown password scheme (unreadable scheme name)")
	err = Verify("$gy$j9T$abc$def", []byte("pw"))
	assert.EqualError(t, err, "passwd: unknown password scheme (CRYPT: gost-yescrypt ($gy$) is not supported)")
	var target *schemeError
	assert.True(t, errors.As(err, &target))
}

func TestPlaintext(t *testing.T) {
	tests := []struct {
		stored, secret string
		ok             bool
	}{
		{"{PLAIN}secret", "secret", true},
		{"{plain}secret", "secret", true},
		{"{CLEAR}with:colon", "with:colon", true},
		{"{CLEARTEXT}x", "x", true},
		{"{PLAIN.B64}c2VjcmV0", "secret", true},
		{"{PLAIN.BASE64}c2VjcmV0", "secret", true},
		{"{PLAIN.HEX}736563726574", "secret", true},
		{"{PLAIN.HEX}7365637265", "secre", true},
		{"{PLAIN.HEX}zz", "", false},
		{"{PLAIN}", "", false},
		{"{PLAIN.ROT13}frperg", "", false},
		{"{SHA}X1tGkJNvqACMeoAndrhEmdp8d2k=", "", false},
		{"{PLAIN-MD5}5ebe2294ecd0e0f08eab7690d2a6ee69", "", false},
		{"secret", "", false},
		{"$1$h/8iGujL$e/o2kjeSL5zCLlHrt6yJg1", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		secret, ok := Plaintext(tc.stored)
		assert.Equal(t, tc.ok, ok, tc.stored)
		assert.Equal(t, tc.secret, secret, tc.stored)
	}
}

// PlaintextScheme agrees with Plaintext: a hash in a scheme it accepts
// gives up its secret, and one in a scheme it refuses does not.
func TestPlaintextScheme(t *testing.T) {
	tests := []struct {
		name string
		data string // "secret" in the scheme's encoding
		want bool
	}{
		{"PLAIN", "secret", true},
		{"plain", "secret", true},
		{"CLEAR", "secret", true},
		{"ClearText", "secret", true},
		{"PLAIN.B64", "c2VjcmV0", true},
		{"plain.base64", "c2VjcmV0", true},
		{"PLAIN.HEX", "736563726574", true},
		{"PLAIN.ROT13", "frperg", false},
		{"PLAIN-MD5", "5ebe2294ecd0e0f08eab7690d2a6ee69", false},
		{"MD5", "$1$h/8iGujL$e/o2kjeSL5zCLlHrt6yJg1", false},
		{"CRYPT", "$1$h/8iGujL$e/o2kjeSL5zCLlHrt6yJg1", false},
		{"SHA512-CRYPT", "$6$x$y", false},
		{"BLF-CRYPT", "$2y$05$x", false},
		{"SSHA", "X1tGkJNvqACMeoAndrhEmdp8d2k=", false},
		{"NOSUCH", "secret", false},
		{"", "secret", false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, PlaintextScheme(tc.name), "%q", tc.name)
		secret, ok := Plaintext("{" + tc.name + "}" + tc.data)
		assert.Equal(t, tc.want, ok, "%q: Plaintext", tc.name)
		if tc.want {
			assert.Equal(t, "secret", secret, tc.name)
		}
	}
}

func TestSchemes(t *testing.T) {
	got := Schemes()
	assert.True(t, slices.IsSorted(got))
	for _, want := range []string{"ARGON2I", "ARGON2ID", "BLF-CRYPT", "CLEAR", "CLEARTEXT", "CRYPT",
		"LDAP-MD5", "MD5", "MD5-CRYPT", "PLAIN", "PLAIN-MD5", "SHA", "SHA1", "SHA256", "SHA256-CRYPT",
		"SHA512", "SHA512-CRYPT", "SMD5", "SSHA", "SSHA256", "SSHA512"} {
		assert.Contains(t, got, want)
	}
	assert.Len(t, got, len(schemeTable))
	got[0] = "changed"
	assert.NotEqual(t, "changed", Schemes()[0], "Schemes returns a fresh slice")
}
