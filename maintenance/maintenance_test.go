package maintenance_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/maintenance"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
	_ "github.com/dccgate/dccgate/runtime/store/sqlite"
	"github.com/dccgate/dccgate/spec"
)

// start is a Monday in March 2026, before April's schedule is due.
var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newPlanner(t *testing.T, clk clock.Clock) (*maintenance.Planner, store.Store) {
	t.Helper()
	st := openStore(t)
	p, err := maintenance.New(t.Context(), st.(store.ServiceManagement), spec.MustDefault(), clk)
	if err != nil {
		t.Fatal(err)
	}
	return p, st
}

// April 2026: Saturday the 4th is not a working day; 01:00-03:00 UK time
// (BST, UTC+1) is outside the protected hours.
func at(day, hhmm string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", day+" "+hhmm, time.UTC)
	if err != nil {
		panic(err)
	}
	return t
}

func TestPublish(t *testing.T) {
	tests := []struct {
		note     string
		before   []store.MaintenanceWindow // published first (with approval)
		w        store.MaintenanceWindow
		wantCode string
		says     []string // what the refusal's message says
		not      []string // and does not
	}{
		{"night on a working day, 2h: no approval needed",
			nil, store.MaintenanceWindow{ID: "MW-1", StartsAt: at("2026-04-07", "00:00"), EndsAt: at("2026-04-07", "02:00")}, "", nil, nil},
		{"in protected hours needs the Panel",
			nil, store.MaintenanceWindow{ID: "MW-2", StartsAt: at("2026-04-07", "10:00"), EndsAt: at("2026-04-07", "11:00")}, maintenance.CodePanelApproval, nil, nil},
		{"protected hours are on working days only: a Saturday afternoon is free",
			nil, store.MaintenanceWindow{ID: "MW-3", StartsAt: at("2026-04-04", "13:00"), EndsAt: at("2026-04-04", "15:00")}, "", nil, nil},
		{"in protected hours with a recorded approval",
			nil, store.MaintenanceWindow{ID: "MW-4", StartsAt: at("2026-04-07", "10:00"), EndsAt: at("2026-04-07", "11:00"), PanelApproval: "PANEL-2026-03-01"}, "", nil, nil},
		{"more than four hours in the month needs the Panel",
			[]store.MaintenanceWindow{{ID: "MW-A", StartsAt: at("2026-04-07", "00:00"), EndsAt: at("2026-04-07", "03:00")}},
			store.MaintenanceWindow{ID: "MW-5", StartsAt: at("2026-04-14", "00:00"), EndsAt: at("2026-04-14", "01:30")}, maintenance.CodePanelApproval, nil, nil},
		{"exactly four hours in the month is allowed",
			[]store.MaintenanceWindow{{ID: "MW-A", StartsAt: at("2026-04-07", "00:00"), EndsAt: at("2026-04-07", "03:00")}},
			store.MaintenanceWindow{ID: "MW-6", StartsAt: at("2026-04-14", "00:00"), EndsAt: at("2026-04-14", "01:00")}, "", nil, nil},
		{"this month's schedule is published too late",
			nil, store.MaintenanceWindow{ID: "MW-7", StartsAt: at("2026-03-20", "00:00"), EndsAt: at("2026-03-20", "01:00")}, maintenance.CodeLatePublication, nil, nil},
		{"an end before the start",
			nil, store.MaintenanceWindow{ID: "MW-8", StartsAt: at("2026-04-07", "02:00"), EndsAt: at("2026-04-07", "01:00")}, maintenance.CodeInvalidWindow, nil, nil},
		{"no start",
			nil, store.MaintenanceWindow{ID: "MW-9", EndsAt: at("2026-04-07", "01:00")}, maintenance.CodeInvalidWindow, nil, nil},
		// Both reasons, each readable: they were printed as a Go slice,
		// "[4h45m of maintenance in 2026-04, above 4h maintenance in ...]".
		{"above the month's limit and in protected hours",
			[]store.MaintenanceWindow{{ID: "MW-A", StartsAt: at("2026-04-07", "00:00"), EndsAt: at("2026-04-07", "03:00")}},
			store.MaintenanceWindow{ID: "MW-10", StartsAt: at("2026-04-08", "10:00"), EndsAt: at("2026-04-08", "11:45")}, maintenance.CodePanelApproval,
			[]string{"panel_approval): 4h45m of maintenance in 2026-04, above 4h; maintenance in protected hours (06:00 to 22:00 Europe/London) at 2026-04-08 11:00"},
			[]string{"[", "]"}},
		// Times the store cannot keep (an internal error before): refused
		// with the range.
		{"an end in year 9999",
			nil, store.MaintenanceWindow{ID: "MW-11", StartsAt: at("2026-04-07", "00:00"), EndsAt: at("9999-12-31", "00:00")}, maintenance.CodeTimeOutOfRange,
			[]string{"the window's end, 9999-12-31T00:00:00Z, is not a time the gateway keeps: give one from 1677-09-21T00:12:43Z to 2262-04-11T23:47:16Z"}, nil},
		{"a start in year 1600",
			nil, store.MaintenanceWindow{ID: "MW-12", StartsAt: at("1600-04-07", "00:00"), EndsAt: at("2026-04-07", "00:00")}, maintenance.CodeTimeOutOfRange,
			[]string{"the window's start, 1600-04-07T00:00:00Z"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			p, _ := newPlanner(t, clock.NewVirtual(start))
			for _, b := range tc.before {
				if _, err := p.Publish(t.Context(), b); err != nil {
					t.Fatal(err)
				}
			}
			got, err := p.Publish(t.Context(), tc.w)
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if !got.PublishedAt.Equal(start) || (tc.w.PanelApproval != "" && got.PanelApprovedAt.IsZero()) {
					t.Fatalf("published %+v", got)
				}
				return
			}
			if !errors.Is(err, &maintenance.Error{Code: tc.wantCode}) {
				t.Fatalf("got %v, want %s", err, tc.wantCode)
			}
			saysAll(t, err, tc.says, tc.not)
		})
	}
}

