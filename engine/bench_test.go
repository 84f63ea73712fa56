package engine

import (
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/dccgate/dccgate/spec/dcc"
)

type benchCase struct {
	req   Request
	facts Facts
}

// benchMix is a realistic mix of requests: mostly reads by the registered
// supplier, profile reads, top-ups, some future dated and critical requests,
// inventory reads and schedules, and a share of refusals.
func benchMix() []benchCase {
	f := *baseFacts()
	gno := f
	gno.User.Role = "GNO"
	var out []benchCase
	add := func(n int, r Request, facts Facts) {
		for i := 0; i < n; i++ {
			out = append(out, benchCase{r, facts})
		}
	}
	add(30, Request{Service: "4.1", UserID: supplierA, DeviceID: meter, Body: map[string]any{"register": "total"}}, f)
	add(20, Request{Service: "4.8", UserID: supplierA, DeviceID: meter, Body: map[string]any{"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}}, f)
	add(15, Request{Service: "2.2", UserID: supplierA, DeviceID: meter, Body: map[string]any{"utrn": "73100000000000000001", "amount_pence": int64(2000)}}, f)
	add(10, Request{Service: "4.4", Category: "future_dated", ExecuteAt: now.Add(time.Hour), UserID: supplierA, DeviceID: meter, Body: map[string]any{"entry": int64(0)}}, f)
	add(5, Request{Service: "1.1", Variant: "credit", UserID: supplierA, DeviceID: meter, Body: map[string]any{"tariff_name": "Standard", "standing_charge_pence": int64(25), "unit_rate_millipence": int64(24500), "tou_blocks": int64(1)}}, f)
	add(5, Request{Service: "7.1", UserID: supplierA, DeviceID: meter, Body: map[string]any{}}, f)
	add(5, Request{Service: "8.2", UserID: supplierA, Body: map[string]any{"mpxn": "1900000000011", "postcode": "", "premises": "", "uprn": ""}}, f)
	add(3, Request{Service: "5.1", UserID: supplierA, DeviceID: meter, Schedule: &Schedule{Service: "4.8", Every: 24 * time.Hour}, Body: map[string]any{}}, f)
	add(4, Request{Service: "4.1", UserID: supplierB, DeviceID: meter, Body: map[string]any{"register": "total"}}, f)
	add(3, Request{Service: "1.1", Variant: "credit", UserID: gasNO, DeviceID: meter, Body: map[string]any{"tariff_name": "Standard", "standing_charge_pence": int64(25), "unit_rate_millipence": int64(24500), "tou_blocks": int64(1)}}, gno)
	return out
}

func BenchmarkDecide(b *testing.B) {
	e := testEngine(b)
	mix := benchMix()
	ctx := b.Context()
	for i := range mix { // every case decides as the mix intends
		if d := e.Decide(ctx, &mix[i].req, &mix[i].facts); d.Reason == dcc.ReasonMalformed {
			b.Fatalf("mix case %d is malformed: %s", i, d.Detail)
		}
	}
	durs := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c := &mix[i%len(mix)]
		t0 := time.Now()
		e.Decide(ctx, &c.req, &c.facts)
		durs = append(durs, time.Since(t0))
	}
	b.StopTimer()
	reportPercentiles(b, durs)
}

func reportPercentiles(b *testing.B, durs []time.Duration) {
	b.Helper()
	if len(durs) == 0 {
		return
	}
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds()), "median-ns")
	b.ReportMetric(float64(durs[len(durs)*99/100].Nanoseconds()), "p99-ns")
}

// baseline is the same checks written as a plain Go switch, with the
// schedule taken from the generated tables: the cost floor the engine is
// compared with. It is a benchmark baseline, not a second implementation.
type baseline struct {
	rows  map[dcc.ServiceKey]*dcc.Row
	eui   *regexp.Regexp
	utrn  *regexp.Regexp
	mpxn  *regexp.Regexp
	regOf map[string][2]string
}

