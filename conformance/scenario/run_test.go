package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	sup  = "00-00-00-00-00-00-0A-01"
	dno  = "00-00-00-00-00-00-0E-01"
	chf  = "00-DB-00-00-00-00-C0-01"
	esme = "00-DB-00-00-00-00-E0-01"
)

// sent is a request the fake received.
type sent struct {
	as  string
	req SubmitRequest
	id  string
}

// fakeGateway is a gateway of a few maps; hooks give each test the
// behaviour it needs.
type fakeGateway struct {
	mu        sync.Mutex
	world     World
	resets    int
	advanced  time.Duration
	statuses  map[string]string
	enrolled  map[string]bool
	outcomes  map[string]Outcome
	sent      []sent
	alerts    []Alert
	schedules map[[2]string]int
	closed    bool

	onSubmit  func(g *fakeGateway, as string, r SubmitRequest) Outcome
	onAdvance func(g *fakeGateway, d time.Duration)
	onEvent   func(g *fakeGateway, device, kind string)
	noIDs     bool  // give no request ids
	submitErr error // Submit fails
	resetErr  error // Reset fails
}

func (g *fakeGateway) Reset(_ context.Context, w World) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.resetErr != nil {
		return g.resetErr
	}
	g.resets++
	g.world = w
	g.statuses = map[string]string{}
	for _, it := range w.Inventory {
		g.statuses[it.Device] = it.Status
	}
	g.enrolled = map[string]bool{}
	g.outcomes = map[string]Outcome{}
	g.schedules = map[[2]string]int{}
	g.sent, g.alerts = nil, nil
	return nil
}

func (g *fakeGateway) Submit(_ context.Context, as string, r SubmitRequest) (SubmitResult, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.submitErr != nil {
		return SubmitResult{}, g.submitErr
	}
	id := fmt.Sprintf("r%d", len(g.sent)+1)
	if g.noIDs {
		id = ""
	}
	g.sent = append(g.sent, sent{as, r, id})
	o := Outcome{State: OutcomeAccepted}
	if g.onSubmit != nil {
		o = g.onSubmit(g, as, r)
	}
	g.outcomes[id] = o
	return SubmitResult{RequestID: id, Outcome: o}, nil
}

func (g *fakeGateway) Advance(_ context.Context, d time.Duration) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.advanced += d
	if g.onAdvance != nil {
		g.onAdvance(g, d)
	}
	return nil
}

func (g *fakeGateway) Event(_ context.Context, device, kind string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.onEvent != nil {
		g.onEvent(g, device, kind)
	}
	return nil
}

func (g *fakeGateway) Outcome(_ context.Context, id string) (Outcome, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	o, ok := g.outcomes[id]
	if !ok {
		return Outcome{}, fmt.Errorf("no request %q", id)
	}
	return o, nil
}

func (g *fakeGateway) DeviceStatus(_ context.Context, device string) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.statuses[device], nil
}

func (g *fakeGateway) Enrolled(_ context.Context, mpxn string) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.enrolled[mpxn], nil
}

func (g *fakeGateway) Alerts(_ context.Context, since int64) ([]Alert, int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if since > int64(len(g.alerts)) {
		since = int64(len(g.alerts))
	}
	return append([]Alert(nil), g.alerts[since:]...), int64(len(g.alerts)), nil
}

func (g *fakeGateway) Schedules(_ context.Context, user, device string) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.schedules[[2]string{user, device}], nil
}

func (g *fakeGateway) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	return nil
}

