package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/runtime/store"
)

// wall times the commits (for metrics, not for any rule).
var wall clock.Clock = clock.Real{}

func (c *committer) stats() store.CommitStats {
	return store.CommitStats{Commits: c.commits.Load(), Writes: c.writes.Load(), CommitTime: time.Duration(c.commitTime.Load())}
}

// txFunc is one unit of work inside a write transaction. It must use only
// tx, and ctx for its statements, and it may be run twice in a batch (see
// runPlain): what it keeps outside the transaction (its results) is set
// afresh on each run.
type txFunc func(ctx context.Context, tx *sql.Tx) error

// ErrClosed is returned by a write on a closed store.
var ErrClosed = errors.New("store: closed")

// committer is group commit (STYLE.md section 9): one goroutine owns the
// write connection, takes every write that is waiting, runs them in one
// transaction and commits once, then releases each caller with its own
// result. With synchronous=FULL a commit costs an fsync, so
// this turns N fsyncs into one while every write is still durable before
// its caller returns.
//
// Each write stays atomic on its own: when one fails, the batch is run
// again with a savepoint per write (runPlain), the failed write is rolled
// back to its savepoint and does not affect the others; if the commit itself fails,
// every write of the batch reports that error (none of them is stored).
type committer struct {
	db       *sql.DB
	maxBatch int
	gap      time.Duration // Config.CommitGap
	// Owned by loop: when the last commit started, and whether its batch
	// had more than one write.
	last   time.Time
	shared bool
	// afterCommit, if set, runs on the writer after each commit, before
	// the writes' own after funcs (deliveryTail.afterCommit).
	afterCommit func(db *sql.DB)
	ops         chan *op
	quit        chan struct{}
	done        chan struct{}
	stopOnce    sync.Once

	// What the writer has done, for store.CommitStats.
	commits, writes atomic.Uint64
	commitTime      atomic.Int64 // nanoseconds
}

type op struct {
	ctx context.Context
	fn  txFunc
	// after, if set, runs on the writer once fn's work is committed, in
	// the order of the writes, before the caller is released.
	after func()
	err   error
	done  chan struct{}
}