// saysAll checks that err's message says each of says and none of not.
func saysAll(t *testing.T, err error, says, not []string) {
	t.Helper()
	for _, s := range says {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%q does not say %q", err, s)
		}
	}
	for _, s := range not {
		if strings.Contains(err.Error(), s) {
			t.Errorf("%q says %q", err, s)
		}
	}
}

func TestAnnounceRelease(t *testing.T) {
	now := time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		note     string
		r        store.Release
		wantCode string
		says     []string
	}{
		{"major with 91 days' notice", store.Release{ID: "R1", Kind: "major", ImplementAt: now.AddDate(0, 0, 91)}, "", nil},
		{"major with 60 days' notice", store.Release{ID: "R2", Kind: "major", ImplementAt: now.AddDate(0, 0, 60)}, maintenance.CodeNoticePeriod, nil},
		{"minor with 31 days' notice", store.Release{ID: "R3", Kind: "minor", ImplementAt: now.AddDate(0, 0, 31)}, "", nil},
		{"minor in the year-end freeze", store.Release{ID: "R4", Kind: "minor", ImplementAt: time.Date(2026, 12, 20, 2, 0, 0, 0, time.UTC)}, maintenance.CodeChangeFreeze, nil},
		{"emergency in the freeze", store.Release{ID: "R5", Kind: "emergency", ImplementAt: time.Date(2026, 12, 20, 2, 0, 0, 0, time.UTC)}, "", nil},
		{"unknown kind", store.Release{ID: "R6", Kind: "whim", ImplementAt: now.AddDate(1, 0, 0)}, maintenance.CodeUnknownRelease, []string{`release kind "whim": allowed are emergency, major, minor`}},
		{"in year 9999", store.Release{ID: "R7", Kind: "major", ImplementAt: time.Date(9999, 1, 4, 2, 0, 0, 0, time.UTC)}, maintenance.CodeTimeOutOfRange,
			[]string{"the release's implementation time, 9999-01-04T02:00:00Z, is not a time the gateway keeps"}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			p, _ := newPlanner(t, clock.NewVirtual(now))
			_, err := p.Announce(t.Context(), tc.r)
			if tc.wantCode == "" {
				if err != nil {
					t.Fatal(err)
				}
				rs, _ := p.Releases(t.Context())
				if len(rs) != 1 || !rs[0].AnnouncedAt.Equal(now) {
					t.Fatalf("%+v", rs)
				}
				return
			}
			if !errors.Is(err, &maintenance.Error{Code: tc.wantCode}) {
				t.Fatalf("got %v, want %s", err, tc.wantCode)
			}
			saysAll(t, err, tc.says, []string{"[", "]"})
		})
	}
}

