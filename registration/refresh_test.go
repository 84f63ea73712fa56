package registration_test

import (
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/registration"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// otherProcess is a second Service over the world's store at the same
// time: another `dccgate registration` run with the same --at, or another
// gateway process. Its counter of IDs starts again at 1.
func (w *world) otherProcess(t *testing.T) *registration.Service {
	t.Helper()
	svc, err := registration.New(w.st, spec.MustDefault(), clock.NewVirtual(w.clk.Now()))
	must(t, err)
	return svc
}

// TestIDsAreUniqueAcrossProcesses: the IDs of refresh requests, files and
// incidents made by two processes at the same time differ, so neither
// run fails on a duplicate key and every record is kept; an ID still
// reads as its time and sorts by it.
func TestIDsAreUniqueAcrossProcesses(t *testing.T) {
	tests := []struct {
		note string
		// run does the same kind of thing in each process, and returns
		// the IDs made.
		run       func(t *testing.T, w *world, svc *registration.Service, i int) []string
		files     int // files recorded in all
		incidents int // incidents recorded in all
	}{
		{
			note: "a refresh of each fuel",
			run: func(t *testing.T, w *world, svc *registration.Service, i int) []string {
				t.Helper()
				r, err := svc.RequestRefresh(t.Context(), rdpA, "", []string{"gas", "electricity"}[i])
				must(t, err)
				return []string{r.ID}
			},
		},
		{
			note: "the same file loaded twice: the second rejected, and recorded with its incident",
			run: func(t *testing.T, w *world, svc *registration.Service, i int) []string {
				t.Helper()
				w.seq = map[string]int64{} // the same sequence number each time
				res, err := svc.Load(t.Context(), rdpA, "f.csv", w.file(t, "csv", rdpA, registration.KindIncremental, "electricity", row(mpan1, "2026-01-01", eno, supA)))
				must(t, err)
				if i == 1 && (res.Applied() || len(res.Incidents) != 1 || res.Incidents[0].Kind != registration.IncidentRejected) {
					t.Fatalf("second load: %s", res.Summary())
				}
				ids := []string{res.File.ID}
				for _, in := range res.Incidents {
					ids = append(ids, in.ID)
				}
				return ids
			},
			files: 2, incidents: 1,
		},
		{
			note: "a file that does not conform, twice",
			run: func(t *testing.T, w *world, svc *registration.Service, i int) []string {
				t.Helper()
				res, err := svc.Load(t.Context(), rdpA, "bad.csv", []byte("nonsense\n"))
				must(t, err)
				return []string{res.File.ID, res.Incidents[0].ID}
			},
			files: 2, incidents: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			ctx := t.Context()
			sp := *spec.MustDefault()
			w := newWorld(t, &sp)
			var ids []string
			for i, svc := range []*registration.Service{w.svc, w.otherProcess(t)} {
				ids = append(ids, tc.run(t, w, svc, i)...)
			}
			seen := map[string]bool{}
			for _, id := range ids {
				if seen[id] {
					t.Fatalf("ID %s made twice: %v", id, ids)
				}
				seen[id] = true
				if !strings.Contains(id, "-"+start.Format("20060102T150405")) {
					t.Fatalf("ID %s does not read as its time", id)
				}
			}
			files, err := w.rep.RegistrationFiles(ctx, rdpA, 0)
			must(t, err)
			incs, err := w.svc.Incidents(ctx, store.IncidentFilter{})
			must(t, err)
			if len(files) != tc.files || len(incs) != tc.incidents {
				t.Fatalf("%d files and %d incidents recorded, want %d and %d", len(files), len(incs), tc.files, tc.incidents)
			}
			for _, in := range incs {
				if in.File != "" && !slices.ContainsFunc(files, func(f store.RegistrationFile) bool { return f.ID == in.File }) {
					t.Fatalf("incident %s names file %s, not recorded", in.ID, in.File)
				}
			}
		})
	}
	// Later IDs sort after earlier ones.
	w := newWorld(t, nil)
	var ids []string
	for _, d := range []time.Duration{0, time.Nanosecond, time.Second, 36 * time.Hour} {
		w.clk.Set(start.Add(d))
		r, err := w.svc.RequestRefresh(t.Context(), rdpA, "", "")
		must(t, err)
		ids = append(ids, r.ID)
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatalf("IDs do not sort by time: %v", ids)
	}
}

