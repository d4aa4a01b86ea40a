package passwd

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// yescryptVectors came from libxcrypt 4.4.33 (Debian 12): `mkpasswd -m
// yescrypt [-R COST] PASSWORD` of whois 5.5.17, and Python's crypt.crypt
// (which calls libxcrypt) for the chosen salts.
var yescryptVectors = []struct{ name, password, stored string }{
	// The default cost, 5: what Debian 12 writes into /etc/shadow.
	{"default", "secret", "$y$j9T$TwpDOFHkqTS/bXXLfp17X1$Fkfut7EWtKVyoYrZoC0YUpOxxnCcoH..oymHosS6gP/"},
	{"UTF-8", "Tr0ub4dor&3 ünïcode", "$y$j9T$lNi61khRhF7rWXsc.4kLe1$PHL8STslHYnUMuFTBx3sU6xgQqJDKWXKe9F/NDBJ1y6"},
	{"spaces", "correct horse battery staple", "$y$j9T$Aj7ES3//G50hRhTyOLbPv1$FwnkfLvBI3mRyuKCx8uL3Yot4ycXwEc76ntLuaMBSQA"},
	{"Japanese", "パスワード", "$y$j9T$Fyw8KeRbodUFwGXSYyEsD0$lpB6e.9Xl6FRzOYe/zV4Gl9CKbmIWze/ktrRNkr5sU3"},
	// Cost 1 (N=2^10, r=8), the lowest, and 3 (N=2^10, r=32).
	{"cost 1", "x", "$y$j75$izwsMdJFaYMeF8MsFLS430$tDt7r8R8HQ8IB8t/dJieXw8X5JyDcn2t0j7g4TOmkZA"},
	{"cost 3, ':' and '$'", "a:b$c", "$y$j7T$ihsMOGoXO/.lnjapERTta0$Ai0N.7fIg.79RLeB4fDyLHee/aFSxTp38n/2I3FX9s8"},
	// Short, long and empty salts, and an empty password.
	{"empty password", "", "$y$j9T$abcd$pqskBGfYuqGBpswYbZZNQEpyakNzB0r4YPf9t4Ca/eD"},
	{"short salt", "Tr0ub4dor&3 ünïcode", "$y$j9T$abcd$RGmijSVR6QJK980OJ1U2G1Hod7Y5/FUGInmJDW4eob0"},
	{"empty salt", "pw", "$y$j9T$$35/RtcSpQnsp9pKBilplwTCR/Z6e.uNV.3aZKZzHYd6"},
	{"long salt, long password", strings.Repeat("a", 300), "$y$jAT$SomeLongerSaltOfThirtyTwoCharsXYZ0$8fD.Cz54ogZCoL58dXbIHRFpwC4RDUZ5RNWeZbJsWi5"},
}

func TestYescryptVectors(t *testing.T) {
	for i, v := range yescryptVectors {
		t.Run(v.name, func(t *testing.T) {
			// Under -race a check at the default cost takes seconds, and
			// one goroutine hashing has no race to find.
			if raceEnabled && i > 0 && crypt64Value(v.stored[len("$y$j")]) >= crypt64Value('9') {
				t.Skip("the default cost is slow under -race; the first vector has it")
			}
			assert.NoError(t, Verify(v.stored, []byte(v.password)))
			assert.NoError(t, Verify("{CRYPT}"+v.stored, []byte(v.password)))
			for _, wrong := range []string{v.password + " ", strings.ToUpper(v.password) + "?"} {
				err := Verify("{crypt}"+v.stored, []byte(wrong))
				assert.ErrorIs(t, err, ErrMismatch, "password %q", wrong)
				assertSafeError(t, err, v.stored, wrong)
			}
		})
	}
}

// A digest changed in one character does not match: the comparison covers
// the whole string.
func TestYescryptAltered(t *testing.T) {
	v := yescryptVectors[4] // cost 1: cheap
	require.True(t, strings.HasPrefix(v.stored, "$y$j75$"), v.stored)
	for i := len(v.stored) - yescryptDigestLen; i < len(v.stored); i++ {
		b := []byte(v.stored)
		b[i] = map[bool]byte{true: 'A', false: 'B'}[b[i] != 'A']
		assert.ErrorIs(t, Verify(string(b), []byte(v.password)), ErrMismatch, "digest character %d", i)
	}
	// A changed salt or cost is another hash.
	for _, stored := range []string{
		strings.Replace(v.stored, "$izwsMdJF", "$izwsMdJE", 1),
		strings.Replace(v.stored, "$j75$", "$j85$", 1),
		strings.Replace(v.stored, "$j75$", "$j74$", 1),
	} {
		assert.ErrorIs(t, Verify(stored, []byte(v.password)), ErrMismatch, stored)
	}
}

