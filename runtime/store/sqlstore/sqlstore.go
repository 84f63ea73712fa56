// Package sqlstore implements store.Store over database/sql for the SQL
// backends (runtime/store/sqlite, runtime/store/postgres). A Dialect holds
// what differs between them; the queries are shared and written with "?"
// placeholders, rewritten to $1, $2, ... for PostgreSQL.
//
// Every conditional write is one statement, UPDATE ... WHERE id = ? AND
// state = ?, whose affected-row count decides who won, so two processes
// sharing a database can never both win.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/dccgate/dccgate/runtime/store"
)

// Dialect is what differs between the SQL backends.
type Dialect struct {
	// Name names the backend in errors ("sqlite", "postgres").
	Name string
	// Goose is the migration dialect.
	Goose goose.Dialect
	// Numbered placeholders ($1, $2, ...) instead of "?".
	Numbered bool
	// IsUnique reports whether err is the driver's unique or primary key
	// violation.
	IsUnique func(err error) bool
	// DeliverySeq, if set, is the expression that gives an appended
	// delivery its cursor. Its one argument is a []string: for the first
	// row of an append, the users appended to, sorted, each once; for the
	// others, none. For each user named it must take, and hold until
	// commit, a lock that serialises the appenders of that user's
	// deliveries, and a shared hold of the lock LockAllDeliveries takes;
	// then give the next cursor. A user's cursors then commit in cursor
	// order, so a reader of the user's stream that resumes after the last
	// cursor it saw misses nothing (a sequence alone does not give this
	// when several transactions append at once), while appenders to
	// different users do not wait for each other.
	DeliverySeq string
	// LockAllDeliveries, if set, runs in the transaction of a reading of
	// every user's deliveries (Deliveries with no user): it waits until no
	// appender holds its shared lock, so the reading sees every cursor given
	// out before it.
	LockAllDeliveries string
	// SkipLocked, if set, ends the subqueries that pick rows to reclaim
	// (" FOR UPDATE SKIP LOCKED"), so processes reclaiming at once do not
	// wait for each other.
	SkipLocked string
	// NotifyDeliveries, if set, runs in a transaction of its own (a single
	// statement runs as one) after a
	// write that appended deliveries has committed, one at a time, writes
	// that commit meanwhile sharing the next: it tells the other processes
	// (PostgreSQL: pg_notify, see Config.Watch). The last runs with one
	// argument, the note naming the users appended to (notes.go), for the
	// notification to carry. Not in the appending
	// transaction: PostgreSQL commits every notifying transaction under
	// one lock, so each append would wait for every other's commit.
	NotifyDeliveries []string
	// WritableCTE: an UPDATE may go in a WITH whose rows an INSERT
	// takes (PostgreSQL), so a write of two statements is one.
	WritableCTE bool
}

// Config is what a backend hands to New.
type Config struct {
	Dialect Dialect
	// DB takes every write (and the reads if Read is nil).
	DB *sql.DB
	// Read, if set, takes the reads (SQLite: a pool of read-only
	// connections beside the single writer).
	Read *sql.DB
	// Migrations holds the goose migrations (*.sql) at its root.
	Migrations fs.FS
	// GooseOptions are passed to goose.NewProvider (a session locker).
	GooseOptions []goose.ProviderOption
	// GroupCommit batches concurrent writes into one transaction (each in
	// its own savepoint). Use it when DB has a single connection.
	GroupCommit bool
	// MaxBatch caps the writes in one group commit (default 256).
	MaxBatch int
	// CommitGap, with GroupCommit, spaces commits at least this far
	// apart while writes come from several callers at once (the last
	// batch had more than one): the writes arriving meanwhile share the
	// next commit and its fsync. A lone writer is never held. 0: commit
	// as soon as the last commit ends.
	CommitGap time.Duration
	// Watch, if set, implements store.DeliveryWatcher: it calls wake with
	// the note of each notification a process sent after appending
	// deliveries (Dialect.NotifyDeliveries), and with "" after it
	// (re)connects, until ctx ends.
	Watch func(ctx context.Context, wake func(note string)) error
	// CacheInventory keeps in memory the inventory entries GetDevice reads
	// and the registration records Registrations reads (see invCache).
	// Writes by other processes are seen only through Changes: leave it
	// nil only for a database no other process opens.
	CacheInventory bool
	Changes        Changes // closed with the store if it is an io.Closer
	// Background, if set, runs in a goroutine of its own while the store
	// is open (SQLite: the WAL checkpoints); Close ends its ctx and waits
	// for it before closing the databases.
	Background func(ctx context.Context)
	// TailDeliveries keeps the newest deliveries of the users reading in
	// memory (deliveryTail). It needs GroupCommit (one writer, publishing
	// in cursor order) and a dialect with PRAGMA data_version (SQLite).
	TailDeliveries bool
	// DeliverySignal tells the tail of other processes' commits at once
	// (nil: none opens the database, or only seen at this store's next
	// commit).
	DeliverySignal DeliverySignal
}

