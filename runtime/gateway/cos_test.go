package gateway_test

import (
	"testing"
	"time"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
)

// TestCoSReconfirmedWhenItRuns: the CoS Party reconfirms a future dated
// Change of Supplier when it falls due (para 144-145): one whose ground has
// gone meanwhile (the gaining supplier's registration reversed before the
// date) is refused NOT_REGISTERED, and the meter keeps trusting the
// registered supplier. One still valid runs.
func TestCoSReconfirmedWhenItRuns(t *testing.T) {
	tests := []struct {
		note     string
		reversed bool
		state    string
		reason   string
	}{
		{"registration kept", false, gateway.StateAccepted, ""},
		{"registration reversed before the date", true, gateway.StateRejected, "NOT_REGISTERED"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			w := newWorld(t)
			ctx := t.Context()
			now := w.g.Now()
			reg := func(supplier string, from time.Time) {
				t.Helper()
				if err := w.g.Store().PutRegistration(ctx, store.Registration{MPxN: "1900000000011", Fuel: "electricity", ImportSupplier: supplier,
					NetworkOperator: "00-00-00-00-00-00-0E-01", Postcode: "LS1 1AA", Premises: "7", EffectiveFrom: from}); err != nil {
					t.Fatal(err)
				}
			}
			reg(beta, now.Add(24*time.Hour))
			cos := w.submit(beta, beta, engine.Request{Service: "6.23", Category: "future_dated", ExecuteAt: now.Add(25 * time.Hour), Body: map[string]any{"certificate": "MIIB"}})
			if cos.State != gateway.StatePending {
				t.Fatalf("6.23: %s %s %s", cos.State, cos.Reason, cos.Message)
			}
			if tc.reversed {
				reg(alpha, now.Add(24*time.Hour+30*time.Minute))
			}
			if _, err := w.g.Advance(ctx, 26*time.Hour); err != nil {
				t.Fatal(err)
			}
			got := w.get(cos.ID)
			if got.State != tc.state || got.Reason != tc.reason {
				t.Fatalf("6.23 when due: %s %s %q, want %s %s", got.State, got.Reason, got.Message, tc.state, tc.reason)
			}
			// The registered supplier's critical command is still trusted
			// where the CoS did not run.
			if tc.reversed {
				expect(t, w.submit(alpha, alpha, engine.Request{Service: "7.1"}), gateway.StateAccepted, "", "")
			}
		})
	}
}
