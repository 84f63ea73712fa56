package traffic_test

import (
	"testing"
	"testing/fstest"
	"time"

	"github.com/dccgate/dccgate/reports/traffic"
	"github.com/dccgate/dccgate/spec"
)

func TestDecide(t *testing.T) {
	ctx := t.Context()
	sp := spec.MustDefault()
	deferAt, refuseAt := sp.Traffic.DeferAtInFlight, sp.Traffic.RefuseAtInFlight
	off, err := traffic.New(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	on, err := traffic.New(ctx, sp, traffic.Enabled(true))
	if err != nil {
		t.Fatal(err)
	}
	if off.On() || !on.On() {
		t.Fatal("off by default, on when enabled")
	}
	tests := []struct {
		note     string
		m        *traffic.Manager
		req      traffic.Request
		load     int
		action   string
		reason   string
		deferFor time.Duration
	}{
		{"off by default: allowed at any load", off, traffic.Request{Service: "4.1"}, refuseAt * 10, traffic.Allow, "", 0},
		{"below the load", on, traffic.Request{Service: "4.1"}, deferAt - 1, traffic.Allow, "", 0},
		{"at the defer load", on, traffic.Request{Service: "4.1"}, deferAt, traffic.Defer, "TRAFFIC_DEFERRED", sp.Traffic.DeferFor.Std()},
		{"between", on, traffic.Request{Service: "4.8", Category: "on_demand"}, refuseAt - 1, traffic.Defer, "TRAFFIC_DEFERRED", sp.Traffic.DeferFor.Std()},
		{"at the refuse load", on, traffic.Request{Service: "4.1"}, refuseAt, traffic.Refuse, "TRAFFIC_REFUSED", 0},
		{"critical: never managed", on, traffic.Request{Service: "6.11"}, refuseAt, traffic.Allow, "", 0},
		{"future dated: not managed", on, traffic.Request{Service: "3.1", Category: "future_dated"}, refuseAt, traffic.Allow, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			d, err := tc.m.Decide(t.Context(), tc.req, traffic.Load{InFlight: tc.load})
			if err != nil {
				t.Fatal(err)
			}
			if d.Action != tc.action || d.Reason != tc.reason || d.DeferFor != tc.deferFor {
				t.Fatalf("%+v", d)
			}
			if d.Action != traffic.Allow && (d.Clause != "para 273" || sp.Reason("TRAFFIC_REFUSED") == nil || d.Detail == "") {
				t.Fatalf("%+v", d)
			}
		})
	}
}

func TestEditedPolicy(t *testing.T) {
	ctx := t.Context()
	sp := spec.MustDefault()
	fsys := fstest.MapFS{"traffic.rego": {Data: []byte("package dccgate.traffic\n\nquiet_below := 0\n\ndecision := {\"action\": \"refuse\", \"reason\": \"TRAFFIC_REFUSED\", \"clause\": \"para 273\", \"detail\": \"always\", \"defer_for\": \"\"}\n")}}
	m, err := traffic.New(ctx, sp, traffic.Enabled(true), traffic.WithPolicyFile(fsys, "traffic.rego"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.Decide(ctx, traffic.Request{Service: "4.1"}, traffic.Load{})
	if err != nil || d.Action != traffic.Refuse {
		t.Fatalf("%+v %v", d, err)
	}
	bad := fstest.MapFS{"traffic.rego": {Data: []byte("package dccgate.traffic\n\ndecision := {\n")}}
	if _, err := traffic.New(ctx, sp, traffic.WithPolicyFile(bad, "traffic.rego")); err == nil {
		t.Fatal("a broken policy compiled")
	}
}

func BenchmarkDecideQuiet(b *testing.B) {
	m, err := traffic.New(b.Context(), spec.MustDefault(), traffic.Enabled(true))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_, _ = m.Decide(b.Context(), traffic.Request{Service: "4.1"}, traffic.Load{InFlight: 10})
	}
}
