package gateway_test

import (
	"testing"
	"time"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
)

// TestSchedulesDueTogetherEachRun: schedules of one device due at the same
// instant (two users' daily reads, created at the same moment) each run at
// each due time, once; none is taken for another's run.
func TestSchedulesDueTogetherEachRun(t *testing.T) {
	ctx := t.Context()
	g, _ := faultGateway(t, 0)
	for _, user := range []string{alpha, networkOperator, alpha} {
		r, err := g.Submit(ctx, user, &engine.Request{UserID: user, DeviceID: esme, Service: "5.1",
			Schedule: &engine.Schedule{Service: "4.8", Every: 24 * time.Hour}})
		if err != nil {
			t.Fatal(err)
		}
		if r.State != gateway.StateAcknowledged {
			t.Fatalf("5.1 from %s: %s %s %s", user, r.State, r.Reason, r.Message)
		}
	}
	g.WaitIdle(ctx)
	scheds, err := g.Store().ListSchedules(ctx, store.ScheduleFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(scheds) != 3 || !scheds[0].Next.Equal(scheds[2].Next) {
		t.Fatalf("schedules %+v: want three due at the same instant", scheds)
	}
	if _, err := g.Advance(ctx, 3*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	runs, err := g.Store().ListRequests(ctx, store.RequestFilter{States: []string{gateway.StateAccepted, gateway.StateRejected}})
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]map[time.Time]int{}
	for _, r := range runs {
		if r.ScheduleID == "" {
			continue
		}
		if per[r.ScheduleID] == nil {
			per[r.ScheduleID] = map[time.Time]int{}
		}
		per[r.ScheduleID][r.ExecuteAt]++
	}
	for _, s := range scheds {
		for at := s.Next; at.Before(g.Now()) || at.Equal(g.Now()); at = at.Add(s.Every) {
			if n := per[s.ID][at]; n != 1 {
				t.Errorf("schedule %s ran %d times at %s, want once", s.ID, n, at)
			}
		}
		if len(per[s.ID]) != 3 {
			t.Errorf("schedule %s ran at %d due times in three days, want 3", s.ID, len(per[s.ID]))
		}
	}
}
