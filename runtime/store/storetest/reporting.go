package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// RunReporting runs the suite of store.Reporting; open is as for Run, and
// the stores it returns must implement store.Reporting.
func RunReporting(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	rep := func(t *testing.T) (store.Store, store.Reporting) {
		t.Helper()
		s := open(t)
		r, ok := s.(store.Reporting)
		if !ok {
			t.Fatalf("%T does not implement store.Reporting", s)
		}
		return s, r
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, rep func(t *testing.T) (store.Store, store.Reporting))
	}{
		{"RDPs", testRDPs},
		{"ApplyRegistrationFile", testApplyRegistrationFile},
		{"ApplyIsAllOrNothing", testApplyAllOrNothing},
		{"RegistrationsInEffect", testRegistrationsInEffect},
		{"Incidents", testIncidents},
		{"Refreshes", testRefreshes},
		{"Forecasts", testForecasts},
		{"EnrolmentCounts", testEnrolmentCounts},
		{"ResponseTimings", testResponseTimings},
		{"RequestCounts", testRequestCounts},
		{"ResetClearsReporting", testResetReporting},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, rep)
		})
	}
}

func testRDPs(t *testing.T, rep func(t *testing.T) (store.Store, store.Reporting)) {
	ctx := t.Context()
	_, r := rep(t)
	b := store.RDP{ID: "00-00-00-00-00-00-0D-02", Name: "B", CreatedAt: t0}
	a := store.RDP{ID: "00-00-00-00-00-00-0D-01", Name: "A", CertPEM: "pem", CreatedAt: t1}
	must(t, r.PutRDP(ctx, b))
	must(t, r.PutRDP(ctx, a))
	got, err := r.GetRDP(ctx, a.ID)
	must(t, err)
	same(t, "GetRDP", got, a)
	_, err = r.GetRDP(ctx, "nope")
	wantErr(t, "GetRDP unknown", err, store.ErrNotFound)
	a.Name = "A renamed"
	must(t, r.PutRDP(ctx, a))
	all, err := r.ListRDPs(ctx)
	must(t, err)
	same(t, "ListRDPs", all, []store.RDP{a, b})

	n1 := store.Nomination{NetworkOperator: "NO-2", RDP: a.ID, At: t0}
	n2 := store.Nomination{NetworkOperator: "NO-1", RDP: b.ID, At: t1}
	n3 := store.Nomination{NetworkOperator: "NO-1", RDP: a.ID, At: t0}
	for _, n := range []store.Nomination{n1, n2, n3} {
		must(t, r.PutNomination(ctx, n))
	}
	wantErr(t, "a second nomination at the same time", r.PutNomination(ctx, n3), store.ErrDuplicate)
	ns, err := r.Nominations(ctx)
	must(t, err)
	same(t, "Nominations", ns, []store.Nomination{n3, n2, n1})
}

func rec(mpxn string, from time.Time, supplier, no string) store.RegistrationRecord {
	return store.RegistrationRecord{Registration: store.Registration{MPxN: mpxn, Fuel: "electricity",
		ImportSupplier: supplier, NetworkOperator: no, EffectiveFrom: from}, MeterAgent: "MA1", ProfileClass: "01", Source: "f"}
}

