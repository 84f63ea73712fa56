package reports

import (
	"time"

	"github.com/dccgate/dccgate/clock"
)

// Month is a calendar month in UTC (spec demand.time_zone).
type Month = clock.Month

// ParseMonth reads "2026-03".
func ParseMonth(s string) (Month, error) { return clock.ParseMonth(s) }

// MonthOf returns the month of t.
func MonthOf(t time.Time) Month { return clock.MonthOf(t) }
