package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dccgate/dccgate/runtime/store"
)

// held is a request stored held on its predecessor after.
func held(id, user string, counter int, after string) store.Request {
	r := request(id, user, counter)
	r.State, r.After = "held", after
	return r
}

// ended is r in state, with its Service Response: an update of
// UpdateRequests from `from`.
func ended(r store.Request, state, from string) store.RequestUpdate {
	r.State, r.CompletedAt = state, t1
	return store.RequestUpdate{Request: r, From: from,
		Deliveries: []store.Delivery{{UserID: r.UserID, Kind: "response", RequestID: r.ID, CreatedAt: t1}}}
}

// moved is r moved from `from` to state, with no message.
func moved(r store.Request, state, from string) store.RequestUpdate {
	r.State = state
	return store.RequestUpdate{Request: r, From: from}
}

// wantUpdateErr checks that err is the error of update index, want.
func wantUpdateErr(t *testing.T, what string, err error, index int, want error) {
	t.Helper()
	var ue *store.UpdateError
	if !errors.As(err, &ue) || ue.Index != index || !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want update %d: %v", what, err, index, want)
	}
}

// states reads the states of the requests ids.
func states(t *testing.T, s store.Store, ids ...string) []string {
	t.Helper()
	out := make([]string, len(ids))
	for i, id := range ids {
		r, err := s.GetRequest(t.Context(), id)
		must(t, err)
		out[i] = r.State
	}
	return out
}

// responses counts the user's deliveries.
func responses(t *testing.T, s store.Store, user string) int {
	t.Helper()
	ds, err := s.Deliveries(t.Context(), user, 0, 0)
	must(t, err)
	return len(ds)
}

// testUpdateRequests: several updates in one transaction, each as
// UpdateRequest's, with their deliveries' cursors in their order; one
// that fails (stale, missing, a time out of range) fails them all,
// named by its index, and nothing is written.
func testUpdateRequests(t *testing.T, open func(*testing.T) store.Store) {
	ctx, s := t.Context(), open(t)
	putUser(t, s, "00-0A")
	var rs []store.Request
	for i := 1; i <= 4; i++ {
		r := request(fmt.Sprint("r", i), "00-0A", i)
		must(t, s.InsertRequest(ctx, r, uint64(i)))
		rs = append(rs, r)
	}
	out, err := s.UpdateRequests(ctx, nil)
	if err != nil || out != nil {
		t.Fatalf("no updates: %v %v", out, err)
	}

	two := ended(rs[2], "rejected", "acknowledged")
	two.Deliveries = append(two.Deliveries, store.Delivery{UserID: "00-0B", Kind: "alert", Code: "A7", CreatedAt: t1, DueAt: t2})
	ups := []store.RequestUpdate{ended(rs[0], "accepted", "acknowledged"), moved(rs[1], "executing", "acknowledged"), two}
	cursors, err := s.UpdateRequests(ctx, ups)
	must(t, err)
	if len(cursors) != 3 || len(cursors[0]) != 1 || len(cursors[1]) != 0 || len(cursors[2]) != 2 ||
		cursors[2][0] <= cursors[0][0] || cursors[2][1] <= cursors[2][0] {
		t.Fatalf("cursors %v, want [1] [] [2] increasing", cursors)
	}
	for _, u := range ups {
		got, err := s.GetRequest(ctx, u.Request.ID)
		must(t, err)
		same(t, "request after UpdateRequests", got, u.Request)
	}
	all, err := s.Deliveries(ctx, "", 0, 0)
	must(t, err)
	var want []store.Delivery
	for i, u := range ups {
		for j, d := range u.Deliveries {
			d.Cursor = cursors[i][j]
			want = append(want, d)
		}
	}
	same(t, "deliveries appended with the updates", all, want)

	bad := ended(rs[3], "accepted", "acknowledged")
	bad.Request.DueAt = store.MaxTime.Add(1)
	for _, tc := range []struct {
		note  string
		ups   []store.RequestUpdate
		index int
		want  error
	}{
		{"one stale", []store.RequestUpdate{ended(rs[1], "accepted", "executing"), ended(rs[0], "rejected", "acknowledged")}, 1, store.ErrStale},
		{"one missing", []store.RequestUpdate{ended(rs[1], "accepted", "executing"), ended(request("none", "00-0A", 9), "accepted", "acknowledged")}, 1, store.ErrNotFound},
		{"one stale first", []store.RequestUpdate{ended(rs[3], "accepted", "executing"), ended(rs[1], "accepted", "executing")}, 0, store.ErrStale},
	} {
		_, err := s.UpdateRequests(ctx, tc.ups)
		wantUpdateErr(t, tc.note, err, tc.index, tc.want)
		same(t, tc.note+": states after", states(t, s, "r1", "r2", "r3", "r4"), []string{"accepted", "executing", "rejected", "acknowledged"})
		same(t, tc.note+": messages after", responses(t, s, ""), 3)
	}
	_, err = s.UpdateRequests(ctx, []store.RequestUpdate{ended(rs[1], "accepted", "executing"), bad})
	var ue *store.UpdateError
	if !errors.As(err, &ue) || ue.Index != 1 {
		t.Fatalf("a time out of range: %v, want the error of update 1", err)
	}
	same(t, "a time out of range: states after", states(t, s, "r2", "r4"), []string{"executing", "acknowledged"})
}