// enrolment behaves as the electricity-enrolment example expects, unless
// refuse8_1 says 8.1 is refused.
func enrolment(refuse8_1 bool) *fakeGateway {
	return &fakeGateway{
		onEvent: func(g *fakeGateway, device, kind string) {
			if kind == "wan_connected" {
				g.statuses[device] = "commissioned"
			}
		},
		onSubmit: func(g *fakeGateway, _ string, r SubmitRequest) Outcome {
			switch r.Service {
			case "12.2":
				g.statuses[r.Device] = "pending"
			case "8.11":
				for _, d := range r.Body["add"].([]any) {
					g.statuses[d.(string)] = "installed_not_commissioned"
				}
			case "8.1":
				if refuse8_1 {
					return Outcome{State: OutcomeRejected, Reason: "CHF_NOT_COMMISSIONED", Clause: "para 187"}
				}
				g.statuses[r.Device] = "commissioned"
				g.enrolled["1900000000011"] = true
			}
			return Outcome{State: OutcomeAccepted}
		},
	}
}

func loadOne(t *testing.T, path string) *Scenario {
	t.Helper()
	scs, err := Load(path)
	if err != nil || len(scs) != 1 {
		t.Fatalf("Load(%s) = %d scenarios, %v", path, len(scs), err)
	}
	return scs[0]
}

func parseOne(t *testing.T, src string) *Scenario {
	t.Helper()
	sc, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return sc
}

func failures(res Result) []string {
	var l []string
	for _, f := range res.Failures {
		l = append(l, f.String())
	}
	return l
}

func checkFailures(t *testing.T, res Result, want ...string) {
	t.Helper()
	got := failures(res)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("failures:\n got  %q\n want %q", got, want)
	}
}

func TestRunEnrolmentExample(t *testing.T) {
	path := filepath.Join("testdata", "valid", "electricity-enrolment.yaml")
	sc := loadOne(t, path)

	gw := enrolment(false)
	res := Run(context.Background(), gw, sc)
	checkFailures(t, res)
	if !res.Passed() || gw.resets != 1 || len(gw.world.Users) != 2 || !gw.world.Start.Equal(DefaultStart) {
		t.Errorf("passed=%v resets=%d world=%+v", res.Passed(), gw.resets, gw.world)
	}

	// The body is the file's fields over the spec's examples.
	b := gw.sent[0].req.Body
	if b["type"] != "ESME" || b["chf"] != chf || b["mpxn"] != "1900000000011" || b["meter"] != "" {
		t.Errorf("12.2 body = %#v", b)
	}
	if r := gw.sent[0].req; r.Delivery != "wan" || r.When.Kind != OnDemand || r.Sign.Mode != SignOwn || gw.sent[0].as != sup {
		t.Errorf("12.2 request = %+v", r)
	}
	if rm, ok := gw.sent[1].req.Body["remove"].([]any); !ok || len(rm) != 0 {
		t.Errorf("8.11 body = %#v, want remove from the spec's example", gw.sent[1].req.Body)
	}

	res = Run(context.Background(), enrolment(true), sc)
	checkFailures(t, res,
		path+": step 4: expected outcome accepted, got rejected (CHF_NOT_COMMISSIONED, para 187)",
		path+": step 4: expected status of "+esme+" commissioned, got installed_not_commissioned",
		path+": step 4: expected 1900000000011 enrolled: true, got false",
	)
}

func TestRunEligibilityExample(t *testing.T) {
	sc := loadOne(t, filepath.Join("testdata", "valid", "eligibility.yaml"))
	// Accepts everything: three of four steps expect a rejection.
	gw := &fakeGateway{}
	res := Run(context.Background(), gw, sc)
	if len(res.Failures) != 6 {
		t.Errorf("failures = %q, want outcome and reason of three steps", failures(res))
	}
	if want := "step 2: expected reason NOT_REGISTERED, got none"; !strings.Contains(strings.Join(failures(res), "\n"), want) {
		t.Errorf("failures = %q, want one with %q", failures(res), want)
	}
	b := gw.sent[0].req.Body
	if gw.sent[0].req.Variant != "credit" || b["tariff_name"] != "Standard" || b["unit_rate_millipence"] != int64(24500) {
		t.Errorf("1.1 credit body = %#v", b)
	}
}

