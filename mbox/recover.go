package mbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Recover finishes the updates that a crash of the server interrupted in
// the spool directory of the template (such as /var/mail for
// "/var/mail/%u"): each spool that has a ".SPOOL.pop3d-update" beside it
// is brought to its new content, under its locks, as the next session or
// delivery would, with the mail delivered since kept. Call it at start-up
// (pop3d does) so that mail readers and delivery agents, which do not know
// these files, do not meet a spool half rewritten for longer than the
// server's restart. It returns how many it finished and the errors of
// those it could not. A template whose directory is not fixed ("%h/mbox",
// "/var/mail/%d/%n") has nothing to scan: its spools are finished by
// their next session or delivery.
func (b *Backend) Recover(ctx context.Context) (int, error) {
	dir := filepath.Dir(b.template.String())
	if strings.Contains(dir, "%") || !filepath.IsAbs(dir) {
		return 0, nil // the spools are not all in one directory
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("mbox: reading %s: %w", dir, err)
	}
	var errs []error
	done := 0
	for _, e := range entries {
		name := e.Name()
		spool, ok := strings.CutSuffix(strings.TrimPrefix(name, "."), ".pop3d-update")
		if !ok || !strings.HasPrefix(name, ".") || spool == "" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return done, err
		}
		path := filepath.Join(dir, spool)
		if err := b.recoverSpool(ctx, path); err != nil {
			errs = append(errs, err)
			continue
		}
		done++
	}
	return done, errors.Join(errs...)
}

// recoverSpool finishes the interrupted update of the spool at path.
func (b *Backend) recoverSpool(ctx context.Context, path string) error {
	ctx, cancel := b.lockContext(ctx)
	defer cancel()
	lock, err := takeDotlock(ctx, path)
	if err != nil {
		return err
	}
	defer lock.releaseLogged(b.logger)
	f, err := openSpool(path, os.O_RDWR)
	if err != nil {
		return fmt.Errorf("mbox: opening %s: %w", path, err)
	}
	defer f.Close()
	if err := fcntlLock(ctx, f, true); err != nil {
		return err
	}
	defer fcntlUnlock(f)
	return b.finishUpdate(f, path, lock, "")
}

// finishUpdate finishes an interrupted update of the spool f at path, if
// there is one, under the dotlock and the fcntl write lock the caller
// holds, and logs it.
func (b *Backend) finishUpdate(f *os.File, path string, lock *dotlock, user string) error {
	ok, err := recoverUpdate(f, path, lock)
	if ok && err == nil {
		b.logger.Warn("mbox: finished an update of the spool that a crash had interrupted", "user", user, "spool", path)
	}
	return err
}
