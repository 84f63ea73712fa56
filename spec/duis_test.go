package spec

import (
	"errors"
	"regexp"
	"slices"
	"testing"
)

func TestDUISMapsOntoTheSchedule(t *testing.T) {
	d := MustDefault().DUIS
	tests := []struct {
		note     string
		srv      string
		key      string
		variants []string
	}{
		{"non-critical device service", "4.1.1", "4.1", []string{"1", "2", "3"}},
		{"critical device service", "7.1", "7.1", []string{"4", "5", "6", "7"}},
		{"non-device service", "8.2", "8.2", []string{"8"}},
		{"critical row of a shared reference", "8.7.1", "8.7/type1", []string{"4", "5", "6", "7"}},
		{"non-critical row of a shared reference", "8.7.2", "8.7/type2", []string{"1", "2", "3"}},
		{"Change of Supplier: the CoS Party signs it (para 143-146)", "6.23", "6.23", []string{"1", "4", "5", "6", "7"}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			s := d.SRV(tc.srv)
			if s == nil {
				t.Fatalf("SRV %s not supported", tc.srv)
			}
			if s.Service == nil || s.Service.Key() != tc.key {
				t.Fatalf("SRV %s maps to %v, want %s", tc.srv, s.Service, tc.key)
			}
			if got := d.Variants(s); !slices.Equal(got, tc.variants) {
				t.Fatalf("variants of %s: %v, want %v", tc.srv, got, tc.variants)
			}
		})
	}
	for _, p := range []string{"4.18", "6.25", "6.32", "7.13", "7.16", "8.14.1", "11.4"} {
		if d.PostdatedSRV(p) == nil || d.SRV(p) != nil {
			t.Errorf("SRV %s should be refused as postdating the source", p)
		}
	}
	for _, s := range d.SRVs {
		if s.Service == nil {
			t.Errorf("SRV %s has no row", s.SRV)
		}
	}
	for reason, code := range d.ReasonCodes {
		if MustDefault().Reason(reason) == nil || d.ResponseCodes[code] == "" {
			t.Errorf("reason_codes %s -> %s: unknown reason or code", reason, code)
		}
	}
}

