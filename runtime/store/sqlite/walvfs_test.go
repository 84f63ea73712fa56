package sqlite

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sqlite3 "modernc.org/sqlite/lib"
)

// TestWALVFSGathersTheLogsWrites writes commits of many pages through the
// writer's DSN (walVFS) and checks that:
//   - the log's frames reach the file in a few writes a commit, not two a
//     frame;
//   - a reader on the platform's VFS sees each commit at once, whole;
//   - the file, closed and opened again (the log recovered, then
//     checkpointed), holds every row and passes SQLite's integrity check.
func TestWALVFSGathersTheLogsWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	w := walTable(t, dsn(path, writer))
	r := open(t, dsn(path, reader))

	tests := []struct {
		name string
		rows int
		size int // bytes of v a row
	}{
		{"one row", 1, 10},
		{"a commit of many pages", 200, 1000},
		// Over walGather: written in several writes, each at most walChunk.
		{"a commit larger than what is gathered", 400, 4000},
		{"rows larger than a page (overflow pages)", 20, 20000},
	}
	total := 0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls, gathered := walCalls.Load(), walGathered.Load()
			walBefore := fileSize(t, path+"-wal")
			tx, err := w.BeginTx(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.rows {
				if _, err := tx.ExecContext(t.Context(), `INSERT INTO t (k, v) VALUES (?, ?)`,
					fmt.Sprintf("%s/%d", tc.name, i), value(total+i, tc.size)); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			total += tc.rows
			made, into := walCalls.Load()-calls, walGathered.Load()-gathered
			frames := (fileSize(t, path+"-wal") - walBefore) / (4096 + 24)
			if made < 1 || made > 1+frames*4120/walChunk+1 {
				t.Errorf("%d writes made for %d frames, want 1 + one a %d bytes", made, frames, walChunk)
			}
			if frames > 1 && into == 0 {
				t.Errorf("%d frames and no write gathered into another", frames)
			}
			checkRows(t, r, total)
		})
	}
	_ = r.Close()
	_ = w.Close() // the last connection: checkpoints the log into the file

	checkReopened(t, path, total)
}

// TestWALVFSOnlyTheWriter checks walVFS is the writer's alone: the other
// connections use the platform's VFS, and what they write (a checkpoint)
// needs no sync walVFS would wait for.
func TestWALVFSOnlyTheWriter(t *testing.T) {
	for _, r := range []role{reader, checkpointer, memory} {
		if strings.Contains(dsn("x.db", r), "vfs=") {
			t.Errorf("role %d: %s names a VFS", r, dsn("x.db", r))
		}
	}
	if !strings.Contains(dsn("x.db", writer), "vfs="+walVFSName) || !strings.Contains(dsn("x.db", writer), "synchronous%28FULL%29") {
		t.Errorf("writer: %s: want vfs=%s with synchronous(FULL)", dsn("x.db", writer), walVFSName)
	}
}

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func exec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), q); err != nil {
		t.Fatal(err)
	}
}

// value is row i's v: its bytes say which row it is.
func value(i, size int) []byte {
	return bytes.Repeat([]byte{byte(i), byte(i >> 8), 0x5a}, size/3+1)[:size]
}

