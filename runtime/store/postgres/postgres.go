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
	"net/url"
	"strconv"
	"strings"

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
	store.RegisterTransient(transient)
}

// transient reports PostgreSQL's errors that pass with time: the
// connection lost or refused, the server shutting down, restarting or out
// of connections (classes 08, 53, 57P0x), a serialization failure or a
// deadlock (40001, 40P01).
func transient(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return false
	}
	switch {
	case strings.HasPrefix(e.Code, "08"), strings.HasPrefix(e.Code, "53"), strings.HasPrefix(e.Code, "57P"),
		e.Code == "40001", e.Code == "40P01":
		return true
	}
	return false
}

// DefaultMaxConns is how many connections a process opens at most unless
// the URL's max_conns says otherwise. Each process also holds one for
// LISTEN. PostgreSQL's max_connections (100 by default) bounds the sum
// over the processes sharing the server.
const DefaultMaxConns = 32

// maxConns takes max_conns out of a postgres:// URL (pgx would send it to
// the server as a setting) and returns the URL without it and its value.
func maxConns(dsn string) (string, int, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return dsn, DefaultMaxConns, nil // a key=value string: as it is
	}
	q := u.Query()
	v := q.Get("max_conns")
	if !q.Has("max_conns") {
		return dsn, DefaultMaxConns, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 {
		return "", 0, fmt.Errorf("store: postgres: max_conns=%q: a whole number of connections, at least 2", v)
	}
	q.Del("max_conns")
	u.RawQuery = q.Encode()
	return u.String(), n, nil
}

// Open connects to the database at dsn (a postgres:// URL or key=value
// string, as pgx accepts) and applies the pending migrations. A URL's
// max_conns bounds the connections the process opens (DefaultMaxConns).
func Open(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	dsn, conns, err := maxConns(dsn)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	// As many kept idle as may be open: under load a connection closed
	// when idle is opened again a moment later (a backend started each
	// time, milliseconds of the machine's CPU).
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
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
