package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
	_ "github.com/dccgate/dccgate/runtime/store/postgres" // postgres:// in store.Open, and the pgx driver
	"github.com/dccgate/dccgate/runtime/store/postgres/pgtest"
)

// endWatch looks at the store the moment a write that ends requests has
// returned, before the gateway goes on: no request may be held on one of
// them (para 127: released, or cancelled, with its predecessor's end),
// and a successor ended with it has its Service Response on the stream
// already.
type endWatch struct {
	store.Store

	mu     sync.Mutex
	ended  []string // the requests whose end was looked at
	broken []string // what was seen wrong
}

func (s *endWatch) UpdateRequest(ctx context.Context, r store.Request, from string, ds []store.Delivery) ([]int64, error) {
	out, err := s.Store.UpdateRequest(ctx, r, from, ds)
	if err == nil {
		s.look(ctx, r)
	}
	return out, err
}

func (s *endWatch) UpdateRequests(ctx context.Context, ups []store.RequestUpdate) ([][]int64, error) {
	out, err := s.Store.UpdateRequests(ctx, ups)
	if err == nil {
		for _, u := range ups {
			s.look(ctx, u.Request)
		}
	}
	return out, err
}

func (s *endWatch) look(ctx context.Context, r store.Request) {
	if !r.Final() {
		return
	}
	succs, err := s.Store.ListRequests(ctx, store.RequestFilter{After: r.ID})
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = append(s.ended, r.ID)
	for _, h := range succs {
		if h.State == gateway.StateHeld {
			s.broken = append(s.broken, fmt.Sprintf("%s %s with %s still held on it", r.ID, r.State, h.ID))
			continue
		}
		if !h.Final() {
			continue
		}
		ds, err := s.Store.Deliveries(ctx, h.UserID, 0, 0)
		if err != nil {
			panic(err)
		}
		if !slices.ContainsFunc(ds, func(d store.Delivery) bool { return d.Kind == "response" && d.RequestID == h.ID }) {
			s.broken = append(s.broken, fmt.Sprintf("%s %s with %s %s and no response for it", r.ID, r.State, h.ID, h.State))
		}
	}
}

func (s *endWatch) Unwrap() store.Store { return s.Store }

