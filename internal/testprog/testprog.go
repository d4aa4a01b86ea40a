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
