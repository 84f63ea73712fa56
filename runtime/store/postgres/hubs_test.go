package postgres_test

import (
	"sync"
	"testing"

	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/postgres"
	"github.com/dccgate/dccgate/runtime/store/storetest"
)

func TestHubs(t *testing.T) {
	base := baseDSN(t)
	var mu sync.Mutex
	dsns := map[*testing.T]string{}
	storetest.RunHubs(t, func(t *testing.T) store.Store {
		t.Helper()
		mu.Lock()
		dsn, ok := dsns[t]
		if !ok {
			dsn = newSchema(t, base)
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
	})
}
