package duisapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/duisapi"
	"github.com/dccgate/dccgate/runtime/store"
)

// createSchedule is a 5.1 Body as DCC Boxed's template lays it out
// (ECS21a): frequency, start date and time (where not empty), the SRV
// scheduled, the Device and the scheduled SRV's DSP body; extra goes
// after the start date.
func createSchedule(freq, date, clock, srv, inner string, extra ...string) string {
	ref := strings.Join(strings.SplitN(srv, ".", 3)[:2], ".")
	b := `<sr:CreateSchedule><sr:ScheduleFrequency>` + freq + `</sr:ScheduleFrequency><sr:ScheduleStartDate>` + date + `</sr:ScheduleStartDate>` + strings.Join(extra, "")
	if clock != "" {
		b += `<sr:ScheduleExecutionStartTime>` + clock + `</sr:ScheduleExecutionStartTime>`
	}
	return b + `<sr:DSPScheduledServiceReference>` + ref + `</sr:DSPScheduledServiceReference><sr:DSPScheduledServiceReferenceVariant>` + srv +
		`</sr:DSPScheduledServiceReferenceVariant><sr:DeviceID>` + esme + `</sr:DeviceID>` + inner + `</sr:CreateSchedule>`
}

// readLog is the scheduled body of DCC Boxed's 5.1 template: a daily read
// log of a period relative to each run.
const readLog = `<sr:DSPRetrieveImportDailyReadLog><sr:StartDateOffset>-1</sr:StartDateOffset><sr:StartTime>00:00:00.00Z</sr:StartTime>` +
	`<sr:EndDateOffset>0</sr:EndDateOffset><sr:EndTime>00:00:00.00Z</sr:EndTime></sr:DSPRetrieveImportDailyReadLog>`

// profileDayBefore is a scheduled 4.8.1's body of a period relative to
// each run: the day before it, midnight to midnight.
const profileDayBefore = `<sr:DSPReadActiveImportProfileData><sr:StartDateOffset>-1</sr:StartDateOffset><sr:StartTime>00:00:00Z</sr:StartTime>` +
	`<sr:EndDateOffset>0</sr:EndDateOffset><sr:EndTime>00:00:00Z</sr:EndTime></sr:DSPReadActiveImportProfileData>`

// nextAt is the first instant not before now at the time of day clock
// (UTC) on a day of the period every (a day or a week) counted from the
// day from.
func nextAt(now, from time.Time, clock time.Duration, every time.Duration) time.Time {
	at := from.Truncate(24 * time.Hour).Add(clock)
	for at.Before(now) {
		at = at.Add(every)
	}
	return at
}

