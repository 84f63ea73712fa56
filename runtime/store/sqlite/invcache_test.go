package sqlite_test

import (
	"database/sql"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/sqlite"
	"github.com/dccgate/dccgate/runtime/store/sqlstore"
)

var cacheT0 = time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)

// inventory is what the cache test reads: hub H-1's status and the import
// supplier of MPxN M-1 in effect at cacheT0+1h ("" for none).
func inventory(t *testing.T, s store.Store) (status, supplier string) {
	t.Helper()
	if d, err := s.GetDevice(t.Context(), "H-1"); err == nil {
		status = d.Status
	}
	regs, err := s.Registrations(t.Context(), []string{"M-1"}, cacheT0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) == 1 {
		supplier = regs[0].ImportSupplier
	}
	return status, supplier
}

// inBothProcesses runs body as name, then as name/another process, on a
// new database: s reads it (and caches); writer returns what writes it,
// s itself or, the second time, the same file opened as another process
// does, by another name (a link), with caches of its own.
func inBothProcesses(t *testing.T, name string, body func(t *testing.T, s *sqlstore.Store, writer func() store.Store)) {
	t.Helper()
	for _, other := range []bool{false, true} {
		sub := name
		if other {
			sub += "/another process"
		}
		t.Run(sub, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cache.db")
			s := openFile(t, path)
			body(t, s, func() store.Store {
				if !other {
					return s
				}
				link := filepath.Join(t.TempDir(), "link.db")
				if err := os.Symlink(path, link); err != nil {
					t.Fatal(err)
				}
				o, err := sqlite.Open(t.Context(), link)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = o.Close() })
				return o
			})
		})
	}
}

// TestInventoryCacheSeesEveryWrite reads the inventory (so the cache holds
// it), changes it with each of the store's writes of devices and
// registration data, through the same store or through another opened on
// the same file by a link (another process: dccgate registration beside
// dccgate serve), and reads it again: the second read must be the write's, never
// the cached copy.
func TestInventoryCacheSeesEveryWrite(t *testing.T) {
	for _, tc := range []struct {
		name             string
		write            func(t *testing.T, s store.Store) error
		status, supplier string // after the write
	}{
		{"PutDevice", func(t *testing.T, s store.Store) error {
			return s.PutDevice(t.Context(), store.Device{ID: "H-1", Type: "CHF", Status: "commissioned", UpdatedAt: cacheT0})
		}, "commissioned", "S1"},
		{"SetDeviceStatus", func(t *testing.T, s store.Store) error {
			return s.SetDeviceStatus(t.Context(), "H-1", "pending", "installed_not_commissioned", cacheT0)
		}, "installed_not_commissioned", "S1"},
		{"BulkLoad", func(t *testing.T, s store.Store) error {
			return s.(store.BulkLoader).BulkLoad(t.Context(),
				[]store.Registration{{MPxN: "M-1", EffectiveFrom: cacheT0.Add(time.Minute), Fuel: "electricity", ImportSupplier: "S3"}},
				[]store.Device{{ID: "H-1", Type: "CHF", Status: "decommissioned", UpdatedAt: cacheT0}})
		}, "decommissioned", "S3"},
		{"RemoveHub", func(t *testing.T, s store.Store) error {
			return s.(store.Hubs).RemoveHub(t.Context(), "H-1", store.Hub{RemovedAt: cacheT0.Add(time.Hour), RemovedBy: "A", RemovalReason: "faulty"}, "withdrawn")
		}, "withdrawn", "S1"},
		{"PutRegistration", func(t *testing.T, s store.Store) error {
			return s.PutRegistration(t.Context(), store.Registration{MPxN: "M-1", EffectiveFrom: cacheT0.Add(time.Minute), Fuel: "electricity", ImportSupplier: "S2"})
		}, "pending", "S2"},
		{"ApplyRegistrationFile", func(t *testing.T, s store.Store) error {
			return s.(store.Reporting).ApplyRegistrationFile(t.Context(), store.RegistrationApply{
				File:    store.RegistrationFile{ID: "f-1", RDP: "R", Kind: "incremental", Fuel: "electricity", Sequence: 1, ReceivedAt: cacheT0, State: "applied", Rows: 1, Written: 1},
				Deletes: []store.RegistrationKey{{MPxN: "M-1", EffectiveFrom: cacheT0}},
			})
		}, "pending", ""},
		{"Reset", func(t *testing.T, s store.Store) error { return s.Reset(t.Context()) }, "", ""},
	} {
		inBothProcesses(t, tc.name, func(t *testing.T, s *sqlstore.Store, writer func() store.Store) {
			ctx := t.Context()
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			// H-1 is a delivered hub, as the hub operations need; M-1
			// has a registration from cacheT0.
			must(s.InsertHubOrder(ctx, store.HubOrder{ID: "O-1", Supplier: "A", OrderedAt: cacheT0, Lines: []store.HubOrderLine{{Variant: "single_band", Quantity: 1}}}))
			must(s.DeliverHubOrder(ctx, "O-1", cacheT0, []store.Hub{{ID: "H-1", Variant: "single_band"}}, "pending"))
			must(s.PutRegistration(ctx, store.Registration{MPxN: "M-1", EffectiveFrom: cacheT0, Fuel: "electricity", ImportSupplier: "S1"}))
			if st, sup := inventory(t, s); st != "pending" || sup != "S1" {
				t.Fatalf("before: %q %q", st, sup)
			}
			must(tc.write(t, writer()))
			if st, sup := inventory(t, s); st != tc.status || sup != tc.supplier {
				t.Fatalf("after %s: hub %q, supplier %q; want %q, %q", tc.name, st, sup, tc.status, tc.supplier)
			}
		})
	}
}

