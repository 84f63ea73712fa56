package devices

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/spec"
)

// emptyCompanions complete a body whose optional field (by "service/field")
// is left empty where the row's checks then want another field to change
// with it: the rest of a request the gateway accepts. A row's check that
// an added optional field breaks fails TestOptionalFieldsLeftEmpty, which
// names the entry to add here.
var emptyCompanions = map[string]func(e *env, dev string) map[string]any{
	"1.5/adjustment_pence": func(*env, string) map[string]any { return map[string]any{"reset": true} },
	// Without an amount, the meter tops up by the credit the UTRN carries:
	// the spec's example carries none.
	"2.2/amount_pence": func(*env, string) map[string]any {
		return map[string]any{"utrn": fmt.Sprintf("%019d0", uint64(utrnBase)+2000<<32)}
	},
	"4.17/days": func(*env, string) map[string]any {
		return map[string]any{"from": start.Add(-72 * time.Hour).Format(time.RFC3339), "to": start.Format(time.RFC3339)}
	},
	"6.14/switch":          func(*env, string) map[string]any { return map[string]any{"description": ""} },
	"6.18/timeframe_start": func(*env, string) map[string]any { return map[string]any{"timeframe_end": ""} },
	"6.18/timeframe_end":   func(*env, string) map[string]any { return map[string]any{"timeframe_start": ""} },
	"6.22/alert_code":      func(*env, string) map[string]any { return eventSettingsOnly() },
	"6.22/action":          func(*env, string) map[string]any { return eventSettingsOnly() },
	"8.11/add":             func(*env, string) map[string]any { return map[string]any{"remove": []any{ihd}} },
	"8.11/remove":          func(*env, string) map[string]any { return map[string]any{"add": []any{ihd}} },
	"11.3/version": func(e *env, dev string) map[string]any {
		e.t.Helper()
		im := e.state(dev).Firmware.Images
		if len(im) == 0 {
			e.t.Fatalf("%s stores no firmware image", dev)
		}
		return map[string]any{"sha256": im[len(im)-1].SHA256}
	},
}

// eventSettingsOnly is a 6.22 body that configures a setting and no alert.
func eventSettingsOnly() map[string]any {
	return map[string]any{"alert_code": "", "action": "", "settings": []any{"ElectricitySupplierAlerts/SupplierESMECommon/x810D=Enable"}}
}

// zeroValue is what a field left empty holds in a request's JSON body
// (proto3 and the spec cannot tell it from a field left out).
func zeroValue(t *testing.T, typ string) any {
	t.Helper()
	switch typ {
	case "string", "timestamp":
		return ""
	case "int64":
		return int64(0)
	case "double":
		return float64(0)
	case "bool":
		return false
	case "strings":
		return []any{}
	}
	t.Fatalf("unknown spec type %q", typ)
	return nil
}

// TestOptionalFieldsLeftEmpty walks the spec: every optional field of every
// Table 5.1 row, left out of the body or sent at its zero value (the
// spec's "empty"), in a request the gateway accepts (engine.Validate), is
// encoded as unset in the (Signed) Pre-Command and must be carried out by
// every device type the row targets, never a DEVICE_ERROR for a missing
// field.
func TestOptionalFieldsLeftEmpty(t *testing.T) {
	sp := spec.MustDefault()
	eng, err := engine.New(t.Context(), sp)
	if err != nil {
		t.Fatal(err)
	}
	type tc struct {
		note   string
		svc    *spec.Service
		field  spec.Field
		typ    string
		absent bool
	}
	var tests []tc
	for _, svc := range sp.Services {
		if !svc.DeviceService || svc.Alert {
			continue
		}
		for _, f := range svc.Fields {
			if f.Required {
				continue
			}
			for _, typ := range svc.Targets {
				tests = append(tests,
					tc{note: svc.Key() + "/" + f.Name + "/absent/" + typ, svc: svc, field: f, typ: typ, absent: true},
					tc{note: svc.Key() + "/" + f.Name + "/empty/" + typ, svc: svc, field: f, typ: typ})
			}
		}
	}
	if len(tests) == 0 {
		t.Fatal("no optional fields of device services in the spec")
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			e := newEnv(t)
			dev := byType[tc.typ]
			if dev == "" {
				t.Fatalf("the test premises has no %s", tc.typ)
			}
			for _, pre := range prerequisites[tc.svc.Key()] {
				e.mustRun(pre.service, dev, pre.body)
			}
			cmd, signer := e.unsealed(tc.svc, dev)
			if c := emptyCompanions[tc.svc.Key()+"/"+tc.field.Name]; c != nil {
				maps.Copy(cmd.Body, c(e, dev))
			}
			if tc.absent {
				delete(cmd.Body, tc.field.Name)
			} else {
				cmd.Body[tc.field.Name] = zeroValue(t, tc.field.Type)
			}
			req := &engine.Request{Service: tc.svc.Ref, Variant: tc.svc.Variant, RequestID: cmd.RequestID, UserID: cmd.Sender, DeviceID: dev, Body: maps.Clone(cmd.Body)}
			if errs := eng.Validate(req); len(errs) > 0 {
				t.Fatalf("body %v is malformed (%v): add to emptyCompanions what %s/%s needs with it", cmd.Body, errs, tc.svc.Key(), tc.field.Name)
			}
			if r := e.f.Execute(seal(cmd, signer)); !r.OK {
				t.Fatalf("%s with %s empty on %s: %s: %s", tc.svc.Key(), tc.field.Name, tc.typ, r.Reason, r.Detail)
			}
		})
	}
}