// TestDUISCreateSchedule: 5.1 Create Schedule in its DUIS form (CV 8 to
// serviceD, DCC Boxed's template's layout) creates the schedule it names:
// the SRV scheduled by its own body, every day or week, from its start
// date at its start time, or the first such run not before receipt. What
// the gateway's schedule cannot hold is refused with MALFORMED, the
// message naming the element; a service note 404 does not schedule is
// refused as the Connect API's would be. The result POSTed later carries
// the schedule's DSPScheduleID (the 5.1 counter's last twelve digits), and
// the schedule runs.
func TestDUISCreateSchedule(t *testing.T) {
	e := newEnv(t)
	ost, rv := withReceiver(t, e, "", false)
	now := e.srv.G.Now()
	day, week := 24*time.Hour, 7*24*time.Hour
	past := time.Date(2015, 1, 2, 0, 0, 0, 0, time.UTC) // a Friday
	future := now.Truncate(day).Add(10 * day)
	power, maxDemand := `<sr:DSPReadActivePowerImport/>`, `<sr:DSPReadMaximumDemandImportRegisters/>`
	tests := []struct {
		note    string
		counter uint64
		body    string
		status  int
		reason  string // of a refusal
		names   string // what the refusal's message names
		service string // of the schedule created
		every   time.Duration
		next    time.Time // its first run
	}{
		{"daily 4.16 from a past date at a time, the counter a time in ms", 1718000000123, createSchedule("Daily", "2015-01-02", "02:30:00.00Z", "4.16", power), 200, "", "", "4.16", day, nextAt(now, past, 150*time.Minute, day)},
		{"weekly 4.12.1 from a past Friday, no start time", 1718000000200, createSchedule("Weekly", "2015-01-02", "", "4.12.1", maxDemand), 200, "", "", "4.12", week, nextAt(now, past, 0, week)},
		{"daily 4.15 from a future date", 1718000000201, createSchedule("Daily", future.Format("2006-01-02"), "23:00:00Z", "4.15", `<sr:DSPReadLoadLimitData/>`), 200, "", "", "4.15", day, future.Add(23 * time.Hour)},
		{"the template as it is: 4.6 is no scheduled service (note 404)", 1718000000202, createSchedule("Daily", "2015-01-02", "", "4.6.1", readLog), 400, "CATEGORY_NOT_AVAILABLE", "note 404", "", 0, time.Time{}},
		{"monthly", 1718000000203, createSchedule("Monthly", "2015-01-02", "", "4.16", power), 400, "MALFORMED", "ScheduleFrequency", "", 0, time.Time{}},
		{"an end date", 1718000000204, createSchedule("Daily", "2015-01-02", "", "4.16", power, `<sr:ScheduleEndDate>2030-01-01</sr:ScheduleEndDate>`), 400, "MALFORMED", "ScheduleEndDate", "", 0, time.Time{}},
		{"the body of another SRV", 1718000000205, createSchedule("Daily", "2015-01-02", "", "4.16", maxDemand), 400, "MALFORMED", "DSPReadActivePowerImport", "", 0, time.Time{}},
		{"a service note 404 does not schedule (4.2)", 1718000000206, createSchedule("Daily", "2015-01-02", "", "4.2", `<sr:DSPReadInstantaneousExportRegisters/>`), 400, "CATEGORY_NOT_AVAILABLE", "note 404", "", 0, time.Time{}},
		{"daily 4.8.1 of the day before each run", 1718000000207, createSchedule("Daily", "2015-01-02", "01:00:00Z", "4.8.1", profileDayBefore), 200, "", "", "4.8", day, nextAt(now, past, time.Hour, day)},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			a := e.post(t, "serviceD", supplier, request(fmt.Sprintf("%s:%s:%d", supplier, dccID, tc.counter), "8", "5.1", "", tc.body))
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			if tc.status != http.StatusOK {
				if a.reason != tc.reason || !strings.Contains(a.body, tc.names) {
					t.Fatalf("%s %s, want %s naming %s", a.reason, a.body, tc.reason, tc.names)
				}
				return
			}
			if a.resp.ResponseCode != "I99" {
				t.Fatalf("%s %s %s", a.resp.ResponseCode, a.resp.Reason, a.resp.Message)
			}
			gw := fmt.Sprintf("%s:%s:%d", supplier, esme, tc.counter)
			if st := e.state(t, gw); st != "accepted" {
				t.Fatalf("the 5.1 is %s", st)
			}
			scheds, err := e.srv.Store.ListSchedules(t.Context(), store.ScheduleFilter{UserID: supplier})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range scheds {
				if s.CreatedBy != gw {
					continue
				}
				if s.Service != tc.service || s.Every != tc.every || !s.Next.Equal(tc.next) || s.DeviceID != esme {
					t.Fatalf("schedule %s %s every %s next %s, want %s %s every %s next %s", s.DeviceID, s.Service, s.Every, s.Next, esme, tc.service, tc.every, tc.next)
				}
				if tc.service == "4.8" {
					// The first run reads the day before it; later runs
					// move the period with them (the gateway's runBody).
					var b map[string]any
					if err := json.Unmarshal(s.Body, &b); err != nil {
						t.Fatal(err)
					}
					day0 := s.Next.Truncate(day)
					if b["from"] != day0.Add(-day).Format(time.RFC3339) || b["to"] != day0.Format(time.RFC3339) {
						t.Fatalf("4.8's period %v, want the day before %s", b, s.Next)
					}
				}
				return
			}
			t.Fatalf("no schedule created by %s among %+v", gw, scheds)
		})
	}

	// The result of the first 5.1, POSTed to the receiver, carries its
	// DSPScheduleID.
	ob := &duisapi.Outbox{S: e.duis, Store: ost, Now: e.srv.G.Now}
	if _, err := ob.Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := ob.Send(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		fmt.Sprintf("%s:%s:%d", supplier, dccID, 1718000000123): "718000000123",
		fmt.Sprintf("%s:%s:%d", supplier, dccID, 1718000000200): "718000000200",
	}
	rv.mu.Lock()
	for _, d := range rv.docs {
		if id, ok := want[d.RequestID]; ok {
			if d.ScheduleID != id || d.SRV != "5.1" || d.ResponseCode != "I0" || d.Payload != nil {
				t.Errorf("result of %s: DSPScheduleID %q SRV %s %s payload %q, want %s alone", d.RequestID, d.ScheduleID, d.SRV, d.ResponseCode, d.Payload, id)
			}
			delete(want, d.RequestID)
		}
	}
	rv.mu.Unlock()
	if len(want) > 0 {
		t.Errorf("no result POSTed for %v", want)
	}

	// The daily 4.16 runs at its first run.
	first := nextAt(now, past, 150*time.Minute, day)
	if _, err := e.srv.G.Advance(t.Context(), first.Sub(now)+time.Minute); err != nil {
		t.Fatal(err)
	}
	e.srv.G.WaitIdle(t.Context())
	runs, err := e.srv.Store.ListRequests(t.Context(), store.RequestFilter{UserID: supplier, DeviceID: esme})
	if err != nil {
		t.Fatal(err)
	}
	ran := false
	for _, r := range runs {
		ran = ran || (r.ScheduleID != "" && r.Service == "4.16" && r.ExecuteAt.Equal(first))
	}
	if !ran {
		t.Errorf("the daily 4.16 did not run at %s", first)
	}
}

