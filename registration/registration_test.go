package registration_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/registration"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/sqlite"
	"github.com/dccgate/dccgate/spec"
)

const (
	rdpA     = "00-00-00-00-00-00-0D-01"
	rdpB     = "00-00-00-00-00-00-0D-02"
	eno      = "00-00-00-00-00-00-0E-01" // nominates rdpA
	eno2     = "00-00-00-00-00-00-0E-02" // nominates rdpB
	gno      = "00-00-00-00-00-00-06-01" // nominates rdpA too (para 84: one RDP, several networks)
	supA     = "00-00-00-00-00-00-0A-01"
	supB     = "00-00-00-00-00-00-0B-01"
	gasSup   = "00-00-00-00-00-00-0A-02"
	mpan1    = "1900000000001"
	mpan2    = "1900000000002"
	mprn1    = "7000001"
	startDay = "2026-03-02"
)

var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type world struct {
	svc *registration.Service
	st  store.Store
	rep store.Reporting
	clk *clock.Virtual
	seq map[string]int64
}

func newWorld(t *testing.T, sp *spec.Spec) *world {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if sp == nil {
		sp = spec.MustDefault()
	}
	clk := clock.NewVirtual(start)
	svc, err := registration.New(st, sp, clk)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.User{{ID: eno, Role: "ENO"}, {ID: eno2, Role: "ENO"}, {ID: gno, Role: "GNO"}, {ID: supA, Role: "EIS"}, {ID: supB, Role: "EIS"}} {
		u.Entered = true
		must(t, st.PutUser(ctx, u))
	}
	for _, r := range []string{rdpA, rdpB} {
		_, err := svc.AddRDP(ctx, r, "RDP "+r[len(r)-2:], "")
		must(t, err)
	}
	for _, n := range [][2]string{{eno, rdpA}, {gno, rdpA}, {eno2, rdpB}} {
		_, err := svc.Nominate(ctx, n[0], n[1])
		must(t, err)
	}
	return &world{svc: svc, st: st, rep: svc.Reporting(), clk: clk, seq: map[string]int64{}}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// file writes a file of the RDP with the next sequence number of its fuel.
func (w *world) file(t *testing.T, format, rdp, kind, fuel string, rows ...map[string]string) []byte {
	t.Helper()
	w.seq[rdp+fuel]++
	var b bytes.Buffer
	h := registration.Header{RDP: rdp, Kind: kind, Fuel: fuel, Sequence: w.seq[rdp+fuel], Created: w.clk.Now()}
	must(t, registration.Write(&b, format, h, w.svc.Columns(), rows))
	return b.Bytes()
}

func row(mpxn, from, no, sup string) map[string]string {
	r := map[string]string{"mpxn": mpxn, "effective_from": from, "network_operator": no, "import_supplier": sup, "meter_agent": "MA01"}
	if len(mpxn) == 13 {
		r["profile_class"] = "01"
	}
	return r
}

func (w *world) history(t *testing.T, mpxns ...string) []string {
	t.Helper()
	h, err := w.rep.RegistrationHistory(t.Context(), mpxns)
	must(t, err)
	var out []string
	for _, r := range h {
		out = append(out, fmt.Sprintf("%s %s %s", r.MPxN, r.EffectiveFrom.Format(time.DateOnly), r.ImportSupplier))
	}
	return out
}

func (w *world) supplierOn(t *testing.T, mpxn string, at time.Time) string {
	t.Helper()
	regs, err := w.st.Registrations(t.Context(), []string{mpxn}, at)
	must(t, err)
	if len(regs) == 0 {
		return ""
	}
	return regs[0].ImportSupplier
}

func TestLoadAppliesWholeOrNothing(t *testing.T) {
	tests := []struct {
		note      string
		format    string
		rdp       string
		fuel      string
		rows      []map[string]string
		mangle    func([]byte) []byte
		state     string
		refused   bool
		incident  string
		badLines  []int
		badCodes  []string
		wantHeld  []string
		wantError string
		// reason: what the rejection says (a part of it); fileFuel: the
		// fuel the file's record keeps (a rejected file's too, its header
		// read).
		reason   string
		fileFuel string
	}{
		{
			note: "csv, electricity", format: "csv", rdp: rdpA, fuel: "electricity",
			rows:     []map[string]string{row(mpan1, "2026-01-01", eno, supA), row(mpan1, "2026-04-01", eno, supB), row(mpan2, "2026-01-01", eno, supA)},
			state:    registration.StateApplied,
			wantHeld: []string{mpan1 + " 2026-01-01 " + supA, mpan1 + " 2026-04-01 " + supB, mpan2 + " 2026-01-01 " + supA},
		},
		{
			note: "json lines, gas, for the second network the RDP serves", format: "jsonl", rdp: rdpA, fuel: "gas",
			rows:     []map[string]string{row(mprn1, "2026-01-01", gno, gasSup)},
			state:    registration.StateApplied,
			wantHeld: []string{mprn1 + " 2026-01-01 " + gasSup},
		},
		{
			note: "one bad row: rejected whole, the row named", format: "csv", rdp: rdpA, fuel: "electricity",
			rows:     []map[string]string{row(mpan1, "2026-01-01", eno, supA), row("19000000000", "2026-01-01", eno, supA), row(mpan2, "2026-01-01", eno, supA)},
			state:    registration.StateRejected,
			incident: registration.IncidentErrors,
			badLines: []int{4}, badCodes: []string{registration.CodePattern},
		},
		{
			note: "one bad row in json lines", format: "jsonl", rdp: rdpA, fuel: "electricity",
			rows:     []map[string]string{row(mpan1, "2026-01-01", eno, supA), row(mpan2, "2026-13-01", eno, supA)},
			state:    registration.StateRejected,
			incident: registration.IncidentErrors,
			badLines: []int{3}, badCodes: []string{registration.CodeDate},
		},
		{
			note: "a network that did not nominate the RDP: refused", format: "csv", rdp: rdpA, fuel: "electricity",
			rows:     []map[string]string{row(mpan1, "2026-01-01", eno, supA), row(mpan2, "2026-01-01", eno2, supA)},
			state:    registration.StateRejected,
			refused:  true,
			incident: registration.IncidentRejected,
			badLines: []int{4}, badCodes: []string{registration.CodeNotNominated},
		},
		{
			note: "a network operator of the other fuel", format: "csv", rdp: rdpA, fuel: "electricity",
			rows:     []map[string]string{row(mpan1, "2026-01-01", gno, supA)},
			state:    registration.StateRejected,
			incident: registration.IncidentErrors,
			badLines: []int{3}, badCodes: []string{registration.CodeFuel},
		},
		{
			note: "several faults in one row, and a duplicate", format: "csv", rdp: rdpA, fuel: "gas",
			rows: []map[string]string{
				{"mpxn": mprn1, "effective_from": "2026-01-01", "network_operator": gno, "profile_class": "01", "export_supplier": supA},
				row(mprn1, "2026-02-01", gno, gasSup), row(mprn1, "2026-02-01", gno, gasSup),
			},
			state:    registration.StateRejected,
			incident: registration.IncidentErrors,
			badLines: []int{3, 3, 5}, badCodes: []string{registration.CodeFuel, registration.CodeFuel, registration.CodeDuplicate},
		},
		{
			note: "truncated: no trailer", format: "csv", rdp: rdpA, fuel: "electricity",
			rows: []map[string]string{row(mpan1, "2026-01-01", eno, supA), row(mpan2, "2026-01-01", eno, supA)},
			mangle: func(b []byte) []byte {
				return b[:bytes.LastIndex(bytes.TrimRight(b, "\n"), []byte("\n"))+1]
			},
			state:    registration.StateRejected,
			incident: registration.IncidentNotConforming,
			reason:   `line 4: the trailer "#end rows=N" is missing: the header was read (rdp=` + rdpA + ` kind=incremental fuel=electricity sequence=1)`,
			fileFuel: "electricity",
		},
		{
			note: "truncated after the column names", format: "csv", rdp: rdpA, fuel: "electricity",
			rows: []map[string]string{row(mpan1, "2026-01-01", eno, supA)},
			mangle: func(b []byte) []byte {
				lines := bytes.SplitAfter(b, []byte("\n"))
				return bytes.Join(lines[:2], nil)
			},
			state:    registration.StateRejected,
			incident: registration.IncidentNotConforming,
			reason:   `line 2: the trailer "#end rows=N" is missing: the header was read`,
			fileFuel: "electricity",
		},
		{
			note: "truncated json lines", format: "jsonl", rdp: rdpA, fuel: "gas",
			rows: []map[string]string{row(mprn1, "2026-01-01", gno, gasSup)},
			mangle: func(b []byte) []byte {
				return b[:bytes.LastIndex(bytes.TrimRight(b, "\n"), []byte("\n"))+1]
			},
			state:    registration.StateRejected,
			incident: registration.IncidentNotConforming,
			reason:   `line 2: the trailer {"end":{"rows":N}} is missing: the header was read (rdp=` + rdpA + ` kind=incremental fuel=gas sequence=1)`,
			fileFuel: "gas",
		},
		{
			note: "unknown column", format: "csv", rdp: rdpA, fuel: "electricity",
			rows:     []map[string]string{row(mpan1, "2026-01-01", eno, supA)},
			mangle:   func(b []byte) []byte { return bytes.Replace(b, []byte("meter_agent"), []byte("meter_agnet"), 1) },
			state:    registration.StateRejected,
			incident: registration.IncidentNotConforming,
		},
		{
			note: "a file naming another RDP", format: "csv", rdp: rdpB, fuel: "electricity",
			rows:     []map[string]string{row(mpan1, "2026-01-01", eno, supA)},
			state:    registration.StateRejected,
			refused:  true,
			incident: registration.IncidentRejected,
		},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			ctx := t.Context()
			w := newWorld(t, nil)
			data := w.file(t, tc.format, tc.rdp, registration.KindIncremental, tc.fuel, tc.rows...)
			if tc.mangle != nil {
				data = tc.mangle(data)
			}
			res, err := w.svc.Load(ctx, rdpA, "f."+tc.format, data)
			must(t, err)
			if res.File.State != tc.state || res.Refused != tc.refused {
				t.Fatalf("state %s refused %v, want %s %v: %s", res.File.State, res.Refused, tc.state, tc.refused, res.Summary())
			}
			var lines []int
			var codes []string
			for _, e := range res.Errors {
				lines, codes = append(lines, e.Line), append(codes, e.Code)
			}
			if !strings.Contains(res.Reason, tc.reason) {
				t.Fatalf("reason %q, want it to say %q", res.Reason, tc.reason)
			}
			if fmt.Sprint(lines) != fmt.Sprint(tc.badLines) || fmt.Sprint(codes) != fmt.Sprint(tc.badCodes) {
				t.Fatalf("rows at fault %v %v, want %v %v: %v", lines, codes, tc.badLines, tc.badCodes, res.Errors)
			}
			incs, err := w.svc.Incidents(ctx, store.IncidentFilter{})
			must(t, err)
			if tc.incident == "" {
				if len(incs) != 0 {
					t.Fatalf("incidents %+v", incs)
				}
			} else {
				if len(incs) != 1 || incs[0].Kind != tc.incident || incs[0].File != res.File.ID {
					t.Fatalf("incidents %+v, want one %s", incs, tc.incident)
				}
				// The incident names the rows at fault.
				var d struct {
					Rows []registration.RowError `json:"rows"`
				}
				must(t, json.Unmarshal(incs[0].Detail, &d))
				if len(d.Rows) != len(tc.badLines) || incs[0].Rows != len(uniq(tc.badLines)) {
					t.Fatalf("incident detail %s, rows %d", incs[0].Detail, incs[0].Rows)
				}
			}
			// Whole or nothing.
			held := w.history(t, mpan1, mpan2, mprn1)
			if fmt.Sprint(held) != fmt.Sprint(tc.wantHeld) {
				t.Fatalf("held %v, want %v", held, tc.wantHeld)
			}
			f, err := w.rep.GetRegistrationFile(ctx, res.File.ID)
			must(t, err)
			if f.State != tc.state || (tc.fileFuel != "" && f.Fuel != tc.fileFuel) {
				t.Fatalf("file recorded %s %q", f.State, f.Fuel)
			}
		})
	}
}

