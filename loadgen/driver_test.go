package loadgen

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/client"
	"github.com/dccgate/dccgate/spec"
)

// fakeClock is the driver's clock in these tests: sleeping advances it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) bool {
	c.advance(max(d, 0))
	return ctx.Err() == nil
}

// fakeAPI is a user's view of a gateway whose Submit answers as submit
// says; nothing else is called.
type fakeAPI struct {
	dccgatev1connect.GatewayServiceClient
	submit func(ctx context.Context, req *dccgatev1.SubmitRequest) (*dccgatev1.SubmitResponse, error)
}

func (f *fakeAPI) Submit(ctx context.Context, req *connect.Request[dccgatev1.SubmitRequest]) (*connect.Response[dccgatev1.SubmitResponse], error) {
	resp, err := f.submit(ctx, req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(resp), nil
}

// testWorld has 100 premises: 10 prepayment meters, and one user of each
// role.
var testWorld = World{Systems: 200, Suppliers: 1, Others: 1}

// fakeDriver is a driver of mix on the fake clock, whose users' Submits
// answer as submit says (a Submit call each).
func fakeDriver(t *testing.T, mix []Item, submit func(ctx context.Context, req *dccgatev1.SubmitRequest) (*dccgatev1.SubmitResponse, error)) (*driver, *fakeClock) {
	t.Helper()
	d, err := newDriver(Config{Spec: spec.MustDefault(), World: testWorld, Mix: mix, Duration: time.Second, Timeout: time.Hour, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	d.now, d.sleep = clk.now, clk.sleep
	api := &fakeAPI{submit: submit}
	for _, u := range testWorld.Users() {
		d.users[u.ID] = &user{id: u.ID, api: api}
	}
	return d, clk
}

// Answers of a fake gateway.
func answer(id, state, reason string) (*dccgatev1.SubmitResponse, error) {
	return &dccgatev1.SubmitResponse{RequestId: id, State: &dccgatev1.RequestState{RequestId: id, State: state, Reason: reason}}, nil
}

func refused(code connect.Code, reason string) error {
	err := connect.NewError(code, errors.New("refused"))
	if reason != "" {
		err.Meta().Set(client.ReasonHeader, reason)
	}
	return err
}

// down is the error of a Submit to a gateway that does not listen: one
// error shared by every Submit, as client.Submitter shares a broken
// stream's, with its metadata made before it is shared (as the Submitter
// does), so that reading it is no data race.
var down = func() error {
	e := connect.NewError(connect.CodeUnavailable, errors.New("dial tcp 127.0.0.1:8443: connect: connection refused"))
	e.Meta()
	return e
}()

var readElectricity = []Item{DefaultMix[0]}

// TestGate: the delay after failures doubles from 10 ms to 1 s; failures of
// requests sent before the last was seen do not lengthen it; an answer
// opens the gate, unless it is to a request sent before the last failure.
func TestGate(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type event struct {
		ok         bool // else a failure
		sent, seen int  // ms
	}
	tests := []struct {
		note   string
		events []event
		at     int           // ms
		want   time.Duration // the wait then
	}{
		{"open", nil, 0, 0},
		{"a failure: 10 ms", []event{{false, 0, 1}}, 1, 10 * time.Millisecond},
		{"a failure, later", []event{{false, 0, 1}}, 6, 5 * time.Millisecond},
		{"a failure, past", []event{{false, 0, 1}}, 11, 0},
		{"two in a row: 20 ms", []event{{false, 0, 1}, {false, 11, 12}}, 12, 20 * time.Millisecond},
		{"three in a row: 40 ms", []event{{false, 0, 1}, {false, 11, 12}, {false, 32, 33}}, 33, 40 * time.Millisecond},
		{"sent before the last failure: the same failure", []event{{false, 0, 1}, {false, 0, 2}}, 2, 9 * time.Millisecond},
		{"sent once it was seen: another", []event{{false, 0, 1}, {false, 0, 2}, {false, 1, 3}}, 3, 20 * time.Millisecond},
		{"at most 1 s", slices.Collect(func(yield func(event) bool) {
			for i := range 12 {
				if !yield(event{false, 2000 * i, 2000*i + 1}) {
					return
				}
			}
		}), 22001, time.Second},
		{"an answer opens it", []event{{false, 0, 1}, {false, 11, 12}, {true, 30, 31}}, 31, 0},
		{"and the next failure waits 10 ms again", []event{{false, 0, 1}, {false, 11, 12}, {true, 30, 31}, {false, 40, 41}}, 41, 10 * time.Millisecond},
		{"an answer to a request sent before the failure does not", []event{{false, 5, 6}, {true, 0, 7}}, 7, 9 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			var g gate
			for _, e := range tc.events {
				if e.ok {
					g.ok(at(e.sent))
				} else {
					g.failed(at(e.sent), at(e.seen))
				}
			}
			if got := g.wait(func() time.Time { return at(tc.at) }); got != tc.want {
				t.Errorf("wait %v, want %v", got, tc.want)
			}
		})
	}
}

// TestClosedLoopBacksOff: a closed loop at a gateway that is down does not
// spin: each worker waits for the gate, so Submits stay few (without it,
// one a millisecond each here: some 10,000); never more than the
// concurrency are in flight, and once the failures are counted none is
// (the progress line's "in flight" was sent - completed, and rose with
// every failure for the rest of the run).
func TestClosedLoopBacksOff(t *testing.T) {
	const workers = 4
	var d *driver
	var clk *fakeClock
	var calls, over atomic.Int64
	d, clk = fakeDriver(t, readElectricity, func(context.Context, *dccgatev1.SubmitRequest) (*dccgatev1.SubmitResponse, error) {
		calls.Add(1)
		if n := d.inFlight(); n > workers || n < 1 {
			over.Store(n)
		}
		clk.advance(time.Millisecond) // a refused dial's time
		return nil, down
	})
	d.cfg.Concurrency = workers
	d.closedLoop(t.Context(), clk.now().Add(10*time.Second))
	t.Logf("%d Submits, clock %v", calls.Load(), clk.now())
	if n := calls.Load(); n == 0 || n > 150 {
		t.Errorf("%d Submits in 10 s of a gateway down, want some but at most 150", n)
	}
	if n := over.Load(); n != 0 {
		t.Errorf("%d in flight in a closed loop of %d", n, workers)
	}
	if n, sent := d.inFlight(), d.sent.Load(); n != 0 || sent != calls.Load() || d.res.outcomes[outcomeUnreachable] != int(sent) {
		t.Errorf("in flight %d after the loop, %d sent, %d Submits, outcomes %v", n, sent, calls.Load(), d.res.outcomes)
	}
}

// TestOneCountsEachEnd: whatever became of a request, once one returns it
// is no longer in flight, and it is counted once under its outcome, with
// its Request ID once the gateway gave one; what may pass is marked to be
// sent again (the setup does).
func TestOneCountsEachEnd(t *testing.T) {
	tests := []struct {
		note   string
		submit func() (*dccgatev1.SubmitResponse, error)
		want   attempt
		done   bool   // completed
		id     string // in its sample
	}{
		{"accepted", func() (*dccgatev1.SubmitResponse, error) { return answer("r1", "accepted", "") }, attempt{outcome: "accepted"}, true, "r1"},
		{"SMWAN unavailable", func() (*dccgatev1.SubmitResponse, error) { return answer("r2", "rejected", "SMWAN_UNAVAILABLE") },
			attempt{outcome: "rejected/SMWAN_UNAVAILABLE", retry: true}, true, "r2"},
		{"rejected otherwise", func() (*dccgatev1.SubmitResponse, error) { return answer("r3", "rejected", "NOT_ELIGIBLE") },
			attempt{outcome: "rejected/NOT_ELIGIBLE"}, true, "r3"},
		{"busy", func() (*dccgatev1.SubmitResponse, error) {
			return nil, refused(connect.CodeUnavailable, "GATEWAY_BUSY")
		},
			attempt{outcome: "error/submit:unavailable/GATEWAY_BUSY", retry: true}, false, ""},
		{"down", func() (*dccgatev1.SubmitResponse, error) { return nil, down }, attempt{outcome: "error/submit:unavailable", retry: true}, false, ""},
		{"invalid", func() (*dccgatev1.SubmitResponse, error) { return nil, refused(connect.CodeInvalidArgument, "") },
			attempt{outcome: "error/submit:invalid_argument"}, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			d, clk := fakeDriver(t, readElectricity, func(context.Context, *dccgatev1.SubmitRequest) (*dccgatev1.SubmitResponse, error) {
				return tc.submit()
			})
			got := d.one(t.Context(), readElectricity[0], 7, clk.now(), gateFail, time.Time{})
			if got != tc.want {
				t.Errorf("attempt %+v, want %+v", got, tc.want)
			}
			if d.sent.Load() != 1 || d.inFlight() != 0 || (d.done.Load() == 1) != tc.done {
				t.Errorf("sent %d, in flight %d, done %d", d.sent.Load(), d.inFlight(), d.done.Load())
			}
			if len(d.res.samples) != 1 || d.res.samples[0].id != tc.id || d.res.outcomes[tc.want.outcome] != 1 {
				t.Errorf("samples %+v, outcomes %v", d.res.samples, d.res.outcomes)
			}
		})
	}
}

// TestOpenLoopWhileDown: an open loop's requests that fall due while their
// user's gate is shut count as failed as before (error/submit:unavailable),
// but without a Submit each (each opened a connection, and the garbage
// grew the load process by hundreds of MiB); when the gate opens, the next
// is sent, and an answer opens it for all.
func TestOpenLoopWhileDown(t *testing.T) {
	calls, downCalls := 0, 0
	up := false
	d, clk := fakeDriver(t, readElectricity, func(context.Context, *dccgatev1.SubmitRequest) (*dccgatev1.SubmitResponse, error) {
		calls++
		if up {
			return answer(fmt.Sprint("r", calls), "accepted", "")
		}
		downCalls++
		return nil, down
	})
	// 1,000 a second for 3 s, down for the first 2.
	for i := range 3000 {
		if i == 2000 {
			up = true
		}
		d.one(t.Context(), readElectricity[0], 1+i%100, clk.now(), gateFail, time.Time{})
		clk.advance(time.Millisecond)
	}
	// The gate opened after 10, 30, 70, ... 1270 ms: 8 Submits in 2 s.
	if downCalls > 10 {
		t.Errorf("%d Submits while down, want one each time the gate opened", downCalls)
	}
	if d.sent.Load() != 3000 || d.inFlight() != 0 || d.res.outcomes[outcomeUnreachable]+d.res.outcomes["accepted"] != 3000 {
		t.Errorf("sent %d, in flight %d, outcomes %v", d.sent.Load(), d.inFlight(), d.res.outcomes)
	}
	// The gate, shut for 1 s at 1,270 ms, opens at 2,270: the rest are
	// sent and accepted.
	if n := d.res.outcomes["accepted"]; n < 1000-int(requestBackoff.max/time.Millisecond) || n != calls-downCalls {
		t.Errorf("%d accepted once it was up, of %d Submits", n, calls-downCalls)
	}
}

// TestStreamBreakFailsWaiters: a user's stream that breaks fails at once,
// as error/stream, the requests waiting for their responses on it, and
// those sent before it broke that wait after it; not the other users'.
func TestStreamBreakFailsWaiters(t *testing.T) {
	tests := []struct {
		note string
		// during: the stream breaks while the request is sent, before it
		// waits; else once it waits.
		during bool
	}{
		{"waiting when it breaks", false},
		{"sent before it broke", true},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			var d *driver
			var u *user
			d, clk := fakeDriver(t, readElectricity, func(context.Context, *dccgatev1.SubmitRequest) (*dccgatev1.SubmitResponse, error) {
				if tc.during {
					d.broke(u)
				}
				return answer("r1", "acknowledged", "")
			})
			d.cfg.Timeout = 5 * time.Second // what it would wait without the break
			u = d.users[testWorld.userOf("EIS", 7)]
			other := &waiter{ch: make(chan *dccgatev1.RequestState, 1), u: d.users[testWorld.userOf("GIS", 7)]}
			if _, broke := d.register("other", other, other.u.epoch.Load()); broke {
				t.Fatal("another user's stream broke")
			}
			done := make(chan attempt, 1)
			go func() { done <- d.one(t.Context(), readElectricity[0], 7, clk.now(), gateFail, time.Time{}) }()
			if !tc.during {
				for waiting := false; !waiting; runtime.Gosched() {
					d.mu.Lock()
					_, waiting = d.waiting["r1"]
					d.mu.Unlock()
				}
				d.broke(u)
			}
			if a := <-done; a.outcome != "error/stream" || !a.retry {
				t.Errorf("attempt %+v, want error/stream", a)
			}
			if s := d.res.samples; len(s) != 1 || s[0].id != "r1" || !s[0].failed || d.res.timedOut != 0 || d.inFlight() != 0 {
				t.Errorf("samples %+v, %d timed out, %d in flight", s, d.res.timedOut, d.inFlight())
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			if !maps.Equal(d.waiting, map[string]*waiter{"other": other}) {
				t.Errorf("waiting %v, want the other user's alone", d.waiting)
			}
		})
	}
}

