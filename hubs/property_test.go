package hubs

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/dccgate/dccgate/spec"
)

// randomWorld builds a fleet of random orders, installs, removals of every
// reason, market data and defaults over 2026, from a seed.
func randomWorld(s *spec.Spec, seed uint64) *World {
	r := rand.New(rand.NewPCG(seed, seed*7+1))
	var variants, reasons, tranches []string
	for v := range s.Hubs.HANVariants {
		variants = append(variants, v)
	}
	for k := range s.Hubs.RemovalReasons {
		reasons = append(reasons, k)
	}
	for k := range s.Hubs.Tranches {
		tranches = append(tranches, k)
	}
	sort.Strings(variants)
	sort.Strings(reasons)
	sort.Strings(tranches)
	suppliers := []string{"A", "B", "C", "D"}[:1+r.IntN(4)]
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	date := func(after time.Time, within int) time.Time { return after.AddDate(0, 0, r.IntN(within+1)) }
	w := &World{}
	n := 0
	for o := range 1 + r.IntN(6) {
		sup := suppliers[r.IntN(len(suppliers))]
		d := date(start, 300)
		ord := Order{ID: fmt.Sprintf("O%d", o), Supplier: sup, Region: []string{"north", "south"}[r.IntN(2)],
			Tranche: tranches[r.IntN(len(tranches))], FreeReplacement: r.IntN(8) == 0,
			Delivery: &Delivery{Date: d.Format(dateLayout)}}
		count := map[string]int{}
		for range 1 + r.IntN(25) {
			n++
			v := variants[r.IntN(len(variants))]
			count[v]++
			id := fmt.Sprintf("H%03d", n)
			ord.Delivery.Hubs = append(ord.Delivery.Hubs, DeliveredHub{ID: id, Variant: v})
			installed := time.Time{}
			if r.IntN(5) > 0 {
				installed = date(d, 60)
				in := Install{Hub: id, Supplier: suppliers[r.IntN(len(suppliers))], InstalledOn: installed.Format(dateLayout),
					Premises: []string{"domestic", "non_domestic"}[r.IntN(2)]}
				if r.IntN(4) > 0 {
					in.CommissionedOn = date(installed, 20).Format(dateLayout)
					installed, _ = parseDate(in.CommissionedOn)
				}
				w.Installs = append(w.Installs, in)
			} else {
				installed = d
			}
			if r.IntN(3) == 0 {
				w.Removals = append(w.Removals, Removal{Hub: id, Supplier: suppliers[r.IntN(len(suppliers))],
					Date: date(installed, 200).Format(dateLayout), Reason: reasons[r.IntN(len(reasons))],
					ReplacementVariant: variants[r.IntN(len(variants))], CSPRequested: r.IntN(2) == 0,
					RefreshProgramme: []string{"", "R1"}[r.IntN(2)]})
			}
		}
		for v, c := range count {
			ord.Lines = append(ord.Lines, OrderLine{Variant: v, Quantity: c})
		}
		sort.Slice(ord.Lines, func(i, j int) bool { return ord.Lines[i].Variant < ord.Lines[j].Variant })
		w.Orders = append(w.Orders, ord)
	}
	for m := 1; m <= 12; m += 1 + r.IntN(4) {
		mk := Market{Month: fmt.Sprintf("2026-%02d", m), Enrolled: map[string]int64{}, EnrolledNonDomestic: map[string]int64{}}
		for i, s := range suppliers {
			mk.Enrolled[s] = int64(r.IntN(100000))
			mk.EnrolledNonDomestic[s] = int64(r.IntN(500))
			if i == 0 {
				mk.Enrolled[s]++
				mk.EnrolledNonDomestic[s]++
			}
		}
		if m == 1 {
			mk.Month = "2025-12"
		}
		w.Market = append(w.Market, mk)
	}
	for range r.IntN(3) {
		w.Defaults = append(w.Defaults, Default{Party: suppliers[r.IntN(len(suppliers))],
			Month: fmt.Sprintf("2026-%02d", 1+r.IntN(12)), Invoice: []string{"finance", "service"}[r.IntN(2)]})
	}
	return w
}

