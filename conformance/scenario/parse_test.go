package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// The public examples must parse, with the defaults the format promises.
func TestLoadExamples(t *testing.T) {
	scs, err := Load("testdata/valid")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	byName := map[string]*Scenario{}
	for _, sc := range scs {
		byName[sc.Name] = sc
	}
	en := byName["electricity-enrolment"]
	if en == nil || byName["eligibility-basics"] == nil || len(scs) != 2 {
		t.Fatalf("got scenarios %v, want electricity-enrolment and eligibility-basics", byName)
	}
	if !en.Start.Equal(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("start = %v, want the default", en.Start)
	}
	if en.File != filepath.Join("testdata", "valid", "electricity-enrolment.yaml") {
		t.Errorf("file = %q", en.File)
	}
	if len(en.Steps) != 4 || en.Steps[0].Kind != StepEvent || en.Steps[1].Kind != StepRequest {
		t.Fatalf("steps = %+v", en.Steps)
	}
	pre := en.Steps[1]
	if pre.ID != "prenotify" || pre.As != "00-00-00-00-00-00-0A-01" || pre.Index != 2 || pre.Line != 18 {
		t.Errorf("step 2 = %+v", pre)
	}
	r := pre.Request
	if r.Service != "12.2" || r.Device != "00-DB-00-00-00-00-E0-01" || r.When.Kind != OnDemand || r.Delivery != "wan" || r.Sign.Mode != SignOwn {
		t.Errorf("request = %+v", r)
	}
	if r.Body["type"] != "ESME" || r.Body["mpxn"] != "1900000000011" {
		t.Errorf("body = %v", r.Body)
	}
	if got := en.Steps[0].Expect.Statuses["00-DB-00-00-00-00-C0-01"]; got != "commissioned" {
		t.Errorf("status map = %v", en.Steps[0].Expect.Statuses)
	}
	last := en.Steps[3].Expect
	if last.Outcome != OutcomeAccepted || last.Status != "commissioned" || !last.Enrolled["1900000000011"] {
		t.Errorf("last expect = %+v", last)
	}
	if got := en.Steps[2].Request.Body["add"]; !equalAny(got, []any{"00-DB-00-00-00-00-E0-01"}) {
		t.Errorf("8.11 add = %#v", got)
	}
	if u := en.Users[1]; u.ID != "00-00-00-00-00-00-0E-01" || u.Role != "ENO" || u.Party != "North Wires" {
		t.Errorf("user = %+v", u)
	}
	if g := en.Registration[0]; g.Fuel != "electricity" || g.Postcode != "SW1H 0ET" || g.Premises != "1" {
		t.Errorf("registration = %+v", g)
	}
}