// Store implements store.Store. Create it with New.
type Store struct {
	d        Dialect
	db       *sql.DB
	rdb      *sql.DB
	provider *goose.Provider
	commit   *committer
	watch    func(ctx context.Context, wake func(note string)) error
	inv      *invCache     // nil: the inventory is read each time
	tail     *deliveryTail // nil: deliveries are read from the database
	appender *appender     // nil: AppendDeliveries writes as every write does
	notify   chan struct{} // to the notifier (Dialect.NotifyDeliveries)
	noted    noted         // the users appended to since its last note
	origin   string        // the name its notes go under (notes.go)
	stopNote func()        // stops the notifier and waits for it
	stopBg   func()        // stops Config.Background and waits for it

	closeOnce sync.Once
	closeErr  error
}

var (
	_ store.Store         = (*Store)(nil)
	_ store.Versioner     = (*Store)(nil)
	_ store.CommitStatser = (*Store)(nil)
)

// CommitStats implements store.CommitStatser: zero for a store without
// group commit.
func (s *Store) CommitStats() store.CommitStats {
	if s.commit == nil {
		return store.CommitStats{}
	}
	return s.commit.stats()
}

// New applies the pending migrations and returns the store. It owns the
// databases from then on, also when it fails: Close (or the failure)
// closes them.
func New(ctx context.Context, cfg Config) (*Store, error) {
	s := &Store{d: cfg.Dialect, db: cfg.DB, rdb: cfg.Read, watch: cfg.Watch, origin: newOrigin()}
	if cfg.CacheInventory {
		s.inv = &invCache{changes: cfg.Changes}
	}
	if s.rdb == nil {
		s.rdb = s.db
	}
	fail := func(err error) (*Store, error) {
		_ = s.closeDBs()
		return nil, fmt.Errorf("store: %s: %w", cfg.Dialect.Name, err)
	}
	if s.d.IsUnique == nil {
		return fail(errors.New("dialect has no IsUnique"))
	}
	p, err := goose.NewProvider(cfg.Dialect.Goose, cfg.DB, cfg.Migrations, cfg.GooseOptions...)
	if err != nil {
		return fail(fmt.Errorf("migrations: %w", err))
	}
	if err := migrate(ctx, p); err != nil {
		return fail(fmt.Errorf("migrating: %w", err))
	}
	s.provider = p
	if cfg.TailDeliveries && cfg.GroupCommit {
		if s.tail, err = newDeliveryTail(cfg.DB, s.rdb, cfg.DeliverySignal); err != nil {
			return fail(fmt.Errorf("delivery tail: %w", err))
		}
	}
	if cfg.GroupCommit {
		s.commit = newCommitter(cfg.DB, cfg.MaxBatch, cfg.CommitGap)
		if s.tail != nil {
			s.commit.afterCommit = s.tail.afterCommit
		}
	}
	if s.commit == nil && s.d.DeliverySeq != "" {
		s.appender = newAppender(s)
	}
	if len(s.d.NotifyDeliveries) > 0 {
		s.startNotifier()
	}
	if cfg.Background != nil {
		ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() {
			defer close(done)
			cfg.Background(ctx)
		}()
		s.stopBg = func() { cancel(); <-done }
	}
	return s, nil
}

// migrate applies the pending migrations. Another process may be applying
// them at the same moment (SQLite has no session lock; PostgreSQL's
// backend passes one in GooseOptions): then Up fails on objects the other
// created, and once the other has committed nothing is pending any more,
// or a new Up sees its work. A broken migration fails every attempt.
func migrate(ctx context.Context, p *goose.Provider) error {
	var err error
	for range 5 {
		if _, err = p.Up(ctx); err == nil {
			return nil
		}
		if pending, perr := p.HasPending(ctx); perr == nil && !pending {
			return nil
		}
	}
	return err
}

