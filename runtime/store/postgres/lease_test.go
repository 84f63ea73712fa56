package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/postgres"
	"github.com/dccgate/dccgate/runtime/store/storetest"
)

func TestLeases(t *testing.T) {
	storetest.RunLeases(t, schemaOpener(t))
}

// TestWatchDeliveries: a process is woken when another appends deliveries
// to its schema, not when one appends to another schema.
func TestWatchDeliveries(t *testing.T) {
	base := baseDSN(t)
	dsn, other := newSchema(t, base), newSchema(t, base)
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
	wakes := make(chan struct{}, 16)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- watcher.(store.DeliveryWatcher).WatchDeliveries(ctx, func() { wakes <- struct{}{} })
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("WatchDeliveries: %v", err)
		}
	}()
	wait := func(what string) {
		t.Helper()
		select {
		case <-wakes:
		case <-time.After(10 * time.Second):
			t.Fatalf("no wake: %s", what)
		}
	}
	wait("when it starts listening")
	if _, err := elsewhere.AppendDeliveries(t.Context(), []store.Delivery{{UserID: "u", Kind: "alert"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.AppendDeliveries(t.Context(), []store.Delivery{{UserID: "u", Kind: "alert"}}); err != nil {
		t.Fatal(err)
	}
	wait("after an append to its schema")
	// Notifications arrive in commit order: had the other schema's woken
	// it, that wake would have come first and this one would be waiting.
	select {
	case <-wakes:
		t.Fatal("woken by an append to another schema")
	default:
	}
}
