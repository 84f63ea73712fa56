package scenario

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dccgate/dccgate/spec"
)

// Gateway is what the runner drives. The runner knows nothing else of a
// gateway, so the same scenarios run against one started in-process and
// against a `dccgate serve --virtual-clock` reached over its public Connect
// API. Errors are for failures to talk to or drive the gateway; a request
// the gateway refuses is an Outcome, not an error.
type Gateway interface {
	// Reset starts a fresh world: the virtual clock at w.Start, the users,
	// Registration Data, Smart Metering Inventory and anomaly thresholds of
	// w, and nothing else (no requests, schedules or alerts).
	Reset(ctx context.Context, w World) error
	// Submit sends a Service Request as the User ID as and returns once it
	// has gone as far as it can without the clock moving: an on-demand
	// request has run (its Pre-Command signed as r.Sign says, if critical),
	// a future-dated or scheduled one is pending, a sequenced one may be
	// held. The result carries the gateway's request id, which gateways give
	// every request they receive, refused ones included.
	Submit(ctx context.Context, as string, r SubmitRequest) (SubmitResult, error)
	// Advance moves the virtual clock by d and runs the work that falls due,
	// returning once it has.
	Advance(ctx context.Context, d time.Duration) error
	// Event makes the emulated device act (wan_connected, power_loss, ...)
	// and returns once the gateway has handled what follows.
	Event(ctx context.Context, device, kind string) error
	// Outcome is the state of a request now.
	Outcome(ctx context.Context, requestID string) (Outcome, error)
	// DeviceStatus is the device's SMI status, "" if it is not on the
	// inventory.
	DeviceStatus(ctx context.Context, device string) (string, error)
	// Enrolled reports whether the Smart Metering System of the MPxN is
	// Enrolled.
	Enrolled(ctx context.Context, mpxn string) (bool, error)
	// Alerts returns the alerts delivered after cursor since (0: from the
	// start of the world), oldest first, and the cursor to pass next time.
	Alerts(ctx context.Context, since int64) ([]Alert, int64, error)
	// Schedules counts the schedules user holds on device.
	Schedules(ctx context.Context, user, device string) (int, error)
}

// SubmitRequest is a request as the runner hands it to a Gateway.
type SubmitRequest struct {
	Service string
	Variant string
	// Device, or for an inventory query MPxN, Postcode and Premises, or UPRN.
	Device   string
	MPxN     string
	Postcode string
	Premises string
	UPRN     string
	When     When
	Delivery string
	// After is the gateway's request id of the predecessor, "" if none.
	After string
	// Body is complete: the file's fields over the spec's examples. Numbers
	// take the type of their field: int64 for int64 fields, float64 for
	// double ones. A parsed file's values are of their fields' types (the
	// parser refuses others); their ranges and patterns are the gateway's
	// to check.
	Body map[string]any
	Sign Sign
	// Counter, if not zero, is the counter the request's Request ID carries
	// instead of the next one; the sender's following requests continue
	// above the highest counter sent.
	Counter uint64
}

// SubmitResult is the gateway's answer to Submit.
type SubmitResult struct {
	RequestID string
	Outcome   Outcome
}

// Outcome is the state of a request: one of the Outcome constants, with the
// reason code and clause of a rejection, quarantine or cancellation.
type Outcome struct {
	State  string
	Reason string
	Clause string
}

func (o Outcome) String() string {
	if o.State == "" {
		return "none"
	}
	var extra []string
	for _, s := range []string{o.Reason, o.Clause} {
		if s != "" {
			extra = append(extra, s)
		}
	}
	if len(extra) == 0 {
		return o.State
	}
	return o.State + " (" + strings.Join(extra, ", ") + ")"
}

// Alert is an alert delivered to a user.
type Alert struct {
	To     string
	Code   string
	Device string
}

func (a Alert) String() string { return a.Code + " to " + a.To }

// Failure is one failed expectation, or a failure to drive the gateway.
type Failure struct {
	File string
	// Step is the 1-based index of the step; 0 for what concerns the whole
	// scenario (a failed reset, say).
	Step    int
	StepID  string
	Message string
}

// String formats "FILE: step N (id): MESSAGE", or "FILE: MESSAGE" when no
// step is concerned.
func (f Failure) String() string {
	if f.Step == 0 {
		return f.File + ": " + f.Message
	}
	where := fmt.Sprintf("step %d", f.Step)
	if f.StepID != "" {
		where += " (" + f.StepID + ")"
	}
	return f.File + ": " + where + ": " + f.Message
}

// Result is the result of running one scenario.
type Result struct {
	Scenario *Scenario
	// Failures is empty when the scenario passed.
	Failures []Failure
	// Reached is the Index of the last step the run reached: the
	// scenario's last, or the one it stopped at (0: none, as when the
	// reset failed). The steps of a greater Index did not run.
	Reached int
}

