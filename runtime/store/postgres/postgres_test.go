package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/postgres"
	"github.com/dccgate/dccgate/runtime/store/storetest"
)

const envDSN = "DCCGATE_TEST_POSTGRES"

// baseDSN returns the test database from the environment or skips.
func baseDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(envDSN)
	if dsn == "" {
		t.Skip(envDSN + " not set: set it to a PostgreSQL URL such as " +
			"postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run the postgres store tests")
	}
	return dsn
}

// withSearchPath adds search_path=schema to a URL or key=value DSN.
func withSearchPath(t *testing.T, dsn, schema string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// newSchema creates a schema of its own for t, dropped when t ends, and
// returns a DSN whose search_path selects it: tests running in parallel,
// in this package or another, never see each other's tables.
func newSchema(t *testing.T, base string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "test_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		_ = admin.Close()
		t.Fatalf("create schema (is PostgreSQL at %s up?): %v", envDSN, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, base, schema)
}

// schemaOpener opens a store on a schema of its own per test, as storetest
// asks (the same schema again for the same t).
func schemaOpener(t *testing.T) func(t *testing.T) store.Store {
	t.Helper()
	base := baseDSN(t)
	var mu sync.Mutex
	dsns := map[*testing.T]string{}
	return func(t *testing.T) store.Store {
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
	}
}

func TestStore(t *testing.T) {
	storetest.Run(t, schemaOpener(t))
}

func TestRegistry(t *testing.T) {
	dsn := newSchema(t, baseDSN(t))
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
	dsn := newSchema(t, baseDSN(t))
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