func TestBrokenDUISIsRefusedWithPosition(t *testing.T) {
	tests := []struct {
		note string
		edit [3]string
		want string
	}{
		{"unknown row", [3]string{"duis.cue", `{srv: "7.1", element: "EnableSupply", ref: "7.1"}`, `{srv: "7.1", element: "EnableSupply", ref: "7.99"}`}, `duis.cue:\d+:\d+: duis.srvs\[\d+\]: SRV 7.1 maps to 7.99, which is not a row`},
		{"srv outside its reference", [3]string{"duis.cue", `{srv: "7.1", element: "EnableSupply", ref: "7.1"}`, `{srv: "7.2.1", element: "EnableSupply", ref: "7.1"}`}, `duis.cue:\d+:\d+: duis.srvs\[\d+\]: SRV 7.2.1: its first two levels must be`},
		{"unknown field", [3]string{"duis.cue", `fields: {message: "SupplierMessage"}`, `fields: {text: "SupplierMessage"}`}, `SRV 3.1 reads text, which is not a field of 3.1`},
		{"postdated in the source", [3]string{"duis.cue", `{srv: "4.18", element: "ReadMeterBalance"`, `{srv: "4.17.9", element: "ReadMeterBalance"`}, `SRV 4.17.9 is listed as postdating the source, but Annex 5 has reference 4.17`},
		{"unknown reason", [3]string{"duis.cue", `UNKNOWN_USER:        "E1"`, `NO_SUCH_REASON: "E1"`}, `duis.cue:\d+:\d+: `},
		{"unknown response code", [3]string{"duis.cue", `DEVICE_UNKNOWN:      "E19"`, `DEVICE_UNKNOWN: "E77"`}, `duis.cue:\d+:\d+: `},
		{"a schedule's ID given to no field", [3]string{"duis.cue", `by_schedule_id: {field: "schedule_id"}`, `by_schedule_id: {field: "schedule"}`}, `SRV 5.3 gives the schedule's ID to schedule, which is not a field of 5.3`},
		{"a schedule's ID on a Device Service", [3]string{"duis.cue", `{srv: "7.4", element: "ReadSupplyStatus", ref: "7.4"}`, `{srv: "7.4", element: "ReadSupplyStatus", ref: "7.4", by_schedule_id: {}}`}, `SRV 7.4 names a schedule, but 7.4 is a Device Service`},
		{"a limit that is no expression", [3]string{"duis.cue", `Periodicity: {match: "^Monthly$"`, `Periodicity: {match: "^(Monthly$"`}, `SRV 6.8: the match of Periodicity is no regular expression`},
		{"a limit with no reason", [3]string{"duis.cue", `Daily: {why: _billingMonthly}`, `Daily: {}`}, `duis.cue:\d+:\d+: `},
		{"schedules read by an SRV that creates none", [3]string{"duis.cue", `srv:         "5.1"`, `srv:         "5.2"`}, `duis.schedule.srv: SRV 5.2 is not a supported SRV whose row creates a schedule`},
		{"a frequency of no duration", [3]string{"duis.cue", `every: {Daily: "24h", Weekly: "168h"}`, `every: {Daily: "a day"}`}, `duis.cue:\d+:\d+: `},
		{"a period relative to each run that runs would not move", [3]string{"inventory.cue", `moves_times: true`, `moves_times: false`}, `duis.schedule.period_offset: a period relative to each run needs categories.scheduled.moves_times`},
		{"a part of a date the syntax has not", [3]string{"duis.cue", `"Monthly|BillingPeriodStart~day"`, `"Monthly|BillingPeriodStart~month"`}, `duis.cue:\d+:\d+: `},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			_, err := LoadDir(copySpec(t, tc.edit))
			if err == nil {
				t.Fatal("broken spec loaded")
			}
			var es ErrorSet
			if !errors.As(err, &es) {
				t.Fatalf("error %T is not an ErrorSet: %v", err, err)
			}
			if !regexp.MustCompile(tc.want).MatchString(err.Error()) {
				t.Fatalf("error does not match %q:\n%v", tc.want, err)
			}
		})
	}
}

func TestBoxedDeviceTypes(t *testing.T) {
	got := map[string]string{}
	for _, d := range MustDefault().BoxedDevices() {
		got[d.ID] = d.Type
		t.Logf("%s %s %v", d.ID, d.Type, d.Votes)
	}
	want := map[string]string{
		"00-DB-12-34-56-78-90-A0": "ESME", "00-DB-12-34-56-78-90-A1": "GSME", "00-DB-12-34-56-78-90-A2": "CHF",
		"00-DB-12-34-56-78-90-A4": "IHD", "00-DB-12-34-56-78-90-A5": "PPMID", "00-DB-12-34-56-78-90-A6": "HCALCS",
	}
	for id, ty := range want {
		if got[id] != ty {
			t.Errorf("%s: %s, want %s", id, got[id], ty)
		}
	}
}

// TestDSPScheduleID: a schedule's DSP Schedule ID is the counter of the
// RequestID of the 5.1 that created it modulo 10^12 (the XSD's
// sr:scheduleID is at most 10^12; DCC Boxed's signing tool makes counters
// of the time in milliseconds, above it).
func TestDSPScheduleID(t *testing.T) {
	sc := &MustDefault().DUIS.Schedule
	tests := []struct {
		note, createdBy string
		id              uint64
		ok              bool
	}{
		{"a small counter is itself", "90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1000", 1000, true},
		{"a counter of milliseconds: its last twelve digits", "90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1718000000123", 718000000123, true},
		{"the largest counter", "90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:18446744073709551615", 73709551615, true},
		{"no counter", "SCH-1", 0, false},
		{"a counter that is no number", "a:b:c", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			id, ok := sc.IDOf(tc.createdBy)
			if id != tc.id || ok != tc.ok {
				t.Fatalf("IDOf(%q) = %d, %v; want %d, %v", tc.createdBy, id, ok, tc.id, tc.ok)
			}
		})
	}
	if sc.ID.Element != "DSPScheduleID" || len(sc.Every) == 0 {
		t.Fatalf("schedule %+v", sc)
	}
}