// Passed reports whether every expectation held.
func (r Result) Passed() bool { return len(r.Failures) == 0 }

// run is the state of one scenario run.
type run struct {
	ctx    context.Context
	gw     Gateway
	res    Result
	ids    map[string]string // step id -> gateway request id
	cursor int64             // alerts cursor
	// local is each user's latest request sent for Local Delivery: what a
	// request_ref field of kind local_delivery names where the file gives
	// none (8.13 returns that Command's response).
	local map[string]string
}

func (r *run) fail(st *Step, format string, args ...any) {
	f := Failure{Message: fmt.Sprintf(format, args...)}
	if r.res.Scenario != nil {
		f.File = r.res.Scenario.File
	}
	if st != nil {
		f.Step, f.StepID = st.Index, st.ID
	}
	r.res.Failures = append(r.res.Failures, f)
}

// Run executes the steps of sc in order against gw, from a fresh world, and
// checks every expectation after its step. It stops early only when the
// gateway cannot be driven (Reset, Submit, Advance or Event fail) or ctx
// ends, since what follows would test a world of unknown state.
func Run(ctx context.Context, gw Gateway, sc *Scenario) Result {
	r := &run{ctx: ctx, gw: gw, res: Result{Scenario: sc}, ids: map[string]string{}, local: map[string]string{}}
	if sc == nil {
		r.fail(nil, "no scenario")
		return r.res
	}
	if gw == nil {
		r.fail(nil, "no gateway")
		return r.res
	}
	if err := gw.Reset(ctx, sc.World); err != nil {
		r.fail(nil, "reset: %v", err)
		return r.res
	}
	for _, st := range sc.Steps {
		if err := ctx.Err(); err != nil {
			r.fail(st, "not run: %v", err)
			return r.res
		}
		r.res.Reached = st.Index
		if !r.step(st) {
			return r.res
		}
	}
	return r.res
}

// step runs one step and its checks; false means stop the scenario.
func (r *run) step(st *Step) bool {
	x := st.Expect
	if x != nil && len(x.Alerts) > 0 {
		// Move the cursor past what earlier steps delivered: the alerts
		// expected are those of this step.
		if _, c, err := r.gw.Alerts(r.ctx, r.cursor); err != nil {
			r.fail(st, "reading alerts before the step: %v", err)
		} else {
			r.cursor = c
		}
	}
	var own *Outcome
	switch st.Kind {
	case StepRequest:
		req, ok := r.request(st)
		if !ok {
			return true
		}
		res, err := r.gw.Submit(r.ctx, st.As, req)
		if err != nil {
			r.fail(st, "submit %s: %v", spec.Key(req.Service, req.Variant), err)
			return false
		}
		if st.ID != "" {
			r.ids[st.ID] = res.RequestID
		}
		if req.Delivery == "local" && res.RequestID != "" {
			r.local[st.As] = res.RequestID
		}
		own = &res.Outcome
	case StepAdvance:
		if err := r.gw.Advance(r.ctx, st.Advance); err != nil {
			r.fail(st, "advance %s: %v", st.Advance, err)
			return false
		}
	case StepEvent:
		if st.Event == nil {
			r.fail(st, "event step without an event")
			return true
		}
		if err := r.gw.Event(r.ctx, st.Event.Device, st.Event.Kind); err != nil {
			r.fail(st, "event %s on %s: %v", st.Event.Kind, st.Event.Device, err)
			return false
		}
	default:
		r.fail(st, "step is none of request, advance, event")
		return true
	}
	if x != nil {
		r.check(st, x, own)
	}
	return true
}

// request builds what Submit takes from a request step.
func (r *run) request(st *Step) (SubmitRequest, bool) {
	q := st.Request
	if q == nil {
		r.fail(st, "request step without a request")
		return SubmitRequest{}, false
	}
	req := SubmitRequest{
		Service: q.Service, Variant: q.Variant,
		Device: q.Device, MPxN: q.MPxN, Postcode: q.Postcode, Premises: q.Premises, UPRN: q.UPRN,
		When: q.When, Delivery: q.Delivery, Sign: q.Sign, Counter: q.Counter,
		Body: fillBody(q, r.role(st.As)),
	}
	if req.Delivery == "" {
		req.Delivery = "wan"
	}
	for field, step := range q.Refs {
		id, ok := r.ids[step]
		if !ok || id == "" {
			r.fail(st, "not sent: its %s names step %q, which has no gateway request id", field, step)
			return SubmitRequest{}, false
		}
		req.Body[field] = id
	}
	if row := q.row; row != nil {
		for _, f := range row.Fields {
			if _, given := q.Body[f.Name]; !given && f.RequestRef == "local_delivery" && r.local[st.As] != "" {
				req.Body[f.Name] = r.local[st.As]
			}
		}
	}
	if q.After != "" {
		id, ok := r.ids[q.After]
		if !ok || id == "" {
			r.fail(st, "not sent: its predecessor, step %q, has no gateway request id", q.After)
			return SubmitRequest{}, false
		}
		req.After = id
	}
	return req, true
}