// A complete file: every key of the format, with non-default values.
func TestParseEverything(t *testing.T) {
	const src = `name: everything
source: para 126-127
start: 2026-02-01T00:00:00Z
users:
  - {id: "00-00-00-00-00-00-0A-01", role: EIS, party: Alpha, suspended: false}
  - {id: "00-00-00-00-00-00-0B-01", role: GIS, suspended: true}
registration:
  - {mpxn: "1900000000011", fuel: electricity, import_supplier: "00-00-00-00-00-00-0A-01", export_supplier: "00-00-00-00-00-00-0A-01", network_operator: "00-00-00-00-00-00-0E-01", postcode: "SW1H 0ET", premises: "1", uprn: "100023336956"}
inventory:
  - {device: "00-DB-00-00-00-00-E0-01", type: ESME, status: commissioned, mpxn: "1900000000011", chf: "00-DB-00-00-00-00-C0-01", credentials: "00-00-00-00-00-00-0A-01"}
  - {device: "00-DB-00-00-00-00-D0-01", type: PPMID, status: installed_not_commissioned, meter: "00-DB-00-00-00-00-E0-01"}
anomaly:
  - {service: "4.1", role: EIS, max: 2, per: 1h}
steps:
  - id: price
    as: "00-00-00-00-00-00-0A-01"
    request:
      service: "1.1"
      variant: prepayment
      device: "00-DB-00-00-00-00-E0-01"
      when: {future: "2026-02-02T00:00:00+01:00"}
      delivery: local
      sign: {with: "00-00-00-00-00-00-0B-01"}
      body: {standing_charge_pence: 30, tariff_name: Green}
    expect: {outcome: pending}
  - id: switch
    as: "00-00-00-00-00-00-0A-01"
    request: {service: "7.5", device: "00-DB-00-00-00-00-E0-01", after: price, sign: none, counter: 7}
    expect: {outcome: held}
  - as: "00-00-00-00-00-00-0A-01"
    request:
      service: "5.1"
      device: "00-DB-00-00-00-00-E0-01"
      when: {schedule: {service: "4.8", every: 24h, first: "2026-02-02T01:00:00Z"}}
    expect: {outcome: accepted, schedules: {"00-00-00-00-00-00-0A-01": 1}}
  - as: "00-00-00-00-00-00-0A-01"
    request: {service: "8.2", postcode: "SW1H 0ET", premises: "1"}
  - advance: 720h
    expect:
      outcomes: {price: accepted, switch: cancelled}
      alerts: [{to: "00-00-00-00-00-00-0A-01", code: A21}, {to: "00-00-00-00-00-00-0E-01"}]
      enrolled: {"1900000000011": false}
  - event: {device: "00-DB-00-00-00-00-C0-01", kind: power_loss}
    expect: {status: commissioned}
`
	sc, err := Parse("everything.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if sc.Source != "para 126-127" || !sc.Start.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("top = %q %v", sc.Source, sc.Start)
	}
	if !sc.Users[1].Suspended || sc.Users[0].Suspended {
		t.Errorf("users = %+v", sc.Users)
	}
	if g := sc.Registration[0]; g.ExportSupplier == "" || g.UPRN != "100023336956" {
		t.Errorf("registration = %+v", g)
	}
	if it := sc.Inventory[0]; it.CHF != "00-DB-00-00-00-00-C0-01" || it.Credentials != "00-00-00-00-00-00-0A-01" || sc.Inventory[1].Meter == "" {
		t.Errorf("inventory = %+v", sc.Inventory)
	}
	if a := sc.Anomaly[0]; a.Service != "4.1" || a.Role != "EIS" || a.Max != 2 || a.Per != time.Hour {
		t.Errorf("anomaly = %+v", a)
	}
	p := sc.Steps[0].Request
	if p.When.Kind != Future || !p.When.At.Equal(time.Date(2026, 2, 1, 23, 0, 0, 0, time.UTC)) || p.When.At.Location() != time.UTC {
		t.Errorf("when = %+v", p.When)
	}
	if p.Delivery != "local" || p.Sign != (Sign{Mode: SignWith, With: "00-00-00-00-00-00-0B-01"}) {
		t.Errorf("delivery/sign = %q %+v", p.Delivery, p.Sign)
	}
	if p.Body["standing_charge_pence"] != 30 || p.Body["tariff_name"] != "Green" {
		t.Errorf("body = %#v", p.Body)
	}
	if s := sc.Steps[1].Request; s.After != "price" || s.Sign.Mode != SignNone || s.Counter != 7 || sc.Steps[0].Request.Counter != 0 {
		t.Errorf("sequenced = %+v", s)
	}
	w := sc.Steps[2].Request.When
	if w.Kind != Scheduled || w.Schedule.Service != "4.8" || w.Schedule.Every != 24*time.Hour || w.Schedule.First.Hour() != 1 {
		t.Errorf("schedule = %+v", w)
	}
	if q := sc.Steps[3].Request; q.Postcode != "SW1H 0ET" || q.Premises != "1" || q.Device != "" {
		t.Errorf("inventory query = %+v", q)
	}
	x := sc.Steps[4].Expect
	if sc.Steps[4].Advance != 720*time.Hour || x.Outcomes["switch"] != OutcomeCancelled || len(x.Alerts) != 2 || x.Alerts[1].Code != "" || x.Enrolled["1900000000011"] {
		t.Errorf("advance step = %+v %+v", sc.Steps[4], x)
	}
	if ev := sc.Steps[5].Event; ev.Kind != "power_loss" || sc.Steps[5].TargetDevice() != "00-DB-00-00-00-00-C0-01" {
		t.Errorf("event = %+v", ev)
	}
}

