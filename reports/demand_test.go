package reports_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/reports"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
)

// TestDemandMonth runs March to June 2026 on the virtual clock through the
// gateway and checks June's demand report exactly: supplier A at 110% of
// its forecast is listed, supplier B at 109% is not; Table 5.3's metrics
// for a supplier (First Service Month April) and a network operator (First
// Service Month May), with the twelve-month window scaled by para 411 and
// User ASMS the mean of the 15ths from the First Service Month on.
func TestDemandMonth(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t, day("2026-03-01T08:00:00Z"), 11)
	snapshot := func(at string) {
		t.Helper()
		h.to(day(at))
		if _, err := h.rp.RecordEnrolment(ctx); err != nil {
			t.Fatal(err)
		}
	}
	forecast := func(user string, month string, n int64) error {
		_, err := h.rp.FileForecasts(ctx, user, []reports.ForecastEntry{{Service: "4.1", Month: month, Count: n}})
		return err
	}
	// sendAll spreads n requests over supplier A's meters 1-10.
	sendAll := func(n int, user, ref string, future bool) {
		t.Helper()
		for i := range n {
			var at time.Time
			if future {
				at = h.v.Now().Add(time.Hour)
			}
			dev := esme(i%10 + 1)
			if user == supB {
				dev = esme(11)
			}
			h.send(1, user, ref, dev, at)
		}
	}

	// March: supplier A's first requests (its First Service Month is April).
	h.to(day("2026-03-10T09:00:00Z"))
	sendAll(2, supA, "3.1", false)
	snapshot("2026-03-15T06:00:00Z")
	// April: the network operator's first request (First Service Month May).
	h.to(day("2026-04-05T09:00:00Z"))
	h.send(1, eno, "4.1", esme(1), time.Time{})
	sendAll(4, supA, "3.1", false)
	sendAll(6, supA, "11.1", true)
	h.to(day("2026-04-10T09:00:00Z"))
	if err := forecast(supA, "2026-06", 120); err != nil {
		t.Fatal(err)
	}
	snapshot("2026-04-15T06:00:00Z")
	// May.
	h.to(day("2026-05-05T09:00:00Z"))
	sendAll(4, supA, "3.1", false)
	sendAll(6, supA, "11.1", true)
	h.send(3, eno, "4.8", esme(2), time.Time{})
	h.to(day("2026-05-10T09:00:00Z"))
	if err := forecast(supA, "2026-06", 100); err != nil { // revision 2
		t.Fatal(err)
	}
	snapshot("2026-05-15T06:00:00Z")
	h.to(day("2026-05-20T09:00:00Z"))
	if err := forecast(supB, "2026-06", 100); err != nil {
		t.Fatal(err)
	}
	// June: two more premises of supplier A are enrolled.
	h.to(day("2026-06-01T09:00:00Z"))
	var w gateway.World
	for _, i := range []int{12, 13} {
		regs, devs := premises(i, supA)
		w.Registration, w.Inventory = append(w.Registration, regs...), append(w.Inventory, devs...)
	}
	if err := h.g.Load(ctx, w); err != nil {
		t.Fatal(err)
	}
	// A forecast for the month in progress is refused.
	if err := forecast(supA, "2026-06", 200); !errors.Is(err, &reports.Error{Code: reports.CodeForecastInvalid}) {
		t.Fatalf("a forecast for the current month: %v", err)
	}
	h.to(day("2026-06-08T09:00:00Z"))
	sendAll(110, supA, "4.1", false)
	sendAll(40, supA, "4.8", false)
	sendAll(6, supA, "3.1", false)
	sendAll(6, supA, "11.1", true)
	sendAll(109, supB, "4.1", false)
	h.send(21, eno, "4.8", esme(3), time.Time{})
	snapshot("2026-06-15T06:00:00Z")
	h.to(day("2026-07-02T09:00:00Z"))

	june, _ := reports.ParseMonth("2026-06")
	rep, err := h.rp.Demand(ctx, june)
	if err != nil {
		t.Fatal(err)
	}

	// Para 272: only the usages at or above 110% are listed.
	var listed []string
	for _, l := range rep.Listed {
		listed = append(listed, fmt.Sprintf("%s %s %s", l.UserID, l.Service, l.Basis))
	}
	wantListed := []string{
		supA + " 4.1 forecast",
		supA + " 11.1 threshold:firmware_12m",
		eno + " 4.8 threshold:profile_data_network_m",
		eno + " 4.8 threshold:profile_data_network_12m",
	}
	if fmt.Sprint(listed) != fmt.Sprint(wantListed) {
		t.Fatalf("listed:\n%s\nwant:\n%s", strings.Join(listed, "\n"), strings.Join(wantListed, "\n"))
	}

	svc := func(user, key string) reports.ServiceDemand {
		t.Helper()
		for _, u := range rep.Users {
			if u.UserID != user {
				continue
			}
			for _, s := range u.Services {
				if s.Service == key {
					return s
				}
			}
		}
		t.Fatalf("no %s for %s", key, user)
		return reports.ServiceDemand{}
	}
	th := func(s reports.ServiceDemand, id string) reports.ThresholdResult {
		t.Helper()
		for _, x := range s.Thresholds {
			if x.ID == id {
				return x
			}
		}
		t.Fatalf("no threshold %s in %+v", id, s)
		return reports.ThresholdResult{}
	}

	// Forecasts: A at 110% of revision 2 (filed in May), B at 109%.
	a41, b41 := svc(supA, "4.1"), svc(supB, "4.1")
	if a41.Requests != 110 || a41.Forecast.Count != 100 || a41.Forecast.Revision != 2 || *a41.ForecastPercent != 110 || !a41.Listed {
		t.Fatalf("supplier A 4.1: %+v %+v", a41, a41.Forecast)
	}
	if b41.Requests != 109 || b41.Forecast.Count != 100 || *b41.ForecastPercent != 109 || b41.Listed {
		t.Fatalf("supplier B 4.1: %+v", b41)
	}

	// Table 5.3 for supplier A: First Service Month April, so June's
	// twelve-month window counts April to June (3 months, scaled by 12/3)
	// and ASMS is the mean of 10, 10 and 12 systems.
	asmsA := (12.0 + 10.0 + 10.0) / 3.0
	tests := []struct {
		note                                     string
		got                                      reports.ThresholdResult
		requestsM, requests12M, months           int
		enrolled, asms, scale, metric, threshold float64
		atOrAbove                                bool
	}{
		{"A 3.1 display message, 12 months", th(svc(supA, "3.1"), "display_message_12m"), 6, 14, 3, 12, asmsA, 4, 14.0 * 4.0 / asmsA, 24, false},
		{"A 4.8 profile data, month", th(svc(supA, "4.8"), "profile_data_suppliers_m"), 40, 40, 3, 12, asmsA, 4, 40.0 / 12.0, 30, false},
		{"A 11.1 firmware, 12 months", th(svc(supA, "11.1"), "firmware_12m"), 6, 18, 3, 12, asmsA, 4, 18.0 * 4.0 / asmsA, 6, true},
		// The network operator: First Service Month May; 13 systems on its
		// network on 15 June, 11 on 15 May.
		{"NO 4.8 profile data, month", th(svc(eno, "4.8"), "profile_data_network_m"), 21, 24, 2, 13, 12, 6, 21.0 / 13.0, 0.001 * 48.0 * 30.0, true},
		{"NO 4.8 profile data, 12 months", th(svc(eno, "4.8"), "profile_data_network_12m"), 21, 24, 2, 13, 12, 6, 24.0 * 6.0 / 12.0, 4, true},
		{"NO 4.10 network data, month", th(svc(eno, "4.10"), "network_data_m"), 0, 0, 2, 13, 12, 6, 0, 0.001 * 30.0, false},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			g := tc.got
			if !g.Determined || g.RequestsM != tc.requestsM || g.Requests12M != tc.requests12M || g.MonthsCounted != tc.months ||
				g.Enrolled15th != tc.enrolled || g.ASMS != tc.asms || g.Scale12M != tc.scale || g.Metric != tc.metric ||
				g.Threshold != tc.threshold || g.AtOrAbove != tc.atOrAbove || g.EnrolmentEstimated || g.DaysInMonth != 30 {
				t.Fatalf("got %+v\nwant requests %d/%d months %d enrolled %v asms %v scale %v metric %v threshold %v listed %v",
					g, tc.requestsM, tc.requests12M, tc.months, tc.enrolled, tc.asms, tc.scale, tc.metric, tc.threshold, tc.atOrAbove)
			}
		})
	}
	// Supplier B's first request was in June: no metric before July (para 410).
	if b := th(svc(supB, "4.8"), "profile_data_suppliers_m"); b.Determined || !strings.Contains(b.Note, "para 410") {
		t.Fatalf("supplier B: %+v", b)
	}
	if u := userOf(rep, supB); u.FirstServiceMonth != "2026-07" {
		t.Fatalf("supplier B's First Service Month %q", u.FirstServiceMonth)
	}

	// Aggregate usage per service, for publication.
	var agg []string
	for _, a := range rep.Aggregate {
		agg = append(agg, fmt.Sprintf("%s %d %d", a.Service, a.Requests, a.Users))
	}
	if want := []string{"3.1 6 1", "4.1 219 2", "4.8 61 2", "11.1 6 1"}; fmt.Sprint(agg) != fmt.Sprint(want) {
		t.Fatalf("aggregate %v, want %v", agg, want)
	}
	var b bytes.Buffer
	if err := rep.WriteAggregateCSV(&b); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != 5 || strings.Join(rows[2], ",") != "2026-06,4.1,Read Instantaneous Import Registers,219,2" {
		t.Fatalf("aggregate csv %v %v", rows, err)
	}
	b.Reset()
	if err := rep.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "2026-06,"+supB+",EIS,4.1,Read Instantaneous Import Registers,109,forecast,109,100,109.0000,false") {
		t.Fatalf("csv:\n%s", b.String())
	}
	b.Reset()
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), supA+" EIS 4.1   forecast                         110 of 100 (110.00%)") {
		t.Fatalf("text:\n%s", b.String())
	}
	// A service's line says what listed it, not only that it is.
	if !strings.Contains(b.String(), "forecast 100 (revision 2): 110.00%  LISTED (forecast)") {
		t.Fatalf("text, the listing's basis on the service's line:\n%s", b.String())
	}

	// Forecast history is kept: revisions 1 and 2 of A's June forecast.
	hist, err := h.rp.Forecasts(ctx, store.ForecastFilter{UserID: supA, Month: "2026-06"})
	if err != nil || len(hist) != 2 || hist[0].Count != 120 || hist[1].Count != 100 || hist[1].Revision != 2 {
		t.Fatalf("history %+v %v", hist, err)
	}
}

