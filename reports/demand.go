package reports

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// ForecastEntry is one month's forecast of a service's requests.
type ForecastEntry struct {
	Service string `json:"service"` // row key, e.g. "4.8"
	Month   string `json:"month"`   // YYYY-MM
	Count   int64  `json:"count"`
}

// FileForecasts files (or revises) a user's forecasts of its monthly
// Service Requests (para 271): each names a service the user's role may
// send and one of the spec's forecast_months months after the current one.
// Every revision is kept.
func (r *Reports) FileForecasts(ctx context.Context, userID string, entries []ForecastEntry) ([]store.Forecast, error) {
	u, err := r.st.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &Error{Code: CodeUnknownUser, Message: fmt.Sprintf("%s is not a user", userID)}
	}
	if err != nil {
		return nil, err
	}
	now := r.clk.Now()
	cur := MonthOf(now)
	n := r.sp.Demand.ForecastMonths
	bad := func(format string, args ...any) error {
		return &Error{Code: CodeForecastInvalid, Message: fmt.Sprintf(format, args...)}
	}
	if len(entries) == 0 {
		return nil, bad("no forecast given")
	}
	out := make([]store.Forecast, 0, len(entries))
	seen := map[[2]string]bool{}
	for _, e := range entries {
		svc := r.sp.ServiceByKey(e.Service)
		if svc == nil || svc.Alert {
			return nil, bad("%q is not a Service Request of the schedule", e.Service)
		}
		if !svc.HasRole(u.Role) {
			return nil, bad("%s (%s) may not send %s", userID, u.Role, svc)
		}
		m, err := ParseMonth(e.Month)
		if err != nil {
			return nil, bad("%v", err)
		}
		if d := m.Sub(cur); d < 1 || d > n {
			return nil, bad("month %s: a forecast names the %d months after %s (%s to %s, %s)",
				m, n, cur, cur.Add(1), cur.Add(n), r.sp.Demand.ForecastClause)
		}
		if e.Count < 0 {
			return nil, bad("%s %s: a count of %d requests", e.Service, e.Month, e.Count)
		}
		k := [2]string{e.Service, m.String()}
		if seen[k] {
			return nil, bad("%s %s given twice", e.Service, m)
		}
		seen[k] = true
		out = append(out, store.Forecast{UserID: userID, Service: e.Service, Month: m.String(), Count: e.Count, FiledAt: now})
	}
	if err := r.rep.PutForecasts(ctx, out); err != nil {
		return nil, err
	}
	// Read back the revisions the store assigned.
	for i, f := range out {
		h, err := r.rep.Forecasts(ctx, store.ForecastFilter{UserID: userID, Service: f.Service, Month: f.Month, Latest: true})
		if err != nil {
			return nil, err
		}
		if len(h) == 1 {
			out[i] = h[0]
		}
	}
	return out, nil
}

// Forecasts lists forecasts: every revision, or the latest of each.
func (r *Reports) Forecasts(ctx context.Context, f store.ForecastFilter) ([]store.Forecast, error) {
	return r.rep.Forecasts(ctx, f)
}

// DemandReport is the month's report of para 272.
type DemandReport struct {
	Month           string    `json:"month"`
	GeneratedAt     time.Time `json:"generated_at"`
	Clause          string    `json:"clause"`
	ReportAtPercent int       `json:"report_at_percent"`
	// Users is each user's usage per service against forecast and
	// threshold (para 272: reported to each user).
	Users []UserDemand `json:"users"`
	// Listed are the usages at or above ReportAtPercent of forecast or
	// threshold: reported to the Panel and all SEC Parties (para 272).
	Listed []Listing `json:"listed"`
	// Aggregate is the usage per service, for publication (para 272).
	Aggregate []ServiceUsage `json:"aggregate"`
}

// UserDemand is one user's month.
type UserDemand struct {
	UserID string `json:"user_id"`
	Role   string `json:"role"`
	Party  string `json:"party,omitempty"`
	// FirstServiceMonth is the month after the user's first Service
	// Request (para 409); empty if it has sent none.
	FirstServiceMonth string          `json:"first_service_month,omitempty"`
	Services          []ServiceDemand `json:"services"`
}

