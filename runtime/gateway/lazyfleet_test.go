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
