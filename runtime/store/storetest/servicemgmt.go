package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// RunServiceManagement runs the suite of store.ServiceManagement; open is
// as for Run, and the stores it returns must implement it.
func RunServiceManagement(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	sm := func(t *testing.T) store.ServiceManagement {
		t.Helper()
		s, ok := open(t).(store.ServiceManagement)
		if !ok {
			t.Fatalf("%T does not implement store.ServiceManagement", s)
		}
		return s
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.ServiceManagement)
	}{
		{"Incidents", testServiceIncidents},
		{"Tickets", testTickets},
		{"Maintenance", testMaintenance},
		{"ReleasesAndFeedback", testReleasesFeedback},
		{"Diagnoses", testDiagnoses},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, sm(t))
		})
	}
}

var smT0 = time.Date(2026, 3, 2, 9, 0, 0, 123, time.UTC)

func testServiceIncidents(t *testing.T, s store.ServiceManagement) {
	ctx := t.Context()
	in := store.Incident{ID: "INC-1", RaisedBy: "A", Category: "2", Priority: "P2", Status: "open", Area: "smwan", DeviceID: "D1",
		Interested: []string{"B", "dcc"}, RaisedAt: smT0, TargetAt: smT0.Add(8 * time.Hour)}
	if err := s.InsertIncident(ctx, in, store.IncidentEvent{At: smT0, Actor: "A", Kind: "raised", Status: "open", Data: []byte(`{"reachable":false}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertIncident(ctx, in, store.IncidentEvent{At: smT0, Kind: "raised"}); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("second insert: %v, want ErrDuplicate", err)
	}
	other := store.Incident{ID: "INC-2", RaisedBy: "C", Category: "4", Status: "open", RaisedAt: smT0.Add(time.Hour), ResponsibleUser: "A",
		Notified: []string{"N_1"}}
	if err := s.InsertIncident(ctx, other, store.IncidentEvent{At: smT0, Kind: "raised"}); err != nil {
		t.Fatal(err)
	}
	next := in
	next.Status, next.ResponsibleParty, next.AllocatedAt = "allocated", "dcc", smT0.Add(time.Minute)
	if err := s.UpdateIncident(ctx, next, "open", store.IncidentEvent{At: smT0.Add(time.Minute), Kind: "allocated", Status: "allocated"}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateIncident(ctx, next, "open", store.IncidentEvent{Kind: "allocated"}); !errors.Is(err, store.ErrStale) {
		t.Fatalf("stale update: %v", err)
	}
	if err := s.UpdateIncident(ctx, store.Incident{ID: "nope"}, "open", store.IncidentEvent{Kind: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing update: %v", err)
	}
	got, err := s.GetIncident(ctx, "INC-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "allocated" || !got.RaisedAt.Equal(smT0) || !got.AllocatedAt.Equal(smT0.Add(time.Minute)) || !slices.Equal(got.Interested, []string{"B", "dcc"}) || !got.ResolvedAt.IsZero() {
		t.Fatalf("read back %+v", got)
	}
	evs, err := s.IncidentEvents(ctx, "INC-1")
	if err != nil || len(evs) != 2 || evs[0].Seq != 1 || evs[1].Kind != "allocated" || string(evs[0].Data) != `{"reachable":false}` {
		t.Fatalf("events %+v, %v", evs, err)
	}
	tests := []struct {
		note string
		f    store.IncidentLogFilter
		want []string
	}{
		{"raised by", store.IncidentLogFilter{Party: "C"}, []string{"INC-2"}},
		{"raised or responsible", store.IncidentLogFilter{Party: "A"}, []string{"INC-1", "INC-2"}},
		{"interested", store.IncidentLogFilter{Party: "B"}, []string{"INC-1"}},
		{"no prefix match", store.IncidentLogFilter{Party: "dc"}, nil},
		{"notified", store.IncidentLogFilter{Party: "N_1"}, []string{"INC-2"}},
		{"a wildcard in the ID matches only itself", store.IncidentLogFilter{Party: "N%"}, nil},
		{"an underscore matches only itself", store.IncidentLogFilter{Party: "NX1"}, nil},
		{"status", store.IncidentLogFilter{Statuses: []string{"open"}}, []string{"INC-2"}},
		{"raised window", store.IncidentLogFilter{RaisedFrom: smT0.Add(time.Minute)}, []string{"INC-2"}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			list, err := s.ListIncidents(t.Context(), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, x := range list {
				ids = append(ids, x.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Fatalf("got %v, want %v", ids, tc.want)
			}
		})
	}
}

func testTickets(t *testing.T, s store.ServiceManagement) {
	ctx := t.Context()
	tk := store.Ticket{ID: "T1", RaisedBy: "A", IsUser: true, Kind: "general_query", Status: "open", CreatedAt: smT0, UpdatedAt: smT0}
	if err := s.PutTicket(ctx, tk); err != nil {
		t.Fatal(err)
	}
	tk.Status, tk.IncidentID = "became_incident", "INC-9"
	if err := s.PutTicket(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTicket(ctx, store.Ticket{ID: "T2", RaisedBy: "Party X", Kind: "general_query", Status: "open", CreatedAt: smT0}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetTicket(ctx, "T1")
	if err != nil || got.IncidentID != "INC-9" || !got.IsUser || !got.CreatedAt.Equal(smT0) {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := s.GetTicket(ctx, "none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	mine, _ := s.ListTickets(ctx, "A")
	all, _ := s.ListTickets(ctx, "")
	if len(mine) != 1 || len(all) != 2 {
		t.Fatalf("mine %d all %d", len(mine), len(all))
	}
	if all[1].Answer != "" || !all[1].AnsweredAt.IsZero() {
		t.Fatalf("a ticket not answered reads back answered: %+v", all[1])
	}
	// The Service Desk's answer (para 253-255) is kept, and read back by
	// every reader.
	answered := store.Ticket{ID: "T2", RaisedBy: "Party X", Kind: "general_query", Status: "answered", CreatedAt: smT0,
		UpdatedAt: smT0.Add(time.Hour), Answer: "See the SEC, Section H.", AnsweredAt: smT0.Add(time.Hour)}
	if err := s.PutTicket(ctx, answered); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetTicket(ctx, "T2")
	if err != nil || got.Answer != answered.Answer || !got.AnsweredAt.Equal(answered.AnsweredAt) || got.Status != "answered" {
		t.Fatalf("answered ticket read back %+v %v", got, err)
	}
	theirs, _ := s.ListTickets(ctx, "Party X")
	if len(theirs) != 1 || theirs[0].Answer != answered.Answer || !theirs[0].AnsweredAt.Equal(answered.AnsweredAt) {
		t.Fatalf("listed %+v", theirs)
	}
	if got.Contact != "" || got.LookupHash != "" {
		t.Fatalf("a ticket without a contact reads back with one: %+v", got)
	}
	// A public ticket's contact and the hash of its look-up code (para
	// 254-255) are kept, by every reader and through an update.
	public := store.Ticket{ID: "T3", RaisedBy: "Party Y", Kind: "general_query", Status: "open", CreatedAt: smT0.Add(time.Minute),
		UpdatedAt: smT0.Add(time.Minute), Contact: "desk@party-y.example", LookupHash: strings.Repeat("ab", 32)}
	if err := s.PutTicket(ctx, public); err != nil {
		t.Fatal(err)
	}
	public.Status, public.Answer, public.AnsweredAt = "answered", "Yes.", smT0.Add(2*time.Minute)
	if err := s.PutTicket(ctx, public); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetTicket(ctx, "T3")
	listed, _ := s.ListTickets(ctx, "Party Y")
	for _, tk := range append(listed, got) {
		if err != nil || tk.Contact != public.Contact || tk.LookupHash != public.LookupHash || tk.Answer != "Yes." {
			t.Fatalf("public ticket read back %+v %v (listed %d)", tk, err, len(listed))
		}
	}
}

func testMaintenance(t *testing.T, s store.ServiceManagement) {
	ctx := t.Context()
	w := store.MaintenanceWindow{ID: "MW-1", StartsAt: smT0, EndsAt: smT0.Add(2 * time.Hour), PublishedAt: smT0.AddDate(0, -1, 0)}
	if err := s.PutMaintenance(ctx, w); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		note     string
		from, to time.Time
		want     int
	}{
		{"overlapping", smT0.Add(time.Hour), smT0.Add(3 * time.Hour), 1},
		{"after its end", smT0.Add(2 * time.Hour), time.Time{}, 0},
		{"before its start", smT0.Add(-time.Hour), smT0, 0},
		{"open ended", smT0.Add(-time.Hour), time.Time{}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			got, err := s.MaintenanceWindows(t.Context(), tc.from, tc.to)
			if err != nil || len(got) != tc.want {
				t.Fatalf("got %d (%v), want %d", len(got), err, tc.want)
			}
		})
	}
	w.Cancelled, w.PanelApproval = true, "PANEL-7"
	if err := s.PutMaintenance(ctx, w); err != nil {
		t.Fatal(err)
	}
	got, _ := s.MaintenanceWindows(ctx, time.Time{}, time.Time{})
	if len(got) != 1 || !got[0].Cancelled || got[0].PanelApproval != "PANEL-7" || !got[0].PublishedAt.Equal(w.PublishedAt) {
		t.Fatalf("%+v", got)
	}
}

func testReleasesFeedback(t *testing.T, s store.ServiceManagement) {
	ctx := t.Context()
	if err := s.PutRelease(ctx, store.Release{ID: "R2", Kind: "minor", ImplementAt: smT0.AddDate(0, 2, 0), AnnouncedAt: smT0}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRelease(ctx, store.Release{ID: "R1", Kind: "major", ImplementAt: smT0.AddDate(0, 1, 0), AnnouncedAt: smT0}); err != nil {
		t.Fatal(err)
	}
	rs, err := s.Releases(ctx)
	if err != nil || len(rs) != 2 || rs[0].ID != "R1" {
		t.Fatalf("%+v %v", rs, err)
	}
	if err := s.PutFeedback(ctx, store.Feedback{ID: "F1", UserID: "A", Page: "history", Body: "clear", At: smT0}); err != nil {
		t.Fatal(err)
	}
	fb, err := s.Feedback(ctx, "B")
	if err != nil || len(fb) != 0 {
		t.Fatalf("%v %v", fb, err)
	}
	if fb, _ = s.Feedback(ctx, "A"); len(fb) != 1 || fb[0].Body != "clear" {
		t.Fatalf("%v", fb)
	}
}

// testDiagnoses: a diagnostic's result is kept until it is attached (then
// deleted), one per caller and device: a new run replaces the last.
func testDiagnoses(t *testing.T, s store.ServiceManagement) {
	ctx := t.Context()
	first := store.Diagnosis{ID: "DIAG-1", Tool: "chf_reachability", Caller: "A", DeviceID: "D1", Result: "reachable",
		Data: []byte(`{"reachable":true}`), At: smT0}
	other := store.Diagnosis{ID: "DIAG-2", Tool: "chf_reachability", Caller: "B", DeviceID: "D1", Result: "unreachable", At: smT0}
	for _, d := range []store.Diagnosis{first, other} {
		if err := s.PutDiagnosis(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetDiagnosis(ctx, "DIAG-1")
	if err != nil || got.Caller != "A" || got.DeviceID != "D1" || got.Result != "reachable" || string(got.Data) != `{"reachable":true}` || !got.At.Equal(smT0) {
		t.Fatalf("read back %+v %v", got, err)
	}
	// A's second run on D1 replaces its first; B's stays.
	again := first
	again.ID, again.Result, again.At = "DIAG-3", "unreachable", smT0.Add(time.Minute)
	if err := s.PutDiagnosis(ctx, again); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetDiagnosis(ctx, "DIAG-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the replaced diagnosis: %v, want ErrNotFound", err)
	}
	if got, err := s.GetDiagnosis(ctx, "DIAG-3"); err != nil || got.Result != "unreachable" || !got.At.Equal(again.At) {
		t.Fatalf("the new diagnosis: %+v %v", got, err)
	}
	if got, err := s.GetDiagnosis(ctx, "DIAG-2"); err != nil || got.Caller != "B" || got.Data != nil {
		t.Fatalf("another caller's diagnosis: %+v %v", got, err)
	}
	if err := s.DeleteDiagnosis(ctx, "DIAG-3"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetDiagnosis(ctx, "DIAG-3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the deleted diagnosis: %v, want ErrNotFound", err)
	}
	if err := s.DeleteDiagnosis(ctx, "DIAG-3"); err != nil {
		t.Fatalf("deleting again: %v", err)
	}
}