func testApplyRegistrationFile(t *testing.T, rep func(t *testing.T) (store.Store, store.Reporting)) {
	ctx := t.Context()
	s, r := rep(t)
	// Many records: more than one statement and more than one IN list.
	var ups []store.RegistrationRecord
	var mpxns []string
	for i := range 1300 {
		m := fmt.Sprintf("19%011d", i)
		mpxns = append(mpxns, m)
		ups = append(ups, rec(m, t0, "S1", "NO-1"))
	}
	change := rec(mpxns[0], t1, "S2", "NO-1")
	ups = append(ups, change)
	f := store.RegistrationFile{ID: "file-1", RDP: "R", Kind: "full", Fuel: "electricity", Sequence: 1,
		ReceivedAt: t0, State: "applied", Rows: len(ups), Written: len(ups)}
	must(t, r.PutRefreshRequest(ctx, store.RefreshRequest{ID: "ref-1", RDP: "R", RequestedAt: t0, DueAt: t1}))
	must(t, r.ApplyRegistrationFile(ctx, store.RegistrationApply{File: f, Upserts: ups, Answers: []string{"ref-1"}}))

	got, err := r.GetRegistrationFile(ctx, f.ID)
	must(t, err)
	same(t, "GetRegistrationFile", got, f)
	seq, err := r.LastSequence(ctx, "R", "electricity")
	must(t, err)
	same(t, "LastSequence", seq, int64(1))
	hist, err := r.RegistrationHistory(ctx, mpxns)
	must(t, err)
	same(t, "history size", len(hist), len(ups))
	same(t, "history of the first", hist[:2], []store.RegistrationRecord{rec(mpxns[0], t0, "S1", "NO-1"), change})
	// The gateway's own reads see the records the file wrote.
	regs, err := s.Registrations(ctx, []string{mpxns[0]}, t1)
	must(t, err)
	same(t, "Registrations", regs, []store.Registration{change.Registration})
	refs, err := r.RefreshRequests(ctx, "R", false)
	must(t, err)
	same(t, "refresh answered", [2]any{refs[0].ReceivedAt, refs[0].File}, [2]any{t0, "file-1"})

	// A second applied file with the same sequence number is a duplicate;
	// a rejected one is recorded whatever its number.
	f2 := f
	f2.ID = "file-2"
	wantErr(t, "sequence reused", r.ApplyRegistrationFile(ctx, store.RegistrationApply{File: f2}), store.ErrDuplicate)
	f2.State = "rejected"
	must(t, r.ApplyRegistrationFile(ctx, store.RegistrationApply{File: f2}))

	// Delete two records (one of them then written anew) and write one.
	f3 := store.RegistrationFile{ID: "file-3", RDP: "R", Kind: "incremental", Fuel: "electricity", Sequence: 2,
		ReceivedAt: t1, State: "applied"}
	must(t, r.ApplyRegistrationFile(ctx, store.RegistrationApply{File: f3,
		Deletes: []store.RegistrationKey{{MPxN: mpxns[0], EffectiveFrom: t1}, {MPxN: mpxns[1], EffectiveFrom: t0}, {MPxN: mpxns[0], EffectiveFrom: t2}},
		Upserts: []store.RegistrationRecord{rec(mpxns[0], t2, "S3", "NO-1")},
	}))
	hist, err = r.RegistrationHistory(ctx, mpxns[:3])
	must(t, err)
	same(t, "after delete and write", hist, []store.RegistrationRecord{
		rec(mpxns[0], t0, "S1", "NO-1"), rec(mpxns[0], t2, "S3", "NO-1"), rec(mpxns[2], t0, "S1", "NO-1"),
	})
	files, err := r.RegistrationFiles(ctx, "R", 2)
	must(t, err)
	same(t, "newest first", []string{files[0].ID, files[1].ID}, []string{"file-3", "file-2"})
}

func testApplyAllOrNothing(t *testing.T, rep func(t *testing.T) (store.Store, store.Reporting)) {
	ctx := t.Context()
	_, r := rep(t)
	must(t, r.PutRegistrationIncident(ctx, store.RegistrationIncident{ID: "inc-0", Kind: "not_received", Key: "k", RaisedAt: t0}))
	ups := []store.RegistrationRecord{rec("1900000000001", t0, "S1", "NO-1")}
	// The incident's key is taken: nothing of the file is stored.
	err := r.ApplyRegistrationFile(ctx, store.RegistrationApply{
		File:      store.RegistrationFile{ID: "f", RDP: "R", Fuel: "electricity", Sequence: 1, ReceivedAt: t0, State: "applied"},
		Upserts:   ups,
		Incidents: []store.RegistrationIncident{{ID: "inc-1", Kind: "misaligned", Key: "k", RaisedAt: t0}},
	})
	wantErr(t, "incident key taken", err, store.ErrDuplicate)
	_, err = r.GetRegistrationFile(ctx, "f")
	wantErr(t, "no file record", err, store.ErrNotFound)
	hist, err := r.RegistrationHistory(ctx, []string{"1900000000001"})
	must(t, err)
	same(t, "no record", len(hist), 0)
	// A time out of range fails before anything is written.
	bad := rec("1900000000001", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), "S1", "NO-1")
	err = r.ApplyRegistrationFile(ctx, store.RegistrationApply{
		File: store.RegistrationFile{ID: "g", RDP: "R", ReceivedAt: t0, State: "applied"}, Upserts: append(ups, bad)})
	if err == nil {
		t.Fatal("a time out of range was stored")
	}
	_, err = r.GetRegistrationFile(ctx, "g")
	wantErr(t, "no file record after a bad time", err, store.ErrNotFound)
}

