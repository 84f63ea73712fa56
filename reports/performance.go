package reports

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"time"

	"github.com/dccgate/dccgate/incidents"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// Results of a measure (spec performance.results).
const (
	ResultMet          = "met"
	ResultBelowTarget  = "below_target"
	ResultBelowMinimum = "below_minimum"
	ResultNoData       = "no_data"
	ResultNotMeasured  = "not_measured"
)

// PerformanceReport is the month's Code Performance Measures (para 262).
type PerformanceReport struct {
	Month       string          `json:"month"`
	From        time.Time       `json:"from"`
	To          time.Time       `json:"to"`
	GeneratedAt time.Time       `json:"generated_at"`
	Clause      string          `json:"clause"`
	Measures    []MeasureResult `json:"measures"`
	// Maintenance is the planned maintenance of the month (para 208) and
	// MaintenanceTime its length; MaintenanceHandling says, from the spec,
	// whether it is only reported beside the measures or its time is
	// excluded from measures 1 to 3 (responses and alerts due in it).
	Maintenance         []string `json:"maintenance,omitempty"`
	MaintenanceTime     string   `json:"maintenance_time,omitempty"`
	MaintenanceHandling string   `json:"maintenance_handling,omitempty"`
}

// MeasureResult is one measure over the month, against its levels.
type MeasureResult struct {
	Number   int     `json:"number"`
	Name     string  `json:"name"`
	Measures string  `json:"measures"`
	Target   float64 `json:"target"`
	Minimum  float64 `json:"minimum"`
	Measured bool    `json:"measured"`
	// Total were due in the month; Within were delivered by their due time.
	Total  int `json:"total"`
	Within int `json:"within"`
	// Percent is Within over Total, absent where nothing was due or the
	// measure is not measured.
	Percent *float64 `json:"percent,omitempty"`
	// Result and Requirement say what the source requires of the result.
	Result      string `json:"result"`
	Requirement string `json:"requirement"`
	Clause      string `json:"clause"`
	// Undelivered were due in the month and not delivered (counted late).
	Undelivered int `json:"undelivered"`
	// Excluded are not counted (spec performance.excluded_reasons).
	Excluded int `json:"excluded"`
	// NotYetDue are due in the month but after the report was made, and not
	// delivered yet: not counted.
	NotYetDue int `json:"not_yet_due"`
	// Incidents: the measure counts incidents resolved within their Target
	// Resolution Time (measures 4 and 5); Undelivered are then the
	// incidents due in the month and not resolved.
	Incidents bool               `json:"incidents,omitempty"`
	Services  []ServiceBreakdown `json:"services,omitempty"`
}

// ServiceBreakdown is a measure for one service (alerts: A1, A2).
type ServiceBreakdown struct {
	Service string   `json:"service"`
	Name    string   `json:"name"`
	Total   int      `json:"total"`
	Within  int      `json:"within"`
	Percent *float64 `json:"percent,omitempty"`
	// Target is the service's Target Response Time for this measure.
	Target string `json:"target"`
}

// Due returns when the response to a request is due: the Target Response
// Time of its service and category from the spec (para 128, note 404),
// from receipt (on demand) or from the execution time (future dated,
// scheduled). A critical request's response is due from the receipt of
// its signed Pre-Command, which only the gateway knows: with the spec's
// critical_from "signature", its recorded due time stands; so does a
// request's held behind its predecessor, due from its release (the spec's
// held_from "release"), which only the gateway knows too. ok is false
// where the spec gives the category no target and nothing was recorded.
func Due(sp *spec.Spec, t store.ResponseTiming) (time.Time, bool) {
	svc := sp.ServiceByKey(t.Service)
	if svc == nil {
		return t.DueAt, !t.DueAt.IsZero()
	}
	if svc.Critical && !svc.CoS && t.PreCommand && t.Category != "future_dated" && t.Category != "scheduled" &&
		sp.Performance.CriticalFrom == "signature" {
		return t.DueAt, !t.DueAt.IsZero()
	}
	if t.Held && sp.Performance.HeldFrom == "release" && !t.DueAt.IsZero() {
		return t.DueAt, true
	}
	var d *spec.Duration
	from := t.ReceivedAt
	switch t.Category {
	case "future_dated":
		d, from = svc.FutureDated, t.ExecuteAt
	case "scheduled":
		d, from = svc.Scheduled, t.ExecuteAt
	default:
		d = svc.OnDemand
	}
	if d == nil || from.IsZero() {
		return t.DueAt, !t.DueAt.IsZero()
	}
	return from.Add(d.Std()), true
}