// TestGatewayRefusesDuringWindow: a window set on the virtual clock makes a
// request received during it refused with MAINTENANCE and the window's
// reference; one after it succeeds.
func TestGatewayRefusesDuringWindow(t *testing.T) {
	ctx := t.Context()
	sp := spec.MustDefault()
	v := clock.NewVirtual(start)
	p, st := newPlanner(t, v)
	eng, err := engine.New(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(ctx, gateway.Config{Store: st, Engine: eng, Spec: sp, Clock: v, Virtual: v, Workers: 1, Maintenance: p})
	if err != nil {
		t.Fatal(err)
	}
	const user, chf, esme = "00-00-00-00-00-00-0A-01", "00-DB-00-00-00-00-C0-01", "00-DB-00-00-00-00-E0-01"
	if err := g.Reset(ctx, gateway.World{
		Users:        []store.User{{ID: user, Role: "EIS", Party: "Alpha"}},
		Registration: []store.Registration{{MPxN: "1900000000011", Fuel: "electricity", ImportSupplier: user, NetworkOperator: "00-00-00-00-00-00-0E-01"}},
		Inventory: []store.Device{{ID: chf, Type: "CHF", Status: "commissioned"},
			{ID: esme, Type: "ESME", Status: "commissioned", MPxN: "1900000000011", CHF: chf}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	w := store.MaintenanceWindow{ID: "MW-2026-04-01", Description: "database upgrade", StartsAt: at("2026-04-07", "00:00"), EndsAt: at("2026-04-07", "02:00")}
	if _, err := p.Publish(ctx, w); err != nil {
		t.Fatal(err)
	}
	send := func(t *testing.T) store.Request {
		t.Helper()
		r, err := g.Submit(ctx, user, &engine.Request{UserID: user, DeviceID: esme, Service: "4.1", Body: map[string]any{"register": "total"}})
		if err != nil {
			t.Fatal(err)
		}
		g.WaitIdle(ctx)
		got, err := st.GetRequest(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	steps := []struct {
		note       string
		at         time.Time
		wantState  string
		wantReason string
	}{
		{"before the window", at("2026-04-06", "23:59"), gateway.StateAccepted, ""},
		{"at its start", at("2026-04-07", "00:00"), gateway.StateRejected, "MAINTENANCE"},
		{"during it", at("2026-04-07", "01:30"), gateway.StateRejected, "MAINTENANCE"},
		{"at its end", at("2026-04-07", "02:00"), gateway.StateAccepted, ""},
	}
	for _, s := range steps {
		t.Run(s.note, func(t *testing.T) {
			v.Set(s.at)
			r := send(t)
			if r.State != s.wantState || r.Reason != s.wantReason {
				t.Fatalf("%s %s %q, want %s %s", r.State, r.Reason, r.Message, s.wantState, s.wantReason)
			}
			if s.wantReason != "" && (!strings.Contains(r.Message, w.ID) || r.Clause != sp.Reason("MAINTENANCE").Clause) {
				t.Fatalf("message %q clause %q: want the window's reference and the reason's clause", r.Message, r.Clause)
			}
		})
	}
}
