package devices

import (
	"strings"
	"testing"
	"time"
)

// TestBodiesAsDUISSendsThem: the Commands that DUIS messages become (DCC
// Boxed's templates: CS01a/b, ECS04b, ECS46a/c, ECS37, ECS57, CS06, ECS66,
// ECS61a), the fields DUIS does not carry at their zero values, as a
// device carries them out.
func TestBodiesAsDUISSendsThem(t *testing.T) {
	aux := func(e *env, n int) AuxSwitch { return e.state(esme).Aux[n] }
	tests := []struct {
		note, svc string
		before    func(e *env)
		body      map[string]any
		refused   bool
		check     func(t *testing.T, e *env, before DeviceState, data map[string]any)
	}{
		{note: "a top-up of pounds by its UTRN alone", svc: "2.2", body: map[string]any{"utrn": "73946144332040217315", "amount_pence": int64(0)},
			check: func(t *testing.T, e *env, b DeviceState, _ map[string]any) {
				if got := e.state(esme).Meter.CreditPence - b.Meter.CreditPence; got != 1000 {
					t.Fatalf("credit +%v, want +1000 (the token's £10)", got)
				}
			}},
		{note: "a top-up of pennies by its UTRN alone", svc: "2.2", body: map[string]any{"utrn": "73950067887105178605", "amount_pence": int64(0)},
			check: func(t *testing.T, e *env, b DeviceState, _ map[string]any) {
				if got := e.state(esme).Meter.CreditPence - b.Meter.CreditPence; got != 1250 {
					t.Fatalf("credit +%v, want +1250", got)
				}
			}},
		{note: "a UTRN that is no token, with no amount", svc: "2.2", body: map[string]any{"utrn": "73100000000000000001", "amount_pence": int64(0)}, refused: true},
		{note: "a meter balance reset", svc: "1.5", body: map[string]any{"adjustment_pence": int64(0), "reset": true},
			check: func(t *testing.T, e *env, _ DeviceState, _ map[string]any) {
				if got := e.state(esme).Meter.CreditPence; got != 0 {
					t.Fatalf("credit %v after a reset", got)
				}
			}},
		{note: "the Device's ALC calendar", svc: "6.14", body: map[string]any{"switch": int64(0), "calendar": "06:00:00.00Z 10:00:00.00Z", "description": ""},
			check: func(t *testing.T, e *env, _ DeviceState, _ map[string]any) {
				for n := 1; n <= maxAux; n++ {
					if got := aux(e, n).Calendar; got != "06:00:00.00Z 10:00:00.00Z" {
						t.Fatalf("switch %d's calendar %q", n, got)
					}
				}
			}},
		{note: "a switch's description leaves its calendar", svc: "6.14", body: map[string]any{"switch": int64(2), "calendar": "", "description": "Label2"},
			before: func(e *env) {
				e.mustRun("6.14", esme, map[string]any{"switch": int64(2), "calendar": "00:30-04:30", "description": ""})
			},
			check: func(t *testing.T, e *env, _ DeviceState, _ map[string]any) {
				if s := aux(e, 2); s.Description != "Label2" || s.Calendar != "00:30-04:30" {
					t.Fatalf("switch 2: %+v", s)
				}
			}},
		{note: "a maximum demand timeframe keeps the period", svc: "6.18", body: map[string]any{"period_minutes": int64(0), "timeframe_start": "17:00:00.00Z", "timeframe_end": "22:00:00.00Z", "reset": false},
			check: func(t *testing.T, e *env, b DeviceState, _ map[string]any) {
				md := e.state(esme).Meter.MaxDemand
				if md.TimeframeStart != "17:00:00.00Z" || md.TimeframeEnd != "22:00:00.00Z" || md.PeriodMinutes != b.Meter.MaxDemand.PeriodMinutes {
					t.Fatalf("max demand %+v", md)
				}
			}},
		{note: "maximum demand values reset", svc: "6.18", body: map[string]any{"period_minutes": int64(0), "timeframe_start": "", "timeframe_end": "", "reset": true},
			before: func(e *env) { e.clk.Advance(2 * time.Hour) },
			check: func(t *testing.T, e *env, b DeviceState, _ map[string]any) {
				if b.Meter.MaxDemand.ImportWatts == 0 {
					t.Fatal("no demand recorded before the reset")
				}
				if md := e.state(esme).Meter.MaxDemand; md.ImportWatts != 0 || md.PeriodMinutes != b.Meter.MaxDemand.PeriodMinutes {
					t.Fatalf("max demand %+v", md)
				}
			}},
		{note: "firmware activated by its hash", svc: "11.3", body: map[string]any{"version": "", "sha256": strings.ToUpper(imageHash("AAEC"))},
			before: func(e *env) { e.mustRun("11.1", esme, map[string]any{"version": "2.0.1", "image": "AAEC"}) },
			check: func(t *testing.T, e *env, _ DeviceState, _ map[string]any) {
				if got := e.state(esme).Firmware.Version; got != "2.0.1" {
					t.Fatalf("running %s", got)
				}
			}},
		{note: "firmware by a hash not stored", svc: "11.3", body: map[string]any{"version": "", "sha256": strings.Repeat("AB", 32)}, refused: true},
		{note: "daily consumption of a period", svc: "4.17",
			before: func(e *env) { e.clk.Advance(5 * 24 * time.Hour) },
			body:   map[string]any{"days": int64(0), "from": start.Add(48 * time.Hour).Format(time.RFC3339), "to": start.Add(96 * time.Hour).Format(time.RFC3339)},
			check: func(t *testing.T, e *env, _ DeviceState, d map[string]any) {
				if n := len(d["entries"].([]any)); n != 2 {
					t.Fatalf("%d entries, want the 2 days of the period: %v", n, d)
				}
			}},
		{note: "alert settings by GBCS code", svc: "6.22", body: map[string]any{"alert_code": "", "action": "", "settings": []string{"ElectricitySupplierAlerts/SupplierESMECommon/x810D=Enable", "GasSupplierAlertEventSettings/x810E/WANAlert=Disable"}},
			check: func(t *testing.T, e *env, _ DeviceState, _ map[string]any) {
				b := e.state(esme).EventBehaviour
				if b["ElectricitySupplierAlerts/SupplierESMECommon/x810D"] != "Enable" || b["GasSupplierAlertEventSettings/x810E/WANAlert"] != "Disable" {
					t.Fatalf("behaviour %v", b)
				}
			}},
		{note: "an alert setting neither enabled nor disabled", svc: "6.22", body: map[string]any{"alert_code": "", "action": "", "settings": []string{"ElectricitySupplierAlerts/x810D=Maybe"}}, refused: true},
		{note: "ALCS data of every switch", svc: "7.7", body: map[string]any{"switch": int64(0)},
			check: func(t *testing.T, e *env, _ DeviceState, d map[string]any) {
				if n := len(d["switches"].([]any)); n != maxAux {
					t.Fatalf("%d switches", n)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			e := newEnv(t)
			if tc.before != nil {
				tc.before(e)
			}
			b := e.state(esme)
			r := e.run(tc.svc, esme, tc.body)
			if r.OK == tc.refused {
				t.Fatalf("%s: %+v", tc.svc, r)
			}
			if tc.check != nil {
				tc.check(t, e, b, r.Data)
			}
			e.rec.take("")
		})
	}
}
