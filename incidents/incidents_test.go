package incidents_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/incidents"
	"github.com/dccgate/dccgate/runtime/store"
	_ "github.com/dccgate/dccgate/runtime/store/sqlite"
	"github.com/dccgate/dccgate/spec"
)

const (
	elec   = "00-00-00-00-00-00-0A-01" // electricity import supplier
	export = "00-00-00-00-00-00-0A-03" // export supplier
	gas    = "00-00-00-00-00-00-0B-02" // gas supplier, another party
	other  = "00-00-00-00-00-00-0C-01" // a supplier of other premises
	chf    = "00-DB-00-00-00-00-C0-01"
	esme   = "00-DB-00-00-00-00-E0-01"
	gsme   = "00-DB-00-00-00-00-6A-01"
	ihd    = "00-DB-00-00-00-00-1D-01"
)

// friday is a working Friday at noon (UTC, which is GMT in March).
var friday = time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)

type fixture struct {
	log *incidents.Log
	clk *clock.Virtual
	st  incidents.Store
}

// newFixture is a log over a store of its own: the premises of chf shared
// by elec and export (electricity) and gas, an IHD of the gas meter, on a
// virtual clock at friday; opts configure the log.
func newFixture(t *testing.T, opts ...incidents.Option) *fixture {
	t.Helper()
	ctx := t.Context()
	raw, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "i.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	st := raw.(incidents.Store)
	for _, u := range []store.User{
		{ID: elec, Role: "EIS", Party: "Alpha", Entered: true}, {ID: export, Role: "EES", Party: "Alpha", Entered: true},
		{ID: gas, Role: "GIS", Party: "Beta", Entered: true}, {ID: other, Role: "EIS", Party: "Gamma", Entered: true},
		{ID: "00-00-00-00-00-00-0D-01", Role: "EIS", Party: "Delta", Entered: false},
	} {
		if err := st.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []store.Registration{
		{MPxN: "1900000000011", Fuel: "electricity", ImportSupplier: elec, ExportSupplier: export, NetworkOperator: "00-00-00-00-00-00-0E-01"},
		{MPxN: "7000011", Fuel: "gas", ImportSupplier: gas, NetworkOperator: "00-00-00-00-00-00-06-01"},
	} {
		if err := st.PutRegistration(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []store.Device{
		{ID: chf, Type: "CHF", Status: "commissioned"},
		{ID: esme, Type: "ESME", Status: "commissioned", MPxN: "1900000000011", CHF: chf},
		{ID: gsme, Type: "GSME", Status: "commissioned", MPxN: "7000011", CHF: chf},
		{ID: ihd, Type: "IHD", Status: "commissioned", CHF: chf, Meter: gsme},
	} {
		if err := st.PutDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	clk := clock.NewVirtual(friday)
	tools := map[string]incidents.DiagnoseFunc{
		"chf_reachability": func(ctx context.Context, caller, device string) (string, []byte, error) {
			return "unreachable: the Communications Hub has no power", []byte(`{"reachable":false,"chf":"` + chf + `"}`), nil
		},
	}
	l, err := incidents.New(ctx, st, spec.MustDefault(), clk, tools, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{log: l, clk: clk, st: st}
}

func (f *fixture) raise(t *testing.T, caller, category, area, device string, visit bool) store.Incident {
	t.Helper()
	d, err := f.log.Diagnose(t.Context(), caller, "chf_reachability", device)
	if err != nil {
		t.Fatal(err)
	}
	inc, err := f.log.Raise(t.Context(), incidents.RaiseInput{Caller: caller, Category: category, Area: area, DeviceID: device, NeedsVisit: visit, Title: "no data from the hub", DiagnosisID: d.ID})
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

func code(err error) string {
	var e *incidents.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestRaiseIsRefused(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	d, err := f.log.Diagnose(ctx, elec, "chf_reachability", esme)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		note string
		in   incidents.RaiseInput
		want string
	}{
		{"a SEC Party that is not a user (para 254)", incidents.RaiseInput{Caller: "Some Party Ltd", Category: "3", Area: "smwan", Title: "x", DiagnosisID: d.ID}, incidents.CodeNotAUser},
		{"a user that has not completed entry", incidents.RaiseInput{Caller: "00-00-00-00-00-00-0D-01", Category: "3", Area: "smwan", Title: "x"}, incidents.CodeNotAUser},
		{"without a diagnostic (para 226)", incidents.RaiseInput{Caller: elec, Category: "3", Area: "smwan", Title: "x"}, incidents.CodeDiagnosticRequired},
		{"with another user's diagnostic", incidents.RaiseInput{Caller: gas, Category: "3", Area: "smwan", Title: "x", DiagnosisID: d.ID}, incidents.CodeDiagnosticRequired},
		{"an unknown category", incidents.RaiseInput{Caller: elec, Category: "9", Area: "smwan", Title: "x", DiagnosisID: d.ID}, incidents.CodeInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			if _, err := f.log.Raise(ctx, tc.in); code(err) != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
}

func TestRaiseAllocates(t *testing.T) {
	tests := []struct {
		note            string
		caller          string
		area, device    string
		visit           bool
		wantParty       string
		wantUser        string
		wantInterested  []string
		wantTargetHours int
		category        string
	}{
		{"SMWAN: the DCC", elec, "smwan", esme, false, "dcc", "", []string{export, gas}, 8, "2"},
		{"gas meter: the gas supplier, the DCC alone interested", elec, "smart_meter", gsme, false, "supplier", gas, []string{"dcc"}, 72, "4"},
		{"IHD of the gas meter: the gas supplier, the DCC alone interested", gas, "ihd", ihd, false, "supplier", gas, []string{"dcc"}, 120, "5"},
		{"hub needing a visit: the electricity import supplier leads", gas, "hub_remote_maintenance", chf, true, "supplier", elec, []string{export, "dcc"}, 4, "1"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			f := newFixture(t)
			inc := f.raise(t, tc.caller, tc.category, tc.area, tc.device, tc.visit)
			if inc.Status != incidents.StatusAllocated || inc.ResponsibleParty != tc.wantParty || inc.ResponsibleUser != tc.wantUser {
				t.Fatalf("allocated %s to %s %s (%s)", inc.Status, inc.ResponsibleParty, inc.ResponsibleUser, inc.ResponsibilityRule)
			}
			if !slices.Equal(inc.Interested, tc.wantInterested) {
				t.Fatalf("interested %v, want %v", inc.Interested, tc.wantInterested)
			}
			if got := inc.TargetAt.Sub(inc.RaisedAt); got != time.Duration(tc.wantTargetHours)*time.Hour {
				t.Fatalf("target resolution %s", got)
			}
			_, evs, err := f.log.Get(t.Context(), tc.caller, inc.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 2 || evs[0].Kind != "raised" || evs[1].Kind != "allocated" {
				t.Fatalf("timeline %+v", evs)
			}
			var diag incidents.Diagnosis
			if err := json.Unmarshal(evs[0].Data, &diag); err != nil || diag.Tool != "chf_reachability" || !strings.Contains(string(diag.Data), `"reachable":false`) {
				t.Fatalf("diagnostic not attached: %s (%v)", evs[0].Data, err)
			}
		})
	}
}

func TestIsolationAndLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	inc := f.raise(t, elec, "3", "smart_meter", esme, false) // elec is responsible for its own meter
	if _, _, err := f.log.Get(ctx, other, inc.ID); code(err) != incidents.CodeNotFound {
		t.Fatalf("another supplier opened the incident: %v", err)
	}
	if _, _, err := f.log.Get(ctx, gas, inc.ID); code(err) != incidents.CodeNotFound {
		t.Fatalf("the gas supplier of the premises opened an incident of the electricity meter: %v", err)
	}
	if _, err := f.log.Resolve(ctx, gas, inc.ID, "not mine"); code(err) != incidents.CodeNotFound {
		t.Fatalf("another supplier of the premises resolved it: %v", err)
	}
	if _, err := f.log.Update(ctx, elec, inc.ID, "meter replaced", []byte(`{"visit":"2026-03-06"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.log.Close(ctx, elec, inc.ID, ""); code(err) != incidents.CodeTransition {
		t.Fatalf("closed before resolution: %v", err)
	}
	if _, err := f.log.Resolve(ctx, elec, inc.ID, "fixed"); err != nil {
		t.Fatal(err)
	}
	got, err := f.log.Close(ctx, elec, inc.ID, "confirmed")
	if err != nil || got.Status != incidents.StatusClosed {
		t.Fatalf("%+v %v", got, err)
	}
	_, evs, _ := f.log.Get(ctx, elec, inc.ID)
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	if !slices.Equal(kinds, []string{"raised", "allocated", "update", "resolved", "closed"}) {
		t.Fatalf("timeline %v", kinds)
	}
}

// The party responsible for an incident closes it, not its raiser (para
// 228-229): the lead supplier a visit to shared equipment, the DCC the
// network.
func TestClosureByTheResponsibleParty(t *testing.T) {
	tests := []struct {
		note, caller, area, device string
		visit                      bool
		responsible                string // resolves and closes
	}{
		{"a hub needing a visit, raised by the gas supplier", gas, "visit", chf, true, elec},
		{"the SMWAN, raised by a supplier", elec, "smwan", esme, false, incidents.DCC},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			f := newFixture(t)
			ctx := t.Context()
			inc := f.raise(t, tc.caller, "3", tc.area, tc.device, tc.visit)
			if _, err := f.log.Resolve(ctx, tc.responsible, inc.ID, "fixed"); err != nil {
				t.Fatal(err)
			}
			if _, err := f.log.Close(ctx, tc.caller, inc.ID, "mine to close?"); code(err) != incidents.CodeNotPermitted {
				t.Fatalf("the raiser, not responsible, closed it: %v", err)
			}
			got, err := f.log.Close(ctx, tc.responsible, inc.ID, "done")
			if err != nil || got.Status != incidents.StatusClosed {
				t.Fatalf("the responsible party could not close it: %+v %v", got, err)
			}
		})
	}
}

// TestDCCAllocatesAnOpenIncident: an incident the policy leaves open (no
// supplier registered for the meter) is allocated by the DCC (para 227),
// to a supplier who then resolves and closes it, or to itself.
func TestDCCAllocatesAnOpenIncident(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	const orphan = "00-DB-00-00-00-00-E0-09" // a meter of an MPAN with no Registration Data
	for _, d := range []store.Device{
		{ID: "00-DB-00-00-00-00-C0-09", Type: "CHF", Status: "commissioned"},
		{ID: orphan, Type: "ESME", Status: "commissioned", MPxN: "1900000000099", CHF: "00-DB-00-00-00-00-C0-09"},
	} {
		if err := f.st.PutDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	inc := f.raise(t, elec, "3", "smart_meter", orphan, false)
	if inc.Status != incidents.StatusOpen {
		t.Fatalf("raised %s, want open (no one responsible)", inc.Status)
	}
	refusals := []struct {
		note, actor, user, code string
	}{
		{"a supplier allocates", elec, other, incidents.CodeNotPermitted},
		{"to no user", incidents.DCC, "00-00-00-00-00-00-0F-09", incidents.CodeInvalid},
	}
	for _, tc := range refusals {
		if _, err := f.log.Allocate(ctx, tc.actor, inc.ID, tc.user, ""); code(err) != tc.code {
			t.Fatalf("%s: %v, want %s", tc.note, err, tc.code)
		}
	}
	got, err := f.log.Allocate(ctx, incidents.DCC, inc.ID, other, "the supplier that installed it")
	if err != nil || got.Status != incidents.StatusAllocated || got.ResponsibleUser != other || got.ResponsibleParty != "supplier" {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := f.log.Allocate(ctx, incidents.DCC, inc.ID, "", ""); code(err) != incidents.CodeTransition {
		t.Fatalf("allocated twice: %v", err)
	}
	if _, err := f.log.Resolve(ctx, other, inc.ID, "replaced"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.log.Close(ctx, other, inc.ID, "done"); err != nil {
		t.Fatal(err)
	}
}

func TestMajorIncidentReview(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	inc := f.raise(t, gas, "1", "visit", chf, true) // the electricity import supplier leads
	if _, err := f.log.DeclareMajor(ctx, inc.ID, "", ""); code(err) != incidents.CodeInvalid {
		t.Fatalf("declared without managers: %v", err)
	}
	inc, err := f.log.DeclareMajor(ctx, inc.ID, "Dana DCC", "Eli Alpha")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(inc.Notified, []string{elec, export, gas}) {
		t.Fatalf("notified %v", inc.Notified)
	}
	// Resolved on a Friday: two working days are Monday and Tuesday; the
	// report is due by the end of Tuesday (UK time).
	inc, err = f.log.Resolve(ctx, elec, inc.ID, "hub replaced")
	if err != nil {
		t.Fatal(err)
	}
	wantDue := time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)
	if !inc.ReviewDueAt.Equal(wantDue) {
		t.Fatalf("review due %s, want %s", inc.ReviewDueAt, wantDue)
	}
	tests := []struct {
		at   time.Time
		want bool
	}{{time.Date(2026, 3, 10, 23, 59, 0, 0, time.UTC), false}, {wantDue, true}}
	for _, tc := range tests {
		if got := incidents.ReviewOverdue(inc, tc.at); got != tc.want {
			t.Fatalf("overdue at %s: %v", tc.at, got)
		}
	}
	if _, err := f.log.SubmitReview(ctx, gas, inc.ID, "report"); code(err) != incidents.CodeNotPermitted {
		t.Fatalf("a party not responsible reviewed: %v", err)
	}
	f.clk.Advance(24 * time.Hour)
	if inc, err = f.log.SubmitReview(ctx, elec, inc.ID, "cause: a faulty batch; action: replaced; controls reviewed"); err != nil {
		t.Fatal(err)
	}
	if incidents.ReviewOverdue(inc, wantDue.Add(time.Hour)) {
		t.Fatal("overdue after the review was submitted")
	}
}

func TestMeasures4And5(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	// Category 1 (4h): one resolved in 3h, one in 5h. Category 3 (24h):
	// one resolved in time, one never. Category 5 (120h): not yet due.
	a := f.raise(t, elec, "1", "smwan", esme, false)
	b := f.raise(t, elec, "1", "smwan", esme, false)
	c := f.raise(t, elec, "3", "smwan", esme, false)
	f.raise(t, elec, "3", "smwan", esme, false)
	f.raise(t, elec, "5", "smwan", esme, false)
	resolve := func(id string) {
		t.Helper()
		if _, err := f.log.Resolve(ctx, incidents.DCC, id, ""); err != nil {
			t.Fatal(err)
		}
	}
	f.clk.Advance(3 * time.Hour)
	resolve(a.ID)
	resolve(c.ID)
	f.clk.Advance(2 * time.Hour)
	resolve(b.ID)
	f.clk.Advance(24 * time.Hour)
	ms, err := f.log.Measures(ctx, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		number, total, within, unresolved, notYet int
		result                                    string
	}{{4, 2, 1, 0, 0, "below_minimum"}, {5, 2, 1, 1, 1, "below_minimum"}}
	if len(ms) != len(want) {
		t.Fatalf("%d measures", len(ms))
	}
	for i, w := range want {
		m := ms[i]
		if m.Number != w.number || m.Total != w.total || m.Within != w.within || m.Unresolved != w.unresolved || m.NotYetDue != w.notYet || m.Result != w.result {
			t.Fatalf("measure %d: %+v", w.number, m)
		}
	}
}

func TestServiceDesk(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	tests := []struct {
		note string
		in   incidents.TicketInput
		want string
	}{
		{"a non-user's general query", incidents.TicketInput{RaisedBy: "Some Party Ltd", Kind: "general_query", Subject: "How do I become a user?"}, ""},
		{"a non-user's query about a request", incidents.TicketInput{RaisedBy: "Some Party Ltd", Kind: "service_request_query", Subject: "x"}, incidents.CodeNotAUser},
		{"a user's incident query", incidents.TicketInput{RaisedBy: elec, Kind: "incident_query", Subject: "meters silent"}, ""},
		{"an unknown kind", incidents.TicketInput{RaisedBy: elec, Kind: "rant", Subject: "x"}, incidents.CodeInvalid},
	}
	var userTicket store.Ticket
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			tk, err := f.log.RaiseTicket(ctx, tc.in)
			if code(err) != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if err == nil && tk.IsUser {
				userTicket = tk
			}
		})
	}
	d, err := f.log.Diagnose(ctx, elec, "chf_reachability", esme)
	if err != nil {
		t.Fatal(err)
	}
	// Escalated twice at once: one incident, the other refused.
	type result struct {
		tk  store.Ticket
		inc store.Incident
		err error
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			tk, inc, err := f.log.Escalate(ctx, userTicket.ID, incidents.RaiseInput{Caller: elec, Category: "2", Area: "smwan", Title: "meters silent", DiagnosisID: d.ID})
			results <- result{tk, inc, err}
		}()
	}
	r1, r2 := <-results, <-results
	if (r1.err == nil) == (r2.err == nil) {
		t.Fatalf("two escalations at once: %v and %v", r1.err, r2.err)
	}
	if r1.err != nil {
		r1 = r2
	}
	tk, inc := r1.tk, r1.inc
	if all, err := f.log.List(ctx, incidents.DCC); err != nil || len(all) != 1 {
		t.Fatalf("%d incidents %v, want one", len(all), err)
	}
	if tk.Status != incidents.TicketBecameIncident || tk.IncidentID != inc.ID || inc.TicketID != tk.ID {
		t.Fatalf("not linked: %+v %+v", tk, inc)
	}
	if _, err := f.log.Ticket(ctx, gas, tk.ID); code(err) != incidents.CodeNotFound {
		t.Fatalf("another user opened the ticket: %v", err)
	}
}

// TestReopenClearsTheResolution: an incident the DCC reopens (its fix did
// not hold) is unresolved again: Overdue and measures 4 and 5 count it late
// once past its target (para 237), and a later resolution is judged by its
// own time.
func TestReopenClearsTheResolution(t *testing.T) {
	march := [2]time.Time{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
	tests := []struct {
		note string
		// resolveAgain: hours after the reopening it is resolved again
		// (0: never); the incident is category 1 (target +4h), resolved at
		// once and reopened an hour later.
		resolveAgain time.Duration
		wantOverdue  bool
		wantWithin   int
		unresolved   int
	}{
		{"left unresolved past the target", 0, true, 0, 1},
		{"resolved again within the target", 2 * time.Hour, false, 1, 0},
		{"resolved again after the target", 4 * time.Hour, false, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			f := newFixture(t)
			ctx := t.Context()
			inc := f.raise(t, elec, "1", "smart_meter", esme, false) // elec's own meter
			if _, err := f.log.Resolve(ctx, elec, inc.ID, "reset"); err != nil {
				t.Fatal(err)
			}
			f.clk.Advance(time.Hour)
			got, err := f.log.Allocate(ctx, incidents.DCC, inc.ID, elec, "fix did not hold")
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != incidents.StatusAllocated || !got.ResolvedAt.IsZero() {
				t.Fatalf("reopened %s, resolved_at %s: want allocated and unresolved", got.Status, got.ResolvedAt)
			}
			if stored, _, err := f.log.Get(ctx, incidents.DCC, inc.ID); err != nil || !stored.ResolvedAt.IsZero() {
				t.Fatalf("stored resolved_at %s (%v)", stored.ResolvedAt, err)
			}
			if tc.resolveAgain > 0 {
				f.clk.Advance(tc.resolveAgain)
				if _, err := f.log.Resolve(ctx, elec, inc.ID, "meter replaced"); err != nil {
					t.Fatal(err)
				}
			}
			f.clk.Advance(5 * time.Hour) // past the target in every case
			cur, evs, err := f.log.Get(ctx, incidents.DCC, inc.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := incidents.Overdue(cur, f.clk.Now()); got != tc.wantOverdue {
				t.Fatalf("overdue %v, want %v (%+v)", got, tc.wantOverdue, cur)
			}
			if evs[3].Kind != "reopened" || !strings.Contains(evs[3].Note, "fix did not hold") {
				t.Fatalf("timeline %+v", evs)
			}
			ms, err := f.log.Measures(ctx, march[0], march[1])
			if err != nil {
				t.Fatal(err)
			}
			if m := ms[0]; m.Number != 4 || m.Total != 1 || m.Within != tc.wantWithin || m.Unresolved != tc.unresolved {
				t.Fatalf("measure 4: %+v", m)
			}
		})
	}
}

// TestRaiseDiagnosticWherePossible: a diagnostic is required where the
// remote diagnostic tools could diagnose something (para 226-227): a user
// with no devices raises an incident about the DCC's systems, directly or
// from a ticket; one about a device needs a diagnostic of that device, and
// a Service Request named must be the caller's (para 250).
func TestRaiseDiagnosticWherePossible(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	const noDevices = "00-00-00-00-00-00-0F-01" // an Other User with no portfolio
	if err := f.st.PutUser(ctx, store.User{ID: noDevices, Role: "OU", Party: "Insights", Entered: true}); err != nil {
		t.Fatal(err)
	}
	const reqID = elec + ":" + esme + ":1"
	if err := f.st.InsertRequest(ctx, store.Request{ID: reqID, UserID: elec, Service: "4.1", DeviceID: esme, Category: "on_demand",
		Delivery: "wan", State: "accepted", ReceivedAt: friday}, 1); err != nil {
		t.Fatal(err)
	}
	diagnose := func(t *testing.T, caller, device string) string {
		t.Helper()
		d, err := f.log.Diagnose(ctx, caller, "chf_reachability", device)
		if err != nil {
			t.Fatal(err)
		}
		return d.ID
	}
	tests := []struct {
		note     string
		in       incidents.RaiseInput
		diagnose string // a device the caller diagnoses first, its ID the diagnosis_id
		ticket   bool   // raised by escalating a ticket
		want     string
		device   string // the incident's device when raised
	}{
		{note: "no devices, the DCC's systems, no diagnostic", in: incidents.RaiseInput{Caller: noDevices, Area: "data_services"}, want: ""},
		{note: "no devices, from a ticket about the DCC's systems", in: incidents.RaiseInput{Caller: noDevices, Area: "data_services"}, ticket: true, want: ""},
		{note: "the DCC's systems about a device needs its diagnostic", in: incidents.RaiseInput{Caller: elec, Area: "data_services", DeviceID: esme}, want: incidents.CodeDiagnosticRequired},
		{note: "a meter without a diagnostic", in: incidents.RaiseInput{Caller: elec, Area: "smart_meter", DeviceID: esme}, want: incidents.CodeDiagnosticRequired},
		{note: "a meter without a diagnostic, from a ticket", in: incidents.RaiseInput{Caller: elec, Area: "smart_meter", DeviceID: esme}, ticket: true, want: incidents.CodeDiagnosticRequired},
		{note: "the SMWAN without a device or diagnostic", in: incidents.RaiseInput{Caller: elec, Area: "smwan"}, want: incidents.CodeDiagnosticRequired},
		{note: "a diagnostic of another device than the incident's", in: incidents.RaiseInput{Caller: elec, Area: "smart_meter", DeviceID: gsme}, diagnose: esme, want: incidents.CodeDiagnosticMismatch},
		{note: "the same, from a ticket", in: incidents.RaiseInput{Caller: elec, Area: "smart_meter", DeviceID: gsme}, diagnose: esme, ticket: true, want: incidents.CodeDiagnosticMismatch},
		{note: "no device: the diagnostic's", in: incidents.RaiseInput{Caller: elec, Area: "smwan"}, diagnose: esme, want: "", device: esme},
		{note: "the caller's own request", in: incidents.RaiseInput{Caller: elec, Area: "smart_meter", DeviceID: esme, RequestID: reqID}, diagnose: esme, want: ""},
		{note: "another user's request", in: incidents.RaiseInput{Caller: gas, Area: "smart_meter", DeviceID: esme, RequestID: reqID}, diagnose: esme, want: incidents.CodeNotVisible},
		{note: "no such request", in: incidents.RaiseInput{Caller: noDevices, Area: "data_services", RequestID: "nope"}, want: incidents.CodeNotVisible},
		{note: "a diagnosis that is not the caller's", in: incidents.RaiseInput{Caller: noDevices, Area: "data_services", DiagnosisID: "DIAG-none"}, want: incidents.CodeDiagnosticRequired},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			in := tc.in
			in.Category, in.Title = "3", "gateway answers slowly"
			if tc.diagnose != "" {
				in.DiagnosisID = diagnose(t, in.Caller, tc.diagnose)
			}
			var inc store.Incident
			var err error
			if tc.ticket {
				tk, terr := f.log.RaiseTicket(ctx, incidents.TicketInput{RaisedBy: in.Caller, Kind: "incident_query", Subject: "slow"})
				if terr != nil {
					t.Fatal(terr)
				}
				_, inc, err = f.log.Escalate(ctx, tk.ID, in)
			} else {
				inc, err = f.log.Raise(ctx, in)
			}
			if code(err) != tc.want || (tc.want == "" && err != nil) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if tc.want != "" {
				var e *incidents.Error
				errors.As(err, &e)
				if e.Clause == "" {
					t.Fatalf("refusal without a clause: %v", err)
				}
				return
			}
			if tc.device != "" && inc.DeviceID != tc.device {
				t.Fatalf("device %q, want %q", inc.DeviceID, tc.device)
			}
		})
	}
}

// TestTicketAnswers: the DCC's Service Desk lists tickets by status and
// answers them (para 253-255); the raiser sees the answer with its tickets;
// only the DCC answers, and a ticket that became an incident is followed in
// the incident.
func TestTicketAnswers(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	query, err := f.log.RaiseTicket(ctx, incidents.TicketInput{RaisedBy: "Some Party Ltd", Kind: "general_query", Subject: "How do I become a user?"})
	if err != nil {
		t.Fatal(err)
	}
	mine, err := f.log.RaiseTicket(ctx, incidents.TicketInput{RaisedBy: elec, Kind: "incident_query", Subject: "meters silent"})
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Hour)
	steps := []struct {
		note, actor, id, answer string
		want                    string
	}{
		{"a user answers", elec, mine.ID, "not mine to answer", incidents.CodeNotPermitted},
		{"an empty answer", incidents.DCC, query.ID, "  ", incidents.CodeInvalid},
		{"no such ticket", incidents.DCC, "TKT-none", "x", incidents.CodeNotFound},
		{"the Service Desk answers a SEC Party", incidents.DCC, query.ID, "Complete User Entry (Section H1).", ""},
		{"and a user", incidents.DCC, mine.ID, "The SMWAN in your area was restored at 10:00.", ""},
	}
	for _, tc := range steps {
		t.Run(tc.note, func(t *testing.T) {
			got, err := f.log.AnswerTicket(ctx, tc.actor, tc.id, tc.answer)
			if code(err) != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if tc.want == "" && (got.Status != incidents.TicketAnswered || got.Answer != tc.answer || !got.AnsweredAt.Equal(f.clk.Now())) {
				t.Fatalf("answered %+v", got)
			}
		})
	}
	// The raiser sees the answer with its tickets.
	ts, err := f.log.Tickets(ctx, elec)
	if err != nil || len(ts) != 1 || ts[0].Answer != "The SMWAN in your area was restored at 10:00." || ts[0].AnsweredAt.IsZero() {
		t.Fatalf("the raiser's tickets: %+v %v", ts, err)
	}
	filters := []struct {
		note     string
		statuses []string
		want     int
		code     string
	}{
		{"all", nil, 2, ""},
		{"answered", []string{incidents.TicketAnswered}, 2, ""},
		{"open", []string{incidents.TicketOpen}, 0, ""},
		{"an unknown status", []string{"pending"}, 0, incidents.CodeInvalid},
	}
	for _, tc := range filters {
		t.Run("list "+tc.note, func(t *testing.T) {
			ts, err := f.log.Tickets(ctx, incidents.DCC, tc.statuses...)
			if code(err) != tc.code || len(ts) != tc.want {
				t.Fatalf("%d tickets (%v), want %d %q", len(ts), err, tc.want, tc.code)
			}
		})
	}
	// An answered ticket may still become an incident; then it is no
	// longer answered at the desk.
	d, err := f.log.Diagnose(ctx, elec, "chf_reachability", esme)
	if err != nil {
		t.Fatal(err)
	}
	tk, _, err := f.log.Escalate(ctx, mine.ID, incidents.RaiseInput{Caller: elec, Category: "2", Area: "smwan", Title: "meters silent", DiagnosisID: d.ID})
	if err != nil || tk.Status != incidents.TicketBecameIncident || tk.Answer == "" {
		t.Fatalf("escalated %+v %v", tk, err)
	}
	if _, err := f.log.AnswerTicket(ctx, incidents.DCC, mine.ID, "again"); code(err) != incidents.CodeTransition {
		t.Fatalf("answered a ticket that became an incident: %v", err)
	}
}

// TestListsReadInMessages: a refusal or a timeline note that lists codes or
// parties lists them readably, "a, b", not in Go's slice brackets ("allowed
// are [1 2 3 4 5]", "interested: [A B]", "notified [A B C]").
func TestListsReadInMessages(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	d, err := f.log.Diagnose(ctx, elec, "chf_reachability", esme)
	if err != nil {
		t.Fatal(err)
	}
	_, refused := f.log.Raise(ctx, incidents.RaiseInput{Caller: elec, Category: "9", Area: "smwan", Title: "x", DiagnosisID: d.ID})
	if refused == nil {
		t.Fatal("an unknown category was raised")
	}
	inc := f.raise(t, gas, "1", "visit", chf, true)
	major, err := f.log.DeclareMajor(ctx, inc.ID, "Dana DCC", "Eli Alpha")
	if err != nil {
		t.Fatal(err)
	}
	_, evs, err := f.log.Get(ctx, incidents.DCC, major.ID)
	if err != nil {
		t.Fatal(err)
	}
	note := func(kind string) string {
		t.Helper()
		for _, ev := range evs {
			if ev.Kind == kind {
				return ev.Note
			}
		}
		t.Fatalf("no %s event in %+v", kind, evs)
		return ""
	}
	tests := []struct {
		note, text, says string
	}{
		{"an unknown category", refused.Error(), `incident category "9": allowed are ` + strings.Join(spec.MustDefault().ServiceManagement.Incidents.CategoryCodes(), ", ")},
		{"the allocation", note("allocated"), "interested: " + export + ", dcc"},
		{"the major incident", note("major"), "notified " + elec + ", " + export + ", " + gas},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			if !strings.Contains(tc.text, tc.says) || strings.ContainsAny(tc.text, "[]") {
				t.Fatalf("%q: want %q, no brackets", tc.text, tc.says)
			}
		})
	}
}

// TestDiagnosisOutlivesTheProcess: a diagnostic run through one gateway
// process is attached to an incident raised through another sharing the
// store (or the same after a restart), once: a second incident needs a
// diagnostic of its own.
func TestDiagnosisOutlivesTheProcess(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	d, err := f.log.Diagnose(ctx, elec, "chf_reachability", esme)
	if err != nil {
		t.Fatal(err)
	}
	other, err := incidents.New(ctx, f.st, spec.MustDefault(), f.clk, map[string]incidents.DiagnoseFunc{})
	if err != nil {
		t.Fatal(err)
	}
	in := incidents.RaiseInput{Caller: elec, Category: "3", Area: "smart_meter", DeviceID: esme, Title: "no data", DiagnosisID: d.ID}
	inc, err := other.Raise(ctx, in)
	if err != nil {
		t.Fatalf("raised through another process: %v", err)
	}
	evs, err := f.st.IncidentEvents(ctx, inc.ID)
	if err != nil || len(evs) == 0 || !strings.Contains(string(evs[0].Data), d.ID) {
		t.Fatalf("the diagnostic is not attached: %+v %v", evs, err)
	}
	if _, err := f.log.Raise(ctx, in); code(err) != incidents.CodeDiagnosticRequired {
		t.Fatalf("the diagnostic attached again: %v", err)
	}
}
