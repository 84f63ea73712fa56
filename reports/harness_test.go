package reports_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/reports"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/sqlite"
	"github.com/dccgate/dccgate/spec"
)

// Users of the test world.
const (
	supA = "00-00-00-00-00-00-0A-01" // EIS, premises 1-10 (and 12-13 from June)
	gasA = "00-00-00-00-00-00-0A-02" // GIS
	supB = "00-00-00-00-00-00-0B-01" // EIS, premises 11
	eno  = "00-00-00-00-00-00-0E-01" // ENO of every MPAN
	gno  = "00-00-00-00-00-00-06-01" // GNO of every MPRN
)

var users = []store.User{
	{ID: supA, Role: "EIS", Party: "Alpha Energy"},
	{ID: gasA, Role: "GIS", Party: "Alpha Energy"},
	{ID: supB, Role: "EIS", Party: "Beta Power"},
	{ID: eno, Role: "ENO", Party: "North Wires"},
	{ID: gno, Role: "GNO", Party: "Gas Pipes"},
}

func id(i int, kind string) string { return fmt.Sprintf("00-DB-00-00-00-00-%s-%02X", kind, i) }
func esme(i int) string            { return id(i, "E0") }

// premises i: an enrolled electricity and gas system on one hub, the
// electricity registered to supplier.
func premises(i int, supplier string) ([]store.Registration, []store.Device) {
	chf, gpf, gsme := id(i, "C0"), id(i, "6F"), id(i, "6A")
	mpan, mprn := fmt.Sprintf("19%011d", i), fmt.Sprintf("7%06d", i)
	regs := []store.Registration{
		{MPxN: mpan, Fuel: "electricity", ImportSupplier: supplier, NetworkOperator: eno},
		{MPxN: mprn, Fuel: "gas", ImportSupplier: gasA, NetworkOperator: gno},
	}
	devs := []store.Device{
		{ID: chf, Type: "CHF", Status: "commissioned"},
		{ID: gpf, Type: "GPF", Status: "commissioned", CHF: chf, Meter: gsme},
		{ID: esme(i), Type: "ESME", Status: "commissioned", MPxN: mpan, CHF: chf},
		{ID: gsme, Type: "GSME", Status: "commissioned", MPxN: mprn, CHF: chf},
	}
	return regs, devs
}

// waitClock is the virtual clock as the gateway sees it, telling the test
// when commands start waiting on the SMWAN's latency.
type waitClock struct {
	*clock.Virtual
	mu      sync.Mutex
	latency time.Duration
	waiting chan struct{}
}

func (c *waitClock) After(d time.Duration) <-chan time.Time {
	ch := c.Virtual.After(d)
	c.mu.Lock()
	if d == c.latency && c.waiting != nil {
		c.waiting <- struct{}{}
	}
	c.mu.Unlock()
	return ch
}

type harness struct {
	t   *testing.T
	sp  *spec.Spec
	st  store.Store
	g   *gateway.Gateway
	v   *clock.Virtual
	wc  *waitClock
	rp  *reports.Reports
	sub int
}

var (
	engOnce sync.Once
	eng     *engine.Engine
	engErr  error
)

func newHarness(t *testing.T, start time.Time, n int) *harness {
	t.Helper()
	ctx := t.Context()
	sp := spec.MustDefault()
	engOnce.Do(func() { eng, engErr = engine.New(ctx, sp) })
	if engErr != nil {
		t.Fatal(engErr)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v := clock.NewVirtual(start)
	wc := &waitClock{Virtual: v}
	g, err := gateway.New(ctx, gateway.Config{Store: st, Engine: eng, Spec: sp, Clock: wc, Virtual: v, Workers: 8})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	w := gateway.World{Users: users}
	for i := 1; i <= n; i++ {
		sup := supA
		if i == 11 {
			sup = supB
		}
		regs, devs := premises(i, sup)
		w.Registration, w.Inventory = append(w.Registration, regs...), append(w.Inventory, devs...)
	}
	if err := g.Load(ctx, w); err != nil {
		t.Fatal(err)
	}
	rp, err := reports.New(st, sp, v)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, sp: sp, st: st, g: g, v: v, wc: wc, rp: rp}
}

// to moves the clock to at, running the work that falls due.
func (h *harness) to(at time.Time) {
	h.t.Helper()
	if _, err := h.g.Advance(h.t.Context(), at.Sub(h.v.Now())); err != nil {
		h.t.Fatal(err)
	}
}

// body is the spec's example body of a service.
func (h *harness) body(ref string) map[string]any {
	b := map[string]any{}
	for _, f := range h.sp.Service(ref, "").Fields {
		b[f.Name] = f.Example
	}
	return b
}

// send submits n requests of ref by user to a device, on demand (or
// future dated to executeAt), and requires each accepted for processing.
func (h *harness) send(n int, user, ref, device string, executeAt time.Time) {
	h.t.Helper()
	for range n {
		req := &engine.Request{Service: ref, UserID: user, DeviceID: device, Body: h.body(ref)}
		if !executeAt.IsZero() {
			req.Category, req.ExecuteAt = "future_dated", executeAt
		}
		got, err := h.g.Submit(h.t.Context(), user, req)
		if err != nil {
			h.t.Fatal(err)
		}
		if got.Reason != "" {
			h.t.Fatalf("%s %s by %s: %s %s (%s)", ref, device, user, got.State, got.Reason, got.Message)
		}
		h.sub++
	}
	h.g.WaitIdle(h.t.Context())
}

// sendLate submits n on-demand requests whose Commands wait `late` on the
// SMWAN, so their responses are delivered that long after receipt.
func (h *harness) sendLate(n int, user, ref, device string, late time.Duration) {
	h.t.Helper()
	h.wc.mu.Lock()
	h.wc.latency, h.wc.waiting = late, make(chan struct{}, n)
	h.wc.mu.Unlock()
	h.g.SetSMWANFaults(late, 0)
	for range n {
		got, err := h.g.Submit(h.t.Context(), user, &engine.Request{Service: ref, UserID: user, DeviceID: device, Body: h.body(ref)})
		if err != nil || got.Reason != "" {
			h.t.Fatalf("%v %s", err, got.Reason)
		}
	}
	for range n {
		<-h.wc.waiting // every Command is waiting on the clock
	}
	h.v.Advance(late)
	h.g.WaitIdle(h.t.Context())
	h.g.SetSMWANFaults(0, 0)
	h.wc.mu.Lock()
	h.wc.latency, h.wc.waiting = 0, nil
	h.wc.mu.Unlock()
}

func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
