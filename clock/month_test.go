package clock

import (
	"testing"
	"time"
)

func TestMonth(t *testing.T) {
	m, err := ParseMonth("2026-12")
	if err != nil || m != (Month{2026, time.December}) || m.String() != "2026-12" || m.Label() != "December 2026" {
		t.Fatalf("%v %v", m, err)
	}
	if n := m.Add(1); n != (Month{2027, time.January}) || n.Sub(m) != 1 || !m.Before(n) || m.Add(-12) != (Month{2025, time.December}) {
		t.Fatalf("add: %v", n)
	}
	if !m.End().Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) || m.Days() != 31 || (Month{2028, time.February}).Days() != 29 {
		t.Fatalf("end %v, days %d", m.End(), m.Days())
	}
	if MonthOf(time.Date(2026, 3, 31, 23, 30, 0, 0, time.FixedZone("x", -3600))) != (Month{2026, time.April}) {
		t.Fatal("MonthOf is not in UTC")
	}
	if _, err := ParseMonth("2026-13"); err == nil || !(Month{}).IsZero() {
		t.Fatal("a bad month parsed")
	}
}
