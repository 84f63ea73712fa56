package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
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

// dueWatch records, for requests started by RunDue (pending to
// acknowledged), which ran while another of the same device was still
// running, and holds the first of each device until `devices` devices
// have started one: RunDue must run devices side by side.
type dueWatch struct {
	store.Store
	devices int

	mu      sync.Mutex
	running map[string]string   // device: the request started and not finished
	order   map[string][]string // device: requests in the order started
	overlap []string
	apart   bool // a device's first waited in vain for the others
	all     chan struct{}
}

func (s *dueWatch) UpdateRequest(ctx context.Context, r store.Request, from string, ds []store.Delivery) ([]int64, error) {
	if from == gateway.StatePending && r.State == gateway.StateAcknowledged {
		s.mu.Lock()
		if other, ok := s.running[r.DeviceID]; ok {
			s.overlap = append(s.overlap, r.ID+" started while "+other+" ran")
		}
		s.running[r.DeviceID] = r.ID
		first := len(s.order[r.DeviceID]) == 0
		s.order[r.DeviceID] = append(s.order[r.DeviceID], r.ID)
		if first && len(s.order) == s.devices {
			close(s.all)
		}
		s.mu.Unlock()
		if first {
			select {
			case <-s.all:
			case <-time.After(10 * time.Second):
				s.mu.Lock()
				s.apart = true
				s.mu.Unlock()
			}
		}
	}
	cur, err := s.Store.UpdateRequest(ctx, r, from, ds)
	if err == nil {
		s.ended(r)
	}
	return cur, err
}

// UpdateRequests takes the ends of requests (their final updates).
func (s *dueWatch) UpdateRequests(ctx context.Context, ups []store.RequestUpdate) ([][]int64, error) {
	cur, err := s.Store.UpdateRequests(ctx, ups)
	if err == nil {
		for _, u := range ups {
			s.ended(u.Request)
		}
	}
	return cur, err
}

// ended notes that r, if it has ended, no longer runs.
func (s *dueWatch) ended(r store.Request) {
	if !r.Final() {
		return
	}
	s.mu.Lock()
	if s.running[r.DeviceID] == r.ID {
		delete(s.running, r.DeviceID)
	}
	s.mu.Unlock()
}

// TestRunDueByDevice: more future-dated requests fall due at once than
// RunDue reads at a time (two batches and more), on four meters. One
// RunDue runs them all; a meter's run one after another in their order,
// never two at once; meters run side by side.
func TestRunDueByDevice(t *testing.T) {
	ctx := t.Context()
	const meters = 4
	// The first batch holds the first two meters' requests (the store
	// lists them by ID, so by meter): those two must run side by side.
	watch := &dueWatch{devices: 2, running: map[string]string{}, order: map[string][]string{}, all: make(chan struct{})}
	var clk *clock.Virtual
	const batch = 50
	w := newWorldConfig(t, func(c *gateway.Config) { c.Workers, c.DueBatch, clk = meters, batch, c.Virtual }, func(s store.Store) store.Store {
		watch.Store = s
		return watch
	})
	g := w.g
	world := gateway.World{Users: []store.User{{ID: alpha, Role: "EIS", Party: alpha}}}
	var ids []string
	for i := range meters {
		hub, meter, mpxn := fmt.Sprintf("00-DB-00-00-00-01-C0-%02X", i), fmt.Sprintf("00-DB-00-00-00-01-E0-%02X", i), fmt.Sprintf("19000000010%02d", i)
		world.Registration = append(world.Registration, store.Registration{MPxN: mpxn, Fuel: "electricity", ImportSupplier: alpha,
			NetworkOperator: networkOperator, Postcode: "LS1 1AA", Premises: fmt.Sprint(i)})
		world.Inventory = append(world.Inventory, store.Device{ID: hub, Type: "CHF", Status: "commissioned"},
			store.Device{ID: meter, Type: "ESME", Status: "commissioned", MPxN: mpxn, CHF: hub})
		ids = append(ids, meter)
	}
	if err := g.Reset(ctx, world); err != nil {
		t.Fatal(err)
	}
	at := g.Now().Add(time.Hour)
	n := 2*batch + 10
	for i := range n {
		r, err := g.Submit(ctx, alpha, &engine.Request{UserID: alpha, DeviceID: ids[i%meters], Service: "4.4", Category: "future_dated",
			ExecuteAt: at, Body: map[string]any{"entry": int64(0)}})
		if err != nil {
			t.Fatal(err)
		}
		if r.State != gateway.StatePending {
			t.Fatalf("request %d: %s %s %s, want pending", i, r.State, r.Reason, r.Message)
		}
	}
	due, err := g.Store().ListRequests(ctx, store.RequestFilter{States: []string{gateway.StatePending}, DueBefore: at})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, r := range due {
		want[r.DeviceID] = append(want[r.DeviceID], r.ID)
	}
	// One RunDue, as the wall clock's tick makes: it runs all that is
	// due, a batch after another.
	clk.Set(at)
	if err := g.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	g.WaitIdle(ctx)
	done, err := g.Store().ListRequests(ctx, store.RequestFilter{States: []string{gateway.StateAccepted}})
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != n || len(done) != n {
		t.Fatalf("%d due and %d accepted, want %d each", len(due), len(done), n)
	}
	watch.mu.Lock()
	defer watch.mu.Unlock()
	if watch.apart {
		t.Error("a meter's first due request waited 10 s for another meter's to start: devices not run side by side")
	}
	if len(watch.overlap) > 0 {
		t.Errorf("%d of a meter's requests started while another of it ran, e.g. %s", len(watch.overlap), watch.overlap[0])
	}
	for _, d := range ids {
		if !slices.Equal(watch.order[d], want[d]) {
			t.Errorf("meter %s: %d started, not in their due order", d, len(watch.order[d]))
		}
	}
}

