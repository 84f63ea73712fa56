package incidents_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dccgate/dccgate/incidents"
	"github.com/dccgate/dccgate/runtime/store"
)

// TestWhoSeesAnIncident: a meter's or an IHD's incident is of one
// supplier's equipment: the DCC is interested, not the other suppliers
// of the premises, who neither list nor read it (para 224, 227, 229-230,
// 250); an incident of the shared equipment (the DCC's areas, the HAN, a
// visit) is listed to and read by every supplier sharing it. The raiser
// sees its own incident, responsible for it or not.
func TestWhoSeesAnIncident(t *testing.T) {
	tests := []struct {
		note         string
		caller       string
		area, device string
		visit        bool
		sees         []string // the parties that list and read it, besides the DCC
	}{
		{"a gas meter, raised by its supplier", gas, "smart_meter", gsme, false, []string{gas}},
		{"an electricity meter, raised by its supplier", elec, "smart_meter", esme, false, []string{elec}},
		{"a gas meter, raised by the electricity supplier", elec, "smart_meter", gsme, false, []string{elec, gas}},
		{"the IHD of the gas meter", gas, "ihd", ihd, false, []string{gas}},
		{"the SMWAN: every supplier sharing the hub", gas, "smwan", chf, false, []string{elec, export, gas}},
		{"the HAN", gas, "han", chf, false, []string{elec, export, gas}},
		{"a visit to the hub", gas, "visit", chf, true, []string{elec, export, gas}},
		{"the hub's remote upgrade", elec, "hub_remote_upgrade", chf, false, []string{elec, export, gas}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			f := newFixture(t)
			ctx := t.Context()
			inc := f.raise(t, tc.caller, "3", tc.area, tc.device, tc.visit)
			for _, party := range []string{elec, export, gas, other, incidents.DCC} {
				want := party == incidents.DCC || slices.Contains(tc.sees, party)
				_, _, err := f.log.Get(ctx, party, inc.ID)
				if got := err == nil; got != want {
					t.Errorf("%s reads it: %v (%v), want %v", party, got, err, want)
				}
				if !want && code(err) != incidents.CodeNotFound {
					t.Errorf("%s: %v, want %s", party, err, incidents.CodeNotFound)
				}
				list, err := f.log.List(ctx, party)
				if err != nil {
					t.Fatal(err)
				}
				listed := slices.ContainsFunc(list, func(i store.Incident) bool { return i.ID == inc.ID })
				if listed != want {
					t.Errorf("%s lists it: %v, want %v (interested %v)", party, listed, want, inc.Interested)
				}
			}
		})
	}
}

// notices records what the log tells users.
type notices struct {
	mu  sync.Mutex
	got []notice
}

type notice struct {
	to    []string
	event string
	data  map[string]any
}

func (n *notices) notify(_ context.Context, to []string, event string, data map[string]any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, notice{slices.Clone(to), event, data})
}

// take returns the notices recorded since the last take.
func (n *notices) take() []notice {
	n.mu.Lock()
	defer n.mu.Unlock()
	got := n.got
	n.got = nil
	return got
}

