package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// RunHubs runs the suite of store.Hubs; open is as for Run, and the stores
// it returns must implement it.
func RunHubs(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store, h store.Hubs)
	}{
		{"Forecasts", testHubForecasts},
		{"OrderDeliver", testHubOrderDeliver},
		{"Lifecycle", testHubLifecycle},
		{"Defaults", testHubDefaults},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			h, ok := s.(store.Hubs)
			if !ok {
				t.Fatalf("%T does not implement store.Hubs", s)
			}
			tc.fn(t, s, h)
		})
	}
}

var hubT0 = time.Date(2026, 3, 2, 9, 0, 0, 123, time.UTC)

func testHubForecasts(t *testing.T, _ store.Store, s store.Hubs) {
	ctx := t.Context()
	for _, f := range []store.HubForecast{
		{Supplier: "B", Month: "2026-04", Variant: "single_band", Quantity: 5, FiledAt: hubT0},
		{Supplier: "A", Month: "2026-05", Variant: "dual_band", Quantity: 2, FiledAt: hubT0},
		{Supplier: "A", Month: "2026-04", Variant: "single_band", Quantity: 7, FiledAt: hubT0},
		{Supplier: "A", Month: "2026-04", Variant: "single_band", Quantity: 9, FiledAt: hubT0.Add(time.Hour)}, // replaces
	} {
		must(t, s.PutHubForecast(ctx, f))
	}
	got, err := s.HubForecasts(ctx, "A")
	must(t, err)
	want := []store.HubForecast{
		{Supplier: "A", Month: "2026-04", Variant: "single_band", Quantity: 9, FiledAt: hubT0.Add(time.Hour)},
		{Supplier: "A", Month: "2026-05", Variant: "dual_band", Quantity: 2, FiledAt: hubT0},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("A's forecasts %+v, want %+v", got, want)
	}
	all, err := s.HubForecasts(ctx, "")
	must(t, err)
	if len(all) != 3 || all[2].Supplier != "B" {
		t.Fatalf("all forecasts %+v", all)
	}
}

