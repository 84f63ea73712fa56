//go:build !unix

package loadgen

// cpuSeconds is 0 where getrusage is not at hand: the CPU line reads 0.
func cpuSeconds() float64 { return 0 }
