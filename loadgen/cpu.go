//go:build unix

package loadgen

import "syscall"

// cpuSeconds is the CPU time this process has used, user and system
// (Linux and the BSDs; 0 where getrusage fails). Across a run it says
// what a request costs, a figure steadier than latency on a shared
// machine.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