// TestRefreshOnlyOfANominatedRDP: a data refresh is asked only of an RDP
// nominated for what it asks (para 84, 90-91), so that no RDP is blamed
// for a refresh it cannot provide. RDP A serves ENO (electricity) and GNO
// (gas), RDP B serves ENO2 (electricity), RDP C no one.
func TestRefreshOnlyOfANominatedRDP(t *testing.T) {
	const rdpC = "00-00-00-00-00-00-0D-03"
	clause := func(sp *spec.Spec) string {
		return sp.RegistrationData.NominationClause + ", " + strings.TrimPrefix(sp.RegistrationData.RefreshClause, "para ")
	}
	tests := []struct {
		note     string
		rdp      string
		no, fuel string
		code     string   // "" accepted
		says     []string // the refusal names these
	}{
		{note: "for its network operator", rdp: rdpA, no: eno},
		{note: "for a fuel it serves", rdp: rdpA, fuel: "gas"},
		{note: "for everything it serves", rdp: rdpB},
		{note: "for the electricity it serves", rdp: rdpB, fuel: "electricity"},
		{note: "for a network operator that nominated another RDP", rdp: rdpB, no: eno, code: registration.RefuseNotNominated,
			says: []string{eno + " has nominated " + rdpA + " as its RDP, not " + rdpB}},
		{note: "of an RDP no one nominated", rdp: rdpC, code: registration.RefuseNotNominated,
			says: []string{rdpC + " is not nominated by any network operator", eno + " nominates " + rdpA, eno2 + " nominates " + rdpB, gno + " nominates " + rdpA}},
		{note: "of an RDP no one nominated, for a network operator", rdp: rdpC, no: gno, code: registration.RefuseNotNominated,
			says: []string{gno + " has nominated " + rdpA + " as its RDP, not " + rdpC}},
		{note: "for a fuel no network operator of which nominated it", rdp: rdpB, fuel: "gas", code: registration.RefuseNotNominated,
			says: []string{rdpB + " is not nominated by a gas network operator", gno + " nominates " + rdpA}},
		{note: "an unknown fuel", rdp: rdpA, fuel: "water", code: registration.RefuseUnknownFuel, says: []string{"electricity, gas"}},
		{note: "a supplier as network operator", rdp: rdpA, no: supA, code: registration.RefuseNotNetworkOperator},
		{note: "gas of the electricity network operator", rdp: rdpA, no: eno, fuel: "gas", code: registration.RefuseFuelMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			ctx := t.Context()
			sp := *spec.MustDefault()
			sp.RegistrationData.FileExpectedEvery = nil // the refreshes alone
			w := newWorld(t, &sp)
			_, err := w.svc.AddRDP(ctx, rdpC, "RDP C", "")
			must(t, err)
			_, err = w.svc.RequestRefresh(ctx, tc.rdp, tc.no, tc.fuel)
			if tc.code == "" {
				must(t, err)
			} else {
				var refused *registration.Error
				if !errors.As(err, &refused) || !errors.Is(err, &registration.Error{Code: tc.code}) {
					t.Fatalf("err %v, want a refusal %s", err, tc.code)
				}
				if refused.Code == registration.RefuseNotNominated && refused.Clause != clause(&sp) {
					t.Fatalf("clause %q, want %q", refused.Clause, clause(&sp))
				}
				if refused.Clause == "" {
					t.Fatalf("no clause: %v", err)
				}
				for _, s := range tc.says {
					if !strings.Contains(refused.Message, s) {
						t.Fatalf("%q does not say %q", refused.Message, s)
					}
				}
			}
			// A refused refresh is not kept, so no sweep blames the RDP.
			w.clk.Advance(72 * time.Hour)
			raised, err := w.svc.Sweep(ctx)
			must(t, err)
			if want := map[bool]int{true: 1, false: 0}[tc.code == ""]; len(raised) != want {
				t.Fatalf("raised %+v, want %d", raised, want)
			}
			for _, in := range raised {
				if in.RDP != tc.rdp {
					t.Fatalf("raised against %s: %+v", in.RDP, in)
				}
			}
		})
	}
}

// TestOverdueRefreshNamesTheMissingFile: the not_received incident of an
// overdue refresh names the fuel whose full file has not come, and the
// ones that have. RDP A serves ENO (electricity) and GNO (gas).
func TestOverdueRefreshNamesTheMissingFile(t *testing.T) {
	tests := []struct {
		note     string
		no, fuel string
		send     []string // full files sent before the due time, by fuel
		says     []string
		not      []string
	}{
		{note: "everything, nothing sent", send: nil,
			says: []string{"a refresh of everything it provides (electricity and gas), and no full electricity or gas file has been received since it was asked for"}},
		{note: "everything, electricity sent", send: []string{"electricity"},
			says: []string{"(electricity and gas), and no full gas file has been received", "the full electricity file F-"},
			not:  []string{"no full electricity"}},
		{note: "everything, gas sent", send: []string{"gas"},
			says: []string{"and no full electricity file has been received", "the full gas file F-"}},
		{note: "gas, nothing sent", fuel: "gas", says: []string{"a refresh of its gas data, and no full gas file"}},
		{note: "the GNO's, electricity sent", no: gno, send: []string{"electricity"},
			says: []string{"a refresh of network operator " + gno + "'s data, and no full gas file"}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			ctx := t.Context()
			sp := *spec.MustDefault()
			sp.RegistrationData.FileExpectedEvery = nil
			w := newWorld(t, &sp)
			req, err := w.svc.RequestRefresh(ctx, rdpA, tc.no, tc.fuel)
			must(t, err)
			for _, fuel := range tc.send {
				w.clk.Advance(time.Hour)
				r := row(mpan1, "2026-01-01", eno, supA)
				if fuel == "gas" {
					r = row(mprn1, "2026-01-01", gno, gasSup)
				}
				res, err := w.svc.Load(ctx, rdpA, fuel, w.file(t, "csv", rdpA, registration.KindFull, fuel, r))
				must(t, err)
				if !res.Applied() {
					t.Fatal(res.Summary())
				}
			}
			w.clk.Set(req.DueAt.Add(time.Minute))
			raised, err := w.svc.Sweep(ctx)
			must(t, err)
			if len(raised) != 1 || raised[0].Kind != registration.IncidentNotReceived {
				t.Fatalf("raised %+v", raised)
			}
			for _, s := range tc.says {
				if !strings.Contains(raised[0].Summary, s) {
					t.Fatalf("%q does not say %q", raised[0].Summary, s)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(raised[0].Summary, s) {
					t.Fatalf("%q says %q", raised[0].Summary, s)
				}
			}
		})
	}
}