func userOf(rep *reports.DemandReport, id string) reports.UserDemand {
	for _, u := range rep.Users {
		if u.UserID == id {
			return u
		}
	}
	return reports.UserDemand{}
}

func TestForecastsAreChecked(t *testing.T) {
	h := newHarness(t, day("2026-03-10T09:00:00Z"), 1)
	tests := []struct {
		note    string
		user    string
		entries []reports.ForecastEntry
		code    string
	}{
		{"six months ahead", supA, []reports.ForecastEntry{{Service: "4.1", Month: "2026-04", Count: 10}, {Service: "4.8", Month: "2026-09", Count: 0}}, ""},
		{"seven months ahead", supA, []reports.ForecastEntry{{Service: "4.1", Month: "2026-10", Count: 10}}, reports.CodeForecastInvalid},
		{"the current month", supA, []reports.ForecastEntry{{Service: "4.1", Month: "2026-03", Count: 10}}, reports.CodeForecastInvalid},
		{"a service the role may not send", eno, []reports.ForecastEntry{{Service: "3.1", Month: "2026-04", Count: 10}}, reports.CodeForecastInvalid},
		{"an unknown service", supA, []reports.ForecastEntry{{Service: "99.9", Month: "2026-04", Count: 10}}, reports.CodeForecastInvalid},
		{"a negative count", supA, []reports.ForecastEntry{{Service: "4.1", Month: "2026-04", Count: -1}}, reports.CodeForecastInvalid},
		{"twice in one filing", supA, []reports.ForecastEntry{{Service: "4.1", Month: "2026-04", Count: 1}, {Service: "4.1", Month: "2026-04", Count: 2}}, reports.CodeForecastInvalid},
		{"not a user", "00-00-00-00-00-00-FF-FF", []reports.ForecastEntry{{Service: "4.1", Month: "2026-04", Count: 1}}, reports.CodeUnknownUser},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			got, err := h.rp.FileForecasts(t.Context(), tc.user, tc.entries)
			if tc.code == "" {
				if err != nil || len(got) != len(tc.entries) || got[0].Revision != 1 {
					t.Fatalf("%+v %v", got, err)
				}
				return
			}
			if !errors.Is(err, &reports.Error{Code: tc.code}) {
				t.Fatalf("err %v, want %s", err, tc.code)
			}
		})
	}
}

