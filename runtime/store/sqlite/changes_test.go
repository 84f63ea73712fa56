package sqlite

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// TestChangesMappedAndNot: a file an older version left at 8 bytes keeps
// its token; what one process writes through its mapping another reads
// with pread, and the other way round.
func TestChangesMappedAndNot(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.db")
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db+"-changes", binary.LittleEndian.AppendUint64(nil, 42), 0o600); err != nil {
		t.Fatal(err)
	}
	mapped, err := openChanges(db)
	if err != nil {
		t.Fatal(err)
	}
	defer mapped.Close()
	if mapped.m == nil {
		t.Skip("no shared mapping on this system")
	}
	f, err := os.OpenFile(db+"-changes", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	plain := &changes{f: f} // as where no mapping is at hand
	defer plain.Close()
	read := func(c *changes) (uint64, uint64) {
		t.Helper()
		a, err1 := c.Token()
		b, err2 := c.DeliveriesToken()
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		return a, b
	}
	if a, b := read(mapped); a != 42 || b != 0 {
		t.Fatalf("an 8-byte file: tokens %d, %d; want 42, 0", a, b)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(mapped.Begin())
	d, err := mapped.BumpDeliveries()
	must(err)
	if a, b := read(plain); a&1 != 1 || a != first(t, mapped) || b != d {
		t.Fatalf("written through the mapping, read with pread: %d, %d; want odd %d, %d", a, b, first(t, mapped), d)
	}
	must(plain.Bump())
	if a, _ := read(mapped); a&1 != 0 || a != first(t, plain) {
		t.Fatalf("written with pwrite, read through the mapping: %d, want even %d", a, first(t, plain))
	}
}

func first(t *testing.T, c *changes) uint64 {
	t.Helper()
	v, err := c.Token()
	if err != nil {
		t.Fatal(err)
	}
	return v
}
