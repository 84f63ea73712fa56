package clock

import (
	"fmt"
	"time"
)

// Month is a calendar month in UTC: the period of the monthly reports and
// charges.
type Month struct {
	Year int
	Mon  time.Month
}

// ParseMonth reads "2026-03".
func ParseMonth(s string) (Month, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return Month{}, fmt.Errorf("month %q: want YYYY-MM", s)
	}
	return Month{t.Year(), t.Month()}, nil
}

// MonthOf returns the month of t, in UTC.
func MonthOf(t time.Time) Month {
	t = t.UTC()
	return Month{t.Year(), t.Month()}
}

// Start is the first instant of the month.
func (m Month) Start() time.Time { return time.Date(m.Year, m.Mon, 1, 0, 0, 0, 0, time.UTC) }

// End is the first instant of the next month: the month is [Start, End).
func (m Month) End() time.Time { return m.Add(1).Start() }

// Day is the given day of the month, at midnight.
func (m Month) Day(d int) time.Time { return time.Date(m.Year, m.Mon, d, 0, 0, 0, 0, time.UTC) }

// Days is the number of calendar days in the month.
func (m Month) Days() int { return m.End().AddDate(0, 0, -1).Day() }

// Add returns the month n months later (earlier for negative n).
func (m Month) Add(n int) Month {
	i := m.index() + n
	return Month{i / 12, time.Month(i%12 + 1)}
}

// Sub returns the number of months from o to m.
func (m Month) Sub(o Month) int { return m.index() - o.index() }

// Before reports whether m is earlier than o.
func (m Month) Before(o Month) bool { return m.index() < o.index() }

func (m Month) index() int { return m.Year*12 + int(m.Mon) - 1 }

// String writes "2026-03".
func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year, int(m.Mon)) }

// Label writes "March 2026".
func (m Month) Label() string { return fmt.Sprintf("%s %d", m.Mon, m.Year) }

// IsZero reports whether m is the zero Month.
func (m Month) IsZero() bool { return m.Year == 0 && m.Mon == 0 }
