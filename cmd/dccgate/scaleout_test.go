package main

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"google.golang.org/protobuf/types/known/durationpb"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/runtime/server"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/postgres/pgtest"
)

// pgSchema returns a DSN for a schema of the test PostgreSQL of its own
// (dropped at the end) with a connection to it, or skips the test when
// DCCGATE_TEST_POSTGRES is not set.
func pgSchema(t *testing.T) (string, *sql.DB) {
	t.Helper()
	dsn := pgtest.Schema(t, "scaleout")
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // before the schema is dropped
	return dsn, db
}

// TestTwoProcessesOnPostgresShareWorkExactlyOnce runs two `dccgate serve`
// on one PostgreSQL schema. Users' requests go to either process (one
// user's only to the first, while it listens on the second), schedules and
// future dated work fall due on both processes' clocks at once, and then:
// every acknowledged request completed exactly once (one execution, one
// Service Response), both processes did work, each schedule ran once at
// each due time, and the stream on the second process carried the
// responses of the requests the first executed. Then a third process that
// hangs on the SMWAN claims requests, keeps them while it lives (its
// leases are renewed, nobody takes them), and when it is killed the others
// take them over and complete each once.
func TestTwoProcessesOnPostgresShareWorkExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	dsn, db := pgSchema(t)
	ctx := t.Context()
	data := t.TempDir()
	pkiDir := filepath.Join(data, "pki")
	const premises = 4
	users := seedShared(t, dsn, pkiDir, premises, 24)
	serve := func(extra ...string) *child {
		t.Helper()
		args := []string{"--data", data, "--store", dsn, "--virtual-clock", "--lease", "3s", "--demo", "0",
			"--log-level", "warn", "--listen", freePort(t)}
		return startServe(t, append(args, extra...)...)
	}
	procs := []*child{serve(), serve()}
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC) // the virtual clocks' start

	// The ENO's stream, on the second process; its requests go to the first.
	streamUser := loadUsers[2].id
	streamClient := userClient(t, pkiDir, procs[1].url, streamUser)
	var streamMu sync.Mutex
	streamed := map[string]int{}
	streamChanged := make(chan struct{}, 1)
	go func() {
		// The call returns once the server sends its first message.
		stream, err := streamClient.Subscribe(ctx, connect.NewRequest(&dccgatev1.SubscribeRequest{}))
		if err != nil {
			return
		}
		for stream.Receive() {
			if id := stream.Msg().GetResponse().GetRequestId(); id != "" {
				streamMu.Lock()
				streamed[id]++
				streamMu.Unlock()
				select {
				case streamChanged <- struct{}{}:
				default:
				}
			}
		}
	}()

	// Schedules: each supplier one per premises, due a minute apart.
	counters := map[string]uint64{}
	firsts := map[string]int64{}
	var acknowledged []string
	for _, u := range loadUsers {
		if !u.supplier {
			continue
		}
		for i := 1; i <= premises; i++ {
			counters[u.id]++
			first := start.Add(24*time.Hour + time.Duration(i)*time.Minute)
			cl := userClient(t, pkiDir, procs[i%2].url, u.id)
			id, err := submit(ctx, t, cl, scheduleReq(u.id, demoDevice(u.meter, i), counters[u.id], first))
			if err != nil {
				t.Fatal(err)
			}
			acknowledged = append(acknowledged, id)
			firsts["SCH-"+id] = first.UnixNano()
		}
	}

	// The load: each user sends its requests one after another (its
	// counter must rise), alternating between the processes; a tenth of
	// the suppliers' are future dated.
	const perUser = 150
	clients := make([][]dccgatev1connect.GatewayServiceClient, len(users))
	for i, u := range users {
		for _, p := range procs {
			clients[i] = append(clients[i], userClient(t, pkiDir, p.url, u.id))
		}
	}
	var mu sync.Mutex
	var streamIDs []string
	onDemand := 0
	began := time.Now()
	var wg sync.WaitGroup
	for ui, u := range users {
		c0 := counters[u.id]
		wg.Go(func() {
			count := perUser
			if u.only > 0 {
				count = perUser / 3
			}
			for n := 1; n <= count; n++ {
				dev := demoDevice(u.meter, 1+n%premises)
				if u.only > 0 {
					dev = demoDevice(u.meter, u.only)
				}
				counter := c0 + uint64(n)
				req := readReq(u.id, dev, counter)
				if u.supplier && n%10 == 0 {
					req = futureReq(u.id, dev, counter, start.Add(time.Hour+time.Duration(n)*time.Minute))
				}
				p := n % 2
				if u.id == streamUser {
					p = 0
				}
				id, err := submit(ctx, t, clients[ui][p], req)
				if err != nil {
					t.Errorf("submit to process %d: %v", p, err)
					return
				}
				mu.Lock()
				acknowledged = append(acknowledged, id)
				if req.GetRequest().GetEnvelope().GetCategory() != dccgatev1.Category_CATEGORY_FUTURE_DATED {
					onDemand++
				}
				if u.id == streamUser {
					streamIDs = append(streamIDs, id)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// Requests sent without a Request ID, for one user to both processes
	// at once: each process numbers them from the user's counter, and a
	// number the other took is taken again, not refused as a replay.
	numbered := loadUsers[3]
	for _, p := range procs {
		cl := userClient(t, pkiDir, p.url, numbered.id)
		wg.Go(func() {
			for n := 1; n <= 40; n++ {
				req := readReq(numbered.id, demoDevice(numbered.meter, 1+n%premises), 0)
				req.Request.Envelope.RequestId = ""
				id, err := submit(ctx, t, cl, req)
				if err != nil {
					t.Errorf("submit without an ID: %v", err)
					return
				}
				mu.Lock()
				acknowledged = append(acknowledged, id)
				onDemand++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// On-demand work done: only the future dated and schedules are open.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var open int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM requests WHERE state NOT IN ('accepted', 'rejected', 'pending')`).Scan(&open); err != nil {
			t.Fatal(err)
		}
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d on-demand requests still open", open)
		}
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(began)
	t.Logf("two processes on PostgreSQL: %d on-demand requests (plus %d future dated) submitted and completed in %s: %.0f/s (%d users, each one request at a time)",
		onDemand, len(acknowledged)-onDemand-len(firsts), took.Round(time.Millisecond), float64(onDemand)/took.Seconds(), len(users))

	// Both clocks move three days at once: the future dated work and each
	// schedule's runs fall due on both processes.
	errs := make([]error, len(procs))
	for i, p := range procs {
		wg.Go(func() {
			_, errs[i] = adminClient(t, pkiDir, p.url).Advance(ctx, connect.NewRequest(&dccgatev1.AdvanceRequest{By: durationpb.New(73 * time.Hour)}))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("advance process %d: %v", i, err)
		}
	}
	waitFinal(ctx, t, db, 30*time.Second)
	st := readState(ctx, t, db)
	checkExactlyOnce(t, st, acknowledged, firsts)
	owners := map[string]int{}
	for _, r := range st.requests {
		if r.attempts > 1 {
			t.Errorf("%s executed %d times with both processes alive", r.id, r.attempts)
		}
		if r.owner != "" {
			owners[r.owner]++
		}
	}
	if len(owners) != 2 {
		t.Errorf("requests executed by %v, want both processes", owners)
	}
	for _, s := range st.schedules {
		if n := int((s.nxt - firsts[s.id]) / s.every); n != 3 {
			t.Errorf("schedule %s ran %d times in three days, want 3", s.id, n)
		}
	}
	// The stream on the second process has every response of the requests
	// the first executed for its user, once.
	deadline = time.Now().Add(20 * time.Second)
	for {
		streamMu.Lock()
		missing, twice := 0, 0
		for _, id := range streamIDs {
			switch streamed[id] {
			case 0:
				missing++
			case 1:
			default:
				twice++
			}
		}
		streamMu.Unlock()
		if twice > 0 {
			t.Fatalf("%d responses streamed more than once", twice)
		}
		if missing == 0 {
			break
		}
		select {
		case <-streamChanged:
		case <-time.After(time.Until(deadline)):
			t.Fatalf("%d of %d responses never reached the stream on the other process", missing, len(streamIDs))
		}
	}

	// Takeover: a third process whose SMWAN never answers, with two
	// workers: two requests run on it (claimed and leased), four wait in
	// its queue.
	hung := serve("--smwan-latency", "1h", "--smwan-timeout", "1h", "--workers", "2")
	u := loadUsers[0]
	cl := userClient(t, pkiDir, hung.url, u.id)
	var taken []string
	base := counters[u.id] + perUser
	for i := 1; i <= 6; i++ {
		id, err := submit(ctx, t, cl, readReq(u.id, demoDevice(u.meter, 1+i%premises), base+uint64(i)))
		if err != nil {
			t.Fatal(err)
		}
		taken = append(taken, id)
	}
	pid := "/" + strconv.Itoa(hung.cmd.Process.Pid) + "/"
	inList := "('" + strings.Join(taken, "', '") + "')"
	// It keeps the two it runs, renewing their leases past the first
	// expiry while the others look for expired leases: nobody takes them.
	// (The four in its queue, never leased, the others stamp and take
	// once the stamp expires: a stuck process's waiting work is shared.)
	var running []string
	var firstLease int64
	deadline = time.Now().Add(20 * time.Second)
	for {
		rows, err := db.QueryContext(ctx, `SELECT id, lease_until FROM requests WHERE id IN `+inList+`
			AND state = 'executing' AND attempts = 1 AND owner LIKE $1 ORDER BY id`, "%"+pid+"%")
		if err != nil {
			t.Fatal(err)
		}
		var held []string
		var minLease int64
		for rows.Next() {
			var id string
			var lease int64
			if err := rows.Scan(&id, &lease); err != nil {
				t.Fatal(err)
			}
			held = append(held, id)
			if minLease == 0 || lease < minLease {
				minLease = lease
			}
		}
		rows.Close()
		switch {
		case firstLease == 0 && len(held) == 2:
			running, firstLease = held, minLease
		case firstLease != 0 && !slices.Equal(held, running):
			t.Fatalf("the live process holds %v of the %v it runs: taken from it", held, running)
		}
		if firstLease != 0 && minLease > firstLease+int64(3*time.Second) {
			break // renewed beyond the first lease's expiry, still its own
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hung process's requests were not claimed and renewed in time (holding %v)", held)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := hung.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	hung.cmd.Wait()
	waitFinal(ctx, t, db, 20*time.Second)
	st = readState(ctx, t, db)
	for _, id := range taken {
		r := st.requests[id]
		attempts := 1 // waiting in the dead process's queue: run once, elsewhere
		if slices.Contains(running, id) {
			attempts = 2 // running on it when it died: run again elsewhere
		}
		if r.state != "accepted" || r.attempts != attempts || strings.Contains(r.owner, pid) || st.responses[id] != 1 {
			t.Errorf("%s after the takeover: %s, %d attempts, owner %s, %d responses; want accepted by another process, %d attempts, one response",
				id, r.state, r.attempts, r.owner, st.responses[id], attempts)
		}
	}
	checkExactlyOnce(t, st, append(acknowledged, taken...), firsts)
}

// seedShared loads the demo world of `premises` premises plus `extra`
// more, each registered to a network operator of its own, into the store
// at dsn (with their users' certificates in pkiDir), as the processes'
// --demo would with one network operator for all: extra users let more
// requests be in flight at once (a user's requests go one at a time, its
// counter rising). It returns the users of the load: loadUsers and the
// extra network operators.
func seedShared(t *testing.T, dsn, pkiDir string, premises, extra int) []loadUser {
	t.Helper()
	ctx := t.Context()
	p, err := server.LoadOrCreatePKI(pkiDir)
	if err != nil {
		t.Fatal(err)
	}
	w := server.DemoWorld(premises + extra)
	users := slices.Clone(loadUsers)
	for k := 1; k <= extra; k++ {
		i := premises + k
		id := fmt.Sprintf("00-00-00-00-00-00-E1-%02X", k)
		w.Users = append(w.Users, store.User{ID: id, Role: "ENO", Party: "Wires " + strconv.Itoa(k)})
		for j := range w.Registration {
			if w.Registration[j].MPxN == fmt.Sprintf("19%011d", i) {
				w.Registration[j].NetworkOperator = id
			}
		}
		users = append(users, loadUser{id: id, meter: "E0", only: i})
	}
	if w.Users, err = server.IssueUserCerts(p, w.Users); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for _, u := range w.Users {
		u.Entered = true
		if err := st.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range w.Registration {
		if err := st.PutRegistration(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range w.Inventory {
		d.UpdatedAt = start
		if err := st.PutDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	return users
}
