package incidents

import (
	"context"
	"slices"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// MeasureResult is Code Performance Measure 4 or 5 over a period: the
// incidents of its categories whose Target Resolution Time fell in the
// period, and how many were resolved by it (para 237, 262).
type MeasureResult struct {
	Number     int      `json:"number"`
	Name       string   `json:"name"`
	Measures   string   `json:"measures"`
	Categories []string `json:"categories"`
	Target     float64  `json:"target"`
	Minimum    float64  `json:"minimum"`
	Total      int      `json:"total"`
	Within     int      `json:"within"`
	// Unresolved were due in the period and are still not resolved
	// (counted late); NotYetDue are due later than the report's time.
	Unresolved int      `json:"unresolved"`
	NotYetDue  int      `json:"not_yet_due"`
	Percent    *float64 `json:"percent,omitempty"`
	// Result is the spec's performance result: met, below_target,
	// below_minimum or no_data.
	Result      string `json:"result"`
	Requirement string `json:"requirement"`
	Clause      string `json:"clause"`
}

// Measures computes measures 4 and 5 (the spec's measures counting
// incidents) over [from, to) at the clock's time: an incident counts in the
// period its target resolution time falls in; within when resolved by it.
func (l *Log) Measures(ctx context.Context, from, to time.Time) ([]MeasureResult, error) {
	now := l.clk.Now()
	longest := time.Duration(0)
	for _, c := range l.sp.ServiceManagement.Incidents.Categories {
		longest = max(longest, c.TargetResolution.Std())
	}
	all, err := l.st.ListIncidents(ctx, store.IncidentLogFilter{RaisedFrom: from.Add(-longest), RaisedBefore: to})
	if err != nil {
		return nil, err
	}
	var out []MeasureResult
	for _, ms := range l.sp.Measures {
		cats, ok := l.sp.ServiceManagement.Incidents.Measures[ms.Measures]
		if !ok {
			continue
		}
		r := MeasureResult{Number: ms.Number, Name: ms.Name, Measures: ms.Measures, Categories: cats, Target: ms.Target, Minimum: ms.Minimum}
		for _, inc := range all {
			if !slices.Contains(cats, inc.Category) || inc.TargetAt.Before(from) || !inc.TargetAt.Before(to) {
				continue
			}
			if inc.ResolvedAt.IsZero() {
				if !now.After(inc.TargetAt) {
					r.NotYetDue++
					continue
				}
				r.Unresolved++
			}
			r.Total++
			if !inc.ResolvedAt.IsZero() && !inc.ResolvedAt.After(inc.TargetAt) {
				r.Within++
			}
		}
		r.Result = "no_data"
		if r.Total > 0 {
			p := float64(r.Within) * 100 / float64(r.Total)
			r.Percent = &p
			w, t := float64(r.Within)*100, float64(r.Total)
			switch {
			case w >= ms.Target*t:
				r.Result = "met"
			case w >= ms.Minimum*t:
				r.Result = "below_target"
			default:
				r.Result = "below_minimum"
			}
		}
		if res, ok := l.sp.Performance.Results[r.Result]; ok {
			r.Requirement, r.Clause = res.Text, res.Clause
		}
		out = append(out, r)
	}
	return out, nil
}
