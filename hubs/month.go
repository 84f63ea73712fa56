package hubs

import (
	"fmt"
	"time"

	"github.com/dccgate/dccgate/clock"
)

// Month is a calendar month; charges are computed for whole months.
type Month = clock.Month

// ParseMonth reads "2026-03".
func ParseMonth(s string) (Month, error) { return clock.ParseMonth(s) }

// MonthOf returns the month of t (in UTC).
func MonthOf(t time.Time) Month { return clock.MonthOf(t) }

const dateLayout = "2006-01-02"

func parseDate(s string) (time.Time, error) {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return t, nil
}