// TestEnrolmentWithoutSnapshotIsEstimated: a 15th without a recorded
// snapshot is counted from the inventory as it is, and marked estimated.
func TestEnrolmentWithoutSnapshotIsEstimated(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t, day("2026-03-01T08:00:00Z"), 3)
	h.to(day("2026-03-02T09:00:00Z"))
	h.send(1, supA, "4.8", esme(1), time.Time{})
	h.to(day("2026-04-20T09:00:00Z"))
	h.send(2, supA, "4.8", esme(1), time.Time{})
	apr, _ := reports.ParseMonth("2026-04")
	rep, err := h.rp.Demand(ctx, apr)
	if err != nil {
		t.Fatal(err)
	}
	got := userOf(rep, supA)
	for _, s := range got.Services {
		for _, x := range s.Thresholds {
			if x.ID == "profile_data_suppliers_m" && (!x.EnrolmentEstimated || x.Enrolled15th != 3 || x.Metric != 2.0/3.0) {
				t.Fatalf("%+v", x)
			}
		}
	}
	counts, err := h.rp.CountEnrolled(ctx, h.v.Now())
	if err != nil || counts[supA] != 3 || counts[eno] != 3 || counts[gasA] != 3 || counts[gno] != 3 {
		t.Fatalf("counts %v %v", counts, err)
	}
	// A meter decommissioned: its system is no longer enrolled.
	if err := h.st.SetDeviceStatus(ctx, esme(2), "commissioned", "decommissioned", h.v.Now()); err != nil {
		t.Fatal(err)
	}
	counts, _ = h.rp.CountEnrolled(ctx, h.v.Now())
	if counts[supA] != 2 || counts[eno] != 2 || counts[gasA] != 3 {
		t.Fatalf("after decommissioning: %v", counts)
	}
	// A store that cannot stream (no store.Walker) counts the same.
	whole, err := reports.New(noWalker{h.st, h.st.(store.Reporting)}, h.sp, h.v)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := whole.CountEnrolled(ctx, h.v.Now()); err != nil || !maps.Equal(got, counts) {
		t.Fatalf("without streaming: %v %v, want %v", got, err, counts)
	}
}