// TestAllocationIsNotified: the user an incident is allocated to hears of
// it on its stream (INCIDENT_ALLOCATED), on raising, when the DCC
// allocates it, and when reopened, unless it raised the incident itself
// (para 224 "keeping interested and responsible parties informed", 227).
func TestAllocationIsNotified(t *testing.T) {
	const orphan, orphanHub = "00-DB-00-00-00-00-E0-09", "00-DB-00-00-00-00-C0-09" // a meter of an MPAN with no Registration Data
	type step func(t *testing.T, f *fixture) store.Incident
	raise := func(caller, area, device string, visit bool) step {
		return func(t *testing.T, f *fixture) store.Incident {
			t.Helper()
			return f.raise(t, caller, "3", area, device, visit)
		}
	}
	then := func(first step, next func(t *testing.T, f *fixture, inc store.Incident) (store.Incident, error)) step {
		return func(t *testing.T, f *fixture) store.Incident {
			t.Helper()
			inc := first(t, f)
			out, err := next(t, f, inc)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	tests := []struct {
		note     string
		do       step
		want     []string // the users told, in order
		reopened bool
	}{
		{"raised by another supplier: the lead supplier is told", raise(gas, "visit", chf, true), []string{elec}, false},
		{"raised by the gas supplier about its own meter: no one", raise(gas, "smart_meter", gsme, false), nil, false},
		{"raised by the electricity supplier about the gas meter: the gas supplier", raise(elec, "smart_meter", gsme, false), []string{gas}, false},
		{"the DCC's own: no user", raise(elec, "smwan", chf, false), nil, false},
		{"left open, then allocated by the DCC", then(raise(elec, "smart_meter", orphan, false), func(t *testing.T, f *fixture, inc store.Incident) (store.Incident, error) {
			return f.log.Allocate(t.Context(), incidents.DCC, inc.ID, other, "installed it")
		}), []string{other}, false},
		{"resolved, then reopened by the DCC", then(raise(gas, "visit", chf, true), func(t *testing.T, f *fixture, inc store.Incident) (store.Incident, error) {
			if _, err := f.log.Resolve(t.Context(), elec, inc.ID, "fixed"); err != nil {
				return inc, err
			}
			return f.log.Allocate(t.Context(), incidents.DCC, inc.ID, elec, "fix did not hold")
		}), []string{elec, elec}, true},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			rec := &notices{}
			f := newFixture(t, incidents.WithNotify(rec.notify))
			for _, d := range []store.Device{
				{ID: orphanHub, Type: "CHF", Status: "commissioned"},
				{ID: orphan, Type: "ESME", Status: "commissioned", MPxN: "1900000000099", CHF: orphanHub},
			} {
				if err := f.st.PutDevice(t.Context(), d); err != nil {
					t.Fatal(err)
				}
			}
			inc := tc.do(t, f)
			got := rec.take()
			var to []string
			for _, n := range got {
				if n.event != incidents.NoticeAllocated || len(n.to) != 1 {
					t.Fatalf("notice %+v", n)
				}
				to = append(to, n.to[0])
				if n.data["incident"] != inc.ID || !strings.Contains(n.data["message"].(string), inc.ID) || n.data["target_at"] == "" {
					t.Fatalf("notice %+v of incident %s", n, inc.ID)
				}
			}
			if !slices.Equal(to, tc.want) {
				t.Fatalf("told %v, want %v", to, tc.want)
			}
			if len(got) > 0 && got[len(got)-1].data["reopened"] != tc.reopened {
				t.Fatalf("last notice %+v, reopened want %v", got[len(got)-1], tc.reopened)
			}
		})
	}
}

// TestAreaOfTheDevice: an incident of an area about one kind of device is
// raised about a device of that kind (para 228-229): a meter's about a
// meter, an IHD's about an IHD, the hub's remote maintenance about the
// hub; else it would be open with no one responsible, forever.
func TestAreaOfTheDevice(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	tests := []struct {
		note, caller, area, device string
		want, clause               string
		says                       []string
	}{
		{"a meter's incident about the hub", elec, "smart_meter", chf, incidents.CodeAreaNotOfDevice, "para 229", []string{"ESME or GSME", chf, "of type CHF"}},
		{"a meter's incident about an IHD", gas, "smart_meter", ihd, incidents.CodeAreaNotOfDevice, "para 229", []string{"is of type IHD"}},
		{"an IHD's incident about a meter", gas, "ihd", gsme, incidents.CodeAreaNotOfDevice, "para 229", []string{"about a device of type IHD", "is of type GSME"}},
		{"the hub's maintenance about a meter", elec, "hub_remote_maintenance", esme, incidents.CodeAreaNotOfDevice, "para 228", []string{"CHF or GPF"}},
		{"a meter's incident about a meter", elec, "smart_meter", esme, "", "", nil},
		{"an IHD's incident about an IHD", gas, "ihd", ihd, "", "", nil},
		{"the SMWAN about a meter", elec, "smwan", esme, "", "", nil},
		{"the HAN about an IHD", gas, "han", ihd, "", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			d, err := f.log.Diagnose(ctx, tc.caller, "chf_reachability", tc.device)
			if err != nil {
				t.Fatal(err)
			}
			inc, err := f.log.Raise(ctx, incidents.RaiseInput{Caller: tc.caller, Category: "3", Area: tc.area, DeviceID: tc.device, Title: "silent", DiagnosisID: d.ID})
			if code(err) != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if tc.want == "" {
				if err != nil || inc.Status != incidents.StatusAllocated {
					t.Fatalf("raised %s (%v), want allocated", inc.Status, err)
				}
				return
			}
			var e *incidents.Error
			if !errors.As(err, &e) || e.Clause != tc.clause {
				t.Fatalf("clause of %v, want %s", err, tc.clause)
			}
			for _, s := range tc.says {
				if !strings.Contains(e.Message, s) {
					t.Errorf("%q does not say %q", e.Message, s)
				}
			}
		})
	}
}