// TestSuccessorsMoveWithTheirPredecessor: the requests held behind a
// request are moved in the store transaction that stores its end (para
// 126-127), on a store of the gateway's own and on a shared one: a client
// that reads the predecessor ended never reads a successor still held. A
// chain of reads, a critical request (given its Pre-Command to sign) and
// a future dated one behind a request that succeeds; a chain behind one
// its user cancels, cancelled whole with a Service Response each. On
// PostgreSQL too, where DCCGATE_TEST_POSTGRES names one.
func TestSuccessorsMoveWithTheirPredecessor(t *testing.T) {
	tests := []struct {
		note   string
		dsn    func(t *testing.T) string
		shared bool
	}{
		{"SQLite, alone", sqliteDSN, false},
		{"SQLite, shared", sqliteDSN, true},
		{"PostgreSQL, shared", postgresDSN, true},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			watch := &endWatch{}
			w := newWorldOn(t, tc.dsn(t), func(c *gateway.Config) { c.Shared = tc.shared },
				func(st store.Store) store.Store { watch.Store = st; return watch })
			ctx := t.Context()
			at := w.g.Now().Add(time.Hour)
			dated := func(after string, at time.Time) engine.Request {
				return engine.Request{Service: "4.4", Category: "future_dated", ExecuteAt: at, Body: map[string]any{"entry": int64(0)}, After: after}
			}
			read := func(after string) engine.Request {
				return engine.Request{Service: "4.1", Body: map[string]any{"register": "total"}, After: after}
			}
			submit := func(req engine.Request, state string) store.Request {
				t.Helper()
				r := w.submit(alpha, alpha, req)
				expect(t, r, state, "", "")
				return r
			}
			p := submit(dated("", at), gateway.StatePending)
			s1 := submit(read(p.ID), gateway.StateHeld)
			s2 := submit(read(s1.ID), gateway.StateHeld)
			crit := submit(engine.Request{Service: "7.1", After: p.ID}, gateway.StateHeld)
			later := submit(dated(p.ID, at.Add(2*time.Hour)), gateway.StateHeld)
			q := submit(dated("", at), gateway.StatePending)
			c1 := submit(read(q.ID), gateway.StateHeld)
			c2 := submit(read(c1.ID), gateway.StateHeld)

			if _, err := w.g.Cancel(ctx, alpha, q.ID); err != nil {
				t.Fatal(err)
			}
			w.g.WaitIdle(ctx)
			expect(t, w.get(q.ID), gateway.StateCancelled, "CANCELLED_BY_USER", "")
			expect(t, w.get(c1.ID), gateway.StateCancelled, "PREDECESSOR_FAILED", q.ID)
			expect(t, w.get(c2.ID), gateway.StateCancelled, "PREDECESSOR_FAILED", c1.ID)
			if _, err := w.g.Advance(ctx, 90*time.Minute); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{p.ID, s1.ID, s2.ID} {
				expect(t, w.get(id), gateway.StateAccepted, "", "")
			}
			// Held until its predecessor ran, a successor's response is due
			// from its release (para 127; the spec's held_from), not from
			// its receipt an hour before.
			if r := w.get(s2.ID); r.DueAt.Before(at) || r.DueAt.After(at.Add(time.Minute)) {
				t.Fatalf("%s, released once %s ran at %s, is due %s", s2.ID, p.ID, at, r.DueAt)
			}
			expect(t, w.get(later.ID), gateway.StatePending, "", "")
			c := w.get(crit.ID)
			expect(t, c, gateway.StateAwaitingSignature, "", "")
			if len(c.PreCommand) == 0 || !c.DueAt.After(at) {
				t.Fatalf("critical successor released without its Pre-Command or with its time to sign gone: %d bytes, due %s", len(c.PreCommand), c.DueAt)
			}
			// The user learns of it on its stream, with the Pre-Command to
			// sign, not only by asking for the request's state.
			ds, err := w.g.Store().Deliveries(ctx, c.UserID, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(ds, func(d store.Delivery) bool { return d.Kind == "pre_command" && d.RequestID == c.ID })
			if i < 0 {
				t.Fatalf("no Pre-Command of %s on its user's stream", c.ID)
			}
			var pl store.ResponsePayload
			if err := json.Unmarshal(ds[i].Payload, &pl); err != nil || !bytes.Equal(pl.PreCommand, c.PreCommand) || pl.State != gateway.StateAwaitingSignature || !ds[i].DueAt.Equal(c.DueAt) {
				t.Fatalf("the Pre-Command delivered: %s %v, due %s; want the request's, due %s", ds[i].Payload, err, ds[i].DueAt, c.DueAt)
			}
			if slices.ContainsFunc(ds, func(d store.Delivery) bool { return d.Kind == "response" && d.RequestID == c.ID }) {
				t.Fatalf("%s was answered before it was signed", c.ID)
			}

			watch.mu.Lock()
			defer watch.mu.Unlock()
			for _, id := range []string{q.ID, c1.ID, p.ID, s1.ID} {
				if !slices.Contains(watch.ended, id) {
					t.Errorf("the end of %s was not looked at (ends seen: %v)", id, watch.ended)
				}
			}
			for _, b := range watch.broken {
				t.Error(b)
			}
		})
	}
}

// TestHeldRequestTheGatewayDidNotNote: a successor stored held without
// this process's note of it (another writer's insert) is moved with its
// predecessor's end all the same: the store refuses the end while it is
// held, and the gateway reads the held ones then. A critical one that
// cannot be made a Pre-Command is refused MALFORMED, as at submission,
// and does not keep its predecessor from ending.
func TestHeldRequestTheGatewayDidNotNote(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	p := w.submit(alpha, alpha, engine.Request{Service: "4.4", Category: "future_dated", ExecuteAt: w.g.Now().Add(time.Hour),
		Body: map[string]any{"entry": int64(0)}})
	expect(t, p, gateway.StatePending, "", "")
	s := store.Request{ID: alpha + ":" + esme + ":1000", UserID: alpha, Service: "7.1", DeviceID: esme, Category: "on_demand",
		Delivery: "wan", After: p.ID, State: gateway.StateHeld, ReceivedAt: w.g.Now(), Body: []byte(`{"not":`)}
	if err := w.g.Store().InsertRequest(ctx, s, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := w.g.Advance(ctx, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	expect(t, w.get(p.ID), gateway.StateAccepted, "", "")
	expect(t, w.get(s.ID), gateway.StateRejected, "MALFORMED", "cannot be transformed")
}

func sqliteDSN(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "gw.db") }

// postgresDSN is a schema of its own in the PostgreSQL of
// DCCGATE_TEST_POSTGRES, dropped at the end; without it the test skips.
func postgresDSN(t *testing.T) string { return pgtest.Schema(t, "gateway") }