// TestOptionalFieldsEmptyMeaning checks that a device acts on an optional
// field left empty as the spec's doc says ("empty: none").
func TestOptionalFieldsEmptyMeaning(t *testing.T) {
	tests := []struct {
		note    string
		service string
		pre     []string // services run first: 1.6 to credit mode
		set     map[string]any
		body    map[string]any
		check   func(t *testing.T, e *env, data map[string]any)
	}{
		{
			note: "3.5 pin empty disables the PIN", service: "3.5",
			set: map[string]any{"pin": "1234"}, body: map[string]any{"pin": ""},
			check: func(t *testing.T, e *env, data map[string]any) {
				t.Helper()
				if pin := e.state(esme).PIN; pin != "" {
					t.Errorf("PIN %q, want none", pin)
				}
				if data["pin_enabled"] != false {
					t.Errorf("pin_enabled %v, want false", data["pin_enabled"])
				}
			},
		},
		{
			note: "3.5 pin left out disables the PIN", service: "3.5",
			set: map[string]any{"pin": "1234"}, body: map[string]any{"pin": nil},
			check: func(t *testing.T, e *env, _ map[string]any) {
				t.Helper()
				if pin := e.state(esme).PIN; pin != "" {
					t.Errorf("PIN %q, want none", pin)
				}
			},
		},
		{
			note: "1.1/prepayment tariff_name empty is a tariff with no name", service: "1.1/prepayment",
			set: map[string]any{"tariff_name": "Standard"}, body: map[string]any{"tariff_name": "", "unit_rate_millipence": 24500},
			check: func(t *testing.T, e *env, data map[string]any) {
				t.Helper()
				tr := e.state(esme).Meter.Tariff
				if tr.Name != "" || tr.UnitRateMillipence != 24500 {
					t.Errorf("tariff %+v, want no name at 24500 millipence", tr)
				}
				if data["tariff_name"] != "" {
					t.Errorf("tariff_name %v, want empty", data["tariff_name"])
				}
			},
		},
		{
			note: "1.1/credit tariff_name left out is a tariff with no name", service: "1.1/credit", pre: []string{"1.6"},
			set: map[string]any{"tariff_name": "Standard"}, body: map[string]any{"tariff_name": nil},
			check: func(t *testing.T, e *env, _ map[string]any) {
				t.Helper()
				if name := e.state(esme).Meter.Tariff.Name; name != "" {
					t.Errorf("tariff name %q, want none", name)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			e := newEnv(t)
			for _, s := range tc.pre {
				e.mustRun(s, esme, map[string]any{"mode": PaymentCredit})
			}
			e.mustRun(tc.service, esme, tc.set)
			ref, variant, _ := cut(tc.service)
			cmd, signer := e.unsealed(e.f.Spec().Service(ref, variant), esme)
			cmd.RequestID += "0" // another request than the one that set the field
			for k, v := range tc.body {
				if v == nil {
					delete(cmd.Body, k) // left out of the request
				} else {
					cmd.Body[k] = v
				}
			}
			r := e.f.Execute(seal(cmd, signer))
			if !r.OK {
				t.Fatalf("%s: %s: %s", tc.service, r.Reason, r.Detail)
			}
			tc.check(t, e, r.Data)
		})
	}
}