// AlertDue returns when an alert delivery was due: its raise time (the
// payload's raised_at) plus the spec's alert target (para 129), or the
// recorded due time.
func AlertDue(sp *spec.Spec, d store.Delivery) time.Time {
	var p struct {
		RaisedAt time.Time `json:"raised_at"`
	}
	if json.Unmarshal(d.Payload, &p) == nil && !p.RaisedAt.IsZero() {
		return p.RaisedAt.Add(sp.AlertTarget.Std())
	}
	return d.DueAt
}

// longestTarget is the longest Target Response Time of the spec: how long
// before the month a request may have been received and still be due in it.
func longestTarget(sp *spec.Spec) time.Duration {
	longest := sp.AlertTarget.Std()
	for _, s := range sp.Services {
		for _, d := range []*spec.Duration{s.OnDemand, s.FutureDated, s.Scheduled} {
			if d != nil && d.Std() > longest {
				longest = d.Std()
			}
		}
	}
	return longest
}

type tally struct {
	total, within int
	target        string
}

// Performance computes measures 1 to 3 of para 262 over the month, each
// against its Target and Minimum Service Level, with what the source
// requires of the result and a breakdown per service (measures 1 to 3).
// Measures 4 and 5 count the incidents of the Incident Management Log
// whose Target Resolution Time falls in the month, resolved by it or not
// (incidents.Log.Measures); they are not measured where the store keeps no
// incidents.
//
// Counted: each Service Response the gateway put on a user's stream, and
// each Alert delivered, whose due time falls in the month; a response due
// in the month that is still owed when the report is made counts as late
// once its due time has passed. Requests refused at once on submission are
// answered in the acknowledgement and are not counted.
func (r *Reports) Performance(ctx context.Context, m Month) (*PerformanceReport, error) {
	if err := r.checkMonth(m, "performance", r.sp.MeasuresClause); err != nil {
		return nil, err
	}
	now := r.clk.Now()
	from, to := m.Start(), m.End()
	rep := &PerformanceReport{Month: m.String(), From: from, To: to, GeneratedAt: now, Clause: r.sp.MeasuresClause}

	timings, err := r.rep.ResponseTimings(ctx, from.Add(-longestTarget(r.sp)), to)
	if err != nil {
		return nil, err
	}
	alerts, err := r.rep.AlertDeliveries(ctx, from.Add(-time.Hour), to.Add(time.Hour))
	if err != nil {
		return nil, err
	}
	// Planned maintenance of the month, where the store keeps it.
	var windows []store.MaintenanceWindow
	if sm, ok := r.st.(store.ServiceManagement); ok {
		ws, err := sm.MaintenanceWindows(ctx, from, to)
		if err != nil {
			return nil, err
		}
		var total time.Duration
		for _, w := range ws {
			if w.Cancelled || !w.StartsAt.Before(to) || !w.EndsAt.After(from) {
				continue
			}
			windows = append(windows, w)
			start, end := w.StartsAt, w.EndsAt
			if start.Before(from) {
				start = from
			}
			if end.After(to) {
				end = to
			}
			total += end.Sub(start)
			rep.Maintenance = append(rep.Maintenance, w.ID)
		}
		rep.MaintenanceTime = spec.Duration(total).Format()
		rep.MaintenanceHandling = r.sp.ServiceManagement.Maintenance.Measures
	}
	// inMaintenance: a due time the spec takes out of the measures.
	inMaintenance := func(due time.Time) bool {
		if rep.MaintenanceHandling != "excluded" {
			return false
		}
		for _, w := range windows {
			if !due.Before(w.StartsAt) && due.Before(w.EndsAt) {
				return true
			}
		}
		return false
	}
	incs := map[string]incidents.MeasureResult{}
	if r.incidents != nil {
		l, err := r.incidents()
		if err != nil {
			return nil, err
		}
		ms, err := l.Measures(ctx, from, to)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			incs[m.Measures] = m
		}
	}
	for _, ms := range r.sp.Measures {
		res := MeasureResult{Number: ms.Number, Name: ms.Name, Measures: ms.Measures, Target: ms.Target, Minimum: ms.Minimum}
		per := map[string]*tally{}
		add := func(svc, target string, within bool) {
			t := per[svc]
			if t == nil {
				t = &tally{target: target}
				per[svc] = t
			}
			t.total++
			res.Total++
			if within {
				t.within++
				res.Within++
			}
		}
		switch ms.Measures {
		case "on_demand", "future_dated":
			res.Measured = true
			cats := r.sp.Performance.Categories[ms.Measures]
			for _, t := range timings {
				if !slices.Contains(cats, t.Category) {
					continue
				}
				due, ok := Due(r.sp, t)
				if !ok || due.Before(from) || !due.Before(to) {
					continue
				}
				if slices.Contains(r.sp.Performance.ExcludedReasons, t.Reason) || inMaintenance(due) {
					res.Excluded++
					continue
				}
				if t.DeliveredAt.IsZero() {
					final := (&store.Request{State: t.State}).Final()
					switch {
					case final:
						continue // answered on submission, or ended without a stream response
					case !now.After(due):
						res.NotYetDue++
						continue
					}
					res.Undelivered++
				}
				within := !t.DeliveredAt.IsZero() && !t.DeliveredAt.After(due)
				add(t.Service, r.targetOf(t.Service, t.Category), within)
			}
		default:
			// Measures 4 and 5: the incidents' resolution times, as the
			// Incident Management Log counts them.
			if im, ok := incs[ms.Measures]; ok {
				res.Measured, res.Incidents = true, true
				res.Total, res.Within, res.Undelivered, res.NotYetDue = im.Total, im.Within, im.Unresolved, im.NotYetDue
			}
		case "alerts":
			res.Measured = true
			for _, d := range alerts {
				due := AlertDue(r.sp, d)
				if due.Before(from) || !due.Before(to) {
					continue
				}
				if inMaintenance(due) {
					res.Excluded++
					continue
				}
				add(r.alertService(d.Code), r.sp.AlertTarget.Format(), !d.CreatedAt.After(due))
			}
		}
		res.Result = r.classify(&res)
		if p, ok := r.sp.Performance.Results[res.Result]; ok {
			res.Requirement, res.Clause = p.Text, p.Clause
		}
		keys := make([]string, 0, len(per))
		for k := range per {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return serviceLess(keys[i], keys[j]) })
		for _, k := range keys {
			t := per[k]
			b := ServiceBreakdown{Service: k, Name: r.serviceName(k), Total: t.total, Within: t.within, Target: t.target}
			b.Percent = percent(t.within, t.total)
			res.Services = append(res.Services, b)
		}
		rep.Measures = append(rep.Measures, res)
	}
	return rep, nil
}

