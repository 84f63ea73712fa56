package rdpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/registration"
	"github.com/dccgate/dccgate/runtime/store"
)

// MaxFileBytes bounds a registration file over the API (a 100,000-MPxN
// file is about 11 MB).
const MaxFileBytes = 256 << 20

// RegistrationHandler serves RegistrationService over svc.
func RegistrationHandler(svc *registration.Service, o Options) (string, http.Handler) {
	opts := append([]connect.HandlerOption{connect.WithCompressMinBytes(1024), connect.WithReadMaxBytes(MaxFileBytes)}, o.HandlerOptions...)
	path, h := dccgatev1connect.NewRegistrationServiceHandler(&RegistrationServer{Svc: svc}, opts...)
	return path, authenticate(h, o.ForwardedRoots)
}

// RegistrationServer implements RegistrationService.
type RegistrationServer struct {
	Svc *registration.Service
}

var _ dccgatev1connect.RegistrationServiceHandler = (*RegistrationServer)(nil)

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func fileMsg(f store.RegistrationFile) *dccgatev1.RegistrationFile {
	return &dccgatev1.RegistrationFile{Id: f.ID, Rdp: f.RDP, Kind: f.Kind, Fuel: f.Fuel, Sequence: f.Sequence, Name: f.Name,
		Sha256: f.SHA256, ReceivedAt: ts(f.ReceivedAt), State: f.State, Rows: int32(f.Rows), Written: int32(f.Written),
		Deleted: int32(f.Deleted), Incident: f.Incident}
}

func incidentMsg(in store.RegistrationIncident) *dccgatev1.RegistrationIncident {
	return &dccgatev1.RegistrationIncident{Id: in.ID, Kind: in.Kind, Rdp: in.RDP, File: in.File, RaisedAt: ts(in.RaisedAt),
		ResolvedAt: ts(in.ResolvedAt), Summary: in.Summary, Resolution: in.Resolution, Rows: int32(in.Rows), DetailJson: string(in.Detail)}
}

func refreshMsg(r registration.Refresh) *dccgatev1.RefreshRequest {
	return &dccgatev1.RefreshRequest{Id: r.ID, Rdp: r.RDP, NetworkOperator: r.NetworkOperator, Fuel: r.Fuel,
		RequestedAt: ts(r.RequestedAt), DueAt: ts(r.DueAt), ReceivedAt: ts(r.ReceivedAt), File: r.File,
		Overdue: r.Overdue, FlaggedOverdueAt: ts(r.OverdueAt)}
}

// SubmitRegistrationFile implements RegistrationService.SubmitRegistrationFile.
func (s *RegistrationServer) SubmitRegistrationFile(ctx context.Context, req *connect.Request[dccgatev1.SubmitRegistrationFileRequest]) (*connect.Response[dccgatev1.SubmitRegistrationFileResponse], error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if c.RDP == "" {
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("only a Registration Data Provider sends registration files (a certificate with organizational unit RDP)"))
	}
	res, err := s.Svc.Load(ctx, c.RDP, req.Msg.GetName(), req.Msg.GetContent())
	if errors.Is(err, registration.ErrUnknownRDP) {
		return nil, connect.NewError(connect.CodePermissionDenied, err)
	}
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	out := &dccgatev1.SubmitRegistrationFileResponse{File: fileMsg(res.File), Reason: res.Reason,
		AnsweredRefreshes: res.Answered, Disputes: int32(len(res.Disputes)), Missing: int32(len(res.Missing))}
	for _, e := range res.Errors {
		out.Errors = append(out.Errors, &dccgatev1.RegistrationRowError{Line: int32(e.Line), Mpxn: e.MPxN, Column: e.Column, Code: e.Code, Message: e.Message})
	}
	for _, in := range res.Incidents {
		out.Incidents = append(out.Incidents, incidentMsg(in))
	}
	if res.Refused {
		cerr := connect.NewError(connect.CodePermissionDenied, errors.New(res.Reason))
		if d, err := connect.NewErrorDetail(out); err == nil {
			cerr.AddDetail(d)
		}
		return nil, cerr
	}
	return connect.NewResponse(out), nil
}