// Each invalid fixture gives exactly the errors listed, each naming file,
// line, column and key.
func TestLoadInvalidFixtures(t *testing.T) {
	tests := []struct {
		file string
		want []string // prefixes of the error lines, in order
	}{
		{"unknown-key.yaml", []string{
			"unknown-key.yaml:2:1: descripton: unknown key",
			"unknown-key.yaml:7:66: steps[0].request.devise: unknown key",
			"unknown-key.yaml:8:33: steps[0].expect.outcom: unknown key",
		}},
		{"bad-id.yaml", []string{
			`bad-id.yaml:3:10: users[0].id: "00-00-00-00-00-00-0a-01" is not an EUI-64 ID`,
			`bad-id.yaml:5:14: inventory[0].device: "00-DB-00-00-00-C0-01" is not an EUI-64 ID`,
			`bad-id.yaml:7:9: steps[0].as: "00:00:00:00:00:00:0A:01" is not an EUI-64 ID`,
		}},
		{"unknown-codes.yaml", []string{
			`unknown-codes.yaml:3:43: users[0].role: unknown role "SUPPLIER"; the spec knows EIS`,
			`unknown-codes.yaml:5:47: inventory[0].type: unknown device type "HUB"`,
			`unknown-codes.yaml:5:60: inventory[0].status: unknown status "live"`,
			`unknown-codes.yaml:9:23: steps[0].expect.outcome: unknown outcome "failed"`,
			`unknown-codes.yaml:9:39: steps[0].expect.reason: unknown reason "NOT_ALLOWED"`,
		}},
		{"bad-service.yaml", []string{
			`bad-service.yaml:4:24: steps[0].request.service: unknown service reference "99.9"`,
			`bad-service.yaml:6:24: steps[1].request.variant: missing: 1.1 has several rows; say variant: prepayment or credit`,
			`bad-service.yaml:8:40: steps[2].request.variant: 1.1 has no variant "smart"`,
			`bad-service.yaml:10:40: steps[3].request.variant: 4.1 has no variants`,
		}},
		{"step-kinds.yaml", []string{
			"step-kinds.yaml:3:5: steps[0]: a step is exactly one of request, advance, event; got none",
			"step-kinds.yaml:4:5: steps[1]: a step is exactly one of request, advance, event; got advance, event",
		}},
		{"bad-times.yaml", []string{
			`bad-times.yaml:2:8: start: bad time "5 January 2026"`,
			`bad-times.yaml:4:47: anomaly[0].per: bad duration "hourly"`,
			`bad-times.yaml:6:14: steps[0].advance: bad duration "24"`,
			`bad-times.yaml:11:22: steps[1].request.when.future: bad time "2026-01-06 09:00"`,
		}},
		{"step-refs.yaml", []string{
			`step-refs.yaml:5:73: steps[0].request.after: step "second" comes later (step 3)`,
			`step-refs.yaml:6:9: steps[1].id: duplicate step id "first" (first at line 3)`,
			`step-refs.yaml:8:73: steps[1].request.after: no step has id "nowhere"`,
			`step-refs.yaml:11:42: steps[2].expect.outcomes.ghost: no step has id "ghost"`,
			`step-refs.yaml:13:95: steps[3].request.body.original_request_id: step "fourth" comes later (step 5)`,
		}},
		{"syntax.yaml", []string{
			"syntax.yaml:2: invalid YAML: ",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "invalid", tt.file)
			scs, err := Load(path)
			if len(scs) != 0 {
				t.Errorf("Load returned %d scenarios for an invalid file", len(scs))
			}
			checkErrors(t, err, filepath.Join("testdata", "invalid")+string(filepath.Separator), tt.want)
		})
	}
}

// Loading the directory reports the errors of every file, sorted.
func TestLoadDirectoryCollectsAll(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "invalid"))
	var el ErrorList
	if !errors.As(err, &el) {
		t.Fatalf("err = %v, want an ErrorList", err)
	}
	files := map[string]bool{}
	for i, e := range el {
		files[filepath.Base(e.File)] = true
		if i > 0 {
			p := el[i-1]
			if p.File > e.File || p.File == e.File && p.Line > e.Line {
				t.Errorf("not sorted: %v before %v", p, e)
			}
		}
	}
	if len(files) != 8 {
		t.Errorf("errors from %d files, want 8: %v", len(files), files)
	}
}

func TestLoadDuplicateNames(t *testing.T) {
	scs, err := Load(filepath.Join("testdata", "dupnames"))
	if len(scs) != 1 || filepath.Base(scs[0].File) != "a.yaml" {
		t.Errorf("scenarios = %v, want only a.yaml's", scs)
	}
	dir := filepath.Join("testdata", "dupnames")
	checkErrors(t, err, "", []string{
		filepath.Join(dir, "b.yaml") + `:2:7: name: duplicate scenario name "same" (also in ` + filepath.Join(dir, "a.yaml") + ")",
	})
}