// role is the role of the scenario's user id ("" for none).
func (r *run) role(id string) string {
	if r.res.Scenario != nil {
		for _, u := range r.res.Scenario.Users {
			if u.ID == id {
				return u.Role
			}
		}
	}
	return ""
}

// fillBody gives a request every field of its service: those the file
// gives, over the target keys of an inventory query, over the spec's
// examples for a sender of the role (spec.ExampleFor: 6.15's credential
// is the sender's own).
func fillBody(q *Request, role string) map[string]any {
	row, sp := q.row, q.spec
	if sp == nil {
		// A Scenario built in Go rather than parsed (a parsed request has
		// both, or is refused with its file).
		if d, err := spec.Default(); err == nil {
			sp, row = d, d.Service(q.Service, q.Variant)
		}
	}
	body := map[string]any{}
	if row != nil {
		for _, f := range row.Fields {
			if ex := sp.ExampleFor(f, role); ex != nil {
				body[f.Name] = clone(ex)
			}
		}
		// 8.2 Read Inventory carries its target (mpxn, postcode, ...) as
		// body fields of the same names.
		for name, v := range map[string]string{"mpxn": q.MPxN, "postcode": q.Postcode, "premises": q.Premises, "uprn": q.UPRN} {
			if _, ok := body[name]; ok && v != "" {
				body[name] = v
			}
		}
	}
	for k, v := range q.Body {
		body[k] = clone(v)
	}
	if row != nil {
		for _, f := range row.Fields {
			if v, ok := body[f.Name]; ok {
				body[f.Name] = numberAs(f.Type, v)
			}
		}
	}
	return body
}

// numberAs gives a number the Go type of the spec's field type. The spec's
// examples come through JSON (all float64) and the file's through YAML (int
// or float64); without this a gateway would see 25 as a float64 from one
// and an int from the other.
func numberAs(typ string, v any) any {
	switch typ {
	case "int64":
		switch n := v.(type) {
		case int:
			return int64(n)
		case float64:
			if n == math.Trunc(n) && n >= math.MinInt64 && n < math.MaxInt64 {
				return int64(n)
			}
		case uint64:
			if n <= math.MaxInt64 {
				return int64(n)
			}
		}
	case "double":
		switch n := v.(type) {
		case int:
			return float64(n)
		case int64:
			return float64(n)
		case uint64:
			return float64(n)
		}
	}
	return v
}

// clone copies lists and maps, so a gateway that changes a body changes
// neither the scenario nor the spec.
func clone(v any) any {
	switch v := v.(type) {
	case []any:
		l := make([]any, len(v))
		for i, e := range v {
			l[i] = clone(e)
		}
		return l
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = clone(e)
		}
		return m
	}
	return v
}

