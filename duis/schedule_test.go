package duis

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/spec"
)

// decodeDoc decodes a document, or fails the test on a parse error.
func decodeDoc(t *testing.T, sp *spec.Spec, doc string) (*Request, error) {
	t.Helper()
	d, err := Parse([]byte(doc), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	return DecodeRequest(d, sp)
}

// wantStructure fails unless err is a structure error whose message
// holds each of want.
func wantStructure(t *testing.T, err error, want ...string) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Code != CodeStructure {
		t.Fatalf("%v, want a structure error", err)
	}
	for _, w := range want {
		if !strings.Contains(pe.Message, w) {
			t.Fatalf("%q does not name %q", pe.Message, w)
		}
	}
}

// createSchedule is a 5.1 of DCC Boxed's template's layout (ECS21a):
// frequency, start date and time, the scheduled SRV, the Device and the
// scheduled SRV's DSP body, each given where not empty.
func createSchedule(freq, date, clock, ref, srv, inner string, extra ...string) string {
	el := func(name, text string) string {
		if text == "" {
			return ""
		}
		return "<sr:" + name + ">" + text + "</sr:" + name + ">"
	}
	return `<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway" schemaVersion="5.4"><sr:Header>` +
		`<sr:RequestID>90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:1718000000123</sr:RequestID><sr:CommandVariant>8</sr:CommandVariant>` +
		`<sr:ServiceReference>5.1</sr:ServiceReference><sr:ServiceReferenceVariant>5.1</sr:ServiceReferenceVariant></sr:Header><sr:Body><sr:CreateSchedule>` +
		el("ScheduleFrequency", freq) + el("ScheduleStartDate", date) + strings.Join(extra, "") + el("ScheduleExecutionStartTime", clock) +
		el("DSPScheduledServiceReference", ref) + el("DSPScheduledServiceReferenceVariant", srv) +
		`<sr:DeviceID>00-DB-12-34-56-78-90-A0</sr:DeviceID>` + inner + `</sr:CreateSchedule></sr:Body></sr:Request>`
}

