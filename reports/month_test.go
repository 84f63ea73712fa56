package reports_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/reports"
	"github.com/dccgate/dccgate/runtime/store/sqlite"
	"github.com/dccgate/dccgate/spec"
)

// TestMonthOutOfRange: a report of a month whose times the store cannot
// hold (the years 1678 to 2262) is refused with a stable code that names
// the months accepted, not failed by the store; the first and the last
// month accepted are made.
func TestMonthOutOfRange(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, u := range users {
		if err := st.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	rp, err := reports.New(st, spec.MustDefault(), clock.NewVirtual(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	first, last := rp.Months()
	if first.String() != "1678-09" || last.String() != "2262-03" {
		t.Fatalf("months %s to %s", first, last)
	}
	tests := []struct {
		note   string
		report string
		month  string
		ok     bool
	}{
		{"performance, year 0", "performance", "0000-01", false},
		{"performance, before the first", "performance", first.Add(-1).String(), false},
		{"performance, the first", "performance", first.String(), true},
		{"performance, the last", "performance", last.String(), true},
		{"performance, after the last", "performance", last.Add(1).String(), false},
		{"demand, year 9999", "demand", "9999-12", false},
		{"demand, year 0", "demand", "0000-01", false},
		{"demand, the first", "demand", first.String(), true},
		{"demand, the last", "demand", last.String(), true},
		{"demand, after the last", "demand", last.Add(1).String(), false},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			m, err := reports.ParseMonth(tc.month)
			if err != nil {
				t.Fatal(err)
			}
			if tc.report == "performance" {
				_, err = rp.Performance(t.Context(), m)
			} else {
				_, err = rp.Demand(t.Context(), m)
			}
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var re *reports.Error
			if !errors.As(err, &re) || re.Code != reports.CodeMonthOutOfRange {
				t.Fatalf("err %v, want %s", err, reports.CodeMonthOutOfRange)
			}
			for _, s := range []string{tc.month, first.String() + " to " + last.String(), "para 2"} {
				if !strings.Contains(re.Message, s) {
					t.Fatalf("%q does not say %q", re.Message, s)
				}
			}
		})
	}
}