// ServiceDemand is a user's usage of one service in the month.
type ServiceDemand struct {
	Service  string `json:"service"`
	Name     string `json:"name"`
	Requests int    `json:"requests"`
	// Forecast is the forecast in force (the latest revision filed before
	// the month began), absent if none.
	Forecast        *ForecastInForce  `json:"forecast,omitempty"`
	ForecastPercent *float64          `json:"forecast_percent,omitempty"`
	Thresholds      []ThresholdResult `json:"thresholds,omitempty"`
	Listed          bool              `json:"listed"`
}

// ForecastInForce is the forecast a month is compared with.
type ForecastInForce struct {
	Count    int64     `json:"count"`
	Revision int       `json:"revision"`
	FiledAt  time.Time `json:"filed_at"`
}

// ThresholdResult is a Monthly Service Metric of Table 5.3 against its
// Monthly Service Threshold.
type ThresholdResult struct {
	ID            string `json:"id"`
	MetricText    string `json:"metric_text"`
	ThresholdText string `json:"threshold_text"`
	// Determined is false for a month before the First Service Month
	// (para 410); Note says why.
	Determined bool   `json:"determined"`
	Note       string `json:"note,omitempty"`
	// The formulas' inputs.
	RequestsM          int     `json:"requests_m"`
	Requests12M        int     `json:"requests_12m"`
	Enrolled15th       float64 `json:"enrolled_15th"`
	ASMS               float64 `json:"asms_m"`
	Scale12M           float64 `json:"scale_12m"`
	MonthsCounted      int     `json:"months_counted"`
	DaysInMonth        int     `json:"days_in_month"`
	EnrolmentEstimated bool    `json:"enrolment_estimated,omitempty"`
	// Metric, Threshold and Percent (Metric over Threshold) where
	// determined.
	Metric    float64  `json:"metric"`
	Threshold float64  `json:"threshold"`
	Percent   *float64 `json:"percent,omitempty"`
	AtOrAbove bool     `json:"at_or_above_report_level"`
}

// Listing is a usage at or above the report level (para 272).
type Listing struct {
	UserID  string `json:"user_id"`
	Role    string `json:"role"`
	Service string `json:"service"`
	// Basis is "forecast" or "threshold:<Table 5.3 row id>".
	Basis   string  `json:"basis"`
	Usage   float64 `json:"usage"`
	Against float64 `json:"against"`
	Percent float64 `json:"percent"`
}

// ServiceUsage is all users' usage of a service in the month.
type ServiceUsage struct {
	Service  string `json:"service"`
	Name     string `json:"name"`
	Requests int    `json:"requests"`
	Users    int    `json:"users"`
}

// atOrAbove reports usage >= pct% of against, exactly for integers and
// with a relative tolerance of 1e-9 for the formulas' doubles; nothing is
// at or above a level of zero unless it is used.
func atOrAbove(usage, against float64, pct int) bool {
	if usage <= 0 {
		return false
	}
	lhs, rhs := usage*100, against*float64(pct)
	return lhs >= rhs || math.Abs(lhs-rhs) <= 1e-9*math.Max(math.Abs(lhs), math.Abs(rhs))
}

