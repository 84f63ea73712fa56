package hubs

import (
	"errors"
	"fmt"
	"math/big"
	"sort"
)

// Pence is an amount of money in whole pence; charges are positive and
// credits (compensation) negative.
type Pence int64

// String writes the amount in pounds: "GBP 12.34", "-GBP 0.05".
func (p Pence) String() string {
	sign := ""
	if p < 0 {
		sign, p = "-", -p
	}
	return fmt.Sprintf("%sGBP %d.%02d", sign, p/100, p%100)
}

// Decimal writes the amount in pounds without a currency: "12.34".
func (p Pence) Decimal() string {
	sign := ""
	if p < 0 {
		sign, p = "-", -p
	}
	return fmt.Sprintf("%s%d.%02d", sign, p/100, p%100)
}

// ErrNoWeight is returned by Split when there is an amount to share but no
// one to share it with.
var ErrNoWeight = errors.New("nothing to share by: every weight is zero")

// Split shares total in proportion to weights by the largest remainder
// method: each gets the floor of its exact share, and the pence left over
// go one each to the largest fractional remainders, ties to the smaller
// index (callers order parties by ID). The shares always sum to total, a
// zero weight always gets zero, and no share differs from its exact value
// by a penny or more. A negative total is shared as its opposite and
// negated. Weights must not be negative.
func Split(total Pence, weights []*big.Rat) ([]Pence, error) {
	out := make([]Pence, len(weights))
	if total == 0 {
		return out, nil
	}
	neg := total < 0
	if neg {
		total = -total
	}
	sum := new(big.Rat)
	for i, w := range weights {
		if w == nil || w.Sign() < 0 {
			return nil, fmt.Errorf("split: weight %d is negative or missing", i)
		}
		sum.Add(sum, w)
	}
	if sum.Sign() == 0 {
		return nil, ErrNoWeight
	}
	type rem struct {
		i int
		r *big.Rat
	}
	rems := make([]rem, 0, len(weights))
	var given Pence
	t := new(big.Rat).SetInt64(int64(total))
	for i, w := range weights {
		q := new(big.Rat).Mul(t, w)
		q.Quo(q, sum)
		fl := new(big.Int).Quo(q.Num(), q.Denom()) // q >= 0: truncation is floor
		out[i] = Pence(fl.Int64())
		given += out[i]
		r := new(big.Rat).Sub(q, new(big.Rat).SetInt(fl))
		if r.Sign() > 0 {
			rems = append(rems, rem{i, r})
		}
	}
	sort.SliceStable(rems, func(a, b int) bool {
		if c := rems[a].r.Cmp(rems[b].r); c != 0 {
			return c > 0
		}
		return rems[a].i < rems[b].i
	})
	for k := 0; given < total; k++ {
		out[rems[k].i]++
		given++
	}
	if neg {
		for i := range out {
			out[i] = -out[i]
		}
	}
	return out, nil
}

// SplitInts is Split with whole-number weights (counts of systems, say).
func SplitInts(total Pence, weights []int64) ([]Pence, error) {
	ws := make([]*big.Rat, len(weights))
	for i, w := range weights {
		ws[i] = new(big.Rat).SetInt64(w)
	}
	return Split(total, ws)
}

// ofBP returns amount x bp / 10000 rounded down (toward zero for the
// non-negative amounts it is used on): the spec's "down" rounding.
func ofBP(amount Pence, bp int64) Pence {
	return Pence(int64(amount) * bp / 10000)
}

// floorBP returns floor(n x bp / 10000) for a count n.
func floorBP(n int, bp int64) int {
	return int(int64(n) * bp / 10000)
}