func newCommitter(db *sql.DB, maxBatch int, gap time.Duration) *committer {
	if maxBatch <= 0 {
		maxBatch = 256
	}
	c := &committer{
		db:       db,
		maxBatch: maxBatch,
		gap:      gap,
		ops:      make(chan *op),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go c.loop()
	return c
}

// queue puts fn in the next batch, after every write queued before it, and
// returns a wait for its outcome (see do).
func (c *committer) queue(ctx context.Context, fn txFunc) func() error {
	o := &op{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case c.ops <- o:
	case <-c.quit:
		return func() error { return ErrClosed }
	case <-ctx.Done():
		err := ctx.Err()
		return func() error { return err }
	}
	return func() error {
		<-o.done
		return o.err
	}
}

// do runs fn in the next batch and waits for its commit. Once the writer
// has taken fn, do waits for the outcome whatever ctx does, so the error it
// returns is the truth about what was stored; a caller whose ctx ends
// before the writer reaches its write gets ctx.Err() and nothing is stored.
func (c *committer) do(ctx context.Context, fn txFunc, after func()) error {
	o := &op{ctx: ctx, fn: fn, after: after, done: make(chan struct{})}
	select {
	case c.ops <- o:
	case <-c.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	<-o.done
	return o.err
}

// stop ends the writer after the batch in progress; later writes get
// ErrClosed.
func (c *committer) stop() {
	c.stopOnce.Do(func() { close(c.quit) })
	<-c.done
}

func (c *committer) loop() {
	defer close(c.done)
	batch := make([]*op, 0, c.maxBatch)
	var gather *time.Timer // the gap's timer, made once
	for {
		select {
		case o := <-c.ops:
			batch = append(batch[:0], o)
		case <-c.quit:
			return
		}
		// Writes from several callers at once: gather until the gap since
		// the last commit has passed. Each commit costs an fsync and the
		// pages it touches, whatever its size: at 2,000 requests a second
		// (about 4,500 writes) commits came 1,200 times a second with 3.7
		// writes each.
		if wait := c.gap - wall.Now().Sub(c.last); c.shared && wait > 0 {
			if gather == nil {
				gather = time.NewTimer(wait)
			} else {
				gather.Reset(wait)
			}
		gap:
			for len(batch) < c.maxBatch {
				select {
				case o := <-c.ops:
					batch = append(batch, o)
				case <-gather.C:
					break gap
				case <-c.quit:
					break gap // the writes taken are still run
				}
			}
			gather.Stop()
		}
		// Before the batch is taken, the goroutines about to queue a
		// write get the processor once: under load they are runnable but
		// not yet queued, and waiting for them made a closed-loop batch
		// 35 writes instead of 7, sharing a commit's fixed cost (+11%
		// requests a second). Idle, nothing else runs and it returns at
		// once.
		runtime.Gosched()
	more:
		for len(batch) < c.maxBatch {
			select {
			case o := <-c.ops:
				batch = append(batch, o)
			default:
				break more
			}
		}
		c.last, c.shared = wall.Now(), len(batch) > 1
		c.run(batch)
		for i := range batch {
			batch[i] = nil
		}
	}
}

func (c *committer) run(batch []*op) {
	live, release := takeLive(batch, func(o *op) (context.Context, *error, chan struct{}) { return o.ctx, &o.err, o.done })
	defer release()
	if len(live) == 0 {
		return
	}
	start := wall.Now()
	defer func() {
		c.commits.Add(1)
		c.writes.Add(uint64(len(live)))
		c.commitTime.Add(int64(wall.Now().Sub(start)))
	}()
	if c.runPlain(live) {
		c.committed(live)
		return
	}
	// Statements run without the callers' cancellation: interrupting one
	// statement could roll back the whole shared transaction.
	bg := context.Background()
	tx, err := c.db.BeginTx(bg, nil)
	if err != nil {
		failAll(live, err)
		return
	}
	for _, o := range live {
		if _, err := tx.ExecContext(bg, "SAVEPOINT w"); err != nil {
			abort(tx, live, err)
			return
		}
		if o.err = o.fn(context.WithoutCancel(o.ctx), tx); o.err != nil {
			if _, err := tx.ExecContext(bg, "ROLLBACK TO SAVEPOINT w"); err != nil {
				abort(tx, live, fmt.Errorf("store: rolling back a failed write: %w (after %w)", err, o.err))
				return
			}
		}
		if _, err := tx.ExecContext(bg, "RELEASE SAVEPOINT w"); err != nil {
			abort(tx, live, err)
			return
		}
	}
	if err := tx.Commit(); err != nil {
		failAll(live, err)
		return
	}
	c.committed(live)
}

// takeLive ends each write of a batch whose caller has gone (its context
// ended) with that error, and returns the others with a func that releases
// their callers once their outcome is set. parts gives a write's context,
// error and done channel.
func takeLive[T any](batch []T, parts func(T) (context.Context, *error, chan struct{})) ([]T, func()) {
	live := batch[:0:0]
	for _, w := range batch {
		ctx, errp, done := parts(w)
		if err := ctx.Err(); err != nil {
			*errp = err
			close(done)
			continue
		}
		live = append(live, w)
	}
	return live, func() {
		for _, w := range live {
			_, _, done := parts(w)
			close(done)
		}
	}
}

// committed runs the hooks of a batch whose commit was tried: nothing if
// it failed (every write then has an error).
func (c *committer) committed(live []*op) {
	ok := false
	for _, o := range live {
		ok = ok || o.err == nil
	}
	if !ok {
		return
	}
	if c.afterCommit != nil {
		c.afterCommit(c.db)
	}
	for _, o := range live {
		if o.err == nil && o.after != nil {
			o.after()
		}
	}
}

// runPlain runs the batch's writes one after another in one transaction,
// without a savepoint each (two statements a write: a fifth of the
// writer's time in BenchmarkRequestLifecycle), and commits. It reports
// false, having rolled everything back and set no outcome, if a write
// failed (with more than one write): run then takes the batch again with a
// savepoint per write, so that the failure stays that write's own. A
// write may thus run twice; its effects outside the transaction must be
// only its results, set again by the second run.
func (c *committer) runPlain(live []*op) bool {
	tx, err := c.db.BeginTx(context.Background(), nil)
	if err != nil {
		failAll(live, err)
		return true
	}
	for _, o := range live {
		if err := o.fn(context.WithoutCancel(o.ctx), tx); err != nil {
			_ = tx.Rollback()
			if len(live) == 1 {
				o.err = err
				return true
			}
			return false
		}
	}
	failAll(live, tx.Commit())
	return true
}

// abort rolls the batch back: writes that had succeeded report err.
func abort(tx *sql.Tx, ops []*op, err error) {
	_ = tx.Rollback()
	failAll(ops, err)
}

// failAll gives err to every write that has no error of its own.
func failAll(ops []*op, err error) {
	for _, o := range ops {
		if o.err == nil {
			o.err = err
		}
	}
}
