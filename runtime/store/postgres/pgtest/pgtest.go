// Package pgtest gives a test a PostgreSQL schema of its own in the
// database DCCGATE_TEST_POSTGRES names, or skips the test where none is
// named: tests in parallel, in any package, never see each other's tables.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Env names the test database.
const Env = "DCCGATE_TEST_POSTGRES"

// DSN returns the test database's DSN, or skips t.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(Env)
	if dsn == "" {
		t.Skip(Env + " is not set: set it to a PostgreSQL URL such as " +
			"postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run on PostgreSQL (.ci/run does)")
	}
	return dsn
}

// Schema creates a schema named prefix_<random> for t, dropped when t
// ends (after the cleanups t registers later, such as closing a store on
// it), and returns a DSN whose search_path selects it; it skips t as DSN
// does.
func Schema(t testing.TB, prefix string) string {
	t.Helper()
	base := DSN(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := prefix + "_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		_ = admin.Close()
		t.Fatalf("create schema (is PostgreSQL at %s up?): %v", Env, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, base, schema)
}

// withSearchPath adds search_path=schema to a URL or key=value DSN.
func withSearchPath(t testing.TB, dsn, schema string) string {
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