// TestDecodeCreateSchedule: 5.1 Create Schedule, as DCC Boxed's template
// lays it out, reads into the gateway's schedule (the SRV scheduled, read
// from its DSP body by its own mapping; the period of the frequency; the
// start date at the start time, midnight UTC without one); what that
// schedule cannot hold is refused, naming the element.
func TestDecodeCreateSchedule(t *testing.T) {
	sp := spec.MustDefault()
	const power = `<sr:DSPReadActivePowerImport/>`
	// profile is a 4.8.1 body of a period relative to each run.
	profile := func(startDays, startTime, endDays, endTime string) string {
		return `<sr:DSPReadActiveImportProfileData><sr:StartDateOffset>` + startDays + `</sr:StartDateOffset><sr:StartTime>` + startTime +
			`</sr:StartTime><sr:EndDateOffset>` + endDays + `</sr:EndDateOffset><sr:EndTime>` + endTime + `</sr:EndTime></sr:DSPReadActiveImportProfileData>`
	}
	tests := []struct {
		note, doc string
		srv       string        // the SRV scheduled; "" when refused
		every     time.Duration // its period
		start     string        // its start, RFC 3339
		names     []string      // what the refusal names
		from, to  string        // the first run's period, where relative
	}{
		{"the fixture: weekly 4.12.1 from a date at a time", string(fixture(t, "create-schedule.xml")), "4.12.1", 7 * 24 * time.Hour, "2015-01-02T02:30:00Z", nil, "", ""},
		{"daily, no start time: midnight UTC", createSchedule("Daily", "2015-01-02", "", "4.16", "4.16", power), "4.16", 24 * time.Hour, "2015-01-02T00:00:00Z", nil, "", ""},
		{"a start time in another zone", createSchedule("Daily", "2026-03-01", "02:30:00+01:00", "4.15", "4.15", `<sr:DSPReadLoadLimitData/>`), "4.15", 24 * time.Hour, "2026-03-01T01:30:00Z", nil, "", ""},
		{"a start date with a zone", createSchedule("Daily", "2026-03-01Z", "", "4.16", "4.16", power), "4.16", 24 * time.Hour, "2026-03-01T00:00:00Z", nil, "", ""},
		{"the template as it is: 4.6.1 reads the newest entry, its period not read", string(fixture(t, "create-schedule-read-log.xml")), "4.6.1", 24 * time.Hour, "2015-01-02T00:00:00Z", nil, "", ""},
		{"the day before each run", createSchedule("Daily", "2026-01-06", "01:00:00Z", "4.8", "4.8.1", profile("-1", "00:00:00.00Z", "0", "00:00:00Z")), "4.8.1", 24 * time.Hour, "2026-01-06T01:00:00Z", nil,
			"2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z"},
		{"a week to yesterday noon, in a zone", createSchedule("Weekly", "2026-01-06", "", "4.8", "4.8.1", profile("-8", "12:00:00+01:00", "-1", "12:00:00+01:00")), "4.8.1", 7 * 24 * time.Hour, "2026-01-06T00:00:00Z", nil,
			"2025-12-29T11:00:00Z", "2026-01-05T11:00:00Z"},
		{"a period of days ahead", createSchedule("Daily", "2026-01-06", "", "4.8", "4.8.1", profile("1", "00:00:00Z", "2", "00:00:00Z")), "", 0, "", []string{"StartDateOffset", "days back"}, "", ""},
		{"a period that ends before it starts", createSchedule("Daily", "2026-01-06", "", "4.8", "4.8.1", profile("0", "00:00:00Z", "-1", "00:00:00Z")), "", 0, "", []string{"EndDateOffset", "before it starts"}, "", ""},
		{"a period with no end time", createSchedule("Daily", "2026-01-06", "", "4.8", "4.8.1", `<sr:DSPReadActiveImportProfileData><sr:StartDateOffset>-1</sr:StartDateOffset><sr:StartTime>00:00:00Z</sr:StartTime><sr:EndDateOffset>0</sr:EndDateOffset></sr:DSPReadActiveImportProfileData>`), "", 0, "", []string{"EndTime"}, "", ""},
		{"monthly: a calendar period", createSchedule("Monthly", "2015-01-02", "", "4.16", "4.16", power), "", 0, "", []string{"ScheduleFrequency", "Monthly"}, "", ""},
		{"half-yearly", createSchedule("Half-Yearly", "2015-01-02", "", "4.16", "4.16", power), "", 0, "", []string{"ScheduleFrequency", "Half-Yearly"}, "", ""},
		{"an end date", createSchedule("Daily", "2015-01-02", "", "4.16", "4.16", power, `<sr:ScheduleEndDate>2030-01-01</sr:ScheduleEndDate>`), "", 0, "", []string{"ScheduleEndDate"}, "", ""},
		{"a Key Agreement credential", createSchedule("Daily", "2015-01-02", "", "4.16", "4.16", power, `<sr:KAPublicSecurityCredential>AQID</sr:KAPublicSecurityCredential>`), "", 0, "", []string{"KAPublicSecurityCredential"}, "", ""},
		{"the body of another SRV", createSchedule("Daily", "2015-01-02", "", "4.16", "4.16", `<sr:DSPReadLoadLimitData/>`), "", 0, "", []string{"DSPReadActivePowerImport"}, "", ""},
		{"a reference not the SRV's", createSchedule("Daily", "2015-01-02", "", "4.15", "4.16", power), "", 0, "", []string{"DSPScheduledServiceReference", "4.16"}, "", ""},
		{"an SRV the gateway does not support", createSchedule("Daily", "2015-01-02", "", "4.6", "4.6.9", power), "", 0, "", []string{"DSPScheduledServiceReferenceVariant", "4.6.9"}, "", ""},
		{"no SRV scheduled", createSchedule("Daily", "2015-01-02", "", "", "", power), "", 0, "", []string{"DSPScheduledServiceReferenceVariant"}, "", ""},
		{"no frequency", createSchedule("", "2015-01-02", "", "4.16", "4.16", power), "", 0, "", []string{"ScheduleFrequency"}, "", ""},
		{"no start date", createSchedule("Daily", "", "", "4.16", "4.16", power), "", 0, "", []string{"ScheduleStartDate"}, "", ""},
		{"a start date that is no xs:date", createSchedule("Daily", "2015-01-02T00:00:00Z", "", "4.16", "4.16", power), "", 0, "", []string{"ScheduleStartDate"}, "", ""},
		{"a start time that is no xs:time", createSchedule("Daily", "2015-01-02", "2am", "4.16", "4.16", power), "", 0, "", []string{"ScheduleExecutionStartTime"}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			r, err := decodeDoc(t, sp, tc.doc)
			if tc.srv == "" {
				wantStructure(t, err, tc.names...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := r.Schedule
			if s == nil || s.SRV.SRV != tc.srv || s.Every != tc.every || s.Start.Format(time.RFC3339) != tc.start {
				t.Fatalf("schedule %+v, want %s every %s from %s", s, tc.srv, tc.every, tc.start)
			}
			if s.Body == nil || r.Device != "00-DB-12-34-56-78-90-A0" {
				t.Fatalf("body %v, device %q", s.Body, r.Device)
			}
			if b := s.BodyAt(s.Start); (s.Period != nil) != (tc.from != "") || tc.from != "" && (b["from"] != tc.from || b["to"] != tc.to) {
				t.Fatalf("first run's body %v (period %+v), want from %q to %q", b, s.Period, tc.from, tc.to)
			}
		})
	}
}

// TestScheduleFirst: the first run is the start, or where that is before
// now, the run of the same period and phase that follows now.
func TestScheduleFirst(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	day, week := 24*time.Hour, 7*24*time.Hour
	now := at("2026-01-05T09:00:00Z") // a Monday
	tests := []struct {
		note, start string
		every       time.Duration
		want        string
	}{
		{"a start after now", "2026-02-01T02:30:00Z", day, "2026-02-01T02:30:00Z"},
		{"a start now", "2026-01-05T09:00:00Z", day, "2026-01-05T09:00:00Z"},
		{"daily from years ago, later in the day", "2015-01-02T10:00:00Z", day, "2026-01-05T10:00:00Z"},
		{"daily from years ago, earlier in the day", "2015-01-02T02:30:00Z", day, "2026-01-06T02:30:00Z"},
		{"weekly from a Friday years ago", "2015-01-02T00:00:00Z", week, "2026-01-09T00:00:00Z"},
		{"a past start on the phase of now", "2026-01-04T09:00:00Z", day, "2026-01-05T09:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			s := &Schedule{Every: tc.every, Start: at(tc.start)}
			if got := s.First(now).Format(time.RFC3339); got != tc.want {
				t.Fatalf("first %s, want %s", got, tc.want)
			}
		})
	}
}