// TestLoadAllDuplicateNamesAcrossArguments: names are unique within a
// directory also when its files are named one by one (dir/*.yaml), and a
// file named twice is read once (no duplicate of itself).
func TestLoadAllDuplicateNamesAcrossArguments(t *testing.T) {
	dir := filepath.Join("testdata", "dupnames")
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	scs, err := LoadAll(a, b)
	if len(scs) != 1 || scs[0].File != a {
		t.Errorf("scenarios = %v, want only a.yaml's", scs)
	}
	checkErrors(t, err, "", []string{b + `:2:7: name: duplicate scenario name "same" (also in ` + a + ")"})
	scs, err = LoadAll(a, dir, a)
	if len(scs) != 1 {
		t.Errorf("a.yaml named twice and by its directory: %d scenarios, want 1", len(scs))
	}
	var el ErrorList
	if !errors.As(err, &el) || len(el) != 1 || el.Files() != 1 {
		t.Errorf("want b.yaml's duplicate alone, got %v", err)
	}
}

// Inline cases: one problem each, the exact error prefix.
func TestParseInvalid(t *testing.T) {
	const (
		user = `"00-00-00-00-00-00-0A-01"`
		dev  = `"00-DB-00-00-00-00-E0-01"`
	)
	head := "name: t\nsteps:\n"
	req := func(body string) string {
		return head + "  - as: " + user + "\n    request: " + body + "\n"
	}
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"empty", "", []string{"t.yaml:1: empty file"}},
		{"not a mapping", "- a\n- b\n", []string{"t.yaml:1:1: expected a mapping"}},
		{"missing name and steps", "source: x\n", []string{"t.yaml:1:1: name: missing required key", "t.yaml:1:1: steps: missing required key"}},
		{"no steps", "name: t\nsteps: []\n", []string{"t.yaml:2:8: steps: a scenario needs at least one step"}},
		{"two documents", head + "  - advance: 1h\n---\nname: u\n", []string{"t.yaml:4:1: only one scenario per file"}},
		{"duplicate key", "name: t\nname: u\nsteps:\n  - advance: 1h\n", []string{"t.yaml:2:1: name: duplicate key (first at line 1)"}},
		{"missing as", head + "  - request: {service: \"4.1\", device: " + dev + "}\n", []string{"t.yaml:3:5: steps[0].as: missing required key"}},
		{"as on advance", head + "  - as: " + user + "\n    advance: 1h\n", []string{"t.yaml:3:5: steps[0].as: only a request is sent as a user"}},
		{"missing device", req(`{service: "4.1"}`), []string{"t.yaml:4:14: steps[0].request.device: missing required key: 4.1 Read Instantaneous Import Registers is aimed at a device"}},
		{"mpxn outside 8.2", req(`{service: "4.1", device: ` + dev + `, mpxn: "1900000000011"}`), []string{"t.yaml:4:66: steps[0].request.mpxn: only an inventory query (8.2) names its target by mpxn"}},
		{"postcode without premises", req(`{service: "8.2", postcode: "SW1H 0ET"}`), []string{"t.yaml:4:31: steps[0].request.postcode: postcode and premises go together"}},
		{"unknown body field", req(`{service: "4.1", device: ` + dev + `, body: {registr: total}}`), []string{"t.yaml:4:73: steps[0].request.body.registr: unknown field of 4.1 Read Instantaneous Import Registers; the spec gives register"}},
		{"body on a service without fields", req(`{service: "8.1", device: ` + dev + `, body: {x: 1}}`), []string{"t.yaml:4:73: steps[0].request.body.x: unknown field: 8.1 Commission Device takes no body fields"}},
		{"sign on non-critical", req(`{service: "4.1", device: ` + dev + `, sign: none}`), []string{"t.yaml:4:66: steps[0].request.sign: 4.1 Read Instantaneous Import Registers is not critical"}},
		{"bad sign", req(`{service: "1.5", device: ` + dev + `, sign: mine}`), []string{`t.yaml:4:72: steps[0].request.sign: expected own, none or {with: USER_ID}, got "mine"`}},
		{"sign with bad id", req(`{service: "1.5", device: ` + dev + `, sign: {with: me}}`), []string{`t.yaml:4:79: steps[0].request.sign.with: "me" is not an EUI-64 ID`}},
		{"bad when", req(`{service: "4.1", device: ` + dev + `, when: later}`), []string{`t.yaml:4:72: steps[0].request.when: expected on_demand, {future: TIME} or {schedule: {service, every, first}}, got "later"`}},
		{"bad schedule", req(`{service: "5.1", device: ` + dev + `, when: {schedule: {service: "4.99", every: 0s, first: "2026-01-06T00:00:00Z"}}}`), []string{
			`t.yaml:4:93: steps[0].request.when.schedule.service: unknown service reference "4.99"`,
			`t.yaml:4:108: steps[0].request.when.schedule.every: must be a positive duration`,
		}},
		{"schedule outside 5.1", req(`{service: "4.1", device: ` + dev + `, when: {schedule: {service: "4.1", every: 24h, first: "2026-01-06T00:00:00Z"}}}`), []string{
			`t.yaml:4:73: steps[0].request.when.schedule: only 5.1 takes a schedule; 4.1 Read Instantaneous Import Registers is on_demand or {future: TIME}`,
		}},
		{"schedule on a critical request", req(`{service: "1.6", device: ` + dev + `, when: {schedule: {service: "4.1", every: 24h, first: "2026-01-06T00:00:00Z"}}}`), []string{
			`t.yaml:4:73: steps[0].request.when.schedule: only 5.1 takes a schedule; 1.6 `,
		}},
		// Body values must be of their field's type, as the request
		// message carries it (a value the runner cannot send is the file's
		// mistake); ranges and patterns stay the gateway's (MALFORMED).
		{"body int64 as text", req(`{service: "2.2", device: ` + dev + `, body: {amount_pence: "ten"}}`), []string{
			`t.yaml:4:87: steps[0].request.body.amount_pence: expected a whole number (the field's type is int64), got "ten"`,
		}},
		{"body int64 fraction", req(`{service: "2.2", device: ` + dev + `, body: {amount_pence: 10.5}}`), []string{
			`t.yaml:4:87: steps[0].request.body.amount_pence: expected a whole number (the field's type is int64), got "10.5"`,
		}},
		{"body int64 too big", req(`{service: "2.2", device: ` + dev + `, body: {amount_pence: 99999999999999999999}}`), []string{
			`t.yaml:4:87: steps[0].request.body.amount_pence: expected a whole number`,
		}},
		{"body string as a list", req(`{service: "4.1", device: ` + dev + `, body: {register: [total]}}`), []string{
			`t.yaml:4:83: steps[0].request.body.register: expected text (quote it) (the field's type is string), got a list`,
		}},
		{"body string as null", req(`{service: "4.1", device: ` + dev + `, body: {register: ~}}`), []string{
			`t.yaml:4:83: steps[0].request.body.register: expected text (quote it) (the field's type is string), got nothing`,
		}},
		{"body timestamp not RFC 3339", req(`{service: "4.8", device: ` + dev + `, body: {from: "yesterday"}}`), []string{
			`t.yaml:4:79: steps[0].request.body.from: expected a time in RFC 3339, like 2026-01-05T09:00:00Z (the field's type is timestamp), got "yesterday"`,
		}},
		{"body bool as text", req(`{service: "6.4", device: ` + dev + `, body: {reset_counter: "yes"}}`), []string{
			`t.yaml:4:88: steps[0].request.body.reset_counter: expected true or false (the field's type is bool), got "yes"`,
		}},
		{"body double as text", req(`{service: "6.6", device: ` + dev + `, body: {calorific_value: high}}`), []string{
			`t.yaml:4:90: steps[0].request.body.calorific_value: expected a number (the field's type is double), got "high"`,
		}},
		{"body list as text", req(`{service: "8.11", device: ` + dev + `, body: {add: "00-DB-00-00-00-00-D0-01"}}`), []string{
			`t.yaml:4:79: steps[0].request.body.add: expected a list of text values (the field's type is strings), got "00-DB-00-00-00-00-D0-01"`,
		}},
		{"body list item not text", req(`{service: "8.11", device: ` + dev + `, body: {remove: ["00-DB-00-00-00-00-D0-01", true]}}`), []string{
			`t.yaml:4:110: steps[0].request.body.remove[1]: expected text (the field's type is strings, a list of text values), got "true"`,
		}},
		// A number written unquoted where the field holds text is the text
		// written (an MPxN, say): the gateway judges its content.
		{"body number for text", req(`{service: "12.2", device: `+dev+`, body: {type: ESME, mpxn: 1900000000011}}`) +
			"  - as: " + user + "\n    request: {service: \"4.1\", device: " + dev + ", body: {register: 5}}\n", nil},
		{"body values of the right types", req(`{service: "6.6", device: ` + dev + `, body: {calorific_value: 40, conversion_factor: 1.5}}`), nil},
		{"body out of range is the gateway's", req(`{service: "2.2", device: ` + dev + `, body: {amount_pence: -5}}`), nil},
		{"body empty list and time", req(`{service: "8.11", device: `+dev+`, body: {add: [], remove: []}}`) + "  - as: " + user + "\n    request: {service: \"4.8\", device: " + dev + ", body: {from: 2026-01-01T00:00:00Z}}\n", nil},
		{"alert as a request", req(`{service: "A1", device: ` + dev + `}`), []string{
			`t.yaml:4:24: steps[0].request.service: A1 Device Alert is an alert the DCC sends to users, not a Service Request a user sends`,
		}},
		{"alert as a schedule", req(`{service: "5.1", device: ` + dev + `, when: {schedule: {service: "A2", every: 24h, first: "2026-01-06T00:00:00Z"}}}`), []string{
			`t.yaml:4:93: steps[0].request.when.schedule.service: A2 DCC Alert is an alert the DCC sends to users`,
		}},
		{"counter zero", req(`{service: "4.1", device: ` + dev + `, counter: 0}`), []string{`t.yaml:4:75: steps[0].request.counter: a Request ID counter starts at 1`}},
		{"counter not a number", req(`{service: "4.1", device: ` + dev + `, counter: next}`), []string{`t.yaml:4:75: steps[0].request.counter: expected a whole number, got "next"`}},
		{"unknown delivery", req(`{service: "4.1", device: ` + dev + `, delivery: pigeon}`), []string{`t.yaml:4:76: steps[0].request.delivery: unknown delivery "pigeon"; the spec knows wan, local`}},
		{"negative advance", head + "  - advance: -1h\n", []string{"t.yaml:3:14: steps[0].advance: the clock only moves forward"}},
		{"bad event kind", head + "  - event: {device: " + dev + ", kind: Power Loss}\n", []string{`t.yaml:3:54: steps[0].event.kind: "Power Loss" is not an event kind`}},
		{"outcome on advance", head + "  - advance: 1h\n    expect: {outcome: accepted}\n", []string{"t.yaml:4:14: steps[0].expect.outcome: only a request step has its own outcome"}},
		{"reason with accepted", req(`{service: "4.1", device: `+dev+`}`) + "    expect: {outcome: accepted, reason: ANOMALY}\n", []string{"t.yaml:5:33: steps[0].expect.reason: a request that is accepted has no reason"}},
		{"status without target", head + "  - advance: 1h\n    expect: {status: commissioned}\n", []string{"t.yaml:4:14: steps[0].expect.status: the step has no target device"}},
		{"status map bad device", head + "  - advance: 1h\n    expect: {status: {\"00-DB\": commissioned}}\n", []string{`t.yaml:4:23: steps[0].expect.status.00-DB: "00-DB" is not an EUI-64 ID`}},
		{"status map bad status", head + "  - advance: 1h\n    expect: {status: {" + dev + ": on}}\n", []string{`t.yaml:4:50: steps[0].expect.status.00-DB-00-00-00-00-E0-01: unknown status "on"`}},
		{"enrolled not bool", head + "  - advance: 1h\n    expect: {enrolled: {\"1900000000011\": maybe}}\n", []string{
			`t.yaml:4:25: steps[0].expect.enrolled.1900000000011: MPxN 1900000000011 is in no registration, inventory entry or step of the scenario`,
			`t.yaml:4:42: steps[0].expect.enrolled.1900000000011: expected true or false, got "maybe"`}},
		{"enrolled unknown mpxn", head + "  - advance: 1h\n    expect: {enrolled: {\"1900000000099\": false}}\n", []string{
			`t.yaml:4:25: steps[0].expect.enrolled.1900000000099: MPxN 1900000000099 is in no registration, inventory entry or step of the scenario`}},
		{"enrolled bad mpxn", head + "  - advance: 1h\n    expect: {enrolled: {\"19x\": true}}\n", []string{`t.yaml:4:25: steps[0].expect.enrolled.19x: "19x" is not an MPxN`}},
		{"alert without to", head + "  - advance: 1h\n    expect: {alerts: [{code: A21}]}\n", []string{"t.yaml:4:23: steps[0].expect.alerts[0].to: missing required key"}},
		{"alerts not a list", head + "  - advance: 1h\n    expect: {alerts: {to: x}}\n", []string{"t.yaml:4:22: steps[0].expect.alerts: expected a list, got a mapping"}},
		{"schedules not a number", req(`{service: "5.2", device: `+dev+`}`) + "    expect: {schedules: {" + user + ": two}}\n", []string{`t.yaml:5:53: steps[0].expect.schedules.00-00-00-00-00-00-0A-01: expected a whole number, got "two"`}},
		{"after itself", head + "  - id: a\n    as: " + user + "\n    request: {service: \"4.1\", device: " + dev + ", after: a}\n", []string{"t.yaml:5:73: steps[0].request.after: a request cannot be sequenced after itself"}},
		{"after an advance", head + "  - id: a\n    advance: 1h\n  - as: " + user + "\n    request: {service: \"4.1\", device: " + dev + ", after: a}\n", []string{`t.yaml:6:73: steps[1].request.after: step "a" is not a request`}},
		{"duplicate user", "name: t\nusers:\n  - {id: " + user + ", role: EIS}\n  - {id: " + user + ", role: GIS}\nsteps:\n  - advance: 1h\n", []string{"t.yaml:4:10: users[1].id: duplicate user 00-00-00-00-00-00-0A-01 (first at line 3)"}},
		{"registration missing keys", "name: t\nregistration:\n  - {mpxn: \"1900000000011\", fuel: water, postcode: sw1}\nsteps:\n  - advance: 1h\n", []string{
			"t.yaml:3:5: registration[0].import_supplier: missing required key",
			"t.yaml:3:5: registration[0].network_operator: missing required key",
			"t.yaml:3:5: registration[0].premises: missing required key",
			`t.yaml:3:35: registration[0].fuel: unknown fuel "water"; the spec knows electricity, gas`,
			`t.yaml:3:52: registration[0].postcode: "sw1" is not a postcode`,
		}},
		{"anomaly", "name: t\nanomaly:\n  - {service: \"4.1\", role: EIS, max: -1, per: 0s}\nsteps:\n  - advance: 1h\n", []string{
			"t.yaml:3:38: anomaly[0].max: must not be negative",
			"t.yaml:3:47: anomaly[0].per: must be a positive duration",
		}},
		{"anomaly max zero", "name: t\nanomaly:\n  - {service: \"4.1\", role: EIS, max: 0, per: 1h}\nsteps:\n  - advance: 1h\n", nil},
		{"anomaly max not a number", "name: t\nanomaly:\n  - {service: \"4.1\", role: EIS, max: none, per: 1h}\nsteps:\n  - advance: 1h\n", []string{
			`t.yaml:3:38: anomaly[0].max: expected a whole number, got "none"`,
		}},
		{"anomaly without max or per", "name: t\nanomaly:\n  - {service: \"4.1\", role: EIS}\nsteps:\n  - advance: 1h\n", []string{
			"t.yaml:3:5: anomaly[0].max: missing required key",
			"t.yaml:3:5: anomaly[0].per: missing required key",
		}},
		{"anomaly per empty or negative", "name: t\nanomaly:\n  - {service: \"4.1\", role: EIS, max: 1, per: \"\"}\n  - {service: \"4.1\", role: EIS, max: 1, per: -1h}\nsteps:\n  - advance: 1h\n", []string{
			"t.yaml:3:46: anomaly[0].per: must not be empty",
			"t.yaml:4:46: anomaly[1].per: must be a positive duration",
		}},
		{"anomaly max one", "name: t\nanomaly:\n  - {service: \"4.1\", role: EIS, max: 1, per: 1h}\nsteps:\n  - advance: 1h\n", nil},
		{"list where a value goes", "name: [a]\nsteps:\n  - advance: 1h\n", []string{"t.yaml:1:7: name: expected a single value, got a list"}},
		{"a step repeated by alias is fine", "name: t\nsteps:\n  - &s {advance: 1h, expect: {status: {" + dev + ": commissioned}}}\n  - *s\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := Parse("t.yaml", []byte(tt.src))
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if sc != nil {
				t.Errorf("Parse returned a scenario with errors")
			}
			checkErrors(t, err, "", tt.want)
		})
	}
}