func newBaseline() *baseline {
	b := &baseline{rows: map[dcc.ServiceKey]*dcc.Row{},
		eui:  regexp.MustCompile(`^([0-9A-F]{2}-){7}[0-9A-F]{2}$`),
		utrn: regexp.MustCompile(`^[0-9]{20}$`),
		mpxn: regexp.MustCompile(`^([0-9]{13}|[0-9]{6,10})$`),
		regOf: map[string][2]string{"EIS": {"import", "electricity"}, "GIS": {"import", "gas"}, "EES": {"export", "electricity"},
			"ENO": {"no", "electricity"}, "GNO": {"no", "gas"}},
	}
	for i := range dcc.Schedule {
		b.rows[dcc.Schedule[i].Key] = &dcc.Schedule[i]
	}
	return b
}

func (bl *baseline) decide(req *Request, f *Facts) dcc.Reason {
	key := dcc.ServiceKey(req.Service)
	if req.Variant != "" {
		key = dcc.ServiceKey(req.Service + "/" + req.Variant)
	}
	row := bl.rows[key]
	if row == nil || !bl.eui.MatchString(req.UserID) {
		return dcc.ReasonMalformed
	}
	switch key {
	case dcc.Service4_1:
		switch req.Body["register"] {
		case "total", "tou", "block":
		default:
			return dcc.ReasonMalformed
		}
	case dcc.Service4_8:
		from, err1 := time.Parse(time.RFC3339, req.Body["from"].(string))
		to, err2 := time.Parse(time.RFC3339, req.Body["to"].(string))
		if err1 != nil || err2 != nil || !from.Before(to) {
			return dcc.ReasonMalformed
		}
	case dcc.Service2_2:
		if u, _ := req.Body["utrn"].(string); !bl.utrn.MatchString(u) {
			return dcc.ReasonMalformed
		}
		if a, _ := req.Body["amount_pence"].(int64); a <= 0 || a > 10000000 {
			return dcc.ReasonMalformed
		}
	case dcc.Service8_2:
		if m, _ := req.Body["mpxn"].(string); m != "" && !bl.mpxn.MatchString(m) {
			return dcc.ReasonMalformed
		}
	}
	switch req.Category {
	case "", "on_demand":
		if row.OnDemand == 0 {
			return dcc.ReasonCategoryNotAvailable
		}
	case "future_dated":
		if row.FutureDated == 0 {
			return dcc.ReasonCategoryNotAvailable
		}
	}
	if !f.User.Known {
		return dcc.ReasonUnknownUser
	}
	if f.User.Suspended {
		return dcc.ReasonUserSuspended
	}
	if !slices.Contains(row.Roles, dcc.Role(f.User.Role)) {
		return dcc.ReasonRoleNotEligible
	}
	if req.DeviceID != "" {
		if !f.Device.Known {
			return dcc.ReasonDeviceUnknown
		}
		if f.Device.Status != "commissioned" {
			return dcc.ReasonDeviceStatus
		}
	}
	if !row.Critical && row.DeviceService {
		reg, ok := bl.regOf[f.User.Role]
		if ok {
			found := false
			for _, r := range f.Registration {
				if r.Fuel != reg[1] {
					continue
				}
				switch reg[0] {
				case "import":
					found = r.ImportSupplier == req.UserID
				case "export":
					found = r.ExportSupplier == req.UserID
				default:
					found = r.NetworkOperator == req.UserID
				}
				if found {
					break
				}
			}
			if !found {
				return dcc.ReasonNotRegistered
			}
		}
	}
	if f.Anomaly.Count > f.Anomaly.Max {
		return dcc.ReasonAnomaly
	}
	return ""
}

func BenchmarkDecideBaseline(b *testing.B) {
	bl := newBaseline()
	mix := benchMix()
	e := testEngine(b)
	for i := range mix { // the baseline decides the mix as the engine does
		if got, want := bl.decide(&mix[i].req, &mix[i].facts), e.Decide(b.Context(), &mix[i].req, &mix[i].facts).Reason; got != want {
			b.Fatalf("mix case %d: baseline %q, engine %q", i, got, want)
		}
	}
	durs := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c := &mix[i%len(mix)]
		t0 := time.Now()
		bl.decide(&c.req, &c.facts)
		durs = append(durs, time.Since(t0))
	}
	b.StopTimer()
	reportPercentiles(b, durs)
}
