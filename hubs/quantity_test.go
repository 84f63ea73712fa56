package hubs

import (
	"math"
	"testing"
)

// TestAddQuantity: a line orders one hub or more, and an order's lines add
// up to no more than the largest int.
func TestAddQuantity(t *testing.T) {
	tests := []struct {
		note        string
		total, q    int
		want        int
		wantRefused bool
	}{
		{"one", 0, 1, 1, false},
		{"up to the largest int", math.MaxInt - 1, 1, math.MaxInt, false},
		{"past the largest int", math.MaxInt, 1, 0, true},
		{"a large line after another", 2, math.MaxInt - 1, 0, true},
		{"none", 3, 0, 0, true},
		{"fewer than none", 3, -1, 0, true},
		{"the smallest int", 0, math.MinInt, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			got, err := AddQuantity(tc.total, tc.q)
			if (err != nil) != tc.wantRefused || (err == nil && got != tc.want) {
				t.Fatalf("AddQuantity(%d, %d) = %d, %v", tc.total, tc.q, got, err)
			}
		})
	}
}
