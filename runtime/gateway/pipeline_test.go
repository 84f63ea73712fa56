package gateway_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"

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

// raceStore forces the order of TestSuccessorStoredAfterRelease: the
// successor reads its predecessor (not yet final), the predecessor then
// ends (none is held on it yet: it moves none), and only then is the
// successor stored as held.
type raceStore struct {
	store.Store
	pred              string
	read, ended       chan struct{}
	readOnce, endOnce sync.Once
}

func (s *raceStore) GetRequest(ctx context.Context, id string) (store.Request, error) {
	r, err := s.Store.GetRequest(ctx, id)
	if id == s.pred && !r.Final() {
		s.readOnce.Do(func() { close(s.read) })
	}
	return r, err
}

func (s *raceStore) UpdateRequests(ctx context.Context, ups []store.RequestUpdate) ([][]int64, error) {
	end := len(ups) > 0 && ups[0].Request.ID == s.pred && ups[0].Request.Final()
	if end {
		<-s.read
	}
	out, err := s.Store.UpdateRequests(ctx, ups)
	if end && err == nil {
		s.endOnce.Do(func() { close(s.ended) })
	}
	return out, err
}

func (s *raceStore) InsertRequest(ctx context.Context, r store.Request, counter uint64) error {
	if r.After == s.pred && r.State == gateway.StateHeld {
		<-s.ended
	}
	return s.Store.InsertRequest(ctx, r, counter)
}

// TestSuccessorStoredAfterRelease: a successor stored as held just after
// its predecessor ended (moving nothing) is released all the same (para
// 126-127), not left held.
func TestSuccessorStoredAfterRelease(t *testing.T) {
	pred := alpha + ":" + esme + ":1"
	w := newWorldWith(t, 0, func(st store.Store) store.Store {
		return &raceStore{Store: st, pred: pred, read: make(chan struct{}), ended: make(chan struct{})}
	})
	ctx := t.Context()
	read := func(id, after string) *engine.Request {
		return &engine.Request{RequestID: id, UserID: alpha, DeviceID: esme, Service: "4.1", After: after, Body: map[string]any{"register": "total"}}
	}
	if _, err := w.g.Submit(ctx, alpha, read(pred, "")); err != nil {
		t.Fatal(err)
	}
	succ, err := w.g.Submit(ctx, alpha, read(alpha+":"+esme+":2", pred))
	if err != nil || succ.State != gateway.StateHeld {
		t.Fatalf("successor: %s %s %v, want held", succ.State, succ.Reason, err)
	}
	w.g.WaitIdle(ctx)
	for _, id := range []string{pred, succ.ID} {
		r, err := w.g.Store().GetRequest(ctx, id)
		if err != nil || r.State != gateway.StateAccepted {
			t.Fatalf("%s: %s %s %v", id, r.State, r.Reason, err)
		}
	}
}

// successor is a new gateway on the store of w's (closed) one, at its
// time, not started.
func successor(t *testing.T, w *world) *gateway.Gateway {
	t.Helper()
	return successorWith(t, w, func(*gateway.Config) {})
}

