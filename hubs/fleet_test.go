package hubs

import (
	"slices"
	"strings"
	"testing"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/spec"
)

// TestFleetDeliversInParts: an order is delivered in parts until all its
// hubs are (a first part closed it for good: "order O1 already
// delivered"), never more of a variant than ordered; each hub is charged
// from the month of its own part, and the parts are one batch.
func TestFleetDeliversInParts(t *testing.T) {
	clk := clock.NewVirtual(day("2026-01-02"))
	f := NewFleet(clk)
	f.Order(Order{ID: "O1", Supplier: "A", Region: "north", Lines: []OrderLine{{"single_band", 3}, {"dual_band", 1}}})
	f.Order(Order{ID: "O2", Supplier: "A", Region: "north", Lines: []OrderLine{{"single_band", 1}}})
	steps := []struct {
		note, on, order string
		hubs            []DeliveredHub
		err             string // "" taken
	}{
		{"a first part", "2026-01-05", "O1", hubIDs("A", 1, 2), ""},
		{"nothing", "2026-01-06", "O1", nil, "needs at least one hub"},
		{"a part past the dual band ordered", "2026-01-06", "O1", hubsOf("D", 1, 2, "dual_band"), `more hubs of variant "dual_band" than the 1 ordered`},
		{"a part past the single band ordered", "2026-01-06", "O1", hubIDs("A", 3, 4), `more hubs of variant "single_band" than the 3 ordered`},
		{"the rest", "2026-02-02", "O1", append(hubIDs("A", 3, 3), hubsOf("D", 1, 1, "dual_band")...), ""},
		{"more once delivered", "2026-02-03", "O1", hubIDs("A", 5, 5), "order O1 is delivered: all its 4 hubs"},
		{"a variant not ordered", "2026-02-03", "O2", hubsOf("X", 1, 1, "dual_band"), `more hubs of variant "dual_band" than the 0 ordered`},
		{"no such order", "2026-02-03", "O9", hubIDs("Z", 1, 1), "no order O9"},
	}
	for _, st := range steps {
		t.Run(st.note, func(t *testing.T) {
			clk.Set(day(st.on))
			err := f.Deliver(st.order, st.hubs...)
			if st.err == "" && err != nil || st.err != "" && (err == nil || !strings.Contains(err.Error(), st.err)) {
				t.Fatalf("err %v, want %q", err, st.err)
			}
		})
	}
	w := f.World()
	if got := w.Orders[0].Deliveries; len(got) != 2 || got[0].Date != "2026-01-05" || got[1].Date != "2026-02-02" || w.Orders[0].Delivery != nil {
		t.Fatalf("O1's deliveries %+v", w.Orders[0])
	}
	e, err := New(t.Context(), spec.MustDefault())
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(day("2026-03-01"))
	// Not installed, each hub's 47p a month is the receiving supplier's
	// from the month of its part: A01-A02 in January, all four in
	// February.
	charged := []struct {
		month string
		hubs  []string
		pence Pence
	}{
		{"2026-01", []string{"A01", "A02"}, 94},
		{"2026-02", []string{"A01", "A02", "A03", "D01"}, 188},
	}
	for _, c := range charged {
		t.Run("charges of "+c.month, func(t *testing.T) {
			m, err := ParseMonth(c.month)
			if err != nil {
				t.Fatal(err)
			}
			st, err := f.Charges(t.Context(), e, m)
			if err != nil {
				t.Fatal(err)
			}
			l := st.Line("A", "asset_not_installed")
			if l == nil || l.Amount != c.pence || !slices.Equal(l.Hubs, c.hubs) {
				t.Fatalf("asset_not_installed %+v, want %d for %v", l, c.pence, c.hubs)
			}
		})
	}
}

// TestBatchOfAnOrderInParts: the hubs of an order delivered in parts are
// one batch (para 356: "delivered in a single order"): a fault of one is
// counted against all of them.
func TestBatchOfAnOrderInParts(t *testing.T) {
	e, err := New(t.Context(), spec.MustDefault())
	if err != nil {
		t.Fatal(err)
	}
	w := &World{
		Orders: []Order{{ID: "O1", Supplier: "A", Region: "north", OrderedOn: "2026-01-02", Lines: []OrderLine{{"single_band", 2}},
			Deliveries: []Delivery{{Date: "2026-01-05", Hubs: hubIDs("H", 1, 1)}, {Date: "2026-02-02", Hubs: hubIDs("H", 2, 2)}}}},
		Installs: []Install{{Hub: "H01", Supplier: "A", InstalledOn: "2026-01-10", CommissionedOn: "2026-01-10", Premises: "domestic"}},
		Removals: []Removal{{Hub: "H01", Supplier: "A", Date: "2026-03-02", Reason: "fails_specification"}},
		Market:   []Market{{Month: "2026-01", Enrolled: map[string]int64{"A": 1}}},
	}
	b, err := e.Open(t.Context(), w)
	if err != nil {
		t.Fatal(err)
	}
	st, err := b.Statement(Month{Year: 2026, Mon: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.BatchFaults) != 1 || st.BatchFaults[0].Order != "O1" || st.BatchFaults[0].Delivered != 2 || !slices.Equal(st.BatchFaults[0].FaultHubs, []string{"H01"}) {
		t.Fatalf("batch faults %+v", st.BatchFaults)
	}
}
