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
		{note: "an on demand request with an execution time", req: Request{Service: "4.1", Category: "on_demand", ExecuteAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), UserID: supplierA, DeviceID: meter}, reason: dcc.ReasonMalformed},
		{note: "a category the schedule does not know", req: Request{Service: "4.1", Category: "category 7", UserID: supplierA, DeviceID: meter}, reason: dcc.ReasonMalformed},
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
		{note: "schedule on a meter not yet commissioned (para 139)", req: Request{Service: "5.1", UserID: supplierA, DeviceID: meter, Schedule: &Schedule{Service: "4.8", Every: 24 * time.Hour}}, facts: func(f *Facts) { f.Device.Status = "installed_not_commissioned" }},
		{note: "schedule on a meter behind a decommissioned hub (para 139)", req: Request{Service: "5.1", UserID: supplierA, DeviceID: meter, Schedule: &Schedule{Service: "4.8", Every: 24 * time.Hour}}, facts: func(f *Facts) { f.Device.CHFStatus = "decommissioned" }},
		{note: "schedule on a decommissioned meter (para 125)", req: Request{Service: "5.1", UserID: supplierA, DeviceID: meter, Schedule: &Schedule{Service: "4.8", Every: 24 * time.Hour}}, facts: func(f *Facts) { f.Device.Status = "decommissioned" }, reason: dcc.ReasonDeviceStatus},
		{note: "schedule with a body its service refuses", req: Request{Service: "5.1", UserID: supplierA, DeviceID: meter, Schedule: &Schedule{Service: "4.8", Every: 24 * time.Hour, Body: map[string]any{"from": "", "to": ""}}}, reason: dcc.ReasonMalformed},
		{note: "schedule with a body of its service", req: Request{Service: "5.1", UserID: supplierA, DeviceID: meter, Schedule: &Schedule{Service: "4.8", Every: 24 * time.Hour, Body: map[string]any{"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}}}},
		{note: "schedule of another service", req: Request{Service: "5.1", UserID: supplierA, DeviceID: meter, Schedule: &Schedule{Service: "4.1", Every: 24 * time.Hour}}, reason: dcc.ReasonCategoryNotAvailable},
		{note: "anomaly", req: Request{Service: "4.1", UserID: supplierA, DeviceID: meter}, facts: func(f *Facts) { f.Anomaly = Anomaly{Count: 11, Max: 10} }, reason: dcc.ReasonAnomaly},
		{note: "held behind a commissioning, the status waits (para 126-127)", req: Request{Service: "4.1", UserID: supplierA, DeviceID: meter}, facts: func(f *Facts) { f.Device.Status = "installed_not_commissioned"; f.HeldBehind = "8.1" }},
		{note: "held behind a request that leaves the inventory as it is", req: Request{Service: "4.1", UserID: supplierA, DeviceID: meter}, facts: func(f *Facts) { f.Device.Status = "installed_not_commissioned"; f.HeldBehind = "1.6" }, reason: dcc.ReasonDeviceStatus},
		{note: "held behind the meter's commissioning, para 187 waits", req: Request{Service: "8.1", UserID: supplierA, DeviceID: meter}, facts: func(f *Facts) {
			f.Device.Type = "PPMID"
			f.Device.Status = "pending"
			f.Device.MeterStatus = "pending"
			f.HeldBehind = "8.1"
		}, pre: true},
		{note: "held, the other checks are made at once", req: Request{Service: "4.1", UserID: supplierB, DeviceID: meter}, facts: func(f *Facts) { f.Device.Status = "installed_not_commissioned"; f.HeldBehind = "8.1" }, reason: dcc.ReasonNotRegistered},
		{note: "meter behind a decommissioned hub", req: Request{Service: "4.1", UserID: supplierA, DeviceID: meter}, facts: func(f *Facts) { f.Device.CHFStatus = "decommissioned" }, reason: dcc.ReasonDeviceStatus},
		{note: "meter behind a hub not on the inventory", req: Request{Service: "4.1", UserID: supplierA, DeviceID: meter}, facts: func(f *Facts) { f.Device.CHFStatus = "" }},
		{note: "local delivery behind a decommissioned hub", req: Request{Service: "4.1", UserID: supplierA, DeviceID: meter, Delivery: "local"}, facts: func(f *Facts) { f.Device.CHFStatus = "decommissioned" }},
		{note: "decommissioning a meter behind a decommissioned hub", req: Request{Service: "8.3", UserID: supplierA, DeviceID: meter}, facts: func(f *Facts) { f.Device.CHFStatus = "decommissioned" }},
		{note: "a hub with no meter yet binds no one", req: Request{Service: "4.1", UserID: supplierB, DeviceID: meter}, facts: func(f *Facts) { f.Registration = nil; f.Device.Unbound = true }},
		{note: "an MPxN no record names names no one", req: Request{Service: "4.1", UserID: supplierA, DeviceID: meter}, facts: func(f *Facts) { f.Registration = nil }, reason: dcc.ReasonNotRegistered},
		{note: "decommissioning by a supplier not registered", req: Request{Service: "8.3", UserID: supplierB, DeviceID: meter}, reason: dcc.ReasonNotRegistered},
		{note: "decommissioning a device related to no MPxN", req: Request{Service: "8.3", UserID: supplierB, DeviceID: meter}, facts: func(f *Facts) { f.Registration = nil; f.Device.Unbound = true }},
		{note: "meter on no hub's Device Log", req: Request{Service: "4.1", UserID: supplierA, DeviceID: meter}, facts: func(f *Facts) { f.Device.CHFStatus = ""; f.Device.NoHub = true }, reason: dcc.ReasonDeviceStatus},
		{note: "meter on no hub's Device Log, local delivery", req: Request{Service: "4.1", UserID: supplierA, DeviceID: meter, Delivery: "local"}, facts: func(f *Facts) { f.Device.CHFStatus = ""; f.Device.NoHub = true }},
		{note: "decommissioning a meter on no hub's Device Log", req: Request{Service: "8.3", UserID: supplierA, DeviceID: meter}, facts: func(f *Facts) { f.Device.CHFStatus = ""; f.Device.NoHub = true }},
		{note: "read inventory by a Type 2 Device's ID (note 405)", req: Request{Service: "8.2", UserID: supplierA, DeviceID: meter}, facts: func(f *Facts) { f.Device.Type = "IHD" }, reason: dcc.ReasonType2NotSupported},
		{note: "read inventory by a meter's ID", req: Request{Service: "8.2", UserID: supplierA, DeviceID: meter}},
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
	r2 := rand.New(rand.NewPCG(3, 4))
	pick2 := func(xs []string) string { return xs[r2.IntN(len(xs))] }
	// deviceLog fills a Device Log update's lists of devices added and
	// removed with up to two IDs each from pool.
	deviceLog := func(svc *spec.Service, body map[string]any, pool []string) {
		for _, kind := range []string{"add", "remove"} {
			for _, name := range svc.DeviceLogFields(kind) {
				ids := []any{}
				for range r2.IntN(3) {
					ids = append(ids, pick2(pool))
				}
				body[name] = ids
			}
		}
	}
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
			// Not from r: the rest of the corpus stays as it was.
			HeldBehind: []string{"", "", "8.1", "", "1.6", "", "8.11", "", "1.1/credit", "", "", "12.2"}[i%12],
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
			req.Delivery, req.Category, req.ExecuteAt = "wan", "on_demand", time.Time{}
			if svc.OnDemand == nil {
				req.Category, req.ExecuteAt = "future_dated", now.Add(time.Hour)
			}
		}
		// An on demand request that gives an execution time (MALFORMED).
		if req.Category == "on_demand" && req.ExecuteAt.IsZero() && r2.IntN(25) == 0 {
			req.ExecuteAt = now.Add(time.Hour)
		}
		fuel := pick([]string{"electricity", "gas"})
		f.Registration = []Registration{{MPxN: "1900000000011", Fuel: fuel, ImportSupplier: pick(users), ExportSupplier: pick(users), NetworkOperator: pick(users)}}
		// A device on no hub, and Device Log updates, from a generator of
		// their own, so the rest of the corpus stays.
		f.Device.NoHub = r2.IntN(10) == 0
		if svc := s.Service(k[0], k[1]); svc != nil && len(svc.DeviceLogFields("add")) > 0 && r2.IntN(4) > 0 {
			// A Device Log update: devices added and removed, some on the
			// inventory, each with a record that may name the sender.
			pool := []string{"00-DB-00-00-00-00-E0-01", "00-DB-00-00-00-00-6A-01", "00-DB-00-00-00-00-1D-01"}
			f.Listed = map[string]Listed{}
			f.Registration[0].Postcode, f.Registration[0].Premises = "LS1 1AA", pick2([]string{"7", "9", ""})
			deviceLog(svc, req.Body, pool)
			for _, id := range pool {
				if r2.IntN(4) > 0 {
					f.Listed[id] = Listed{Type: pick2(types), Status: pick2(statuses),
						Registration: []Registration{{MPxN: "7000000011", Fuel: pick2([]string{"electricity", "gas"}), ImportSupplier: pick2(users), ExportSupplier: pick2(users), NetworkOperator: pick2(users),
							Postcode: "LS1 1AA", Premises: pick2([]string{"7", "9", ""}), UPRN: pick2([]string{"", "", "100"})}}}
				}
			}
		}
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
	// Device Log updates that pass the earlier checks, so the checks of
	// the devices they name (on the inventory, their MPxNs and premises)
	// are reached often.
	for _, svc := range s.Services {
		if len(svc.DeviceLogFields("add")) == 0 {
			continue
		}
		pool := []string{"00-DB-00-00-00-00-E0-01", "00-DB-00-00-00-00-6A-01", "00-DB-00-00-00-00-1D-01", "00-DB-00-00-00-00-6A-09"}
		for range n / 20 {
			req := Request{Service: svc.Ref, Variant: svc.Variant, UserID: pick2(users[:3]), DeviceID: "00-DB-00-00-00-00-C0-01", Body: map[string]any{}}
			f := Facts{Now: now, User: User{Known: true, Role: pick2(svc.Roles)}, Device: Device{Known: true, Type: pick2(svc.Targets), Status: pick2(svc.Statuses), Unbound: r2.IntN(8) == 0},
				Listed: map[string]Listed{}}
			deviceLog(svc, req.Body, pool)
			// Half the time the devices are the sender's own at the hub's
			// premises (records of its fuel naming it in every field), more
			// often than chance makes them.
			own := r2.IntN(2) == 0
			record := func() Registration {
				g := Registration{MPxN: "7000000011", Fuel: pick2([]string{"electricity", "gas"}), ImportSupplier: pick2(users), ExportSupplier: pick2(users), NetworkOperator: pick2(users),
					Postcode: "LS1 1AA", Premises: pick2([]string{"7", "7", "9", ""}), UPRN: pick2([]string{"", "", "100"})}
				if role := s.Role(f.User.Role); own && role != nil && role.Registration != nil {
					g.Fuel, g.Premises = role.Registration.Fuel, "7"
					g.ImportSupplier, g.ExportSupplier, g.NetworkOperator = req.UserID, req.UserID, req.UserID
				}
				return g
			}
			if own || r2.IntN(4) > 0 {
				// The hub's record: at the premises, naming whoever.
				f.Registration = []Registration{record()}
				h := &f.Registration[0]
				h.Fuel, h.ImportSupplier, h.ExportSupplier, h.NetworkOperator = pick2([]string{"electricity", "gas"}), pick2(users), pick2(users), pick2(users)
			}
			for _, id := range pool {
				if r2.IntN(5) > 0 {
					l := Listed{Type: pick2(types), Status: pick2(statuses)}
					for range r2.IntN(2) + 1 {
						l.Registration = append(l.Registration, record())
					}
					f.Listed[id] = l
				}
			}
			out = append(out, struct {
				req   Request
				facts Facts
			}{req, f})
		}
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

// TestDeviceLog: 8.11 adds to its hub's Device Log only devices on the
// inventory (para 182-184, 187), and the Registration Data check counts
// the MPxNs of the devices it adds or removes beside the hub's: a
// supplier registered for every device the request names may send it
// (para 184, a second fuel's meter on a hub bound to the first's MPxN, at
// the same premises), one registered for neither may not, and at a hub
// two suppliers share neither adds or removes the other's devices (a
// Type 2 Device is the premises').
func TestDeviceLog(t *testing.T) {
	e := testEngine(t)
	const (
		hub      = "00-DB-00-00-00-00-C0-01"
		gasMeter = "00-DB-00-00-00-00-6A-01"
		other    = "00-DB-00-00-00-00-6A-02"
		gasA     = "00-00-00-00-00-00-0A-03"
	)
	const elsewhere = "00-DB-00-00-00-00-6A-03"
	const withdrawn, decomm = "00-DB-00-00-00-00-E0-0A", "00-DB-00-00-00-00-E0-0B"
	const ihd = "00-DB-00-00-00-00-1D-0A"
	elec := []Registration{{MPxN: "1900000000011", Fuel: "electricity", ImportSupplier: supplierA, Postcode: "LS1 1AA", Premises: "7"}}
	gas := []Registration{{MPxN: "7000000011", Fuel: "gas", ImportSupplier: gasA, Postcode: "LS1 1AA", Premises: "7"}}
	otherGas := []Registration{{MPxN: "7000000012", Fuel: "gas", ImportSupplier: supplierB, Postcode: "LS1 1AA", Premises: "7"}}
	gasElsewhere := []Registration{{MPxN: "7000000013", Fuel: "gas", ImportSupplier: gasA, Postcode: "LS1 1AA", Premises: "9", UPRN: "100"}}
	listed := map[string]Listed{
		meter:     {Type: "ESME", Status: "commissioned", Registration: elec},
		gasMeter:  {Type: "GSME", Status: "pending", Registration: gas},
		other:     {Type: "GSME", Status: "pending", Registration: otherGas},
		elsewhere: {Type: "GSME", Status: "pending", Registration: gasElsewhere},
		withdrawn: {Type: "ESME", Status: "withdrawn", Registration: elec},
		decomm:    {Type: "ESME", Status: "decommissioned", Registration: elec},
		ihd:       {Type: "IHD", Status: "pending", Registration: elec},
	}
	tests := []struct {
		note   string
		user   string
		role   string
		body   map[string]any
		hubReg []Registration // the records of the hub's MPxNs
		reason dcc.Reason
	}{
		{note: "a device on the inventory", user: supplierA, role: "EIS", body: map[string]any{"add": []any{meter}}, hubReg: elec},
		{note: "a device not on the inventory", user: supplierA, role: "EIS", body: map[string]any{"add": []any{"00-DB-00-00-00-00-E0-99"}}, hubReg: elec, reason: dcc.ReasonDeviceUnknown},
		{note: "one of two not on the inventory", user: supplierA, role: "EIS", body: map[string]any{"add": []any{meter, "00-DB-00-00-00-00-E0-99"}}, hubReg: elec, reason: dcc.ReasonDeviceUnknown},
		{note: "removing a device not on the inventory", user: supplierA, role: "EIS", body: map[string]any{"remove": []any{"00-DB-00-00-00-00-E0-99"}}, hubReg: elec},
		{note: "the other fuel's supplier adds its meter", user: gasA, role: "GIS", body: map[string]any{"add": []any{gasMeter}}, hubReg: elec},
		{note: "the other fuel's supplier adds its meter and another's", user: gasA, role: "GIS", body: map[string]any{"add": []any{gasMeter, other}}, hubReg: elec, reason: dcc.ReasonNotRegistered},
		{note: "the other fuel's supplier adds its meter and removes the hub's", user: gasA, role: "GIS", body: map[string]any{"add": []any{gasMeter}, "remove": []any{meter}}, hubReg: elec, reason: dcc.ReasonNotRegistered},
		{note: "the other fuel's supplier removes the hub's meter", user: gasA, role: "GIS", body: map[string]any{"remove": []any{meter}}, hubReg: elec, reason: dcc.ReasonNotRegistered},
		{note: "a supplier of neither hub nor device", user: supplierB, role: "GIS", body: map[string]any{"add": []any{gasMeter}}, hubReg: elec, reason: dcc.ReasonNotRegistered},
		{note: "an electricity supplier adding a gas meter it is not registered for", user: supplierB, role: "EIS", body: map[string]any{"add": []any{gasMeter}}, hubReg: elec, reason: dcc.ReasonNotRegistered},
		{note: "a withdrawn device (para 175)", user: supplierA, role: "EIS", body: map[string]any{"add": []any{withdrawn}}, hubReg: elec, reason: dcc.ReasonDeviceStatus},
		{note: "a decommissioned device (para 177)", user: supplierA, role: "EIS", body: map[string]any{"add": []any{meter, decomm}}, hubReg: elec, reason: dcc.ReasonDeviceStatus},
		{note: "removing a decommissioned device", user: supplierA, role: "EIS", body: map[string]any{"remove": []any{decomm}}, hubReg: elec},
		{note: "the hub's supplier adds another's meter", user: supplierA, role: "EIS", body: map[string]any{"add": []any{other}}, hubReg: elec, reason: dcc.ReasonNotRegistered},
		{note: "a supplier of both fuels removes the other fuel's meter", user: supplierA, role: "EIS", body: map[string]any{"remove": []any{gasMeter}}, hubReg: append(append([]Registration{}, elec...), gas...), reason: dcc.ReasonNotRegistered},
		{note: "the gas supplier removes its own meter from a shared hub", user: gasA, role: "GIS", body: map[string]any{"remove": []any{gasMeter}}, hubReg: append(append([]Registration{}, elec...), gas...)},
		{note: "the gas supplier removes the electricity meter from a shared hub", user: gasA, role: "GIS", body: map[string]any{"remove": []any{meter}}, hubReg: append(append([]Registration{}, elec...), gas...), reason: dcc.ReasonNotRegistered},
		{note: "a Type 2 Device associated with the other fuel's meter", user: gasA, role: "GIS", body: map[string]any{"add": []any{ihd}}, hubReg: append(append([]Registration{}, elec...), gas...)},
		{note: "the other fuel's supplier adds its meter of other premises", user: gasA, role: "GIS", body: map[string]any{"add": []any{elsewhere}}, hubReg: elec, reason: dcc.ReasonNotRegistered},
		{note: "the other fuel's supplier adds its meter of the hub's UPRN", user: gasA, role: "GIS", body: map[string]any{"add": []any{elsewhere}}, hubReg: []Registration{{MPxN: "1900000000013", Fuel: "electricity", ImportSupplier: supplierA, UPRN: "100"}}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			req := &Request{Service: "8.11", UserID: tc.user, DeviceID: hub, Body: tc.body}
			f := &Facts{Now: now, User: User{Known: true, Role: tc.role}, Device: Device{Known: true, Type: "CHF", Status: "commissioned"},
				Registration: tc.hubReg, Listed: map[string]Listed{}}
			for _, field := range []string{"add", "remove"} {
				ids, _ := tc.body[field].([]any)
				for _, id := range ids {
					if l, ok := listed[id.(string)]; ok {
						f.Listed[id.(string)] = l
					}
				}
				if tc.body[field] == nil {
					tc.body[field] = []any{}
				}
			}
			d := e.Decide(t.Context(), req, f)
			if d.Reason != tc.reason || (tc.reason == "" && d.Outcome != Accepted) {
				t.Fatalf("%s %s (%s), want %q", d.Outcome, d.Reason, d.Detail, tc.reason)
			}
			if tc.reason != "" && d.Clause == "" {
				t.Fatal("a rejection without a clause")
			}
			ref, err := e.DecideReference(t.Context(), req, f)
			if err != nil {
				t.Fatal(err)
			}
			if ref.Outcome != d.Outcome || ref.Reason != d.Reason || ref.Clause != d.Clause {
				t.Fatalf("reference %s %s %q (%s), fast path %s %s %q", ref.Outcome, ref.Reason, ref.Clause, ref.Detail, d.Outcome, d.Reason, d.Clause)
			}
		})
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
		{"4.1", Device{Known: true, Type: "ESME", Status: "commissioned", NoHub: true}, false}, // removed from its hub's Device Log meanwhile
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

// TestLocalStatusAllows: a Command for Local Delivery produced later than
// it was checked answers as submission's note 406 check, by role, with its
// clause; rows aimed at no device allow it.
func TestLocalStatusAllows(t *testing.T) {
	e := testEngine(t)
	meter := func(status string) Device { return Device{Known: true, Type: "ESME", Status: status} }
	tests := []struct {
		key, role string
		d         Device
		want      bool
	}{
		{"4.1", "EIS", meter("commissioned"), true},
		{"4.1", "EIS", meter("installed_not_commissioned"), true},
		{"4.1", "EIS", meter("decommissioned"), false},
		{"4.1", "EIS", meter("withdrawn"), false},
		{"4.1", "SNA", meter("commissioned"), false}, // note 406 names no agent
		{"8.2", "EIS", meter("decommissioned"), true},
	}
	for _, tc := range tests {
		ok, detail, clause := e.LocalStatusAllows(tc.key, tc.role, tc.d)
		if ok != tc.want || (!ok && (clause == "" || detail == "")) {
			t.Errorf("LocalStatusAllows(%s, %s, %+v) = %v, %q, %q; want %v (a refusal with its detail and clause)", tc.key, tc.role, tc.d, ok, detail, clause, tc.want)
		}
	}
}

// TestCommissioningAllows: the para 187 checks a commissioning is put to
// again when the inventory is about to record it answer as submission's,
// in the policy's order, with the reason and its clause; rows that do not
// commission, and unknown devices, allow it.
func TestCommissioningAllows(t *testing.T) {
	e := testEngine(t)
	dev := func(typ, hub, meter string, taken bool) Device {
		return Device{Known: true, Type: typ, Status: "installed_not_commissioned", CHFStatus: hub, MeterStatus: meter, MPxNHasMeter: taken}
	}
	tests := []struct {
		key  string
		d    Device
		want dcc.Reason
	}{
		{"8.1", dev("ESME", "commissioned", "", false), ""},
		{"8.1", dev("ESME", "decommissioned", "", false), dcc.ReasonChfNotCommissioned},
		{"8.1", dev("ESME", "commissioned", "", true), dcc.ReasonMpxnHasMeter},
		{"8.1", dev("PPMID", "commissioned", "commissioned", false), ""},
		{"8.1", dev("PPMID", "commissioned", "decommissioned", false), dcc.ReasonMeterNotCommissioned},
		{"8.1", dev("PPMID", "commissioned", "commissioned", true), ""},                // the MPxN's meter is the PPMID's, not a second
		{"8.1", dev("ESME", "decommissioned", "", true), dcc.ReasonChfNotCommissioned}, // the policy's order
		{"8.1", Device{}, ""},
		{"4.1", dev("ESME", "decommissioned", "", true), ""},
		{"no-such-row", dev("ESME", "decommissioned", "", true), ""},
	}
	for _, tc := range tests {
		ok, reason, detail, clause := e.CommissioningAllows(tc.key, tc.d)
		if ok != (tc.want == "") || reason != tc.want || (!ok && (clause == "" || detail == "")) {
			t.Errorf("CommissioningAllows(%s, %+v) = %v, %s, %q, %q; want %q (a refusal with its detail and clause)", tc.key, tc.d, ok, reason, detail, clause, tc.want)
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
		ok, detail, clause := e.Registered(tc.key, tc.role, tc.user, regs, false)
		if ok != tc.want || (!ok && (detail == "" || clause == "")) {
			t.Errorf("%s: Registered = %v, %q, %q; want %v (a refusal with its detail and clause)", tc.note, ok, detail, clause, tc.want)
		}
	}
}
