package main

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
)

// Helpers of the exactly-once tests (scaleout_test.go on PostgreSQL,
// crash_test.go on SQLite): a small load of the public API from the demo
// world's users, and checks made on the database itself.

// loadUser is a demo user and the meter type it reads (E0: ESME, 6A:
// GSME); supplier users also send future dated requests and schedules.
type loadUser struct {
	id       string
	meter    string
	supplier bool
	// only, if set, is the one premises whose meter the user reads (its
	// network operator); otherwise the user reads every premises' in turn.
	only int
}

var loadUsers = []loadUser{
	{id: "00-00-00-00-00-00-0A-01", meter: "E0", supplier: true},  // EIS, Alpha Energy
	{id: "00-00-00-00-00-00-0A-02", meter: "6A", supplier: true},  // GIS, Alpha Energy
	{id: "00-00-00-00-00-00-0E-01", meter: "E0", supplier: false}, // ENO, North Wires
	{id: "00-00-00-00-00-00-06-01", meter: "6A", supplier: false}, // GNO, Gas Pipes
}

// demoDevice is a device of the demo world's premises i (server.DemoWorld).
func demoDevice(kind string, i int) string {
	return fmt.Sprintf("00-DB-00-00-00-%02X-%s-%02X", i>>8, kind, i&0xff)
}

func envelope(user, dev string, counter uint64) *dccgatev1.Envelope {
	return &dccgatev1.Envelope{RequestId: fmt.Sprintf("%s:%s:%d", user, dev, counter), UserId: user, DeviceId: dev}
}

// readReq is 4.1 Read Instantaneous Import Registers, on demand.
func readReq(user, dev string, counter uint64) *dccgatev1.SubmitRequest {
	return &dccgatev1.SubmitRequest{Request: &dccgatev1.ServiceRequest{Envelope: envelope(user, dev, counter),
		Body: &dccgatev1.ServiceRequest_ReadInstantaneousImportRegisters{ReadInstantaneousImportRegisters: &dccgatev1.ReadInstantaneousImportRegisters{Register: "total"}}}}
}

// futureReq is 4.4 Retrieve Billing Data Log, future dated to at.
func futureReq(user, dev string, counter uint64, at time.Time) *dccgatev1.SubmitRequest {
	env := envelope(user, dev, counter)
	env.Category, env.ExecuteAt = dccgatev1.Category_CATEGORY_FUTURE_DATED, timestamppb.New(at)
	return &dccgatev1.SubmitRequest{Request: &dccgatev1.ServiceRequest{Envelope: env,
		Body: &dccgatev1.ServiceRequest_RetrieveBillingDataLog{RetrieveBillingDataLog: &dccgatev1.RetrieveBillingDataLog{Entry: 0}}}}
}

// scheduleReq is 5.1 Create Schedule of 4.8 every day from first.
func scheduleReq(user, dev string, counter uint64, first time.Time) *dccgatev1.SubmitRequest {
	env := envelope(user, dev, counter)
	env.Schedule = &dccgatev1.ScheduleSpec{Service: "4.8", Every: "24h", First: timestamppb.New(first)}
	return &dccgatev1.SubmitRequest{Request: &dccgatev1.ServiceRequest{Envelope: env,
		Body: &dccgatev1.ServiceRequest_CreateSchedule{CreateSchedule: &dccgatev1.CreateSchedule{}}}}
}

// submit sends one request; it returns the request ID and whether the
// gateway acknowledged it (acknowledged, or pending for future dated
// work). A refusal fails the test; a transport error (the process died) is
// returned.
func submit(ctx context.Context, t *testing.T, cl dccgatev1connect.GatewayServiceClient, req *dccgatev1.SubmitRequest) (string, error) {
	t.Helper()
	resp, err := cl.Submit(ctx, connect.NewRequest(req))
	if err != nil {
		return "", err
	}
	st := resp.Msg.GetState()
	if s := st.GetState(); s != "acknowledged" && s != "pending" {
		t.Errorf("%s: %s %s %s", req.GetRequest().GetEnvelope().GetRequestId(), s, st.GetReason(), st.GetMessage())
		return "", nil
	}
	return st.GetRequestId(), nil
}