// Aliases are followed, and a file that names a subtree over and over is
// cut off rather than expanded without end.
func TestParseAliases(t *testing.T) {
	src := "name: t\nusers:\n  - {id: &u \"00-00-00-00-00-00-0A-01\", role: EIS}\nsteps:\n  - as: *u\n    request: {service: \"4.1\", device: \"00-DB-00-00-00-00-E0-01\"}\n"
	sc, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if sc.Steps[0].As != "00-00-00-00-00-00-0A-01" {
		t.Errorf("as = %q", sc.Steps[0].As)
	}

	// Each level names the one below ten times: 10^7 nodes if expanded.
	var b strings.Builder
	b.WriteString("name: t\nx0: &a0 [1,1,1,1,1,1,1,1,1,1]\n")
	for i := 1; i < 8; i++ {
		b.WriteString("x")
		b.WriteString(string(rune('0' + i)))
		b.WriteString(": &a")
		b.WriteString(string(rune('0' + i)))
		b.WriteString(" [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(",")
			}
			b.WriteString("*a")
			b.WriteString(string(rune('0' + i - 1)))
		}
		b.WriteString("]\n")
	}
	b.WriteString("steps:\n  - as: \"00-00-00-00-00-00-0A-01\"\n    request: {service: \"4.1\", device: \"00-DB-00-00-00-00-E0-01\", body: {register: *a7}}\n")
	start := time.Now()
	_, err = Parse("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "YAML nodes") {
		t.Errorf("err = %v, want the node budget to cut it off", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}

	// An anchor inside itself must not recurse for ever.
	_, err = Parse("self.yaml", []byte("name: t\nsteps:\n  - as: \"00-00-00-00-00-00-0A-01\"\n    request: {service: \"4.1\", device: \"00-DB-00-00-00-00-E0-01\", body: {register: &r [*r]}}\n"))
	if err == nil {
		t.Errorf("a self-containing value parsed")
	}
}

