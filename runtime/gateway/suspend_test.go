package gateway_test

import (
	"testing"
	"time"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/precommand"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/spec/dcc"
)

// TestSuspendedUserIsRefusedLater: a user whose rights are suspended
// (Section M8) after it sent its requests gets none of them run (para 134:
// Service Requests and signed Pre-Commands are checked for a user "not
// suspended"): its signed Pre-Command is refused, and its future dated
// requests, signed or not, and those held behind them are refused when they
// fall due or are released, the held ones behind a refused one cancelled.
func TestSuspendedUserIsRefusedLater(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	g := w.g
	submit := func(user string, req engine.Request) string {
		t.Helper()
		req.UserID = user
		if req.DeviceID == "" {
			req.DeviceID = esme
		}
		r, err := g.Submit(ctx, user, &req)
		if err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	sign := func(user, id string) {
		t.Helper()
		signed, err := precommand.Sign(w.get(id).PreCommand, w.keys[user])
		if err != nil {
			t.Fatal(err)
		}
		pc, sig, err := precommand.SplitSigned(signed)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.SubmitSigned(ctx, user, id, pc, sig); err != nil {
			t.Fatal(err)
		}
	}
	later := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC) // the world starts at 09:00
	unsigned := submit(alpha, engine.Request{Service: "7.1"})
	signedFuture := submit(alpha, engine.Request{Service: "7.1", Category: "future_dated", ExecuteAt: later})
	sign(alpha, signedFuture)
	future := submit(alpha, engine.Request{Service: "3.1", Category: "future_dated", ExecuteAt: later, Body: map[string]any{"message": "hello"}})
	held := submit(alpha, engine.Request{Service: "4.1", After: future, Body: map[string]any{"register": "total"}})
	g.WaitIdle(ctx)
	for id, state := range map[string]string{unsigned: gateway.StateAwaitingSignature, signedFuture: gateway.StatePending,
		future: gateway.StatePending, held: gateway.StateHeld} {
		expect(t, w.get(id), state, "", "")
	}
	if err := g.SuspendUser(ctx, alpha); err != nil {
		t.Fatal(err)
	}
	sign(alpha, unsigned)
	g.WaitIdle(ctx)
	expect(t, w.get(unsigned), gateway.StateRejected, string(dcc.ReasonUserSuspended), "suspended")
	if _, err := g.Advance(ctx, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	g.WaitIdle(ctx)
	expect(t, w.get(signedFuture), gateway.StateRejected, string(dcc.ReasonUserSuspended), "suspended")
	expect(t, w.get(future), gateway.StateRejected, string(dcc.ReasonUserSuspended), "suspended")
	expect(t, w.get(held), gateway.StateCancelled, string(dcc.ReasonPredecessorFailed), "")
}
