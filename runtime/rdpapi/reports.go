package rdpapi

import (
	"context"
	"errors"
	"net/http"

	"connectrpc.com/connect"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/reports"
	"github.com/dccgate/dccgate/runtime/store"
)

// ReportHandler serves ReportService over rp.
func ReportHandler(rp *reports.Reports, o Options) (string, http.Handler) {
	opts := append([]connect.HandlerOption{connect.WithCompressMinBytes(1024)}, o.HandlerOptions...)
	path, h := dccgatev1connect.NewReportServiceHandler(&ReportServer{R: rp}, opts...)
	return path, authenticate(h, o.ForwardedRoots)
}

// ReportServer implements ReportService.
type ReportServer struct {
	R *reports.Reports
}

var _ dccgatev1connect.ReportServiceHandler = (*ReportServer)(nil)

// userOrAdmin returns the user a call is for: the caller, or (the admin)
// the one named.
func userOrAdmin(ctx context.Context, named string) (string, bool, error) {
	c, err := caller(ctx)
	if err != nil {
		return "", false, err
	}
	switch {
	case c.Admin:
		return named, true, nil
	case c.UserID != "":
		if named != "" && named != c.UserID {
			return "", false, connect.NewError(connect.CodePermissionDenied, errors.New("a user sees and files its own forecasts"))
		}
		return c.UserID, false, nil
	}
	return "", false, connect.NewError(connect.CodePermissionDenied, errors.New("reports are for users and the admin"))
}

func forecastMsg(f store.Forecast) *dccgatev1.Forecast {
	return &dccgatev1.Forecast{UserId: f.UserID, Service: f.Service, Month: f.Month, Count: f.Count, FiledAt: ts(f.FiledAt), Revision: int32(f.Revision)}
}

func reportErr(err error) error {
	var re *reports.Error
	if errors.As(err, &re) {
		return connect.NewError(connect.CodeInvalidArgument, err)
	}
	return connect.NewError(connect.CodeInternal, err)
}

// FileForecasts implements ReportService.FileForecasts.
func (s *ReportServer) FileForecasts(ctx context.Context, req *connect.Request[dccgatev1.FileForecastsRequest]) (*connect.Response[dccgatev1.FileForecastsResponse], error) {
	user, _, err := userOrAdmin(ctx, req.Msg.GetUserId())
	if err != nil {
		return nil, err
	}
	var entries []reports.ForecastEntry
	for _, e := range req.Msg.GetEntries() {
		entries = append(entries, reports.ForecastEntry{Service: e.GetService(), Month: e.GetMonth(), Count: e.GetCount()})
	}
	fs, err := s.R.FileForecasts(ctx, user, entries)
	if err != nil {
		return nil, reportErr(err)
	}
	out := &dccgatev1.FileForecastsResponse{}
	for _, f := range fs {
		out.Forecasts = append(out.Forecasts, forecastMsg(f))
	}
	return connect.NewResponse(out), nil
}

// ListForecasts implements ReportService.ListForecasts.
func (s *ReportServer) ListForecasts(ctx context.Context, req *connect.Request[dccgatev1.ListForecastsRequest]) (*connect.Response[dccgatev1.ListForecastsResponse], error) {
	user, _, err := userOrAdmin(ctx, req.Msg.GetUserId())
	if err != nil {
		return nil, err
	}
	fs, err := s.R.Forecasts(ctx, store.ForecastFilter{UserID: user, Service: req.Msg.GetService(), Month: req.Msg.GetMonth(), Latest: !req.Msg.GetHistory()})
	if err != nil {
		return nil, reportErr(err)
	}
	out := &dccgatev1.ListForecastsResponse{}
	for _, f := range fs {
		out.Forecasts = append(out.Forecasts, forecastMsg(f))
	}
	return connect.NewResponse(out), nil
}

func month(s string) (reports.Month, error) {
	m, err := reports.ParseMonth(s)
	if err != nil {
		return m, connect.NewError(connect.CodeInvalidArgument, err)
	}
	return m, nil
}

// GetPerformanceReport implements ReportService.GetPerformanceReport.
func (s *ReportServer) GetPerformanceReport(ctx context.Context, req *connect.Request[dccgatev1.GetPerformanceReportRequest]) (*connect.Response[dccgatev1.PerformanceReport], error) {
	if _, _, err := userOrAdmin(ctx, ""); err != nil {
		return nil, err
	}
	m, err := month(req.Msg.GetMonth())
	if err != nil {
		return nil, err
	}
	p, err := s.R.Performance(ctx, m)
	if err != nil {
		return nil, reportErr(err)
	}
	return connect.NewResponse(PerformanceMsg(p)), nil
}

