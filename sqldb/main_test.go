package sqldb_test

import (
	"os"
	"testing"

	"github.com/gopop3/pop3/internal/mariadbtest"
	"github.com/gopop3/pop3/internal/pgtest"
	"github.com/gopop3/pop3/internal/testprog"
)

// TestMain stops the PostgreSQL and MariaDB servers the tests started.
func TestMain(m *testing.M) { os.Exit(testprog.RunThenStop(m, pgtest.Stop, mariadbtest.Stop)) }