// testUpdateRequestsHeld: a request ends only with the requests held
// behind it moved in the same call (para 126-127), written by either
// process; ended, they are seen together. A chain ended whole needs each
// ended link's own successors too. A request whose held successors have
// gone, or a move that does not end a request, needs none.
func testUpdateRequestsHeld(t *testing.T, open func(*testing.T) store.Store) {
	ss := two(t, open)
	ctx := t.Context()
	putUser(t, ss[0], "00-0A")
	n := 0
	// insert stores r (made with counter n+1) through s.
	insert := func(s store.Store, r store.Request) store.Request {
		t.Helper()
		n++
		must(t, s.InsertRequest(ctx, r, uint64(n)))
		return r
	}
	next := func() int { return n + 1 }
	p := insert(ss[0], request("p", "00-0A", next()))
	s1 := insert(ss[1], held("s1", "00-0A", next(), "p"))
	s2 := insert(ss[0], held("s2", "00-0A", next(), "p"))
	before := responses(t, ss[0], "00-0A")

	// Not ended while one is held; nothing written.
	_, err := ss[0].UpdateRequests(ctx, []store.RequestUpdate{ended(p, "accepted", "acknowledged")})
	wantUpdateErr(t, "the end of a request with two held", err, 0, store.ErrHeldSuccessor)
	_, err = ss[1].UpdateRequests(ctx, []store.RequestUpdate{ended(p, "accepted", "acknowledged"), moved(s1, "acknowledged", "held")})
	wantUpdateErr(t, "the end of a request with one of two held moved", err, 0, store.ErrHeldSuccessor)
	same(t, "states after the refusals", states(t, ss[1], "p", "s1", "s2"), []string{"acknowledged", "held", "held"})
	same(t, "messages after the refusals", responses(t, ss[1], "00-0A"), before)
	// A move that does not end it is not checked.
	_, err = ss[1].UpdateRequests(ctx, []store.RequestUpdate{moved(p, "pending", "acknowledged")})
	must(t, err)
	// Ended with both moved: one released, one pending (future dated).
	_, err = ss[1].UpdateRequests(ctx, []store.RequestUpdate{ended(p, "accepted", "pending"),
		moved(s1, "acknowledged", "held"), moved(s2, "pending", "held")})
	must(t, err)
	same(t, "states after the end", states(t, ss[0], "p", "s1", "s2"), []string{"accepted", "acknowledged", "pending"})
	same(t, "messages after the end", responses(t, ss[0], "00-0A"), before+1)

	// A chain: q fails, c1 held on it is cancelled, and c2 held on c1 too.
	q := insert(ss[0], request("q", "00-0A", next()))
	c1 := insert(ss[1], held("c1", "00-0A", next(), "q"))
	c2 := insert(ss[1], held("c2", "00-0A", next(), "c1"))
	_, err = ss[0].UpdateRequests(ctx, []store.RequestUpdate{ended(q, "rejected", "acknowledged"), ended(c1, "cancelled", "held")})
	wantUpdateErr(t, "a chain ended with its last link held", err, 1, store.ErrHeldSuccessor)
	cursors, err := ss[0].UpdateRequests(ctx, []store.RequestUpdate{ended(q, "rejected", "acknowledged"),
		ended(c1, "cancelled", "held"), ended(c2, "cancelled", "held")})
	must(t, err)
	same(t, "states of the chain", states(t, ss[1], "q", "c1", "c2"), []string{"rejected", "cancelled", "cancelled"})
	same(t, "messages of the chain", len(cursors), 3)

	// A successor moved by another meanwhile: its move is stale.
	r := insert(ss[0], request("r", "00-0A", next()))
	d1 := insert(ss[0], held("d1", "00-0A", next(), "r"))
	_, err = ss[1].UpdateRequest(ctx, ended(d1, "cancelled", "held").Request, "held", nil)
	must(t, err)
	_, err = ss[0].UpdateRequests(ctx, []store.RequestUpdate{ended(r, "accepted", "acknowledged"), moved(d1, "acknowledged", "held")})
	wantUpdateErr(t, "a successor gone from held", err, 1, store.ErrStale)
	// Its successor gone, the request ends alone, marked as it is.
	_, err = ss[0].UpdateRequests(ctx, []store.RequestUpdate{ended(r, "accepted", "acknowledged")})
	must(t, err)
	// A request held on one that has ended is stored: whoever stores it
	// reads the predecessor again.
	insert(ss[1], held("late", "00-0A", next(), "r"))
	// An end from an end (a final request's correction) is checked too.
	_, err = ss[1].UpdateRequests(ctx, []store.RequestUpdate{ended(r, "expired", "accepted")})
	wantUpdateErr(t, "the end of an ended request with one held", err, 0, store.ErrHeldSuccessor)
}