// ListRefreshRequests implements RegistrationService.ListRefreshRequests.
func (s *RegistrationServer) ListRefreshRequests(ctx context.Context, req *connect.Request[dccgatev1.ListRefreshRequestsRequest]) (*connect.Response[dccgatev1.ListRefreshRequestsResponse], error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	rdp := req.Msg.GetRdp()
	switch {
	case c.RDP != "":
		rdp = c.RDP
	case !c.Admin:
		return nil, errAdminOnly
	}
	rs, err := s.Svc.Refreshes(ctx, rdp, req.Msg.GetOpenOnly())
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	out := &dccgatev1.ListRefreshRequestsResponse{}
	for _, r := range rs {
		out.Refreshes = append(out.Refreshes, refreshMsg(r))
	}
	return connect.NewResponse(out), nil
}

// ListRegistrationIncidents implements RegistrationService.ListRegistrationIncidents.
func (s *RegistrationServer) ListRegistrationIncidents(ctx context.Context, req *connect.Request[dccgatev1.ListRegistrationIncidentsRequest]) (*connect.Response[dccgatev1.ListRegistrationIncidentsResponse], error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	f := store.IncidentFilter{RDP: req.Msg.GetRdp(), Kind: req.Msg.GetKind(), OpenOnly: req.Msg.GetOpenOnly()}
	switch {
	case c.RDP != "":
		f.RDP = c.RDP
	case !c.Admin:
		return nil, errAdminOnly
	}
	ins, err := s.Svc.Incidents(ctx, f)
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	out := &dccgatev1.ListRegistrationIncidentsResponse{}
	for _, in := range ins {
		out.Incidents = append(out.Incidents, incidentMsg(in))
	}
	return connect.NewResponse(out), nil
}

// NominateRDP implements RegistrationService.NominateRDP.
func (s *RegistrationServer) NominateRDP(ctx context.Context, req *connect.Request[dccgatev1.NominateRDPRequest]) (*connect.Response[dccgatev1.NominateRDPResponse], error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	no := req.Msg.GetNetworkOperator()
	switch {
	case c.Admin:
		if no == "" {
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("network_operator is required"))
		}
	case c.UserID != "":
		if no != "" && no != c.UserID {
			return nil, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%s may nominate an RDP for itself only", c.UserID))
		}
		no = c.UserID
	default:
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("a network operator nominates its RDP"))
	}
	n, err := s.Svc.Nominate(ctx, no, req.Msg.GetRdp())
	switch {
	case errors.Is(err, registration.ErrNotNetworkOperator):
		return nil, connect.NewError(connect.CodePermissionDenied, err)
	case errors.Is(err, registration.ErrUnknownRDP):
		return nil, connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, store.ErrDuplicate):
		return nil, connect.NewError(connect.CodeAlreadyExists, err)
	case err != nil:
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	return connect.NewResponse(&dccgatev1.NominateRDPResponse{NetworkOperator: n.NetworkOperator, Rdp: n.RDP, NominatedAt: ts(n.At)}), nil
}

// RequestRefresh implements RegistrationService.RequestRefresh.
func (s *RegistrationServer) RequestRefresh(ctx context.Context, req *connect.Request[dccgatev1.RequestRefreshRequest]) (*connect.Response[dccgatev1.RequestRefreshResponse], error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Admin {
		return nil, errAdminOnly
	}
	r, err := s.Svc.RequestRefresh(ctx, req.Msg.GetRdp(), req.Msg.GetNetworkOperator(), req.Msg.GetFuel())
	var refused *registration.Error
	switch {
	case errors.Is(err, registration.ErrUnknownRDP):
		return nil, connect.NewError(connect.CodeNotFound, err)
	case errors.As(err, &refused) && refused.Code == registration.RefuseNotNominated:
		// Asked of an RDP that is not nominated for it (para 84): the
		// message names who is.
		return nil, connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.As(err, &refused):
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	case err != nil:
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	return connect.NewResponse(&dccgatev1.RequestRefreshResponse{Refresh: refreshMsg(registration.Refresh{RefreshRequest: r})}), nil
}
