package loadgen

import (
	"math"
	"runtime/metrics"
)

// Runtime is what Go's runtime says of this process over the run (the
// gateway's too when it runs in process): the collector's cycles and CPU,
// and how long goroutines waited for a core. A run's tail below saturation
// is mostly the collector's: while it marks, goroutines wait longer to
// run, and a request crosses some twenty of them.
type Runtime struct {
	GCCycles     uint64  `json:"gc_cycles"`
	GCCPUSeconds float64 `json:"gc_cpu_s"`
	// GCShare is the collector's part of the CPU the process used.
	GCShare float64 `json:"gc_share"`
	// SchedP99MS and SchedP999MS are the time a goroutine ready to run
	// waited for a core (p99, p99.9), in milliseconds.
	SchedP99MS  float64 `json:"sched_latency_p99_ms"`
	SchedP999MS float64 `json:"sched_latency_p999_ms"`
	// GCPauseMaxMS is the longest stop-the-world pause.
	GCPauseMaxMS float64 `json:"gc_pause_max_ms"`
	// AllocBytes is what the process allocated on the heap: the collector
	// runs once per so many bytes, and each of its marks slows every
	// goroutine for a while, so bytes a request are the tail's price.
	AllocBytes uint64 `json:"alloc_bytes"`
}

// The metrics read, by their place in a readRuntime.
const (
	gcCycles = iota
	gcCPU
	totalCPU
	schedLatencies
	gcPauses
	heapAllocs
)

var runtimeMetrics = [...]string{
	gcCycles:       "/gc/cycles/total:gc-cycles",
	gcCPU:          "/cpu/classes/gc/total:cpu-seconds",
	totalCPU:       "/cpu/classes/total:cpu-seconds",
	schedLatencies: "/sched/latencies:seconds",
	gcPauses:       "/sched/pauses/total/gc:seconds",
	heapAllocs:     "/gc/heap/allocs:bytes",
}

func readRuntime() []metrics.Sample {
	s := make([]metrics.Sample, len(runtimeMetrics))
	for i, name := range runtimeMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	return s
}

// runtimeBetween is what changed between two readRuntime.
func runtimeBetween(before, after []metrics.Sample) Runtime {
	var r Runtime
	f64 := func(i int) float64 {
		if after[i].Value.Kind() != metrics.KindFloat64 {
			return 0
		}
		return after[i].Value.Float64() - before[i].Value.Float64()
	}
	u64 := func(i int) uint64 {
		if after[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return after[i].Value.Uint64() - before[i].Value.Uint64()
	}
	r.GCCycles = u64(gcCycles)
	r.AllocBytes = u64(heapAllocs)
	r.GCCPUSeconds = f64(gcCPU)
	if total := f64(totalCPU); total > 0 {
		r.GCShare = r.GCCPUSeconds / total
	}
	if h := histogramBetween(before[schedLatencies], after[schedLatencies]); h != nil {
		r.SchedP99MS, r.SchedP999MS = quantile(h, 0.99)*1000, quantile(h, 0.999)*1000
	}
	if h := histogramBetween(before[gcPauses], after[gcPauses]); h != nil {
		r.GCPauseMaxMS = quantile(h, 1) * 1000
	}
	return r
}

// histogramBetween is the histogram of what was recorded between two
// reads of the same cumulative histogram; nil if it is not one.
func histogramBetween(before, after metrics.Sample) *metrics.Float64Histogram {
	if before.Value.Kind() != metrics.KindFloat64Histogram || after.Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	b, a := before.Value.Float64Histogram(), after.Value.Float64Histogram()
	if len(a.Counts) != len(b.Counts) {
		return nil
	}
	d := &metrics.Float64Histogram{Buckets: a.Buckets, Counts: make([]uint64, len(a.Counts))}
	for i := range a.Counts {
		d.Counts[i] = a.Counts[i] - b.Counts[i]
	}
	return d
}

// quantile is the upper bound of the bucket holding the q-quantile (the
// lower bound for the last bucket, whose upper is infinite); 0 for an
// empty histogram.
func quantile(h *metrics.Float64Histogram, q float64) float64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var seen uint64
	for i, c := range h.Counts {
		seen += c
		if seen >= rank && c > 0 {
			if up := h.Buckets[i+1]; !math.IsInf(up, 1) {
				return up
			}
			return h.Buckets[i]
		}
	}
	return 0
}
