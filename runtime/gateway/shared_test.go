package gateway_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
)

// submitting marks the context of the test's Submits, so userReads counts
// only the reads made elsewhere (the workers executing the requests).
type submitting struct{}

// userReads counts the user reads of a store made outside a Submit, the
// reads of a user, a device or registration records one by one within
// one, and the look-ups of held successors.
type userReads struct {
	store.Store
	n          atomic.Int64
	inSubmit   atomic.Int64
	successors atomic.Int64
}

func (s *userReads) GetUser(ctx context.Context, id string) (store.User, error) {
	if ctx.Value(submitting{}) == nil {
		s.n.Add(1)
	} else {
		s.inSubmit.Add(1)
	}
	return s.Store.GetUser(ctx, id)
}

func (s *userReads) GetDevice(ctx context.Context, id string) (store.Device, error) {
	if ctx.Value(submitting{}) != nil {
		s.inSubmit.Add(1)
	}
	return s.Store.GetDevice(ctx, id)
}

func (s *userReads) Registrations(ctx context.Context, mpxns []string, at time.Time) ([]store.Registration, error) {
	if ctx.Value(submitting{}) != nil {
		s.inSubmit.Add(1)
	}
	return s.Store.Registrations(ctx, mpxns, at)
}

// ListRequests counts the look-ups of a request's held successors.
func (s *userReads) ListRequests(ctx context.Context, f store.RequestFilter) ([]store.Request, error) {
	if f.After != "" {
		s.successors.Add(1)
	}
	return s.Store.ListRequests(ctx, f)
}

func (s *userReads) Unwrap() store.Store { return s.Store }

// sharedWorld is a world whose gateway treats its store as shared, with
// the store's reads counted.
func sharedWorld(t *testing.T) (*world, *userReads) {
	t.Helper()
	reads := &userReads{}
	w := newWorldConfig(t, func(c *gateway.Config) { c.Shared = true },
		func(st store.Store) store.Store { reads.Store = st; return reads })
	return w, reads
}

// TestSharedStoreSendsCommandsWithTheClaimedRole: on a store that other
// processes may share (no user kept in memory), a Command goes out with
// the user's role as the claim read it with the request: the registered
// supplier's signed and MAC'd commands run (the meter holds a credential
// for its role), another supplier's signed one is refused by the meter,
// and executing a read reads no user besides the claim. (A critical
// Command's signature is verified with the signer's registered key, read
// as the meter checks it, so that a revocation in another process
// counts.)
func TestSharedStoreSendsCommandsWithTheClaimedRole(t *testing.T) {
	w, reads := sharedWorld(t)
	w.ctx = context.WithValue(t.Context(), submitting{}, true)
	expect(t, w.submit(alpha, alpha, engine.Request{Service: "7.2"}), gateway.StateAccepted, "", "")
	before := reads.n.Load()
	expect(t, w.submit(alpha, alpha, engine.Request{Service: "4.1", Body: map[string]any{"register": "total"}}), gateway.StateAccepted, "", "")
	if n := reads.n.Load() - before; n != 0 {
		t.Fatalf("executing a read read a user %d times, want 0 (the claim reads the role)", n)
	}
	expect(t, w.submit(beta, beta, engine.Request{Service: "7.1"}), gateway.StateRejected, "DEVICE_REJECTED",
		`the signature does not verify under the key of the holder of the supplier "`+alpha+`" credential`)
}

