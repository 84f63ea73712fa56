package hubs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/spec"
)

func day(s string) time.Time {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

func hubIDs(prefix string, from, to int) []DeliveredHub {
	return hubsOf(prefix, from, to, "single_band")
}

func hubsOf(prefix string, from, to int, variant string) []DeliveredHub {
	var out []DeliveredHub
	for i := from; i <= to; i++ {
		out = append(out, DeliveredHub{ID: fmt.Sprintf("%s%02d", prefix, i), Variant: variant})
	}
	return out
}

// yearFleet runs 2026 on a virtual clock: three suppliers, four orders,
// installations and removals of every kind the source lists, and one unpaid
// invoice. The figures the tests expect are worked by hand from it.
//
// Spec numbers used (spec/hubs.cue): initial tranche 5555p over 120 months,
// so 47p in each of a hub's first 35 months (5555 = 46 x 120 + 35);
// subsequent tranche 4800p, 40p a month; maintenance 23p a commissioned hub
// a month; differentials dual band 850p, other 400p; no-fault recovery 80%;
// type fault 0.5%, batch fault 10% within 12 months, GBP 50 a fault;
// refresh site visit 5000p; float 3 months.
//
// Orders (region north):
//
//	O1  A  initial     delivered 2026-01-05  A01-A20 single band
//	O2  B  subsequent  delivered 2026-02-02  B01-B02 dual band, B03-B06 other
//	O3  C  subsequent  delivered 2026-03-02  C01-C04 single band
//	O4  B  free replacement (para 334), delivered 2026-05-04  R01 dual band
//
// Installations (commissioned the same day unless said):
//
//	A01-A10 01-20; A11-A18 03-10 (A11 non-domestic); A19 04-08, its CHF
//	commissioned 06-03; A20 never (lost from stock); B01-B04 02-16 (B01
//	non-domestic); B05-B06 07-06; C01-C04 03-16; R01 (by B) 05-11.
//
// Removals:
//
//	04-14 A01 fails_specification      05-12 A02 fails_specification
//	05-20 A20 lost_or_stolen (stock)    06-09 A03 fails_specification
//	06-23 B03 smwan_coverage, CSP asked 07-14 A04 smwan_coverage, not asked
//	08-11 A05 physical_damage           08-25 A06 support_materials
//	09-08 A07 no_fault_found            09-15 A08 lost_or_stolen
//	10-06 A11 non_domestic_opt_out      10-13 A12 split fuel, by B, dual band
//	10-20 B02 non_domestic_opt_out of a domestic premises
//	11-10 C01 technology_refresh R-2026 11-17 C02 fails_specification
//	12-01 A09 fails_specification
//
// Market: enrolled A30 B10 from January, A50 B30 C20 from March, A45 B35
// C20 from July; non-domestic enrolled A2 B1; commissioned CHFs A5 B3 C2
// from July. C does not pay its finance invoice of September.
func yearFleet(t *testing.T) (*Fleet, *clock.Virtual) {
	t.Helper()
	clk := clock.NewVirtual(day("2026-01-01"))
	f := NewFleet(clk)
	at := func(d string) { clk.Set(day(d)) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	install := func(ids []string, supplier, premises string, commissioned bool) {
		for _, id := range ids {
			f.Install(id, supplier, premises, commissioned)
		}
	}
	ids := func(hs []DeliveredHub) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.ID)
		}
		return out
	}
	f.Market(Market{Month: "2026-01", Enrolled: map[string]int64{"A": 30, "B": 10},
		EnrolledNonDomestic: map[string]int64{"A": 2, "B": 1}})
	f.Market(Market{Month: "2026-03", Enrolled: map[string]int64{"A": 50, "B": 30, "C": 20},
		EnrolledNonDomestic: map[string]int64{"A": 2, "B": 1}})
	f.Market(Market{Month: "2026-07", Enrolled: map[string]int64{"A": 45, "B": 35, "C": 20},
		EnrolledNonDomestic: map[string]int64{"A": 2, "B": 1}, CommissionedCHF: map[string]int64{"A": 5, "B": 3, "C": 2}})

	at("2026-01-02")
	f.Forecast(Forecast{Supplier: "A", Month: "2026-01", Variant: "single_band", Quantity: 20})
	f.Order(Order{ID: "O1", Supplier: "A", Region: "north", Tranche: "initial", Lines: []OrderLine{{"single_band", 20}}})
	at("2026-01-05")
	must(f.Deliver("O1", hubIDs("A", 1, 20)...))
	at("2026-01-20")
	install(ids(hubIDs("A", 1, 10)), "A", "domestic", true)
	at("2026-01-25")
	f.Order(Order{ID: "O2", Supplier: "B", Region: "north", Tranche: "subsequent", Lines: []OrderLine{{"dual_band", 2}, {"other", 4}}})
	at("2026-02-02")
	must(f.Deliver("O2", append(hubsOf("B", 1, 2, "dual_band"), hubsOf("B", 3, 6, "other")...)...))
	at("2026-02-16")
	install([]string{"B01"}, "B", "non_domestic", true)
	install([]string{"B02", "B03", "B04"}, "B", "domestic", true)
	at("2026-02-20")
	f.Order(Order{ID: "O3", Supplier: "C", Region: "north", Tranche: "subsequent", Lines: []OrderLine{{"single_band", 4}}})
	at("2026-03-02")
	must(f.Deliver("O3", hubIDs("C", 1, 4)...))
	at("2026-03-10")
	install([]string{"A11"}, "A", "non_domestic", true)
	install(ids(hubIDs("A", 12, 18)), "A", "domestic", true)
	at("2026-03-16")
	install(ids(hubIDs("C", 1, 4)), "C", "domestic", true)
	at("2026-04-08")
	install([]string{"A19"}, "A", "domestic", false)
	at("2026-04-14")
	f.Remove(Removal{Hub: "A01", Supplier: "A", Reason: "fails_specification"})
	f.Order(Order{ID: "O4", Supplier: "B", Region: "north", FreeReplacement: true, Lines: []OrderLine{{"dual_band", 1}}})
	at("2026-05-04")
	must(f.Deliver("O4", DeliveredHub{ID: "R01", Variant: "dual_band"}))
	at("2026-05-11")
	install([]string{"R01"}, "B", "domestic", true)
	at("2026-05-12")
	f.Remove(Removal{Hub: "A02", Supplier: "A", Reason: "fails_specification"})
	at("2026-05-20")
	f.Remove(Removal{Hub: "A20", Supplier: "A", Reason: "lost_or_stolen"})
	at("2026-06-03")
	must(f.Commission("A19"))
	at("2026-06-09")
	f.Remove(Removal{Hub: "A03", Supplier: "A", Reason: "fails_specification"})
	at("2026-06-23")
	f.Remove(Removal{Hub: "B03", Supplier: "B", Reason: "smwan_coverage", CSPRequested: true})
	at("2026-07-06")
	install([]string{"B05", "B06"}, "B", "domestic", true)
	at("2026-07-14")
	f.Remove(Removal{Hub: "A04", Supplier: "A", Reason: "smwan_coverage"})
	at("2026-08-11")
	f.Remove(Removal{Hub: "A05", Supplier: "A", Reason: "physical_damage"})
	at("2026-08-25")
	f.Remove(Removal{Hub: "A06", Supplier: "A", Reason: "support_materials"})
	at("2026-09-08")
	f.Remove(Removal{Hub: "A07", Supplier: "A", Reason: "no_fault_found"})
	at("2026-09-15")
	f.Remove(Removal{Hub: "A08", Supplier: "A", Reason: "lost_or_stolen"})
	at("2026-10-06")
	f.Remove(Removal{Hub: "A11", Supplier: "A", Reason: "non_domestic_opt_out"})
	f.Unpaid("C", Month{Year: 2026, Mon: time.September}, "finance")
	at("2026-10-13")
	f.Remove(Removal{Hub: "A12", Supplier: "B", Reason: "split_fuel_replacement", ReplacementVariant: "dual_band"})
	at("2026-10-20")
	f.Remove(Removal{Hub: "B02", Supplier: "B", Reason: "non_domestic_opt_out"})
	at("2026-11-10")
	f.Remove(Removal{Hub: "C01", Supplier: "C", Reason: "technology_refresh", RefreshProgramme: "R-2026"})
	at("2026-11-17")
	f.Remove(Removal{Hub: "C02", Supplier: "C", Reason: "fails_specification"})
	at("2026-12-01")
	f.Remove(Removal{Hub: "A09", Supplier: "A", Reason: "fails_specification"})
	at("2027-01-01")
	return f, clk
}

