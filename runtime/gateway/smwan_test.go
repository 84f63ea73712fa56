package gateway_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/config"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// faults counts the SMWAN faults the gateway reports and lets a test act on
// each (the other observations are ignored).
type faults struct {
	mu     sync.Mutex
	kinds  []string
	onEach func(kind string)
	took   []time.Duration // each completed request's response time
}

func (*faults) Decided(string, string, string, string) {}
func (f *faults) Completed(_, _, _, _ string, took, _ time.Duration) {
	f.mu.Lock()
	f.took = append(f.took, took)
	f.mu.Unlock()
}
func (*faults) AlertDelivered(string, time.Duration) {}
func (*faults) AlertQuarantined(string)              {}
func (f *faults) SMWANFault(kind string) {
	f.mu.Lock()
	f.kinds = append(f.kinds, kind)
	on := f.onEach
	f.mu.Unlock()
	if on != nil {
		on(kind)
	}
}

func (f *faults) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.kinds...)
}

// networkOperator is the meter's registered network operator.
const networkOperator = "00-00-00-00-00-00-0E-01"

// faultGateway is a gateway on a virtual clock that never moves, with a
// short Command timeout: a Command delayed on the SMWAN times out.
func faultGateway(t *testing.T, retries int) (*gateway.Gateway, *faults) {
	t.Helper()
	ctx := t.Context()
	sp := spec.MustDefault()
	eng, err := engine.New(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v := clock.NewVirtual(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	g, err := gateway.New(ctx, gateway.Config{Store: st, Engine: eng, Spec: sp, Clock: v, Virtual: v, Workers: 2,
		CommandTimeout: 40 * time.Millisecond, CommandRetries: retries})
	if err != nil {
		t.Fatal(err)
	}
	err = g.Reset(ctx, gateway.World{
		Users: []store.User{{ID: alpha, Role: "EIS", Party: alpha}, {ID: networkOperator, Role: "ENO", Party: networkOperator}},
		Registration: []store.Registration{{MPxN: "1900000000011", Fuel: "electricity", ImportSupplier: alpha,
			NetworkOperator: networkOperator, Postcode: "LS1 1AA", Premises: "7"}},
		Inventory: []store.Device{
			{ID: chf, Type: "CHF", Status: "commissioned"},
			{ID: esme, Type: "ESME", Status: "commissioned", MPxN: "1900000000011", CHF: chf},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &faults{}
	g.SetObserver(f)
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g, f
}

// TestSMWANFaultsEndInTimeoutsAndRetries: Commands the SMWAN loses, a hub
// that stops answering and one that is down are tried again, and the
// request ends with the device's answer or with SMWAN_UNAVAILABLE saying
// how many tries were made; none is left in progress.
func TestSMWANFaultsEndInTimeoutsAndRetries(t *testing.T) {
	tests := []struct {
		note    string
		retries int
		fault   func(g *gateway.Gateway, f *faults)
		state   string
		message string
		faults  []string
	}{
		{note: "lost every time", retries: 2,
			fault: func(g *gateway.Gateway, _ *faults) { g.SetSMWANFaults(0, 1) },
			state: gateway.StateRejected, message: "to 00-DB-00-00-00-00-E0-01 (3 tries)", faults: []string{"lost", "lost", "lost"}},
		{note: "hub stops answering: each try times out", retries: 2,
			fault: func(g *gateway.Gateway, _ *faults) { g.SetSMWANFaults(time.Hour, 0) }, // on a clock that does not move
			state: gateway.StateRejected, message: "no answer within 40ms (3 tries)", faults: []string{"timeout", "timeout", "timeout"}},
		{note: "hub down", retries: 1,
			fault: func(g *gateway.Gateway, _ *faults) { g.SMWAN().KillHub(chf) },
			state: gateway.StateRejected, message: "communications hub not answering", faults: []string{"hub_dead", "hub_dead"}},
		{note: "no retries configured", retries: 0,
			fault: func(g *gateway.Gateway, _ *faults) { g.SetSMWANFaults(0, 1) },
			state: gateway.StateRejected, message: "command lost on the SMWAN", faults: []string{"lost"}},
		{note: "hub comes back before the retry", retries: 2,
			fault: func(g *gateway.Gateway, f *faults) {
				g.SMWAN().KillHub(chf)
				f.onEach = func(string) { g.SMWAN().ReviveHub(chf) }
			},
			state: gateway.StateAccepted, faults: []string{"hub_dead"}},
		// The device ran it and its answer was lost: the gateway times out
		// and sends it again, and the device answers it again (its
		// Attempts stay 1: the devices' side is TestSMWANAnswerLost).
		{note: "answer lost, then carried", retries: 2,
			fault: func(g *gateway.Gateway, f *faults) {
				g.SetSMWANAnswerLoss(1)
				f.onEach = func(string) { g.SetSMWANAnswerLoss(0) }
			},
			state: gateway.StateAccepted, faults: []string{"timeout"}},
		{note: "lost, then carried", retries: 2,
			fault: func(g *gateway.Gateway, f *faults) {
				g.SetSMWANFaults(0, 1)
				f.onEach = func(string) { g.SetSMWANFaults(0, 0) }
			},
			state: gateway.StateAccepted, faults: []string{"lost"}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			ctx := t.Context()
			g, f := faultGateway(t, tc.retries)
			tc.fault(g, f)
			r, err := g.Submit(ctx, alpha, &engine.Request{UserID: alpha, DeviceID: esme, Service: "4.1", Body: map[string]any{"register": "total"}})
			if err != nil {
				t.Fatal(err)
			}
			if r.State != gateway.StateAcknowledged {
				t.Fatalf("submitted: %s %s %s", r.State, r.Reason, r.Message)
			}
			g.WaitIdle(ctx)
			got, err := g.Store().GetRequest(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tc.state || tc.state == gateway.StateRejected && (got.Reason != "SMWAN_UNAVAILABLE" || !strings.Contains(got.Message, tc.message)) {
				t.Fatalf("request ended %s %s %q, want %s %q", got.State, got.Reason, got.Message, tc.state, tc.message)
			}
			if got.Attempts != 1 {
				t.Errorf("%d executions, want 1 (retries are tries of the Command, not new executions)", got.Attempts)
			}
			if fs := f.seen(); strings.Join(fs, " ") != strings.Join(tc.faults, " ") {
				t.Errorf("SMWAN faults %v, want %v", fs, tc.faults)
			}
			if n := delivered(t, g, alpha, responseTo(r.ID)); n != 1 {
				t.Errorf("%d Service Responses, want 1", n)
			}
		})
	}
}

// TestSMWANBudgetWithinTargets: with `dccgate serve`'s defaults, a Command
// whose every try fails ends before the shortest on-demand Target Response
// Time of the spec, so even a request the SMWAN never carries is answered
// in time.
func TestSMWANBudgetWithinTargets(t *testing.T) {
	def := config.Default()
	budget := gateway.SMWANBudget(def.SMWAN.Timeout.Std(), def.SMWAN.Retries)
	var shortest time.Duration
	for _, svc := range spec.MustDefault().Services {
		if svc.OnDemand != nil && svc.DeviceService && (shortest == 0 || svc.OnDemand.Std() < shortest) {
			shortest = svc.OnDemand.Std()
		}
	}
	if shortest == 0 {
		t.Fatal("no on-demand device service in the spec")
	}
	if budget > shortest {
		t.Fatalf("worst case over the SMWAN %s (timeout %s, %d retries) is above the shortest on-demand target %s",
			budget, def.SMWAN.Timeout, def.SMWAN.Retries, shortest)
	}
}

// TestFutureDatedTriedAgainWithinTarget: a future dated request whose hub
// is down when it falls due is not failed at once: it has 24 hours from
// its execution time (Annex 5), so it is pending again and tried every
// RetryLater while that leaves room; a hub back within the time gets it,
// a hub never back fails it with SMWAN_UNAVAILABLE inside the target. One
// Service Response either way, and the response time measured from the
// execution time asked for, not from the last try.
func TestFutureDatedTriedAgainWithinTarget(t *testing.T) {
	for _, back := range []bool{true, false} {
		t.Run(fmt.Sprintf("hub back %v", back), func(t *testing.T) {
			ctx := t.Context()
			g, f := faultGateway(t, 0)
			start := g.Now()
			due := start.Add(time.Hour)
			r, err := g.Submit(ctx, alpha, &engine.Request{UserID: alpha, DeviceID: esme, Service: "4.4", Category: "future_dated", ExecuteAt: due, Body: map[string]any{"entry": 1}})
			if err != nil || r.State != gateway.StatePending {
				t.Fatalf("submitted: %+v, %v", r, err)
			}
			g.SMWAN().KillHub(chf)
			if _, err := g.Advance(ctx, time.Hour); err != nil {
				t.Fatal(err)
			}
			got, err := g.Store().GetRequest(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			retry := due.Add(gateway.DefaultRetryLater)
			if got.State != gateway.StatePending || !got.ExecuteAt.Equal(retry) || !strings.Contains(got.Message, "tried again at "+retry.Format(time.RFC3339)) {
				t.Fatalf("at its time with the hub down: %s %s %q (execute at %s), want pending, tried again at %s", got.State, got.Reason, got.Message, got.ExecuteAt, retry)
			}
			want, reason := gateway.StateAccepted, ""
			if back {
				g.SMWAN().ReviveHub(chf)
				if _, err := g.Advance(ctx, 2*time.Hour); err != nil {
					t.Fatal(err)
				}
			} else {
				want, reason = gateway.StateRejected, "SMWAN_UNAVAILABLE"
				if _, err := g.Advance(ctx, 25*time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			if got, err = g.Store().GetRequest(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
			if got.State != want || got.Reason != reason || got.CompletedAt.After(got.DueAt) {
				t.Fatalf("ended %s %s %q at %s, want %s %s by its target %s", got.State, got.Reason, got.Message, got.CompletedAt, want, reason, got.DueAt)
			}
			if back && (got.Message != "" || got.Attempts != 2) {
				t.Errorf("delivered on the retry: message %q, %d executions; want none, 2", got.Message, got.Attempts)
			}
			if !back && got.Attempts < 90 {
				t.Errorf("%d executions in 24 hours, want one every %s", got.Attempts, gateway.DefaultRetryLater)
			}
			if !back && !strings.Contains(got.Message, fmt.Sprintf("the last of %d rounds of tries", got.Attempts)) {
				t.Errorf("the final message %q does not say the rounds of tries", got.Message)
			}
			if n := delivered(t, g, alpha, responseTo(r.ID)); n != 1 {
				t.Errorf("%d Service Responses, want 1", n)
			}
			f.mu.Lock()
			took := f.took
			f.mu.Unlock()
			if len(took) != 1 || took[0] != got.CompletedAt.Sub(due) {
				t.Errorf("response times %v, want [%s] (from its execution time)", took, got.CompletedAt.Sub(due))
			}
		})
	}
}