// TestUnsignedPreCommandExpires: a Pre-Command left unsigned waits until
// its request's due time, then the request expires with SIGNATURE_TIMEOUT
// (para 155) and its Service Response says so; one sent later still waits.
func TestUnsignedPreCommandExpires(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t)
	submit := func() store.Request {
		t.Helper()
		r, err := w.g.Submit(ctx, alpha, &engine.Request{UserID: alpha, DeviceID: esme, Service: "7.1"})
		if err != nil {
			t.Fatal(err)
		}
		if r.State != gateway.StateAwaitingSignature || r.DueAt.IsZero() {
			t.Fatalf("7.1: %s %s %s due %s, want awaiting its signature with a due time", r.State, r.Reason, r.Message, r.DueAt)
		}
		return r
	}
	early := submit()
	if _, err := w.g.Advance(ctx, early.DueAt.Sub(w.g.Now())/2); err != nil {
		t.Fatal(err)
	}
	late := submit()
	if _, err := w.g.Advance(ctx, early.DueAt.Sub(w.g.Now())); err != nil {
		t.Fatal(err)
	}
	expect(t, w.get(early.ID), gateway.StateExpired, "SIGNATURE_TIMEOUT", "not signed in time")
	if got := w.get(early.ID); got.Clause != "para 155" {
		t.Errorf("clause %q, want para 155", got.Clause)
	}
	expect(t, w.get(late.ID), gateway.StateAwaitingSignature, "", "")
	ds, err := w.g.Store().Deliveries(ctx, alpha, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var told []string
	for _, d := range ds {
		told = append(told, d.RequestID)
	}
	if !slices.Contains(told, early.ID) || slices.Contains(told, late.ID) {
		t.Errorf("responses delivered for %v, want %s's and not %s's", told, early.ID, late.ID)
	}
	if _, err := w.g.Advance(ctx, late.DueAt.Sub(w.g.Now())); err != nil {
		t.Fatal(err)
	}
	expect(t, w.get(late.ID), gateway.StateExpired, "SIGNATURE_TIMEOUT", "not signed in time")
}

// TestFutureDatedPreCommandWaitsUntilItRuns: a critical request dated
// days ahead may be signed any time before it is to run (para 155 sets no
// time): it still awaits its signature long after an on-demand one would
// have expired, and expires unsigned only once its execution time passes.
func TestFutureDatedPreCommandWaitsUntilItRuns(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t)
	at := w.g.Now().Add(48 * time.Hour)
	r, err := w.g.Submit(ctx, alpha, &engine.Request{UserID: alpha, DeviceID: esme, Service: "7.1", Category: "future_dated", ExecuteAt: at})
	if err != nil {
		t.Fatal(err)
	}
	if r.State != gateway.StateAwaitingSignature || !r.DueAt.Equal(at) {
		t.Fatalf("7.1 dated %s: %s %s %s due %s, want awaiting its signature until then", at, r.State, r.Reason, r.Message, r.DueAt)
	}
	if _, err := w.g.Advance(ctx, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	expect(t, w.get(r.ID), gateway.StateAwaitingSignature, "", "")
	if _, err := w.g.Advance(ctx, 25*time.Hour); err != nil {
		t.Fatal(err)
	}
	expect(t, w.get(r.ID), gateway.StateExpired, "SIGNATURE_TIMEOUT", "not signed in time")
}