func testRegistrationsInEffect(t *testing.T, rep func(t *testing.T) (store.Store, store.Reporting)) {
	ctx := t.Context()
	s, r := rep(t)
	a0, a1 := rec("A", t0, "S1", "NO-1"), rec("A", t1, "S2", "NO-1")
	b0 := rec("B", t0, "S1", "NO-2")
	must(t, r.ApplyRegistrationFile(ctx, store.RegistrationApply{
		File:    store.RegistrationFile{ID: "f", RDP: "R", ReceivedAt: t0, State: "applied"},
		Upserts: []store.RegistrationRecord{a0, a1, b0}}))
	// A record the gateway's PutRegistration wrote has the new fields empty.
	must(t, s.PutRegistration(ctx, store.Registration{MPxN: "C", Fuel: "gas", NetworkOperator: "NO-1", EffectiveFrom: t1}))
	c := store.RegistrationRecord{Registration: store.Registration{MPxN: "C", Fuel: "gas", NetworkOperator: "NO-1", EffectiveFrom: t1}}
	tests := []struct {
		note string
		at   time.Time
		nos  []string
		want []store.RegistrationRecord
	}{
		{"before all", t0.Add(-time.Hour), nil, nil},
		{"at t0", t0, nil, []store.RegistrationRecord{a0, b0}},
		{"at t1", t1, nil, []store.RegistrationRecord{a1, b0, c}},
		{"one network", t2, []string{"NO-1"}, []store.RegistrationRecord{a1, c}},
		{"two networks", t2, []string{"NO-2", "NO-1"}, []store.RegistrationRecord{a1, b0, c}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			got, err := r.RegistrationsInEffect(t.Context(), tc.at, tc.nos)
			must(t, err)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			same(t, "RegistrationsInEffect", got, tc.want)
		})
	}
}

func testIncidents(t *testing.T, rep func(t *testing.T) (store.Store, store.Reporting)) {
	ctx := t.Context()
	_, r := rep(t)
	i1 := store.RegistrationIncident{ID: "i1", Kind: "errors", RDP: "R", File: "f", RaisedAt: t1, Summary: "2 rows", Rows: 2, Detail: []byte(`[1,2]`)}
	i2 := store.RegistrationIncident{ID: "i2", Kind: "not_received", RDP: "R", Key: "nr/R/1", RaisedAt: t0}
	i3 := store.RegistrationIncident{ID: "i3", Kind: "errors", RDP: "Q", RaisedAt: t2}
	for _, in := range []store.RegistrationIncident{i1, i2, i3} {
		must(t, r.PutRegistrationIncident(ctx, in))
	}
	wantErr(t, "same key", r.PutRegistrationIncident(ctx, store.RegistrationIncident{ID: "i4", Key: "nr/R/1", RaisedAt: t2}), store.ErrDuplicate)
	wantErr(t, "same ID", r.PutRegistrationIncident(ctx, i1), store.ErrDuplicate)
	must(t, r.ResolveRegistrationIncident(ctx, "i1", t2, "resent"))
	wantErr(t, "resolved twice", r.ResolveRegistrationIncident(ctx, "i1", t2, ""), store.ErrStale)
	wantErr(t, "unknown", r.ResolveRegistrationIncident(ctx, "nope", t2, ""), store.ErrNotFound)
	i1.ResolvedAt, i1.Resolution = t2, "resent"
	tests := []struct {
		note string
		f    store.IncidentFilter
		want []store.RegistrationIncident
	}{
		{"all", store.IncidentFilter{}, []store.RegistrationIncident{i2, i1, i3}},
		{"one RDP", store.IncidentFilter{RDP: "R"}, []store.RegistrationIncident{i2, i1}},
		{"open", store.IncidentFilter{OpenOnly: true}, []store.RegistrationIncident{i2, i3}},
		{"kind", store.IncidentFilter{Kind: "errors"}, []store.RegistrationIncident{i1, i3}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			got, err := r.RegistrationIncidents(t.Context(), tc.f)
			must(t, err)
			same(t, "RegistrationIncidents", got, tc.want)
		})
	}
}

