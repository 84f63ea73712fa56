package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/postgres"
	"github.com/dccgate/dccgate/runtime/store/postgres/pgtest"
	"github.com/dccgate/dccgate/runtime/store/storetest"
)

func TestLeases(t *testing.T) {
	storetest.RunLeases(t, schemaOpener(t))
}

// TestWatchDeliveries: a process is woken when another appends deliveries
// to its schema, not when one appends to another schema, nor for its own
// appends (its gateway wakes its readers itself).
func TestWatchDeliveries(t *testing.T) {
	dsn, other := pgtest.Schema(t, "test"), pgtest.Schema(t, "test")
	open := func(dsn string) store.Store {
		t.Helper()
		s, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	watcher, writer, elsewhere := open(dsn), open(dsn), open(other)
	wakes := make(chan []string, 16)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- watcher.(store.DeliveryWatcher).WatchDeliveries(ctx, func(users []string) { wakes <- users })
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("WatchDeliveries: %v", err)
		}
	}()
	wait := func(what string, want []string) {
		t.Helper()
		select {
		case got := <-wakes:
			if !slices.Equal(got, want) || (got == nil) != (want == nil) {
				t.Fatalf("%s: woken for users %q, want %q", what, got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no wake: %s", what)
		}
	}
	// Unnamed: the readers look for what was missed while not listening.
	wait("when it starts listening", nil)
	if _, err := elsewhere.AppendDeliveries(t.Context(), []store.Delivery{{UserID: "u", Kind: "alert"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := watcher.AppendDeliveries(t.Context(), []store.Delivery{{UserID: "own", Kind: "alert"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.AppendDeliveries(t.Context(), []store.Delivery{{UserID: "u", Kind: "alert"}, {UserID: "a", Kind: "alert"}, {UserID: "u", Kind: "alert"}}); err != nil {
		t.Fatal(err)
	}
	wait("after an append to its schema", []string{"a", "u"})
	// Notifications arrive in commit order: had the other schema's or its
	// own woken it, that wake would have come first and this one would be
	// waiting.
	select {
	case users := <-wakes:
		t.Fatalf("woken for %q by an append to another schema", users)
	default:
	}
}

// TestAppendFailureStaysItsOwn: appends made at once go into one
// transaction (sqlstore's appender); one that PostgreSQL refuses (a user ID
// with a NUL byte) fails alone, and the others are stored.
func TestAppendFailureStaysItsOwn(t *testing.T) {
	s := schemaOpener(t)(t)
	ctx := t.Context()
	const n = 24
	for round := range 5 {
		errs := storetest.Race(n, func(i int) error {
			user := fmt.Sprintf("u%d", i%3)
			if i == round {
				user = "bad\x00"
			}
			_, err := s.AppendDeliveries(ctx, []store.Delivery{{UserID: user, Kind: "alert", Payload: fmt.Appendf(nil, "%d/%d", round, i)}})
			return err
		})
		for i, err := range errs {
			if (err != nil) != (i == round) {
				t.Fatalf("round %d, append %d: error %v (only append %d should fail)", round, i, err, round)
			}
		}
	}
	all, err := s.Deliveries(ctx, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5*(n-1) {
		t.Fatalf("%d messages stored, want %d", len(all), 5*(n-1))
	}
}

// TestDeliverySeqLocksTheUsers: the function that gives a delivery its
// cursor (migration 8) holds, until commit, each named user's lock and the
// shared hold of the lock a reading of every user takes; a row naming no
// user takes no user's lock.
func TestDeliverySeqLocksTheUsers(t *testing.T) {
	dsn := pgtest.Schema(t, "test")
	s, err := postgres.Open(t.Context(), dsn) // applies the migrations
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	const all, user = 11, 12 // the lock classes: arguments of the function
	held := func() []string {
		t.Helper()
		rows, err := tx.QueryContext(t.Context(), `SELECT l.mode || ' ' || l.classid || ' ' ||
			coalesce((SELECT u FROM unnest(ARRAY['', 'a', 'b', 'c']) AS u
				WHERE l.objid::bigint = hashtext(current_schema() || CASE WHEN u = '' THEN '' ELSE '/' || u END)::bigint & 4294967295), '?')
			FROM pg_locks l WHERE l.pid = pg_backend_pid() AND l.locktype = 'advisory' ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	seq := func(users []string) {
		t.Helper()
		var n int64
		if err := tx.QueryRowContext(t.Context(), `SELECT dccgate_delivery_seq($1, $2, $3)`, all, user, users).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	seq([]string{}) // a row naming none: the shared hold only
	if got, want := held(), []string{"ShareLock 11 "}; !slices.Equal(got, want) {
		t.Fatalf("after a row naming no user: locks %q, want %q", got, want)
	}
	seq([]string{"b", "a", "b"})
	if got, want := held(), []string{"ExclusiveLock 12 a", "ExclusiveLock 12 b", "ShareLock 11 "}; !slices.Equal(got, want) {
		t.Fatalf("after a row naming a and b: locks %q, want %q", got, want)
	}
}
