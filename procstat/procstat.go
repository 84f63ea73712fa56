// Package procstat reads what this process has used so far: CPU time,
// resident memory and bytes written. A benchmark or a load run reads it
// before and after, since CPU a request is steadier than latency on a
// shared machine. Where the system does not say, each reads 0.
package procstat

import (
	"os"
	"strconv"
	"strings"
)

// RSS is this process's resident set size in bytes (Linux).
func RSS() uint64 {
	v, _ := strconv.ParseUint(strings.TrimSuffix(field("/proc/self/status", "VmRSS:"), " kB"), 10, 64)
	return v << 10
}

// Written is the bytes this process has written through system calls
// (Linux): a store's, to its log and its file.
func Written() int64 {
	v, _ := strconv.ParseInt(field("/proc/self/io", "wchar:"), 10, 64)
	return v
}

// field is the value after name in a /proc file of "name value" lines.
func field(path, name string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
