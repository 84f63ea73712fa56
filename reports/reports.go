// Package reports is how the gateway measures itself against the code: the
// Code Performance Measures of para 259-262 over a month (performance.go;
// measures 4 and 5 from the Incident Management Log's resolution times,
// package incidents),
// and managing demand of para 267-273 (demand.go): users' six-month
// forecasts, the Monthly Service Metrics of Table 5.3 (CEL from the spec,
// compiled once), the report of usage at or above 110% of forecast or
// threshold, and the aggregate usage for publication.
//
// User ASMS (para 408) needs the number of Smart Metering Systems enrolled
// by, or on the network of, each user on the 15th of each month. The
// inventory keeps no history of device statuses, so the counts are recorded
// as a daily snapshot (RecordEnrolment, idempotent per day; the gateway
// calls it daily, and at least on the 15th). For a 15th without a snapshot
// the report counts from the inventory as it is now with the Registration
// Data in effect on that 15th, and marks the figure estimated.
package reports

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/cel-go/cel"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/incidents"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// Error is a refusal with a stable code (forecasts).
type Error = spec.Coded

// Codes of Error.
const (
	CodeForecastInvalid = "forecast_invalid"
	CodeUnknownUser     = "unknown_user"
	// CodeMonthOutOfRange: a report of a month whose times (with the
	// months and response times before it that the report reads) the
	// store cannot hold (Reports.Months).
	CodeMonthOutOfRange = "month_out_of_range"
)

// Reports makes the reports from a store. It is safe for concurrent use.
type Reports struct {
	st  store.Store
	rep store.Reporting
	sp  *spec.Spec
	clk clock.Clock
	// thresholds are Table 5.3's rows with their compiled formulas.
	thresholds []threshold
	// first and last are the months a report may be of (Months).
	first, last Month
	// incidents is the Incident Management Log over the same store, made
	// on first use (nil where the store keeps no incidents): measures 4
	// and 5.
	incidents func() (*incidents.Log, error)
}

type threshold struct {
	row       *spec.Threshold
	metric    cel.Program
	threshold cel.Program
}

// New compiles the formulas of Table 5.3 once. st must implement
// store.Reporting (pass the store itself, not a wrapper of it).
func New(st store.Store, sp *spec.Spec, clk clock.Clock) (*Reports, error) {
	rep, ok := st.(store.Reporting)
	if !ok {
		return nil, fmt.Errorf("reports: store %T does not implement store.Reporting", st)
	}
	ths, err := compileThresholds(sp)
	if err != nil {
		return nil, err
	}
	r := &Reports{st: st, rep: rep, sp: sp, clk: clk, thresholds: ths}
	r.first, r.last = monthRange(sp)
	if ist, ok := st.(incidents.Store); ok {
		r.incidents = sync.OnceValues(func() (*incidents.Log, error) {
			return incidents.New(context.Background(), ist, sp, clk, nil)
		})
	}
	return r, nil
}

// monthRange is the first and the last month whose reports read only times
// the store holds (store.MinTime to store.MaxTime, the years 1678 to 2262):
// a performance report reads from the longest Target Response Time before
// its month (and an hour either side of it, for alerts), a demand report
// the spec's threshold_rules.asms_months months up to its month.
func monthRange(sp *spec.Spec) (first, last Month) {
	back := longestTarget(sp) + time.Hour
	window := max(sp.ThresholdRules.ASMSMonths, 1)
	fits := func(m Month) bool {
		return !m.Start().Add(-back).Before(store.MinTime) && !m.Add(1-window).Start().Before(store.MinTime)
	}
	first = MonthOf(store.MinTime)
	for !fits(first) {
		first = first.Add(1)
	}
	last = MonthOf(store.MaxTime)
	for last.End().Add(time.Hour).After(store.MaxTime) {
		last = last.Add(-1)
	}
	return first, last
}

// Months returns the first and the last month a report may be of: those
// whose times the store holds.
func (r *Reports) Months() (first, last Month) { return r.first, r.last }