func TestLoadMissingOrEmpty(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want not exist", err)
	}
	// A directory without scenarios must not pass as an empty suite; hidden
	// directories are not searched.
	if err := os.Mkdir(filepath.Join(dir, ".hidden"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".hidden", "a.yaml"), []byte("name: a\nsteps:\n  - advance: 1h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "no .yaml or .yml scenario files") {
		t.Errorf("err = %v, want no scenario files", err)
	}
}

// checkErrors checks that err is an ErrorList whose lines start with want,
// in order, with prefix before each; and that every error has a line.
func checkErrors(t *testing.T, err error, prefix string, want []string) {
	t.Helper()
	var el ErrorList
	if !errors.As(err, &el) {
		t.Fatalf("err = %v, want an ErrorList", err)
	}
	lines := strings.Split(el.Error(), "\n")
	if len(lines) != len(want) {
		t.Errorf("got %d errors, want %d:\n%s", len(lines), len(want), el.Error())
	}
	for i := range min(len(lines), len(want)) {
		if !strings.HasPrefix(lines[i], prefix+want[i]) {
			t.Errorf("error %d:\n got  %s\n want %s...", i, lines[i], prefix+want[i])
		}
	}
	for _, e := range el {
		if e.Line < 1 || e.File == "" {
			t.Errorf("error without file and line: %v", e)
		}
	}
}

