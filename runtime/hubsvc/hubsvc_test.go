package hubsvc_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/hubs"
	"github.com/dccgate/dccgate/runtime/hubsvc"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/sqlite"
	"github.com/dccgate/dccgate/runtime/store/sqlstore"
	"github.com/dccgate/dccgate/spec"
)

const (
	alpha, beta, gamma = "00-00-00-00-00-00-0A-01", "00-00-00-00-00-00-0B-01", "00-00-00-00-00-00-0C-01"
	hub, esme          = "00-DB-00-00-01-00-C0-01", "00-DB-00-00-01-00-E0-01"
)

// TestLifecycleFromInventory: a hub's installation and commissioning are
// read from its CHF's inventory status, dated by the status change; its
// installer is the Supplier the Registration Data names for a meter on
// it (beta here, not alpha that received it), who may then see and
// remove it; a Supplier it does not concern may not.
func TestLifecycleFromInventory(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v := clock.NewVirtual(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	sp := spec.MustDefault()
	svc, err := hubsvc.New(hubsvc.Config{Store: st, Spec: sp, Clock: v,
		Enrolled: func(context.Context, time.Time) (map[string]int, error) { return map[string]int{beta: 1}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.User{{ID: alpha, Role: "EIS"}, {ID: beta, Role: "EIS"}, {ID: gamma, Role: "EIS"}} {
		if err := st.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Order(ctx, alpha, hubsvc.OrderInput{ID: "O-1", Region: "north", Lines: []store.HubOrderLine{{Variant: "single_band", Quantity: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Deliver(ctx, "O-1", []hubsvc.DeliveredHub{{ID: hub, Variant: "single_band"}}); err != nil {
		t.Fatal(err)
	}
	// The meter installed on the hub is beta's.
	if err := st.PutRegistration(ctx, store.Registration{MPxN: "1900000000001", Fuel: "electricity", ImportSupplier: beta}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutDevice(ctx, store.Device{ID: esme, Type: "ESME", Status: "pending", MPxN: "1900000000001", CHF: hub, UpdatedAt: v.Now()}); err != nil {
		t.Fatal(err)
	}
	inst, comm := time.Date(2026, 1, 7, 10, 0, 0, 0, time.UTC), time.Date(2026, 2, 2, 11, 0, 0, 0, time.UTC)
	lc := sp.Hubs.Lifecycle
	steps := []struct {
		note             string
		from, to         string
		at               time.Time
		wantInst, wantCo time.Time
	}{
		{"still pending", "", "", time.Time{}, time.Time{}, time.Time{}},
		{"installed, not commissioned", lc["delivered"], lc["installed"], inst, inst, time.Time{}},
		{"commissioned on joining the SMWAN", lc["installed"], lc["commissioned"], comm, inst, comm},
	}
	for _, tc := range steps {
		t.Run(tc.note, func(t *testing.T) {
			if tc.to != "" {
				v.Advance(tc.at.Sub(v.Now()))
				if err := st.SetDeviceStatus(ctx, hub, tc.from, tc.to, v.Now()); err != nil {
					t.Fatal(err)
				}
			}
			hs, err := svc.Hubs(ctx, alpha)
			if err != nil || len(hs) != 1 {
				t.Fatalf("alpha's hubs %+v %v", hs, err)
			}
			h := hs[0]
			if !h.InstalledAt.Equal(tc.wantInst) || !h.CommissionedAt.Equal(tc.wantCo) {
				t.Fatalf("installed %s commissioned %s, want %s %s", h.InstalledAt, h.CommissionedAt, tc.wantInst, tc.wantCo)
			}
			if !tc.wantInst.IsZero() && h.Installer != beta {
				t.Fatalf("installer %q, want beta", h.Installer)
			}
		})
	}
	if hs, _ := svc.Hubs(ctx, beta); len(hs) != 1 {
		t.Fatalf("the installer's hubs: %+v", hs)
	}
	if _, err := svc.Remove(ctx, gamma, hub, hubsvc.RemovalInput{Reason: "no_fault_found"}); !errors.Is(err, &hubsvc.Error{Code: hubsvc.CodeNotFound}) {
		t.Fatalf("removal by a Supplier the hub does not concern: %v", err)
	}
	v.Advance(24 * time.Hour)
	h, err := svc.Remove(ctx, beta, hub, hubsvc.RemovalInput{Reason: "no_fault_found"})
	if err != nil || h.RemovedBy != beta || !h.RemovedAt.Equal(v.Now()) {
		t.Fatalf("removal by the installer: %+v %v", h, err)
	}
	if d, _ := st.GetDevice(ctx, hub); d.Status != lc["removed"] {
		t.Fatalf("CHF after removal: %+v", d)
	}
	// A removed hub keeps the dates it had.
	if hs, _ := svc.Hubs(ctx, alpha); !hs[0].CommissionedAt.Equal(comm) {
		t.Fatalf("after removal %+v", hs[0])
	}
	// February, not ended: provisional, with beta's removal decided by the
	// policy (no fault found: 80% of the remaining cost to beta).
	m := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	full, err := svc.Statement(ctx, hubsMonth(m))
	if err != nil {
		t.Fatal(err)
	}
	if !full.Provisional || len(full.Removals) != 1 || full.Removals[0].Supplier != beta || full.Removals[0].Category != "no_fault_found" {
		t.Fatalf("February: provisional %v, removals %+v", full.Provisional, full.Removals)
	}
	// 5555p over 120 months, January's 47p charged: 5508p remain, 80% =
	// 4406.4, rounded down to 4406p.
	if r := full.Removals[0]; r.Remaining != 5508 || r.Recovered != 4406 {
		t.Fatalf("removal %+v", r)
	}
}

func hubsMonth(t time.Time) hubs.Month { return hubs.MonthOf(t) }

// TestOrderAndForecastRefusals: an order's lines each order one hub or
// more and add up to no more than an int counts (delivering one that
// wrapped said "more ... than the -9223372036854775808 ordered"); an order
// names a CSP region (the regions named from the spec's hubs.regions); a forecast is
// not of a month that has passed. Each refusal has its code and clause.
func TestOrderAndForecastRefusals(t *testing.T) {
	ctx := t.Context()
	svc, st, v := newService(t, time.Date(2026, 3, 31, 23, 0, 0, 0, time.UTC), nil, alpha)
	regions := spec.MustDefault().Hubs.Regions
	line := func(q int) store.HubOrderLine { return store.HubOrderLine{Variant: "single_band", Quantity: q} }
	tests := []struct {
		note     string
		order    *hubsvc.OrderInput
		forecast *store.HubForecast
		code     string // "" accepted
		says     []string
	}{
		{note: "an order", order: &hubsvc.OrderInput{Region: "south", Lines: []store.HubOrderLine{line(2), line(3)}}},
		{note: "an order of as many hubs as an int counts", order: &hubsvc.OrderInput{Region: "north", Lines: []store.HubOrderLine{line(math.MaxInt - 1), line(1)}}},
		{note: "lines adding up past an int", order: &hubsvc.OrderInput{Region: "south", Lines: []store.HubOrderLine{line(math.MaxInt), line(1)}},
			code: hubsvc.CodeQuantity, says: []string{"lines[1]: quantity 1: the lines add up to more than 9223372036854775807 hubs (para 320-322)"}},
		{note: "a line of no hubs", order: &hubsvc.OrderInput{Region: "south", Lines: []store.HubOrderLine{line(1), line(0)}},
			code: hubsvc.CodeQuantity, says: []string{"lines[1]: quantity 0: a line orders one hub or more"}},
		{note: "a line of fewer than none", order: &hubsvc.OrderInput{Region: "south", Lines: []store.HubOrderLine{line(math.MinInt)}},
			code: hubsvc.CodeQuantity, says: []string{"lines[0]: quantity -9223372036854775808"}},
		{note: "no region", order: &hubsvc.OrderInput{Lines: []store.HubOrderLine{line(1)}},
			code: hubsvc.CodeRegion, says: []string{"no region", "one of " + strings.Join(regions.Names(), ", ") + " (" + regions.Clause + ")"}},
		{note: "an unknown region", order: &hubsvc.OrderInput{Region: "midlands", Lines: []store.HubOrderLine{line(1)}},
			code: hubsvc.CodeRegion, says: []string{`unknown region "midlands"`}},
		{note: "a forecast of this month", forecast: &store.HubForecast{Month: "2026-03", Variant: "single_band", Quantity: 4}},
		{note: "a forecast of next month", forecast: &store.HubForecast{Month: "2026-04", Variant: "single_band", Quantity: 4}},
		{note: "a forecast of last month", forecast: &store.HubForecast{Month: "2026-02", Variant: "single_band", Quantity: 4},
			code: hubsvc.CodeMonthPassed, says: []string{"month 2026-02 has passed (it is 2026-03)", "(para 290)"}},
		{note: "a forecast of long ago", forecast: &store.HubForecast{Month: "0001-01", Variant: "single_band", Quantity: 4},
			code: hubsvc.CodeMonthPassed},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			var err error
			if tc.order != nil {
				_, err = svc.Order(ctx, alpha, *tc.order)
			} else {
				_, err = svc.Forecast(ctx, alpha, *tc.forecast)
			}
			refusedAs(t, err, tc.code, tc.says)
		})
	}
	// Nothing refused was kept.
	os, err := svc.Orders(ctx, alpha)
	if err != nil || len(os) != 2 {
		t.Fatalf("orders %+v %v", os, err)
	}
	// An order whose lines wrapped, kept before Order refused them, is not
	// delivered against a negative count.
	wrapped := store.HubOrder{ID: "O-WRAPPED", Supplier: alpha, Region: "south", OrderedAt: v.Now(),
		Lines: []store.HubOrderLine{line(math.MaxInt), line(1)}}
	if err := st.InsertHubOrder(ctx, wrapped); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Deliver(ctx, wrapped.ID, []hubsvc.DeliveredHub{{ID: hub, Variant: "single_band"}})
	if !errors.Is(err, &hubsvc.Error{Code: hubsvc.CodeQuantity}) || strings.Contains(err.Error(), "-9223372036854775808") {
		t.Fatalf("delivery of a wrapped order: %v", err)
	}
	fs, err := svc.Forecasts(ctx, alpha)
	if err != nil || len(fs) != 2 {
		t.Fatalf("forecasts %+v %v", fs, err)
	}
}

// TestMonthsAndUnpaidInvoices: a statement is of a month whose times the
// store holds (0000-01 gave an empty statement), refused otherwise with
// the reports' month_out_of_range and the range; an unpaid invoice is one
// with something owed on it (a default of an invoice of £0 was recorded).
// Alpha's hub, delivered in January 2026 and not installed, puts 47p and
// the float's top-up on alpha's January finance invoice; beta, with no
// hubs, owes nothing on it, and no one owes anything on the service
// invoice (no hub commissioned) or before the first delivery.
func TestMonthsAndUnpaidInvoices(t *testing.T) {
	ctx := t.Context()
	svc, st, v := newService(t, time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), map[string]int{alpha: 1, beta: 1}, alpha, beta)
	if _, err := svc.Order(ctx, alpha, hubsvc.OrderInput{ID: "O-1", Region: "north", Lines: []store.HubOrderLine{{Variant: "single_band", Quantity: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Deliver(ctx, "O-1", []hubsvc.DeliveredHub{{ID: hub, Variant: "single_band"}}); err != nil {
		t.Fatal(err)
	}
	v.Set(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	const rangeSaid = "a month from 1677-10 to 2262-03"
	tests := []struct {
		note      string
		statement string // the month of a statement, or
		party     string // of an unpaid invoice
		month     string
		invoice   string
		code      string // "" accepted
		says      []string
	}{
		{note: "January's statement", statement: "2026-01"},
		{note: "the first month the store holds", statement: "1677-10"},
		{note: "the last month the store holds", statement: "2262-03"},
		{note: "a statement of year 0", statement: "0000-01", code: hubsvc.CodeMonthOutOfRange, says: []string{"month 0000-01", rangeSaid}},
		{note: "a statement of a month the store ends in", statement: "2262-04", code: hubsvc.CodeMonthOutOfRange, says: []string{rangeSaid}},
		{note: "a statement of a month the store begins in", statement: "1677-09", code: hubsvc.CodeMonthOutOfRange, says: []string{rangeSaid}},
		{note: "alpha's January finance invoice unpaid", party: alpha, month: "2026-01", invoice: "finance"},
		{note: "beta's January finance invoice of nothing", party: beta, month: "2026-01", invoice: "finance", code: hubsvc.CodeNothingOwed,
			says: []string{beta + " owed nothing on its finance invoice of 2026-01 (GBP 0.00)", "(para 369)"}},
		{note: "alpha's January service invoice of nothing", party: alpha, month: "2026-01", invoice: "service", code: hubsvc.CodeNothingOwed},
		{note: "alpha's invoice of a month before its hubs", party: alpha, month: "2025-12", invoice: "finance", code: hubsvc.CodeNothingOwed},
		{note: "an invoice of year 0", party: alpha, month: "0000-01", invoice: "finance", code: hubsvc.CodeMonthOutOfRange, says: []string{rangeSaid}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			var err error
			if tc.statement != "" {
				m, perr := hubs.ParseMonth(tc.statement)
				if perr != nil {
					t.Fatal(perr)
				}
				_, err = svc.Statement(ctx, m)
			} else {
				_, err = svc.RecordUnpaid(ctx, tc.party, tc.month, tc.invoice)
			}
			refusedAs(t, err, tc.code, tc.says)
		})
	}
	// Only the invoice owed on was recorded.
	ds, err := st.HubDefaults(ctx)
	if err != nil || len(ds) != 1 || ds[0].Party != alpha || ds[0].Invoice != "finance" {
		t.Fatalf("defaults %+v %v", ds, err)
	}
}

// refusedAs checks err is nil where code is "", else a refusal of that
// code whose message says each of says.
func refusedAs(t *testing.T, err error, code string, says []string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if !errors.Is(err, &hubsvc.Error{Code: code}) {
		t.Fatalf("err %v, want %s", err, code)
	}
	for _, s := range says {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%q does not say %q", err, s)
		}
	}
}

// TestDeliveryInParts: an order may be delivered in parts, each hub with
// its own delivery time; the order is delivered with its last part, and a
// part beyond what it ordered is refused (a second part was refused as
// "delivered already").
func TestDeliveryInParts(t *testing.T) {
	ctx := t.Context()
	svc, st, v := newService(t, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), nil, alpha)
	if _, err := svc.Order(ctx, alpha, hubsvc.OrderInput{ID: "O-P", Region: "north", Lines: []store.HubOrderLine{{Variant: "single_band", Quantity: 2}}}); err != nil {
		t.Fatal(err)
	}
	first := v.Now()
	o, err := svc.Deliver(ctx, "O-P", []hubsvc.DeliveredHub{{ID: "00-DB-00-00-09-00-C0-01", Variant: "single_band"}})
	if err != nil || !o.DeliveredAt.IsZero() {
		t.Fatalf("the first part: %+v %v", o, err)
	}
	v.Set(first.Add(24 * time.Hour))
	o, err = svc.Deliver(ctx, "O-P", []hubsvc.DeliveredHub{{ID: "00-DB-00-00-09-00-C0-02", Variant: "single_band"}})
	if err != nil || !o.DeliveredAt.Equal(v.Now()) {
		t.Fatalf("the last part: %+v %v", o, err)
	}
	if _, err := svc.Deliver(ctx, "O-P", []hubsvc.DeliveredHub{{ID: "00-DB-00-00-09-00-C0-03", Variant: "single_band"}}); !errors.Is(err, &hubsvc.Error{Code: hubsvc.CodeConflict}) {
		t.Fatalf("a part beyond the order: %v", err)
	}
	hs, err := st.ListHubs(ctx, store.HubFilter{Order: "O-P"})
	if err != nil || len(hs) != 2 || !hs[0].DeliveredAt.Equal(first) || !hs[1].DeliveredAt.Equal(first.Add(24*time.Hour)) {
		t.Fatalf("hubs %+v %v", hs, err)
	}
}

// TestMayOrder: MayOrder answers as Forecast and Order do: nil to a
// Supplier, else their not_permitted refusal saying why (a network
// operator, a user the gateway does not know).
func TestMayOrder(t *testing.T) {
	ctx := t.Context()
	const operator, stranger = "00-00-00-00-00-00-0E-01", "00-00-00-00-00-00-0F-09"
	svc, st, _ := newService(t, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), nil, alpha)
	if err := st.PutUser(ctx, store.User{ID: operator, Role: "ENO"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		note, caller string
		code         string // "" may order
		says         []string
	}{
		{note: "a Supplier", caller: alpha},
		{note: "a network operator", caller: operator, code: hubsvc.CodeNotPermitted, says: []string{"only Suppliers", "(para 290, 333)", operator + " is ENO"}},
		{note: "no user", caller: stranger, code: hubsvc.CodeNotPermitted, says: []string{stranger + " is not a DCC User"}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			err := svc.MayOrder(ctx, tc.caller)
			refusedAs(t, err, tc.code, tc.says)
			_, ferr := svc.Forecast(ctx, tc.caller, store.HubForecast{Month: "2026-04", Variant: "single_band", Quantity: 1})
			_, oerr := svc.Order(ctx, tc.caller, hubsvc.OrderInput{Region: "north", Lines: []store.HubOrderLine{{Variant: "single_band", Quantity: 1}}})
			for _, got := range []error{ferr, oerr} {
				if fmt.Sprint(got) != fmt.Sprint(err) {
					t.Errorf("MayOrder says %v, the call %v", err, got)
				}
			}
		})
	}
}

// newService is a hub service on a store of its own, its clock at start,
// with the Supplier users given (EIS) and enrolled as enrolled says.
func newService(t *testing.T, start time.Time, enrolled map[string]int, users ...string) (*hubsvc.Service, *sqlstore.Store, *clock.Virtual) {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v := clock.NewVirtual(start)
	svc, err := hubsvc.New(hubsvc.Config{Store: st, Spec: spec.MustDefault(), Clock: v,
		Enrolled: func(context.Context, time.Time) (map[string]int, error) { return enrolled, nil }})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if err := st.PutUser(ctx, store.User{ID: u, Role: "EIS"}); err != nil {
			t.Fatal(err)
		}
	}
	return svc, st, v
}