// TestUnallocatedAwaitsTheDCC: an incident no one can be named
// responsible for (no supplier registered for the meter) is open, the
// DCC interested, and says it awaits the DCC's allocation (para 227);
// once allocated, the responsible supplier is no longer merely
// interested, and the DCC allocating it to itself is responsible.
func TestUnallocatedAwaitsTheDCC(t *testing.T) {
	const orphan, orphanHub = "00-DB-00-00-00-00-E0-09", "00-DB-00-00-00-00-C0-09"
	for _, tc := range []struct {
		note, to       string
		wantInterested []string
	}{
		{"allocated to a supplier", other, []string{incidents.DCC}},
		{"allocated to the DCC itself", "", nil},
	} {
		t.Run(tc.note, func(t *testing.T) {
			f := newFixture(t)
			ctx := t.Context()
			for _, d := range []store.Device{
				{ID: orphanHub, Type: "CHF", Status: "commissioned"},
				{ID: orphan, Type: "ESME", Status: "commissioned", MPxN: "1900000000099", CHF: orphanHub},
			} {
				if err := f.st.PutDevice(ctx, d); err != nil {
					t.Fatal(err)
				}
			}
			inc := f.raise(t, elec, "3", "smart_meter", orphan, false)
			if inc.Status != incidents.StatusOpen || inc.ResponsibleParty != "" || inc.ResponsibilityRule != "awaiting_dcc_allocation" || inc.Clause != "para 227" {
				t.Fatalf("raised %s, responsible %q (%s, %s): want open, awaiting the DCC's allocation", inc.Status, inc.ResponsibleParty, inc.ResponsibilityRule, inc.Clause)
			}
			if !slices.Equal(inc.Interested, []string{incidents.DCC}) {
				t.Fatalf("interested %v, want the DCC", inc.Interested)
			}
			stored, evs, err := f.log.Get(ctx, elec, inc.ID)
			if err != nil || !slices.Equal(stored.Interested, []string{incidents.DCC}) || stored.ResponsibilityRule != "awaiting_dcc_allocation" {
				t.Fatalf("stored %+v (%v)", stored, err)
			}
			if last := evs[len(evs)-1]; last.Kind != "awaiting_allocation" || last.Status != incidents.StatusOpen || !strings.Contains(last.Note, "awaiting the DCC's allocation") {
				t.Fatalf("timeline %+v", evs)
			}
			got, err := f.log.Allocate(ctx, incidents.DCC, inc.ID, tc.to, "")
			if err != nil || got.Status != incidents.StatusAllocated || got.ResponsibilityRule != "allocated_by_dcc" {
				t.Fatalf("%+v %v", got, err)
			}
			if !slices.Equal(got.Interested, tc.wantInterested) {
				t.Fatalf("interested %v, want %v", got.Interested, tc.wantInterested)
			}
		})
	}
}

