package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
)

// TestPragmas checks each connection gets the settings durability and
// concurrency rest on.
func TestPragmas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s, err := Open(t.Context(), path) // sets WAL, which the file keeps
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tests := []struct {
		role role
		want map[string]string
	}{
		{writer, map[string]string{"journal_mode": "wal", "synchronous": "2", "cache_spill": "0", "wal_autocheckpoint": "65536", "foreign_keys": "1", "busy_timeout": "10000", "query_only": "0"}},
		{reader, map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000", "query_only": "1"}},
	}
	for _, tc := range tests {
		db, err := sql.Open("sqlite", dsn(path, tc.role))
		if err != nil {
			t.Fatal(err)
		}
		for pragma, want := range tc.want {
			var got string
			if err := db.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("role %d: %s: %v", tc.role, pragma, err)
			}
			if got != want {
				t.Errorf("role %d: PRAGMA %s = %s, want %s", tc.role, pragma, got, want)
			}
		}
		_ = db.Close()
	}
}
