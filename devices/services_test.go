package devices

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dccgate/dccgate/spec"
)

// prerequisites are services a row needs run first on the same device: a
// firmware image must be stored before it is activated; a credit row's
// tariff reaches a meter in credit mode only.
var prerequisites = map[string][]struct {
	service string
	body    map[string]any
}{
	"11.3":       {{"11.1", nil}},
	"1.1/credit": {{"1.6", map[string]any{"mode": "credit"}}},
	"1.2/credit": {{"1.6", map[string]any{"mode": "credit"}}},
}

// TestEveryServiceOnEveryTarget walks the spec: every Table 5.1 row that is
// not an alert, aimed at every device type it names, with the example body,
// must be answered OK with JSON-friendly data.
func TestEveryServiceOnEveryTarget(t *testing.T) {
	sp := spec.MustDefault()
	n := 0
	for _, svc := range sp.Services {
		if !svc.DeviceService || svc.Alert {
			continue
		}
		for _, typ := range svc.Targets {
			t.Run(svc.Key()+"/"+typ, func(t *testing.T) {
				e := newEnv(t)
				dev := byType[typ]
				if dev == "" {
					t.Fatalf("the test premises has no %s", typ)
				}
				for _, pre := range prerequisites[svc.Key()] {
					e.mustRun(pre.service, dev, pre.body)
				}
				r := e.f.Execute(e.command(svc, dev))
				if !r.OK {
					t.Fatalf("%s on %s: %s: %s", svc.Key(), typ, r.Reason, r.Detail)
				}
				if err := jsonFriendly(r.Data); err != "" {
					t.Fatalf("%s on %s: data %s", svc.Key(), typ, err)
				}
			})
			n++
		}
	}
	if n == 0 {
		t.Fatal("no device services in the spec")
	}
}

// jsonFriendly checks a response holds only the types the gateway can turn
// into JSON or a protobuf Struct as they are.
func jsonFriendly(v any) string {
	switch x := v.(type) {
	case nil, string, bool, int64, float64:
		return ""
	case map[string]any:
		for k, e := range x {
			if s := jsonFriendly(e); s != "" {
				return k + ": " + s
			}
		}
		return ""
	case []any:
		for _, e := range x {
			if s := jsonFriendly(e); s != "" {
				return s
			}
		}
		return ""
	}
	return fmt.Sprintf("has a %T", v)
}

// TestHandlersAreInSpec keeps the handler table honest: every key is a
// device service of the spec.
func TestHandlersAreInSpec(t *testing.T) {
	sp := spec.MustDefault()
	for key := range handlers {
		ref, variant, _ := cut(key)
		svc := sp.Service(ref, variant)
		if svc == nil || !svc.DeviceService || svc.Alert {
			t.Errorf("handler %s is not a Table 5.1 service of the spec", key)
		}
	}
}

func TestRefusedServices(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, service, device, detail string
	}{
		{"wrong type", "4.1", chf1, "service 4.1 not supported by CHF"},
		{"type 2 device", "11.2", ihd, "service 11.2 not supported by IHD"},
		{"unknown service", "99.9", esme, "unknown service"},
		{"alert row", "A1", esme, "is an alert"},
		{"non-device service", "8.3", esme, "not a Device service"},
		{"unknown device", "4.1", "00-DB-00-00-00-00-99-99", "unknown device"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.f.Execute(seal(Command{Service: tc.service, Device: tc.device, SenderRole: "EIS", Sender: users["EIS"]}, ""))
			if r.OK || r.Reason != ReasonError || !strings.Contains(r.Detail, tc.detail) {
				t.Fatalf("got %+v, want DEVICE_ERROR %q", r, tc.detail)
			}
		})
	}
}

func TestBadBodies(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		service string
		body    map[string]any
	}{
		{"2.2", map[string]any{"amount_pence": "lots"}},
		{"2.2", map[string]any{"amount_pence": 1.5}},
		{"4.1", map[string]any{"register": "nonsense"}},
		{"4.8", map[string]any{"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}},
		{"4.8", map[string]any{"from": "yesterday"}},
		{"6.5", map[string]any{"over_voltage": int64(200), "under_voltage": int64(210)}},
		{"11.3", map[string]any{"version": "9.9.9"}},
		{"1.1/credit", map[string]any{"tou_blocks": int64(1000)}},
		{"8.11", map[string]any{"add": []any{"not-an-id"}}},
		{"8.12", map[string]any{"from_chf": esme}},
	}
	for _, tc := range cases {
		dev := esme
		if strings.HasPrefix(tc.service, "8.1") {
			dev = chf1
		}
		r := e.run(tc.service, dev, tc.body)
		if r.OK || r.Reason != ReasonError {
			t.Errorf("%s %v: got %+v, want DEVICE_ERROR", tc.service, tc.body, r)
		}
	}
}

// TestPrepaymentTariffNeedsCritical: a meter in prepayment mode refuses the
// non-critical (credit) rows of 1.1 and 1.2; the critical (prepayment) rows
// reach it, and the credit rows once it is in credit mode (para 118).
func TestPrepaymentTariffNeedsCritical(t *testing.T) {
	e := newEnv(t)
	e.mustRun("1.6", esme, map[string]any{"mode": "prepayment"})
	for _, key := range []string{"1.1/credit", "1.2/credit"} {
		if r := e.run(key, esme, nil); r.OK || r.Reason != ReasonRejected {
			t.Errorf("%s to a prepayment meter: %+v, want DEVICE_REJECTED", key, r)
		}
	}
	e.mustRun("1.1/prepayment", esme, nil)
	e.mustRun("1.2/prepayment", esme, nil)
	e.mustRun("1.6", esme, map[string]any{"mode": "credit"})
	e.mustRun("1.1/credit", esme, nil)
	e.mustRun("1.2/credit", esme, nil)
}
