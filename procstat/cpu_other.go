//go:build !unix

package procstat

import "time"

// CPU is 0 where getrusage is not at hand.
func CPU() time.Duration { return 0 }
