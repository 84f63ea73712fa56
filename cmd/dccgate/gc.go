package main

import (
	"math"
	"runtime/debug"
	"strings"

	"github.com/dccgate/dccgate/runtime/config"
)

// gcSettings is what applyGC left in force, for the log.
type gcSettings struct {
	Percent     int   // -1: off
	MemoryLimit int64 // bytes; 0: none
}

// applyGC sets the collector from the configuration. Go's own variables
// win: GOGC or GOMEMLIMIT in env (os.Environ()) leaves that setting as the
// runtime read it at start.
func applyGC(g config.GC, env []string) gcSettings {
	set := map[string]bool{}
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); ok {
			set[k] = true
		}
	}
	var s gcSettings
	if set["GOGC"] {
		s.Percent = debug.SetGCPercent(-1) // returns the runtime's setting
		debug.SetGCPercent(s.Percent)
	} else {
		debug.SetGCPercent(g.Percent)
		s.Percent = g.Percent
	}
	if set["GOMEMLIMIT"] {
		s.MemoryLimit = debug.SetMemoryLimit(-1) // a negative reads it
	} else {
		s.MemoryLimit, _ = config.ParseBytes(g.MemoryLimit) // validated by config.Load
		if s.MemoryLimit == 0 {
			debug.SetMemoryLimit(math.MaxInt64) // the runtime's "none"
		} else {
			debug.SetMemoryLimit(s.MemoryLimit)
		}
	}
	if s.MemoryLimit == math.MaxInt64 {
		s.MemoryLimit = 0
	}
	return s
}
