package passwd

import (
	"crypto/sha1"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestVerifyPlain(t *testing.T) {
	assert.NoError(t, verifyPlain([]byte("secret"), []byte("secret")))
	for _, wrong := range []string{"", "secre", "secret ", "Secret", "secret\x00"} {
		assert.ErrorIs(t, verifyPlain([]byte("secret"), []byte(wrong)), ErrMismatch, wrong)
	}
}

func TestVerifySalted(t *testing.T) {
	verify := verifySalted(sha1.New)
	// SHA1("secret" || "salt") || "salt", whatever the salt's length.
	for _, salt := range []string{"s", "salt", "a much longer salt than doveadm's"} {
		sum := sha1.Sum([]byte("secret" + salt))
		raw := append(sum[:], salt...)
		assert.NoError(t, verify(raw, []byte("secret")), salt)
		assert.ErrorIs(t, verify(raw, []byte("secreT")), ErrMismatch, salt)
	}
	sum := sha1.Sum([]byte("secret"))
	assert.ErrorIs(t, verify(sum[:], []byte("secret")), ErrMalformedHash, "a digest without a salt")
	assert.ErrorIs(t, verify(nil, []byte("secret")), ErrMalformedHash)
}

func TestVerifyDigest(t *testing.T) {
	verify := verifyDigest(sha256.New)
	sum := sha256.Sum256([]byte("secret"))
	assert.NoError(t, verify(sum[:], []byte("secret")))
	assert.ErrorIs(t, verify(sum[:], []byte("secret!")), ErrMismatch)
	assert.ErrorIs(t, verify(sum[:31], []byte("secret")), ErrMalformedHash)
}

func TestDecode(t *testing.T) {
	tests := []struct {
		data   string
		enc    encoding
		guess  bool
		rawLen int
		want   string // "" for an error
	}{
		{"736563726574", encHex, false, 0, "secret"},
		{"736563726574", encHex, true, 0, "secret"},
		{"c2VjcmV0", encBase64, false, 0, "secret"},
		{"c2VjcmV0", encHex, false, 0, ""},
		{"c2VjcmV0", encHex, true, 0, ""}, // no guessing without a fixed length
		{"c2VjcmV0", encHex, true, 6, "secret"},
		{"736563726574", encBase64, true, 6, "secret"}, // 2*6 characters: hex
		{"c2VjcmV0MTI", encBase64, false, 0, "secret12"},
		{"c2VjcmV0MTI=", encBase64, false, 0, "secret12"},
		{"c2VjcmV0MTI", encBase64, false, 7, ""},
		{"plain", encNone, false, 0, "plain"},
		{"@@@@", encBase64, false, 0, ""},
	}
	for _, tc := range tests {
		raw, err := decode(tc.data, tc.enc, tc.guess, tc.rawLen)
		if tc.want == "" {
			assert.ErrorIs(t, err, ErrMalformedHash, tc.data)
			continue
		}
		if assert.NoError(t, err, tc.data) {
			assert.Equal(t, tc.want, string(raw), tc.data)
		}
	}
}
