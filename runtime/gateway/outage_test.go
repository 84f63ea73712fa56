package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// outageStore fails the first `fails` ends of requests (updates carrying a
// Service Response) with err, as a store whose connections are being cut.
type outageStore struct {
	store.Store
	fails atomic.Int32
	err   error
}

func (s *outageStore) UpdateRequests(ctx context.Context, ups []store.RequestUpdate) ([][]int64, error) {
	if len(ups) > 0 && len(ups[0].Deliveries) > 0 && s.fails.Add(-1) >= 0 {
		return nil, &store.UpdateError{Index: 0, Err: s.err}
	}
	return s.Store.UpdateRequests(ctx, ups)
}

// instant is a wall clock whose waits are over at once: the gateway's
// pauses between tries cost the test nothing.
type instant struct{ clock.Real }

func (instant) After(time.Duration) <-chan time.Time {
	c := make(chan time.Time, 1)
	c <- time.Time{}
	return c
}

// TestEndStoredThroughAStoreOutage: a request whose end the store fails to
// store for a while (connections cut: a transient error) ends once the
// store is back, with one Service Response, rather than staying executing
// under its worker's claim; an error that is the work's own is not tried
// again.
func TestEndStoredThroughAStoreOutage(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		state string
	}{
		{"connection lost", fmt.Errorf("FATAL: terminating connection: %w", io.ErrUnexpectedEOF), gateway.StateAccepted},
		// Not stored, nor tried again (a restart resumes it).
		{"not transient", errors.New("value out of range"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var os *outageStore
			w := newWorldConfig(t, func(c *gateway.Config) { c.Wall = instant{} }, func(s store.Store) store.Store {
				os = &outageStore{Store: s, err: tc.err}
				os.fails.Store(5)
				return os
			})
			r := w.submit(alpha, alpha, engine.Request{Service: "4.1", Body: map[string]any{"register": "total"}})
			got := w.get(r.ID)
			if tc.state == "" {
				if got.Final() || os.fails.Load() != 4 {
					t.Fatalf("state %s, %d failures left, want the end tried once and not stored", got.State, os.fails.Load())
				}
				return
			}
			if got.State != tc.state {
				t.Fatalf("state %s (%s), want %s", got.State, got.Message, tc.state)
			}
			if left := os.fails.Load(); left >= 0 {
				t.Fatalf("%d failures left: the end was not tried through the outage", left)
			}
			if n := delivered(t, w.g, alpha, responseTo(r.ID)); n != 1 {
				t.Fatalf("%d Service Responses, want 1", n)
			}
		})
	}
}

// appendOutage fails the first `fails` appends of deliveries with err.
type appendOutage struct {
	store.Store
	fails atomic.Int32
	err   error
}

func (s *appendOutage) AppendDeliveries(ctx context.Context, ds []store.Delivery) ([]int64, error) {
	if s.fails.Add(-1) >= 0 {
		return nil, s.err
	}
	return s.Store.AppendDeliveries(ctx, ds)
}

// TestAlertDeliveredThroughAStoreOutage: a device alert whose append the
// store fails for a while (transiently) is delivered once it is back,
// not dropped.
func TestAlertDeliveredThroughAStoreOutage(t *testing.T) {
	var as *appendOutage
	w := newWorldConfig(t, func(c *gateway.Config) { c.Wall = instant{} }, func(s store.Store) store.Store {
		as = &appendOutage{Store: s, err: fmt.Errorf("appending: %w", io.ErrUnexpectedEOF)}
		return as
	})
	ctx := t.Context()
	as.fails.Store(3)
	if err := w.g.DeviceEvent(ctx, esme, "tamper"); err != nil {
		t.Fatal(err)
	}
	w.g.WaitIdle(ctx)
	if alerts := delivered(t, w.g, alpha, alertOf(esme)); alerts == 0 || as.fails.Load() >= 0 {
		t.Fatalf("%d alerts delivered, %d failures left", alerts, as.fails.Load())
	}
}

// TestDefaultLease: the work of a process that died is taken over (a lease
// after its last renewal, at another's next round, a third of a lease
// later) with room left in the shortest on-demand target to run it again.
func TestDefaultLease(t *testing.T) {
	sp := spec.MustDefault()
	lease := gateway.DefaultLease(sp)
	shortest := time.Duration(0)
	for _, s := range sp.Services {
		if s.OnDemand != nil && s.OnDemand.Std() > 0 && (shortest == 0 || s.OnDemand.Std() < shortest) {
			shortest = s.OnDemand.Std()
		}
	}
	if lease <= 0 || lease+lease/3 > shortest*2/3 {
		t.Fatalf("lease %s: a takeover (up to %s) leaves less than a third of the %s target", lease, lease+lease/3, shortest)
	}
}
