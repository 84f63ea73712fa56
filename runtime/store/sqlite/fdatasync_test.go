package sqlite

import (
	"path/filepath"
	"runtime"
	"testing"

	"modernc.org/sqlite"
)

// TestOpenSyncsWithFdatasync checks that opening a store file switches
// SQLite's syncs to fdatasync where the platform has it.
func TestOpenSyncsWithFdatasync(t *testing.T) {
	switch runtime.GOOS {
	case "linux", "freebsd", "illumos", "netbsd":
	default:
		t.Skipf("SQLite syncs with fdatasync only where the platform has it, not on %s", runtime.GOOS)
	}
	if _, err := sqlite.Fdatasync(false); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if !sqlite.FdatasyncEnabled() {
		t.Error("SQLite syncs with fsync after Open, want fdatasync")
	}
}
