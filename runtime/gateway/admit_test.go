package gateway_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/reports/traffic"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
)

// full is a gateway, not started, that holds at most two requests and
// holds two (acknowledged, queued), and lets a Submit wait a second of
// wall (the returned clock) for room.
func full(t *testing.T) (*gateway.Gateway, *clock.Virtual) {
	t.Helper()
	w := newWorld(t)
	w.g.Close()
	wall := clock.NewVirtual(time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC))
	g := successorWith(t, w, func(c *gateway.Config) {
		c.MaxInFlight, c.AdmissionWait, c.Wall = 2, time.Second, wall
	})
	for range 2 {
		if s := recv(t, submitLater(t.Context(), g)); s.err != nil || s.r.State != gateway.StateAcknowledged {
			t.Fatalf("to the limit: %s %s %v", s.r.State, s.r.Reason, s.err)
		}
	}
	return g, wall
}

type submitted struct {
	r   store.Request
	err error
}

// submitLater submits a read as alpha on a goroutine of its own.
func submitLater(ctx context.Context, g *gateway.Gateway) <-chan submitted {
	return submitThis(ctx, g, &engine.Request{UserID: alpha, DeviceID: esme, Service: "4.1", Body: map[string]any{"register": "total"}})
}

func submitThis(ctx context.Context, g *gateway.Gateway, req *engine.Request) <-chan submitted {
	out := make(chan submitted, 1)
	go func() {
		r, err := g.Submit(ctx, alpha, req)
		out <- submitted{r, err}
	}()
	return out
}

// recv is ch's answer; a Submit that never answers fails the test (a
// guard, far above any wait here).
func recv(t *testing.T, ch <-chan submitted) submitted {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(30 * time.Second):
		t.Fatal("a Submit did not answer")
		return submitted{}
	}
}

// refusedAfter checks that ch's Submit was refused busy after waiting
// waited.
func refusedAfter(t *testing.T, ch <-chan submitted, waited time.Duration, what string) {
	t.Helper()
	var busy *gateway.BusyError
	if s := recv(t, ch); !errors.As(s.err, &busy) || busy.Waited != waited {
		t.Fatalf("%s: %v, want busy after %s", what, s.err, waited)
	}
}

// unanswered checks that ch's Submit is still waiting.
func unanswered(t *testing.T, ch <-chan submitted, what string) {
	t.Helper()
	select {
	case s := <-ch:
		t.Fatalf("%s: answered (%v), want it still waiting", what, s.err)
	default:
	}
}

// TestAdmission: a Submit that finds the process full waits for room; none
// coming within the admission wait, it is refused GATEWAY_BUSY and nothing
// is stored, no counter taken. Room made by the work that ran admits the
// next one waiting, first come first served, without a timeout.
func TestAdmission(t *testing.T) {
	ctx := t.Context()
	g, wall := full(t)

	third := submitLater(ctx, g)
	g.AwaitAdmissionQueue(1)
	wall.Advance(time.Second)
	s := recv(t, third)
	var busy *gateway.BusyError
	if !errors.Is(s.err, gateway.ErrBusy) || !errors.As(s.err, &busy) {
		t.Fatalf("over the limit: %s %v, want ErrBusy", s.r.State, s.err)
	}
	if busy.InFlight != 2 || busy.Limit != 2 || busy.Waited != time.Second {
		t.Errorf("busy: %+v, want 2 in flight of 2 after 1s", *busy)
	}
	if msg := s.err.Error(); !strings.Contains(msg, "GATEWAY_BUSY") || !strings.Contains(msg, "para 273") {
		t.Errorf("busy error %q names no reason and clause", msg)
	}
	rs, err := g.Store().ListRequests(ctx, store.RequestFilter{UserID: alpha})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("%d requests stored, want the 2 admitted", len(rs))
	}

	// A critical request is not held up (para 273 manages none): it is
	// answered with its Pre-Command at once, the process full.
	crit := recv(t, submitThis(ctx, g, &engine.Request{UserID: alpha, DeviceID: esme, Service: "7.2"}))
	if crit.err != nil || crit.r.State != gateway.StateAwaitingSignature {
		t.Fatalf("critical, the process full: %s %s %v", crit.r.State, crit.r.Reason, crit.err)
	}

	// Waiting in order; the work running makes room for both.
	fourth := submitLater(ctx, g)
	g.AwaitAdmissionQueue(1)
	fifth := submitLater(ctx, g)
	g.AwaitAdmissionQueue(2)
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	counters := map[string]bool{}
	for i, ch := range []<-chan submitted{fourth, fifth} {
		s := recv(t, ch)
		if s.err != nil || s.r.State != gateway.StateAcknowledged {
			t.Fatalf("waiting %d: %s %s %v", i, s.r.State, s.r.Reason, s.err)
		}
		counters[s.r.ID[strings.LastIndex(s.r.ID, ":")+1:]] = true
	}
	// The refused one took no counter: after the critical one's 3, these
	// are 4 and 5 (admitted together, they may take them either way).
	if !counters["4"] || !counters["5"] {
		t.Errorf("counters %v, want 4 and 5", counters)
	}
}

