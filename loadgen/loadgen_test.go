package loadgen_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/loadgen"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/server"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// start seeds a world into a fresh SQLite store and serves it in process.
func start(t *testing.T, w loadgen.World) (*server.Server, map[string]pki.Issued) {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	p, err := server.LoadOrCreatePKI(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	users, err := server.IssueUserCerts(p, w.Users())
	if err != nil {
		t.Fatal(err)
	}
	url := "sqlite://" + filepath.Join(dir, "dccgate.db")
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := w.Seed(ctx, st, users, time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if stats.Premises != w.Premises() || stats.Registrations != 2*w.Premises() {
		t.Fatalf("seeded %+v for %d premises", stats, w.Premises())
	}
	srv, err := server.Start(ctx, server.Config{DataDir: dir, StoreURL: url, Listen: "127.0.0.1:0", PKI: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	creds := map[string]pki.Issued{}
	for _, u := range users {
		c, err1 := os.ReadFile(filepath.Join(p.Dir, "users", u.ID+".pem"))
		k, err2 := os.ReadFile(filepath.Join(p.Dir, "users", u.ID+"-key.pem"))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		creds[u.ID] = pki.Issued{CertPEM: c, KeyPEM: k}
	}
	return srv, creds
}

// TestRunCompletesTheMix: the default mix, critical requests signed, is
// accepted by the gateway and each response arrives on the stream; the
// counts add up; device events raise alerts on the streams.
// Each item alone: TestRunEachItem.
func TestRunCompletesTheMix(t *testing.T) {
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	w := loadgen.World{Systems: 40, Suppliers: 3, Others: 2}
	srv, creds := start(t, w)
	for _, mode := range []struct {
		name string
		rate float64
	}{{"closed", 0}, {"open", 200}} {
		t.Run(mode.name, func(t *testing.T) {
			// Started comes once, between the setup's requests and the run's.
			stored := func() int {
				t.Helper()
				rs, err := srv.G.Store().ListRequests(t.Context(), store.RequestFilter{})
				if err != nil {
					t.Fatal(err)
				}
				return len(rs)
			}
			before, atStart, starts := stored(), 0, 0
			res, err := loadgen.Run(t.Context(), loadgen.Config{URL: srv.URL, CAPEM: srv.PKI.CA.CertPEM, Credentials: creds, World: w, Spec: sp,
				Rate: mode.rate, Concurrency: 4, Duration: 1100 * time.Millisecond, Seed: 1, Progress: io.Discard,
				Events: srv.G.DeviceEvent, EventRate: 20, Started: func() { starts, atStart = starts+1, stored() }})
			if err != nil {
				t.Fatal(err)
			}
			if after := stored(); starts != 1 || atStart <= before || after != atStart+res.Sent {
				t.Fatalf("started %d times, with %d requests stored (%d before the setup, %d after the run of %d)", starts, atStart, before, after, res.Sent)
			}
			if res.Completed == 0 || res.Completed != res.Sent {
				t.Fatalf("sent %d, completed %d: %v", res.Sent, res.Completed, res.Outcomes)
			}
			if res.Outcomes["accepted"] != res.Completed {
				t.Fatalf("outcomes %v, want all %d accepted", res.Outcomes, res.Completed)
			}
			if res.Latency["all"].Count != res.Completed || res.Latency["all"].P50 <= 0 {
				t.Fatalf("latency %+v", res.Latency["all"])
			}
			// Device events raise alerts that reach the streams; the
			// first of each is timed.
			if a := res.Alerts; a.Events < 10 || len(a.EventErrors) > 0 || a.Latency.Count == 0 || a.ByCode["A1"]+a.ByCode["A15"]+a.ByCode["A16"] == 0 {
				t.Fatalf("alerts %+v", a)
			}
			checkSamples(t, res, mode.rate > 0, storedStates(t, srv))
			if rt := res.Runtime; rt.SchedP99MS <= 0 || rt.GCShare < 0 || rt.GCShare > 1 {
				t.Errorf("runtime %+v", rt)
			}
		})
	}
}

// TestOpenLoopBoundsOutstanding: an open loop sends a request only while
// fewer than MaxOutstanding are unanswered; the others due count as
// dropped, and every request due is either sent or dropped (none fails
// here before it is sent, which would count under the outcomes alone). The gateway's
// SMWAN takes 300 ms a Command, so at 200 a second some 60 would be
// outstanding without the bound.
func TestOpenLoopBoundsOutstanding(t *testing.T) {
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	w := loadgen.World{Systems: 40, Suppliers: 2, Others: 1}
	srv, creds := start(t, w)
	srv.G.SetSMWANFaults(300*time.Millisecond, 0)
	const rate, bound = 200, 10
	res, err := loadgen.Run(t.Context(), loadgen.Config{URL: srv.URL, CAPEM: srv.PKI.CA.CertPEM, Credentials: creds, World: w, Spec: sp,
		Rate: rate, MaxOutstanding: bound, Duration: time.Second, Seed: 1, Progress: io.Discard,
		Mix: []loadgen.Item{loadgen.DefaultMix[0]}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent+res.Dropped != rate || res.Dropped == 0 || res.MaxOutstanding != bound {
		t.Fatalf("sent %d, dropped %d (bound %d), want %d due in all, some dropped", res.Sent, res.Dropped, res.MaxOutstanding, rate)
	}
	// Each sent request holds a place for at least the SMWAN's 300 ms:
	// no more than the bound can have been sent in each 300 ms of the run.
	if max := bound * (1 + int(res.Duration/0.3)); res.Sent > max {
		t.Fatalf("sent %d in %.1f s, more than %d places of 300 ms allow", res.Sent, res.Duration, max)
	}
	if res.Completed != res.Sent {
		t.Fatalf("sent %d, completed %d: %v", res.Sent, res.Completed, res.Outcomes)
	}
}

// TestRunEachItem: each item of the default mix alone, critical ones
// signed, is accepted by the gateway (an item of another role sent by a
// user of that role, whose requests of the service the gateway holds).
// Alone, as a mix of a few hundred requests may leave a light item out.
func TestRunEachItem(t *testing.T) {
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	w := loadgen.World{Systems: 40, Suppliers: 3, Others: 2}
	srv, creds := start(t, w)
	for _, it := range loadgen.DefaultMix {
		t.Run(it.Name, func(t *testing.T) {
			res, err := loadgen.Run(t.Context(), loadgen.Config{URL: srv.URL, CAPEM: srv.PKI.CA.CertPEM, Credentials: creds, World: w, Spec: sp,
				Mix: []loadgen.Item{it}, Concurrency: 2, Duration: 200 * time.Millisecond, Seed: 1, Progress: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			if res.Completed == 0 || res.Completed != res.Sent || res.ByItem[it.Name].Count != res.Completed || res.Outcomes["accepted"] != res.Completed {
				t.Fatalf("sent %d, completed %d (%d of the item): %v", res.Sent, res.Completed, res.ByItem[it.Name].Count, res.Outcomes)
			}
			if it.Role == "" {
				return
			}
			sent := false
			for _, u := range w.Users() {
				if u.Role != it.Role {
					continue
				}
				rs, err := srv.G.Store().ListRequests(t.Context(), store.RequestFilter{UserID: u.ID})
				if err != nil {
					t.Fatal(err)
				}
				sent = sent || slices.ContainsFunc(rs, func(r store.Request) bool { return r.Service == it.Service })
			}
			if !sent {
				t.Errorf("no request of %s from a %s user", it.Service, it.Role)
			}
		})
	}
}

// TestWorldOtherRoles: the world has Others users of each role other than
// the Import Suppliers', and each premises' Registration Data names the
// premises' own Export Supplier and Network Operators, round robin.
func TestWorldOtherRoles(t *testing.T) {
	ctx := t.Context()
	w := loadgen.World{Systems: 8, Suppliers: 2, Others: 3}
	users := w.Users()
	roles := map[string]int{}
	for _, u := range users {
		roles[u.Role]++
	}
	if want := map[string]int{"EIS": 2, "GIS": 2, "EES": 3, "SNA": 3, "ENO": 3, "GNO": 3, "OU": 3}; !maps.Equal(roles, want) {
		t.Fatalf("users by role %v, want %v", roles, want)
	}
	// Every role of the spec has users in the world.
	for _, r := range spec.MustDefault().Roles {
		if roles[r.Code] == 0 {
			t.Errorf("no user of role %s (%s) in the world", r.Code, r.Description)
		}
	}
	if id := w.OtherUser("EIS", 1); id != "" {
		t.Errorf("OtherUser(EIS) = %q, want none (the premises' supplier is Premise's)", id)
	}
	st, err := store.Open(ctx, "sqlite://:memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := w.Seed(ctx, st, users, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 1; i <= w.Premises(); i++ {
		regs, err := st.Registrations(ctx, []string{fmt.Sprintf("19%011d", i), fmt.Sprintf("7%06d", i)}, time.Now())
		if err != nil || len(regs) != 2 {
			t.Fatalf("premises %d: %v %v", i, regs, err)
		}
		for _, rg := range regs {
			want := map[string]string{"network_operator": w.OtherUser("ENO", i), "export_supplier": w.OtherUser("EES", i)}
			if rg.Fuel == "gas" {
				want = map[string]string{"network_operator": w.OtherUser("GNO", i), "export_supplier": ""}
			}
			if got := map[string]string{"network_operator": rg.NetworkOperator, "export_supplier": rg.ExportSupplier}; !maps.Equal(got, want) {
				t.Errorf("premises %d, %s: %v, want %v", i, rg.Fuel, got, want)
			}
			seen[rg.NetworkOperator] = true
		}
	}
	if len(seen) != 2*3 {
		t.Errorf("network operators named %v, want all three of each fuel", seen)
	}
	if w.OtherUser("ENO", 1) == w.OtherUser("ENO", 2) {
		t.Errorf("premises 1 and 2 share network operator %s", w.OtherUser("ENO", 1))
	}
}

// TestRunRefusesAnItemItsSenderMayNotSend: an item of a role the world has
// no user of, or of a service its sender is not eligible for, is refused
// before anything is sent.
func TestRunRefusesAnItemItsSenderMayNotSend(t *testing.T) {
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		it   loadgen.Item
		want string
	}{
		{loadgen.Item{Name: "x", Service: "4.1", Fuel: "gas", Role: "DCC", Weight: 1}, "no user of role DCC"},
		{loadgen.Item{Name: "x", Service: "6.11", Fuel: "electricity", Role: "OU", Weight: 1}, "role OU may not send service 6.11"},
		{loadgen.Item{Name: "x", Service: "4.2", Fuel: "gas", Weight: 1}, "role GIS may not send service 4.2"},
	} {
		_, err := loadgen.Run(t.Context(), loadgen.Config{Spec: sp, World: loadgen.World{Systems: 2}, Duration: time.Second, Mix: []loadgen.Item{tc.it}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc.it, err, tc.want)
		}
	}
}

func TestParseMix(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		want map[string]float64
	}{
		{"", true, map[string]float64{"critical": 5}},
		{"critical=0, topup=20", true, map[string]float64{"critical": 0, "topup": 20}},
		{"nope=1", false, nil},
		{"critical", false, nil},
		{"critical=-1", false, nil},
		{"*=0,critical=1", true, map[string]float64{"critical": 1, "read-electricity": 0, "other-user": 0, "topup": 0}},
		{"critical=2,*=0.5", true, map[string]float64{"critical": 2, "read-gas": 0.5, "network-gas": 0.5}},
		{"*=x", false, nil},
		{" * = 0 , topup = 3", true, map[string]float64{"topup": 3, "critical": 0}},
		{"critical=1x", false, nil},
		{"critical=NaN", false, nil},
		{"critical=Inf", false, nil},
	} {
		mix, err := loadgen.ParseMix(tc.in)
		if (err == nil) != tc.ok {
			t.Fatalf("%q: err %v", tc.in, err)
		}
		for _, it := range mix {
			if w, ok := tc.want[it.Name]; ok && it.Weight != w {
				t.Errorf("%q: %s weight %g, want %g", tc.in, it.Name, it.Weight, w)
			}
		}
	}
}

// storedStates are the states of the requests in srv's store, by Request ID.
func storedStates(t *testing.T, srv *server.Server) map[string]string {
	t.Helper()
	rs, err := srv.G.Store().ListRequests(t.Context(), store.RequestFilter{})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, r := range rs {
		states[r.ID] = r.State
	}
	return states
}

// checkSamples: WriteSamples has a row for each request sent, in the order
// sent, within the run, each with its times and its Request ID, which the
// store holds, in the state of the row's outcome; in open loop, due at the
// rate.
func checkSamples(t *testing.T, res *loadgen.Result, open bool, stored map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	if err := res.WriteSamples(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"sent_s", "item", "outcome", "acknowledged_ms", "latency_ms", "request_id"}; !slices.Equal(rows[0], want) {
		t.Fatalf("header %v, want %v", rows[0], want)
	}
	rows = rows[1:]
	if len(rows) != res.Sent {
		t.Fatalf("%d rows, %d sent", len(rows), res.Sent)
	}
	items, ids := map[string]int{}, map[string]bool{}
	last := -1.0
	for i, r := range rows {
		sent, err1 := strconv.ParseFloat(r[0], 64)
		ack, err2 := strconv.ParseFloat(r[3], 64)
		lat, err3 := strconv.ParseFloat(r[4], 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatalf("row %d %v: %v", i, r, err)
		}
		if sent < last || sent < 0 || sent > res.Duration || ack <= 0 || lat < ack || r[2] != "accepted" {
			t.Fatalf("row %d %v after a request sent at %.4f s", i, r, last)
		}
		last = sent
		items[r[1]]++
		if id := r[5]; stored[id] != r[2] || ids[id] {
			t.Fatalf("row %d %v: request %q stored %q (seen before: %t)", i, r, id, stored[id], ids[id])
		}
		ids[r[5]] = true
	}
	for item, n := range items {
		if n != res.ByItem[item].Count {
			t.Errorf("%s: %d rows, %d in the result", item, n, res.ByItem[item].Count)
		}
	}
	if open && len(rows) > 1 {
		// Due at 200 a second: 5 ms apart.
		first, _ := strconv.ParseFloat(rows[0][0], 64)
		if gap := (last - first) / float64(len(rows)-1); gap < 0.004 || gap > 0.006 {
			t.Errorf("sent %.4f s apart on average, want 0.005", gap)
		}
	}
}

// TestRunReadsItsOwnDeliveries: each run's streams start where they end
// when it begins, so a second run against the same gateway reads none of
// the first run's deliveries and gets every response of its own.
func TestRunReadsItsOwnDeliveries(t *testing.T) {
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	w := loadgen.World{Systems: 40, Suppliers: 1, Others: 1}
	srv, creds := start(t, w)
	for _, run := range []string{"the first run", "the second"} {
		res, err := loadgen.Run(t.Context(), loadgen.Config{URL: srv.URL, CAPEM: srv.PKI.CA.CertPEM, Credentials: creds, World: w, Spec: sp,
			Mix: []loadgen.Item{loadgen.DefaultMix[0]}, Concurrency: 2, Duration: 200 * time.Millisecond, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if res.Completed == 0 || res.Completed != res.Sent || res.Outcomes["accepted"] != res.Completed {
			t.Fatalf("%s: sent %d, completed %d: %v", run, res.Sent, res.Completed, res.Outcomes)
		}
		// Each request has one delivery, its response: the run read its
		// own alone, none of the first's again.
		if res.StreamMessages != res.Sent {
			t.Errorf("%s: %d stream messages read for %d requests", run, res.StreamMessages, res.Sent)
		}
	}
}

// TestWarmupIsNotCounted: an open loop with a warm-up sends at its rate
// through both; what falls due in the warm-up runs on the gateway and is
// not in the result, which counts the run's own requests alone, from its
// start.
func TestWarmupIsNotCounted(t *testing.T) {
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	w := loadgen.World{Systems: 40, Suppliers: 2, Others: 1}
	srv, creds := start(t, w)
	const rate = 200
	res, err := loadgen.Run(t.Context(), loadgen.Config{URL: srv.URL, CAPEM: srv.PKI.CA.CertPEM, Credentials: creds, World: w, Spec: sp,
		Rate: rate, Warmup: 500 * time.Millisecond, Duration: 500 * time.Millisecond, Seed: 1, Progress: io.Discard,
		Mix: []loadgen.Item{loadgen.DefaultMix[0]}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != rate/2 || res.Completed != res.Sent || res.Warmup != 0.5 {
		t.Fatalf("sent %d, completed %d, warm-up %v s: want the %d due in the run's half second, after the warm-up's", res.Sent, res.Completed, res.Warmup, rate/2)
	}
	stored := storedStates(t, srv)
	if len(stored) != rate { // the warm-up's too
		t.Fatalf("%d requests stored, want %d: the warm-up's and the run's", len(stored), rate)
	}
	checkSamples(t, res, true, stored)
}