// TestScheduleRunsCheckedAgainstRegistration: creating a schedule is an
// activity of the DCC, not checked against the Registration Data (para
// 139); each run is, as a Service Request of its service would be (para
// 134, footnote 13): a supplier not registered for the meter creates one,
// and its runs are refused NOT_REGISTERED, while the registered supplier's
// run; a change of supplier then stops the old supplier's.
func TestScheduleRunsCheckedAgainstRegistration(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	ids := map[string]string{}
	for _, user := range []string{alpha, beta} {
		r := w.submit(user, user, engine.Request{Service: "5.1", Schedule: &engine.Schedule{Service: "4.8", Every: 24 * time.Hour}})
		if r.State != gateway.StateAccepted {
			t.Fatalf("5.1 from %s: %s %s %s", user, r.State, r.Reason, r.Message)
		}
		ids[user] = "SCH-" + r.ID
	}
	runs := func(t *testing.T) map[string][]string { // schedule -> outcome of each run, oldest first
		t.Helper()
		all, err := w.g.Store().ListRequests(ctx, store.RequestFilter{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, r := range all {
			if r.ScheduleID != "" {
				out[r.ScheduleID] = append(out[r.ScheduleID], r.State+" "+r.Reason)
			}
		}
		return out
	}
	if _, err := w.g.Advance(ctx, 25*time.Hour); err != nil {
		t.Fatal(err)
	}
	got := runs(t)
	if fmt.Sprint(got[ids[alpha]]) != "[accepted ]" || fmt.Sprint(got[ids[beta]]) != "[rejected NOT_REGISTERED]" {
		t.Fatalf("first runs: alpha %v, beta %v", got[ids[alpha]], got[ids[beta]])
	}
	// Beta gains the MPAN: its next run goes ahead, alpha's does not.
	if err := w.g.Store().PutRegistration(ctx, store.Registration{MPxN: "1900000000011", Fuel: "electricity", ImportSupplier: beta,
		NetworkOperator: "00-00-00-00-00-00-0E-01", Postcode: "LS1 1AA", Premises: "7", EffectiveFrom: w.g.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.g.Advance(ctx, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	got = runs(t)
	if n := len(got[ids[alpha]]); n != 2 || got[ids[alpha]][1] != "rejected NOT_REGISTERED" || got[ids[beta]][1] != "accepted " {
		t.Fatalf("after the change of supplier: alpha %v, beta %v", got[ids[alpha]], got[ids[beta]])
	}
}

// TestSchedulePeriodBounded: a schedule's period is at least the spec's
// min_period of the scheduled category: a millisecond or a second is
// refused MALFORMED (it would run without end and fall behind), the
// shortest allowed is kept.
func TestSchedulePeriodBounded(t *testing.T) {
	tests := []struct {
		every time.Duration
		state string
	}{
		{time.Millisecond, gateway.StateRejected},
		{time.Second, gateway.StateRejected},
		{29 * time.Minute, gateway.StateRejected},
		{30 * time.Minute, gateway.StateAccepted},
	}
	for _, tc := range tests {
		t.Run(tc.every.String(), func(t *testing.T) {
			w := newWorld(t)
			r := w.submit(alpha, alpha, engine.Request{Service: "5.1", Schedule: &engine.Schedule{Service: "4.8", Every: tc.every}})
			if r.State != tc.state || tc.state == gateway.StateRejected && (r.Reason != "MALFORMED" || !strings.Contains(r.Message, "shorter than")) {
				t.Fatalf("every %s: %s %s %q, want %s", tc.every, r.State, r.Reason, r.Message, tc.state)
			}
		})
	}
}

// TestScheduleRunsReadTheirOwnPeriod: a daily 4.8 whose body reads the day
// before its first run reads, at each run, the day before that run (the
// spec's scheduled.moves_times), keeping the zone it was written in; a
// field that is not a time (4.1's register) is run as it was given.
func TestScheduleRunsReadTheirOwnPeriod(t *testing.T) {
	ctx := t.Context()
	g, _ := faultGateway(t, 0)
	first := g.Now().Truncate(24 * time.Hour).Add(48 * time.Hour)
	tests := []struct {
		service string
		body    map[string]any
		want    func(k int) map[string]any // the body of run k (0 the first)
	}{
		{"4.8", map[string]any{"from": first.Add(-24 * time.Hour).Format(time.RFC3339), "to": first.Format(time.RFC3339)},
			func(k int) map[string]any {
				at := first.Add(time.Duration(k) * 24 * time.Hour)
				return map[string]any{"from": at.Add(-24 * time.Hour).Format(time.RFC3339), "to": at.Format(time.RFC3339)}
			}},
		{"4.10", map[string]any{"from": "2026-01-06T01:00:00+01:00", "to": "2026-01-06T02:30:00.5+01:00"},
			func(k int) map[string]any {
				return map[string]any{"from": fmt.Sprintf("2026-01-%02dT01:00:00+01:00", 6+k), "to": fmt.Sprintf("2026-01-%02dT02:30:00.5+01:00", 6+k)}
			}},
	}
	for _, tc := range tests {
		r, err := g.Submit(ctx, alpha, &engine.Request{UserID: alpha, DeviceID: esme, Service: "5.1",
			Schedule: &engine.Schedule{Service: tc.service, Every: 24 * time.Hour, First: first, Body: tc.body}})
		if err != nil {
			t.Fatal(err)
		}
		if r.State != gateway.StateAcknowledged {
			t.Fatalf("5.1 of %s: %s %s %s", tc.service, r.State, r.Reason, r.Message)
		}
	}
	g.WaitIdle(ctx)
	if _, err := g.Advance(ctx, 5*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	runs, err := g.Store().ListRequests(ctx, store.RequestFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		n := 0
		for _, r := range runs {
			if r.ScheduleID == "" || r.Service != tc.service {
				continue
			}
			k := int(r.ExecuteAt.Sub(first) / (24 * time.Hour))
			var got map[string]any
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatal(err)
			}
			if want := tc.want(k); !maps.Equal(got, want) {
				t.Errorf("%s run %d at %s: body %v, want %v", tc.service, k, r.ExecuteAt, got, want)
			}
			n++
		}
		if n < 3 {
			t.Errorf("%s: %d runs, want at least 3", tc.service, n)
		}
	}
}

// TestFutureDatedCheckedAgainstRegistrationWhenDue: a future dated
// non-critical request is checked against the Registration Data in force
// when it falls due, not only as the records stood when it was received:
// a file loaded meanwhile that gives the MPAN to another supplier from
// before the execution date refuses the losing supplier's reads then;
// one due before the change goes ahead.
func TestFutureDatedCheckedAgainstRegistrationWhenDue(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	change := w.g.Now().Add(24 * time.Hour)
	read := func(at time.Time) store.Request {
		t.Helper()
		r := w.submit(alpha, alpha, engine.Request{Service: "4.8", Category: "future_dated", ExecuteAt: at,
			Body: map[string]any{"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}})
		if r.State != gateway.StatePending {
			t.Fatalf("future dated read: %s %s %s", r.State, r.Reason, r.Message)
		}
		return r
	}
	before, after := read(change.Add(-time.Hour)), read(change.Add(time.Hour))
	if err := w.g.Store().PutRegistration(ctx, store.Registration{MPxN: "1900000000011", Fuel: "electricity", ImportSupplier: beta,
		NetworkOperator: "00-00-00-00-00-00-0E-01", Postcode: "LS1 1AA", Premises: "7", EffectiveFrom: change}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.g.Advance(ctx, 26*time.Hour); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		note         string
		r            store.Request
		state, cause string
	}{
		{"due before the change of supplier", before, gateway.StateAccepted, ""},
		{"due after it", after, gateway.StateRejected, "NOT_REGISTERED"},
	}
	for _, tc := range tests {
		got, err := w.g.Store().GetRequest(ctx, tc.r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != tc.state || got.Reason != tc.cause || tc.cause != "" && !strings.Contains(got.Message, "falls due") {
			t.Errorf("%s: %s %s %s, want %s %s", tc.note, got.State, got.Reason, got.Message, tc.state, tc.cause)
		}
	}
}
