// Package sqlite is the embedded store backend: one SQLite file (pure Go,
// modernc.org/sqlite), for a developer's laptop or a single gateway.
//
// The file is in WAL mode with synchronous=FULL, so a write is on disk
// before the call returns. SQLite has one writer at a time: the store keeps
// one write connection and batches concurrent writes into one transaction
// (group commit, see sqlstore), beside a pool of read-only connections that
// WAL lets read while the writer writes. Several processes may open the
// same file; they wait for each other (busy_timeout), never fail with
// SQLITE_BUSY at once.
//
// Open it directly or, with this package imported, through store.Open with
// a URL such as sqlite:///var/lib/dccgate/gateway.db.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// commitGap spaces the writer's commits while writes come from several
// callers at once (sqlstore.Config.CommitGap): each commit costs an fsync
// and a write of every page it touches. At 1,000 requests a second in
// process it turned 1,540 commits a second of 1.6 writes into 410 of 6,
// for 22% less CPU (1.29 cores to 1.01) and 4 ms more at the median
// (p99 14 to 20 ms); at 2,000 a second, 20% less CPU. Saturated, commits
// take longer than the gap and it changes nothing.
const commitGap = 2 * time.Millisecond

// BusyTimeoutMS is how long a connection waits for another process's
// write lock before failing.
const BusyTimeoutMS = 10000

// Dialect is SQLite's sqlstore dialect.
var Dialect = sqlstore.Dialect{
	Name:     "sqlite",
	Goose:    goose.DialectSQLite3,
	IsUnique: isUnique,
}

func init() {
	store.Register("sqlite", func(ctx context.Context, dsn string) (store.Store, error) {
		return Open(ctx, PathFromURL(dsn))
	})
}

// PathFromURL returns the file path of a store URL: sqlite:///abs/path.db
// gives /abs/path.db, sqlite://rel.db and sqlite:rel.db give rel.db, and a
// string without the scheme is returned as it is.
func PathFromURL(u string) string {
	if p, ok := strings.CutPrefix(u, "sqlite://"); ok {
		return p
	}
	if p, ok := strings.CutPrefix(u, "sqlite:"); ok {
		return p
	}
	return u
}

// Open opens (creating it if needed) the database file at path and applies
// the pending migrations. The path ":memory:" gives a private
// in-memory database on one connection, gone on Close: for tests only, as
// nothing is durable.
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	if path == "" {
		return nil, errors.New("store: sqlite: no path (\":memory:\" is a database that is not kept)")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("store: sqlite: path %q: '?' and '#' are not allowed", path)
	}
	if path == ":memory:" {
		db := openCached(dsn(":memory:", memory))
		// One connection: every connection to ":memory:" is a database of
		// its own. It must never be closed while the store is open.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		return sqlstore.New(ctx, sqlstore.Config{
			Dialect: Dialect, DB: db, Migrations: sub(), GroupCommit: true, CacheInventory: true, TailDeliveries: true,
		})
	}

	if err := registerWALVFS(); err != nil {
		return nil, err
	}
	useFdatasync()
	wdb := openCached(dsn(path, writer))
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	// Create the file and switch it to WAL before readers open it.
	if err := setWAL(ctx, wdb); err != nil {
		_ = wdb.Close()
		return nil, fmt.Errorf("store: sqlite: open %s: %w", path, err)
	}
	if err := checkWriter(ctx, wdb); err != nil {
		_ = wdb.Close()
		return nil, fmt.Errorf("store: sqlite: open %s: %w", path, err)
	}
	rdb := openCached(dsn(path, reader))
	n := max(4, runtime.GOMAXPROCS(0))
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	ch, err := openChanges(path)
	if err == nil {
		err = ch.settle(ctx, wdb)
	}
	if err != nil {
		_ = wdb.Close()
		_ = rdb.Close()
		return nil, fmt.Errorf("store: sqlite: open %s: %w", path, err)
	}

	return sqlstore.New(ctx, sqlstore.Config{
		Dialect: Dialect, DB: wdb, Read: rdb, Migrations: sub(), GroupCommit: true, CommitGap: commitGap,
		// The inventory is read on every request; other processes'
		// writes to it (dccgate registration) are seen through ch.
		CacheInventory: true, Changes: ch,
		// Streams read what this process appended from memory; another
		// process's append is seen through data_version and ch (sqlstore's
		// tail).
		TailDeliveries: true, DeliverySignal: ch,
		Background: checkpoints(path),
	})
}