// Demand makes the month's demand report: per user and service, usage
// against the forecast in force and against the Monthly Service Thresholds
// of Table 5.3 (para 407-411), the listing of para 272, and the aggregate
// per service.
func (r *Reports) Demand(ctx context.Context, m Month) (*DemandReport, error) {
	if err := r.checkMonth(m, "demand", r.sp.Demand.ReportClause); err != nil {
		return nil, err
	}
	now := r.clk.Now()
	pct := r.sp.ThresholdRules.ReportAtPercent
	rep := &DemandReport{Month: m.String(), GeneratedAt: now, Clause: r.sp.Demand.ReportClause, ReportAtPercent: pct,
		Listed: []Listing{}, Aggregate: []ServiceUsage{}, Users: []UserDemand{}}
	users, err := r.st.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	first, err := r.rep.FirstRequests(ctx)
	if err != nil {
		return nil, err
	}
	// Requests per user and service, per month of the twelve-month window.
	counts := map[Month]map[[2]string]int{}
	window := r.sp.ThresholdRules.ASMSMonths
	for i := 0; i < window; i++ {
		mm := m.Add(-i)
		cs, err := r.rep.RequestCounts(ctx, mm.Start(), mm.End(), r.sp.Demand.CountScheduleRuns)
		if err != nil {
			return nil, err
		}
		byKey := map[[2]string]int{}
		for _, c := range cs {
			byKey[[2]string{c.UserID, c.Service}] = c.Count
		}
		counts[mm] = byKey
	}
	fcs, err := r.rep.Forecasts(ctx, store.ForecastFilter{Month: m.String(), FiledBefore: m.Start(), Latest: true})
	if err != nil {
		return nil, err
	}
	forecast := map[[2]string]store.Forecast{}
	for _, f := range fcs {
		forecast[[2]string{f.UserID, f.Service}] = f
	}
	enrol := map[time.Time]enrolment{}

	agg := map[string]*ServiceUsage{}
	for _, u := range users {
		ud := UserDemand{UserID: u.ID, Role: u.Role, Party: u.Party}
		var fsm Month
		hasFSM := false
		if t, ok := first[u.ID]; ok {
			fsm, hasFSM = MonthOf(t).Add(1), true
			ud.FirstServiceMonth = fsm.String()
		}
		// The services to report: used in the month, forecast, or with a
		// Table 5.3 row for the user's role.
		svcs := map[string]bool{}
		for k := range counts[m] {
			if k[0] == u.ID {
				svcs[k[1]] = true
			}
		}
		for k := range forecast {
			if k[0] == u.ID {
				svcs[k[1]] = true
			}
		}
		for _, th := range r.thresholds {
			if hasRole(th.row.Roles, u.Role) {
				for _, s := range r.sp.ServicesByRef(th.row.Service) {
					svcs[s.Key()] = true
				}
			}
		}
		keys := make([]string, 0, len(svcs))
		for k := range svcs {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return serviceLess(keys[i], keys[j]) })
		for _, key := range keys {
			sd := ServiceDemand{Service: key, Name: r.serviceName(key), Requests: counts[m][[2]string{u.ID, key}]}
			if sd.Requests > 0 {
				a := agg[key]
				if a == nil {
					a = &ServiceUsage{Service: key, Name: sd.Name}
					agg[key] = a
				}
				a.Requests += sd.Requests
				a.Users++
			}
			if f, ok := forecast[[2]string{u.ID, key}]; ok {
				sd.Forecast = &ForecastInForce{Count: f.Count, Revision: f.Revision, FiledAt: f.FiledAt}
				if f.Count > 0 {
					p := float64(sd.Requests) * 100 / float64(f.Count)
					sd.ForecastPercent = &p
				}
				if atOrAbove(float64(sd.Requests), float64(f.Count), pct) {
					sd.Listed = true
					l := Listing{UserID: u.ID, Role: u.Role, Service: key, Basis: "forecast", Usage: float64(sd.Requests), Against: float64(f.Count)}
					if sd.ForecastPercent != nil {
						l.Percent = *sd.ForecastPercent
					} else {
						l.Percent = math.Inf(1)
					}
					rep.Listed = append(rep.Listed, l)
				}
			}
			for _, th := range r.thresholds {
				if !hasRole(th.row.Roles, u.Role) || !refOf(r, key, th.row.Service) {
					continue
				}
				tr, err := r.metric(ctx, th, u.ID, m, fsm, hasFSM, counts, enrol)
				if err != nil {
					return nil, err
				}
				if tr.AtOrAbove {
					sd.Listed = true
					rep.Listed = append(rep.Listed, Listing{UserID: u.ID, Role: u.Role, Service: key, Basis: "threshold:" + th.row.ID,
						Usage: tr.Metric, Against: tr.Threshold, Percent: *tr.Percent})
				}
				sd.Thresholds = append(sd.Thresholds, tr)
			}
			ud.Services = append(ud.Services, sd)
		}
		if len(ud.Services) > 0 {
			rep.Users = append(rep.Users, ud)
		}
	}
	for _, a := range agg {
		rep.Aggregate = append(rep.Aggregate, *a)
	}
	sort.Slice(rep.Aggregate, func(i, j int) bool { return serviceLess(rep.Aggregate[i].Service, rep.Aggregate[j].Service) })
	// Infinite percents (a forecast of zero) do not marshal to JSON: list
	// them at the largest double.
	for i := range rep.Listed {
		if math.IsInf(rep.Listed[i].Percent, 1) {
			rep.Listed[i].Percent = math.MaxFloat64
		}
	}
	return rep, nil
}

