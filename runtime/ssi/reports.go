package ssi

import (
	"context"
	"errors"
	"net/http"

	"github.com/dccgate/dccgate/reports"
)

// Reports are the monthly reports (reports.Reports): the Code Performance
// Measures of para 262 and the demand report of para 272.
type Reports interface {
	Performance(ctx context.Context, m reports.Month) (*reports.PerformanceReport, error)
	Demand(ctx context.Context, m reports.Month) (*reports.DemandReport, error)
	// Months are the first and the last month a report may be of.
	Months() (first, last reports.Month)
}

// SetReports gives the SSI the gateway's reports; call it before the SSI
// serves.
func (s *SSI) SetReports(r Reports) { s.cfg.Reports = r }

type reportsPage struct {
	Month       string
	Performance *reports.PerformanceReport
	// Demand is the user's own part of the demand report (para 272: each
	// user is told its own usage), Aggregate the usage per service that
	// is published.
	Demand    *reports.UserDemand
	Aggregate []reports.ServiceUsage
	Clause    string
}

// reportsList shows a month's performance report (every user may see how
// the DCC performed) and the user's own demand; another user's usage is
// never shown (para 250).
func (s *SSI) reportsList(w http.ResponseWriter, r *http.Request, sess *session) {
	if s.cfg.Reports == nil {
		s.notFound(w, sess, "report")
		return
	}
	m, ok := s.queryMonth(w, r, sess, reports.MonthOf(s.cfg.Clock.Now()))
	if !ok {
		return
	}
	d := reportsPage{Month: m.String()}
	dem, err := s.cfg.Reports.Demand(r.Context(), m)
	if err == nil {
		d.Performance, err = s.cfg.Reports.Performance(r.Context(), m)
	}
	if re := (*reports.Error)(nil); errors.As(err, &re) && re.Code == reports.CodeMonthOutOfRange {
		// The reports' own refusal, said as the API says it.
		s.render(w, http.StatusBadRequest, "error", page{Title: "Bad month", User: sess, Error: re.Message})
		return
	} else if err != nil {
		s.fail(w, sess, err)
		return
	}
	d.Aggregate, d.Clause = dem.Aggregate, dem.Clause
	for i := range dem.Users {
		if dem.Users[i].UserID == sess.User {
			d.Demand = &dem.Users[i]
		}
	}
	s.render(w, http.StatusOK, "reports", page{Title: "Reports", Nav: "reports", User: sess, Data: d})
}