func testRefreshes(t *testing.T, rep func(t *testing.T) (store.Store, store.Reporting)) {
	ctx := t.Context()
	_, r := rep(t)
	a := store.RefreshRequest{ID: "a", RDP: "R", NetworkOperator: "NO-1", Fuel: "gas", RequestedAt: t0, DueAt: t0.Add(48 * time.Hour)}
	b := store.RefreshRequest{ID: "b", RDP: "R", RequestedAt: t1, DueAt: t1.Add(48 * time.Hour)}
	must(t, r.PutRefreshRequest(ctx, b))
	must(t, r.PutRefreshRequest(ctx, a))
	wantErr(t, "same ID", r.PutRefreshRequest(ctx, a), store.ErrDuplicate)
	must(t, r.MarkRefreshOverdue(ctx, "a", t1))
	wantErr(t, "flagged twice", r.MarkRefreshOverdue(ctx, "a", t2), store.ErrStale)
	wantErr(t, "unknown", r.MarkRefreshOverdue(ctx, "nope", t2), store.ErrNotFound)
	must(t, r.ApplyRegistrationFile(ctx, store.RegistrationApply{
		File: store.RegistrationFile{ID: "f", RDP: "R", ReceivedAt: t2, State: "applied"}, Answers: []string{"b"}}))
	wantErr(t, "received, then flagged", r.MarkRefreshOverdue(ctx, "b", t2), store.ErrStale)
	a.OverdueAt = t1
	b.ReceivedAt, b.File = t2, "f"
	all, err := r.RefreshRequests(ctx, "R", false)
	must(t, err)
	same(t, "all", all, []store.RefreshRequest{a, b})
	open, err := r.RefreshRequests(ctx, "", true)
	must(t, err)
	same(t, "open", open, []store.RefreshRequest{a})
}

func testForecasts(t *testing.T, rep func(t *testing.T) (store.Store, store.Reporting)) {
	ctx := t.Context()
	_, r := rep(t)
	fc := func(user, svc, month string, n int64, at time.Time, rev int) store.Forecast {
		return store.Forecast{UserID: user, Service: svc, Month: month, Count: n, FiledAt: at, Revision: rev}
	}
	must(t, r.PutForecasts(ctx, []store.Forecast{fc("U1", "4.8", "2026-03", 100, t0, 0), fc("U1", "4.8", "2026-04", 100, t0, 0), fc("U2", "3.1", "2026-03", 5, t0, 0)}))
	must(t, r.PutForecasts(ctx, []store.Forecast{fc("U1", "4.8", "2026-03", 120, t1, 0)}))
	must(t, r.PutForecasts(ctx, []store.Forecast{fc("U1", "4.8", "2026-03", 90, t2, 0)}))
	tests := []struct {
		note string
		f    store.ForecastFilter
		want []store.Forecast
	}{
		{"history", store.ForecastFilter{UserID: "U1", Month: "2026-03"}, []store.Forecast{
			fc("U1", "4.8", "2026-03", 100, t0, 1), fc("U1", "4.8", "2026-03", 120, t1, 2), fc("U1", "4.8", "2026-03", 90, t2, 3)}},
		{"latest", store.ForecastFilter{Latest: true}, []store.Forecast{
			fc("U1", "4.8", "2026-03", 90, t2, 3), fc("U1", "4.8", "2026-04", 100, t0, 1), fc("U2", "3.1", "2026-03", 5, t0, 1)}},
		{"in force before t2", store.ForecastFilter{Service: "4.8", Month: "2026-03", FiledBefore: t2, Latest: true}, []store.Forecast{
			fc("U1", "4.8", "2026-03", 120, t1, 2)}},
		{"none before t0", store.ForecastFilter{FiledBefore: t0}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			got, err := r.Forecasts(t.Context(), tc.f)
			must(t, err)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			same(t, "Forecasts", got, tc.want)
		})
	}
}

