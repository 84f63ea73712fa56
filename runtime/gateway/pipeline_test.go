package gateway_test

import (
	"sync"
	"testing"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
)

// TestConcurrentSubmitsOfOneUser: a user's requests sent at once, the
// gateway numbering them, are each stored once with counters 1..n (the
// user's lock is released before each commit, the counters still taken in
// order); a replayed ID is refused.
func TestConcurrentSubmitsOfOneUser(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	const n = 120
	var wg sync.WaitGroup
	out := make([]store.Request, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = w.g.Submit(ctx, alpha, &engine.Request{UserID: alpha, DeviceID: esme, Service: "4.1", Body: map[string]any{"register": "total"}})
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, r := range out {
		if errs[i] != nil || r.Reason != "" || seen[r.ID] {
			t.Fatalf("request %d: %s %s %v (seen %v)", i, r.State, r.Reason, errs[i], seen[r.ID])
		}
		seen[r.ID] = true
	}
	w.g.WaitIdle(ctx)
	u, err := w.g.Store().GetUser(ctx, alpha)
	if err != nil || u.LastCounter != n {
		t.Fatalf("last counter %d %v, want %d", u.LastCounter, err, n)
	}
	for id := range seen {
		if r, err := w.g.Store().GetRequest(ctx, id); err != nil || r.State != gateway.StateAccepted {
			t.Fatalf("%s: %s %v", id, r.State, err)
		}
	}
	again := out[0].ID
	r, err := w.g.Submit(ctx, alpha, &engine.Request{RequestID: again, UserID: alpha, DeviceID: esme, Service: "4.1", Body: map[string]any{"register": "total"}})
	if err != nil || r.Reason != "REPLAY" {
		t.Fatalf("replayed %s: %s %s %v", again, r.State, r.Reason, err)
	}
}
