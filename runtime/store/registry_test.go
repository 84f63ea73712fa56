package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dccgate/dccgate/runtime/store"
)

func TestScheme(t *testing.T) {
	tests := []struct{ url, want string }{
		{"sqlite:///var/lib/dccgate/gateway.db", "sqlite"},
		{"sqlite://gateway.db", "sqlite"},
		{"sqlite:gateway.db", "sqlite"},
		{"sqlite::memory:", "sqlite"},
		{":memory:", "sqlite"},
		{"/var/lib/dccgate/gateway.db", "sqlite"},
		{"data/gateway.db", "sqlite"},
		{`C:\dccgate\gateway.db`, "sqlite"},
		{"./odd://name.db", "sqlite"},
		{"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "postgres"},
		{"PostgreSQL://host/db", "postgresql"},
		{"mysql://host/db", "mysql"},
	}
	for _, tc := range tests {
		if got := store.Scheme(tc.url); got != tc.want {
			t.Errorf("Scheme(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}

func TestOpen(t *testing.T) {
	var got string
	store.Register("test-scheme", func(_ context.Context, dsn string) (store.Store, error) {
		got = dsn
		return nil, errors.New("opened")
	})
	if _, err := store.Open(t.Context(), "test-scheme://x/y?z=1"); err == nil || got != "test-scheme://x/y?z=1" {
		t.Fatalf("Open passed %q (%v), want the URL unchanged", got, err)
	}
	if _, err := store.Open(t.Context(), "nobody://x"); !errors.Is(err, store.ErrUnknownBackend) {
		t.Fatalf("Open of an unregistered scheme: %v", err)
	}
}
