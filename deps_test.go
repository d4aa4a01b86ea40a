package pop3_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Importers of the library build none of pop3d's operational
// dependencies: they are in the module for cmd/pop3d alone.
func TestLibraryDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".", "./memory", "./maildir", "./passwd", "./pop3test").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, dep := range strings.Fields(string(out)) {
		for _, forbidden := range []string{"github.com/prometheus/", "github.com/coreos/go-systemd", "github.com/pires/go-proxyproto"} {
			assert.False(t, strings.HasPrefix(dep, forbidden), "the library imports %s", dep)
		}
	}
}
