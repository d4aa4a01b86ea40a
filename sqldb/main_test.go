package sqldb_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/gopop3/pop3/internal/mariadbtest"
	"github.com/gopop3/pop3/internal/pgtest"
)

// TestMain stops the PostgreSQL and MariaDB servers the tests started.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, stop := range []func() error{pgtest.Stop, mariadbtest.Stop} {
		if err := stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}
