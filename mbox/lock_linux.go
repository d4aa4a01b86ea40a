package mbox

import "golang.org/x/sys/unix"

// setLockCmd is Linux's open file description lock (F_OFD_SETLK).
const setLockCmd = unix.F_OFD_SETLK