func TestRunAlerts(t *testing.T) {
	sc := parseOne(t, `name: alerts
steps:
  - event: {device: "`+chf+`", kind: power_loss}
    expect:
      # a code-less expectation must not take the alert a specific one needs
      alerts: [{to: "`+sup+`"}, {to: "`+sup+`", code: A21}, {to: "`+dno+`", code: A21}]
  - event: {device: "`+chf+`", kind: power_restored}
    expect:
      # the A21 of the previous step does not count
      alerts: [{to: "`+sup+`", code: A24}, {to: "`+dno+`"}]
  - event: {device: "`+chf+`", kind: power_loss}
  - event: {device: "`+chf+`", kind: nothing}
    expect:
      # nor do those of a step that expected none
      alerts: [{to: "`+sup+`", code: A21}, {to: "`+sup+`", code: A21}]
`)
	gw := &fakeGateway{onEvent: func(g *fakeGateway, device, kind string) {
		switch kind {
		case "power_loss":
			g.alerts = append(g.alerts, Alert{To: sup, Code: "A21", Device: device}, Alert{To: sup, Code: "A99", Device: device}, Alert{To: dno, Code: "A21", Device: device})
		case "power_restored":
			g.alerts = append(g.alerts, Alert{To: sup, Code: "A24", Device: device})
		}
	}}
	res := Run(context.Background(), gw, sc)
	checkFailures(t, res,
		"t.yaml: step 2: expected an alert to "+dno+", got [A24 to "+sup+"]",
		"t.yaml: step 4: expected alert A21 to "+sup+", got no alerts",
		"t.yaml: step 4: expected alert A21 to "+sup+", got no alerts",
	)
}