// TestDUISScheduleByID: 5.2 and 5.3 in the form of DCC Boxed's templates,
// naming the schedule by its DSPScheduleID alone, read and delete that
// schedule of the sender's on its Device; an ID that names none of the
// sender's schedules (unknown, deleted, or another user's) is refused with
// MALFORMED, as the gateway refuses a 5.3 of an unknown schedule_id, and
// touches nothing.
func TestDUISScheduleByID(t *testing.T) {
	e := newEnv(t)
	create := func(user string, counter uint64, srv, inner string) {
		t.Helper()
		a := e.post(t, "serviceD", user, request(fmt.Sprintf("%s:%s:%d", user, dccID, counter), "8", "5.1", "", createSchedule("Daily", "2015-01-02", "", srv, inner)))
		if a.resp == nil || a.resp.ResponseCode != "I99" {
			t.Fatalf("5.1 of %s: %d %s", user, a.status, a.body)
		}
		if st := e.state(t, fmt.Sprintf("%s:%s:%d", user, esme, counter)); st != "accepted" {
			t.Fatalf("5.1 of %s: %s", user, st)
		}
	}
	// Two of the supplier's schedules and one of another supplier's, on
	// the same Device: its counter 1000 is its schedule's ID.
	create(supplier, 1718000000123, "4.16", `<sr:DSPReadActivePowerImport/>`)
	create(supplier, 1718000000200, "4.15", `<sr:DSPReadLoadLimitData/>`)
	create(rival, 1000, "4.16", `<sr:DSPReadActivePowerImport/>`)
	owned := func(user string) []string {
		t.Helper()
		scheds, err := e.srv.Store.ListSchedules(t.Context(), store.ScheduleFilter{UserID: user})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range scheds {
			out = append(out, s.Service)
		}
		return out
	}
	byID := func(el string, id string) string {
		return `<sr:` + el + `><sr:DSPScheduleID>` + id + `</sr:DSPScheduleID></sr:` + el + `>`
	}
	n := uint64(1718000001000)
	tests := []struct {
		note, srv, body string
		status          int
		names           string   // what a refusal's message names
		read            []string // the services of the schedules a 5.2 returns
		left            []string // the supplier's schedules afterwards
	}{
		{"5.2 by the ID of a schedule of the sender's", "5.2", byID("ReadSchedule", "718000000123"), 200, "", []string{"4.15", "4.16"}, []string{"4.15", "4.16"}},
		{"5.2 by another user's ID", "5.2", byID("ReadSchedule", "1000"), 400, "DSPScheduleID 1000", nil, []string{"4.15", "4.16"}},
		{"5.3 by an unknown ID", "5.3", byID("DeleteSchedule", "123"), 400, "DSPScheduleID 123", nil, []string{"4.15", "4.16"}},
		{"5.3 by another user's ID", "5.3", byID("DeleteSchedule", "1000"), 400, "DSPScheduleID 1000", nil, []string{"4.15", "4.16"}},
		{"5.3 by both ID and Device", "5.3", `<sr:DeleteSchedule><sr:DSPScheduleID>718000000123</sr:DSPScheduleID><sr:DeviceID>` + esme + `</sr:DeviceID></sr:DeleteSchedule>`, 400, "DSPScheduleID", nil, []string{"4.15", "4.16"}},
		{"5.3 by the ID deletes that schedule alone", "5.3", byID("DeleteSchedule", "718000000123"), 200, "", nil, []string{"4.15"}},
		{"5.3 by the ID again: deleted", "5.3", byID("DeleteSchedule", "718000000123"), 400, "DSPScheduleID 718000000123", nil, []string{"4.15"}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			n++
			a := e.post(t, "serviceD", supplier, request(fmt.Sprintf("%s:%s:%d", supplier, dccID, n), "8", tc.srv, "", tc.body))
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			if tc.status != http.StatusOK {
				if a.reason != "MALFORMED" || !strings.Contains(a.body, tc.names) {
					t.Fatalf("%s %s, want MALFORMED naming %q", a.reason, a.body, tc.names)
				}
			} else {
				if a.resp.ResponseCode != "I99" {
					t.Fatalf("%s %s %s", a.resp.ResponseCode, a.resp.Reason, a.resp.Message)
				}
				// The request is the schedule's Device's.
				gw := fmt.Sprintf("%s:%s:%d", supplier, esme, n)
				e.srv.G.WaitIdle(t.Context())
				r, err := e.srv.Store.GetRequest(t.Context(), gw)
				if err != nil {
					t.Fatal(err)
				}
				if r.State != "accepted" || r.DeviceID != esme {
					t.Fatalf("%s on %s: %s %s", tc.srv, r.DeviceID, r.State, r.Message)
				}
				if tc.read != nil {
					var got struct {
						Schedules []struct {
							Service string `json:"service"`
						} `json:"schedules"`
					}
					if err := json.Unmarshal(r.Response, &got); err != nil {
						t.Fatal(err)
					}
					var services []string
					for _, s := range got.Schedules {
						services = append(services, s.Service)
					}
					if fmt.Sprint(sorted(services)) != fmt.Sprint(tc.read) {
						t.Fatalf("5.2 read %v, want %v", services, tc.read)
					}
				}
			}
			if got := sorted(owned(supplier)); fmt.Sprint(got) != fmt.Sprint(tc.left) {
				t.Fatalf("the supplier's schedules %v, want %v", got, tc.left)
			}
			if got := owned(rival); len(got) != 1 {
				t.Fatalf("the other user's schedules %v: want its one untouched", got)
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// TestDUISBillingCalendar: 6.8 in the forms of DCC Boxed's templates
// (ECS30, GCS25) sets the meter's billing day and time: an electricity
// calendar's Monthly day at its BillingTime, a monthly gas calendar's start
// day and time of day, in UTC; the device holds both (6.2.3 reads them
// back). What the meter's calendar (a day of every month, at a time of day)
// cannot hold is refused with MALFORMED, the message naming the element, a
// gas calendar that starts after the request is received too.
func TestDUISBillingCalendar(t *testing.T) {
	e := newEnv(t)
	const gsme = "00-DB-00-00-00-00-6A-01"
	elec := func(clock, period string) string {
		return `<sr:UpdateDeviceConfigurationBillingCalendar><sr:ElectricityBillingCalendar><sr:BillingTime>` + clock + `</sr:BillingTime>` + period +
			`</sr:ElectricityBillingCalendar></sr:UpdateDeviceConfigurationBillingCalendar>`
	}
	gas := func(start, periodicity string) string {
		return `<sr:UpdateDeviceConfigurationBillingCalendar><sr:GasBillingCalendar><sr:BillingPeriodStart>` + start + `</sr:BillingPeriodStart><sr:Periodicity>` + periodicity +
			`</sr:Periodicity></sr:GasBillingCalendar></sr:UpdateDeviceConfigurationBillingCalendar>`
	}
	tomorrow := e.srv.G.Now().Truncate(24 * time.Hour).Add(24 * time.Hour).Format(time.RFC3339)
	n := 600
	tests := []struct {
		note, as, device, body string
		status                 int
		day                    int    // the billing day set
		clock                  string // the billing time set
		names                  string // what a refusal's message names
	}{
		{"electricity, monthly on the 5th at midnight", supplier, esme, elec("00:00:00.00Z", "<sr:Monthly>5</sr:Monthly>"), 200, 5, "00:00:00", ""},
		{"gas, monthly from the 14th (GCS25)", gasSup, gsme, gas("2015-02-14T00:00:00.00Z", "Monthly"), 200, 14, "00:00:00", ""},
		{"electricity at noon (ECS30 as it is)", supplier, esme, elec("12:00:00.00Z", "<sr:Monthly>1</sr:Monthly>"), 200, 1, "12:00:00", ""},
		{"electricity in a zone, in UTC", supplier, esme, elec("18:45:00+01:00", "<sr:Monthly>9</sr:Monthly>"), 200, 9, "17:45:00", ""},
		{"gas, monthly from the 14th at 17:30", gasSup, gsme, gas("2015-02-14T17:30:00.00Z", "Monthly"), 200, 14, "17:30:00", ""},
		{"electricity on the day before in UTC", supplier, esme, elec("00:30:00+01:00", "<sr:Monthly>5</sr:Monthly>"), 400, 0, "", "BillingTime"},
		{"a fraction of a second: the row's rule", supplier, esme, elec("12:00:00.5Z", "<sr:Monthly>5</sr:Monthly>"), 400, 0, "", "billing_time"},
		{"electricity, quarterly (ECS30a)", supplier, esme, elec("00:00:00.00Z", "<sr:Quarterly><sr:DayOfMonth>1</sr:DayOfMonth><sr:BillingPeriodStartMonth>1</sr:BillingPeriodStartMonth></sr:Quarterly>"), 400, 0, "", "Quarterly"},
		{"gas, six-monthly (GCS25a)", gasSup, gsme, gas("2015-01-01T00:00:00.00Z", "SixMonthly"), 400, 0, "", "Periodicity"},
		{"gas, monthly from tomorrow", gasSup, gsme, gas(tomorrow, "Monthly"), 400, 0, "", "BillingPeriodStart"},
		{"a day some months lack: the row's rule", supplier, esme, elec("00:00:00Z", "<sr:Monthly>30</sr:Monthly>"), 400, 0, "", "billing_day"},
	}
	type calendar struct {
		BillingDay  int    `json:"billing_day"`
		BillingTime string `json:"billing_time"`
	}
	result := func(t *testing.T, id string) (string, string, calendar) {
		t.Helper()
		e.srv.G.WaitIdle(t.Context())
		r, err := e.srv.Store.GetRequest(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		var got calendar
		_ = json.Unmarshal(r.Response, &got)
		return r.State, r.Message + " " + string(r.Response), got
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			n++
			id := fmt.Sprintf("%s:%s:%d", tc.as, tc.device, n)
			a := e.post(t, "serviceS", tc.as, request(id, "1", "6.8", "", tc.body))
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			if tc.status != http.StatusOK {
				if a.reason != "MALFORMED" || !strings.Contains(a.body, tc.names) {
					t.Fatalf("%s %s, want MALFORMED naming %q", a.reason, a.body, tc.names)
				}
				return
			}
			if a.resp.ResponseCode != "I99" {
				t.Fatalf("%s %s %s", a.resp.ResponseCode, a.resp.Reason, a.resp.Message)
			}
			want := calendar{tc.day, tc.clock}
			if state, msg, got := result(t, id); state != "accepted" || got != want {
				t.Fatalf("%s %s: want the billing calendar %+v set", state, msg, want)
			}
			// The device holds it: its configuration read back (6.2.3).
			n++
			id = fmt.Sprintf("%s:%s:%d", tc.as, tc.device, n)
			a = e.post(t, "serviceS", tc.as, request(id, "1", "6.2.3", "", `<sr:ReadDeviceConfigurationBillingCalendar/>`))
			if a.status != http.StatusOK || a.resp.ResponseCode != "I99" {
				t.Fatalf("6.2.3: status %d: %s", a.status, a.body)
			}
			if state, msg, got := result(t, id); state != "accepted" || got != want {
				t.Fatalf("6.2.3 %s %s: want the billing calendar %+v read back", state, msg, want)
			}
		})
	}
}

// TestDUISScheduleIDAmbiguous: two of the sender's schedules whose 5.1
// counters are 10^12 apart share a DSP Schedule ID; named by it, neither
// is read or deleted: the request is refused, naming both.
func TestDUISScheduleIDAmbiguous(t *testing.T) {
	e := newEnv(t)
	for _, counter := range []uint64{1000, 1000000001000} {
		a := e.post(t, "serviceD", supplier, request(fmt.Sprintf("%s:%s:%d", supplier, dccID, counter), "8", "5.1", "", createSchedule("Daily", "2015-01-02", "", "4.16", `<sr:DSPReadActivePowerImport/>`)))
		if a.resp == nil || a.resp.ResponseCode != "I99" {
			t.Fatalf("5.1 %d: %d %s", counter, a.status, a.body)
		}
	}
	e.srv.G.WaitIdle(t.Context())
	a := e.post(t, "serviceD", supplier, request(fmt.Sprintf("%s:%s:%d", supplier, dccID, 1000000001001), "8", "5.3", "", `<sr:DeleteSchedule><sr:DSPScheduleID>1000</sr:DSPScheduleID></sr:DeleteSchedule>`))
	if a.status != http.StatusBadRequest || a.reason != "MALFORMED" || !strings.Contains(a.body, "names 2 schedules") {
		t.Fatalf("%d %s %s, want MALFORMED naming both schedules", a.status, a.reason, a.body)
	}
	scheds, err := e.srv.Store.ListSchedules(t.Context(), store.ScheduleFilter{UserID: supplier})
	if err != nil || len(scheds) != 2 {
		t.Fatalf("%d schedules (%v), want both kept", len(scheds), err)
	}
}