// TestAdmissionUnderTrafficManagement: a limit that keeps the load below
// where para 273's policy first acts would leave it turned on for nothing:
// the gateway does not start so.
func TestAdmissionUnderTrafficManagement(t *testing.T) {
	w := newWorld(t)
	sp := w.g.Spec()
	tm, err := traffic.New(t.Context(), sp, traffic.Enabled(true))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		limit int
		ok    bool
	}{{tm.ActsFrom(), false}, {gateway.DefaultMaxInFlight, tm.ActsFrom() < gateway.DefaultMaxInFlight}, {tm.ActsFrom() + 1, true}, {-1, true}} {
		eng, err := engine.New(t.Context(), sp)
		if err != nil {
			t.Fatal(err)
		}
		v := clock.NewVirtual(w.g.Now())
		g, err := gateway.New(t.Context(), gateway.Config{Store: w.g.Store(), Engine: eng, Spec: sp, Clock: v, Virtual: v, Traffic: tm, MaxInFlight: tc.limit})
		if (err == nil) != tc.ok {
			t.Errorf("max_in_flight %d under traffic management acting from %d: %v, want ok %v", tc.limit, tm.ActsFrom(), err, tc.ok)
		}
		if err == nil {
			g.Close()
		}
	}
}

// TestAdmissionStandingQueue: a Submit joining a queue that has not
// emptied for a while (more offered than the process does) waits only a
// little before it is refused; one that starts a queue waits it all.
func TestAdmissionStandingQueue(t *testing.T) {
	ctx := t.Context()
	g, wall := full(t)
	first := submitLater(ctx, g)
	g.AwaitAdmissionQueue(1)
	wall.Advance(150 * time.Millisecond)
	late := submitLater(ctx, g)
	g.AwaitAdmissionQueue(2)
	wall.Advance(10 * time.Millisecond)
	refusedAfter(t, late, 10*time.Millisecond, "joining a standing queue")
	unanswered(t, first, "the queue's first, before its wait ended")
	wall.Advance(840 * time.Millisecond)
	refusedAfter(t, first, time.Second, "the queue's first")

	// The queue emptied: the next to wait is a burst's first again, and
	// waits it all.
	again := submitLater(ctx, g)
	g.AwaitAdmissionQueue(1)
	wall.Advance(10 * time.Millisecond)
	unanswered(t, again, "after the queue emptied, within 10ms")
	wall.Advance(990 * time.Millisecond)
	refusedAfter(t, again, time.Second, "after the queue emptied")

	// A caller gone while waiting gets its own error and leaves the queue.
	cctx, cancel := context.WithCancel(ctx)
	gone := submitLater(cctx, g)
	g.AwaitAdmissionQueue(1)
	cancel()
	if s := recv(t, gone); !errors.Is(s.err, context.Canceled) {
		t.Fatalf("caller gone: %v, want its cancellation", s.err)
	}
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if s := recv(t, submitLater(ctx, g)); s.err != nil || s.r.State != gateway.StateAcknowledged {
		t.Fatalf("after: %s %v", s.r.State, s.err)
	}
	if st := g.Stats(); st.Admitting != 0 || st.Waiting != 0 || st.Busy != 3 {
		t.Errorf("stats %+v: want none admitted or waiting, 3 refused busy", st)
	}
}
