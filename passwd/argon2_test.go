package passwd

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// argon2Salt and argon2Key are valid base64 without padding of 16 and 32
// bytes, for strings that must fail before the key is compared.
const (
	argon2Salt = "c2FsdHNhbHRzYWx0c2FsdA"
	argon2Key  = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
)

func TestArgon2Params(t *testing.T) {
	tests := []struct {
		name, params string
		want         error // nil: parses
	}{
		{"doveadm argon2id", "v=19$m=65536,t=3,p=1", nil},
		{"lanes", "v=19$m=64,t=1,p=8", nil},
		{"no version", "m=65536,t=3,p=1", ErrUnknownScheme},
		{"version 16", "v=16$m=65536,t=3,p=1", ErrUnknownScheme},
		{"version 20", "v=20$m=65536,t=3,p=1", ErrMalformedHash},
		{"order", "v=19$t=3,m=65536,p=1", ErrMalformedHash},
		{"two params", "v=19$m=65536,t=3", ErrMalformedHash},
		{"four params", "v=19$m=65536,t=3,p=1,x=2", ErrMalformedHash},
		{"leading zero", "v=19$m=065536,t=3,p=1", ErrMalformedHash},
		{"sign", "v=19$m=+65536,t=3,p=1", ErrMalformedHash},
		{"empty", "v=19$m=,t=3,p=1", ErrMalformedHash},
		{"over 32 bits", "v=19$m=4294967296,t=3,p=1", ErrMalformedHash},
		{"p=0", "v=19$m=65536,t=3,p=0", ErrMalformedHash},
		{"p=256", "v=19$m=65536,t=3,p=256", ErrMalformedHash},
		{"t=0", "v=19$m=65536,t=0,p=1", ErrMalformedHash},
		{"m below 8 per lane", "v=19$m=15,t=1,p=2", ErrMalformedHash},
		{"m above 4 GiB", "v=19$m=4194305,t=1,p=1", ErrMalformedHash},
		{"m at 4 GiB, t=4", "v=19$m=4194304,t=4,p=1", nil},
		{"work above the limit", "v=19$m=4194304,t=5,p=1", ErrMalformedHash},
		{"t huge", "v=19$m=8,t=4294967295,p=1", ErrMalformedHash},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseArgon2("$argon2id$" + tc.params + "$" + argon2Salt + "$" + argon2Key)
			if tc.want == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

func TestArgon2SaltAndKey(t *testing.T) {
	for _, tail := range []string{
		"c2FsdA$" + argon2Key,                         // 4-byte salt
		argon2Salt + "$a2V5",                          // 3-byte key
		argon2Salt + "$" + argon2Key + "=",            // padding
		argon2Salt + "==$" + argon2Key,                // padding
		argon2Salt + "$" + argon2Key + "$",            // a field too many
		argon2Salt + "$" + strings.Repeat("A", 1400),  // key over 1024 bytes
		strings.Repeat("A", 1400) + "$" + argon2Key,   // salt over 1024 bytes
		argon2Salt + "$a2V5a2V5a2V5a2V5a2V5a2V5a2V5!", // not base64
	} {
		_, err := parseArgon2("$argon2i$v=19$m=64,t=1,p=1$" + tail)
		assert.ErrorIs(t, err, ErrMalformedHash, tail)
	}
}

// Verify reads the key length and lanes from the string; ARGON2I and
// ARGON2ID both take either variant, as Dovecot's libsodium does.
func TestArgon2RoundTrip(t *testing.T) {
	for _, variant := range []string{"argon2i", "argon2id"} {
		for _, threads := range []uint8{1, 4} {
			h := &argon2Hash{variant: variant, memory: 256, time: 2, threads: threads, salt: []byte("0123456789abcdef")}
			h.key = h.derive([]byte("secret"), 20)
			s := h.String()
			for _, stored := range []string{s, "{ARGON2I}" + s, "{ARGON2ID}" + s, "{CRYPT}" + s} {
				assert.NoError(t, Verify(stored, []byte("secret")), stored)
				assert.ErrorIs(t, Verify(stored, []byte("Secret")), ErrMismatch, stored)
			}
			parsed, err := parseArgon2(s)
			require.NoError(t, err)
			assert.Equal(t, h, parsed)
		}
	}
	assert.ErrorIs(t, Verify("{ARGON2ID}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
		[]byte("Hello world!")), ErrMalformedHash, "ARGON2ID takes Argon2 strings only")
}
