package gateway_test

import (
	"testing"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/gateway"
)

// TestLazyFleet: above the eager limit, no device is emulated until a
// Command reaches it; then its Communications Hub and the hub's devices
// are, with the credentials their Registration Data gives (a critical
// command signed by the registered supplier runs), and nothing else.
func TestLazyFleet(t *testing.T) {
	for _, tc := range []struct {
		name  string
		eager int
		lazy  bool
	}{
		{"eager (default limit)", 0, false},
		{"always lazy", -1, true},
		{"over the limit", 3, true},
		{"at the limit", 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorldEager(t, tc.eager)
			has := func(id string) bool { _, ok := w.g.Fleet().Get(id); return ok }
			if has(esme) == tc.lazy || has(esme2) == tc.lazy {
				t.Fatalf("before any request: emulated %v/%v, lazy %v", has(esme), has(esme2), tc.lazy)
			}
			expect(t, w.submit(alpha, alpha, engine.Request{Service: "4.1", Body: map[string]any{"register": "total"}}), gateway.StateAccepted, "", "")
			expect(t, w.submit(alpha, alpha, engine.Request{Service: "6.11"}), gateway.StateAccepted, "", "")
			expect(t, w.submit(beta, beta, engine.Request{Service: "6.11"}), gateway.StateRejected, "DEVICE_REJECTED", "")
			if !has(chf) || !has(esme) {
				t.Fatal("the hub and meter a Command reached are not emulated")
			}
			if has(chf2) == tc.lazy || has(esme2) == tc.lazy {
				t.Fatalf("the other premises: emulated %v/%v, lazy %v", has(chf2), has(esme2), tc.lazy)
			}
		})
	}
}

// TestLazyFleetParksPremises: with room for one premises in memory, the
// least recently used other is parked when a Command reaches a second, and
// comes back as it was (its credit, the UTRNs it has taken) at its next
// Command; a premises in use is not parked.
func TestLazyFleetParksPremises(t *testing.T) {
	w := newWorldConfig(t, func(c *gateway.Config) {
		c.EagerFleet, c.LiveHubs, c.ParkDir = -1, 1, t.TempDir()
	}, nil)
	ctx := t.Context()
	has := func(id string) bool { _, ok := w.g.Fleet().Get(id); return ok }
	topUp := engine.Request{Service: "2.2", Body: map[string]any{"utrn": "73100000000000000001", "amount_pence": 2000}}
	expect(t, w.submit(alpha, alpha, topUp), gateway.StateAccepted, "", "")
	st, _ := w.g.Fleet().Get(esme)
	credit := st.Meter.CreditPence

	if err := w.g.DeviceEvent(ctx, chf2, "smwan_up"); err != nil {
		t.Fatal(err)
	}
	if has(chf) || has(esme) || !has(chf2) || !has(esme2) {
		t.Fatalf("after the other premises was reached: emulated %v %v %v %v, want only the other",
			has(chf), has(esme), has(chf2), has(esme2))
	}
	expect(t, w.submit(alpha, alpha, engine.Request{Service: "4.1", Body: map[string]any{"register": "total"}}), gateway.StateAccepted, "", "")
	if st, ok := w.g.Fleet().Get(esme); !ok || st.Meter.CreditPence != credit {
		t.Fatalf("back from the lot: emulated %v, credit %v, want %v", ok, st.Meter.CreditPence, credit)
	}
	if has(chf2) || has(esme2) {
		t.Fatal("the other premises was not parked in turn")
	}
	expect(t, w.submit(alpha, alpha, topUp), gateway.StateRejected, "DEVICE_REJECTED", "")

	// In use: both stay, over the limit, until released.
	release1, err := w.g.Materialise(ctx, esme)
	if err != nil {
		t.Fatal(err)
	}
	release2, err := w.g.Materialise(ctx, esme2)
	if err != nil {
		t.Fatal(err)
	}
	if !has(esme) || !has(esme2) {
		t.Fatalf("premises in use parked: emulated %v %v", has(esme), has(esme2))
	}
	release2()
	release1()
	if has(esme2) == has(esme) {
		t.Fatalf("after release: emulated %v %v, want one", has(esme), has(esme2))
	}
}