func yearStatements(t *testing.T, e *Engine, f *Fleet) map[string]*Statement {
	t.Helper()
	out := map[string]*Statement{}
	b, err := e.Open(t.Context(), f.World())
	if err != nil {
		t.Fatal(err)
	}
	for m := (Month{Year: 2026, Mon: time.January}); m.Before(Month{Year: 2027, Mon: time.January}); m = m.Add(1) {
		st, err := b.Charges(m, f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		out[m.String()] = st
	}
	return out
}

func amount(st *Statement, party, kind string) Pence {
	if l := st.Line(party, kind); l != nil {
		return l.Amount
	}
	return 0
}

func poolTotal(st *Statement, kind string) Pence {
	if p := st.Pool(kind); p != nil {
		return p.Total
	}
	return 0
}

func poolShare(st *Statement, kind, party string) Pence {
	if p := st.Pool(kind); p != nil {
		for _, s := range p.Shares {
			if s.Party == party {
				return s.Amount
			}
		}
	}
	return 0
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func TestYearOfCharges(t *testing.T) {
	e, err := New(t.Context(), spec.MustDefault())
	if err != nil {
		t.Fatal(err)
	}
	f, _ := yearFleet(t)
	sts := yearStatements(t, e, f)

	// Hubs held at each month's end (a hub removed in a month pays no
	// monthly charge that month), 47p for an O1 hub, 40p for O2/O3, 0 for
	// the free R01:
	//
	//	month  installed O1  installed O2/O3  pool                     A not inst.  B not inst.  commissioned (x 23p)
	//	01     A01-10: 10    0                10x47         = 470      A11-20: 470  -            10          = 230
	//	02     10            B01-04: 4        470+4x40      = 630      470          B05-06: 80   14          = 322
	//	03     A01-18: 18    +C01-04: 8       18x47+8x40    = 1166     A19,A20: 94  80           26          = 598
	//	04     A02-19: 18    8                1166                     A20: 47      80           25 (not A19) = 575
	//	05     A03-19: 17    8 (+R01 at 0)    17x47+320     = 1119     -            80           16+8+R01=25 = 575
	//	06     A04-19: 16    less B03: 7      16x47+7x40    = 1032     -            80           16+7+1=24   = 552
	//	07     A05-19: 15    +B05,B06: 9      15x47+9x40    = 1065     -            -            15+9+1=25   = 575
	//	08     A07-19: 13    9                13x47+360     = 971      -            -            23          = 529
	//	09     A09-19: 11    9                11x47+360     = 877      -            -            21          = 483
	//	10     less A11,A12: 9  less B02: 8   9x47+8x40     = 743      -            -            18          = 414
	//	11     9             less C01,C02: 6  9x47+6x40     = 663      -            -            16          = 368
	//	12     less A09: 8   6                8x47+6x40     = 616      -            -            15          = 345
	months := []struct {
		m                        string
		pool, aNotInst, bNotInst Pence
		maint                    Pence
	}{
		{"2026-01", 470, 470, 0, 230},
		{"2026-02", 630, 470, 80, 322},
		{"2026-03", 1166, 94, 80, 598},
		{"2026-04", 1166, 47, 80, 575},
		{"2026-05", 1119, 0, 80, 575},
		{"2026-06", 1032, 0, 80, 552},
		{"2026-07", 1065, 0, 0, 575},
		{"2026-08", 971, 0, 0, 529},
		{"2026-09", 877, 0, 0, 483},
		{"2026-10", 743, 0, 0, 414},
		{"2026-11", 663, 0, 0, 368},
		{"2026-12", 616, 0, 0, 345},
	}
	for _, mc := range months {
		st := sts[mc.m]
		eq(t, mc.m+" asset pool", poolTotal(st, "asset_installed"), mc.pool)
		eq(t, mc.m+" A not installed", amount(st, "A", "asset_not_installed"), mc.aNotInst)
		eq(t, mc.m+" B not installed", amount(st, "B", "asset_not_installed"), mc.bNotInst)
		eq(t, mc.m+" maintenance pool", poolTotal(st, "maintenance"), mc.maint)
	}

	// January, by A30:B10. Asset 470: 352.5 / 117.5, the penny left to
	// the tie's first party, A: 353 / 117. Maintenance 230: 172.5 / 57.5
	// -> 173 / 57.
	jan := sts["2026-01"]
	eq(t, "jan A asset", poolShare(jan, "asset_installed", "A"), 353)
	eq(t, "jan B asset", poolShare(jan, "asset_installed", "B"), 117)
	eq(t, "jan A maint", poolShare(jan, "maintenance", "A"), 173)
	eq(t, "jan B maint", poolShare(jan, "maintenance", "B"), 57)
	// Float: recurring 470 + 470 = 940, target 3 x 940 = 2820, all top up,
	// shared by finance charges A 353+470 = 823, B 117 (of 940): exactly
	// 3 x each, 2469 and 351.
	eq(t, "jan float target", jan.Float.Target, 2820)
	eq(t, "jan A float", amount(jan, "A", "float_top_up"), 2469)
	eq(t, "jan B float", amount(jan, "B", "float_top_up"), 351)
	eq(t, "jan A finance invoice", jan.Invoice("A", "finance").Total, 823+2469)
	eq(t, "jan A service invoice", jan.Invoice("A", "service").Total, 173)

	// February: B receives O2, differentials 2 x 850 + 4 x 400 = 3300 (para
	// 322). Asset 630 by 30:10: 472.5 / 157.5 -> 473 / 157. Float: recurring
	// 630 + 470 + 80 = 1180, target 3540, held 2820, top up 720, shared by
	// finance A 473+470 = 943, B 157+80+3300 = 3537 (of 4480): 151.55 /
	// 568.45 -> 152 / 568.
	feb := sts["2026-02"]
	eq(t, "feb B differential", amount(feb, "B", "han_differential"), 3300)
	eq(t, "feb A asset", poolShare(feb, "asset_installed", "A"), 473)
	eq(t, "feb float top up", feb.Float.TopUp, 720)
	eq(t, "feb A float", amount(feb, "A", "float_top_up"), 152)
	eq(t, "feb B float", amount(feb, "B", "float_top_up"), 568)

	// March, by A50:B30:C20. Asset 1166: 583 / 349.8 / 233.2 -> 583 / 350
	// / 233. Float: recurring 1166 + 94 + 80 = 1340, target 4020, held
	// 3540, top up 480, by finance A 583+94 = 677, B 350+80 = 430, C 233
	// (of 1340): 242.51 / 154.03 / 83.46 -> 243 / 154 / 83.
	mar := sts["2026-03"]
	eq(t, "mar B asset", poolShare(mar, "asset_installed", "B"), 350)
	eq(t, "mar C asset", poolShare(mar, "asset_installed", "C"), 233)
	eq(t, "mar A float", amount(mar, "A", "float_top_up"), 243)
	eq(t, "mar B float", amount(mar, "B", "float_top_up"), 154)
	eq(t, "mar C float", amount(mar, "C", "float_top_up"), 83)
	eq(t, "mar float closing", mar.Float.Closing, 4020)
	// From April the target (3 x 1293 = 3879, then lower) is under the
	// 4020 held: no more top ups.
	for _, m := range []string{"2026-04", "2026-05", "2026-06", "2026-07", "2026-08"} {
		eq(t, m+" float top up", sts[m].Float.TopUp, 0)
		eq(t, m+" float closing", sts[m].Float.Closing, 4020)
	}

	// Removals: the remaining asset cost when month k of the hub's life
	// starts is the price less k-1 monthly charges: for O1 5555 - 47(k-1),
	// for O2/O3 4800 - 40(k-1).
	type rm struct {
		m, hub, category, responsibility string
		remaining, recovered             Pence
	}
	removals := []rm{
		// 04: k=4, 5555-141 = 5414, DCC Service Fault: the CSP bears it.
		{"2026-04", "A01", "fails_specification", "dcc_service_fault", 5414, 0},
		{"2026-05", "A02", "fails_specification", "dcc_service_fault", 5367, 0}, // 5555-188
		// Lost from stock before installation: A pays it all.
		{"2026-05", "A20", "lost_or_stolen", "dcc_user_fault", 5367, 5367},
		{"2026-06", "A03", "fails_specification", "dcc_service_fault", 5320, 0}, // 5555-235
		// B03: O2, k=5, 4800-160 = 4640.
		{"2026-06", "B03", "smwan_coverage", "dcc_service_fault", 4640, 0},
		// Not asked by the CSP: no fault found, 80% of 5555-282 = 5273 is
		// 4218.4 -> 4218.
		{"2026-07", "A04", "no_fault_found", "dcc_user_fault", 5273, 4218},
		{"2026-08", "A05", "physical_damage", "dcc_user_fault", 5226, 5226}, // 5555-329
		{"2026-08", "A06", "support_materials", "dcc_user_fault", 5226, 5226},
		{"2026-09", "A07", "no_fault_found", "dcc_user_fault", 5179, 4143}, // 5555-376; 80% = 4143.2
		{"2026-09", "A08", "lost_or_stolen", "dcc_user_fault", 5179, 5179},
		{"2026-10", "A11", "non_domestic_opt_out", "dcc_user_fault", 5132, 4105}, // 5555-423; 4105.6
		{"2026-10", "A12", "split_fuel_replacement", "dcc_user_fault", 5132, 4105},
		// B02: a domestic premises cannot opt out: no fault found; k=9,
		// 4800-320 = 4480, 80% = 3584.
		{"2026-10", "B02", "no_fault_found", "dcc_user_fault", 4480, 3584},
		{"2026-11", "C01", "technology_refresh", "dcc_user_fault", 4480, 0},
		{"2026-11", "C02", "fails_specification", "dcc_service_fault", 4480, 0},
		{"2026-12", "A09", "fails_specification", "dcc_service_fault", 5038, 0}, // 5555-517
	}
	for _, r := range removals {
		var found *RemovalResult
		for i := range sts[r.m].Removals {
			if sts[r.m].Removals[i].Hub == r.hub {
				found = &sts[r.m].Removals[i]
			}
		}
		if found == nil {
			t.Errorf("%s: no removal of %s", r.m, r.hub)
			continue
		}
		eq(t, r.hub+" category", found.Category, r.category)
		eq(t, r.hub+" responsibility", found.Responsibility, r.responsibility)
		eq(t, r.hub+" remaining", found.Remaining, r.remaining)
		eq(t, r.hub+" recovered", found.Recovered, r.recovered)
		eq(t, r.hub+" written off", found.WrittenOff, r.remaining-r.recovered)
	}
	eq(t, "may A remaining", amount(sts["2026-05"], "A", "remaining_asset"), 5367)
	eq(t, "jul A remaining", amount(sts["2026-07"], "A", "remaining_asset"), 4218)
	eq(t, "aug A remaining", amount(sts["2026-08"], "A", "remaining_asset"), 5226+5226)
	eq(t, "sep A remaining", amount(sts["2026-09"], "A", "remaining_asset"), 4143+5179)
	oct := sts["2026-10"]
	eq(t, "oct B remaining", amount(oct, "B", "remaining_asset"), 3584)
	// A11: 4105 by non-domestic enrolled A2:B1: 2736.67 / 1368.33 -> 2737 /
	// 1368 (para 341).
	eq(t, "oct A opt out", amount(oct, "A", "remaining_asset_non_domestic"), 2737)
	eq(t, "oct B opt out", amount(oct, "B", "remaining_asset_non_domestic"), 1368)
	// A12: 4105 by commissioned CHFs A5:B3:C2: 2052.5 / 1231.5 / 821 ->
	// the penny to the tie's first, A: 2053 / 1231 / 821 (para 346).
	eq(t, "oct A split fuel", amount(oct, "A", "remaining_asset_split_fuel"), 2053)
	eq(t, "oct B split fuel", amount(oct, "B", "remaining_asset_split_fuel"), 1231)
	eq(t, "oct C split fuel", amount(oct, "C", "remaining_asset_split_fuel"), 821)

	// What the CSP writes off each month: the service faults in full, the
	// 20% of no-fault removals, the refresh in full.
	//	04 5414; 05 5367; 06 5320+4640 = 9960; 07 5273-4218 = 1055; 08 0;
	//	09 5179-4143 = 1036; 10 (5132-4105) x 2 + (4480-3584) = 1027 x 2 +
	//	896 = 2950; 11 4480 + 4480 = 8960; 12 5038.
	for m, want := range map[string]Pence{"2026-04": 5414, "2026-05": 5367, "2026-06": 9960, "2026-07": 1055,
		"2026-08": 0, "2026-09": 1036, "2026-10": 2950, "2026-11": 8960, "2026-12": 5038} {
		eq(t, m+" written off", amount(sts[m], "CSP", "asset_written_off"), want)
	}

	// Batch faults (para 356). O1: 20 hubs, threshold floor(20 x 10%) = 2.
	// Failures A01 (04), A02 (05), A03 (06), A09 (12, within a year of its
	// 01-20 installation); A04's was not a failure. The third is one above:
	// GBP 50 to A in June; the fourth another in December. O3: 4 hubs,
	// threshold floor(0.4) = 0: C02 is one above, GBP 50 to C in November.
	eq(t, "apr A batch", amount(sts["2026-04"], "A", "batch_fault_compensation"), 0)
	eq(t, "may A batch", amount(sts["2026-05"], "A", "batch_fault_compensation"), 0)
	eq(t, "jun A batch", amount(sts["2026-06"], "A", "batch_fault_compensation"), -5000)
	eq(t, "nov C batch", amount(sts["2026-11"], "C", "batch_fault_compensation"), -5000)
	eq(t, "dec A batch", amount(sts["2026-12"], "A", "batch_fault_compensation"), -5000)
	eq(t, "jun CSP batch", amount(sts["2026-06"], "CSP", "batch_fault_compensation"), 5000)

	// Technology refresh: the CSP covers C's site visit (para 347).
	eq(t, "nov C refresh visit", amount(sts["2026-11"], "C", "refresh_site_visit"), -5000)
	eq(t, "nov CSP refresh visit", amount(sts["2026-11"], "CSP", "refresh_site_visit"), 5000)

	// Type faults, assessed with December for 2026 (para 348-354). Hubs
	// installed in the year: A01-A19, B01-B06, C01-C04, R01 = 30 (A20
	// never was). DCC Service Faults of installed hubs: A01, A02, A03, A09,
	// B03 (coverage, para 337), C02 = 6. Threshold floor(30 x 0.5%) =
	// floor(0.15) = 0; 6 above, 6 x GBP 50 = 30000p, shared by fault rate:
	// A 4 of the 19 it installed, B 1 of 7 (B01-B06, R01), C 1 of 4:
	// 4/19 : 1/7 : 1/4 = 112 : 76 : 133 (over 532), of 321:
	//	A 30000 x 112/321 = 10467.29, B x 76/321 = 7102.80, C x 133/321 =
	//	12429.91; floors 29998, the two pennies to C (.91) and B (.80):
	//	A 10467, B 7103, C 12430.
	dec := sts["2026-12"]
	if len(dec.TypeFaults) != 1 {
		t.Fatalf("type faults: %+v", dec.TypeFaults)
	}
	tf := dec.TypeFaults[0]
	eq(t, "installed", tf.Installed, 30)
	eq(t, "faults", tf.Faults, 6)
	eq(t, "threshold", tf.Threshold, 0)
	eq(t, "damages", tf.Damages, 30000)
	eq(t, "A type", amount(dec, "A", "type_fault_compensation"), -10467)
	eq(t, "B type", amount(dec, "B", "type_fault_compensation"), -7103)
	eq(t, "C type", amount(dec, "C", "type_fault_compensation"), -12430)
	eq(t, "CSP type", amount(dec, "CSP", "type_fault_compensation"), 30000)
	for _, m := range []string{"2026-06", "2026-11"} {
		if len(sts[m].TypeFaults) != 0 {
			t.Errorf("%s: type faults assessed outside the year end", m)
		}
	}

	// C does not pay September's finance invoice. September: asset pool
	// 877 by A45:B35:C20 = 394.65 / 306.95 / 175.4, two pennies to B (.95)
	// and A (.65): 395 / 307 / 175; no top up (target 2631 < 4020), so C
	// owes 175. The float pays it (closing 4020 - 175 = 3845).
	sep := sts["2026-09"]
	eq(t, "sep C finance", sep.Invoice("C", "finance").Total, 175)
	if len(sep.Defaults) != 1 || sep.Defaults[0].Unpaid != 175 || sep.Defaults[0].FloatDraw != 175 {
		t.Fatalf("september defaults: %+v", sep.Defaults)
	}
	eq(t, "sep float closing", sep.Float.Closing, 3845)
	// October socialises the 175 (K9.7) across A and B by their September
	// finance charges: A 395 + 4143 + 5179 = 9717, B 307 (of 10024):
	// 169.64 / 5.36 -> the penny to A: 170 / 5. The recovery refills the
	// float to 4020; October's target 3 x 743 = 2229 needs no top up.
	eq(t, "oct A bad debt", amount(oct, "A", "bad_debt"), 170)
	eq(t, "oct B bad debt", amount(oct, "B", "bad_debt"), 5)
	eq(t, "oct C bad debt", amount(oct, "C", "bad_debt"), 0)
	eq(t, "oct float recovered", oct.Float.Recovered, 175)
	eq(t, "oct float closing", oct.Float.Closing, 4020)
	if l := oct.Line("A", "bad_debt"); l == nil || !strings.Contains(l.Detail, "C did not pay its finance invoice of 2026-09") {
		t.Errorf("bad debt line does not say whose debt it is: %+v", l)
	}

	// The finance invoice and the DCC's own are apart (para 298-299).
	for _, l := range oct.Invoice("A", "finance").Lines {
		if e.Spec().Hubs.ChargeKinds[l.Kind].Invoice != "finance" {
			t.Errorf("%s on the finance invoice", l.Kind)
		}
	}
	if oct.Line("A", "maintenance") == nil || oct.Invoice("A", "service").Lines[0].Kind != "maintenance" {
		t.Errorf("maintenance is not on A's service invoice")
	}
	// The free replacement R01 pays no asset charge and no differential,
	// only maintenance.
	for _, l := range sts["2026-05"].Invoices {
		for _, ln := range l.Lines {
			for _, it := range ln.Items {
				if it.Hub == "R01" && ln.Kind != "maintenance" {
					t.Errorf("R01 charged %s", ln.Kind)
				}
			}
		}
	}
}

// TestMonthMustHaveEnded: charges are issued in arrears (para 364).
func TestMonthMustHaveEnded(t *testing.T) {
	e, err := New(t.Context(), spec.MustDefault())
	if err != nil {
		t.Fatal(err)
	}
	f, clk := yearFleet(t)
	if _, err := f.Charges(t.Context(), e, Month{Year: 2027, Mon: time.January}); !errors.Is(err, ErrMonthOpen) {
		t.Fatalf("January 2027 on 2027-01-01: %v", err)
	}
	clk.Set(day("2027-02-01"))
	if _, err := f.Charges(t.Context(), e, Month{Year: 2027, Mon: time.January}); err != nil {
		t.Fatal(err)
	}
}

// editedSpec copies the embedded spec with hubs.cue edited.
func editedSpec(t *testing.T, edits ...[2]string) *spec.Spec {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(spec.Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(spec.Files(), p)
		if err != nil {
			return err
		}
		if p == "hubs.cue" {
			for _, e := range edits {
				if !strings.Contains(string(b), e[0]) {
					t.Fatalf("%q not in hubs.cue", e[0])
				}
				b = []byte(strings.Replace(string(b), e[0], e[1], 1))
			}
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := spec.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSpecDecidesTheNumbers: the threshold and the damages come from the
// spec; editing them changes the result with no Go change.
func TestSpecDecidesTheNumbers(t *testing.T) {
	tests := []struct {
		note  string
		edits [][2]string
		// December's type fault assessment and A's batch credit in June.
		threshold int
		damages   Pence
		juneBatch Pence
	}{
		// 30 installed x 10% = 3; 6 - 3 = 3 above x 5000.
		{"type threshold 10%", [][2]string{{"threshold_bp:       50 ", "threshold_bp:       1000 "}}, 3, 15000, -5000},
		// 6 above x 7000; the batch damages unchanged.
		{"type damages GBP 70", [][2]string{{"ld_pence_per_fault: 5000 // GBP 50 (para 353)", "ld_pence_per_fault: 7000"}}, 0, 42000, -5000},
		// O1 threshold floor(20 x 20%) = 4: A's 4 failures are not above.
		{"batch threshold 20%", [][2]string{{"threshold_bp:       1000 // 10% (para 356)", "threshold_bp:       2000"}}, 0, 30000, 0},
		// 30 x 25% = 7.5, floor 7 > 6 faults: no damages.
		{"type threshold 25%", [][2]string{{"threshold_bp:       50 ", "threshold_bp:       2500 "}}, 7, 0, -5000},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			e, err := New(t.Context(), editedSpec(t, tc.edits...))
			if err != nil {
				t.Fatal(err)
			}
			f, _ := yearFleet(t)
			sts := yearStatements(t, e, f)
			tf := sts["2026-12"].TypeFaults[0]
			eq(t, "threshold", tf.Threshold, tc.threshold)
			eq(t, "damages", tf.Damages, tc.damages)
			eq(t, "CSP pays", amount(sts["2026-12"], "CSP", "type_fault_compensation"), tc.damages)
			var credited Pence
			for _, p := range []string{"A", "B", "C"} {
				credited += amount(sts["2026-12"], p, "type_fault_compensation")
			}
			eq(t, "credited", credited, -tc.damages)
			eq(t, "june batch", amount(sts["2026-06"], "A", "batch_fault_compensation"), tc.juneBatch)
		})
	}
}
