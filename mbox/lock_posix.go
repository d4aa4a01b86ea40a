//go:build unix && !linux

package mbox

import "golang.org/x/sys/unix"

// setLockCmd is the classic POSIX record lock where open file description
// locks are missing.
const setLockCmd = unix.F_SETLK