// checkMonth refuses a report of a month out of Months with
// CodeMonthOutOfRange, naming the range and the report's clause.
func (r *Reports) checkMonth(m Month, report, clause string) error {
	if m.Before(r.first) || r.last.Before(m) {
		return &Error{Code: CodeMonthOutOfRange, Message: fmt.Sprintf("month %s: the %s report (%s) is of a month from %s to %s, the months whose times the store holds",
			m, report, clause, r.first, r.last)}
	}
	return nil
}

// The variables of Table 5.3's formulas (spec/thresholds.cue).
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("requests_m", cel.IntType),
		cel.Variable("requests_12m", cel.IntType),
		cel.Variable("enrolled_15th", cel.DoubleType),
		cel.Variable("asms_m", cel.DoubleType),
		cel.Variable("scale_12m", cel.DoubleType),
		cel.Variable("days_in_month", cel.IntType),
	)
})

// compileThresholds compiles each row's metric and threshold, sharing a
// program between rows with the same source.
func compileThresholds(sp *spec.Spec) ([]threshold, error) {
	env, err := celEnv()
	if err != nil {
		return nil, err
	}
	cache := map[string]cel.Program{}
	compile := func(id, what, src string) (cel.Program, error) {
		if p, ok := cache[src]; ok {
			return p, nil
		}
		ast, iss := env.Compile(src)
		if iss.Err() != nil {
			return nil, fmt.Errorf("reports: spec threshold %s %s: %w", id, what, iss.Err())
		}
		if ast.OutputType() != cel.DoubleType {
			return nil, fmt.Errorf("reports: spec threshold %s %s: %q is %s, want double", id, what, src, ast.OutputType())
		}
		p, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
		if err != nil {
			return nil, err
		}
		cache[src] = p
		return p, nil
	}
	var out []threshold
	for _, t := range sp.Thresholds {
		m, err := compile(t.ID, "metric", t.Metric)
		if err != nil {
			return nil, err
		}
		th, err := compile(t.ID, "threshold", t.Threshold)
		if err != nil {
			return nil, err
		}
		out = append(out, threshold{row: t, metric: m, threshold: th})
	}
	return out, nil
}

func evalDouble(p cel.Program, vars map[string]any) (float64, error) {
	out, _, err := p.Eval(vars)
	if err != nil {
		return 0, err
	}
	v, ok := out.Value().(float64)
	if !ok {
		return 0, fmt.Errorf("reports: formula gave %T, want double", out.Value())
	}
	return v, nil
}

// ------------------------------------------------------------- enrolment

// CountEnrolled counts the Smart Metering Systems Enrolled (para 173-174:
// the devices spec.enrolment requires for the fuel are commissioned) per
// user named by the Registration Data in effect at time at: a supplier
// counts the systems it is registered for (import or export), a network
// operator those on its network (para 408). The inventory is read as it is
// now.
func (r *Reports) CountEnrolled(ctx context.Context, at time.Time) (map[string]int, error) {
	// Which fields of the Registration Data name a user (spec roles).
	fields := map[string]bool{}
	for _, role := range r.sp.Roles {
		if role.Registration != nil {
			fields[role.Registration.Field] = true
		}
	}
	enrolled := map[string]bool{}
	counts := map[string]int{}
	count := func(g store.Registration) {
		if !enrolled[g.MPxN] {
			return
		}
		named := map[string]bool{}
		for f := range fields {
			if who := g.Named(f); who != "" && !named[who] {
				named[who] = true
				counts[who]++
			}
		}
	}
	if w, ok := r.st.(store.Walker); ok {
		// Millions of systems: one hub's devices and one record at a time.
		if err := w.WalkDevicesByHub(ctx, func(group []store.Device) error {
			r.enrolledOnHub(group, enrolled)
			return nil
		}); err != nil {
			return nil, err
		}
		if err := w.WalkRegistrationsInEffect(ctx, at, func(g store.Registration) error {
			count(g)
			return nil
		}); err != nil {
			return nil, err
		}
		return counts, nil
	}
	devs, err := r.st.Devices(ctx, store.DeviceFilter{})
	if err != nil {
		return nil, err
	}
	groups := map[string][]store.Device{}
	for _, d := range devs {
		hub := d.CHF
		if hub == "" {
			hub = d.ID
		}
		groups[hub] = append(groups[hub], d)
	}
	for _, g := range groups {
		r.enrolledOnHub(g, enrolled)
	}
	regs, err := r.rep.RegistrationsInEffect(ctx, at, nil)
	if err != nil {
		return nil, err
	}
	for _, g := range regs {
		count(store.Registration{MPxN: g.MPxN, ImportSupplier: g.ImportSupplier, ExportSupplier: g.ExportSupplier, NetworkOperator: g.NetworkOperator})
	}
	return counts, nil
}

