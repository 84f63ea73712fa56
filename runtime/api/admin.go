package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/store"
)

// AdminServer implements AdminService for a virtual-clock gateway.
type AdminServer struct {
	G  *gateway.Gateway
	CA *pki.CA
}

var _ dccgatev1connect.AdminServiceHandler = (*AdminServer)(nil)

func admin(ctx context.Context) error {
	c, ok := CallerFrom(ctx)
	if !ok || !c.Admin {
		return connect.NewError(connect.CodePermissionDenied, errors.New("the admin certificate is required"))
	}
	return nil
}

func enumName(s string, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(s, prefix))
}

// Reset implements AdminService.Reset.
func (a *AdminServer) Reset(ctx context.Context, req *connect.Request[dccgatev1.ResetRequest]) (*connect.Response[dccgatev1.ResetResponse], error) {
	if err := admin(ctx); err != nil {
		return nil, err
	}
	m := req.Msg
	w := gateway.World{}
	if m.GetStart() != nil {
		w.Start = m.GetStart().AsTime().UTC()
	}
	resp := &dccgatev1.ResetResponse{CaPem: string(a.CA.CertPEM)}
	for _, u := range m.GetUsers() {
		role := strings.ToUpper(enumName(u.GetRole().String(), "ROLE_"))
		iss, err := a.CA.IssueUser(u.GetId(), role)
		if err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, err)
		}
		w.Users = append(w.Users, store.User{ID: u.GetId(), Role: role, Party: u.GetParty(), Suspended: u.GetSuspended(), CertPEM: string(iss.CertPEM)})
		resp.Credentials = append(resp.Credentials, &dccgatev1.UserCredentials{UserId: u.GetId(), CertPem: string(iss.CertPEM), KeyPem: string(iss.KeyPEM)})
	}
	for _, r := range m.GetRegistration() {
		w.Registration = append(w.Registration, store.Registration{MPxN: r.GetMpxn(), Fuel: r.GetFuel(), ImportSupplier: r.GetImportSupplier(), ExportSupplier: r.GetExportSupplier(),
			NetworkOperator: r.GetNetworkOperator(), Postcode: r.GetPostcode(), Premises: r.GetPremises(), UPRN: r.GetUprn()})
	}
	for _, d := range m.GetInventory() {
		w.Inventory = append(w.Inventory, store.Device{ID: d.GetDeviceId(), Type: strings.ToUpper(enumName(d.GetType().String(), "DEVICE_TYPE_")),
			Status: enumName(d.GetStatus().String(), "DEVICE_STATUS_"), MPxN: d.GetMpxn(), CHF: d.GetChf(), Meter: d.GetMeter(), Credentials: d.GetCredentials()})
	}
	for _, an := range m.GetAnomaly() {
		role := ""
		if an.GetRole() != dccgatev1.Role_ROLE_UNSPECIFIED {
			role = strings.ToUpper(enumName(an.GetRole().String(), "ROLE_"))
		}
		// max 0 is a threshold (every such request is quarantined); a
		// rule that could never be met or never lapse is refused, not
		// silently dropped.
		if an.GetMax() < 0 || an.GetPer().AsDuration() <= 0 {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("anomaly threshold on %q: max must not be negative and per must be above 0 (max %d, per %s)", an.GetService(), an.GetMax(), an.GetPer().AsDuration()))
		}
		w.Anomaly = append(w.Anomaly, gateway.AnomalyRule{Service: an.GetService(), Role: role, Max: int(an.GetMax()), Per: an.GetPer().AsDuration()})
	}
	if err := a.G.Reset(ctx, w); err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	return connect.NewResponse(resp), nil
}

// Advance implements AdminService.Advance.
func (a *AdminServer) Advance(ctx context.Context, req *connect.Request[dccgatev1.AdvanceRequest]) (*connect.Response[dccgatev1.AdvanceResponse], error) {
	if err := admin(ctx); err != nil {
		return nil, err
	}
	now, err := a.G.Advance(ctx, req.Msg.GetBy().AsDuration())
	if err != nil {
		return nil, connect.NewError(connect.CodeFailedPrecondition, err)
	}
	return connect.NewResponse(&dccgatev1.AdvanceResponse{Now: timestamppb.New(now)}), nil
}

