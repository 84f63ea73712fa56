package main

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/runtime/store"
	_ "github.com/dccgate/dccgate/runtime/store/sqlite" // the "sqlite" driver and store
)

// TestSIGKILLUnderLoadOnSQLiteExactlyOnce runs load against `dccgate serve`
// on its SQLite file (on demand and future dated requests from four users,
// schedules, the virtual clock advancing all the while, and an SMWAN that
// loses a tenth of the Commands so some are being retried), kills it with
// SIGKILL at a random moment, restarts it on the same data, and does that
// four times. Then it lets all the work fall due and checks: every
// acknowledged request reached a final state with exactly one Service
// Response, every schedule ran exactly once at each of its due times, the
// users' counters never went back, and the inventory is the one seeded.
func TestSIGKILLUnderLoadOnSQLiteExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>7))
	data := t.TempDir()
	addr := freePort(t)
	pkiDir := filepath.Join(data, "pki")
	const premises = 4
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	// The virtual clock does not survive a process: each starts where the
	// last one was seen to be.
	clockAt := start
	serve := func() *child {
		t.Helper()
		return startServe(t, "--data", data, "--listen", addr, "--virtual-clock", "--start", clockAt.Format(time.RFC3339Nano),
			"--demo", strconv.Itoa(premises), "--smwan-loss", "0.1", "--smwan-timeout", "300ms", "--smwan-retries", "2",
			"--log-level", "error")
	}
	counters := map[string]uint64{}
	firsts := map[string]int64{}
	var acknowledged []string
	var mu sync.Mutex
	ack := func(id string) {
		mu.Lock()
		acknowledged = append(acknowledged, id)
		mu.Unlock()
	}

	const rounds = 4
	unfinished := 0 // acknowledged requests a kill left before their end
	for round := 1; round <= rounds; round++ {
		p := serve()
		ctx, cancel := context.WithCancel(t.Context())
		if round == 1 {
			// Schedules, due from two hours on, a minute apart.
			for _, u := range loadUsers {
				if !u.supplier {
					continue
				}
				for i := 1; i <= premises; i++ {
					counters[u.id]++
					first := start.Add(2*time.Hour + time.Duration(i)*time.Minute)
					id, err := submit(ctx, t, userClient(t, pkiDir, p.url, u.id), scheduleReq(u.id, demoDevice(u.meter, i), counters[u.id], first))
					if err != nil {
						t.Fatal(err)
					}
					ack(id)
					firsts["SCH-"+id] = first.UnixNano()
				}
			}
		}
		var wg sync.WaitGroup
		for _, u := range loadUsers {
			cl := userClient(t, pkiDir, p.url, u.id)
			wg.Go(func() {
				for n := 0; ctx.Err() == nil; n++ {
					mu.Lock()
					counters[u.id]++
					c := counters[u.id]
					mu.Unlock()
					dev := demoDevice(u.meter, 1+int(c)%premises)
					req := readReq(u.id, dev, c)
					if u.supplier && c%7 == 0 {
						// Due after every round, when the last process runs:
						// within the 11th day, whatever the counter has
						// reached (the last process runs up to the 12th).
						req = futureReq(u.id, dev, c, start.Add(10*24*time.Hour+time.Duration(c%1440)*time.Minute))
					}
					id, err := submit(ctx, t, cl, req)
					if err != nil {
						return // the process is gone: the outcome of this one is unknown
					}
					if id != "" {
						ack(id)
					}
				}
			})
		}
		adm := adminClient(t, pkiDir, p.url)
		wg.Go(func() {
			for ctx.Err() == nil {
				resp, err := adm.Advance(ctx, connect.NewRequest(&dccgatev1.AdvanceRequest{By: durationpb.New(3 * time.Hour)}))
				if err != nil {
					return
				}
				mu.Lock()
				if now := resp.Msg.GetNow().AsTime(); now.After(clockAt) {
					clockAt = now
				}
				mu.Unlock()
			}
		})
		// The fault: SIGKILL at a random moment of the load.
		<-time.After(300*time.Millisecond + time.Duration(rng.IntN(1200))*time.Millisecond)
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		p.cmd.Wait()
		cancel()
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		unfinished += countUnfinished(t, filepath.Join(data, "dccgate.db"))
	}

	// The last process runs everything due, ten days and more ahead.
	p := serve()
	ctx := t.Context()
	if _, err := adminClient(t, pkiDir, p.url).Advance(ctx, connect.NewRequest(&dccgatev1.AdvanceRequest{
		By: durationpb.New(start.Add(12 * 24 * time.Hour).Sub(clockAt))})); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(data, "dccgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitFinal(ctx, t, db, 30*time.Second)
	st := readState(ctx, t, db)
	t.Logf("%d requests acknowledged over %d SIGKILLs, %d stored (schedule runs included)", len(acknowledged), rounds, len(st.requests))
	checkExactlyOnce(t, st, acknowledged, firsts)
	runs := 0
	for _, r := range st.requests {
		if r.scheduleID != "" {
			runs++
		}
	}
	t.Logf("%d requests left acknowledged or executing by the kills, all completed after a restart; %d schedule runs", unfinished, runs)

	// The counters never went back and the inventory is the one seeded.
	s, err := store.Open(ctx, "sqlite://"+filepath.Join(data, "dccgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, u := range loadUsers {
		got, err := s.GetUser(ctx, u.id)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range st.requests {
			if strings.HasPrefix(r.id, u.id+":") {
				c, _ := strconv.ParseUint(r.id[strings.LastIndex(r.id, ":")+1:], 10, 64)
				if c > got.LastCounter {
					t.Errorf("%s stored, above %s's last counter %d", r.id, u.id, got.LastCounter)
				}
			}
		}
	}
	devs, err := s.Devices(ctx, store.DeviceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]store.Device{}
	for _, d := range devs {
		byID[d.ID] = d
	}
	if want := premises*5 + (premises+1)/2; len(devs) != want {
		t.Errorf("%d devices in the inventory, want %d", len(devs), want)
	}
	for _, d := range devs {
		if d.Status != "commissioned" {
			t.Errorf("%s is %s, want commissioned", d.ID, d.Status)
		}
		for _, ref := range []string{d.CHF, d.Meter} {
			if _, ok := byID[ref]; ref != "" && !ok {
				t.Errorf("%s refers to %s, not in the inventory", d.ID, ref)
			}
		}
	}
}

// countUnfinished counts the requests of a stopped gateway's SQLite file
// that were acknowledged and not yet final (a restart must complete them).
func countUnfinished(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM requests WHERE state IN ('acknowledged', 'executing')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