func testHubOrderDeliver(t *testing.T, st store.Store, s store.Hubs) {
	ctx := t.Context()
	o := store.HubOrder{ID: "O-1", Supplier: "A", Region: "north", Tranche: "initial", OrderedAt: hubT0,
		Lines: []store.HubOrderLine{{Variant: "single_band", Quantity: 2}, {Variant: "dual_band", Quantity: 1}}}
	must(t, s.InsertHubOrder(ctx, o))
	if err := s.InsertHubOrder(ctx, o); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("second insert: %v, want ErrDuplicate", err)
	}
	must(t, s.InsertHubOrder(ctx, store.HubOrder{ID: "O-0", Supplier: "B", FreeReplacement: true, OrderedAt: hubT0.Add(-time.Hour),
		Lines: []store.HubOrderLine{{Variant: "other", Quantity: 1}}}))
	got, err := s.GetHubOrder(ctx, "O-1")
	must(t, err)
	if got.Supplier != "A" || got.Region != "north" || got.Tranche != "initial" || !got.DeliveredAt.IsZero() || !got.OrderedAt.Equal(hubT0) ||
		!slices.Equal(got.Lines, o.Lines) || got.FreeReplacement {
		t.Fatalf("order %+v", got)
	}
	if _, err := s.GetHubOrder(ctx, "O-9"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing order: %v", err)
	}
	// A Device ID already on the inventory cannot be delivered as a hub:
	// nothing of that delivery is stored.
	must(t, st.PutDevice(ctx, store.Device{ID: "H-X", Type: "ESME", Status: "commissioned", UpdatedAt: hubT0}))
	at := hubT0.Add(48 * time.Hour)
	if err := s.DeliverHubOrder(ctx, "O-1", at, []store.Hub{{ID: "H-1", Variant: "single_band"}, {ID: "H-X", Variant: "dual_band"}}, "pending"); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("delivering a device already on the inventory: %v, want ErrDuplicate", err)
	}
	if _, err := s.GetHub(ctx, "H-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a failed delivery left hub H-1: %v", err)
	}
	if got, _ := s.GetHubOrder(ctx, "O-1"); !got.DeliveredAt.IsZero() {
		t.Fatalf("a failed delivery left the order delivered: %+v", got)
	}
	// Delivered in two parts: the order is delivered by the second, which
	// brings it to the three hubs it ordered; a part beyond that is stale.
	early := at.Add(-24 * time.Hour)
	must(t, s.DeliverHubOrder(ctx, "O-1", early, []store.Hub{{ID: "H-2", Variant: "single_band"}}, "pending"))
	if got, _ := s.GetHubOrder(ctx, "O-1"); !got.DeliveredAt.IsZero() {
		t.Fatalf("an order delivered in part is delivered: %+v", got)
	}
	if err := s.DeliverHubOrder(ctx, "O-1", at, []store.Hub{{ID: "H-4", Variant: "single_band"}, {ID: "H-5", Variant: "single_band"}, {ID: "H-6", Variant: "dual_band"}}, "pending"); !errors.Is(err, store.ErrStale) {
		t.Fatalf("a part beyond the order: %v, want ErrStale", err)
	}
	hubs := []store.Hub{{ID: "H-1", Variant: "single_band"}, {ID: "H-3", Variant: "dual_band"}}
	must(t, s.DeliverHubOrder(ctx, "O-1", at, hubs, "pending"))
	if err := s.DeliverHubOrder(ctx, "O-1", at, nil, "pending"); !errors.Is(err, store.ErrStale) {
		t.Fatalf("a delivery after the last: %v, want ErrStale", err)
	}
	if err := s.DeliverHubOrder(ctx, "O-9", at, nil, "pending"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delivery of no order: %v, want ErrNotFound", err)
	}
	if err := s.DeliverHubOrder(ctx, "O-0", at, []store.Hub{{ID: "H-1", Variant: "other"}}, "pending"); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("a hub delivered twice: %v, want ErrDuplicate", err)
	}
	list, err := s.ListHubs(ctx, store.HubFilter{Order: "O-1"})
	must(t, err)
	var ids []string
	for _, h := range list {
		ids = append(ids, h.ID)
		want := at
		if h.ID == "H-2" {
			want = early
		}
		if h.Order != "O-1" || h.Supplier != "A" || !h.DeliveredAt.Equal(want) || !h.InstalledAt.IsZero() || !h.RemovedAt.IsZero() {
			t.Fatalf("hub %+v", h)
		}
	}
	if !slices.Equal(ids, []string{"H-1", "H-2", "H-3"}) {
		t.Fatalf("hubs of O-1: %v", ids)
	}
	// Each hub's CHF is on the inventory, pending, since the delivery.
	d, err := st.GetDevice(ctx, "H-3")
	must(t, err)
	if d.Type != "CHF" || d.Status != "pending" || !d.UpdatedAt.Equal(at) {
		t.Fatalf("CHF %+v", d)
	}
	orders, err := s.HubOrders(ctx, "")
	must(t, err)
	if len(orders) != 2 || orders[0].ID != "O-0" || !orders[0].FreeReplacement || !orders[1].DeliveredAt.Equal(at) {
		t.Fatalf("orders %+v", orders)
	}
	if b, err := s.ListHubs(ctx, store.HubFilter{Supplier: "B"}); err != nil || len(b) != 0 {
		t.Fatalf("B's hubs %+v %v", b, err)
	}
}