// DeviceEvent implements AdminService.DeviceEvent.
func (a *AdminServer) DeviceEvent(ctx context.Context, req *connect.Request[dccgatev1.DeviceEventRequest]) (*connect.Response[dccgatev1.DeviceEventResponse], error) {
	if err := admin(ctx); err != nil {
		return nil, err
	}
	if err := a.G.DeviceEvent(ctx, req.Msg.GetDeviceId(), req.Msg.GetKind()); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	return connect.NewResponse(&dccgatev1.DeviceEventResponse{}), nil
}

// GetDevice implements AdminService.GetDevice.
func (a *AdminServer) GetDevice(ctx context.Context, req *connect.Request[dccgatev1.GetDeviceRequest]) (*connect.Response[dccgatev1.InventoryDevice], error) {
	if err := admin(ctx); err != nil {
		return nil, err
	}
	d, err := a.G.Store().GetDevice(ctx, req.Msg.GetDeviceId())
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(toInventoryDevice(d)), nil
}

func toInventoryDevice(d store.Device) *dccgatev1.InventoryDevice {
	out := &dccgatev1.InventoryDevice{DeviceId: d.ID, Mpxn: d.MPxN, Chf: d.CHF, Meter: d.Meter, Credentials: d.Credentials}
	out.Type = dccgatev1.DeviceType(dccgatev1.DeviceType_value["DEVICE_TYPE_"+d.Type])
	out.Status = dccgatev1.DeviceStatus(dccgatev1.DeviceStatus_value["DEVICE_STATUS_"+strings.ToUpper(d.Status)])
	return out
}

// GetEnrolment implements AdminService.GetEnrolment.
func (a *AdminServer) GetEnrolment(ctx context.Context, req *connect.Request[dccgatev1.GetEnrolmentRequest]) (*connect.Response[dccgatev1.GetEnrolmentResponse], error) {
	if err := admin(ctx); err != nil {
		return nil, err
	}
	ok, err := a.G.Enrolled(ctx, req.Msg.GetMpxn())
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&dccgatev1.GetEnrolmentResponse{Enrolled: ok}), nil
}

// CountSchedules implements AdminService.CountSchedules.
func (a *AdminServer) CountSchedules(ctx context.Context, req *connect.Request[dccgatev1.CountSchedulesRequest]) (*connect.Response[dccgatev1.CountSchedulesResponse], error) {
	if err := admin(ctx); err != nil {
		return nil, err
	}
	s, err := a.G.Store().ListSchedules(ctx, store.ScheduleFilter{UserID: req.Msg.GetUserId(), DeviceID: req.Msg.GetDeviceId()})
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&dccgatev1.CountSchedulesResponse{Count: int64(len(s))}), nil
}

// ListDeliveries implements AdminService.ListDeliveries.
func (a *AdminServer) ListDeliveries(ctx context.Context, req *connect.Request[dccgatev1.ListDeliveriesRequest]) (*connect.Response[dccgatev1.ListDeliveriesResponse], error) {
	if err := admin(ctx); err != nil {
		return nil, err
	}
	ds, err := a.G.Store().Deliveries(ctx, "", req.Msg.GetAfter(), 10000)
	if err != nil {
		return nil, toConnect(err)
	}
	out := &dccgatev1.ListDeliveriesResponse{Cursor: req.Msg.GetAfter()}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, &dccgatev1.DeliveryRecord{Cursor: d.Cursor, UserId: d.UserID, Kind: d.Kind, Code: d.Code, DeviceId: d.DeviceID, RequestId: d.RequestID})
		out.Cursor = d.Cursor
	}
	return connect.NewResponse(out), nil
}

