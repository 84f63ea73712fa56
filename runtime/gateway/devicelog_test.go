package gateway_test

import (
	"testing"
	"time"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
)

// TestDeviceLogRemoval: a commissioned meter removed from its hub's Device
// Log (8.11) keeps its status, Commissioned, but is on no HAN: its system
// is not Enrolled (para 168, 173), a Command to it over the SMWAN is refused
// DEVICE_STATUS at once, and a future dated one checked before the removal
// is refused DEVICE_STATUS when it falls due, not sent to fail on the SMWAN
// (SMWAN_UNAVAILABLE). Added to the log again, it is Enrolled and reached.
// A device not on the inventory is not added (DEVICE_UNKNOWN, para 182,
// 187) and the Device Log the DCC keeps does not list it (para 188-189).
func TestDeviceLogRemoval(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	toHub := func(body map[string]any) store.Request {
		t.Helper()
		r, err := w.g.Submit(ctx, alpha, &engine.Request{Service: "8.11", UserID: alpha, DeviceID: chf, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		w.g.WaitIdle(ctx)
		return w.get(r.ID)
	}
	meter := func() store.Device {
		t.Helper()
		d, err := w.g.Store().GetDevice(ctx, esme)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	enrolled := func(want bool) {
		t.Helper()
		if got, err := w.g.Enrolled(ctx, "1900000000011"); err != nil || got != want {
			t.Fatalf("enrolled = %v, %v; want %v", got, err, want)
		}
	}

	unknown := "00-DB-00-00-00-00-E0-99"
	expect(t, toHub(map[string]any{"add": []any{unknown}}), gateway.StateRejected, "DEVICE_UNKNOWN", unknown)
	log, err := w.g.DeviceLog(ctx, chf)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range log {
		if e["device_id"] == unknown {
			t.Fatalf("the Device Log lists %s, which is not on the inventory", unknown)
		}
	}

	later := w.submit(alpha, alpha, engine.Request{Service: "4.4", Category: "future_dated", ExecuteAt: w.g.Now().Add(3 * time.Hour), Body: map[string]any{"entry": int64(1)}})
	expect(t, later, gateway.StatePending, "", "")
	expect(t, toHub(map[string]any{"remove": []any{esme}}), gateway.StateAccepted, "", "")
	if d := meter(); d.Status != "commissioned" || d.CHF != "" {
		t.Fatalf("removed from the log: status %s, hub %q; want commissioned on no hub", d.Status, d.CHF)
	}
	enrolled(false)
	expect(t, w.submit(alpha, alpha, engine.Request{Service: "4.1", Body: map[string]any{"register": "total"}}), gateway.StateRejected, "DEVICE_STATUS", "no Communications Hub Function's Device Log")
	if _, err := w.g.Advance(ctx, 4*time.Hour); err != nil {
		t.Fatal(err)
	}
	expect(t, w.get(later.ID), gateway.StateRejected, "DEVICE_STATUS", "when the request fell due")

	expect(t, toHub(map[string]any{"add": []any{esme}}), gateway.StateAccepted, "", "")
	if d := meter(); d.Status != "commissioned" || d.CHF != chf {
		t.Fatalf("added again: status %s, hub %q; want commissioned on %s", d.Status, d.CHF, chf)
	}
	enrolled(true)
	expect(t, w.submit(alpha, alpha, engine.Request{Service: "4.1", Body: map[string]any{"register": "total"}}), gateway.StateAccepted, "", "")
}