// TestSharesSumToTheAmountSmeared: for any fleet, in every month, each
// pool's shares, and the lines drawn from it, sum exactly to the pool; each
// unpaid invoice is socialised to the penny; the float's top up lines sum to
// the top up; the type fault credits sum to the damages.
func TestSharesSumToTheAmountSmeared(t *testing.T) {
	s := spec.MustDefault()
	e, err := New(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	seeds := 150
	if testing.Short() {
		seeds = 15
	}
	smeared := 0
	for seed := range uint64(seeds) {
		w := randomWorld(s, seed)
		b, err := e.Open(t.Context(), w)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		var prev *Statement
		for m := (Month{Year: 2026, Mon: time.January}); m.Before(Month{Year: 2027, Mon: time.March}); m = m.Add(1) {
			st, err := b.Statement(m)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			sumKind := map[string]Pence{}
			for _, inv := range st.Invoices {
				var total Pence
				for _, l := range inv.Lines {
					sumKind[l.Kind] += l.Amount
					total += l.Amount
				}
				if total != inv.Total {
					t.Fatalf("seed %d %s: %s %s total %d, lines %d", seed, m, inv.Party, inv.Invoice, inv.Total, total)
				}
			}
			for _, p := range st.Pools {
				smeared++
				var shares, items, lines Pence
				for _, sh := range p.Shares {
					shares += sh.Amount
				}
				for _, it := range p.Items {
					items += it.Amount
				}
				for _, inv := range st.Invoices {
					for _, l := range inv.Lines {
						if l.Pool == p.Kind {
							lines += l.Amount
						}
					}
				}
				if shares != p.Total || items != p.Total || lines != p.Total {
					t.Fatalf("seed %d %s pool %s: total %d, shares %d, items %d, lines %d", seed, m, p.Kind, p.Total, shares, items, lines)
				}
			}
			if sumKind["float_top_up"] != st.Float.TopUp {
				t.Fatalf("seed %d %s: float top up %d, lines %d", seed, m, st.Float.TopUp, sumKind["float_top_up"])
			}
			var damages Pence
			for _, tf := range st.TypeFaults {
				damages += tf.Damages
			}
			if sumKind["type_fault_compensation"] != 0 || damages != 0 {
				var credits Pence
				for _, inv := range st.Invoices {
					if inv.Party == s.Hubs.CSPParty {
						continue
					}
					for _, l := range inv.Lines {
						if l.Kind == "type_fault_compensation" {
							credits += l.Amount
						}
					}
				}
				if credits != -damages {
					t.Fatalf("seed %d %s: type fault damages %d, credits %d", seed, m, damages, credits)
				}
			}
			if prev != nil {
				want := map[string]Pence{}
				for _, d := range append(append([]DefaultResult(nil), prev.Defaults...), prev.Carried...) {
					if d.Unpaid > 0 {
						want[s.Hubs.Invoices[d.Invoice].BadDebtKind] += d.Unpaid
					}
				}
				for _, d := range st.Carried {
					want[s.Hubs.Invoices[d.Invoice].BadDebtKind] -= d.Unpaid
				}
				for kind, u := range want {
					if sumKind[kind] != u {
						t.Fatalf("seed %d %s: %s socialised %d of %d unpaid", seed, m, kind, sumKind[kind], u)
					}
				}
			}
			if st.Float.Closing < 0 {
				t.Fatalf("seed %d %s: float below zero", seed, m)
			}
			prev = st
		}
	}
	if smeared < 100 {
		t.Fatalf("only %d pools smeared: the generator is too thin", smeared)
	}
}

func TestWorldIsChecked(t *testing.T) {
	e, err := New(t.Context(), spec.MustDefault())
	if err != nil {
		t.Fatal(err)
	}
	base := func() *World {
		return &World{
			Orders: []Order{{ID: "O1", Supplier: "A", Lines: []OrderLine{{"single_band", 2}},
				Delivery: &Delivery{Date: "2026-01-05", Hubs: []DeliveredHub{{"H1", "single_band"}, {"H2", "single_band"}}}}},
			Installs: []Install{{Hub: "H1", Supplier: "A", InstalledOn: "2026-01-10"}},
		}
	}
	tests := []struct {
		note string
		edit func(w *World)
		want string
	}{
		{"unknown variant", func(w *World) { w.Orders[0].Lines[0].Variant = "5g" }, `orders[0].lines[0]: unknown HAN variant "5g"`},
		{"over delivered", func(w *World) { w.Orders[0].Lines[0].Quantity = 1 }, "orders[0].delivery: 2 hubs of variant single_band delivered, 1 ordered"},
		{"over delivered in parts", func(w *World) {
			o := &w.Orders[0]
			o.Deliveries = []Delivery{*o.Delivery, {Date: "2026-02-02", Hubs: []DeliveredHub{{"H3", "single_band"}}}}
			o.Delivery = nil
		}, "orders[0].deliveries: 3 hubs of variant single_band delivered, 2 ordered"},
		{"a part delivered before the order", func(w *World) {
			o := &w.Orders[0]
			o.OrderedOn = "2026-01-02"
			o.Deliveries = []Delivery{{Date: "2026-01-05", Hubs: o.Delivery.Hubs[:1]}, {Date: "2026-01-01", Hubs: o.Delivery.Hubs[1:]}}
			o.Delivery = nil
		}, "orders[0].deliveries[1]: delivered 2026-01-01 before it was ordered"},
		{"a delivery and parts", func(w *World) {
			w.Orders[0].Deliveries = []Delivery{{Date: "2026-02-02", Hubs: []DeliveredHub{{"H3", "single_band"}}}}
		}, "orders[0]: give the order's delivery, or its deliveries in parts, not both"},
		{"a line of no hubs", func(w *World) { w.Orders[0].Lines[0].Quantity = 0 }, "orders[0].lines[0]: quantity 0: a line orders one hub or more"},
		{"lines adding up past an int", func(w *World) {
			w.Orders[0].Lines = []OrderLine{{"single_band", math.MaxInt}, {"single_band", 1}}
		}, "orders[0].lines[1]: quantity 1: the lines add up to more than"},
		{"installed before delivery", func(w *World) { w.Installs[0].InstalledOn = "2026-01-01" }, "before its delivery"},
		{"unknown hub", func(w *World) { w.Installs[0].Hub = "H9" }, `installs[0]: hub "H9" was not delivered`},
		{"unknown reason", func(w *World) {
			w.Removals = []Removal{{Hub: "H1", Supplier: "A", Date: "2026-02-01", Reason: "gremlins"}}
		}, `unknown removal reason "gremlins"`},
		{"removed twice", func(w *World) {
			r := Removal{Hub: "H1", Supplier: "A", Date: "2026-02-01", Reason: "lost_or_stolen"}
			w.Removals = []Removal{r, r}
		}, "removed twice"},
		{"bad month", func(w *World) { w.Market = []Market{{Month: "2026-13"}} }, "market[0]"},
		{"unknown invoice", func(w *World) { w.Defaults = []Default{{Party: "A", Month: "2026-01", Invoice: "gas"}} }, `unknown invoice "gas"`},
		{"csp statement is not payable", func(w *World) { w.Defaults = []Default{{Party: "A", Month: "2026-01", Invoice: "csp"}} }, "not one a party pays"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			w := base()
			tc.edit(w)
			_, err := e.Open(t.Context(), w)
			if err == nil || !contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	// No market data for a month with an installed hub to smear.
	b, err := e.Open(t.Context(), base())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Statement(Month{Year: 2026, Mon: time.January}); err == nil || !contains(err.Error(), "no market data") {
		t.Fatalf("smear without market data: %v", err)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestExampleWorld(t *testing.T) {
	e, err := New(t.Context(), spec.MustDefault())
	if err != nil {
		t.Fatal(err)
	}
	w, err := LoadWorld("testdata/world.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Open(t.Context(), w)
	if err != nil {
		t.Fatal(err)
	}
	st, err := b.Statement(Month{Year: 2026, Mon: time.March})
	if err != nil {
		t.Fatal(err)
	}
	// C0-02 (split fuel by SUPB) and C0-04 (non-domestic opt out) each have
	// 5555 - 2 x 47 = 5461 left; 80% = 4368.8 -> 4368 smeared, 1093
	// written off each.
	eq(t, "split fuel pool", poolTotal(st, "remaining_asset_split_fuel"), 4368)
	eq(t, "opt out pool", poolTotal(st, "remaining_asset_non_domestic"), 4368)
	eq(t, "written off", amount(st, "CSP", "asset_written_off"), 2186)
	// Commissioned CHFs at the end of March, counted from the world: C0-01
	// (SUPA) and C1-01 (SUPB): 4368 / 2 each.
	eq(t, "SUPA split fuel", amount(st, "SUPA", "remaining_asset_split_fuel"), 2184)
	// SUPB did not pay February's finance invoice; March shares it to SUPA.
	feb, _ := b.Statement(Month{Year: 2026, Mon: time.February})
	eq(t, "SUPA bad debt", amount(st, "SUPA", "bad_debt"), feb.Invoice("SUPB", "finance").Total)
}
