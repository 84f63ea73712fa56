package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/sqlite"
)

// TestDeviceCacheSeesEveryWrite reads a device (so the cache holds it),
// changes it with each of the store's writes of devices, and reads it
// again: the second read must be the write's, never the cached copy.
func TestDeviceCacheSeesEveryWrite(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, s store.Store) error
		want  string // status after the write; "" for no device
	}{
		{"PutDevice", func(t *testing.T, s store.Store) error {
			return s.PutDevice(t.Context(), store.Device{ID: "H-1", Type: "CHF", Status: "commissioned", UpdatedAt: t0})
		}, "commissioned"},
		{"SetDeviceStatus", func(t *testing.T, s store.Store) error {
			return s.SetDeviceStatus(t.Context(), "H-1", "pending", "installed_not_commissioned", t0)
		}, "installed_not_commissioned"},
		{"BulkLoad", func(t *testing.T, s store.Store) error {
			return s.(store.BulkLoader).BulkLoad(t.Context(), nil, []store.Device{{ID: "H-1", Type: "CHF", Status: "decommissioned", UpdatedAt: t0}})
		}, "decommissioned"},
		{"RemoveHub", func(t *testing.T, s store.Store) error {
			return s.(store.Hubs).RemoveHub(t.Context(), "H-1", store.Hub{RemovedAt: t0.Add(time.Hour), RemovedBy: "A", RemovalReason: "faulty"}, "withdrawn")
		}, "withdrawn"},
		{"Reset", func(t *testing.T, s store.Store) error { return s.Reset(t.Context()) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "cache.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			// H-1 is a delivered hub, as the hub operations need.
			must(s.InsertHubOrder(ctx, store.HubOrder{ID: "O-1", Supplier: "A", OrderedAt: t0, Lines: []store.HubOrderLine{{Variant: "single_band", Quantity: 1}}}))
			must(s.DeliverHubOrder(ctx, "O-1", t0, []store.Hub{{ID: "H-1", Variant: "single_band"}}, "pending"))
			if d, err := s.GetDevice(ctx, "H-1"); err != nil || d.Status != "pending" {
				t.Fatalf("delivered hub: %+v, %v", d, err)
			}
			must(tc.write(t, s))
			d, err := s.GetDevice(ctx, "H-1")
			switch {
			case tc.want == "" && err == nil:
				t.Fatalf("after %s: %+v still read", tc.name, d)
			case tc.want != "" && (err != nil || d.Status != tc.want):
				t.Fatalf("after %s: %+v, %v; want status %s", tc.name, d, err, tc.want)
			}
		})
	}
}
