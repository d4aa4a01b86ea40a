package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// commitTimeout bounds a COMMIT, which runs even when the caller's context
// has ended.
const commitTimeout = 30 * time.Second

// inTx runs fn in a transaction and commits it when fn returns nil. The
// caller's ctx governs the work, not the COMMIT: a COMMIT cancelled half
// way may still take effect, and the caller would then report as failed a
// delivery that is stored (and delivered again when the MTA retries) or a
// deletion that happened. Once fn has succeeded, the commit is finished
// with a context of its own.
func inTx(ctx context.Context, pool *pgxpool.Pool, fn func(tx pgx.Tx) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { // a no-op after Commit
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
		defer cancel()
		_ = tx.Rollback(rctx)
	}()
	if err := fn(tx); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	return tx.Commit(cctx)
}