func testEnrolmentCounts(t *testing.T, rep func(t *testing.T) (store.Store, store.Reporting)) {
	ctx := t.Context()
	_, r := rep(t)
	day := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
	_, ok, err := r.EnrolmentCounts(ctx, day)
	must(t, err)
	same(t, "not recorded", ok, false)
	must(t, r.PutEnrolmentCounts(ctx, day.Add(9*time.Hour), map[string]int{"U1": 10, "U2": 3}, day.Add(9*time.Hour)))
	must(t, r.PutEnrolmentCounts(ctx, day.Add(10*time.Hour), map[string]int{"U1": 11}, day.Add(10*time.Hour)))
	got, ok, err := r.EnrolmentCounts(ctx, day.Add(23*time.Hour))
	must(t, err)
	same(t, "the day's last recording", [2]any{got, ok}, [2]any{map[string]int{"U1": 11}, true})
	must(t, r.PutEnrolmentCounts(ctx, day.AddDate(0, 0, 1), nil, day))
	got, ok, err = r.EnrolmentCounts(ctx, day.AddDate(0, 0, 1))
	must(t, err)
	same(t, "recorded empty", [2]any{len(got), ok}, [2]any{0, true})
	// Processes sharing a store record the same day at once: each
	// recording succeeds (each replaces the day's counts).
	next := day.AddDate(0, 0, 2)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = r.PutEnrolmentCounts(ctx, next, map[string]int{"U1": 5, "U2": 6}, next) })
	}
	wg.Wait()
	must(t, errors.Join(errs...))
	got, ok, err = r.EnrolmentCounts(ctx, next)
	must(t, err)
	same(t, "recorded at once", [2]any{got, ok}, [2]any{map[string]int{"U1": 5, "U2": 6}, true})
}

func testResponseTimings(t *testing.T, rep func(t *testing.T) (store.Store, store.Reporting)) {
	ctx := t.Context()
	s, r := rep(t)
	putUser(t, s, "U")
	onDemand := request("U:D:1", "U", 1) // received hours(1)
	future := request("U:D:2", "U", 2)
	future.Category, future.ExecuteAt, future.State, future.PreCommand = "future_dated", hours(100), "pending", []byte("pc")
	future.After = onDemand.ID // sequenced after it: Held
	old := request("U:D:3", "U", 3)
	old.ReceivedAt = t0.Add(-time.Hour)
	late := request("U:D:4", "U", 4)
	late.ReceivedAt = hours(500) // after the window
	for i, q := range []store.Request{onDemand, future, old, late} {
		must(t, s.InsertRequest(ctx, q, uint64(i+1)))
	}
	// Two responses for the first: the earliest counts.
	done := onDemand
	done.State, done.CompletedAt, done.DueAt = "accepted", hours(1).Add(20*time.Second), hours(1).Add(30*time.Second)
	_, err := s.UpdateRequest(ctx, done, "acknowledged", []store.Delivery{{UserID: "U", Kind: "response", RequestID: done.ID, CreatedAt: done.CompletedAt}})
	must(t, err)
	_, err = s.AppendDeliveries(ctx, []store.Delivery{
		{UserID: "U", Kind: "response", RequestID: done.ID, CreatedAt: hours(2)},
		{UserID: "U", Kind: "alert", Code: "A1", CreatedAt: hours(3), DueAt: hours(3).Add(time.Minute)},
		{UserID: "U", Kind: "alert", Code: "A2", CreatedAt: hours(30), DueAt: hours(30).Add(time.Minute)},
		{UserID: "U", Kind: "notification", CreatedAt: hours(3)},
	})
	must(t, err)
	got, err := r.ResponseTimings(ctx, t0, hours(200))
	must(t, err)
	same(t, "timings", got, []store.ResponseTiming{
		{RequestID: done.ID, UserID: "U", Service: "4.1", Category: "on_demand", State: "accepted", ReceivedAt: hours(1),
			DueAt: done.DueAt, CompletedAt: done.CompletedAt, DeliveredAt: done.CompletedAt},
		{RequestID: future.ID, UserID: "U", Service: "4.1", Category: "future_dated", State: "pending", PreCommand: true, Held: true,
			ReceivedAt: hours(2), ExecuteAt: hours(100)},
	})
	// A request received before the window but executed in it is active.
	got, err = r.ResponseTimings(ctx, hours(50), hours(200))
	must(t, err)
	same(t, "executed in the window", len(got) == 1 && got[0].RequestID == future.ID, true)
	alerts, err := r.AlertDeliveries(ctx, t0, hours(24))
	must(t, err)
	same(t, "alerts", len(alerts) == 1 && alerts[0].Code == "A1", true)
}