func uniq(xs []int) []int {
	var out []int
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func TestUnknownRDPIsNotServed(t *testing.T) {
	w := newWorld(t, nil)
	_, err := w.svc.Load(t.Context(), "00-00-00-00-00-00-0D-09", "f", []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "unknown RDP") {
		t.Fatalf("err %v", err)
	}
	if _, err := w.svc.Nominate(t.Context(), supA, rdpA); err == nil {
		t.Fatal("a supplier nominated an RDP")
	}
}

func TestFutureChangeOfSupplierHasItsDate(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t, nil)
	res, err := w.svc.Load(ctx, rdpA, "f", w.file(t, "csv", rdpA, registration.KindIncremental, "electricity", row(mpan1, "2026-01-01", eno, supA)))
	must(t, err)
	if !res.Applied() {
		t.Fatal(res.Summary())
	}
	// The change of supplier arrives on 2 March, effective 1 April.
	res, err = w.svc.Load(ctx, rdpA, "f", w.file(t, "csv", rdpA, registration.KindIncremental, "electricity", row(mpan1, "2026-04-01", eno, supB)))
	must(t, err)
	if !res.Applied() {
		t.Fatal(res.Summary())
	}
	april := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at   time.Time
		want string
	}{{start, supA}, {april.Add(-time.Nanosecond), supA}, {april, supB}, {april.AddDate(1, 0, 0), supB}} {
		if got := w.supplierOn(t, mpan1, tc.at); got != tc.want {
			t.Errorf("registered on %s: %s, want %s", tc.at, got, tc.want)
		}
	}
	// A withdrawn change: the record is deleted by an incremental file.
	del := row(mpan1, "2026-04-01", eno, supB)
	del["action"] = "delete"
	res, err = w.svc.Load(ctx, rdpA, "f", w.file(t, "csv", rdpA, registration.KindIncremental, "electricity", del))
	must(t, err)
	if !res.Applied() || w.supplierOn(t, mpan1, april) != supA {
		t.Fatalf("withdrawn change: %s; supplier %s", res.Summary(), w.supplierOn(t, mpan1, april))
	}
}