// Version returns the migration version applied to the database.
func (s *Store) Version(ctx context.Context) (int64, error) {
	cur, _, err := s.provider.GetVersions(ctx)
	return cur, err
}

// TargetVersion returns the latest migration version this build carries.
func (s *Store) TargetVersion() int64 {
	src := s.provider.ListSources()
	if len(src) == 0 {
		return 0
	}
	return src[len(src)-1].Version
}

// Close stops the writer and closes the databases. It may be called more
// than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.commit != nil {
			s.commit.stop()
		}
		if s.appender != nil {
			s.appender.stop()
		}
		if s.stopNote != nil {
			s.stopNote()
		}
		if s.stopBg != nil {
			s.stopBg()
		}
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	err := s.db.Close()
	if s.rdb != s.db {
		err = errors.Join(err, s.rdb.Close())
	}
	if s.inv != nil {
		if c, ok := s.inv.changes.(io.Closer); ok {
			err = errors.Join(err, c.Close())
		}
	}
	return err
}

// Ping checks both pools reach the database.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return err
	}
	if s.rdb != s.db {
		return s.rdb.PingContext(ctx)
	}
	return nil
}

// q rewrites "?" placeholders for the dialect.
func (s *Store) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// write runs fn in a write transaction: through the group committer, or
// in a transaction of its own.
func (s *Store) write(ctx context.Context, fn txFunc) error {
	return s.writeThen(ctx, fn, nil)
}

// writeThen is write, running after (if set) once fn's work is committed:
// with group commit on the writer, in the order of the writes.
func (s *Store) writeThen(ctx context.Context, fn txFunc, after func()) error {
	if s.commit != nil {
		return s.commit.do(ctx, fn, after)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(ctx, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if after != nil {
		after()
	}
	return nil
}

// querier is a transaction, or the database itself for a statement that
// is its own transaction (write1).
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// write1 runs fn, a write made by one statement (what fn reads after it,
// to explain a statement that changed nothing, needs no transaction).
// With group commit it joins the next batch, as write does; without, it
// runs on the database, the statement its own transaction: to PostgreSQL
// that saves the BEGIN and the COMMIT, two of a claim's three round trips.
func (s *Store) write1(ctx context.Context, fn func(ctx context.Context, q querier) error) error {
	if s.commit != nil {
		return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error { return fn(ctx, tx) })
	}
	return fn(ctx, s.db)
}

// exec runs one statement in tx and returns the rows it affected.
func (s *Store) exec(ctx context.Context, tx querier, query string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		if s.d.IsUnique(err) {
			return 0, fmt.Errorf("%w: %w", store.ErrDuplicate, err)
		}
		return 0, err
	}
	return res.RowsAffected()
}

// exists reports whether table has a row with this id (inside tx).
func (s *Store) exists(ctx context.Context, tx querier, table, id string) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, s.q("SELECT 1 FROM "+table+" WHERE id = ?"), id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// staleOrMissing explains a conditional update that changed no row.
func (s *Store) staleOrMissing(ctx context.Context, tx querier, table, id string) error {
	ok, err := s.exists(ctx, tx, table, id)
	switch {
	case err != nil:
		return err
	case ok:
		return store.ErrStale
	default:
		return store.ErrNotFound
	}
}

// Reset deletes every row (the schema and the delivery cursor stay).
func (s *Store) Reset(ctx context.Context) error {
	defer s.writeInventory()()
	return s.writeThen(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, t := range []string{"deliveries", "schedules", "requests", "devices", "registrations", "users",
			"forecasts", "enrolment_counts", "enrolment_days", "refresh_requests", "registration_incidents",
			"registration_files", "rdp_nominations", "rdps",
			"incidents", "incident_events", "tickets", "maintenance_windows", "releases", "ssi_feedback",
			"hub_forecasts", "hub_orders", "hubs", "hub_defaults"} {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+t); err != nil {
				return err
			}
		}
		return nil
	}, s.forgetTail)
}

// chunk is how many values go into one IN (...) list, well below both
// databases' limits on bound parameters.
const chunk = 500