// enrolledOnHub marks in enrolled the MPxNs of the meters of one hub's
// group (the hub and the devices on it) that form an enrolled Smart
// Metering System: the meter commissioned with every device its fuel's
// enrolment requires commissioned on the same hub (para 173-174).
func (r *Reports) enrolledOnHub(group []store.Device, enrolled map[string]bool) {
	const commissioned = "commissioned"
	byID := make(map[string]store.Device, len(group))
	for _, d := range group {
		byID[d.ID] = d
	}
	has := func(meter store.Device, typ string) bool {
		if meter.CHF == "" {
			return false
		}
		if typ == "CHF" {
			return byID[meter.CHF].Status == commissioned
		}
		for _, d := range group {
			if d.CHF == meter.CHF && d.Type == typ && d.Status == commissioned && (d.Meter == "" || d.Meter == meter.ID) {
				return true
			}
		}
		return false
	}
	for _, m := range group {
		t := r.sp.DeviceType(m.Type)
		if t == nil || t.Class != "meter" || m.Status != commissioned || m.MPxN == "" {
			continue
		}
		req, ok := r.sp.Enrolment[t.Fuel]
		if !ok {
			continue
		}
		all := true
		for _, need := range req.Requires {
			if need != m.Type && !has(m, need) {
				all = false
				break
			}
		}
		if all {
			enrolled[m.MPxN] = true
		}
	}
}

// RecordEnrolment records today's counts of enrolled systems per user (the
// snapshot User ASMS reads, para 408). Calling it again the same day
// replaces that day's counts. Call it daily; the reports read the 15th.
func (r *Reports) RecordEnrolment(ctx context.Context) (map[string]int, error) {
	now := r.clk.Now()
	counts, err := r.CountEnrolled(ctx, now)
	if err != nil {
		return nil, err
	}
	return counts, r.rep.PutEnrolmentCounts(ctx, now, counts, now)
}

// EnsureEnrolment is RecordEnrolment unless today is recorded already (by
// an earlier process today): a gateway restarted during the day does not
// walk the whole inventory again (some 18 s of CPU a million systems).
func (r *Reports) EnsureEnrolment(ctx context.Context) error {
	_, ok, err := r.rep.EnrolmentCounts(ctx, r.clk.Now())
	if err != nil || ok {
		return err
	}
	_, err = r.RecordEnrolment(ctx)
	return err
}

// enrolmentOn returns the counts of a day: the snapshot, or (estimated)
// the inventory as it is now with the Registration Data of that day.
func (r *Reports) enrolmentOn(ctx context.Context, day time.Time, cache map[time.Time]enrolment) (enrolment, error) {
	if e, ok := cache[day]; ok {
		return e, nil
	}
	counts, ok, err := r.rep.EnrolmentCounts(ctx, day)
	if err != nil {
		return enrolment{}, err
	}
	e := enrolment{counts: counts}
	if !ok {
		if e.counts, err = r.CountEnrolled(ctx, day.Add(24*time.Hour-time.Nanosecond)); err != nil {
			return enrolment{}, err
		}
		e.estimated = true
	}
	cache[day] = e
	return e, nil
}

type enrolment struct {
	counts    map[string]int
	estimated bool
}
