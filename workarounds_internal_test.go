package pop3

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// workaroundsOf, which Serve checks Server.ClientWorkarounds with, takes
// the names in any case and names an unknown one, keeping the others.
func TestWorkaroundsOf(t *testing.T) {
	set, err := workaroundsOf(nil)
	assert.NoError(t, err)
	assert.Zero(t, set)

	set, err = workaroundsOf([]Workaround{"OE-NS-EOH"})
	assert.NoError(t, err)
	assert.True(t, set.has(WorkaroundOENSEOH))
	assert.False(t, set.has(WorkaroundOutlookNoNULs))

	set, err = workaroundsOf([]Workaround{WorkaroundOutlookNoNULs, "no-such", WorkaroundOENSEOH})
	assert.EqualError(t, err, `pop3: Server.ClientWorkarounds: unknown client workaround "no-such" (known: outlook-no-nuls, oe-ns-eoh)`)
	assert.True(t, set.has(WorkaroundOutlookNoNULs))
	assert.True(t, set.has(WorkaroundOENSEOH))
	assert.False(t, set.has("no-such"))
}
