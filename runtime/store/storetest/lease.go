package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// RunLeases runs the suite of store.Leaser (open as for Run); it fails if
// the store is not one.
func RunLeases(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) store.Store)
	}{
		{"ClaimRace", testClaimRace},
		{"TakeoverFences", testTakeoverFences},
		{"RenewAndRelease", testRenewAndRelease},
		{"WaitingRequestsStamped", testWaitingRequestsStamped},
		{"ReclaimRace", testReclaimRace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open)
		})
	}
}

// wall is a wall-clock instant for leases: second n.
func wall(n int) time.Time { return time.Unix(1_800_000_000+int64(n), 0) }

func leaser(t *testing.T, s store.Store) store.Leaser {
	t.Helper()
	l, ok := store.As[store.Leaser](s)
	if !ok {
		t.Fatalf("%T is not a store.Leaser", s)
	}
	return l
}

func testClaimRace(t *testing.T, open func(*testing.T) store.Store) {
	ss := two(t, open)
	ctx := t.Context()
	putUser(t, ss[0], "00-0A")
	must(t, ss[0].InsertRequest(ctx, request("r1", "00-0A", 1), 1))
	// The user's role as it is when the request is claimed, not when it
	// was stored: the claim reads it.
	must(t, ss[1].PutUser(ctx, store.User{ID: "00-0A", Role: "ENO", Entered: true}))
	claimed := make([]store.Request, workers())
	roles := make([]string, workers())
	errs := Race(workers(), func(i int) error {
		var err error
		claimed[i], roles[i], err = leaser(t, ss[i%2]).ClaimRequest(ctx, "r1", fmt.Sprintf("node-%d", i), wall(100))
		return err
	})
	w := oneWins(t, "ClaimRequest race", errs, store.ErrStale)
	got, err := ss[1].GetRequest(ctx, "r1")
	must(t, err)
	same(t, "claimed request as returned and as stored", claimed[w], got)
	same(t, "the user's role, as the claim read it", roles[w], "ENO")
	if got.State != "executing" || got.Attempts != 1 {
		t.Fatalf("after the claim: state %s, attempts %d; want executing, 1", got.State, got.Attempts)
	}
	_, _, err = leaser(t, ss[0]).ClaimRequest(ctx, "none", "node", wall(100))
	wantErr(t, "ClaimRequest unknown", err, store.ErrNotFound)
	// A request whose user is stored no more (a world reset between):
	// claimed all the same, with no role.
	must(t, ss[0].InsertRequest(ctx, request("r2", "00-0Z", 2), 0))
	r2, role, err := leaser(t, ss[1]).ClaimRequest(ctx, "r2", "node", wall(100))
	must(t, err)
	same(t, "claimed without a user: state, role", []any{r2.State, role}, []any{"executing", ""})
}

// testTakeoverFences: a process whose lease expired and whose request was
// taken over cannot complete it; the one that took it over can, once.
func testTakeoverFences(t *testing.T, open func(*testing.T) store.Store) {
	ss := two(t, open)
	ctx := t.Context()
	a, b := leaser(t, ss[0]), leaser(t, ss[1])
	putUser(t, ss[0], "00-0A")
	must(t, ss[0].InsertRequest(ctx, request("r1", "00-0A", 1), 1))
	ra, _, err := a.ClaimRequest(ctx, "r1", "A", wall(10))
	must(t, err)
	ids, err := b.ReclaimRequests(ctx, "B", wall(5), wall(20))
	must(t, err)
	same(t, "reclaimed under a live lease", len(ids), 0)
	ids, err = b.ReclaimRequests(ctx, "B", wall(11), wall(40))
	must(t, err)
	same(t, "reclaimed after the lease expired", ids, []string{"r1"})
	got, err := ss[1].GetRequest(ctx, "r1")
	must(t, err)
	same(t, "state after the takeover", got.State, "acknowledged")
	rb, _, err := b.ClaimRequest(ctx, "r1", "B", wall(40))
	must(t, err)
	same(t, "attempts of the second claim", rb.Attempts, 2)

	done := func(r store.Request, who string) store.Request {
		r.State, r.Message, r.CompletedAt = "accepted", who, t1
		return r
	}
	resp := []store.Delivery{{UserID: "00-0A", Kind: "response", RequestID: "r1"}}
	_, err = ss[0].UpdateRequest(ctx, done(ra, "A"), "executing", resp)
	wantErr(t, "completion by the process that lost its lease", err, store.ErrStale)
	_, err = ss[1].UpdateRequest(ctx, done(rb, "B"), "executing", resp)
	must(t, err)
	got, err = ss[0].GetRequest(ctx, "r1")
	must(t, err)
	same(t, "completed by", got.Message, "B")
	ds, err := ss[0].Deliveries(ctx, "00-0A", 0, 0)
	must(t, err)
	same(t, "Service Responses", len(ds), 1)
	ids, err = a.ReclaimRequests(ctx, "A", wall(1000), wall(1100))
	must(t, err)
	same(t, "final requests reclaimed", len(ids), 0)
}

