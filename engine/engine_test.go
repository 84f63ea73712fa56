package engine

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dccgate/dccgate/spec"
	"github.com/dccgate/dccgate/spec/dcc"
)

var (
	engOnce sync.Once
	eng     *Engine
	engErr  error
)

func testEngine(t testing.TB) *Engine {
	t.Helper()
	engOnce.Do(func() { eng, engErr = New(context.Background(), spec.MustDefault()) })
	if engErr != nil {
		t.Fatal(engErr)
	}
	return eng
}

const (
	supplierA = "00-00-00-00-00-00-0A-01"
	supplierB = "00-00-00-00-00-00-0B-01"
	gasNO     = "00-00-00-00-00-00-06-01"
	meter     = "00-DB-00-00-00-00-E0-01"
)

var now = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func baseFacts() *Facts {
	return &Facts{
		Now:          now,
		User:         User{Known: true, Role: "EIS"},
		Device:       Device{Known: true, Type: "ESME", Status: "commissioned", CHFStatus: "commissioned"},
		Registration: []Registration{{MPxN: "1900000000011", Fuel: "electricity", ImportSupplier: supplierA, NetworkOperator: gasNO}},
	}
}

func TestDecide(t *testing.T) {
	e := testEngine(t)
	tests := []struct {
		note   string
		req    Request
		facts  func(*Facts)
		reason dcc.Reason
		pre    bool
	}{
		{note: "registered supplier reads registers", req: Request{Service: "4.1", UserID: supplierA, DeviceID: meter}},
		{note: "gas network operator on an electricity meter", req: Request{Service: "4.1", UserID: gasNO, DeviceID: meter}, facts: func(f *Facts) { f.User.Role = "GNO" }, reason: dcc.ReasonNotRegistered},
		{note: "role not eligible", req: Request{Service: "1.1", Variant: "credit", UserID: gasNO, DeviceID: meter}, facts: func(f *Facts) { f.User.Role = "GNO" }, reason: dcc.ReasonRoleNotEligible},
		{note: "eligible but not registered", req: Request{Service: "4.1", UserID: supplierB, DeviceID: meter}, reason: dcc.ReasonNotRegistered},
		{note: "on demand N/A", req: Request{Service: "1.2", Variant: "credit", UserID: supplierA, DeviceID: meter, Body: map[string]any{"standing_charge_pence": 20.0, "unit_rate_millipence": 20000.0}}, reason: dcc.ReasonCategoryNotAvailable},
		{note: "critical needs a pre-command and skips registration", req: Request{Service: "7.1", UserID: supplierB, DeviceID: meter}, pre: true},
		{note: "bad field", req: Request{Service: "4.1", UserID: supplierA, DeviceID: meter, Body: map[string]any{"register": "bogus"}}, reason: dcc.ReasonMalformed},
		{note: "unknown field", req: Request{Service: "4.1", UserID: supplierA, DeviceID: meter, Body: map[string]any{"colour": "red"}}, reason: dcc.ReasonMalformed},
		{note: "bad user id", req: Request{Service: "4.1", UserID: "alice", DeviceID: meter}, reason: dcc.ReasonMalformed},
		{note: "variant missing", req: Request{Service: "1.1", UserID: supplierA, DeviceID: meter}, reason: dcc.ReasonMalformed},
		{note: "top up with JSON numbers", req: Request{Service: "2.2", UserID: supplierA, DeviceID: meter, Body: map[string]any{"utrn": "73100000000000000001", "amount_pence": 2000.0}}},
		{note: "top up fractional pence", req: Request{Service: "2.2", UserID: supplierA, DeviceID: meter, Body: map[string]any{"utrn": "73100000000000000001", "amount_pence": 20.5}}, reason: dcc.ReasonMalformed},
		{note: "an optional time left out", req: Request{Service: "4.17", UserID: supplierA, DeviceID: meter, Body: map[string]any{"days": 2.0, "from": "", "to": ""}}},
		{note: "no days and no period", req: Request{Service: "4.17", UserID: supplierA, DeviceID: meter, Body: map[string]any{"days": 0.0, "from": "", "to": ""}}, reason: dcc.ReasonMalformed},
		{note: "the days of a period", req: Request{Service: "4.17", UserID: supplierA, DeviceID: meter, Body: map[string]any{"days": 0.0, "from": "2026-01-01T00:00:00Z", "to": "2026-01-03T00:00:00Z"}}},
		{note: "a required time is no time left out", req: Request{Service: "3.2", UserID: supplierA, DeviceID: meter, Body: map[string]any{"tenancy_start": ""}}, reason: dcc.ReasonMalformed},
		{note: "body check across fields", req: Request{Service: "4.8", UserID: supplierA, DeviceID: meter, Body: map[string]any{"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}}, reason: dcc.ReasonMalformed},
		{note: "schedule of a note 404 service", req: Request{Service: "5.1", UserID: supplierA, DeviceID: meter, Schedule: &Schedule{Service: "4.8", Every: 24 * time.Hour}}},
		{note: "schedule by a supplier not registered (para 139)", req: Request{Service: "5.1", UserID: supplierB, DeviceID: meter, Schedule: &Schedule{Service: "4.8", Every: 24 * time.Hour}}},
		{note: "schedule of another service", req: Request{Service: "5.1", UserID: supplierA, DeviceID: meter, Schedule: &Schedule{Service: "4.1", Every: 24 * time.Hour}}, reason: dcc.ReasonCategoryNotAvailable},
		{note: "anomaly", req: Request{Service: "4.1", UserID: supplierA, DeviceID: meter}, facts: func(f *Facts) { f.Anomaly = Anomaly{Count: 11, Max: 10} }, reason: dcc.ReasonAnomaly},
		{note: "meter behind a decommissioned hub", req: Request{Service: "4.1", UserID: supplierA, DeviceID: meter}, facts: func(f *Facts) { f.Device.CHFStatus = "decommissioned" }, reason: dcc.ReasonDeviceStatus},
		{note: "meter behind a hub not on the inventory", req: Request{Service: "4.1", UserID: supplierA, DeviceID: meter}, facts: func(f *Facts) { f.Device.CHFStatus = "" }},
		{note: "local delivery behind a decommissioned hub", req: Request{Service: "4.1", UserID: supplierA, DeviceID: meter, Delivery: "local"}, facts: func(f *Facts) { f.Device.CHFStatus = "decommissioned" }},
		{note: "decommissioning a meter behind a decommissioned hub", req: Request{Service: "8.3", UserID: supplierA, DeviceID: meter}, facts: func(f *Facts) { f.Device.CHFStatus = "decommissioned" }},
		{note: "a hub with no meter yet binds no one", req: Request{Service: "4.1", UserID: supplierB, DeviceID: meter}, facts: func(f *Facts) { f.Registration = nil; f.Device.Unbound = true }},
		{note: "an MPxN no record names names no one", req: Request{Service: "4.1", UserID: supplierA, DeviceID: meter}, facts: func(f *Facts) { f.Registration = nil }, reason: dcc.ReasonNotRegistered},
		{note: "decommissioning by a supplier not registered", req: Request{Service: "8.3", UserID: supplierB, DeviceID: meter}, reason: dcc.ReasonNotRegistered},
		{note: "decommissioning a device related to no MPxN", req: Request{Service: "8.3", UserID: supplierB, DeviceID: meter}, facts: func(f *Facts) { f.Registration = nil; f.Device.Unbound = true }},
		{note: "commission with hub down", req: Request{Service: "8.1", UserID: supplierA, DeviceID: meter}, facts: func(f *Facts) { f.Device.Status = "pending"; f.Device.CHFStatus = "pending" }, reason: dcc.ReasonChfNotCommissioned},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			f := baseFacts()
			if tc.facts != nil {
				tc.facts(f)
			}
			if tc.req.Body == nil && tc.req.Service != "" {
				tc.req.Body = examples(e.Spec(), tc.req.Service, tc.req.Variant)
			}
			d := e.Decide(t.Context(), &tc.req, f)
			if d.Reason != tc.reason {
				t.Fatalf("reason %q (%s), want %q", d.Reason, d.Detail, tc.reason)
			}
			if tc.reason == "" && d.Outcome != Accepted {
				t.Fatalf("outcome %s", d.Outcome)
			}
			if tc.reason != "" && d.Clause == "" {
				t.Fatal("a rejection without a clause")
			}
			if d.PreCommand != tc.pre {
				t.Fatalf("pre-command %v, want %v", d.PreCommand, tc.pre)
			}
		})
	}
}

// examples is a body of the spec's example values.
func examples(s *spec.Spec, ref, variant string) map[string]any {
	svc := s.Service(ref, variant)
	if svc == nil {
		return nil
	}
	b := map[string]any{}
	for _, f := range svc.Fields {
		b[f.Name] = f.Example
	}
	return b
}

// corpus generates requests over every row, role, device type and status,
// category and delivery, with facts that vary registration, commissioning,
// credentials and volume.
func corpus(s *spec.Spec, n int) []struct {
	req   Request
	facts Facts
} {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	var keys [][2]string
	for _, svc := range s.Services {
		keys = append(keys, [2]string{svc.Ref, svc.Variant})
	}
	keys = append(keys, [2]string{"4.99", ""}, [2]string{"1.1", ""}, [2]string{"4.1", "credit"})
	var roles, types, statuses []string
	for _, x := range s.Roles {
		roles = append(roles, x.Code)
	}
	roles = append(roles, "")
	for _, x := range s.DeviceTypes {
		types = append(types, x.Code)
	}
	for _, x := range s.Statuses {
		statuses = append(statuses, x.Code)
	}
	users := []string{supplierA, supplierB, gasNO, "bad-id"}
	var out []struct {
		req   Request
		facts Facts
	}
	for i := 0; i < n; i++ {
		k := keys[i%len(keys)]
		req := Request{Service: k[0], Variant: k[1], UserID: users[r.IntN(len(users))], DeviceID: meter,
			Category: pick([]string{"on_demand", "on_demand", "future_dated", "scheduled", ""}),
			Delivery: pick([]string{"wan", "wan", "local", "both", ""}),
			Body:     examples(s, k[0], k[1])}
		if r.IntN(10) == 0 {
			req.DeviceID = ""
		}
		if req.Category == "future_dated" {
			req.ExecuteAt = now.Add(time.Duration(r.IntN(48)-8) * time.Hour)
		}
		if k[0] == "5.1" && r.IntN(5) > 0 {
			req.Schedule = &Schedule{Service: pick([]string{"4.8", "4.10", "4.12", "4.1", "9.9"}), Every: time.Hour}
		}
		if r.IntN(8) == 0 && len(req.Body) > 0 {
			for name := range req.Body {
				req.Body[name] = 3.5
				break
			}
		}
		f := Facts{Now: now,
			User:        User{Known: r.IntN(12) > 0, Role: pick(roles), Suspended: r.IntN(15) == 0},
			Device:      Device{Known: r.IntN(10) > 0, Type: pick(types), Status: pick(statuses), CHFStatus: pick(statuses), MeterStatus: pick(statuses), MPxNHasMeter: r.IntN(3) == 0},
			Credentials: Credentials{CertificateInvalid: r.IntN(20) == 0, SignatureInvalid: r.IntN(20) == 0},
			Anomaly:     Anomaly{Count: r.IntN(5), Max: r.IntN(4)},
		}
		// A third of the cases pass the early checks, so the corpus reaches
		// the later ones (para 187, registration) often.
		if svc := s.Service(k[0], k[1]); svc != nil && r.IntN(3) == 0 {
			f.User = User{Known: true, Role: svc.Roles[r.IntN(len(svc.Roles))]}
			if len(svc.Targets) > 0 {
				f.Device.Known, f.Device.Type = true, svc.Targets[r.IntN(len(svc.Targets))]
			}
			if len(svc.Statuses) > 0 {
				f.Device.Status = svc.Statuses[r.IntN(len(svc.Statuses))]
			}
			f.Device.CHFStatus = pick([]string{"commissioned", "commissioned", "pending"})
			f.Credentials = Credentials{}
			req.Delivery, req.Category = "wan", "on_demand"
			if svc.OnDemand == nil {
				req.Category, req.ExecuteAt = "future_dated", now.Add(time.Hour)
			}
		}
		fuel := pick([]string{"electricity", "gas"})
		f.Registration = []Registration{{MPxN: "1900000000011", Fuel: fuel, ImportSupplier: pick(users), ExportSupplier: pick(users), NetworkOperator: pick(users)}}
		if i%8 == 5 {
			// A device that relates to no MPxN: no record, and unbound
			// (or, once in a while, a record for it all the same). By the
			// index, not the generator, so the rest of the corpus stays.
			f.Device.Unbound = true
			if i%32 != 5 {
				f.Registration = nil
			}
		}
		out = append(out, struct {
			req   Request
			facts Facts
		}{req, f})
	}
	return out
}

// TestFastPathAgreesWithPolicy checks that the indexed fast path and a full
// evaluation of the Rego decision give the same outcome, reason and clause.
func TestFastPathAgreesWithPolicy(t *testing.T) {
	e := testEngine(t)
	n := 3000
	if testing.Short() {
		n = 800
	}
	ctx := t.Context()
	counts := map[dcc.Reason]int{}
	for i, c := range corpus(e.Spec(), n) {
		fast := e.Decide(ctx, &c.req, &c.facts)
		ref, err := e.DecideReference(ctx, &c.req, &c.facts)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		counts[fast.Reason]++
		if fast.Outcome != ref.Outcome || fast.Reason != ref.Reason || fast.Clause != ref.Clause {
			t.Fatalf("case %d disagrees:\nrequest %+v\nfacts %+v\nfast      %s %s %q (%s)\nreference %s %s %q (%s)", i, c.req, c.facts, fast.Outcome, fast.Reason, fast.Clause, fast.Detail, ref.Outcome, ref.Reason, ref.Clause, ref.Detail)
		}
	}
	// The corpus must reach every check, or agreement proves little (the
	// short corpus is too small to reach the rarest).
	if testing.Short() {
		return
	}
	for _, c := range e.Policy().Tables().Checks {
		if counts[dcc.Reason(c.Code)] == 0 {
			t.Errorf("no case of the corpus fails %s", c.Code)
		}
	}
	if counts[""] == 0 {
		t.Error("no case of the corpus is accepted")
	}
}

// TestEditedSpecChangesDecision: an edit to a copy of the spec changes the
// decision for that role, with no Go change.
func TestEditedSpecChangesDecision(t *testing.T) {
	dir := t.TempDir()
	entries, err := os.ReadDir("../spec")
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if !strings.HasSuffix(en.Name(), ".cue") {
			continue
		}
		b, err := os.ReadFile(filepath.Join("../spec", en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if en.Name() == "services.cue" {
			old := `on_demand: "30s", roles: ["EIS", "GIS", "ENO", "GNO"], targets: _meters, fields: [
		{name: "register"`
			if !strings.Contains(string(b), old) {
				t.Fatal("4.1 row not found")
			}
			b = []byte(strings.Replace(string(b), old, strings.Replace(old, `"EIS", `, "", 1), 1))
		}
		if err := os.WriteFile(filepath.Join(dir, en.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edited, err := spec.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := New(t.Context(), edited)
	if err != nil {
		t.Fatal(err)
	}
	req := &Request{Service: "4.1", UserID: supplierA, DeviceID: meter, Body: map[string]any{"register": "total"}}
	if d := testEngine(t).Decide(t.Context(), req, baseFacts()); d.Outcome != Accepted {
		t.Fatalf("original spec: %s %s", d.Outcome, d.Reason)
	}
	if d := e2.Decide(t.Context(), req, baseFacts()); d.Reason != dcc.ReasonRoleNotEligible {
		t.Fatalf("edited spec: %s %s, want ROLE_NOT_ELIGIBLE", d.Outcome, d.Reason)
	}
}

// TestStatusAllows: the status check a request is put to again when it
// falls due answers as the submission's DEVICE_STATUS check (the device's
// status, and the hub it is reached through), with its clause; rows aimed
// at no device, and rows unknown, allow it.
func TestStatusAllows(t *testing.T) {
	e := testEngine(t)
	meter := func(status, hub string) Device {
		return Device{Known: true, Type: "ESME", Status: status, CHFStatus: hub}
	}
	tests := []struct {
		key  string
		d    Device
		want bool
	}{
		{"4.1", meter("commissioned", "commissioned"), true},
		{"4.1", meter("commissioned", ""), true}, // no hub known: the device answers for itself
		{"4.1", meter("withdrawn", "commissioned"), false},
		{"4.1", meter("decommissioned", "commissioned"), false},
		{"4.1", meter("commissioned", "decommissioned"), false}, // its hub decommissioned meanwhile
		{"4.1", meter("commissioned", "withdrawn"), false},
		{"3.1", meter("installed_not_commissioned", "commissioned"), false},
		{"8.9", Device{Known: true, Type: "CHF", Status: "commissioned", CHFStatus: "decommissioned"}, true}, // a hub is not behind itself
		{"8.2", meter("decommissioned", "decommissioned"), true},                                             // Read Inventory: no device is sent anything
		{"no-such-row", meter("withdrawn", "withdrawn"), true},
	}
	for _, tc := range tests {
		ok, detail, clause := e.StatusAllows(tc.key, tc.d)
		if ok != tc.want || (!ok && (clause == "" || detail == "")) {
			t.Errorf("StatusAllows(%s, %+v) = %v, %q, %q; want %v (a refusal with its detail and clause)", tc.key, tc.d, ok, detail, clause, tc.want)
		}
	}
}

// TestRegistered: the Registration Data check the runtime asks of the
// engine for a schedule's run is submission's: the role's field and fuel,
// and no check for a critical row, a role not bound, or an unknown row.
func TestRegistered(t *testing.T) {
	e := testEngine(t)
	regs := []Registration{{MPxN: "1900000000011", Fuel: "electricity", ImportSupplier: supplierA, NetworkOperator: "00-00-00-00-00-00-0E-01"}}
	tests := []struct {
		note, key, role, user string
		want                  bool
	}{
		{"the registered supplier", "4.8", "EIS", supplierA, true},
		{"another supplier", "4.8", "EIS", supplierB, false},
		{"the registered network operator", "4.16", "ENO", "00-00-00-00-00-00-0E-01", true},
		{"a gas supplier on electricity", "4.1", "GIS", supplierA, false},
		{"an other user: not named in Registration Data", "4.8", "OU", "00-00-00-00-00-00-0F-01", true},
		{"a critical row: the device checks", "7.1", "EIS", supplierB, true},
		{"no such row", "no-such-row", "EIS", supplierB, true},
	}
	for _, tc := range tests {
		ok, detail, clause := e.Registered(tc.key, tc.role, tc.user, regs)
		if ok != tc.want || (!ok && (detail == "" || clause == "")) {
			t.Errorf("%s: Registered = %v, %q, %q; want %v (a refusal with its detail and clause)", tc.note, ok, detail, clause, tc.want)
		}
	}
}
