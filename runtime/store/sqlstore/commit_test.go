package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

func memDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE t (k INTEGER PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	return db
}

func insert(keys ...int) txFunc {
	return func(ctx context.Context, tx *sql.Tx) error {
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, "INSERT INTO t (k) VALUES (?)", k); err != nil {
				return err
			}
		}
		return nil
	}
}

func keys(t *testing.T, db *sql.DB) []int {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "SELECT k FROM t ORDER BY k")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var k int
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

// TestBatch runs one batch by hand: each write is atomic on its own, a
// failed one leaves no trace, a cancelled one does not run.
func TestBatch(t *testing.T) {
	db := memDB(t)
	c := &committer{db: db}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	boom := errors.New("boom")
	ops := []*op{
		{ctx: t.Context(), fn: insert(1)},
		{ctx: t.Context(), fn: insert(2, 1)}, // 2 then a duplicate: 2 must go too
		{ctx: t.Context(), fn: insert(3)},
		{ctx: cancelled, fn: insert(4)},
		{ctx: t.Context(), fn: func(ctx context.Context, tx *sql.Tx) error {
			if err := insert(5)(ctx, tx); err != nil {
				return err
			}
			return boom
		}},
		{ctx: t.Context(), fn: insert(6)},
	}
	for _, o := range ops {
		o.done = make(chan struct{})
	}
	c.run(ops)
	for i, o := range ops {
		select {
		case <-o.done:
		default:
			t.Fatalf("op %d not released", i)
		}
	}
	if ops[0].err != nil || ops[2].err != nil || ops[5].err != nil {
		t.Fatalf("good writes failed: %v %v %v", ops[0].err, ops[2].err, ops[5].err)
	}
	if ops[1].err == nil || !errors.Is(ops[3].err, context.Canceled) || !errors.Is(ops[4].err, boom) {
		t.Fatalf("bad writes: %v %v %v", ops[1].err, ops[3].err, ops[4].err)
	}
	if got := keys(t, db); !slices.Equal(got, []int{1, 3, 6}) {
		t.Fatalf("rows %v, want [1 3 6]", got)
	}
}

// TestBatchRunsAgainOnFailure: a batch whose writes all succeed is one
// transaction, each write run once; with a failure the batch is run again
// with a savepoint each, and a good write's results are those of its
// second run, its rows stored once.
func TestBatchRunsAgainOnFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail bool
		runs int
		rows []int
	}{
		{"all good", false, 1, []int{1, 2}},
		{"one fails", true, 2, []int{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := memDB(t)
			c := &committer{db: db}
			runs := 0
			var seen int // a result the write sets: its last run's
			counted := func(ctx context.Context, tx *sql.Tx) error {
				runs++
				if err := insert(2)(ctx, tx); err != nil {
					return err
				}
				return tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&seen)
			}
			ops := []*op{{ctx: t.Context(), fn: insert(1)}, {ctx: t.Context(), fn: counted}}
			if tc.fail {
				ops = append(ops, &op{ctx: t.Context(), fn: insert(1)})
			}
			for _, o := range ops {
				o.done = make(chan struct{})
			}
			c.run(ops)
			if ops[0].err != nil || ops[1].err != nil || tc.fail && ops[2].err == nil {
				t.Fatalf("outcomes %v %v", ops[0].err, ops[1].err)
			}
			if runs != tc.runs || seen != 2 {
				t.Fatalf("the write ran %d times and saw %d rows, want %d and 2", runs, seen, tc.runs)
			}
			if got := keys(t, db); !slices.Equal(got, tc.rows) {
				t.Fatalf("rows %v, want %v", got, tc.rows)
			}
		})
	}
}

// TestCommitter runs concurrent writes through the goroutine and stops it.
func TestCommitter(t *testing.T) {
	db := memDB(t)
	c := newCommitter(db, 4, 0)
	errs := make(chan error, 40)
	for i := range 40 {
		go func() { errs <- c.do(t.Context(), insert(i%20), nil) }()
	}
	failed := 0
	for range 40 {
		if err := <-errs; err != nil {
			failed++
		}
	}
	if got := keys(t, db); len(got) != 20 || failed != 20 {
		t.Fatalf("%d rows and %d failures, want 20 and 20", len(got), failed)
	}
	c.stop()
	c.stop()
	if err := c.do(t.Context(), insert(99), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after stop: %v", err)
	}
}

// TestCommitGap: while writes come from several callers, the writer
// gathers until the gap has passed (here an hour: until a batch is full);
// a lone writer is never held.
func TestCommitGap(t *testing.T) {
	t.Run("a lone writer", func(t *testing.T) {
		db := memDB(t)
		c := newCommitter(db, 4, time.Hour)
		t.Cleanup(c.stop)
		done := make(chan error, 1)
		go func() {
			for k := range 20 {
				if err := c.do(t.Context(), insert(k), nil); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second): // a deadline for a bug, not a timing
			t.Fatal("20 writes one after another were held: a lone writer waited for the gap")
		}
	})
	t.Run("several writers", func(t *testing.T) {
		db := memDB(t)
		// As after a batch of two: writes come from several callers.
		c := &committer{db: db, maxBatch: 4, gap: time.Hour, last: time.Now(), shared: true,
			ops: make(chan *op), quit: make(chan struct{}), done: make(chan struct{})}
		go c.loop()
		t.Cleanup(c.stop)
		var waits []func() error
		for k := 1; k <= 3; k++ {
			waits = append(waits, c.queue(t.Context(), insert(k))) // returns once the writer has it
		}
		if got := keys(t, db); len(got) != 0 {
			t.Fatalf("rows %v: the writer committed before the gap or a full batch", got)
		}
		waits = append(waits, c.queue(t.Context(), insert(4))) // the fourth: the batch is full
		for _, w := range waits {
			must(t, w())
		}
		if got := keys(t, db); !slices.Equal(got, []int{1, 2, 3, 4}) {
			t.Fatalf("rows %v", got)
		}
		// The gap counts from the last commit's start: one long past is
		// no reason to wait.
		c2 := &committer{db: memDB(t), maxBatch: 4, gap: time.Hour, last: time.Now().Add(-2 * time.Hour), shared: true,
			ops: make(chan *op), quit: make(chan struct{}), done: make(chan struct{})}
		go c2.loop()
		t.Cleanup(c2.stop)
		must(t, c2.do(t.Context(), insert(1), nil))
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