// check checks the expectations of a step, in the order the format lists
// them; own is the outcome of the step's request, if it is one.
func (r *run) check(st *Step, x *Expect, own *Outcome) {
	if own != nil {
		if x.Outcome != "" && own.State != x.Outcome {
			r.fail(st, "expected outcome %s, got %s", x.Outcome, own)
		}
		if x.Reason != "" && own.Reason != x.Reason {
			r.fail(st, "expected reason %s, got %s", x.Reason, orNone(own.Reason))
		}
	}
	if x.Status != "" {
		r.status(st, st.TargetDevice(), x.Status)
	}
	for _, dev := range slices.Sorted(maps.Keys(x.Statuses)) {
		r.status(st, dev, x.Statuses[dev])
	}
	for _, mpxn := range slices.Sorted(maps.Keys(x.Enrolled)) {
		want := x.Enrolled[mpxn]
		got, err := r.gw.Enrolled(r.ctx, mpxn)
		switch {
		case err != nil:
			r.fail(st, "expected %s enrolled: %t, got error: %v", mpxn, want, err)
		case got != want:
			r.fail(st, "expected %s enrolled: %t, got %t", mpxn, want, got)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(x.Outcomes)) {
		want := x.Outcomes[id]
		rid, ok := r.ids[id]
		if !ok || rid == "" {
			r.fail(st, "expected outcome of step %s %s, got no request (the step sent none, or the gateway gave no request id)", id, want)
			continue
		}
		got, err := r.gw.Outcome(r.ctx, rid)
		switch {
		case err != nil:
			r.fail(st, "expected outcome of step %s %s, got error: %v", id, want, err)
		case got.State != want:
			r.fail(st, "expected outcome of step %s %s, got %s", id, want, got)
		}
	}
	if len(x.Alerts) > 0 {
		r.alerts(st, x.Alerts)
	}
	for _, user := range slices.Sorted(maps.Keys(x.Schedules)) {
		want := x.Schedules[user]
		dev := st.TargetDevice()
		got, err := r.gw.Schedules(r.ctx, user, dev)
		switch {
		case err != nil:
			r.fail(st, "expected %d schedules of %s on %s, got error: %v", want, user, dev, err)
		case got != want:
			r.fail(st, "expected %d schedules of %s on %s, got %d", want, user, dev, got)
		}
	}
}

func (r *run) status(st *Step, dev, want string) {
	got, err := r.gw.DeviceStatus(r.ctx, dev)
	switch {
	case err != nil:
		r.fail(st, "expected status of %s %s, got error: %v", dev, want, err)
	case got != want:
		r.fail(st, "expected status of %s %s, got %s", dev, want, orNone(got))
	}
}

// alerts checks that every expected alert was delivered during the step,
// each by a different alert.
func (r *run) alerts(st *Step, want []ExpectedAlert) {
	got, c, err := r.gw.Alerts(r.ctx, r.cursor)
	if err != nil {
		r.fail(st, "expected alerts, got error: %v", err)
		return
	}
	r.cursor = c
	used := make([]bool, len(got))
	// Those with a code first: were a code-less one to take an alert first,
	// it might take the very one a specific expectation needs.
	order := make([]ExpectedAlert, 0, len(want))
	for _, w := range want {
		if w.Code != "" {
			order = append(order, w)
		}
	}
	for _, w := range want {
		if w.Code == "" {
			order = append(order, w)
		}
	}
	for _, w := range order {
		found := false
		for i, a := range got {
			if !used[i] && a.To == w.To && (w.Code == "" || a.Code == w.Code) {
				used[i], found = true, true
				break
			}
		}
		if found {
			continue
		}
		what := "an alert to " + w.To
		if w.Code != "" {
			what = "alert " + w.Code + " to " + w.To
		}
		r.fail(st, "expected %s, got %s", what, listAlerts(got))
	}
}

func listAlerts(l []Alert) string {
	if len(l) == 0 {
		return "no alerts"
	}
	s := make([]string, len(l))
	for i, a := range l {
		s[i] = a.String()
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Option changes how RunAll and RunScenarios run.
type Option func(*options)

type options struct {
	parallel int
	invalid  int
}

// Invalid counts n scenario files that could not be loaded (their errors
// printed apart) as failed scenarios in RunAll's last line, so a run whose
// files are all invalid never reads "0 failed".
func Invalid(n int) Option { return func(o *options) { o.invalid = n } }

// Parallel runs up to n scenarios at once. Use it only when the factory
// gives each call a gateway of its own (scenarios are independent, but a
// shared gateway has one world) and is safe for concurrent use.
func Parallel(n int) Option { return func(o *options) { o.parallel = n } }

// RunScenarios runs each scenario on a gateway of its own from newGateway
// and returns the results in the order of scenarios. It takes ownership of
// each gateway: one that implements io.Closer is closed when its scenario
// is done (a failure to close is a failure of the scenario).
func RunScenarios(ctx context.Context, newGateway func() Gateway, scenarios []*Scenario, opts ...Option) []Result {
	o := options{parallel: 1}
	for _, opt := range opts {
		opt(&o)
	}
	n := max(o.parallel, 1)
	results := make([]Result, len(scenarios))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, len(scenarios)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = runOne(ctx, newGateway, scenarios[i])
			}
		}()
	}
	for i := range scenarios {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

func runOne(ctx context.Context, newGateway func() Gateway, sc *Scenario) Result {
	var gw Gateway
	if newGateway != nil {
		gw = newGateway()
	}
	res := Run(ctx, gw, sc)
	if c, ok := gw.(io.Closer); ok {
		if err := c.Close(); err != nil {
			f := Failure{Message: fmt.Sprintf("closing the gateway: %v", err)}
			if sc != nil {
				f.File = sc.File
			}
			res.Failures = append(res.Failures, f)
		}
	}
	return res
}

// RunAll runs the scenarios as RunScenarios does, writes one line to out
// per failure (in the order of scenarios, then of steps) and then the line
// "N passed, N failed", counting scenarios.
func RunAll(ctx context.Context, newGateway func() Gateway, scenarios []*Scenario, out io.Writer, opts ...Option) (passed, failed int) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	failed = o.invalid
	for _, res := range RunScenarios(ctx, newGateway, scenarios, opts...) {
		if res.Passed() {
			passed++
			continue
		}
		failed++
		for _, f := range res.Failures {
			fmt.Fprintln(out, f)
		}
	}
	fmt.Fprintf(out, "%d passed, %d failed\n", passed, failed)
	return passed, failed
}
