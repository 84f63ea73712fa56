package maintenance_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/maintenance"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// gb is the spec's time zone for Great Britain, the one its months are in.
func gb(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(spec.MustDefault().ServiceManagement.Maintenance.ProtectedHours.TimeZone)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// gbMonth is the instant month starts in Great Britain and the next.
func gbMonth(t *testing.T, month string) (time.Time, time.Time) {
	t.Helper()
	from, err := time.ParseInLocation("2006-01", month, gb(t))
	if err != nil {
		t.Fatal(err)
	}
	return from, from.AddDate(0, 1, 0)
}

func z(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func mw(id, from, to string) store.MaintenanceWindow {
	return store.MaintenanceWindow{ID: id, StartsAt: z(from), EndsAt: z(to)}
}

// TestMonthlyDisruption: para 213 limits the service disruption in a
// month, so windows that overlap count the time they cover once, both in
// the four-hour rule Check applies and in the measure Disruption reports.
// The windows are nights outside the protected hours, so the only reason
// for the Panel is the month's total. Every case but "adjacent" counted the
// windows' lengths before, and so asked for the Panel or reported too much.
func TestMonthlyDisruption(t *testing.T) {
	tests := []struct {
		note   string
		before []store.MaintenanceWindow // published first
		w      store.MaintenanceWindow
		panel  string        // what the Panel reason says; "" for none
		month  string        // the month Disruption is asked for
		want   time.Duration // the disruption in it once w is published
	}{
		{"identical 2h windows and 30m: 2h30m",
			[]store.MaintenanceWindow{mw("MW-A", "2026-04-07T00:00:00Z", "2026-04-07T02:00:00Z"), mw("MW-B", "2026-04-07T00:00:00Z", "2026-04-07T02:00:00Z")},
			mw("MW-C", "2026-04-14T00:00:00Z", "2026-04-14T00:30:00Z"), "", "2026-04", 150 * time.Minute},
		{"a window nested in another counts nothing more: exactly 4h",
			[]store.MaintenanceWindow{mw("MW-A", "2026-04-07T00:00:00Z", "2026-04-07T03:00:00Z"), mw("MW-B", "2026-04-07T01:00:00Z", "2026-04-07T02:00:00Z")},
			mw("MW-C", "2026-04-14T00:00:00Z", "2026-04-14T01:00:00Z"), "", "2026-04", 4 * time.Hour},
		{"overlapping windows count their union: exactly 4h",
			[]store.MaintenanceWindow{mw("MW-A", "2026-04-07T00:00:00Z", "2026-04-07T02:00:00Z"), mw("MW-B", "2026-04-07T01:00:00Z", "2026-04-07T03:00:00Z")},
			mw("MW-C", "2026-04-14T00:00:00Z", "2026-04-14T01:00:00Z"), "", "2026-04", 4 * time.Hour},
		{"the new window overlapping a published one: exactly 4h",
			[]store.MaintenanceWindow{mw("MW-A", "2026-04-07T00:00:00Z", "2026-04-07T03:00:00Z")},
			mw("MW-C", "2026-04-07T01:00:00Z", "2026-04-07T04:00:00Z"), "", "2026-04", 4 * time.Hour},
		{"adjacent windows are not merged away: 4h30m needs the Panel",
			[]store.MaintenanceWindow{mw("MW-A", "2026-04-07T00:00:00Z", "2026-04-07T02:00:00Z"), mw("MW-B", "2026-04-07T02:00:00Z", "2026-04-07T03:00:00Z")},
			mw("MW-C", "2026-04-14T00:00:00Z", "2026-04-14T01:30:00Z"), "4h30m of maintenance in 2026-04, above 4h", "2026-04", 270 * time.Minute},
		{"a chain of touching and overlapping windows: exactly 4h",
			[]store.MaintenanceWindow{mw("MW-A", "2026-04-07T00:00:00Z", "2026-04-07T02:00:00Z"), mw("MW-B", "2026-04-07T02:00:00Z", "2026-04-07T03:00:00Z"), mw("MW-D", "2026-04-07T01:00:00Z", "2026-04-07T02:30:00Z")},
			mw("MW-C", "2026-04-14T00:00:00Z", "2026-04-14T01:00:00Z"), "", "2026-04", 4 * time.Hour},
		{"over the limit with duplicates: the union is reported, not the sum",
			[]store.MaintenanceWindow{mw("MW-A", "2026-04-07T00:00:00Z", "2026-04-07T03:00:00Z"), mw("MW-B", "2026-04-07T00:00:00Z", "2026-04-07T03:00:00Z")},
			mw("MW-C", "2026-04-14T00:00:00Z", "2026-04-14T01:30:00Z"), "4h30m of maintenance in 2026-04, above 4h", "2026-04", 270 * time.Minute},
		// 21:00Z 30 April to 01:00Z 1 May is 2h in April and 2h in May
		// in Great Britain (BST).
		{"a duplicate straddling the month's end counts once in April",
			[]store.MaintenanceWindow{mw("MW-A", "2026-04-30T21:00:00Z", "2026-05-01T01:00:00Z"), mw("MW-B", "2026-04-07T00:00:00Z", "2026-04-07T02:00:00Z")},
			mw("MW-C", "2026-04-30T21:00:00Z", "2026-05-01T01:00:00Z"), "", "2026-04", 4 * time.Hour},
		{"and once in May",
			[]store.MaintenanceWindow{mw("MW-A", "2026-04-30T21:00:00Z", "2026-05-01T01:00:00Z"), mw("MW-B", "2026-05-05T00:00:00Z", "2026-05-05T02:00:00Z")},
			mw("MW-C", "2026-04-30T21:00:00Z", "2026-05-01T01:00:00Z"), "", "2026-05", 4 * time.Hour},
		{"straddling windows and one in May: 4h in May",
			[]store.MaintenanceWindow{mw("MW-A", "2026-04-30T21:00:00Z", "2026-05-01T01:00:00Z"), mw("MW-B", "2026-04-30T21:00:00Z", "2026-05-01T01:00:00Z")},
			mw("MW-C", "2026-05-05T00:00:00Z", "2026-05-05T02:00:00Z"), "", "2026-05", 4 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			ctx := t.Context()
			p, _ := newPlanner(t, clock.NewVirtual(start))
			for _, b := range tc.before {
				b.PanelApproval = "PANEL-TEST" // whatever the setup needs
				if _, err := p.Publish(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			needs, err := p.Check(ctx, tc.w)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.panel == "" && len(needs) > 0:
				t.Fatalf("needs the Panel: %q", needs)
			case tc.panel != "" && !strings.Contains(strings.Join(needs, "; "), tc.panel):
				t.Fatalf("needs %q, want %q", needs, tc.panel)
			}
			tc.w.PanelApproval = "PANEL-TEST"
			if _, err := p.Publish(ctx, tc.w); err != nil {
				t.Fatal(err)
			}
			from, to := gbMonth(t, tc.month)
			got, err := p.Disruption(ctx, from, to)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("disruption in %s %s, want %s", tc.month, got, tc.want)
			}
		})
	}
}

// TestDisruptionLeavesOutCancelled: a cancelled window that overlaps a
// live one adds nothing, and the live one is still counted.
func TestDisruptionLeavesOutCancelled(t *testing.T) {
	ctx := t.Context()
	p, _ := newPlanner(t, clock.NewVirtual(start))
	for _, w := range []store.MaintenanceWindow{mw("MW-A", "2026-04-07T00:00:00Z", "2026-04-07T02:00:00Z"), mw("MW-B", "2026-04-07T01:00:00Z", "2026-04-07T04:00:00Z")} {
		w.PanelApproval = "PANEL-TEST" // whatever the setup needs
		if _, err := p.Publish(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Cancel(ctx, "MW-B"); err != nil {
		t.Fatal(err)
	}
	from, to := gbMonth(t, "2026-04")
	if got, err := p.Disruption(ctx, from, to); err != nil || got != 2*time.Hour {
		t.Fatalf("got %s %v, want 2h", got, err)
	}
}

// TestMonthIsGreatBritains: para 213's months are Great Britain's, so
// the schedule for a month is late once the month has begun there (at
// 23:00Z on its eve in BST), and a window counts toward the month it is in
// there. UTC months let July's schedule be published at 00:30 on 1 July,
// refused a window for 00:30 on 1 August published at 23:30 on 31 July,
// and counted 00:00-02:00 on 1 August partly in July.
func TestMonthIsGreatBritains(t *testing.T) {
	tests := []struct {
		note     string
		now      time.Time
		before   []store.MaintenanceWindow
		w        store.MaintenanceWindow
		wantCode string
		panel    string // what the Panel reason says; "" for none
	}{
		{"00:30 on 1 July (BST): July's schedule is late",
			z("2026-06-30T23:30:00Z"), nil, mw("MW-1", "2026-07-02T00:00:00Z", "2026-07-02T01:00:00Z"), maintenance.CodeLatePublication, ""},
		{"23:30 on 30 June (BST): July's schedule is in time",
			z("2026-06-30T22:30:00Z"), nil, mw("MW-1", "2026-07-02T00:00:00Z", "2026-07-02T01:00:00Z"), "", ""},
		{"23:30 on 31 July (BST): a window at 00:30 on 1 August is in time",
			z("2026-07-31T22:30:00Z"), nil, mw("MW-1", "2026-07-31T23:30:00Z", "2026-08-01T01:00:00Z"), "", ""},
		{"00:30 on 1 January (GMT) is January in UTC too: late",
			z("2026-01-01T00:30:00Z"), nil, mw("MW-1", "2026-01-02T00:00:00Z", "2026-01-02T01:00:00Z"), maintenance.CodeLatePublication, ""},
		{"a window from midnight on 1 August (BST) counts in August, not July",
			z("2026-06-15T09:00:00Z"), []store.MaintenanceWindow{mw("MW-A", "2026-07-07T00:00:00Z", "2026-07-07T03:30:00Z")},
			mw("MW-1", "2026-07-31T23:00:00Z", "2026-08-01T01:00:00Z"), "", ""},
		{"a window late on 31 July (BST) counts in July",
			z("2026-06-15T09:00:00Z"), []store.MaintenanceWindow{mw("MW-A", "2026-07-07T00:00:00Z", "2026-07-07T03:30:00Z")},
			mw("MW-1", "2026-07-31T22:00:00Z", "2026-07-31T23:00:00Z"), "", "4h30m of maintenance in 2026-07, above 4h"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			ctx := t.Context()
			p, _ := newPlanner(t, clock.NewVirtual(tc.now))
			for _, b := range tc.before {
				b.PanelApproval = "PANEL-TEST"
				if _, err := p.Publish(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			needs, err := p.Check(ctx, tc.w)
			if tc.wantCode != "" {
				if !errors.Is(err, &maintenance.Error{Code: tc.wantCode}) {
					t.Fatalf("got %v, want %s", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.panel == "" && len(needs) > 0:
				t.Fatalf("needs the Panel: %q", needs)
			case tc.panel != "" && !strings.Contains(strings.Join(needs, "; "), tc.panel):
				t.Fatalf("needs %q, want %q", needs, tc.panel)
			}
		})
	}
}

// TestMonth: the month of an instant is Great Britain's, its bounds the
// local midnights (23:00Z on the eve in BST), and a month the clocks change
// in is an hour short or long.
func TestMonth(t *testing.T) {
	tests := []struct {
		note     string
		at       time.Time
		from, to time.Time
	}{
		{"00:30 BST on 1 July", z("2026-06-30T23:30:00Z"), z("2026-06-30T23:00:00Z"), z("2026-07-31T23:00:00Z")},
		{"23:30 BST on 30 June", z("2026-06-30T22:30:00Z"), z("2026-05-31T23:00:00Z"), z("2026-06-30T23:00:00Z")},
		{"March, into BST", z("2026-03-31T22:59:59Z"), z("2026-03-01T00:00:00Z"), z("2026-03-31T23:00:00Z")},
		{"October, out of BST", z("2026-10-31T23:30:00Z"), z("2026-09-30T23:00:00Z"), z("2026-11-01T00:00:00Z")},
		{"January, GMT", z("2026-01-01T00:00:00Z"), z("2026-01-01T00:00:00Z"), z("2026-02-01T00:00:00Z")},
	}
	p, _ := newPlanner(t, clock.NewVirtual(start))
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			from, to := p.Month(tc.at)
			if !from.Equal(tc.from) || !to.Equal(tc.to) {
				t.Fatalf("%s to %s, want %s to %s", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), tc.from.Format(time.RFC3339), tc.to.Format(time.RFC3339))
			}
		})
	}
}