func TestRunOutcomesAndSequencing(t *testing.T) {
	sc := parseOne(t, `name: sequenced
steps:
  - id: price
    as: "`+sup+`"
    request: {service: "1.1", variant: credit, device: "`+esme+`", when: {future: "2026-01-06T09:00:00Z"}}
    expect: {outcome: pending}
  - id: read
    as: "`+sup+`"
    request: {service: "4.1", device: "`+esme+`", after: price}
    expect: {outcome: held, outcomes: {price: pending}}
  - advance: 24h
    expect: {outcomes: {price: accepted, read: accepted}}
  - advance: 1h
    expect: {outcomes: {price: cancelled, read: accepted}}
`)
	gw := &fakeGateway{
		onSubmit: func(g *fakeGateway, _ string, r SubmitRequest) Outcome {
			switch {
			case r.When.Kind == Future:
				return Outcome{State: OutcomePending}
			case r.After != "" && g.outcomes[r.After].State != OutcomeAccepted:
				return Outcome{State: OutcomeHeld}
			}
			return Outcome{State: OutcomeAccepted}
		},
		onAdvance: func(g *fakeGateway, d time.Duration) {
			for id, o := range g.outcomes {
				if o.State == OutcomePending || o.State == OutcomeHeld {
					g.outcomes[id] = Outcome{State: OutcomeAccepted}
				}
			}
		},
	}
	res := Run(context.Background(), gw, sc)
	checkFailures(t, res, "t.yaml: step 4: expected outcome of step price cancelled, got accepted")
	if got := gw.sent[1].req.After; got != "r1" {
		t.Errorf("after = %q, want the gateway id of step price", got)
	}
	if w := gw.sent[0].req.When; w.Kind != Future || !w.At.Equal(time.Date(2026, 1, 6, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("when = %+v", w)
	}
	if gw.advanced != 25*time.Hour {
		t.Errorf("advanced %v", gw.advanced)
	}
}

// A predecessor the gateway gave no id cannot be named: the request is not
// sent, and outcomes of it fail rather than pass.
func TestRunPredecessorWithoutID(t *testing.T) {
	sc := parseOne(t, `name: noid
steps:
  - id: a
    as: "`+sup+`"
    request: {service: "4.1", device: "`+esme+`"}
  - id: b
    as: "`+sup+`"
    request: {service: "4.1", device: "`+esme+`", after: a}
    expect: {outcome: held}
  - advance: 1s
    expect: {outcomes: {a: accepted}}
`)
	gw := &fakeGateway{noIDs: true}
	res := Run(context.Background(), gw, sc)
	checkFailures(t, res,
		`t.yaml: step 2 (b): not sent: its predecessor, step "a", has no gateway request id`,
		"t.yaml: step 3: expected outcome of step a accepted, got no request (the step sent none, or the gateway gave no request id)",
	)
	if len(gw.sent) != 1 {
		t.Errorf("sent %d requests, want 1", len(gw.sent))
	}
}

func TestRunSchedulesAndInventoryQuery(t *testing.T) {
	sc := parseOne(t, `name: schedules
steps:
  - as: "`+sup+`"
    request:
      service: "5.1"
      device: "`+esme+`"
      when: {schedule: {service: "4.8", every: 24h, first: "2026-01-06T00:00:00Z"}}
    expect: {schedules: {"`+sup+`": 1, "`+dno+`": 1}}
  - as: "`+sup+`"
    request: {service: "8.2", mpxn: "1900000000011"}
`)
	gw := &fakeGateway{onSubmit: func(g *fakeGateway, as string, r SubmitRequest) Outcome {
		if r.When.Kind == Scheduled {
			g.schedules[[2]string{as, r.Device}]++
		}
		return Outcome{State: OutcomeAccepted}
	}}
	res := Run(context.Background(), gw, sc)
	checkFailures(t, res, "t.yaml: step 1: expected 1 schedules of "+dno+" on "+esme+", got 0")
	if s := gw.sent[0].req.When.Schedule; s == nil || s.Service != "4.8" || s.Every != 24*time.Hour {
		t.Errorf("schedule = %+v", s)
	}
	q := gw.sent[1].req
	if q.MPxN != "1900000000011" || q.Body["mpxn"] != "1900000000011" || q.Body["postcode"] != "" {
		t.Errorf("8.2 request = %+v", q)
	}
}

// The runner stops when it cannot drive the gateway.
func TestRunGatewayErrors(t *testing.T) {
	sc := parseOne(t, `name: errors
steps:
  - as: "`+sup+`"
    request: {service: "4.1", device: "`+esme+`"}
    expect: {outcome: accepted}
  - advance: 1h
`)
	res := Run(context.Background(), &fakeGateway{resetErr: errors.New("down")}, sc)
	checkFailures(t, res, "t.yaml: reset: down")

	gw := &fakeGateway{submitErr: errors.New("boom")}
	res = Run(context.Background(), gw, sc)
	checkFailures(t, res, "t.yaml: step 1: submit 4.1: boom")
	if gw.advanced != 0 {
		t.Errorf("ran on after the failure")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res = Run(ctx, &fakeGateway{}, sc)
	checkFailures(t, res, "t.yaml: step 1: not run: context canceled")
}

func TestRunAll(t *testing.T) {
	pass := parseOne(t, "name: pass\nsteps:\n  - advance: 1h\n")
	fail := parseOne(t, `name: fail
steps:
  - as: "`+sup+`"
    request: {service: "4.1", device: "`+esme+`"}
    expect: {outcome: rejected, reason: NOT_REGISTERED}
`)
	fail.File = "fail.yaml"
	var out bytes.Buffer
	var made []*fakeGateway
	p, f := RunAll(context.Background(), func() Gateway {
		g := &fakeGateway{}
		made = append(made, g)
		return g
	}, []*Scenario{pass, fail, pass}, &out)
	if p != 2 || f != 1 {
		t.Errorf("RunAll = %d passed, %d failed", p, f)
	}
	want := "fail.yaml: step 1: expected outcome rejected, got accepted\n" +
		"fail.yaml: step 1: expected reason NOT_REGISTERED, got none\n" +
		"2 passed, 1 failed\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
	for i, g := range made {
		if !g.closed || g.resets != 1 {
			t.Errorf("gateway %d: closed=%v resets=%d", i, g.closed, g.resets)
		}
	}
}

// In parallel, each scenario still gets its own gateway and the output
// keeps the order of the scenarios.
func TestRunAllParallel(t *testing.T) {
	var scs []*Scenario
	for i := range 40 {
		outcome := OutcomeAccepted
		if i%4 == 0 {
			outcome = OutcomeRejected
		}
		sc := parseOne(t, `name: s
steps:
  - as: "`+sup+`"
    request: {service: "4.1", device: "`+esme+`"}
    expect: {outcome: `+outcome+`}
`)
		sc.File = fmt.Sprintf("s%02d.yaml", i)
		scs = append(scs, sc)
	}
	var made atomic.Int32
	var out bytes.Buffer
	p, f := RunAll(context.Background(), func() Gateway {
		made.Add(1)
		return &fakeGateway{}
	}, scs, &out, Parallel(8))
	if p != 30 || f != 10 || made.Load() != 40 {
		t.Errorf("RunAll = %d passed, %d failed, %d gateways", p, f, made.Load())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 11 || lines[10] != "30 passed, 10 failed" {
		t.Fatalf("output:\n%s", out.String())
	}
	for i, l := range lines[:10] {
		if want := fmt.Sprintf("s%02d.yaml: step 1: expected outcome rejected, got accepted", 4*i); l != want {
			t.Errorf("line %d = %q, want %q", i, l, want)
		}
	}
}

func TestRunNil(t *testing.T) {
	var out bytes.Buffer
	p, f := RunAll(context.Background(), func() Gateway { return nil }, []*Scenario{{File: "x.yaml"}}, &out)
	if p != 0 || f != 1 || out.String() != "x.yaml: no gateway\n0 passed, 1 failed\n" {
		t.Errorf("RunAll = %d, %d, %q", p, f, out.String())
	}
}

// Numbers take the type of their field, whichever side they came from.
func TestFillBodyTypes(t *testing.T) {
	sc := parseOne(t, `name: types
steps:
  - as: "`+sup+`"
    request: {service: "1.1", variant: credit, device: "`+esme+`", body: {standing_charge_pence: 30, unit_rate_millipence: 1500.0}}
  - as: "`+sup+`"
    request: {service: "6.6", device: "`+esme+`", when: {future: "2026-01-06T00:00:00Z"}, body: {calorific_value: 40}}
`)
	gw := &fakeGateway{}
	Run(context.Background(), gw, sc)
	b := gw.sent[0].req.Body
	if b["standing_charge_pence"] != int64(30) || b["tou_blocks"] != int64(1) || b["unit_rate_millipence"] != int64(1500) {
		t.Errorf("1.1 body = %#v", b)
	}
	b = gw.sent[1].req.Body
	if b["calorific_value"] != float64(40) || b["conversion_factor"] != 1.02264 {
		t.Errorf("6.6 body = %#v", b)
	}
	// The scenario keeps what the file said.
	if v := sc.Steps[0].Request.Body["standing_charge_pence"]; v != 30 {
		t.Errorf("scenario body changed: %#v", v)
	}
}

// TestRunReached: a result says which step the run reached, so that those
// after it are known not to have run.
func TestRunReached(t *testing.T) {
	sc := parseOne(t, `name: reached
steps:
  - as: "`+sup+`"
    request: {service: "4.1", device: "`+esme+`"}
    expect: {outcome: accepted}
  - advance: 1h
`)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		note string
		ctx  context.Context
		gw   *fakeGateway
		want int
	}{
		{"all steps", context.Background(), &fakeGateway{}, 2},
		{"reset fails", context.Background(), &fakeGateway{resetErr: errors.New("down")}, 0},
		{"submit fails", context.Background(), &fakeGateway{submitErr: errors.New("boom")}, 1},
		{"canceled", canceled, &fakeGateway{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			if got := Run(tc.ctx, tc.gw, sc).Reached; got != tc.want {
				t.Errorf("reached step %d, want %d", got, tc.want)
			}
		})
	}
}
