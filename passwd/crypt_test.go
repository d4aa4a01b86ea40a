package passwd

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/GehirnInc/crypt/sha256_crypt"
	"github.com/GehirnInc/crypt/sha512_crypt"
	"github.com/gopop3/pop3/internal/testprog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shaCryptVectors are the test vectors of Ulrich Drepper's specification,
// https://www.akkadia.org/drepper/SHA-crypt.txt, as setting (the salt
// argument of crypt) and result; glibc's crypt() gives the same results.
var shaCryptVectors = []struct{ password, setting, want string }{
	{"Hello world!", "$5$saltstring",
		"$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"},
	{"Hello world!", "$5$rounds=10000$saltstringsaltstring",
		"$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"},
	{"This is just a test", "$5$rounds=5000$toolongsaltstring",
		"$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5"},
	{"a very much longer text to encrypt.  This one even stretches over morethan one line.", "$5$rounds=1400$anotherlongsaltstring",
		"$5$rounds=1400$anotherlongsalts$Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1"},
	{"we have a short salt string but not a short password", "$5$rounds=77777$short",
		"$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/"},
	{"a short string", "$5$rounds=123456$asaltof16chars..",
		"$5$rounds=123456$asaltof16chars..$gP3VQ/6X7UUEW3HkBn2w1/Ptq2jxPyzV/cZKmF/wJvD"},
	{"the minimum number is still observed", "$5$rounds=10$roundstoolow",
		"$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC"},
	{"Hello world!", "$6$saltstring",
		"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
	{"Hello world!", "$6$rounds=10000$saltstringsaltstring",
		"$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
	{"This is just a test", "$6$rounds=5000$toolongsaltstring",
		"$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0"},
	{"a very much longer text to encrypt.  This one even stretches over morethan one line.", "$6$rounds=1400$anotherlongsaltstring",
		"$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1"},
	{"we have a short salt string but not a short password", "$6$rounds=77777$short",
		"$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0"},
	{"a short string", "$6$rounds=123456$asaltof16chars..",
		"$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1"},
	{"the minimum number is still observed", "$6$rounds=10$roundstoolow",
		"$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX."},
}

// otherCryptVectors are known crypt(3) results from elsewhere, each checked
// against glibc's crypt() as well.
var otherCryptVectors = []struct{ password, stored string }{
	// MD5-crypt: FreeBSD's md5crypt as in glibc; the second salt is truncated to 8.
	{"password", "$1$3azHgidD$SrJPt7B.9rekpmwJwtON31"},
	{"Hello world!", "$1$toolongs$EVlrXgIzSyVBiscgwJ6jL0"},
	// An empty password and an empty salt (John the Ripper's tests, passlib's).
	{"", "$6$ojWH1AiTee9x1peC$QVEnTvRVlPRhcLQCk/HnHaZmlGAAjCfrAN0FtOsOnUk5K5Bn/9eLHHiRzrTzaIKjW9NTLNIBUCtNVOowWS2mN."},
	{"test1234", "$6$$XHu9fB3LkQSyG0r.FKxZjQlfe/lTi.Vq4qY0fCfJmN0JrDiG8Lv9eYhLuMlnTXFVcSbW/0hPyeKsVpjsk66qo."},
	// bcrypt, OpenBSD's test vector, under the three prefixes of the same algorithm.
	{"U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"},
	{"U*U", "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"},
	{"U*U", "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"},
}

func TestSHACryptVectors(t *testing.T) {
	for _, v := range shaCryptVectors {
		t.Run(v.setting, func(t *testing.T) {
			for _, stored := range []string{v.want, "{CRYPT}" + v.want, "{SHA512-CRYPT}" + v.want, "{sha256-crypt}" + v.want} {
				assert.NoError(t, Verify(stored, []byte(v.password)), stored)
				assert.ErrorIs(t, Verify(stored, []byte(v.password+"x")), ErrMismatch, stored)
			}

			// The crypter makes the spec's result from the spec's setting.
			c := sha256_crypt.New()
			if strings.HasPrefix(v.setting, "$6$") {
				c = sha512_crypt.New()
			}
			got, err := c.Generate([]byte(v.password), []byte(v.setting))
			require.NoError(t, err)
			assert.Equal(t, v.want, got)
		})
	}
}

// The crypters' own Verify reads "$5$rounds=N$salt$digest" with a salt
// under 16 characters wrongly and never matches; Verify must not use it.
func TestSHACryptShortSaltWithRounds(t *testing.T) {
	for _, v := range shaCryptVectors {
		if !strings.Contains(v.want, "short$") && !strings.Contains(v.want, "roundstoolow$") {
			continue
		}
		assert.NoError(t, Verify(v.want, []byte(v.password)), v.want)
		c := sha256_crypt.New()
		if strings.HasPrefix(v.want, "$6$") {
			c = sha512_crypt.New()
		}
		assert.Error(t, c.Verify(v.want, []byte(v.password)),
			"the crypter's Verify was fixed: %s (compareCrypt's comment is stale)", v.want)
	}
}

func TestOtherCryptVectors(t *testing.T) {
	for _, v := range otherCryptVectors {
		t.Run(v.stored, func(t *testing.T) {
			assert.NoError(t, Verify(v.stored, []byte(v.password)))
			assert.NoError(t, Verify("{CRYPT}"+v.stored, []byte(v.password)))
			assert.ErrorIs(t, Verify(v.stored, []byte(v.password+"x")), ErrMismatch)
		})
	}
}

func TestCryptMalformed(t *testing.T) {
	for _, stored := range []string{
		// Spec settings: crypt(3) makes "rounds=1000" of rounds=10, so a
		// stored rounds=10 can never match.
		"$5$rounds=10$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC",
		"$5$rounds=05000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5",
		"$5$rounds=+5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5",
		"$5$rounds=$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5",
		"$5$rounds=5000$toolongsaltstring$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5", // salt of 17
		"$5$rounds=999999999$salt$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5",         // above the limit
		"$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc",                     // digest of 42
		"$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5$",
		"$5$saltstring",
		"$6$",
		"$1$3azHgidD$SrJPt7B.9rekpmwJwtON3",
		"$1$3azHgidDx$SrJPt7B.9rekpmwJwtON31",
		"$1$3azHgidD",
		"$1$3azHgidD$SrJPt7B.9rekpmwJwtON31$",
		"$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",   // 59 characters
		"$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW.", // 61
		"$2y$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",  // below bcrypt's minimum
		"$2y$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",  // hours: above the limit
		"$2y$19$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"$2y$+5$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"$2y$5a$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe!",
		"$2y$05_CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
	} {
		err := Verify(stored, []byte("the minimum number is still observed"))
		assert.ErrorIs(t, err, ErrMalformedHash, stored)
	}
}

func TestGenerateBcrypt(t *testing.T) {
	h, err := generateBcrypt([]byte("secret"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(h), "$2y$05$"), string(h))
	assert.Len(t, h, 60)
	_, err = generateBcrypt([]byte(strings.Repeat("x", 73)))
	assert.Error(t, err)
}

// Fresh hashes from the system's crypt (libxcrypt, through mkpasswd of
// Debian's whois package), at its default costs, in the methods that
// /etc/shadow holds: yescrypt (Debian's default since Debian 11),
// SHA512-crypt, SHA256-crypt and MD5-crypt.
func TestVerifyMkpasswd(t *testing.T) {
	mkpasswd := testprog.Require(t, "mkpasswd", "whois")
	methods := []struct{ method, prefix string }{
		{"yescrypt", "$y$j9T$"},
		{"sha512crypt", "$6$"},
		{"sha256crypt", "$5$"},
		{"md5crypt", "$1$"},
	}
	passwords := []string{"secret", "Tr0ub4dor&3 ünïcode", "パスワード", "with:colon $dollar\\back"}
	if raceEnabled {
		passwords = passwords[1:2] // yescrypt takes seconds under -race
	}
	for _, m := range methods {
		for _, password := range passwords {
			t.Run(m.method+"/"+password, func(t *testing.T) {
				// -s reads the password from a line of standard input,
				// which keeps it out of the process list.
				cmd := exec.Command(mkpasswd, "-m", m.method, "-s")
				cmd.Stdin = strings.NewReader(password + "\n")
				out, err := cmd.Output()
				require.NoError(t, err)
				stored := strings.TrimSuffix(string(out), "\n")
				require.True(t, strings.HasPrefix(stored, m.prefix), stored)

				assert.NoError(t, Verify(stored, []byte(password)), stored)
				assert.NoError(t, Verify("{CRYPT}"+stored, []byte(password)), stored)
				err = Verify(stored, []byte(password+"x"))
				assert.ErrorIs(t, err, ErrMismatch, stored)
				assertSafeError(t, err, stored, password)
			})
		}
	}
}