// Operator is what OpsService needs of a running server.
type Operator interface {
	// Reload vets and compiles the spec and policies again and, only if
	// that succeeds, makes them decide new requests.
	Reload(ctx context.Context) (ReloadResult, error)
	// Status tells what the server runs.
	Status(ctx context.Context) Status
	// QuarantinedAlerts lists the device alerts anomaly detection
	// quarantined (para 136).
	QuarantinedAlerts(ctx context.Context, f store.QuarantineFilter) ([]store.QuarantinedAlert, error)
}

// ReloadResult is what a reload put in force.
type ReloadResult struct {
	SpecHash, PolicyHash string
	Changed              bool
	Warnings             []string
}

// Status is what a server runs.
type Status struct {
	Version, Commit      string
	SpecHash, PolicyHash string
	LoadedAt             time.Time
	ReloadError          string
	Ready                bool
}

// OpsServer implements OpsService, for the admin listener. The listener
// decides who may call it (loopback, or the admin certificate).
type OpsServer struct {
	Op Operator
}

var _ dccgatev1connect.OpsServiceHandler = (*OpsServer)(nil)

// Reload implements OpsService.Reload: a refused reload is
// FailedPrecondition with the errors (file:line) in its message.
func (o *OpsServer) Reload(ctx context.Context, _ *connect.Request[dccgatev1.ReloadRequest]) (*connect.Response[dccgatev1.ReloadResponse], error) {
	res, err := o.Op.Reload(ctx)
	if err != nil {
		return nil, connect.NewError(connect.CodeFailedPrecondition, err)
	}
	return connect.NewResponse(&dccgatev1.ReloadResponse{SpecHash: res.SpecHash, PolicyHash: res.PolicyHash, Changed: res.Changed, Warnings: res.Warnings}), nil
}

// Status implements OpsService.Status.
func (o *OpsServer) Status(ctx context.Context, _ *connect.Request[dccgatev1.StatusRequest]) (*connect.Response[dccgatev1.StatusResponse], error) {
	st := o.Op.Status(ctx)
	out := &dccgatev1.StatusResponse{Version: st.Version, Commit: st.Commit, SpecHash: st.SpecHash, PolicyHash: st.PolicyHash,
		ReloadError: st.ReloadError, Ready: st.Ready}
	if !st.LoadedAt.IsZero() {
		out.LoadedAt = timestamppb.New(st.LoadedAt)
	}
	return connect.NewResponse(out), nil
}

// quarantineListMax bounds a page of ListQuarantinedAlerts.
const quarantineListMax = 1000

// ListQuarantinedAlerts implements OpsService.ListQuarantinedAlerts.
func (o *OpsServer) ListQuarantinedAlerts(ctx context.Context, req *connect.Request[dccgatev1.ListQuarantinedAlertsRequest]) (*connect.Response[dccgatev1.ListQuarantinedAlertsResponse], error) {
	limit := int(req.Msg.GetLimit())
	if limit < 0 {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("limit must not be negative"))
	}
	if limit == 0 || limit > quarantineListMax {
		limit = quarantineListMax
	}
	list, err := o.Op.QuarantinedAlerts(ctx, store.QuarantineFilter{DeviceID: req.Msg.GetDeviceId(), AfterID: req.Msg.GetAfterId(), Limit: limit})
	if err != nil {
		return nil, toConnect(err)
	}
	out := &dccgatev1.ListQuarantinedAlertsResponse{}
	for _, a := range list {
		out.Alerts = append(out.Alerts, &dccgatev1.QuarantinedAlert{Id: a.ID, DeviceId: a.DeviceID, Code: a.Code, Recipients: a.Recipients,
			Payload: string(a.Payload), Reason: a.Reason, Clause: a.Clause, Detail: a.Detail,
			RaisedAt: timestamppb.New(a.RaisedAt), QuarantinedAt: timestamppb.New(a.QuarantinedAt)})
	}
	return connect.NewResponse(out), nil
}
