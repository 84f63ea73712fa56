package loadgen

import (
	"math"
	"runtime"
	"runtime/metrics"
	"testing"
)

func TestQuantile(t *testing.T) {
	inf := math.Inf(1)
	h := func(counts ...uint64) *metrics.Float64Histogram {
		return &metrics.Float64Histogram{Buckets: []float64{0, 1, 2, 4, inf}, Counts: counts}
	}
	tests := []struct {
		name string
		h    *metrics.Float64Histogram
		q    float64
		want float64
	}{
		{"empty", h(0, 0, 0, 0), 0.99, 0},
		{"all in one bucket", h(0, 10, 0, 0), 0.99, 2},
		{"p50 low, p99 high", h(98, 1, 1, 0), 0.5, 1},
		{"the 99th of 100", h(98, 1, 1, 0), 0.99, 2},
		{"the 100th of 100", h(98, 1, 1, 0), 1, 4},
		{"last bucket: its lower bound", h(1, 0, 0, 1), 1, 4},
	}
	for _, tc := range tests {
		if got := quantile(tc.h, tc.q); got != tc.want {
			t.Errorf("%s: quantile %v = %v, want %v", tc.name, tc.q, got, tc.want)
		}
	}
}

var sink []byte

// TestRuntimeBetween: the figures are of what happened between the two
// reads, not since the process began.
func TestRuntimeBetween(t *testing.T) {
	runtime.GC() // one before the first read, not to be counted
	before := readRuntime()
	runtime.GC()
	sink = make([]byte, 1<<20)
	runtime.GC()
	after := readRuntime()
	r := runtimeBetween(before, after)
	if r.AllocBytes < 1<<20 || r.AllocBytes > 64<<20 {
		t.Errorf("1 MiB allocated between the reads: AllocBytes %d", r.AllocBytes)
	}
	if r.GCCycles < 2 || r.GCPauseMaxMS <= 0 || r.GCShare < 0 || r.GCShare > 1 || r.SchedP999MS < r.SchedP99MS {
		t.Fatalf("two collections: %+v", r)
	}
	if r := runtimeBetween(after, after); r != (Runtime{}) {
		t.Fatalf("between a read and itself: %+v", r)
	}
}