// classify says where a measure stands against its levels: met at or
// above the target; below target but at or above the minimum (the cause
// must be explained, para 260); below the minimum (a rectification plan
// too, para 261).
func (r *Reports) classify(m *MeasureResult) string {
	switch {
	case !m.Measured:
		return ResultNotMeasured
	case m.Total == 0:
		return ResultNoData
	}
	m.Percent = percent(m.Within, m.Total)
	// Compared in integers scaled by 100: within/total >= level/100.
	w, t := float64(m.Within)*100, float64(m.Total)
	switch {
	case w >= m.Target*t:
		return ResultMet
	case w >= m.Minimum*t:
		return ResultBelowTarget
	default:
		return ResultBelowMinimum
	}
}

func percent(n, of int) *float64 {
	if of == 0 {
		return nil
	}
	p := float64(n) * 100 / float64(of)
	return &p
}

func (r *Reports) targetOf(key, category string) string {
	svc := r.sp.ServiceByKey(key)
	if svc == nil {
		return ""
	}
	var d *spec.Duration
	switch category {
	case "future_dated":
		d = svc.FutureDated
	case "scheduled":
		d = svc.Scheduled
	default:
		d = svc.OnDemand
	}
	if d == nil {
		return ""
	}
	return d.Format()
}

func (r *Reports) alertService(code string) string {
	for _, a := range r.sp.Alerts {
		if a.Code == code {
			return a.Service
		}
	}
	return "A1"
}

func (r *Reports) serviceName(key string) string {
	if svc := r.sp.ServiceByKey(key); svc != nil {
		return svc.Name
	}
	return ""
}

// serviceLess orders service keys as the schedule numbers them (4.2 before
// 4.10), alert services last.
func serviceLess(a, b string) bool {
	pa, pb := refParts(a), refParts(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	if len(pa) != len(pb) {
		return len(pa) < len(pb)
	}
	return a < b
}

// refParts reads "4.10/x" as [4, 10]; an alert reference ("A1") sorts after
// every number.
func refParts(key string) []int {
	var out []int
	n, in := 0, false
	for _, c := range key {
		switch {
		case c >= '0' && c <= '9':
			n, in = n*10+int(c-'0'), true
		case c == 'A' && !in && len(out) == 0:
			out = append(out, 1<<20)
		default:
			if in {
				out = append(out, n)
			}
			n, in = 0, false
			if c == '/' {
				return out
			}
		}
	}
	if in {
		out = append(out, n)
	}
	return out
}