func testHubLifecycle(t *testing.T, st store.Store, s store.Hubs) {
	ctx := t.Context()
	must(t, s.InsertHubOrder(ctx, store.HubOrder{ID: "O-1", Supplier: "A", OrderedAt: hubT0, Lines: []store.HubOrderLine{{Variant: "single_band", Quantity: 1}}}))
	must(t, s.DeliverHubOrder(ctx, "O-1", hubT0, []store.Hub{{ID: "H-1", Variant: "single_band"}}, "pending"))
	inst, comm := hubT0.Add(24*time.Hour), hubT0.Add(25*time.Hour)
	must(t, s.RecordHubInstalled(ctx, "H-1", inst, time.Time{}, "A", "domestic"))
	// Later calls keep what is set and fill in what is not.
	must(t, s.RecordHubInstalled(ctx, "H-1", comm, comm, "B", "non_domestic"))
	h, err := s.GetHub(ctx, "H-1")
	must(t, err)
	if !h.InstalledAt.Equal(inst) || !h.CommissionedAt.Equal(comm) || h.Installer != "A" || h.Premises != "domestic" {
		t.Fatalf("installed hub %+v", h)
	}
	if err := s.RecordHubInstalled(ctx, "H-9", inst, comm, "A", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("install of no hub: %v", err)
	}
	removed := hubT0.Add(30 * 24 * time.Hour)
	r := store.Hub{RemovedAt: removed, RemovedBy: "B", RemovalReason: "split_fuel_replacement", ReplacementVariant: "dual_band", CSPRequested: true, RefreshProgramme: "R1"}
	must(t, s.RemoveHub(ctx, "H-1", r, "decommissioned"))
	if err := s.RemoveHub(ctx, "H-1", r, "decommissioned"); !errors.Is(err, store.ErrStale) {
		t.Fatalf("second removal: %v, want ErrStale", err)
	}
	if err := s.RemoveHub(ctx, "H-9", r, "decommissioned"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("removal of no hub: %v", err)
	}
	if err := s.RecordHubInstalled(ctx, "H-1", inst, comm, "A", ""); !errors.Is(err, store.ErrStale) {
		t.Fatalf("install of a removed hub: %v, want ErrStale", err)
	}
	h, err = s.GetHub(ctx, "H-1")
	must(t, err)
	if !h.RemovedAt.Equal(removed) || h.RemovedBy != "B" || h.RemovalReason != "split_fuel_replacement" || h.ReplacementVariant != "dual_band" ||
		!h.CSPRequested || h.RefreshProgramme != "R1" {
		t.Fatalf("removed hub %+v", h)
	}
	d, err := st.GetDevice(ctx, "H-1")
	must(t, err)
	if d.Status != "decommissioned" || !d.UpdatedAt.Equal(removed) {
		t.Fatalf("CHF after removal %+v", d)
	}
	must(t, st.Reset(ctx))
	if hs, err := s.ListHubs(ctx, store.HubFilter{}); err != nil || len(hs) != 0 {
		t.Fatalf("after Reset: %+v %v", hs, err)
	}
}

func testHubDefaults(t *testing.T, st store.Store, s store.Hubs) {
	ctx := t.Context()
	for _, d := range []store.HubDefault{
		{Party: "B", Month: "2026-02", Invoice: "finance", RecordedAt: hubT0},
		{Party: "A", Month: "2026-02", Invoice: "service", RecordedAt: hubT0},
		{Party: "A", Month: "2026-01", Invoice: "finance", RecordedAt: hubT0},
		{Party: "A", Month: "2026-02", Invoice: "service", RecordedAt: hubT0.Add(time.Hour)}, // replaces
	} {
		must(t, s.PutHubDefault(ctx, d))
	}
	got, err := s.HubDefaults(ctx)
	must(t, err)
	want := []store.HubDefault{
		{Party: "A", Month: "2026-01", Invoice: "finance", RecordedAt: hubT0},
		{Party: "A", Month: "2026-02", Invoice: "service", RecordedAt: hubT0.Add(time.Hour)},
		{Party: "B", Month: "2026-02", Invoice: "finance", RecordedAt: hubT0},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("defaults %+v, want %+v", got, want)
	}
	must(t, st.Reset(ctx))
	if got, err := s.HubDefaults(ctx); err != nil || len(got) != 0 {
		t.Fatalf("after Reset: %+v %v", got, err)
	}
}