// testUpdateRequestsRace: a successor stored held while its predecessor
// ends in the other process is never lost between them: either the end
// moves it (the process ending the predecessor lists the held ones again
// while the store refuses), or the successor, stored after, finds the
// predecessor ended when it reads it (as the gateway reads it again). In
// half the rounds the predecessor has a successor already (it is marked:
// the insert of the second must still wait for an end under way).
func testUpdateRequestsRace(t *testing.T, open func(*testing.T) store.Store) {
	ss := two(t, open)
	ctx := t.Context()
	putUser(t, ss[0], "00-0A")
	const n = 30
	for i := range n {
		pred := fmt.Sprint("p", i)
		k := 3 * i // the counters of the round's requests
		p := request(pred, "00-0A", k+1)
		must(t, ss[0].InsertRequest(ctx, p, uint64(k+1)))
		if i%2 == 1 {
			must(t, ss[1].InsertRequest(ctx, held(fmt.Sprint("first", i), "00-0A", k+2, pred), uint64(k+2)))
		}
		succ := held(fmt.Sprint("s", i), "00-0A", k+3, pred)
		var predFinal bool
		errs := Race(2, func(j int) error {
			if j == 1 {
				if err := ss[1].InsertRequest(ctx, succ, uint64(k+3)); err != nil {
					return err
				}
				p, err := ss[1].GetRequest(ctx, pred)
				predFinal = p.Final()
				return err
			}
			for {
				hs, err := ss[0].ListRequests(ctx, store.RequestFilter{After: pred, States: []string{"held"}})
				if err != nil {
					return err
				}
				ups := []store.RequestUpdate{ended(p, "accepted", "acknowledged")}
				for _, h := range hs {
					ups = append(ups, moved(h, "acknowledged", "held"))
				}
				_, err = ss[0].UpdateRequests(ctx, ups)
				if !errors.Is(err, store.ErrHeldSuccessor) {
					return err
				}
			}
		})
		for _, err := range errs {
			must(t, err)
		}
		got, err := ss[0].GetRequest(ctx, succ.ID)
		must(t, err)
		if got.State == "held" && !predFinal {
			t.Fatalf("round %d: the successor was stored with its predecessor not ended, and the end did not move it", i)
		}
	}
}