// dbRequest is a request row as the checks read it.
type dbRequest struct {
	id, state, owner, scheduleID string
	attempts                     int
	executeAt                    int64
}

// dbState is what the exactly-once checks read from a store's database.
type dbState struct {
	requests  map[string]dbRequest
	responses map[string]int // request ID -> Service Responses delivered
	schedules []dbSchedule
}

type dbSchedule struct {
	id         string
	every, nxt int64
}

// readState reads requests, response counts and schedules. Times are the
// stores' nanoseconds since the epoch (the zero time math.MinInt64).
func readState(ctx context.Context, t *testing.T, db *sql.DB) dbState {
	t.Helper()
	st := dbState{requests: map[string]dbRequest{}, responses: map[string]int{}}
	rows, err := db.QueryContext(ctx, `SELECT id, state, owner, schedule_id, attempts, execute_at FROM requests`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r dbRequest
		if err := rows.Scan(&r.id, &r.state, &r.owner, &r.scheduleID, &r.attempts, &r.executeAt); err != nil {
			t.Fatal(err)
		}
		st.requests[r.id] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	rows, err = db.QueryContext(ctx, `SELECT request_id, COUNT(*) FROM deliveries WHERE kind = 'response' GROUP BY request_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		st.responses[id] = n
	}
	rows.Close()
	rows, err = db.QueryContext(ctx, `SELECT id, every_ns, next_at FROM schedules ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s dbSchedule
		if err := rows.Scan(&s.id, &s.every, &s.nxt); err != nil {
			t.Fatal(err)
		}
		st.schedules = append(st.schedules, s)
	}
	rows.Close()
	return st
}

var finalStates = []string{"accepted", "rejected", "quarantined", "cancelled", "expired", "failed"}

// openCount counts the requests not in a final state.
func openCount(ctx context.Context, t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM requests WHERE state NOT IN ('`+strings.Join(finalStates, "', '")+`')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFinal polls the database until no request is open, or fails after
// the deadline saying which are.
func waitFinal(ctx context.Context, t *testing.T, db *sql.DB, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for openCount(ctx, t, db) > 0 {
		if time.Now().After(deadline) {
			var open []string
			for _, r := range readState(ctx, t, db).requests {
				if !slices.Contains(finalStates, r.state) {
					open = append(open, r.id+" "+r.state)
				}
			}
			t.Fatalf("%d requests still open after %s: %v", len(open), within, open[:min(len(open), 10)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkExactlyOnce checks that every acknowledged request is in the store,
// that every request there reached a final state with exactly one Service
// Response, and that each schedule ran exactly at each of its due times
// from first (none twice, none skipped) up to its next one.
func checkExactlyOnce(t *testing.T, st dbState, acknowledged []string, firsts map[string]int64) {
	t.Helper()
	for _, id := range acknowledged {
		if _, ok := st.requests[id]; !ok {
			t.Errorf("acknowledged request %s is not in the store", id)
		}
	}
	runs := map[string][]int64{}
	for _, r := range st.requests {
		if !slices.Contains(finalStates, r.state) {
			t.Errorf("%s: %s, not a final state", r.id, r.state)
		}
		if n := st.responses[r.id]; n != 1 {
			t.Errorf("%s: %d Service Responses, want 1", r.id, n)
		}
		if r.scheduleID != "" {
			runs[r.scheduleID] = append(runs[r.scheduleID], r.executeAt)
		}
	}
	if len(st.schedules) != len(firsts) {
		t.Errorf("%d schedules stored, want %d", len(st.schedules), len(firsts))
	}
	for _, s := range st.schedules {
		first, ok := firsts[s.id]
		if !ok {
			// The schedule's ID is not known to the client: match it by
			// its runs (the earliest run is its first due time).
			first = math.MaxInt64
			for _, at := range runs[s.id] {
				first = min(first, at)
			}
			if first == math.MaxInt64 {
				first = s.nxt
			}
		}
		var want []int64
		for at := first; at < s.nxt; at += s.every {
			want = append(want, at)
		}
		got := slices.Clone(runs[s.id])
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("schedule %s: runs at %v, want %v (every %s, next %d)", s.id, got, want, time.Duration(s.every), s.nxt)
		}
	}
}
