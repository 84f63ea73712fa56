// Package postgres is the store backend for several gateway processes
// sharing one PostgreSQL database (pgx through database/sql).
//
// Every conditional write is one UPDATE ... WHERE state = expected, and
// PostgreSQL re-checks the WHERE clause of a row another transaction has
// just changed (READ COMMITTED), so two processes never both win.
// Migrations run under a session advisory lock, so gateways starting
// together migrate once.
//
// Open it directly or, with this package imported, through store.Open with
// a postgres:// or postgresql:// URL. Add search_path=<schema> to the URL
// to keep the tables in a schema other than public.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/pressly/goose/v3"

	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// lockClass is the first key of this package's advisory locks ("dccg");
// the second is a hash of the current schema, so stores in different
// schemas of one database do not wait for each other.
const lockClass = 0x64636367

// Dialect is PostgreSQL's sqlstore dialect.
var Dialect = sqlstore.Dialect{
	Name:     "postgres",
	Goose:    goose.DialectPostgres,
	Numbered: true,
	IsUnique: isUnique,
	// Appenders to a user queue on the user's lock until commit, so the
	// user's cursors (a sequence) become visible in cursor order: without
	// it, a transaction holding cursor 5 could commit after one holding 6,
	// and a reader of the stream that had seen 6 would skip 5 for ever.
	// Each also holds the schema's lock shared, which a reading of every
	// user's deliveries takes alone (LockAllDeliveries). The function
	// (migration 8) takes both in the INSERT itself.
	DeliverySeq:       fmt.Sprintf("dccgate_delivery_seq(%d, %d, ?)", lockClass+1, lockClass+2),
	LockAllDeliveries: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d, hashtext(coalesce(current_schema(), '')))", lockClass+1),
	SkipLocked:        " FOR UPDATE SKIP LOCKED",
	WritableCTE:       true,
	// Delivered at commit to every process listening (watch.go); the
	// payload is the schema, so stores in other schemas ignore it, then
	// the note naming the users appended to.
	// The notification need not be durable: a lost one costs a reader
	// its next poll.
	// One statement, its own transaction: one round trip, not four.
	NotifyDeliveries: []string{"SELECT set_config('synchronous_commit', 'off', true), pg_notify('" + notifyChannel +
		"', coalesce(current_schema(), '') || ?::text)"},
}

func init() {
	open := func(ctx context.Context, dsn string) (store.Store, error) { return Open(ctx, dsn) }
	store.Register("postgres", open)
	store.Register("postgresql", open)
}

// Open connects to the database at dsn (a postgres:// URL or key=value
// string, as pgx accepts) and applies the pending migrations.
func Open(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	// As many kept idle as may be open: under load a connection closed
	// when idle is opened again a moment later (a backend started each
	// time, milliseconds of the machine's CPU).
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: postgres: connect: %w", err)
	}
	f, err := fs.Sub(migrations, "migrations")
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return sqlstore.New(ctx, sqlstore.Config{
		Dialect:      Dialect,
		DB:           db,
		Migrations:   f,
		GooseOptions: []goose.ProviderOption{goose.WithSessionLocker(sessionLocker{})},
		Watch:        func(ctx context.Context, wake func(note string)) error { return watch(ctx, dsn, wake) },
	})
}

// sessionLocker serialises migrations across processes with a blocking
// session advisory lock per schema (goose's own locker polls once a second
// at best, on one lock for the whole database).
type sessionLocker struct{}

func (sessionLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1, hashtext(coalesce(current_schema(), '')))", lockClass)
	return err
}

func (sessionLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	var ok bool
	err := conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1, hashtext(coalesce(current_schema(), '')))", lockClass).Scan(&ok)
	if err == nil && !ok {
		err = errors.New("store: postgres: migration lock was not held")
	}
	return err
}

// isUnique reports a unique_violation (SQLSTATE 23505).
func isUnique(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}
