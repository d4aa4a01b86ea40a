package passwd_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/passwd"
)

func TestCheckHash(t *testing.T) {
	good, err := passwd.Hash("SHA512-CRYPT", []byte("pw"))
	require.NoError(t, err)
	for _, tc := range []struct {
		name, hash string
		want       error
	}{
		{"SHA512-CRYPT", good, nil},
		{"PLAIN", "{PLAIN}secret", nil},
		{"unknown scheme", "{NOSUCH}xyz", passwd.ErrUnknownScheme},
		{"malformed", "{SHA512-CRYPT}$6$broken", passwd.ErrMalformedHash},
		{"empty", "{PLAIN}", passwd.ErrMalformedHash},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := passwd.CheckHash(tc.hash)
			if tc.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.want)
			}
		})
	}
}

// VerifyUnknownUser costs what checking a wrong password against a
// BLF-CRYPT hash of the default cost does, or timing would tell unknown
// users apart.
func TestVerifyUnknownUser(t *testing.T) {
	h, err := passwd.Hash("BLF-CRYPT", []byte("right"))
	require.NoError(t, err)
	passwd.VerifyUnknownUser(nil) // the decoy is made on first use
	median := func(f func()) time.Duration {
		d := make([]time.Duration, 7)
		for i := range d {
			start := time.Now()
			f()
			d[i] = time.Since(start)
		}
		slices.Sort(d)
		return d[len(d)/2]
	}
	wrong := median(func() { _ = passwd.Verify(h, []byte("wrong")) })
	unknown := median(func() { passwd.VerifyUnknownUser([]byte("wrong")) })
	assert.GreaterOrEqual(t, unknown, wrong/4, "an unknown user took %v, a wrong password %v", unknown, wrong)
}

// decoySource is a DecoySource that counts the calls of DecoyHash.
type decoySource struct {
	passwd.Source
	hash  string
	calls int
}

func (d *decoySource) DecoyHash() string { d.calls++; return d.hash }

// VerifyUnknownUserOf checks against the source's decoy when it has one,
// and falls back to VerifyUnknownUser's otherwise.
func TestVerifyUnknownUserOf(t *testing.T) {
	h, err := passwd.Hash("SHA512-CRYPT", []byte("pw"))
	require.NoError(t, err)
	d := &decoySource{hash: h}
	passwd.VerifyUnknownUserOf(d, []byte("guess"))
	assert.Equal(t, 1, d.calls)
	empty := &decoySource{}
	passwd.VerifyUnknownUserOf(empty, []byte("guess"))
	assert.Equal(t, 1, empty.calls, "asked, then the default decoy")
	passwd.VerifyUnknownUserOf(nil, []byte("guess"))
}
