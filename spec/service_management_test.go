package spec

import (
	"testing"
	"time"
)

func TestServiceManagementLoads(t *testing.T) {
	sm := MustDefault().ServiceManagement
	if got := sm.Incidents.CategoryCodes(); len(got) != 5 || got[0] != "1" || got[4] != "5" {
		t.Fatalf("categories %v", got)
	}
	if sm.Maintenance.ReasonCode != "MAINTENANCE" || MustDefault().Reason("MAINTENANCE") == nil {
		t.Fatalf("maintenance reason %q", sm.Maintenance.ReasonCode)
	}
	if sm.Maintenance.MaxDisruptionPerMonth.Std() != 4*time.Hour {
		t.Fatalf("max disruption %s", sm.Maintenance.MaxDisruptionPerMonth.Format())
	}
}

func TestAddWorkingDays(t *testing.T) {
	w := WorkingDays{Weekend: []string{"Saturday", "Sunday"}, Holidays: []string{"2026-12-25", "2026-12-28"}}
	tests := []struct {
		note string
		from string
		n    int
		want string
	}{
		{"monday: due at the end of wednesday", "2026-06-01T15:00:00Z", 2, "2026-06-04T00:00:00Z"},
		{"friday: the weekend does not count", "2026-06-05T10:00:00Z", 2, "2026-06-10T00:00:00Z"},
		{"christmas eve: holidays do not count", "2026-12-24T10:00:00Z", 2, "2026-12-31T00:00:00Z"},
		{"saturday", "2026-06-06T10:00:00Z", 1, "2026-06-09T00:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			from, _ := time.Parse(time.RFC3339, tc.from)
			if got := w.AddWorkingDays(from, tc.n).Format(time.RFC3339); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestInFreeze(t *testing.T) {
	r := Releases{ChangeFreeze: []ChangeFreeze{{Name: "year end", From: "12-15", To: "01-04"}}}
	tests := []struct {
		day  string
		want bool
	}{{"2026-12-14", false}, {"2026-12-15", true}, {"2027-01-01", true}, {"2027-01-04", true}, {"2027-01-05", false}, {"2026-07-01", false}}
	for _, tc := range tests {
		t.Run(tc.day, func(t *testing.T) {
			d, _ := time.Parse(time.DateOnly, tc.day)
			if _, got := r.InFreeze(d); got != tc.want {
				t.Fatalf("got %v", got)
			}
		})
	}
}

func TestServiceManagementChecks(t *testing.T) {
	var msgs []string
	s := &Spec{ServiceManagement: ServiceManagement{
		Incidents: IncidentPolicy{Priorities: []string{"P1"}, Categories: map[string]IncidentCategory{
			"1": {TargetResolution: Duration(8 * time.Hour), Priority: "P1"},
			"2": {TargetResolution: Duration(4 * time.Hour), Priority: "P9"},
		}},
		Maintenance: Maintenance{ReasonCode: "NOPE", ProtectedHours: ProtectedHours{TimeZone: "Europe/London"}},
	}}
	s.checkServiceManagement(func(p, f string, args ...any) { msgs = append(msgs, p) })
	want := []string{`service_management.incidents.categories."2".priority`, `service_management.incidents.categories."2".target_resolution`, "service_management.maintenance.reason_code"}
	if len(msgs) != len(want) {
		t.Fatalf("got %v, want %v", msgs, want)
	}
	for i := range want {
		if msgs[i] != want[i] {
			t.Fatalf("got %v, want %v", msgs, want)
		}
	}
}
