package pop3_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Importers of the library download none of the commands' operational
// dependencies, nor the database drivers (pgx, MySQL, SQLite, LDAP): those
// are in the cmd, postgres, sqldb and ldapdb modules, so they are not even
// in the library module's graph.
func TestLibraryDependencies(t *testing.T) {
	cmd := exec.Command("go", "list", "-m", "all")
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	forbidden := []string{
		"github.com/prometheus/", "github.com/coreos/go-systemd", "github.com/pires/go-proxyproto",
		"github.com/jackc/", "github.com/emersion/go-smtp",
		"github.com/go-sql-driver/", "modernc.org/", "github.com/go-ldap/", "github.com/go-asn1-ber/",
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		for _, f := range forbidden {
			assert.False(t, strings.HasPrefix(line, f), "the library module requires %s", line)
		}
	}
}