func hasRole(roles []string, role string) bool {
	for _, r := range roles {
		if r == role {
			return true
		}
	}
	return false
}

// refOf reports whether a row key is of the reference ref.
func refOf(r *Reports, key, ref string) bool {
	svc := r.sp.ServiceByKey(key)
	return svc != nil && svc.Ref == ref
}

// metric evaluates one Table 5.3 row for a user and month m.
func (r *Reports) metric(ctx context.Context, th threshold, user string, m, fsm Month, hasFSM bool,
	counts map[Month]map[[2]string]int, enrol map[time.Time]enrolment) (ThresholdResult, error) {
	tr := ThresholdResult{ID: th.row.ID, MetricText: th.row.MetricText, ThresholdText: th.row.ThresholdText, DaysInMonth: m.Days()}
	switch {
	case !hasFSM:
		tr.Note = "the user has sent no Service Request: it has no First Service Month (para 409-410)"
		return tr, nil
	case m.Before(fsm):
		tr.Note = fmt.Sprintf("month before the First Service Month %s: no metric is determined (para 410)", fsm)
		return tr, nil
	}
	keys := r.sp.ServicesByRef(th.row.Service)
	count := func(mm Month) int {
		n := 0
		for _, s := range keys {
			n += counts[mm][[2]string{user, s.Key()}]
		}
		return n
	}
	window := r.sp.ThresholdRules.ASMSMonths
	day := r.sp.ThresholdRules.EnrolmentDay
	e, err := r.enrolmentOn(ctx, m.Day(day), enrol)
	if err != nil {
		return tr, err
	}
	tr.EnrolmentEstimated = e.estimated
	tr.RequestsM = count(m)
	tr.Enrolled15th = float64(e.counts[user])
	// The window: month m and the previous eleven; months before the First
	// Service Month are disregarded (para 411, as spec/thresholds.cue reads
	// it), for ASMS always and for the requests as the spec says.
	sum := 0.0
	for i := 0; i < window; i++ {
		mm := m.Add(-i)
		counted := !mm.Before(fsm)
		if counted || !r.sp.Demand.CountFromFirstServiceMonth {
			tr.Requests12M += count(mm)
		}
		if !counted {
			continue
		}
		tr.MonthsCounted++
		em, err := r.enrolmentOn(ctx, mm.Day(day), enrol)
		if err != nil {
			return tr, err
		}
		tr.EnrolmentEstimated = tr.EnrolmentEstimated || em.estimated
		sum += float64(em.counts[user])
	}
	tr.ASMS = sum / float64(tr.MonthsCounted)
	tr.Scale12M = float64(window) / float64(tr.MonthsCounted)
	vars := map[string]any{
		"requests_m": int64(tr.RequestsM), "requests_12m": int64(tr.Requests12M), "enrolled_15th": tr.Enrolled15th,
		"asms_m": tr.ASMS, "scale_12m": tr.Scale12M, "days_in_month": int64(tr.DaysInMonth),
	}
	if tr.Metric, err = evalDouble(th.metric, vars); err != nil {
		return tr, fmt.Errorf("reports: threshold %s metric: %w", th.row.ID, err)
	}
	if tr.Threshold, err = evalDouble(th.threshold, vars); err != nil {
		return tr, fmt.Errorf("reports: threshold %s threshold: %w", th.row.ID, err)
	}
	tr.Determined = true
	if tr.Threshold > 0 {
		p := tr.Metric * 100 / tr.Threshold
		tr.Percent = &p
	}
	tr.AtOrAbove = atOrAbove(tr.Metric, tr.Threshold, r.sp.ThresholdRules.ReportAtPercent)
	if tr.AtOrAbove && tr.Percent == nil {
		p := math.MaxFloat64
		tr.Percent = &p
	}
	return tr, nil
}