// subscribeBreaks is a gateway whose Subscribe sends one message and ends
// the stream, then holds the next until the call ends.
type subscribeBreaks struct {
	dccgatev1connect.UnimplementedGatewayServiceHandler
	calls atomic.Int64
}

func (s *subscribeBreaks) Subscribe(ctx context.Context, _ *connect.Request[dccgatev1.SubscribeRequest], st *connect.ServerStream[dccgatev1.StreamMessage]) error {
	if s.calls.Add(1) > 1 {
		<-ctx.Done()
		return ctx.Err()
	}
	return st.Send(&dccgatev1.StreamMessage{Cursor: 1})
}

// TestSubscribeBreakFailsWaiters: when the stream subscribe reads ends, the
// requests waiting on it are failed (broke) rather than left to their
// timeout.
func TestSubscribeBreakFailsWaiters(t *testing.T) {
	d, _ := fakeDriver(t, readElectricity, nil)
	_, h := dccgatev1connect.NewGatewayServiceHandler(&subscribeBreaks{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	u := &user{id: "u", api: dccgatev1connect.NewGatewayServiceClient(srv.Client(), srv.URL)}
	w := &waiter{ch: make(chan *dccgatev1.RequestState, 1), u: u}
	if _, broke := d.register("r1", w, 0); broke {
		t.Fatal("broken before it began")
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.subscribe(ctx, u)
	}()
	select {
	case st := <-w.ch:
		if st != nil {
			t.Errorf("got %v, want the break", st)
		}
	case <-time.After(5 * time.Second):
		t.Error("the stream ended and its waiter waits still")
	}
	cancel()
	<-done
}

// subscribeDown is a gateway whose Subscribe fails at once, as one that is
// down does (at the stream's first Receive).
type subscribeDown struct {
	dccgatev1connect.UnimplementedGatewayServiceHandler
	calls atomic.Int64
	limit func() // called at the 1,000th
}

func (s *subscribeDown) Subscribe(context.Context, *connect.Request[dccgatev1.SubscribeRequest], *connect.ServerStream[dccgatev1.StreamMessage]) error {
	if s.calls.Add(1) == 1000 {
		s.limit()
	}
	return down
}

// TestSubscribeBacksOff: a user's stream that keeps failing is opened
// again after 100 ms, doubling up to 1 s, not at once (each attempt a
// connection): in 10 s some 15 times, not thousands.
func TestSubscribeBacksOff(t *testing.T) {
	d, clk := fakeDriver(t, readElectricity, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	until := clk.now().Add(10 * time.Second)
	d.sleep = func(ctx context.Context, wait time.Duration) bool {
		if clk.sleep(ctx, wait); !clk.now().Before(until) {
			cancel()
		}
		return ctx.Err() == nil
	}
	h := &subscribeDown{limit: cancel}
	_, hh := dccgatev1connect.NewGatewayServiceHandler(h)
	srv := httptest.NewServer(hh)
	defer srv.Close()
	d.subscribe(ctx, &user{id: "u", api: dccgatev1connect.NewGatewayServiceClient(srv.Client(), srv.URL)})
	if n := h.calls.Load(); n > 20 {
		t.Errorf("%d Subscribes in 10 s to a gateway that is down", n)
	}
}

// TestSetupRetries: the setup sends again what was refused for a reason
// that may pass, up to setupRetries times; a meter that still fails is
// left out of the run's top-ups and reported, and only if none is left
// does the run fail.
func TestSetupRetries(t *testing.T) {
	smwan := func() (*dccgatev1.SubmitResponse, error) { return answer("r", "rejected", "SMWAN_UNAVAILABLE") }
	tests := []struct {
		note string
		// fail answers the n-th (from 0) attempt of a request of premises p's
		// meter; nil: accepted.
		fail    func(p, n int, service string) func() (*dccgatev1.SubmitResponse, error)
		ready   []int // premises
		retries int
		failed  map[string]int
		err     bool
	}{
		{note: "all accepted", fail: func(int, int, string) func() (*dccgatev1.SubmitResponse, error) { return nil },
			ready: []int{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}},
		{note: "SMWAN loss: accepted when sent again", fail: func(p, n int, _ string) func() (*dccgatev1.SubmitResponse, error) {
			if n < p/10%4 { // 0 to 3 failures
				return smwan
			}
			return nil
		}, ready: []int{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, retries: 2 * (1 + 2 + 3 + 0 + 1 + 2 + 3 + 0 + 1 + 2)},
		{note: "busy, then down, then accepted", fail: func(p, n int, _ string) func() (*dccgatev1.SubmitResponse, error) {
			switch {
			case p != 30:
			case n == 0:
				return func() (*dccgatev1.SubmitResponse, error) {
					return nil, refused(connect.CodeUnavailable, "GATEWAY_BUSY")
				}
			case n == 1:
				return func() (*dccgatev1.SubmitResponse, error) { return nil, down }
			}
			return nil
		}, ready: []int{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, retries: 4},
		{note: "a meter whose top-up fails each time is left out", fail: func(p, n int, service string) func() (*dccgatev1.SubmitResponse, error) {
			if p == 30 && service == "2.2" {
				return smwan
			}
			return nil
		}, ready: []int{10, 20, 40, 50, 60, 70, 80, 90, 100}, retries: setupRetries, failed: map[string]int{"rejected/SMWAN_UNAVAILABLE": 1}},
		{note: "a refusal that will not pass is not sent again", fail: func(p, n int, _ string) func() (*dccgatev1.SubmitResponse, error) {
			if p >= 90 {
				return func() (*dccgatev1.SubmitResponse, error) { return answer("r", "rejected", "NOT_ELIGIBLE") }
			}
			return nil
		}, ready: []int{10, 20, 30, 40, 50, 60, 70, 80}, failed: map[string]int{"rejected/NOT_ELIGIBLE": 2}},
		{note: "none: the run fails", fail: func(int, int, string) func() (*dccgatev1.SubmitResponse, error) { return smwan },
			retries: 10 * setupRetries, failed: map[string]int{"rejected/SMWAN_UNAVAILABLE": 10}, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			var mu sync.Mutex
			tries := map[string]int{}
			topup := DefaultMix[slices.IndexFunc(DefaultMix, func(it Item) bool { return it.Prepayment })]
			d, _ := fakeDriver(t, []Item{topup}, func(_ context.Context, req *dccgatev1.SubmitRequest) (*dccgatev1.SubmitResponse, error) {
				env := req.GetRequest().GetEnvelope()
				service := "1.6"
				if req.GetRequest().GetTopUpDevice() != nil {
					service = "2.2"
				}
				p := 0
				for i := 10; i <= 100; i += 10 {
					if testWorld.Premise(i).ESME == env.GetDeviceId() {
						p = i
					}
				}
				key := fmt.Sprint(p, service)
				mu.Lock()
				n := tries[key]
				tries[key]++
				mu.Unlock()
				if f := tc.fail(p, n, service); f != nil {
					return f()
				}
				return answer(key, "accepted", "")
			})
			s, err := d.setup(t.Context())
			if (err != nil) != tc.err {
				t.Fatalf("err %v", err)
			}
			want := &Setup{Meters: 10, Ready: len(tc.ready), Retries: tc.retries, Failed: tc.failed}
			if s == nil || s.Meters != want.Meters || s.Ready != want.Ready || s.Retries != want.Retries || !maps.Equal(s.Failed, want.Failed) {
				t.Fatalf("setup %+v, want %+v", s, want)
			}
			if !slices.Equal(d.prepaid, tc.ready) {
				t.Errorf("prepayment meters at %v, want %v", d.prepaid, tc.ready)
			}
			for key, n := range tries {
				if n > 1+setupRetries {
					t.Errorf("%s sent %d times", key, n)
				}
			}
			if err != nil {
				return
			}
			// The top-ups go to the meters set up alone.
			for range 1000 {
				if _, p := d.pick(); !slices.Contains(tc.ready, p) {
					t.Fatalf("a top-up to premises %d", p)
				}
			}
		})
	}
}