func testRenewAndRelease(t *testing.T, open func(*testing.T) store.Store) {
	ctx, s := t.Context(), open(t)
	l := leaser(t, s)
	putUser(t, s, "00-0A")
	for i := 1; i <= 3; i++ {
		must(t, s.InsertRequest(ctx, request(fmt.Sprint("r", i), "00-0A", i), uint64(i)))
	}
	for _, id := range []string{"r1", "r2"} {
		_, _, err := l.ClaimRequest(ctx, id, "A", wall(10))
		must(t, err)
	}
	_, _, err := l.ClaimRequest(ctx, "r3", "B", wall(10))
	must(t, err)
	n, err := l.RenewLeases(ctx, "A", wall(30))
	must(t, err)
	same(t, "leases renewed", n, 2)
	ids, err := l.ReclaimRequests(ctx, "C", wall(20), wall(50))
	must(t, err)
	same(t, "reclaimed at 20 (A renewed to 30, B held to 10)", ids, []string{"r3"})
	n, err = l.RenewLeases(ctx, "A", time.Time{})
	must(t, err)
	same(t, "leases given up", n, 2)
	ids, err = l.ReclaimRequests(ctx, "C", wall(0), wall(50))
	must(t, err)
	slices.Sort(ids)
	same(t, "reclaimed at once after A gave them up", ids, []string{"r1", "r2"})
}

// testWaitingRequestsStamped: an acknowledged request nobody claimed yet is
// given a lease's time before it is taken over.
func testWaitingRequestsStamped(t *testing.T, open func(*testing.T) store.Store) {
	ctx, s := t.Context(), open(t)
	l := leaser(t, s)
	putUser(t, s, "00-0A")
	must(t, s.InsertRequest(ctx, request("r1", "00-0A", 1), 1))
	for _, tc := range []struct {
		note           string
		expired, lease int
		want           int
	}{
		{"first look stamps it", 100, 130, 0},
		{"still within the stamp", 120, 150, 0},
		{"stamp expired", 131, 160, 1},
		{"now leased to the reclaimer", 140, 170, 0},
	} {
		ids, err := l.ReclaimRequests(ctx, "B", wall(tc.expired), wall(tc.lease))
		must(t, err)
		same(t, tc.note, len(ids), tc.want)
	}
}

func testReclaimRace(t *testing.T, open func(*testing.T) store.Store) {
	ss := two(t, open)
	ctx := t.Context()
	putUser(t, ss[0], "00-0A")
	const n = 40
	for i := 1; i <= n; i++ {
		id := fmt.Sprint("r", i)
		must(t, ss[0].InsertRequest(ctx, request(id, "00-0A", i), uint64(i)))
		_, _, err := leaser(t, ss[0]).ClaimRequest(ctx, id, "dead", wall(1))
		must(t, err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	errs := Race(workers(), func(i int) error {
		ids, err := leaser(t, ss[i%2]).ReclaimRequests(ctx, fmt.Sprint("node-", i), wall(2), wall(100))
		mu.Lock()
		for _, id := range ids {
			got[id]++
		}
		mu.Unlock()
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("reclaimer %d: %v", i, err)
		}
	}
	if len(got) != n {
		t.Fatalf("%d requests reclaimed, want %d", len(got), n)
	}
	for id, c := range got {
		if c != 1 {
			t.Errorf("%s reclaimed %d times", id, c)
		}
	}
}