// noWalker hides a store's store.Walker.
type noWalker struct {
	store.Store
	store.Reporting
}

// TestEnsureEnrolment: the daily snapshot is taken once a day; a second
// call the same day (a restarted gateway) keeps the day's counts without
// walking the inventory again, and the next day is taken anew.
func TestEnsureEnrolment(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t, day("2026-03-15T06:00:00Z"), 3)
	rep := h.st.(store.Reporting)
	recorded := func() map[string]int {
		t.Helper()
		counts, ok, err := rep.EnrolmentCounts(ctx, h.v.Now())
		if err != nil || !ok {
			t.Fatalf("the day is not recorded: %v", err)
		}
		return counts
	}
	if err := h.rp.EnsureEnrolment(ctx); err != nil {
		t.Fatal(err)
	}
	first := recorded()
	if first[supA] != 3 {
		t.Fatalf("counts %v, want supplier A's 3 systems", first)
	}
	d, err := h.st.GetDevice(ctx, esme(1))
	if err != nil {
		t.Fatal(err)
	}
	d.Status = "decommissioned"
	if err := h.st.PutDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := h.rp.EnsureEnrolment(ctx); err != nil {
		t.Fatal(err)
	}
	if again := recorded(); !maps.Equal(again, first) {
		t.Fatalf("the same day counted again: %v, was %v", again, first)
	}
	h.to(day("2026-03-16T06:00:00Z"))
	if err := h.rp.EnsureEnrolment(ctx); err != nil {
		t.Fatal(err)
	}
	if next := recorded(); next[supA] != 2 {
		t.Fatalf("the next day's counts %v, want supplier A's 2 systems", next)
	}
}
