//go:build !unix

package mbox

import (
	"context"
	"errors"
	"os"
)

// Unix mail spools need flock and fcntl: elsewhere the store cannot lock
// them, and refuses to open them.

func lockSession(*os.File) error                      { return errors.ErrUnsupported }
func fcntlLock(context.Context, *os.File, bool) error { return errors.ErrUnsupported }
func fcntlUnlock(*os.File) error                      { return errors.ErrUnsupported }
func processExists(int) bool                          { return true }
func chown(*os.File, int, int)                        {}

func linkCount(os.FileInfo) uint64 { return 0 }

const noFollow = 0
