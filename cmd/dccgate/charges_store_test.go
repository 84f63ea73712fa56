package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// TestChargesFromStore: dccgate charges reads a month's hubs from a
// gateway's store: its orders and deliveries, the CHF's inventory status
// (installation and commissioning) and the enrolled systems per Supplier.
func TestChargesFromStore(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	raw, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "dccgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	const alpha, hub = "00-00-00-00-00-00-0A-01", "00-DB-00-00-01-00-C0-01"
	delivered := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	hs := raw.(store.Hubs)
	steps := []error{
		raw.PutUser(ctx, store.User{ID: alpha, Role: "EIS", Entered: true}),
		// Alpha's one enrolled system: an ESME and its CHF, commissioned.
		raw.PutRegistration(ctx, store.Registration{MPxN: "1900000000001", Fuel: "electricity", ImportSupplier: alpha}),
		raw.PutDevice(ctx, store.Device{ID: "00-DB-00-00-00-00-C0-01", Type: "CHF", Status: "commissioned"}),
		raw.PutDevice(ctx, store.Device{ID: "00-DB-00-00-00-00-E0-01", Type: "ESME", Status: "commissioned", MPxN: "1900000000001", CHF: "00-DB-00-00-00-00-C0-01"}),
		hs.InsertHubOrder(ctx, store.HubOrder{ID: "O-1", Supplier: alpha, OrderedAt: delivered, Lines: []store.HubOrderLine{{Variant: "single_band", Quantity: 1}}}),
		hs.DeliverHubOrder(ctx, "O-1", delivered, []store.Hub{{ID: hub, Variant: "single_band"}}, "pending"),
		// The hub's CHF joins the SMWAN on 10 January.
		raw.SetDeviceStatus(ctx, hub, "pending", "commissioned", time.Date(2026, 1, 10, 10, 0, 0, 0, time.UTC)),
		raw.Close(),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	// January: the hub is installed, 47p (5555p over 120 months, front
	// loaded: the first 35 months 47p) smeared by enrolled systems, all
	// alpha's; maintenance 23p; the float 3 x 47 = 141p, all alpha's.
	code, out, errs := runCmd(t, "", "charges", "--month", "2026-01", "--data", dir, "--at", "2026-02-01T00:00:00Z", "--format", "json", "--party", alpha)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var st struct {
		Invoices []struct {
			Lines []struct {
				Kind   string   `json:"kind"`
				Amount int64    `json:"amount_pence"`
				Hubs   []string `json:"hubs"`
			} `json:"lines"`
		} `json:"invoices"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, inv := range st.Invoices {
		for _, l := range inv.Lines {
			got[l.Kind] = l.Amount
		}
	}
	want := map[string]int64{"asset_installed": 47, "maintenance": 23, "float_top_up": 141}
	if len(got) != len(want) {
		t.Fatalf("lines %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d, want %d", k, got[k], v)
		}
	}
	// Before the month ends the charges are provisional.
	code, _, errs = runCmd(t, "", "charges", "--month", "2026-01", "--data", dir, "--at", "2026-01-20T00:00:00Z")
	if code != exitOK || !strings.Contains(errs, "provisional") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}