// loadSequence loads RDP A's incremental electricity file of sequence seq,
// one row for mpan1 effective on day seq of January.
func (w *world) loadSequence(t *testing.T, seq int64) *registration.Result {
	t.Helper()
	w.seq[rdpA+"electricity"] = seq - 1
	res, err := w.svc.Load(t.Context(), rdpA, "f", w.file(t, "csv", rdpA, registration.KindIncremental, "electricity", row(mpan1, fmt.Sprintf("2026-01-%02d", seq), eno, supA)))
	must(t, err)
	return res
}

func TestSequence(t *testing.T) {
	w := newWorld(t, nil)
	load := func(seq int64) *registration.Result { t.Helper(); return w.loadSequence(t, seq) }
	if r := load(1); !r.Applied() || len(r.Incidents) != 0 {
		t.Fatal(r.Summary())
	}
	if r := load(1); r.Applied() || r.Incidents[0].Kind != registration.IncidentRejected {
		t.Fatalf("a reused sequence: %s", r.Summary())
	}
	r := load(4)
	if !r.Applied() || len(r.Incidents) != 1 || r.Incidents[0].Kind != registration.IncidentNotReceived ||
		!strings.Contains(r.Incidents[0].Summary, "files 2 to 3 not received") {
		t.Fatalf("a gap: %s", r.Summary())
	}
}

