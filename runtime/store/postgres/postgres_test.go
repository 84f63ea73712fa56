package postgres_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/postgres"
	"github.com/dccgate/dccgate/runtime/store/postgres/pgtest"
	"github.com/dccgate/dccgate/runtime/store/storetest"
)

// schemaOpener opens a store on a schema of its own per test, as storetest
// asks (the same schema again for the same t).
func schemaOpener(t *testing.T) func(t *testing.T) store.Store {
	t.Helper()
	pgtest.DSN(t)
	var mu sync.Mutex
	dsns := map[*testing.T]string{}
	return func(t *testing.T) store.Store {
		t.Helper()
		mu.Lock()
		dsn, ok := dsns[t]
		if !ok {
			dsn = pgtest.Schema(t, "test")
			dsns[t] = dsn
			t.Cleanup(func() {
				mu.Lock()
				delete(dsns, t)
				mu.Unlock()
			})
		}
		mu.Unlock()
		s, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
}

func TestStore(t *testing.T) {
	storetest.Run(t, schemaOpener(t))
}

func TestRegistry(t *testing.T) {
	dsn := pgtest.Schema(t, "test")
	for _, u := range []string{dsn, strings.Replace(dsn, "postgres://", "postgresql://", 1)} {
		s, err := store.Open(t.Context(), u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		v, err := store.CheckVersion(t.Context(), s)
		if err != nil || v < 1 {
			t.Fatalf("%s: version %d, %v", u, v, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestConcurrentOpen starts several gateways on one empty schema at once:
// the migration lock lets exactly one of them migrate.
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.Schema(t, "test")
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), dsn)
			if err == nil {
				_, err = store.CheckVersion(t.Context(), s)
				_ = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
