package sqlite

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
)

// TestWALVFSSyncsTheLogsData checks that, on Linux, a commit syncs the log
// once with fdatasync (dataSync), and that a sync that fails fails its
// commit alone: the connection goes on, and the file, opened anew, holds
// the other commits' rows and passes SQLite's integrity check.
func TestWALVFSSyncsTheLogsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	w := walTable(t, dsn(path, writer))
	insert := func(i int) error {
		_, err := w.ExecContext(t.Context(), `INSERT INTO t (k, v) VALUES (?, ?)`, fmt.Sprint(i), value(i, 3000))
		return err
	}
	// The log's first sync, which also syncs its directory, is behind.
	if err := insert(0); err != nil {
		t.Fatal(err)
	}
	var syncs atomic.Int64
	var fail atomic.Bool
	dataSync = func(fd int) error {
		syncs.Add(1)
		if fail.Swap(false) {
			return syscall.EIO
		}
		return syscall.Fdatasync(fd)
	}
	t.Cleanup(func() { dataSync = syscall.Fdatasync })

	for i := 1; i < 5; i++ {
		if err := insert(i); err != nil {
			t.Fatal(err)
		}
	}
	if n := syncs.Load(); n != 4 {
		t.Errorf("4 commits made %d fdatasyncs of the log, want 4", n)
	}
	fail.Store(true)
	if err := insert(1000); err == nil {
		t.Fatal("a commit whose sync failed succeeded")
	}
	for i := 5; i < 10; i++ {
		if err := insert(i); err != nil {
			t.Fatalf("commit %d after the failed sync: %v", i, err)
		}
	}
	checkRows(t, w, 10)
	_ = w.Close()
	checkReopened(t, path, 10)
}