// checkRows checks db sees rows 1..n, each with its own value.
func checkRows(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT id, v FROM t ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var id int
		var v []byte
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		seen++
		if id != seen || !bytes.Equal(v, value(id-1, len(v))) {
			t.Fatalf("row %d: id %d, a value not its own", seen, id)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != n {
		t.Fatalf("%d rows seen, want %d", seen, n)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestWALVFSRollbackLeavesNothingGathered rolls back a transaction larger
// than the writer's cache, then has another connection (on the platform's
// VFS, as another process would) commit at the same place in the log, and
// checks the first wrote nothing over it: without cache_spill(0), the
// pages spilled were gathered, and written by the first connection's next
// read, over the other's commit.
func TestWALVFSRollbackLeavesNothingGathered(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	a := walTable(t, dsn(path, writer)+"&_pragma=cache_size(20)")
	exec(t, a, `PRAGMA wal_checkpoint(TRUNCATE)`) // the log restarts: page 1 is not in it

	tx, err := a.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 { // some 300 pages, past a cache of 20
		if _, err := tx.ExecContext(t.Context(), `INSERT INTO t (k, v) VALUES (?, ?)`, fmt.Sprintf("gone/%d", i), value(i, 3000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	walFilesMu.Lock()
	for _, f := range walFiles {
		if len(f.buf) > 0 {
			t.Errorf("%d bytes gathered after the rollback", len(f.buf))
		}
	}
	walFilesMu.Unlock()

	b := open(t, "file:"+path+"?_pragma=busy_timeout(10000)")
	tx, err = b.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if _, err := tx.ExecContext(t.Context(), `INSERT INTO t (k, v) VALUES (?, ?)`, fmt.Sprintf("kept/%d", i), value(i, 3000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	checkRows(t, a, 30) // a's read: where gathered bytes were written
	_ = a.Close()
	_ = b.Close()
	checkReopened(t, path, 30)
}

// TestWALVFSFailedWrite fails the log's write of one commit: the commit
// fails, nothing of it is kept, and the next commits and the file are
// sound.
func TestWALVFSFailedWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.db")
	w := walTable(t, dsn(path, writer))
	insert := func(from, n int) error {
		tx, err := w.BeginTx(t.Context(), nil)
		if err != nil {
			return err
		}
		for i := from; i < from+n; i++ {
			if _, err := tx.ExecContext(t.Context(), `INSERT INTO t (k, v) VALUES (?, ?)`, fmt.Sprint(i), value(i, 2000)); err != nil {
				_ = tx.Rollback()
				return err
			}
		}
		return tx.Commit()
	}
	if err := insert(0, 10); err != nil {
		t.Fatal(err)
	}
	// failOnce fails the next flush only.
	failOnce := func() {
		walFault = func() int32 {
			walFault = nil
			return sqlite3.SQLITE_FULL
		}
	}
	// A commit whose only flush is its sync's, then one larger than what
	// is gathered, whose first flush is made by a write.
	for _, n := range []int{50, 2 * walGather / 2000} {
		failOnce()
		err := insert(100000, n)
		walFault = nil
		if err == nil {
			t.Fatalf("a commit of %d rows whose log write failed succeeded", n)
		}
	}
	// The next commits succeed. The rows of the failed ones are not there,
	// whatever ids they took: these 40 take ids 11 to 50.
	if err := insert(10, 20); err != nil {
		t.Fatalf("the commit after the failed ones: %v", err)
	}
	if err := insert(30, 20); err != nil {
		t.Fatal(err)
	}
	checkRows(t, w, 50)
	_ = w.Close()
	checkReopened(t, path, 50)
}

// TestWALVFSNotPowersafe checks a log without power-safe overwrite (psow=0:
// SQLite pads and syncs within a commit's last frame) is not gathered.
func TestWALVFSNotPowersafe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	w := walTable(t, "file:"+path+"?psow=0&vfs="+walVFSName+"&_pragma=synchronous(FULL)&_pragma=cache_spill(0)")
	calls := walCalls.Load()
	exec(t, w, `INSERT INTO t (k, v) VALUES ('a', x'00')`)
	if n := walCalls.Load() - calls; n != 0 {
		t.Errorf("%d gathered writes to a log without power-safe overwrite, want none", n)
	}
	r := open(t, dsn(path, reader))
	var n int
	if err := r.QueryRowContext(t.Context(), `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("a reader counts %d rows (%v), want 1", n, err)
	}
}

// TestCheckWriter checks Open refuses a writer walVFS cannot rest on.
func TestCheckWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	for _, tc := range []struct {
		dsn string
		ok  bool
	}{
		{dsn(path, writer), true},
		{path + "?_pragma=synchronous(FULL)", false},
		{path + "?_pragma=cache_spill(0)&_pragma=synchronous(NORMAL)", false},
	} {
		err := checkWriter(t.Context(), open(t, tc.dsn))
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok %v", tc.dsn, err, tc.ok)
		}
	}
}

// checkReopened checks the file at path, opened anew, holds rows 1..n and
// passes SQLite's integrity check.
func checkReopened(t *testing.T, path string, n int) {
	t.Helper()
	db := open(t, dsn(path, reader))
	checkRows(t, db, n)
	integrityOK(t, db)
}

func integrityOK(t *testing.T, db *sql.DB) {
	t.Helper()
	var ok string
	if err := db.QueryRowContext(t.Context(), `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check: %q, %v", ok, err)
	}
}

// walTable opens dsn (walVFS registered), in WAL mode, and makes
// the tests' table.
func walTable(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	if err := registerWALVFS(); err != nil {
		t.Fatal(err)
	}
	db := open(t, dsn)
	if err := setWAL(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	exec(t, db, `CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v BLOB)`)
	return db
}