func TestFullFileAndTheMaster(t *testing.T) {
	held := []map[string]string{row(mpan1, "2026-01-01", eno, supA), row(mpan2, "2026-01-01", eno, supA), row("1900000000003", "2026-01-01", eno, supA)}
	// The RDP's full file: mpan1 agrees, mpan2 has another supplier from
	// February, mpan3 is missing, mpan4 is new.
	full := []map[string]string{row(mpan1, "2026-01-01", eno, supA), row(mpan2, "2026-01-01", eno, supA), row(mpan2, "2026-02-01", eno, supB), row("1900000000004", "2026-01-01", eno, supB)}
	dcc := *spec.MustDefault()
	dcc.RegistrationData.Master = "dcc"
	tests := []struct {
		note    string
		sp      *spec.Spec
		applied bool
		want    []string
	}{
		{"the RDP is master: its records replace those held", nil, true, []string{
			mpan1 + " 2026-01-01 " + supA, mpan2 + " 2026-01-01 " + supA, mpan2 + " 2026-02-01 " + supB,
			"1900000000003 2026-01-01 " + supA, "1900000000004 2026-01-01 " + supB}},
		{"the DCC is master: nothing applied", &dcc, false, []string{
			mpan1 + " 2026-01-01 " + supA, mpan2 + " 2026-01-01 " + supA, "1900000000003 2026-01-01 " + supA}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			ctx := t.Context()
			w := newWorld(t, tc.sp)
			res, err := w.svc.Load(ctx, rdpA, "inc", w.file(t, "csv", rdpA, registration.KindIncremental, "electricity", held...))
			must(t, err)
			if !res.Applied() {
				t.Fatal(res.Summary())
			}
			res, err = w.svc.Load(ctx, rdpA, "full", w.file(t, "jsonl", rdpA, registration.KindFull, "electricity", full...))
			must(t, err)
			if res.Applied() != tc.applied || len(res.Disputes) != 1 || res.Disputes[0].MPxN != mpan2 ||
				fmt.Sprint(res.Missing) != "[1900000000003]" || res.Incidents[0].Kind != registration.IncidentMisaligned {
				t.Fatalf("%s\ndisputes %+v missing %v", res.Summary(), res.Disputes, res.Missing)
			}
			got := w.history(t, mpan1, mpan2, "1900000000003", "1900000000004")
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("held %v\nwant %v", got, tc.want)
			}
			// The same full file again (next sequence) writes nothing new.
			if tc.applied {
				res, err = w.svc.Load(ctx, rdpA, "full", w.file(t, "csv", rdpA, registration.KindFull, "electricity", full...))
				must(t, err)
				if !res.Applied() || res.File.Written != 0 || len(res.Disputes) != 0 {
					t.Fatalf("a repeat: %s", res.Summary())
				}
			}
		})
	}
}

