package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// MaintenanceGate says whether a planned maintenance window is in force
// (para 213, 246). The maintenance package implements it; the gateway
// refuses requests received during a window with the spec's maintenance
// reason code and the window's reference.
type MaintenanceGate interface {
	// InWindow returns the reference and description of the window in
	// force at time at, if any.
	InWindow(at time.Time) (ref, detail string, ok bool)
}

// ErrNotVisible is returned when a user asks about a device that is not in
// its portfolio.
var ErrNotVisible = errors.New("gateway: the device is not in the user's portfolio")

// CHFDiagnosis is the result of the remote diagnostic of a Communications
// Hub over the emulated SMWAN (para 226-227).
type CHFDiagnosis struct {
	Device       string    `json:"device"`
	CHF          string    `json:"chf"`
	Reachable    bool      `json:"reachable"`
	Powered      bool      `json:"powered"`
	WANConnected bool      `json:"wan_connected"`
	Detail       string    `json:"detail"`
	LastContact  time.Time `json:"last_contact,omitzero"`
	CheckedAt    time.Time `json:"checked_at"`
}

// DiagnoseCHF runs the CHF reachability and last-contact diagnostic for a
// device the caller may see: the hub the device talks through, whether it
// is powered and joined to the SMWAN, and when a Command last reached a
// device behind it.
func (g *Gateway) DiagnoseCHF(ctx context.Context, caller, deviceID string) (CHFDiagnosis, error) {
	now := g.clk.Now()
	u, err := g.st.GetUser(ctx, caller)
	if err != nil {
		return CHFDiagnosis{}, err
	}
	d, err := g.st.GetDevice(ctx, deviceID)
	if err != nil {
		return CHFDiagnosis{}, err
	}
	if ok, err := g.maySee(ctx, u, d); err != nil {
		return CHFDiagnosis{}, err
	} else if !ok {
		return CHFDiagnosis{}, ErrNotVisible
	}
	out := CHFDiagnosis{Device: deviceID, CHF: d.CHF, CheckedAt: now}
	if d.Type == "CHF" {
		out.CHF = d.ID
	}
	if out.CHF == "" {
		out.Detail = "the device belongs to no Communications Hub"
		return out, nil
	}
	release, err := g.materialise(ctx, out.CHF)
	if err != nil {
		return CHFDiagnosis{}, err
	}
	hub, ok := g.em().fleet.Get(out.CHF)
	release()
	switch {
	case !ok:
		out.Detail = "the Communications Hub is not on the SMWAN"
	case !hub.Powered:
		out.Powered, out.Detail = false, "the Communications Hub has no power"
	case !hub.WANConnected:
		out.Powered, out.Detail = true, "the Communications Hub has not joined the SMWAN"
	case g.em().wan.HubDead(out.CHF):
		out.Powered, out.WANConnected, out.Detail = true, true, "the Communications Hub does not answer over the SMWAN"
	default:
		out.Powered, out.WANConnected, out.Reachable = true, true, true
		out.Detail = "the Communications Hub answers over the SMWAN"
	}
	// Last contact: the latest Command that completed on a device behind
	// the hub.
	behind, err := g.st.Devices(ctx, store.DeviceFilter{CHF: out.CHF})
	if err != nil {
		return out, err
	}
	ids := []string{out.CHF}
	for _, b := range behind {
		ids = append(ids, b.ID)
	}
	for _, id := range ids {
		rs, err := g.st.ListRequests(ctx, store.RequestFilter{DeviceID: id, States: []string{StateAccepted}})
		if err != nil {
			return out, err
		}
		for _, r := range rs {
			if r.CompletedAt.After(out.LastContact) {
				out.LastContact = r.CompletedAt
			}
		}
	}
	return out, nil
}

// Portfolio returns the devices of the inventory a user's Registration
// Data names it for (para 241, 250): for a role without such a field, the
// user has no portfolio and nothing is returned.
func (g *Gateway) Portfolio(ctx context.Context, userID string) ([]store.Device, error) {
	u, err := g.st.GetUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	role := g.sp().Role(u.Role)
	if role == nil || role.Registration == nil {
		return nil, nil
	}
	all, err := g.st.Devices(ctx, store.DeviceFilter{})
	if err != nil {
		return nil, err
	}
	now := g.clk.Now()
	var out []store.Device
	for _, d := range all {
		regs, err := g.registrationFor(ctx, d, now)
		if err != nil {
			return nil, err
		}
		for _, rg := range regs {
			if rg.Fuel == role.Registration.Fuel && rg.Named(role.Registration.Field) == u.ID {
				out = append(out, d)
				break
			}
		}
	}
	return out, nil
}

// maintenanceRefusal refuses a request received during a maintenance
// window, naming the window; ok is false outside one.
func (g *Gateway) maintenanceRefusal(rec store.Request, now time.Time) (store.Request, bool) {
	if g.cfg.Maintenance == nil {
		return rec, false
	}
	ref, detail, ok := g.cfg.Maintenance.InWindow(now)
	if !ok {
		return rec, false
	}
	m := g.sp().ServiceManagement.Maintenance
	rec.State, rec.Reason = StateRejected, m.ReasonCode
	if r := g.sp().Reason(m.ReasonCode); r != nil {
		rec.Clause = r.Clause
	}
	rec.Message = fmt.Sprintf("planned maintenance window %s is in force: %s", ref, detail)
	rec.CompletedAt = now
	return rec, true
}

// Notify puts a notification of event on the streams of those of parties
// that are DCC Users (others have no stream and are skipped), e.g. the
// affected parties of a major incident (para 234). It returns the users
// notified.
func (g *Gateway) Notify(ctx context.Context, parties []string, event string, data map[string]any) ([]string, error) {
	body := map[string]any{"event": event, "state": "notification", "message": data["message"]}
	for k, v := range data {
		body[k] = v
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	var ds []store.Delivery
	var users []string
	for _, p := range parties {
		if _, err := g.st.GetUser(ctx, p); errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		users = append(users, p)
		ds = append(ds, store.Delivery{UserID: p, Kind: "notification", Code: event, Payload: payload, CreatedAt: g.clk.Now()})
	}
	if len(ds) == 0 {
		return nil, nil
	}
	if _, err := g.st.AppendDeliveries(ctx, ds); err != nil {
		return nil, err
	}
	g.notifyFor(ds)
	return users, nil
}