func equalAny(a, b any) bool {
	la, ok1 := a.([]any)
	lb, ok2 := b.([]any)
	if !ok1 || !ok2 || len(la) != len(lb) {
		return false
	}
	for i := range la {
		if la[i] != lb[i] {
			return false
		}
	}
	return true
}

// TestLoadFollowsLinks: a directory linked into a suite is run, its files
// named by the link; a link back up the tree is walked once, not for
// ever; a dangling link is an error, never a silent pass.
func TestLoadFollowsLinks(t *testing.T) {
	dir := t.TempDir()
	write := func(p, name string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("name: "+name+"\nsteps:\n  - advance: 1h\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, p string) {
		t.Helper()
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "other", "linked.yaml"), "linked")
	write(filepath.Join(dir, "suite", "own.yaml"), "own")
	link(filepath.Join(dir, "other"), filepath.Join(dir, "suite", "more"))
	link(filepath.Join(dir, "suite"), filepath.Join(dir, "suite", "loop"))
	scs, err := Load(filepath.Join(dir, "suite"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sc := range scs {
		names = append(names, sc.Name+"@"+filepath.Base(filepath.Dir(sc.File)))
	}
	sort.Strings(names)
	if want := []string{"linked@more", "own@suite"}; !slices.Equal(names, want) {
		t.Fatalf("loaded %v, want %v", names, want)
	}
	link(filepath.Join(dir, "nowhere"), filepath.Join(dir, "suite", "dangling"))
	if _, err := Load(filepath.Join(dir, "suite")); err == nil {
		t.Fatal("a dangling link loaded without an error")
	}
}