func TestRefreshDueInTwoCalendarDays(t *testing.T) {
	tests := []struct {
		note        string
		answerAfter time.Duration // 0: never
		sweepAt     time.Duration
		overdue     bool
		incident    bool
	}{
		{"answered in a day", 24 * time.Hour, 49 * time.Hour, false, false},
		{"not answered after 47 hours: not yet overdue", 0, 47 * time.Hour, false, false},
		{"at exactly two days: not yet overdue", 0, 48 * time.Hour, false, false},
		{"not answered in two days: overdue, flagged", 0, 49 * time.Hour, true, true},
		{"answered late: overdue", 50 * time.Hour, 49 * time.Hour, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			ctx := t.Context()
			sp := *spec.MustDefault()
			sp.RegistrationData.FileExpectedEvery = nil // only the refresh here
			w := newWorld(t, &sp)
			req, err := w.svc.RequestRefresh(ctx, rdpA, "", "electricity")
			must(t, err)
			if want := start.Add(48 * time.Hour); !req.DueAt.Equal(want) {
				t.Fatalf("due %s, want %s", req.DueAt, want)
			}
			answer := func() {
				res, err := w.svc.Load(ctx, rdpA, "refresh", w.file(t, "csv", rdpA, registration.KindFull, "electricity", row(mpan1, "2026-01-01", eno, supA)))
				must(t, err)
				if fmt.Sprint(res.Answered) != fmt.Sprint([]string{req.ID}) {
					t.Fatalf("answered %v: %s", res.Answered, res.Summary())
				}
			}
			if tc.answerAfter > 0 && tc.answerAfter < tc.sweepAt {
				w.clk.Set(start.Add(tc.answerAfter))
				answer()
			}
			w.clk.Set(start.Add(tc.sweepAt))
			raised, err := w.svc.Sweep(ctx)
			must(t, err)
			again, err := w.svc.Sweep(ctx)
			must(t, err)
			if len(again) != 0 {
				t.Fatalf("a second sweep raised %v", again)
			}
			if tc.answerAfter > tc.sweepAt {
				w.clk.Set(start.Add(tc.answerAfter))
				answer()
			}
			if (len(raised) == 1) != tc.incident || (tc.incident && raised[0].Kind != registration.IncidentNotReceived) {
				t.Fatalf("raised %+v", raised)
			}
			rs, err := w.svc.Refreshes(ctx, rdpA, false)
			must(t, err)
			if rs[0].Overdue != tc.overdue || (!rs[0].OverdueAt.IsZero()) != tc.incident {
				t.Fatalf("refresh %+v", rs[0])
			}
		})
	}
}