// TestInventoryCacheAfterAWriterDied: another process marks its write of
// the inventory begun, commits it and dies before it bumps the token. What
// this store reads meanwhile is not kept, so the next read sees the write;
// and a process opening the file later settles the token, so caching
// resumes.
func TestInventoryCacheAfterAWriterDied(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "died.db")
	s := openFile(t, path)
	if err := s.PutDevice(ctx, store.Device{ID: "H-1", Type: "CHF", Status: "pending", UpdatedAt: cacheT0}); err != nil {
		t.Fatal(err)
	}
	status := func() string {
		t.Helper()
		d, err := s.GetDevice(ctx, "H-1")
		if err != nil {
			t.Fatal(err)
		}
		return d.Status
	}
	token := func() uint64 {
		t.Helper()
		b, err := os.ReadFile(path + "-changes")
		if err != nil || len(b) < 8 {
			t.Fatalf("changes file: %v (%d bytes)", err, len(b))
		}
		return binary.LittleEndian.Uint64(b[:8]) // the inventory's token
	}
	status() // cached
	// The other process: Begin (an odd token, not the one read), then its
	// transaction...
	odd := (token() | 1) ^ 2
	f, err := os.OpenFile(path+"-changes", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt(binary.LittleEndian.AppendUint64(nil, odd), 0)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := status(); got != "pending" { // read while it writes: not kept
		t.Fatalf("status %s before the other's commit", got)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, `UPDATE devices SET status = 'commissioned' WHERE id = 'H-1'`); err != nil {
		t.Fatal(err)
	}
	// ... committed; it dies before its Bump.
	if got := status(); got != "commissioned" {
		t.Fatalf("status %s after another process's commit: the cache kept a read made while it wrote", got)
	}
	s2, err := sqlite.Open(ctx, path) // a process starting later
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if token()&1 != 0 {
		t.Fatal("the token is still marked a write under way after a new open")
	}
}

// openFile opens the store file at path for the rest of the test.
func openFile(t *testing.T, path string) *sqlstore.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestInventoryCacheListsSeeEveryWrite: the answers to Devices by hub and
// by MPxN are kept as the entries are, and no write of the devices, by this
// store or by another process on the file, leaves one stale.
func TestInventoryCacheListsSeeEveryWrite(t *testing.T) {
	meter := store.Device{ID: "E-1", Type: "ESME", Status: "commissioned", MPxN: "M-1", CHF: "H-1", UpdatedAt: cacheT0}
	ihd := store.Device{ID: "I-1", Type: "IHD", Status: "commissioned", CHF: "H-1", Meter: "E-1", UpdatedAt: cacheT0}
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, s store.Store) error
		want  string // the lists after the write
	}{
		{"PutDevice", func(t *testing.T, s store.Store) error {
			d := meter
			d.Status = "suspended"
			return s.PutDevice(t.Context(), d)
		}, "M-1: E-1 suspended; H-1 IHD: I-1 commissioned"},
		{"PutDevice of a new one", func(t *testing.T, s store.Store) error {
			return s.PutDevice(t.Context(), store.Device{ID: "I-2", Type: "IHD", Status: "pending", CHF: "H-1", UpdatedAt: cacheT0})
		}, "M-1: E-1 commissioned; H-1 IHD: I-1 commissioned, I-2 pending"},
		{"SetDeviceStatus", func(t *testing.T, s store.Store) error {
			return s.SetDeviceStatus(t.Context(), "I-1", "commissioned", "decommissioned", cacheT0)
		}, "M-1: E-1 commissioned; H-1 IHD: I-1 decommissioned"},
		{"BulkLoad", func(t *testing.T, s store.Store) error {
			d := meter
			d.Status = "withdrawn"
			return s.(store.BulkLoader).BulkLoad(t.Context(), nil, []store.Device{d})
		}, "M-1: E-1 withdrawn; H-1 IHD: I-1 commissioned"},
		{"Reset", func(t *testing.T, s store.Store) error { return s.Reset(t.Context()) }, "M-1: ; H-1 IHD: "},
	} {
		inBothProcesses(t, tc.name, func(t *testing.T, s *sqlstore.Store, writer func() store.Store) {
			ctx := t.Context()
			for _, d := range []store.Device{meter, ihd} {
				if err := s.PutDevice(ctx, d); err != nil {
					t.Fatal(err)
				}
			}
			lists := func() string {
				t.Helper()
				var out string
				for i, f := range []store.DeviceFilter{{MPxN: "M-1"}, {CHF: "H-1", Type: "IHD"}} {
					ds, err := s.Devices(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					out += []string{"M-1: ", "; H-1 IHD: "}[i]
					for j, d := range ds {
						if j > 0 {
							out += ", "
						}
						out += d.ID + " " + d.Status
					}
				}
				return out
			}
			if got, want := lists(), "M-1: E-1 commissioned; H-1 IHD: I-1 commissioned"; got != want {
				t.Fatalf("before: %s, want %s", got, want)
			}
			lists() // the second read is the cache's
			if err := tc.write(t, writer()); err != nil {
				t.Fatal(err)
			}
			if got := lists(); got != tc.want {
				t.Fatalf("after %s: %s, want %s", tc.name, got, tc.want)
			}
		})
	}
}
