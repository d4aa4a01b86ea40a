package interop

import (
	"os"
	"testing"

	"github.com/gopop3/pop3/internal/pgtest"
)

// TestMain stops the PostgreSQL that the cluster tests started.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