func TestYescryptRefused(t *testing.T) {
	const digest = "Fkfut7EWtKVyoYrZoC0YUpOxxnCcoH..oymHosS6gP/"
	tests := []struct {
		name, stored string
		want         error
	}{
		{"no fields", "$y$", ErrMalformedHash},
		{"setting only", "$y$j9T$TwpDOFHkqTS/bXXLfp17X1", ErrMalformedHash},
		{"setting and $", "$y$j9T$TwpDOFHkqTS/bXXLfp17X1$", ErrMalformedHash},
		{"extra field", "$y$j9T$TwpDOFHkqTS/bXXLfp17X1$" + digest + "$", ErrMalformedHash},
		{"empty parameters", "$y$$TwpDOFHkqTS/bXXLfp17X1$" + digest, ErrMalformedHash},
		{"parameters not base64", "$y$j9!$TwpDOFHkqTS/bXXLfp17X1$" + digest, ErrMalformedHash},
		{"digest of 42", "$y$j9T$TwpDOFHkqTS/bXXLfp17X1$" + digest[1:], ErrMalformedHash},
		{"digest of 44", "$y$j9T$TwpDOFHkqTS/bXXLfp17X1$" + digest + "A", ErrMalformedHash},
		{"digest not base64", "$y$j9T$TwpDOFHkqTS/bXXLfp17X1$" + digest[1:] + "!", ErrMalformedHash},
		{"salt not base64", "$y$j9T$TwpDOFHk-qTS/bXXLfp17X1$" + digest, ErrMalformedHash},
		// libxcrypt refuses these too ("*0"): leftover bits that are not zero.
		{"salt of one character", "$y$j9T$a$" + digest, ErrMalformedHash},
		{"salt of three characters", "$y$j9T$abc$" + digest, ErrMalformedHash},
		{"salt over 64 bytes", "$y$j9T$" + strings.Repeat("A", 87) + "$" + digest, ErrMalformedHash},
		// Cost 9 (N=2^16, 256 MiB) to 11 (N=2^18, 1 GiB): above the limit.
		{"cost 9", "$y$jDT$TwpDOFHkqTS/bXXLfp17X1$" + digest, ErrMalformedHash},
		{"cost 11", "$y$jFT$TwpDOFHkqTS/bXXLfp17X1$" + digest, ErrMalformedHash},
		// Valid yescrypt that libxcrypt reads but never makes.
		{"N=2^8", "$y$j5T$TwpDOFHkqTS/bXXLfp17X1$" + digest, ErrUnknownScheme},
		{"N=2^19", "$y$jGT$TwpDOFHkqTS/bXXLfp17X1$" + digest, ErrUnknownScheme},
		{"r=33", "$y$j9U$TwpDOFHkqTS/bXXLfp17X1$" + digest, ErrUnknownScheme},
		{"other flags", "$y$k9T$TwpDOFHkqTS/bXXLfp17X1$" + digest, ErrUnknownScheme},
		{"extended parameters", "$y$j9T.$TwpDOFHkqTS/bXXLfp17X1$" + digest, ErrUnknownScheme},
		{"gost-yescrypt", "$gy$j9T$abcd$eNx5Ts/33O7c0szGVRoZ9FC5cuK11v8Hgb3mQmq02S1", ErrUnknownScheme},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = Verify(tc.stored, []byte("secret")) })
			assert.ErrorIs(t, err, tc.want)
			assertSafeError(t, err, tc.stored, "secret")
			assert.ErrorIs(t, CheckHash(tc.stored), tc.want)
		})
	}
}

// The limit is on memory, so that it can be raised for a site whose
// hashes cost more than libxcrypt's cost 8.
func TestYescryptLimit(t *testing.T) {
	saved := limits
	t.Cleanup(func() { limits = saved })
	v := yescryptVectors[0] // N=2^12, r=32: 16 MiB
	limits.yescryptMemory = 16<<20 - 1
	err := Verify(v.stored, []byte(v.password))
	assert.ErrorIs(t, err, ErrMalformedHash)
	assert.EqualError(t, err, "passwd: malformed password hash (CRYPT: yescrypt N=2^12 and r=32 take 16 MiB, above this package's limit of 15 MiB)")
	limits.yescryptMemory = 16 << 20
	assert.NoError(t, Verify(v.stored, []byte(v.password)))
}

func TestCrypt64Value(t *testing.T) {
	const alphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for i := 0; i < len(alphabet); i++ {
		assert.Equal(t, i, crypt64Value(alphabet[i]), "%c", alphabet[i])
	}
}

func BenchmarkVerifyYescrypt(b *testing.B) {
	v := yescryptVectors[0] // Debian's default cost
	for b.Loop() {
		if err := Verify(v.stored, []byte(v.password)); err != nil {
			b.Fatal(err)
		}
	}
}
