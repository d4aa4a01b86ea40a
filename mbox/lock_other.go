//go:build !linux

package mbox

import (
	"context"
	"errors"
	"os"
)

// The store locks spools as Linux's mail programs do: a flock for the
// session, which does not interact with their fcntl locks there (it does
// on the BSDs), and open file description locks (F_OFD_SETLK), which
// Linux alone has. Elsewhere it refuses to open a spool.

func lockSession(*os.File) error                      { return errors.ErrUnsupported }
func fcntlLock(context.Context, *os.File, bool) error { return errors.ErrUnsupported }
func fcntlUnlock(*os.File) error                      { return errors.ErrUnsupported }
func processExists(int) bool                          { return true }
func chown(*os.File, int, int)                        {}

func linkCount(os.FileInfo) uint64 { return 0 }

const noFollow = 0
