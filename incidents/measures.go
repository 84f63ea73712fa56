package incidents

import (
	"context"
	"fmt"
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

// CodeMonthOutOfRange: measures of a month (or a period) whose times,
// with the longest Target Resolution Time before it, the store cannot hold
// (MeasureMonths); the code the reports and the hubs' statements refuse
// such a month with.
const CodeMonthOutOfRange = "month_out_of_range"

// longestTarget is the longest Target Resolution Time of the spec's
// categories: an incident due in a period was raised at most that long
// before it.
func (l *Log) longestTarget() time.Duration {
	longest := time.Duration(0)
	for _, c := range l.sp.ServiceManagement.Incidents.Categories {
		longest = max(longest, c.TargetResolution.Std())
	}
	return longest
}

// MeasureMonths returns the first and the last month (their first instant,
// UTC) whose measures read only times the store holds (store.MinTime to
// store.MaxTime): from the longest Target Resolution Time before the month
// to its end.
func (l *Log) MeasureMonths() (first, last time.Time) {
	month := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC) }
	first = month(store.MinTime.UTC())
	for first.Add(-l.longestTarget()).Before(store.MinTime) {
		first = first.AddDate(0, 1, 0)
	}
	last = month(store.MaxTime.UTC())
	for last.AddDate(0, 1, 0).After(store.MaxTime) {
		last = last.AddDate(0, -1, 0)
	}
	return first, last
}

// CheckMeasureMonth refuses measures of a month out of MeasureMonths with
// CodeMonthOutOfRange, naming the range.
func (l *Log) CheckMeasureMonth(month time.Time) error {
	first, last := l.MeasureMonths()
	if month.Before(first) || month.After(last) {
		return &Error{Code: CodeMonthOutOfRange, Clause: l.sp.MeasuresClause, Message: fmt.Sprintf(
			"month %s: measures 4 and 5 are of a month from %s to %s, the months whose times the store holds", month.Format("2006-01"), first.Format("2006-01"), last.Format("2006-01"))}
	}
	return nil
}

// Measures computes measures 4 and 5 (the spec's measures counting
// incidents) over [from, to) at the clock's time: an incident counts in the
// period its target resolution time falls in; within when resolved by it.
// A period whose times the store cannot hold is refused with
// CodeMonthOutOfRange.
func (l *Log) Measures(ctx context.Context, from, to time.Time) ([]MeasureResult, error) {
	now := l.clk.Now()
	longest := l.longestTarget()
	if from.Add(-longest).Before(store.MinTime) || to.After(store.MaxTime) {
		first, last := l.MeasureMonths()
		return nil, &Error{Code: CodeMonthOutOfRange, Clause: l.sp.MeasuresClause, Message: fmt.Sprintf(
			"measures from %s to %s: measures 4 and 5 are of a period from %s to %s, whose times the store holds", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339),
			first.Format(time.RFC3339), last.AddDate(0, 1, 0).Format(time.RFC3339))}
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