// successorWith is successor with its Config set by cfg.
func successorWith(t *testing.T, w *world, cfg func(*gateway.Config)) *gateway.Gateway {
	t.Helper()
	sp := w.g.Spec()
	eng, err := engine.New(t.Context(), sp)
	if err != nil {
		t.Fatal(err)
	}
	v := clock.NewVirtual(w.g.Now())
	c := gateway.Config{Store: w.g.Store(), Engine: eng, Spec: sp, Clock: v, Virtual: v, Workers: 2}
	cfg(&c)
	g, err := gateway.New(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// TestHeldReleasedOnStart: a stop between a predecessor's end and the
// release of its successor leaves the successor held; the next start
// releases it.
func TestHeldReleasedOnStart(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	w.g.Close()
	st := w.g.Store()
	now := w.g.Now()
	pred := store.Request{ID: "P", UserID: alpha, Service: "4.1", DeviceID: esme, Category: "on_demand", Delivery: "wan",
		State: gateway.StateAccepted, ReceivedAt: now, CompletedAt: now, Body: []byte(`{"register":"total"}`)}
	succ := pred
	succ.ID, succ.State, succ.After, succ.CompletedAt = "S", gateway.StateHeld, "P", time.Time{}
	for _, r := range []store.Request{pred, succ} {
		if err := st.InsertRequest(ctx, r, 0); err != nil {
			t.Fatal(err)
		}
	}
	g := successor(t, w)
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	g.WaitIdle(ctx)
	if r, err := st.GetRequest(ctx, "S"); err != nil || r.State != gateway.StateAccepted {
		t.Fatalf("successor after a start: %s %s %s %v", r.State, r.Reason, r.Message, err)
	}
	// The note taken for S at start outlived its release (P was final):
	// the next pass of due work settles it.
	if err := g.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	if n := g.Awaited(); n != 0 {
		t.Fatalf("%d notes of held successors left, want none", n)
	}
}

// TestRefusedNumberIsNotQueued: the store refuses a counter another
// writer took meanwhile (as another process on a shared store does); the
// gateway numbers the request again and stores it once. Only what was
// stored is queued: the refused attempt is not run, and nothing runs
// twice.
func TestRefusedNumberIsNotQueued(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	w.g.Close()
	st := w.g.Store()
	g := successor(t, w)             // not started: what Submit queues waits for Start
	read := func() *engine.Request { // numbered by the gateway
		return &engine.Request{UserID: alpha, DeviceID: esme, Service: "4.1", Body: map[string]any{"register": "total"}}
	}
	first, err := g.Submit(ctx, alpha, read())
	if err != nil || first.State != gateway.StateAcknowledged {
		t.Fatalf("first: %s %s %v", first.State, first.Reason, err)
	}
	// Another writer takes counters ahead of the gateway's copy.
	u, err := st.GetUser(ctx, alpha)
	if err != nil {
		t.Fatal(err)
	}
	u.LastCounter += 10
	if err := st.PutUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	second, err := g.Submit(ctx, alpha, read())
	if err != nil || second.State != gateway.StateAcknowledged {
		t.Fatalf("second: %s %s %v", second.State, second.Reason, err)
	}
	if n := g.Stats().InFlight; n != 2 {
		t.Fatalf("%d requests queued, want the 2 stored", n)
	}
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	g.WaitIdle(ctx)
	rs, err := st.ListRequests(ctx, store.RequestFilter{UserID: alpha})
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	for _, r := range rs {
		if r.ID != first.ID && r.ID != second.ID {
			continue
		}
		stored++
		if r.State != gateway.StateAccepted || r.Attempts != 1 {
			t.Errorf("%s: %s %s, %d attempts; want accepted once", r.ID, r.State, r.Reason, r.Attempts)
		}
	}
	if stored != 2 {
		t.Fatalf("%d of the 2 acknowledged requests stored", stored)
	}
}

// TestLastCounter: a user whose last counter is 2^64-1 has none above it.
// A request the gateway must number is a replay, not a counter of 0 that
// the gateway made up and then refused as MALFORMED.
func TestLastCounter(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	read := func(id string) *engine.Request {
		return &engine.Request{RequestID: id, UserID: alpha, DeviceID: esme, Service: "4.1", Body: map[string]any{"register": "total"}}
	}
	last := fmt.Sprintf("%s:%s:%d", alpha, esme, uint64(math.MaxUint64))
	if r, err := w.g.Submit(ctx, alpha, read(last)); err != nil || r.Reason != "" {
		t.Fatalf("the largest counter: %s %s %s %v", r.State, r.Reason, r.Message, err)
	}
	for _, id := range []string{"", last} {
		r, err := w.g.Submit(ctx, alpha, read(id))
		if err != nil || r.Reason != "REPLAY" || strings.HasSuffix(r.ID, ":0") {
			t.Fatalf("after the largest counter, ID %q: %s %s %s (%s) %v", id, r.ID, r.State, r.Reason, r.Message, err)
		}
	}
}

// tickingClock moves on a microsecond each time it is read, as a wall
// clock does between two reads.
type tickingClock struct {
	clock.Clock
	n atomic.Int64
}

func (c *tickingClock) Now() time.Time {
	return c.Clock.Now().Add(time.Duration(c.n.Add(1)) * time.Microsecond)
}

// TestResponseTimeIsCompletion: the Service Response on the stream carries
// the request's completion time, as GetRequest gives it, not a later
// reading of the clock.
func TestResponseTimeIsCompletion(t *testing.T) {
	w := newWorldConfig(t, func(c *gateway.Config) { c.Clock = &tickingClock{Clock: c.Clock} }, nil)
	ctx := t.Context()
	r, err := w.g.Submit(ctx, alpha, &engine.Request{UserID: alpha, DeviceID: esme, Service: "4.1", Body: map[string]any{"register": "total"}})
	if err != nil || r.Reason != "" {
		t.Fatalf("%s %s %v", r.State, r.Reason, err)
	}
	w.g.WaitIdle(ctx)
	done, err := w.g.Store().GetRequest(ctx, r.ID)
	if err != nil || done.State != gateway.StateAccepted {
		t.Fatalf("%s %v", done.State, err)
	}
	ds, err := w.g.Store().Deliveries(ctx, alpha, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ds, func(d store.Delivery) bool { return d.Kind == "response" && d.RequestID == r.ID })
	if i < 0 {
		t.Fatalf("no response to %s", r.ID)
	}
	if !ds[i].CreatedAt.Equal(done.CompletedAt) {
		t.Fatalf("response at %s, request completed at %s", ds[i].CreatedAt, done.CompletedAt)
	}
}
