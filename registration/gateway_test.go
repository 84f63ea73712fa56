package registration_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/registration"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/sqlite"
	"github.com/dccgate/dccgate/spec"
	"github.com/dccgate/dccgate/spec/dcc"
)

// TestGatewayAsksRegisteredOnTheDate loads a change of registered supplier
// with a future effective date through an RDP file and asks the gateway's
// registration check (para 134) before and after that date: the request
// executed before it is the old supplier's to send, the one executed after
// it the new supplier's.
func TestGatewayAsksRegisteredOnTheDate(t *testing.T) {
	ctx := t.Context()
	sp := spec.MustDefault()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	must(t, err)
	t.Cleanup(func() { st.Close() })
	clk := clock.NewVirtual(start)
	eng, err := engine.New(ctx, sp)
	must(t, err)
	g, err := gateway.New(ctx, gateway.Config{Store: st, Engine: eng, Spec: sp, Clock: clk, Virtual: clk})
	must(t, err)
	must(t, g.Start(ctx))
	t.Cleanup(g.Close)
	const chf, esme = "00-DB-00-00-00-00-C0-01", "00-DB-00-00-00-00-E0-01"
	must(t, g.Load(ctx, gateway.World{
		Users: []store.User{{ID: supA, Role: "EIS"}, {ID: supB, Role: "EIS"}, {ID: eno, Role: "ENO"}},
		Inventory: []store.Device{
			{ID: chf, Type: "CHF", Status: "commissioned"},
			{ID: esme, Type: "ESME", Status: "commissioned", MPxN: mpan1, CHF: chf},
		},
	}))

	svc, err := registration.New(st, sp, clk)
	must(t, err)
	_, err = svc.AddRDP(ctx, rdpA, "RDP A", "")
	must(t, err)
	_, err = svc.Nominate(ctx, eno, rdpA)
	must(t, err)
	w := &world{svc: svc, st: st, rep: svc.Reporting(), clk: clk, seq: map[string]int64{}}
	for _, r := range [][]map[string]string{
		{row(mpan1, "2026-01-01", eno, supA)},
		// Sent on 2 March: supB is the registered supplier from 1 April.
		{row(mpan1, "2026-04-01", eno, supB)},
	} {
		res, err := svc.Load(ctx, rdpA, "f.csv", w.file(t, "csv", rdpA, registration.KindIncremental, "electricity", r...))
		must(t, err)
		if !res.Applied() {
			t.Fatal(res.Summary())
		}
	}

	body := map[string]any{}
	for _, f := range sp.Service("3.1", "").Fields {
		body[f.Name] = f.Example
	}
	april := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		note      string
		user      string
		executeAt time.Time // zero: on demand, now
		reason    string    // "" accepted
	}{
		{"on demand now: the old supplier", supA, time.Time{}, ""},
		{"on demand now: not yet the new supplier", supB, time.Time{}, string(dcc.ReasonNotRegistered)},
		{"executed the day before: the old supplier", supA, april.Add(-24 * time.Hour), ""},
		{"executed the day before: not yet the new one", supB, april.Add(-24 * time.Hour), string(dcc.ReasonNotRegistered)},
		{"executed on the date: the new supplier", supB, april.Add(9 * time.Hour), ""},
		{"executed on the date: no longer the old one", supA, april.Add(9 * time.Hour), string(dcc.ReasonNotRegistered)},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			req := &engine.Request{Service: "3.1", UserID: tc.user, DeviceID: esme, Body: body}
			if !tc.executeAt.IsZero() {
				req.Category, req.ExecuteAt = "future_dated", tc.executeAt
			}
			got, err := g.Submit(ctx, tc.user, req)
			must(t, err)
			if got.Reason != tc.reason {
				t.Fatalf("state %s reason %q (%s), want reason %q", got.State, got.Reason, got.Message, tc.reason)
			}
		})
	}
}