// TestRecategorise: the DCC corrects the category a user chose (para 224):
// the priority and the target resolution time follow it, counted from the
// raising; the timeline records the old and the new; measures 4 and 5
// count the incident under its new category; the raiser and the
// responsible user are told. A user may not, nor may a closed incident be
// recategorised.
func TestRecategorise(t *testing.T) {
	rec := &notices{}
	f := newFixture(t, incidents.WithNotify(rec.notify))
	ctx := t.Context()
	sm := f.log.Spec().ServiceManagement.Incidents
	inc := f.raise(t, gas, "5", "visit", chf, true) // the electricity import supplier leads
	rec.take()
	f.clk.Advance(time.Hour)
	refusals := []struct {
		note, actor, id, category string
		want                      string
	}{
		{"by the raiser", gas, inc.ID, "1", incidents.CodeNotPermitted},
		{"by the responsible supplier", elec, inc.ID, "1", incidents.CodeNotPermitted},
		{"by a supplier that cannot see it", other, inc.ID, "1", incidents.CodeNotFound},
		{"to an unknown category", incidents.DCC, inc.ID, "9", incidents.CodeInvalid},
		{"to its category", incidents.DCC, inc.ID, "5", incidents.CodeInvalid},
	}
	for _, tc := range refusals {
		t.Run(tc.note, func(t *testing.T) {
			if _, err := f.log.Recategorise(ctx, tc.actor, tc.id, tc.category, ""); code(err) != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
	got, err := f.log.Recategorise(ctx, incidents.DCC, inc.ID, "1", "many premises affected")
	if err != nil {
		t.Fatal(err)
	}
	want := sm.Categories["1"]
	if got.Category != "1" || got.Priority != want.Priority || !got.TargetAt.Equal(inc.RaisedAt.Add(want.TargetResolution.Std())) {
		t.Fatalf("recategorised %s %s target %s", got.Category, got.Priority, got.TargetAt)
	}
	stored, evs, err := f.log.Get(ctx, incidents.DCC, inc.ID)
	if err != nil || stored.Category != "1" || !stored.TargetAt.Equal(got.TargetAt) {
		t.Fatalf("stored %+v %v", stored, err)
	}
	last := evs[len(evs)-1]
	if last.Kind != "recategorised" || last.Actor != incidents.DCC || !strings.Contains(last.Note, "from category 5") || !strings.Contains(last.Note, "to category 1") ||
		!strings.Contains(last.Note, "many premises affected") || !strings.Contains(string(last.Data), `"from":{"category":"5"`) {
		t.Fatalf("timeline %+v (%s)", last, last.Data)
	}
	told := rec.take()
	if len(told) != 1 || told[0].event != incidents.NoticeRecategorised || !slices.Equal(told[0].to, []string{gas, elec}) || told[0].data["category"] != "1" || told[0].data["previous_category"] != "5" {
		t.Fatalf("notices %+v", told)
	}
	// Past its new target (4h), not its old one (120h): late, and counted
	// by measure 4 (categories 1 and 2), not 5.
	f.clk.Advance(4 * time.Hour)
	if !incidents.Overdue(stored, f.clk.Now()) {
		t.Fatal("not overdue past its new target")
	}
	ms, err := f.log.Measures(ctx, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].Number != 4 || ms[0].Total != 1 || ms[0].Unresolved != 1 || ms[1].Number != 5 || ms[1].Total+ms[1].NotYetDue != 0 {
		t.Fatalf("measures %+v", ms)
	}
	if _, err := f.log.Resolve(ctx, elec, inc.ID, "hub replaced"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.log.Recategorise(ctx, incidents.DCC, inc.ID, "2", "resolved, not closed"); err != nil {
		t.Fatalf("a resolved incident: %v", err)
	}
	if _, err := f.log.Close(ctx, elec, inc.ID, "done"); err != nil {
		t.Fatal(err)
	}
	_, err = f.log.Recategorise(ctx, incidents.DCC, inc.ID, "3", "")
	var e *incidents.Error
	if code(err) != incidents.CodeTransition || !errors.As(err, &e) || e.Clause == "" {
		t.Fatalf("recategorised a closed incident: %v", err)
	}
}