// TestSharedStoreReleasesSuccessorsOnTheMark: on a shared store a request
// looks for held successors only when the store refuses its end for one
// stored on it (para 126-127): a read with none looks for none; a future
// dated command with a successor held on it releases it when it runs, and
// the successor completes.
func TestSharedStoreReleasesSuccessorsOnTheMark(t *testing.T) {
	w, reads := sharedWorld(t)
	read := engine.Request{Service: "4.1", Body: map[string]any{"register": "total"}}
	expect(t, w.submit(alpha, alpha, read), gateway.StateAccepted, "", "")
	if n := reads.successors.Load(); n != 0 {
		t.Fatalf("a request with no successor looked for successors %d times", n)
	}
	p := w.submit(alpha, alpha, engine.Request{Service: "7.1", Category: "future_dated", ExecuteAt: w.g.Now().Add(time.Hour)})
	if p.State != gateway.StatePending {
		t.Fatalf("future dated 7.1: %s %s %s", p.State, p.Reason, p.Message)
	}
	succ := read
	succ.After = p.ID
	s := w.submit(alpha, alpha, succ)
	if s.State != gateway.StateHeld {
		t.Fatalf("successor: %s %s %s, want held", s.State, s.Reason, s.Message)
	}
	if _, err := w.g.Advance(t.Context(), 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	w.g.WaitIdle(t.Context())
	expect(t, w.get(p.ID), gateway.StateAccepted, "", "")
	expect(t, w.get(s.ID), gateway.StateAccepted, "", "")
	if n := reads.successors.Load(); n != 1 {
		t.Fatalf("looked for successors %d times, want 1 (the predecessor's)", n)
	}
}

// TestSharedStoreReleasesStrandedSuccessors: a successor stored held on a
// request that then ended, whose release was lost (its process stopped
// before it read its predecessor again), is released by the next round of
// a process's lease loop, not only at a start.
func TestSharedStoreReleasesStrandedSuccessors(t *testing.T) {
	w, _ := sharedWorld(t)
	ctx := t.Context()
	p := w.submit(alpha, alpha, engine.Request{Service: "4.1", Body: map[string]any{"register": "total"}})
	expect(t, p, gateway.StateAccepted, "", "")
	s := p
	s.ID, s.State, s.After = alpha+":"+esme+":1000", gateway.StateHeld, p.ID
	s.Reason, s.Clause, s.Message, s.Response, s.CompletedAt, s.Attempts = "", "", "", nil, time.Time{}, 0
	if err := w.g.Store().InsertRequest(ctx, s, 0); err != nil {
		t.Fatal(err)
	}
	w.g.WaitIdle(ctx)
	if got := w.get(s.ID); got.State != gateway.StateHeld {
		t.Fatalf("before the round: %s, want held", got.State)
	}
	w.g.LeaseRound(ctx)
	w.g.WaitIdle(ctx)
	expect(t, w.get(s.ID), gateway.StateAccepted, "", "")
}

// TestSharedStoreChecksReadInOneStatement: on a shared store a submission
// reads its user, its device and the device's registration record in one
// statement (store.CheckReader), none of them one by one, and is decided
// as by a process that owns its store and reads them apart: the
// registered supplier and another, a meter with no record, a device or a
// user unknown, a suspended user, and future dated requests checked
// against the record in effect when they execute, either side of a change
// of supplier.
func TestSharedStoreChecksReadInOneStatement(t *testing.T) {
	shared, reads := sharedWorld(t)
	own := newWorld(t)
	const suspended, stranger = "00-00-00-00-00-00-0C-01", "00-00-00-00-00-00-0F-01"
	change := shared.g.Now().Add(2 * time.Hour) // beta supplies the meter from then on
	for _, w := range []*world{shared, own} {
		st := w.g.Store()
		if err := st.PutRegistration(t.Context(), store.Registration{MPxN: "1900000000011", EffectiveFrom: change,
			Fuel: "electricity", ImportSupplier: beta, NetworkOperator: "00-00-00-00-00-00-0E-01"}); err != nil {
			t.Fatal(err)
		}
		if err := st.PutUser(t.Context(), store.User{ID: suspended, Role: "EIS", Party: suspended, Entered: true, Suspended: true}); err != nil {
			t.Fatal(err)
		}
	}
	read := map[string]any{"register": "total"}
	tests := []struct {
		note, user, device, service string
		in                          time.Duration // future dated: executes this long after now
		apart                       int64         // reads one by one (a hub's: its meters' records)
		state, reason               string        // what Submit answers
	}{
		{"the registered supplier", alpha, esme, "4.1", 0, 0, gateway.StateAcknowledged, ""},
		{"another supplier", beta, esme, "4.1", 0, 0, gateway.StateRejected, "NOT_REGISTERED"},
		{"a meter with no record", alpha, esme2, "4.1", 0, 0, gateway.StateRejected, "NOT_REGISTERED"},
		{"a hub (no MPxN of its own)", alpha, chf, "4.1", 0, 1, gateway.StateRejected, "DEVICE_TYPE"},
		{"an unknown device", alpha, "00-DB-00-00-00-00-E0-FF", "4.1", 0, 0, gateway.StateRejected, "DEVICE_UNKNOWN"},
		{"an unknown user", stranger, esme, "4.1", 0, 0, gateway.StateRejected, "UNKNOWN_USER"},
		{"a suspended user", suspended, esme, "4.1", 0, 0, gateway.StateRejected, "USER_SUSPENDED"},
		{"future dated before the change, the supplier then", alpha, esme, "4.4", time.Hour, 0, gateway.StatePending, ""},
		{"future dated after the change, the supplier now", alpha, esme, "4.4", 3 * time.Hour, 0, gateway.StateRejected, "NOT_REGISTERED"},
		{"future dated after the change, the supplier then", beta, esme, "4.4", 3 * time.Hour, 0, gateway.StatePending, ""},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			var got [2]store.Request
			for i, w := range []*world{shared, own} {
				req := engine.Request{UserID: tc.user, DeviceID: tc.device, Service: tc.service, Body: read}
				if tc.in > 0 {
					req.Category, req.ExecuteAt = "future_dated", w.g.Now().Add(tc.in)
					req.Body = map[string]any{"entry": int64(0)}
				}
				before := reads.inSubmit.Load()
				r, err := w.g.Submit(context.WithValue(t.Context(), submitting{}, true), tc.user, &req)
				if err != nil {
					t.Fatal(err)
				}
				if n := reads.inSubmit.Load() - before; w == shared && n != tc.apart {
					t.Errorf("the submission read a user, a device or records %d times one by one, want %d", n, tc.apart)
				}
				got[i] = r
			}
			for i, where := range []string{"shared store", "own store"} {
				if got[i].State != tc.state || got[i].Reason != tc.reason {
					t.Errorf("%s: %s %s %q, want %s %s", where, got[i].State, got[i].Reason, got[i].Message, tc.state, tc.reason)
				}
			}
		})
	}
	// A time the store cannot hold is refused by both alike (the shared
	// store's one read gives way to the reads apart).
	for _, w := range []*world{shared, own} {
		req := engine.Request{UserID: alpha, DeviceID: esme, Service: "4.4", Category: "future_dated",
			ExecuteAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), Body: map[string]any{"entry": int64(0)}}
		if r, err := w.g.Submit(t.Context(), alpha, &req); err != nil || r.State != gateway.StateRejected || r.Reason != "MALFORMED" {
			t.Errorf("executing in the year 3000: %s %s %q (%v), want rejected MALFORMED", r.State, r.Reason, r.Message, err)
		}
	}
}