// TestRefreshAnsweredByItsFuel: a refresh is provided by full files of the
// fuel it is for (para 89-91): one for a network operator by a file of that
// operator's fuel, one of everything an RDP provides for two networks of
// different fuels by a file of each. RDP A serves ENO (electricity) and GNO
// (gas) (para 84).
func TestRefreshAnsweredByItsFuel(t *testing.T) {
	elec := func(w *world, t *testing.T) []byte {
		return w.file(t, "csv", rdpA, registration.KindFull, "electricity", row(mpan1, "2026-01-01", eno, supA))
	}
	gas := func(w *world, t *testing.T) []byte {
		return w.file(t, "csv", rdpA, registration.KindFull, "gas", row(mprn1, "2026-01-01", gno, gasSup))
	}
	type file func(*world, *testing.T) []byte
	tests := []struct {
		note          string
		no, fuel      string
		files         []file
		answeredAfter int // the file that answers it, from 1; 0: none
	}{
		{"for the ENO: a gas file does not answer it", eno, "", []file{gas}, 0},
		{"for the ENO: gas, then electricity", eno, "", []file{gas, elec}, 2},
		{"for the GNO: gas", gno, "", []file{gas}, 1},
		{"for gas", "", "gas", []file{elec, gas}, 2},
		{"for all the RDP provides: both fuels", "", "", []file{elec, gas}, 2},
		{"for all the RDP provides: one fuel twice is not both", "", "", []file{gas, gas}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			ctx := t.Context()
			w := newWorld(t, nil)
			req, err := w.svc.RequestRefresh(ctx, rdpA, tc.no, tc.fuel)
			must(t, err)
			got := 0
			for i, f := range tc.files {
				res, err := w.svc.Load(ctx, rdpA, "refresh", f(w, t))
				must(t, err)
				if !res.Applied() {
					t.Fatalf("file %d not applied: %s", i+1, res.Summary())
				}
				if slices.Contains(res.Answered, req.ID) {
					got = i + 1
				}
			}
			if got != tc.answeredAfter {
				t.Fatalf("answered by file %d, want %d", got, tc.answeredAfter)
			}
			open, err := w.svc.Refreshes(ctx, rdpA, true)
			must(t, err)
			if (len(open) == 0) != (tc.answeredAfter > 0) {
				t.Fatalf("open refreshes %+v", open)
			}
		})
	}
	// A fuel the network operator does not provide is not asked of it.
	w := newWorld(t, nil)
	if _, err := w.svc.RequestRefresh(t.Context(), rdpA, eno, "gas"); err == nil {
		t.Fatal("a gas refresh for the electricity network operator")
	}
}

func TestFileNotReceivedOnCadence(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t, nil)
	// Nominated at start; the spec expects a file every 24 hours.
	w.clk.Set(start.Add(23 * time.Hour))
	raised, err := w.svc.Sweep(ctx)
	must(t, err)
	if len(raised) != 0 {
		t.Fatalf("raised %v", raised)
	}
	w.clk.Set(start.Add(25 * time.Hour))
	raised, err = w.svc.Sweep(ctx)
	must(t, err)
	if len(raised) != 2 { // both RDPs are silent
		t.Fatalf("raised %+v", raised)
	}
	raised, err = w.svc.Sweep(ctx)
	must(t, err)
	if len(raised) != 0 {
		t.Fatalf("raised twice: %+v", raised)
	}
	// A file from rdpA; 25 hours later it is silent again: a new incident.
	_, err = w.svc.Load(ctx, rdpA, "f", w.file(t, "csv", rdpA, registration.KindIncremental, "electricity", row(mpan1, "2026-01-01", eno, supA)))
	must(t, err)
	w.clk.Set(start.Add(50 * time.Hour))
	raised, err = w.svc.Sweep(ctx)
	must(t, err)
	if len(raised) != 1 || raised[0].RDP != rdpA {
		t.Fatalf("raised %+v", raised)
	}
}

