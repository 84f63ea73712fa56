package gateway_test

import (
	"reflect"
	"testing"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/precommand"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
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
			has := w.emulated
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
	w := newOnePremisesWorld(t)
	ctx := t.Context()
	has := w.emulated
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

// TestPremisesRegistration: the Registration Data a premises brought in
// at once gives each device is what registrationFor gives it alone (its
// own MPxN, its meter's, or its hub's meters', a GPF its gas meter's).
func TestPremisesRegistration(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	const (
		hub, em, gm, gpf, ihd, lone = "00-DB-00-00-00-00-C0-09", "00-DB-00-00-00-00-E0-09", "00-DB-00-00-00-00-60-09",
			"00-DB-00-00-00-00-F0-09", "00-DB-00-00-00-00-1D-09", "00-DB-00-00-00-00-1D-0A"
	)
	inv := []store.Device{
		{ID: hub, Type: "CHF", Status: "commissioned"},
		{ID: em, Type: "ESME", Status: "commissioned", MPxN: "1900000000099", CHF: hub},
		{ID: gm, Type: "GSME", Status: "commissioned", MPxN: "9999", CHF: hub},
		{ID: gpf, Type: "GPF", Status: "commissioned", CHF: hub},
		{ID: ihd, Type: "IHD", Status: "commissioned", CHF: hub, Meter: em},
		{ID: lone, Type: "IHD", Status: "pending", CHF: hub, Meter: "00-DB-00-00-00-00-E0-01"}, // a meter on another hub
	}
	for _, d := range inv {
		if err := w.g.Store().PutDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []store.Registration{
		{MPxN: "1900000000099", Fuel: "electricity", ImportSupplier: alpha, NetworkOperator: "00-00-00-00-00-00-0E-01"},
		{MPxN: "9999", Fuel: "gas", ImportSupplier: beta, NetworkOperator: "00-00-00-00-00-00-0E-02"},
	} {
		if err := w.g.Store().PutRegistration(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got := w.g.PremisesRegistration(ctx, inv, inv)
	for i, d := range inv {
		want, err := w.g.RegistrationFor(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 && d.Type != "IHD" {
			t.Fatalf("%s %s has no Registration Data: the test sees nothing", d.Type, d.ID)
		}
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("%s %s: at once %v, alone %v", d.Type, d.ID, got[i], want)
		}
	}
}

// TestLazyFleetRestoresFromAParkedHub: an 8.12 to a hub restores the Device
// Log of another, parked, hub (both are emulated for the Command); the
// devices it moves then go with their new hub, in and out of the lot.
func TestLazyFleetRestoresFromAParkedHub(t *testing.T) {
	w := newOnePremisesWorld(t)
	ctx := t.Context()
	has := w.emulated
	read := engine.Request{Service: "4.1", Body: map[string]any{"register": "total"}}
	expect(t, w.submit(alpha, alpha, read), gateway.StateAccepted, "", "")
	if err := w.g.DeviceEvent(ctx, chf2, "smwan_up"); err != nil { // parks the first premises
		t.Fatal(err)
	}
	if has(chf) {
		t.Fatal("the first hub was not parked")
	}
	req := engine.Request{UserID: alpha, DeviceID: chf2, Service: "8.12", Body: map[string]any{"from_chf": chf}}
	r, err := w.g.Submit(ctx, alpha, &req)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := precommand.Sign(r.PreCommand, w.keys[alpha])
	if err != nil {
		t.Fatal(err)
	}
	pc, sig, err := precommand.SplitSigned(signed)
	if err != nil {
		t.Fatal(err)
	}
	if r, err = w.g.SubmitSigned(ctx, alpha, r.ID, pc, sig); err != nil {
		t.Fatal(err)
	}
	w.g.WaitIdle(ctx)
	expect(t, w.get(r.ID), gateway.StateAccepted, "", "")
	moved, err := w.g.Store().GetDevice(ctx, esme)
	if err != nil || moved.CHF != chf2 {
		t.Fatalf("the meter is on %q after the restore (%v), want the new hub", moved.CHF, err)
	}
	// The old hub's premises comes in and goes out again: the meter stays
	// with its new hub.
	if err := w.g.DeviceEvent(ctx, chf, "smwan_up"); err != nil {
		t.Fatal(err)
	}
	expect(t, w.submit(alpha, alpha, read), gateway.StateAccepted, "", "")
	if !has(esme) || !has(chf2) || has(chf) {
		t.Fatalf("after a read of the moved meter: emulated meter %v, new hub %v, old hub %v", has(esme), has(chf2), has(chf))
	}
}

// newOnePremisesWorld is a lazy world with room for one premises in memory:
// every other is parked.
func newOnePremisesWorld(t *testing.T) *world {
	t.Helper()
	return newWorldConfig(t, func(c *gateway.Config) {
		c.EagerFleet, c.LiveHubs, c.ParkDir = -1, 1, t.TempDir()
	}, nil)
}

// emulated says whether device id is in the emulated fleet now.
func (w *world) emulated(id string) bool {
	_, ok := w.g.Fleet().Get(id)
	return ok
}