func testRequestCounts(t *testing.T, rep func(t *testing.T) (store.Store, store.Reporting)) {
	ctx := t.Context()
	s, r := rep(t)
	putUser(t, s, "U1")
	putUser(t, s, "U2")
	n := uint64(0)
	add := func(user, svc string, at time.Time, sched string) {
		n++
		q := request(fmt.Sprintf("%s:D:%d", user, n), user, int(n))
		q.Service, q.ReceivedAt, q.ScheduleID = svc, at, sched
		c := n
		if sched != "" {
			c = 0
		}
		must(t, s.InsertRequest(ctx, q, c))
	}
	add("U1", "4.8", hours(1), "")
	add("U1", "4.8", hours(2), "S")
	add("U1", "3.1", hours(3), "")
	add("U2", "4.8", hours(4), "")
	add("U2", "4.8", t0.Add(-time.Hour), "")
	add("U2", "4.8", hours(10), "")
	got, err := r.RequestCounts(ctx, t0, hours(10), true)
	must(t, err)
	same(t, "with schedule runs", got, []store.RequestCount{rc("U1", "3.1", 1), rc("U1", "4.8", 2), rc("U2", "4.8", 1)})
	got, err = r.RequestCounts(ctx, t0, hours(10), false)
	must(t, err)
	same(t, "without", got, []store.RequestCount{rc("U1", "3.1", 1), rc("U1", "4.8", 1), rc("U2", "4.8", 1)})
	first, err := r.FirstRequests(ctx)
	must(t, err)
	same(t, "first", first, map[string]time.Time{"U1": hours(1), "U2": t0.Add(-time.Hour)})
}

func rc(user, svc string, n int) store.RequestCount {
	return store.RequestCount{UserID: user, Service: svc, Count: n}
}

func testResetReporting(t *testing.T, rep func(t *testing.T) (store.Store, store.Reporting)) {
	ctx := t.Context()
	s, r := rep(t)
	must(t, r.PutRDP(ctx, store.RDP{ID: "R", CreatedAt: t0}))
	must(t, r.PutNomination(ctx, store.Nomination{NetworkOperator: "NO", RDP: "R", At: t0}))
	must(t, r.PutForecasts(ctx, []store.Forecast{{UserID: "U", Service: "4.8", Month: "2026-03", Count: 1, FiledAt: t0}}))
	must(t, r.PutRegistrationIncident(ctx, store.RegistrationIncident{ID: "i", RaisedAt: t0}))
	must(t, r.PutRefreshRequest(ctx, store.RefreshRequest{ID: "x", RDP: "R", RequestedAt: t0}))
	must(t, r.PutEnrolmentCounts(ctx, t0, map[string]int{"U": 1}, t0))
	must(t, r.ApplyRegistrationFile(ctx, store.RegistrationApply{File: store.RegistrationFile{ID: "f", RDP: "R", ReceivedAt: t0, State: "applied"}}))
	must(t, s.Reset(ctx))
	rdps, _ := r.ListRDPs(ctx)
	noms, _ := r.Nominations(ctx)
	fcs, _ := r.Forecasts(ctx, store.ForecastFilter{})
	incs, _ := r.RegistrationIncidents(ctx, store.IncidentFilter{})
	refs, _ := r.RefreshRequests(ctx, "", false)
	files, _ := r.RegistrationFiles(ctx, "", 0)
	_, day, _ := r.EnrolmentCounts(ctx, t0)
	same(t, "after Reset", []any{len(rdps), len(noms), len(fcs), len(incs), len(refs), len(files), day},
		[]any{0, 0, 0, 0, 0, 0, false})
}
