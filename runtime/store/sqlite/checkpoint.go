package sqlite

import (
	"context"
	"time"

	"github.com/dccgate/dccgate/clock"
)

// In WAL mode a commit appends pages to the -wal file; a checkpoint copies
// them into the database file and syncs it. Left to SQLite, the commit
// that takes the WAL past wal_autocheckpoint pages (1000 by default) runs
// the checkpoint itself, and every write queued behind it waits while it
// copies and syncs: under load that was many times a second, on the one
// writer every request goes through. Here a connection of its own runs a
// PASSIVE checkpoint every checkpointEvery, which takes no lock a writer
// waits for, so writes go on meanwhile; a page written many times between
// two checkpoints is copied once. The writer's wal_autocheckpoint stays,
// at backstopPages, for a checkpointer that falls behind.
//
// The backstop is far above what one checkpoint interval writes, because
// a checkpoint that keeps up does not by itself shorten the WAL: SQLite
// writes the log from its start again only when a commit begins with the
// log wholly checkpointed and no reader still on frames of it, and under
// load readers usually are, so the log runs through several checkpoints
// before it restarts. At 3,000 requests a second (about 8 frames a
// request) it reached 16,000 frames every 0.6 s; at 5,000 it went past
// the former backstop of 16,384, and from there every commit checkpointed
// on the writer, a copy and a sync of the database file in front of
// every queued write (0.30 s of the writer's CPU in 15 s at 5,000/s).
// 65,536 pages is a 256 MiB log at most.
const (
	checkpointEvery = 200 * time.Millisecond
	backstopPages   = 65536
)

// wall paces the checkpoints (not a rule's time).
var wall clock.Clock = clock.Real{}

// checkpoints returns the store's Background work for the file at path.
func checkpoints(path string) func(ctx context.Context) {
	return func(ctx context.Context) {
		db := openCached(dsn(path, checkpointer))
		db.SetMaxOpenConns(1)
		defer db.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case <-wall.After(checkpointEvery):
			}
			// An error (the file busy with another process's checkpoint)
			// is left for the next round; the backstop covers a run of
			// them.
			_, _ = db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}
