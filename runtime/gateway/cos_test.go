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

// TestCredentialHolderRecorded: whose supplier credential a device holds is
// recorded in the inventory when the world is loaded and when a Change of
// Supplier runs (para 140-146), so that a restart, which emulates the
// device again from the inventory, does not give it to whoever the
// Registration Data names by then: a gaining supplier that sent no 6.23
// was trusted after a restart, and refused before it.
func TestCredentialHolderRecorded(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	holder := func() string {
		t.Helper()
		d, err := w.g.Store().GetDevice(ctx, esme)
		if err != nil {
			t.Fatal(err)
		}
		return d.Credentials
	}
	if got := holder(); got != alpha {
		t.Fatalf("loaded: the meter's credential recorded as %q, want the supplier registered then, %s", got, alpha)
	}
	// The registration moves to beta: the meter still holds alpha's.
	if err := w.g.Store().PutRegistration(ctx, store.Registration{MPxN: "1900000000011", Fuel: "electricity", ImportSupplier: beta,
		NetworkOperator: "00-00-00-00-00-00-0E-01", Postcode: "LS1 1AA", Premises: "7"}); err != nil {
		t.Fatal(err)
	}
	if got := holder(); got != alpha {
		t.Fatalf("after the registration moved: %q, want %s still", got, alpha)
	}
	expect(t, w.submit(beta, beta, engine.Request{Service: "6.23", Body: map[string]any{"certificate": "MIIB"}}), gateway.StateAccepted, "", "")
	if got := holder(); got != beta {
		t.Fatalf("after the Change of Supplier: %q, want %s", got, beta)
	}
}
