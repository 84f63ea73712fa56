package hubs

import (
	"math/big"
	"math/rand/v2"
	"testing"
	"testing/quick"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		note    string
		total   Pence
		weights []int64
		want    []Pence
	}{
		{"exact", 100, []int64{3, 1}, []Pence{75, 25}},
		// 470 x 30/40 = 352.5, x 10/40 = 117.5: one penny left, the tie
		// goes to the first party.
		{"tie to the first", 470, []int64{30, 10}, []Pence{353, 117}},
		// 877 by 45:35:20 = 394.65, 306.95, 175.4: two pennies left, to
		// .95 then .65.
		{"largest remainders", 877, []int64{45, 35, 20}, []Pence{395, 307, 175}},
		{"zero weight gets nothing", 10, []int64{0, 1, 2}, []Pence{0, 3, 7}},
		{"credit", -10, []int64{1, 2}, []Pence{-3, -7}},
		{"nothing to share", 0, []int64{0, 0}, []Pence{0, 0}},
		{"one penny, three ways", 1, []int64{1, 1, 1}, []Pence{1, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			got, err := SplitInts(tc.total, tc.weights)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
	if _, err := SplitInts(5, []int64{0, 0}); err == nil {
		t.Fatal("split of 5 by no weight did not fail")
	}
	if _, err := SplitInts(5, []int64{1, -1}); err == nil {
		t.Fatal("negative weight accepted")
	}
}

// TestSplitSumsToTotal: for any total and weights, the shares sum to the
// total, a zero weight gets nothing, and each share is within a penny of
// its exact value.
func TestSplitSumsToTotal(t *testing.T) {
	f := func(total int32, raw []uint16) bool {
		if len(raw) == 0 {
			return true
		}
		ws := make([]int64, len(raw))
		var sum int64
		for i, r := range raw {
			if r%4 == 0 {
				r = 0 // plenty of zero weights
			}
			ws[i] = int64(r)
			sum += int64(r)
		}
		got, err := SplitInts(Pence(total), ws)
		if sum == 0 {
			return (err != nil) == (total != 0)
		}
		if err != nil {
			return false
		}
		var s Pence
		for i, g := range got {
			s += g
			if ws[i] == 0 && g != 0 {
				return false
			}
			exact := new(big.Rat).SetFrac64(int64(total)*ws[i], sum)
			diff := new(big.Rat).Sub(new(big.Rat).SetInt64(int64(g)), exact)
			if diff.Abs(diff).Cmp(big.NewRat(1, 1)) >= 0 {
				return false
			}
		}
		return s == Pence(total)
	}
	cfg := &quick.Config{MaxCount: 5000}
	if testing.Short() {
		cfg.MaxCount = 1000
	}
	if err := quick.Check(f, cfg); err != nil {
		t.Fatal(err)
	}
	// Rational weights (fault rates) too.
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := 1 + r.IntN(6)
		ws := make([]*big.Rat, n)
		for i := range ws {
			ws[i] = big.NewRat(r.Int64N(50), 1+r.Int64N(400))
		}
		ws[0] = big.NewRat(1+r.Int64N(50), 1+r.Int64N(400))
		total := Pence(r.Int64N(2_000_000) - 1_000_000)
		got, err := Split(total, ws)
		if err != nil {
			t.Fatal(err)
		}
		var s Pence
		for _, g := range got {
			s += g
		}
		if s != total {
			t.Fatalf("split of %d by %v sums to %d", total, ws, s)
		}
	}
}

func TestPenceText(t *testing.T) {
	for p, want := range map[Pence]string{0: "GBP 0.00", 5: "GBP 0.05", 123456: "GBP 1234.56", -50: "-GBP 0.50"} {
		if got := p.String(); got != want {
			t.Errorf("%d: %q, want %q", int64(p), got, want)
		}
	}
}

func TestAmortisation(t *testing.T) {
	// 5555 over 120 months: 5555 = 46 x 120 + 35, so months 1-35 pay 47
	// and months 36-120 pay 46; 35 x 47 + 85 x 46 = 1645 + 3910 = 5555.
	h := &hub{Price: 5555, Months: 120}
	var sum Pence
	for k := 1; k <= 121; k++ {
		want := Pence(46)
		if k <= 35 {
			want = 47
		}
		if k == 121 {
			want = 0
		}
		if got := h.monthly(k); got != want {
			t.Fatalf("month %d: %d, want %d", k, got, want)
		}
		if got := h.remaining(k); got != 5555-sum {
			t.Fatalf("remaining at month %d: %d, want %d", k, got, 5555-sum)
		}
		sum += h.monthly(k)
	}
	if sum != 5555 {
		t.Fatalf("120 months sum to %d", sum)
	}
}
