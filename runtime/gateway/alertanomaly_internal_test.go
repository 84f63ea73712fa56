package gateway

import (
	"testing"
	"time"
)

// TestAlertCounts walks two thresholds, one on a code and one on every
// alert of a device, through their windows.
func TestAlertCounts(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	var c alertCounts
	c.set([]AlertAnomalyRule{{Code: "A1", Max: 1, Per: 5 * time.Second}, {Max: 2, Per: 10 * time.Second}})
	for i, tc := range []struct {
		device, code string
		at           float64 // seconds after t0
		passed       int     // the Max of the first rule passed; 0: none
		n            int     // the alerts it counted
		keys         int     // the counts kept after (0: not checked)
	}{
		{device: "m1", code: "A2", at: 0},
		{device: "m1", code: "A2", at: 1},
		{device: "m1", code: "A2", at: 2, passed: 2, n: 3}, // three within 10s
		{device: "m2", code: "A2", at: 2, keys: 2},         // another device counts apart
		{device: "m1", code: "A2", at: 11},                 // 0 and 1 left the window
		{device: "m1", code: "A2", at: 11.5, passed: 2, n: 3},
		{device: "m1", code: "A1", at: 30, keys: 2}, // the counts of 11.5 and before swept
		{device: "m1", code: "A1", at: 32, passed: 1, n: 2},
		{device: "m1", code: "A1", at: 37.5, passed: 2, n: 3}, // 32 left the 5s window, not the 10s one
		{device: "m1", code: "A1", at: 45},
	} {
		r, n, ok := c.count(tc.device, tc.code, t0.Add(time.Duration(tc.at*float64(time.Second))))
		if ok != (tc.passed > 0) || ok && (r.Max != tc.passed || n != tc.n) {
			t.Errorf("%d: %s %s at %vs: passed %v %+v with %d; want the rule of max %d with %d", i, tc.device, tc.code, tc.at, ok, r, n, tc.passed, tc.n)
		}
		if tc.keys > 0 && len(c.seen) != tc.keys {
			t.Errorf("%d: %d counts kept, want %d", i, len(c.seen), tc.keys)
		}
	}
	c.forget()
	if _, _, ok := c.count("m1", "A1", t0.Add(46*time.Second)); ok {
		t.Error("counts kept across forget")
	}
	c.set(nil)
	if _, _, ok := c.count("m1", "A1", t0.Add(46*time.Second)); ok || c.seen != nil {
		t.Error("no rules, yet counted")
	}
}
