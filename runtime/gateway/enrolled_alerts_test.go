package gateway_test

import (
	"testing"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
)

// TestAlertsOnlyFromEnrolledSystems: the DCC receives Device Alerts only
// from enrolled Smart Metering Systems (para 138). A meter exchanged on an
// enrolled MPxN is part of it only once commissioned, and the old one no
// longer (para 175-177): their alerts are not delivered, though the MPxN
// is Enrolled through the other. A Command refused by a meter whose system
// is not Enrolled (a gas meter without its Gas Proxy) raises an alert to
// no one, not even to the credential holder (para 140-141).
func TestAlertsOnlyFromEnrolledSystems(t *testing.T) {
	w := newWorldConfig(t, func(*gateway.Config) {}, nil)
	ctx := t.Context()
	const (
		newMeter = "00-DB-00-00-00-00-E0-03"
		oldMeter = "00-DB-00-00-00-00-E0-04"
		gpf      = "00-DB-00-00-00-00-6F-01"
		gsme     = "00-DB-00-00-00-00-6A-01"
		mprn     = "7000000011"
	)
	var users []store.User
	for _, id := range []string{alpha, beta} {
		u, err := w.g.Store().GetUser(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	gas := users[1]
	gas.ID, gas.Role, gas.Party = "00-00-00-00-00-00-0B-02", "GIS", "Beta Gas"
	holder := users[0]
	holder.ID, holder.Role, holder.Party = "00-00-00-00-00-00-0A-02", "GIS", "Alpha Gas"
	w.keys[gas.ID], w.keys[holder.ID] = w.keys[beta], w.keys[alpha]
	err := w.g.Reset(ctx, gateway.World{
		Users: append(users, gas, holder),
		Registration: []store.Registration{
			{MPxN: "1900000000011", Fuel: "electricity", ImportSupplier: alpha, NetworkOperator: "00-00-00-00-00-00-0E-01", Postcode: "LS1 1AA", Premises: "7"},
			{MPxN: mprn, Fuel: "gas", ImportSupplier: holder.ID, NetworkOperator: "00-00-00-00-00-00-06-01", Postcode: "LS1 1AA", Premises: "7"},
		},
		Inventory: []store.Device{
			{ID: chf, Type: "CHF", Status: "commissioned"},
			{ID: esme, Type: "ESME", Status: "commissioned", MPxN: "1900000000011", CHF: chf},
			{ID: newMeter, Type: "ESME", Status: "installed_not_commissioned", MPxN: "1900000000011", CHF: chf},
			{ID: oldMeter, Type: "ESME", Status: "decommissioned", MPxN: "1900000000011", CHF: chf},
			{ID: gsme, Type: "GSME", Status: "commissioned", MPxN: mprn, CHF: chf},
			{ID: gpf, Type: "GPF", Status: "installed_not_commissioned", CHF: chf},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := w.g.Enrolled(ctx, "1900000000011"); err != nil || !ok {
		t.Fatalf("the MPAN is not Enrolled (%v)", err)
	}
	for _, tc := range []struct {
		device string
		want   bool
	}{
		{esme, true},      // the commissioned meter of the Enrolled system
		{newMeter, false}, // installed, not commissioned: not yet part of it
		{oldMeter, false}, // decommissioned: part of no system
	} {
		if err := w.g.DeviceEvent(ctx, tc.device, "tamper"); err != nil {
			t.Fatal(err)
		}
		w.g.WaitIdle(ctx)
		if got := delivered(t, w.g, alpha, alertOf(tc.device)) > 0; got != tc.want {
			t.Errorf("tamper of %s: an alert delivered %v, want %v", tc.device, got, tc.want)
		}
	}

	// The gas system is not Enrolled: its meter refuses a Command signed
	// by a supplier whose credential it does not hold, and the refusal's
	// alert goes to no one.
	r := w.submitTo(gas.ID, gas.ID, gsme, engine.Request{Service: "1.6", Body: map[string]any{"mode": "prepayment"}})
	expect(t, r, gateway.StateRejected, "DEVICE_REJECTED", "")
	for _, u := range []string{holder.ID, gas.ID} {
		if n := delivered(t, w.g, u, alertOf(gsme)); n != 0 {
			t.Errorf("%d alerts of the gas meter, of a system not Enrolled, delivered to %s", n, u)
		}
	}
}
