package main

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/dccgate/dccgate/runtime/config"
)

// TestApplyGC: the configuration sets the collector, and Go's own GOGC and
// GOMEMLIMIT, where set, are left as the runtime took them.
func TestApplyGC(t *testing.T) {
	percent, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(percent); debug.SetMemoryLimit(limit) })

	tests := []struct {
		note        string
		gc          config.GC
		env         []string
		wantPercent int
		wantLimit   int64 // in force; math.MaxInt64: none
	}{
		{note: "the defaults", gc: config.Default().GC, env: []string{"HOME=/root"}, wantPercent: 400, wantLimit: 768 << 20},
		{note: "no limit", gc: config.GC{Percent: 200, MemoryLimit: "off"}, wantPercent: 200, wantLimit: math.MaxInt64},
		{note: "GOGC wins", gc: config.GC{Percent: 400, MemoryLimit: "1GiB"}, env: []string{"GOGC=150"}, wantPercent: 150, wantLimit: 1 << 30},
		{note: "GOMEMLIMIT wins", gc: config.GC{Percent: 300, MemoryLimit: "1GiB"}, env: []string{"GOMEMLIMIT=900MiB"}, wantPercent: 300, wantLimit: 900 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			// What the runtime would have read from the variables at start.
			debug.SetGCPercent(150)
			debug.SetMemoryLimit(900 << 20)
			got := applyGC(tc.gc, tc.env)
			if p := debug.SetGCPercent(-1); p != tc.wantPercent {
				t.Errorf("GC percent in force %d, want %d", p, tc.wantPercent)
			}
			if l := debug.SetMemoryLimit(-1); l != tc.wantLimit {
				t.Errorf("memory limit in force %d, want %d", l, tc.wantLimit)
			}
			wantLogged := tc.wantLimit
			if wantLogged == math.MaxInt64 {
				wantLogged = 0
			}
			if got.Percent != tc.wantPercent || got.MemoryLimit != wantLogged {
				t.Errorf("applyGC reported %+v, want percent %d, limit %d", got, tc.wantPercent, wantLogged)
			}
		})
	}
}