// TestDecodeByScheduleID: 5.2 and 5.3 name their schedule by its DSP
// Schedule ID, as DCC Boxed's templates do, or by its Device (an
// xs:choice), not both.
func TestDecodeByScheduleID(t *testing.T) {
	sp := spec.MustDefault()
	read := string(fixture(t, "read-schedule.xml"))
	del := string(fixture(t, "delete-schedule.xml"))
	const dev = "<sr:DeviceID>00-DB-12-34-56-78-90-A0</sr:DeviceID>"
	tests := []struct {
		note, doc, srv string
		byID           bool
		id             uint64
		device         string
		refused        []string
	}{
		{"5.2 by its ID (the template)", read, "5.2", true, 123, "", nil},
		{"5.3 by its ID (the template)", del, "5.3", true, 123, "", nil},
		{"5.2 by its Device", strings.Replace(read, "<sr:DSPScheduleID>123</sr:DSPScheduleID>", dev, 1), "5.2", false, 0, "00-DB-12-34-56-78-90-A0", nil},
		{"an ID of twelve digits", strings.Replace(read, ">123<", ">718000000123<", 1), "5.2", true, 718000000123, "", nil},
		{"an ID with a sign", strings.Replace(read, ">123<", ">+123<", 1), "5.2", true, 123, "", nil},
		{"by both", strings.Replace(del, "</sr:DSPScheduleID>", "</sr:DSPScheduleID>"+dev, 1), "", false, 0, "", []string{"DSPScheduleID", "Device"}},
		{"an ID that is no integer", strings.Replace(read, ">123<", ">SCH-1<", 1), "", false, 0, "", []string{"DSPScheduleID"}},
		{"a negative ID", strings.Replace(read, ">123<", ">-1<", 1), "", false, 0, "", []string{"DSPScheduleID"}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			r, err := decodeDoc(t, sp, tc.doc)
			if tc.refused != nil {
				wantStructure(t, err, tc.refused...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.SRV.SRV != tc.srv || r.ByScheduleID != tc.byID || r.ScheduleID != tc.id || r.Device != tc.device {
				t.Fatalf("SRV %s by ID %v %d, device %q", r.SRV.SRV, r.ByScheduleID, r.ScheduleID, r.Device)
			}
		})
	}
}

// TestDecodeBillingCalendar: 6.8's billing day and time are read from the
// calendars DCC Boxed's templates send (ECS30, GCS25): an electricity
// calendar's Monthly day at its BillingTime, or a monthly gas calendar's
// start day and time of day, both in UTC; a period other than the month is
// refused naming the element, and so is a BillingTime whose zone puts it
// on another day in UTC than its Monthly day.
func TestDecodeBillingCalendar(t *testing.T) {
	sp := spec.MustDefault()
	elec := string(fixture(t, "billing-calendar-electricity.xml"))
	gas := string(fixture(t, "billing-calendar-gas.xml"))
	monthly := "<sr:Monthly>5</sr:Monthly>"
	at := func(clock string) string { return strings.Replace(elec, "00:00:00.00Z", clock, 1) }
	from := func(start string) string { return strings.Replace(gas, "2015-02-14T00:00:00.00Z", start, 1) }
	tests := []struct {
		note, doc string
		day       int64
		clock     string // billing_time
		refused   []string
	}{
		{"an electricity calendar's Monthly day at midnight", elec, 5, "00:00:00", nil},
		{"midnight with no zone", at("00:00:00"), 5, "00:00:00", nil},
		{"ECS30 as it is: the 1st at noon", strings.Replace(at("12:00:00.00Z"), monthly, "<sr:Monthly>1</sr:Monthly>", 1), 1, "12:00:00", nil},
		{"a time inside a half-hour slot", at("12:15:30Z"), 5, "12:15:30", nil},
		{"a time with no zone is UTC", at("18:00:00"), 5, "18:00:00", nil},
		{"a zone ahead of UTC, converted", at("13:00:00+01:00"), 5, "12:00:00", nil},
		{"a zone behind UTC, converted", at("07:30:00-05:00"), 5, "12:30:00", nil},
		{"a zone putting it on the day before in UTC", at("00:30:00+01:00"), 0, "", []string{"BillingTime", "00:30:00+01:00", "day before"}},
		{"a zone putting it on the day after in UTC", at("23:30:00-01:00"), 0, "", []string{"BillingTime", "23:30:00-01:00", "day after"}},
		{"a fraction of a second", at("12:00:00.5Z"), 5, "12:00:00.5", nil}, // the row's rule refuses it (engine)
		{"a gas calendar's start day (GCS25)", gas, 14, "00:00:00", nil},
		{"a gas calendar starting at noon", from("2015-02-14T12:00:00.00Z"), 14, "12:00:00", nil},
		{"a gas calendar in a zone, converted", from("2015-06-14T18:45:00+01:00"), 14, "17:45:00", nil},
		{"a gas calendar whose UTC day is the day before", from("2015-02-14T00:30:00+01:00"), 13, "23:30:00", nil},
		{"quarterly (ECS30a)", strings.Replace(elec, monthly, "<sr:Quarterly><sr:DayOfMonth>1</sr:DayOfMonth><sr:BillingPeriodStartMonth>1</sr:BillingPeriodStartMonth></sr:Quarterly>", 1), 0, "", []string{"Quarterly"}},
		{"daily", strings.Replace(elec, monthly, "<sr:Daily/>", 1), 0, "", []string{"Daily"}},
		{"weekly", strings.Replace(elec, monthly, "<sr:Weekly>3</sr:Weekly>", 1), 0, "", []string{"Weekly"}},
		{"six-monthly gas (GCS25a)", strings.Replace(gas, ">Monthly<", ">SixMonthly<", 1), 0, "", []string{"Periodicity", "SixMonthly"}},
		{"a gas calendar's start that is no xs:dateTime", from("14 February 2015T00:00:00Z"), 0, "", []string{"BillingPeriodStart"}},
		{"a day no month has every year", strings.Replace(elec, monthly, "<sr:Monthly>31</sr:Monthly>", 1), 31, "00:00:00", nil}, // the row's rule refuses it (engine)
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			r, err := decodeDoc(t, sp, tc.doc)
			if tc.refused != nil {
				wantStructure(t, err, tc.refused...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Fields["billing_day"] != tc.day || r.Fields["billing_time"] != tc.clock {
				t.Fatalf("billing_day %#v, billing_time %#v; want %d at %q", r.Fields["billing_day"], r.Fields["billing_time"], tc.day, tc.clock)
			}
		})
	}
}

// TestCheckReceipt: a gas billing calendar starting after the request is
// received is refused then (the meter would bill before its start), one
// starting before or at it is not.
func TestCheckReceipt(t *testing.T) {
	sp := spec.MustDefault()
	gas := string(fixture(t, "billing-calendar-gas.xml"))
	received := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		note, start string
		refused     bool
	}{
		{"years before", "2015-02-14T00:00:00.00Z", false},
		{"on the receipt", "2026-01-05T00:00:00Z", false},
		{"earlier the same day", "2026-01-05T08:30:00Z", false},
		{"later the same day", "2026-01-05T12:00:00Z", true},
		{"the day after", "2026-01-06T00:00:00Z", true},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			r, err := decodeDoc(t, sp, strings.Replace(gas, "2015-02-14T00:00:00.00Z", tc.start, 1))
			if err != nil {
				t.Fatal(err)
			}
			err = r.CheckReceipt(received)
			if !tc.refused {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantStructure(t, err, "BillingPeriodStart", "after the request is received")
		})
	}
}

// TestResponseScheduleID: a 5.1's result carries its DSPScheduleID in the
// ResponseMessage, in place of a payload (the XSD holds one of them), and
// a client reads it back.
func TestResponseScheduleID(t *testing.T) {
	r := Response{Namespace: "http://www.dccinterface.co.uk/ServiceUserGateway", SchemaVersion: "5.4", Code: "I0", SRV: "5.1", Ref: "5.1",
		RequestID: "90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:1718000000123", ScheduleID: "718000000123", Payload: []byte(`{"schedule_id":"SCH-1"}`)}
	doc, err := r.Document()
	if err != nil {
		t.Fatal(err)
	}
	d, err := DecodeResponse(doc, r.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	if d.ScheduleID != "718000000123" || d.Payload != nil {
		t.Fatalf("DSPScheduleID %q, payload %q: want the ID alone", d.ScheduleID, d.Payload)
	}
}
