// Package testprog finds the real programs that tests run (POP3 clients,
// Dovecot, doveadm): a test without one skips, naming the Debian packages
// that have it, except under CI=true, where a missing program is a failure,
// since CI installs them all.
package testprog

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Require returns the path of program, or skips (fails under CI=true) the
// test, saying which Debian packages to install.
func Require(tb testing.TB, program, debianPackages string) string {
	tb.Helper()
	path, err := exec.LookPath(program)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s not found (%v): install the Debian packages %s (apt-get install -y %s)",
		program, err, debianPackages, debianPackages)
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return ""
}

// RunThenStop runs the tests of a package, then each stop (the servers
// that pgtest, mariadbtest and the like started for them), and returns the
// exit code: a stop that fails makes it 1, since a server left running is
// a leak worth failing for. Use:
//
//	func TestMain(m *testing.M) { os.Exit(testprog.RunThenStop(m, pgtest.Stop, mariadbtest.Stop)) }
func RunThenStop(m *testing.M, stops ...func() error) int {
	code := m.Run()
	for _, stop := range stops {
		if err := stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = max(code, 1)
		}
	}
	return code
}