// GetDemandReport implements ReportService.GetDemandReport.
func (s *ReportServer) GetDemandReport(ctx context.Context, req *connect.Request[dccgatev1.GetDemandReportRequest]) (*connect.Response[dccgatev1.DemandReport], error) {
	user, admin, err := userOrAdmin(ctx, "")
	if err != nil {
		return nil, err
	}
	m, err := month(req.Msg.GetMonth())
	if err != nil {
		return nil, err
	}
	d, err := s.R.Demand(ctx, m)
	if err != nil {
		return nil, reportErr(err)
	}
	if !admin {
		// A user sees its own usage; the listing and the aggregate are
		// for all parties (para 272).
		own := d.Users[:0:0]
		for _, u := range d.Users {
			if u.UserID == user {
				own = append(own, u)
			}
		}
		d.Users = own
	}
	return connect.NewResponse(DemandMsg(d)), nil
}

func opt(p *float64) *float64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// PerformanceMsg converts a performance report to its message.
func PerformanceMsg(p *reports.PerformanceReport) *dccgatev1.PerformanceReport {
	out := &dccgatev1.PerformanceReport{Month: p.Month, From: ts(p.From), To: ts(p.To), GeneratedAt: ts(p.GeneratedAt), Clause: p.Clause}
	for _, m := range p.Measures {
		mr := &dccgatev1.MeasureResult{Number: int32(m.Number), Name: m.Name, Measures: m.Measures, Target: m.Target, Minimum: m.Minimum,
			Measured: m.Measured, Total: int32(m.Total), Within: int32(m.Within), Percent: opt(m.Percent), Result: m.Result,
			Requirement: m.Requirement, Clause: m.Clause, Undelivered: int32(m.Undelivered), Excluded: int32(m.Excluded), NotYetDue: int32(m.NotYetDue)}
		for _, s := range m.Services {
			mr.Services = append(mr.Services, &dccgatev1.ServiceBreakdown{Service: s.Service, Name: s.Name, Total: int32(s.Total),
				Within: int32(s.Within), Percent: opt(s.Percent), Target: s.Target})
		}
		out.Measures = append(out.Measures, mr)
	}
	return out
}

// DemandMsg converts a demand report to its message.
func DemandMsg(d *reports.DemandReport) *dccgatev1.DemandReport {
	out := &dccgatev1.DemandReport{Month: d.Month, GeneratedAt: ts(d.GeneratedAt), Clause: d.Clause, ReportAtPercent: int32(d.ReportAtPercent)}
	for _, u := range d.Users {
		um := &dccgatev1.UserDemand{UserId: u.UserID, Role: u.Role, Party: u.Party, FirstServiceMonth: u.FirstServiceMonth}
		for _, s := range u.Services {
			sm := &dccgatev1.ServiceDemand{Service: s.Service, Name: s.Name, Requests: int32(s.Requests), ForecastPercent: opt(s.ForecastPercent), Listed: s.Listed}
			if s.Forecast != nil {
				sm.Forecast = &dccgatev1.ForecastInForce{Count: s.Forecast.Count, Revision: int32(s.Forecast.Revision), FiledAt: ts(s.Forecast.FiledAt)}
			}
			for _, t := range s.Thresholds {
				sm.Thresholds = append(sm.Thresholds, &dccgatev1.ThresholdResult{Id: t.ID, MetricText: t.MetricText, ThresholdText: t.ThresholdText,
					Determined: t.Determined, Note: t.Note, RequestsM: int32(t.RequestsM), Requests_12M: int32(t.Requests12M),
					Enrolled_15Th: t.Enrolled15th, AsmsM: t.ASMS, Scale_12M: t.Scale12M, MonthsCounted: int32(t.MonthsCounted),
					DaysInMonth: int32(t.DaysInMonth), EnrolmentEstimated: t.EnrolmentEstimated, Metric: t.Metric, Threshold: t.Threshold,
					Percent: opt(t.Percent), AtOrAboveReportLevel: t.AtOrAbove})
			}
			um.Services = append(um.Services, sm)
		}
		out.Users = append(out.Users, um)
	}
	for _, l := range d.Listed {
		out.Listed = append(out.Listed, &dccgatev1.DemandListing{UserId: l.UserID, Role: l.Role, Service: l.Service, Basis: l.Basis,
			Usage: l.Usage, Against: l.Against, Percent: l.Percent})
	}
	for _, a := range d.Aggregate {
		out.Aggregate = append(out.Aggregate, &dccgatev1.ServiceUsage{Service: a.Service, Name: a.Name, Requests: int32(a.Requests), Users: int32(a.Users)})
	}
	return out
}