// TestFullFileAfterTheRecordInForce: a full file whose first record of an
// MPxN postdates the held record in force is compared with that record, as
// held from the file's first date (para 89), not taken for a new MPxN.
func TestFullFileAfterTheRecordInForce(t *testing.T) {
	dcc := *spec.MustDefault()
	dcc.RegistrationData.Master = "dcc"
	const mid = "2026-03-01"
	tests := []struct {
		note     string
		sp       *spec.Spec
		held     []map[string]string
		full     []map[string]string
		applied  bool
		written  int
		deleted  int
		disputes []string // held | file, of mpan1
		want     []string
	}{
		{
			note:    "same supplier from a later date: agreement, nothing written",
			held:    []map[string]string{row(mpan1, "2025-06-01", eno, supA)},
			full:    []map[string]string{row(mpan1, "2026-01-01", eno, supA)},
			applied: true,
			want:    []string{mpan1 + " 2025-06-01 " + supA},
		},
		{
			note:    "same content from a later date, with a later change held",
			held:    []map[string]string{row(mpan1, "2025-06-01", eno, supA), row(mpan1, mid, eno, supB)},
			full:    []map[string]string{row(mpan1, "2026-01-01", eno, supA), row(mpan1, mid, eno, supB)},
			applied: true,
			want:    []string{mpan1 + " 2025-06-01 " + supA, mpan1 + " " + mid + " " + supB},
		},
		{
			note:     "another supplier, the RDP master: applied, the older record stays",
			held:     []map[string]string{row(mpan1, "2025-06-01", eno, supA)},
			full:     []map[string]string{row(mpan1, "2026-01-01", eno, supB)},
			applied:  true,
			written:  1,
			disputes: []string{"[2025-06-01 " + supA + "] | [2026-01-01 " + supB + "]"},
			want:     []string{mpan1 + " 2025-06-01 " + supA, mpan1 + " 2026-01-01 " + supB},
		},
		{
			note:     "another supplier, the DCC master: nothing applied",
			sp:       &dcc,
			held:     []map[string]string{row(mpan1, "2025-06-01", eno, supA)},
			full:     []map[string]string{row(mpan1, "2026-01-01", eno, supB)},
			disputes: []string{"[2025-06-01 " + supA + "] | [2026-01-01 " + supB + "]"},
			want:     []string{mpan1 + " 2025-06-01 " + supA},
		},
		{
			note:     "the in-force record agrees, a later held one is not in the file: deleted",
			held:     []map[string]string{row(mpan1, "2025-06-01", eno, supA), row(mpan1, mid, eno, supB)},
			full:     []map[string]string{row(mpan1, "2026-01-01", eno, supA)},
			applied:  true,
			written:  1,
			deleted:  1,
			disputes: []string{"[2025-06-01 " + supA + " " + mid + " " + supB + "] | [2026-01-01 " + supA + "]"},
			want:     []string{mpan1 + " 2025-06-01 " + supA, mpan1 + " 2026-01-01 " + supA},
		},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			ctx := t.Context()
			w := newWorld(t, tc.sp)
			res, err := w.svc.Load(ctx, rdpA, "inc", w.file(t, "csv", rdpA, registration.KindIncremental, "electricity", tc.held...))
			must(t, err)
			if !res.Applied() {
				t.Fatal(res.Summary())
			}
			res, err = w.svc.Load(ctx, rdpA, "full", w.file(t, "csv", rdpA, registration.KindFull, "electricity", tc.full...))
			must(t, err)
			var disputes []string
			for _, d := range res.Disputes {
				disputes = append(disputes, dates(d.Held)+" | "+dates(d.File))
			}
			if res.Applied() != tc.applied || res.File.Written != tc.written || res.File.Deleted != tc.deleted ||
				fmt.Sprint(disputes) != fmt.Sprint(tc.disputes) {
				t.Fatalf("%s\ndisputes %v, want %v", res.Summary(), disputes, tc.disputes)
			}
			// A dispute is a misaligned incident, and is one only then.
			if got := len(res.Incidents) == 1 && res.Incidents[0].Kind == registration.IncidentMisaligned; got != (len(tc.disputes) > 0) {
				t.Fatalf("incidents %+v", res.Incidents)
			}
			if got := w.history(t, mpan1); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("held %v\nwant %v", got, tc.want)
			}
		})
	}
}

