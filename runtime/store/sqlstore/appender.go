package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// appender gathers the AppendDeliveries of a store without group commit
// (PostgreSQL) that come at once into one transaction. An append holds its
// users' locks until it commits (Dialect.DeliverySeq), and a user every
// alert goes to (a network operator) made every appender wait for the
// commit before it, one after another: one transaction of many appends
// takes that lock, and waits for a commit, once for all of them.
//
// A few batches run at once (appendWorkers), so that one waiting for a
// lock held elsewhere, or on a slow connection, does not hold up every
// append of the process; their locks are taken in one order, so they do
// not deadlock. Stopping the store cancels the batches in progress.
type appender struct {
	s      *Store
	ops    chan *appendOp
	ctx    context.Context // the batches': cancelled by stop
	cancel context.CancelFunc
	quit   chan struct{}
	wg     sync.WaitGroup
}

type appendOp struct {
	ctx     context.Context
	args    [][]any
	cursors []int64
	err     error
	done    chan struct{}
}

const (
	// maxAppendRows caps the rows of one batch.
	maxAppendRows = 1024
	// appendWorkers is how many batches may run at once.
	appendWorkers = 4
)

func newAppender(s *Store) *appender {
	ctx, cancel := context.WithCancel(context.Background())
	a := &appender{s: s, ops: make(chan *appendOp), ctx: ctx, cancel: cancel, quit: make(chan struct{})}
	for range appendWorkers {
		a.wg.Go(a.loop)
	}
	return a
}

// append appends args (as deliveryArgs encodes them) in the next batch and
// returns their cursors. Once the batch has taken them it waits for the
// outcome whatever ctx does, so the answer is the truth about what was
// stored.
func (a *appender) append(ctx context.Context, args [][]any) ([]int64, error) {
	o := &appendOp{ctx: ctx, args: args, done: make(chan struct{})}
	select {
	case a.ops <- o:
	case <-a.quit:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	<-o.done
	return o.cursors, o.err
}

// stop cancels the batches in progress and waits for them to end.
func (a *appender) stop() {
	close(a.quit)
	a.cancel()
	a.wg.Wait()
}

func (a *appender) loop() {
	for {
		var batch []*appendOp
		select {
		case o := <-a.ops:
			batch = append(batch, o)
		case <-a.quit:
			return
		}
		rows := len(batch[0].args)
	more:
		for rows < maxAppendRows {
			select {
			case o := <-a.ops:
				batch = append(batch, o)
				rows += len(o.args)
			default:
				break more
			}
		}
		a.run(batch)
	}
}

// run appends the batch in one transaction. If an append fails there,
// each is tried again in a transaction of its own, so that one append's
// failure stays its own; a failed commit is every append's (it may have
// committed: trying again could append twice).
func (a *appender) run(batch []*appendOp) {
	live, release := takeLive(batch, func(o *appendOp) (context.Context, *error, chan struct{}) { return o.ctx, &o.err, o.done })
	defer release()
	switch len(live) {
	case 0:
		return
	case 1:
		live[0].cursors, _, live[0].err = a.tx(live[0].args)
		return
	}
	var all [][]any
	for _, o := range live {
		all = append(all, o.args...)
	}
	cursors, committing, err := a.tx(all)
	switch {
	case err == nil:
		for _, o := range live {
			o.cursors, cursors = cursors[:len(o.args):len(o.args)], cursors[len(o.args):]
		}
	case committing:
		for _, o := range live {
			o.err = err
		}
	default:
		for _, o := range live {
			o.cursors, _, o.err = a.tx(o.args)
		}
	}
}

// tx appends args in a transaction of their own; committing reports that
// an error came from the commit. The statements run without the callers'
// cancellation (the batch is theirs together), until the store stops.
func (a *appender) tx(args [][]any) (cursors []int64, committing bool, err error) {
	ctx := a.ctx
	tx, err := a.s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	if cursors, err = a.s.appendDeliveries(ctx, tx, args); err != nil {
		return nil, false, errors.Join(err, rollback(tx))
	}
	if err := tx.Commit(); err != nil {
		return nil, true, err
	}
	a.s.publish(args, cursors) // a no-op: a store with a tail has group commit
	return cursors, false, nil
}

func rollback(tx *sql.Tx) error {
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}