// TestSharedStoreEmulatesDevicesEnrolledElsewhere: on a shared store,
// devices another process put on the inventory after this one built its
// emulated fleet (its demo world loaded as this one started) are reached
// when a Command first goes to them, not "not in the fleet".
func TestSharedStoreEmulatesDevicesEnrolledElsewhere(t *testing.T) {
	w, _ := sharedWorld(t)
	ctx := t.Context()
	const (
		hub   = "00-DB-00-00-00-00-C0-09"
		meter = "00-DB-00-00-00-00-E0-09"
		mpan  = "1900000000019"
	)
	if err := w.g.Store().PutRegistration(ctx, store.Registration{MPxN: mpan, Fuel: "electricity", ImportSupplier: alpha,
		NetworkOperator: "00-00-00-00-00-00-0E-01", Postcode: "LS1 1AA", Premises: "9"}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []store.Device{{ID: hub, Type: "CHF", Status: "commissioned"},
		{ID: meter, Type: "ESME", Status: "commissioned", MPxN: mpan, CHF: hub}} {
		if err := w.g.Store().PutDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	r, err := w.g.Submit(ctx, alpha, &engine.Request{UserID: alpha, DeviceID: meter, Service: "4.1", Body: map[string]any{"register": "total"}})
	if err != nil {
		t.Fatal(err)
	}
	w.g.WaitIdle(ctx)
	expect(t, w.get(r.ID), gateway.StateAccepted, "", "")
}

// failingUserReads fails the reads of a user made outside a Submit (the
// meter's look-up of its credential holder's key) with a transient error.
type failingUserReads struct{ store.Store }

func (s *failingUserReads) GetUser(ctx context.Context, id string) (store.User, error) {
	if ctx.Value(submitting{}) == nil {
		return store.User{}, fmt.Errorf("reading user %s: %w", id, io.ErrUnexpectedEOF)
	}
	return s.Store.GetUser(ctx, id)
}

func (s *failingUserReads) Unwrap() store.Store { return s.Store }

// TestKeyLookupFailureIsNoRefusal: when the emulation cannot read the key
// of the holder of a meter's credential (the store failing), the critical
// Command fails as an error, not as the meter's refusal of a signature
// that does not verify: no A4 alert accuses its sender.
func TestKeyLookupFailureIsNoRefusal(t *testing.T) {
	w := newWorldConfig(t, func(c *gateway.Config) { c.Shared = true },
		func(st store.Store) store.Store { return &failingUserReads{Store: st} })
	w.ctx = context.WithValue(t.Context(), submitting{}, true)
	r := w.submit(alpha, alpha, engine.Request{Service: "7.1"})
	if r.State == gateway.StateAccepted || r.Reason != "DEVICE_ERROR" || !strings.Contains(r.Message, "could not be read") {
		t.Fatalf("request %s %s %q, want failed DEVICE_ERROR, the key not read", r.State, r.Reason, r.Message)
	}
	ds, err := w.g.Store().Deliveries(t.Context(), alpha, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Kind == "alert" && d.Code == "A4" {
			t.Fatalf("an A4 alert to %s: %s", d.UserID, d.Payload)
		}
	}
}