func dates(rs []registration.Record) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.EffectiveFrom.Format(time.DateOnly)+" "+r.ImportSupplier)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// TestLateFileFillsTheGap: a file whose sequence number was skipped (a gap,
// para 87) is applied when it arrives; once every file of the gap has, the
// gap's not_received incident is resolved. A sequence number applied is
// still refused.
func TestLateFileFillsTheGap(t *testing.T) {
	type step struct {
		seq      int64
		applied  bool
		resolved bool // the gap incident resolved by this file
	}
	tests := []struct {
		note  string
		steps []step
		open  int // open not_received incidents at the end
	}{
		{"in order", []step{{2, true, false}, {3, true, true}}, 0},
		{"in reverse", []step{{3, true, false}, {2, true, true}}, 0},
		{"one of two: the gap stays open", []step{{2, true, false}}, 1},
		{"a late file twice: the second refused", []step{{2, true, false}, {2, false, false}, {3, true, true}}, 0},
		{"an applied sequence: refused", []step{{1, false, false}, {4, false, false}}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			ctx := t.Context()
			w := newWorld(t, nil)
			load := func(seq int64) *registration.Result { t.Helper(); return w.loadSequence(t, seq) }
			load(1)
			gap := load(4)
			if len(gap.Incidents) != 1 || gap.Incidents[0].Kind != registration.IncidentNotReceived {
				t.Fatalf("a gap: %s", gap.Summary())
			}
			want := []string{mpan1 + " 2026-01-01 " + supA, mpan1 + " 2026-01-04 " + supA}
			for _, st := range tc.steps {
				r := load(st.seq)
				if r.Applied() != st.applied || (len(r.Resolved) == 1 && r.Resolved[0] == gap.Incidents[0].ID) != st.resolved || len(r.LeftOpen) != 0 {
					t.Fatalf("sequence %d: %s", st.seq, r.Summary())
				}
				if !st.applied && (len(r.Incidents) != 1 || r.Incidents[0].Kind != registration.IncidentRejected || !strings.Contains(r.Reason, "already used")) {
					t.Fatalf("sequence %d refused: %s", st.seq, r.Summary())
				}
				if st.applied {
					if len(r.Incidents) != 0 {
						t.Fatalf("sequence %d: %s", st.seq, r.Summary())
					}
					want = append(want, fmt.Sprintf("%s 2026-01-%02d %s", mpan1, st.seq, supA))
				}
			}
			slices.Sort(want)
			if got := w.history(t, mpan1); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("held %v\nwant %v", got, want)
			}
			open, err := w.svc.Incidents(ctx, store.IncidentFilter{Kind: registration.IncidentNotReceived, OpenOnly: true})
			must(t, err)
			if len(open) != tc.open {
				t.Fatalf("open not_received incidents %+v, want %d", open, tc.open)
			}
			if tc.open == 0 {
				all, err := w.svc.Incidents(ctx, store.IncidentFilter{Kind: registration.IncidentNotReceived})
				must(t, err)
				if len(all) != 1 || !strings.Contains(all[0].Resolution, "files 2 to 3 received late") {
					t.Fatalf("resolution %+v", all)
				}
			}
		})
	}
}

// TestLateFileRewritesALaterOne: a late incremental file applies as sent
// (para 87), but where it rewrites or deletes a record that a later file
// wrote, a misaligned incident lists the records, held and sent.
func TestLateFileRewritesALaterOne(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t, nil)
	load := func(seq int64, rows ...map[string]string) *registration.Result {
		t.Helper()
		w.seq[rdpA+"electricity"] = seq - 1
		res, err := w.svc.Load(ctx, rdpA, "f", w.file(t, "csv", rdpA, registration.KindIncremental, "electricity", rows...))
		must(t, err)
		if !res.Applied() {
			t.Fatalf("sequence %d: %s", seq, res.Summary())
		}
		return res
	}
	load(1, row(mpan1, "2026-01-01", eno, supA), row(mpan2, "2026-01-01", eno, supA))
	load(3, row(mpan1, "2026-02-01", eno, supB), row(mpan2, "2026-02-01", eno, supB))
	del := row(mpan2, "2026-02-01", eno, supB)
	del["action"] = "delete"
	// mpan1's record of 1 February rewritten, mpan2's deleted; the
	// record of 1 January unchanged is no dispute.
	r := load(2, row(mpan1, "2026-01-01", eno, supA), row(mpan1, "2026-02-01", eno, supA), del)
	var disputes []string
	for _, d := range r.Disputes {
		disputes = append(disputes, d.MPxN+" "+dates(d.Held)+" | "+dates(d.File))
	}
	want := []string{mpan1 + " [2026-02-01 " + supB + "] | [2026-02-01 " + supA + "]", mpan2 + " [2026-02-01 " + supB + "] | []"}
	if fmt.Sprint(disputes) != fmt.Sprint(want) || len(r.Incidents) != 1 || r.Incidents[0].Kind != registration.IncidentMisaligned {
		t.Fatalf("%s\ndisputes %v\nwant %v", r.Summary(), disputes, want)
	}
	if got := w.history(t, mpan1, mpan2); fmt.Sprint(got) != fmt.Sprint([]string{mpan1 + " 2026-01-01 " + supA, mpan1 + " 2026-02-01 " + supA, mpan2 + " 2026-01-01 " + supA}) {
		t.Fatalf("held %v", got)
	}
	if len(r.Resolved) != 1 {
		t.Fatalf("the gap of 2 not resolved: %s", r.Summary())
	}
}