func sub() fs.FS {
	f, err := fs.Sub(migrations, "migrations")
	if err != nil { // cannot happen: the directory is embedded
		return migrations
	}
	return f
}

type role int

const (
	writer       role = iota // the one write connection
	reader                   // the read-only pool
	memory                   // ":memory:": one connection for both
	checkpointer             // the WAL checkpoints (checkpoint.go)
)

// The page caches (SQLite's default is 2 MiB a connection). The writer
// inserts into the requests' indexes at keys spread over the whole tree
// (request and device IDs), so with the default cache it read back from
// the file index pages it had evicted. A larger cache costs the writer at
// every commit, though: when a b-tree page splits, SQLite swaps the new
// pages' numbers through the locking page's number (1 GiB / page size, far
// beyond the file), and a commit after that drops the cache's pages past
// the end of the file by scanning its whole hash table. Measured at 3,000
// requests a second for 20 s, the writer's CPU was 7.0 s with 64 MiB (1.35
// s of it that scan), 5.7 s with 16 MiB, 5.4 s with 8 MiB (0.28 s; pread
// 0.46 s against 0.32 s) and 5.4 s with 4 MiB. A reader's cache is emptied
// whenever the log has changed since its last read, so it holds little
// more than one transaction's pages.
const (
	writerCacheKiB = 8 << 10
	readerCacheKiB = 8 << 10
)

// dsn is the driver's data source for path: pragmas every connection
// applies when it opens.
func dsn(path string, r role) string {
	v := url.Values{}
	v.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeoutMS))
	v.Add("_pragma", "foreign_keys(1)")
	switch r {
	case writer:
		// Durable before the call returns; and walVFS, which gathers
		// the log's writes until its sync, needs a sync at each commit
		// and no pages spilled before one (walvfs.go).
		v.Add("_pragma", "synchronous(FULL)")
		v.Add("_pragma", "cache_spill(0)")
		v.Set("vfs", walVFSName)
		v.Set("_txlock", "immediate") // take the write lock at BEGIN: no failed upgrade from a read
		// The checkpointer keeps the WAL short; the writer checkpoints
		// only if it falls far behind.
		v.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", backstopPages))
		v.Add("_pragma", fmt.Sprintf("cache_size(%d)", -writerCacheKiB))
	case checkpointer:
		v.Add("_pragma", "synchronous(FULL)")
	case reader:
		v.Add("_pragma", "query_only(1)")
		v.Add("_pragma", fmt.Sprintf("cache_size(%d)", -readerCacheKiB))
	}
	return path + "?" + v.Encode()
}

// setWAL switches the file to WAL (a setting the file keeps). Changing the
// journal mode needs the file to itself, and SQLite answers SQLITE_BUSY at
// once rather than wait when another process is opening it too, so it is
// retried here for about BusyTimeoutMS.
func setWAL(ctx context.Context, db *sql.DB) error {
	const pause = 10 * time.Millisecond
	for attempt := 0; ; attempt++ {
		var mode string
		err := db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode)
		switch {
		case err == nil && strings.EqualFold(mode, "wal"):
			return nil
		case err == nil:
			return fmt.Errorf("journal_mode is %s, want wal", mode)
		case !isBusy(err) || attempt >= BusyTimeoutMS/int(pause/time.Millisecond):
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// isBusy reports SQLITE_BUSY (any extended code).
func isBusy(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

// isUnique reports a UNIQUE or PRIMARY KEY constraint violation.
func isUnique(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}
