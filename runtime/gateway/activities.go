package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/dccgate/dccgate/devices"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
	"github.com/dccgate/dccgate/spec/dcc"
)

// activity runs a Non-Device Service (Table 5.2): the DCC does the work.
func (g *Gateway) activity(ctx context.Context, r store.Request, ref string, body map[string]any) store.Request {
	var data any
	var err error
	switch ref {
	case "5.1":
		data, err = g.createSchedule(ctx, r)
	case "5.2":
		data, err = g.readSchedules(ctx, r)
	case "5.3":
		data, err = g.deleteSchedules(ctx, r, str(body["schedule_id"]))
	case "8.2":
		data, err = g.readInventory(ctx, r, body)
	case "8.3":
		data, err = g.setStatus(ctx, r.DeviceID, "decommission", r.UserID, "")
	case "8.4":
		data, err = g.setStatus(ctx, r.DeviceID, "update", r.UserID, str(body["status"]))
	case "8.6":
		data = map[string]any{"dcc_credentials": "DCC Access Control Broker and WAN Provider certificates", "device_id": r.DeviceID}
	case "8.13":
		data, err = g.returnLocalResponse(ctx, r, body)
	case "12.1":
		data = map[string]any{"postcode": str(body["postcode"]), "wan_available": true, "technology": "long range radio", "coverage": "premises covered"}
	case "12.2":
		data, err = g.preNotify(ctx, r, body)
	default:
		err = fmt.Errorf("no activity for %s", ref)
	}
	if err != nil {
		if out, ok := refused(r, err, ""); ok {
			return out
		}
		return failed(r, "DCC_ERROR", err.Error())
	}
	r.Response, _ = json.Marshal(data)
	r.State = StateAccepted
	return r
}

type statusError struct {
	code   dcc.Reason
	msg    string
	clause string // the engine's for the row, where it gives one; else the code's
}

func (e statusError) Error() string { return string(e.code) + ": " + e.msg }

// refused is r failed with the refusal err holds (a statusError), suffix
// added to its message; false for any other error.
func refused(r store.Request, err error, suffix string) (store.Request, bool) {
	var se statusError
	if !errors.As(err, &se) {
		return r, false
	}
	return failedWith(r, se.code, se.msg+suffix, se.clause), true
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strs(v any) []string {
	switch l := v.(type) {
	case []string:
		return l
	case []any:
		out := make([]string, 0, len(l))
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// preNotify adds a Device with status Pending (12.2, para 182-183), or puts
// a decommissioned or withdrawn one back (H5.28-5.32).
func (g *Gateway) preNotify(ctx context.Context, r store.Request, body map[string]any) (any, error) {
	from := "none"
	if old, err := g.st.GetDevice(ctx, r.DeviceID); err == nil {
		from = old.Status
	}
	to, err := g.move(ctx, "prenotify", from, str(body["type"]), r.UserID, "")
	if err != nil {
		return nil, err
	}
	d := store.Device{ID: r.DeviceID, Type: str(body["type"]), Status: to, MPxN: str(body["mpxn"]), CHF: str(body["chf"]), Meter: str(body["meter"]), UpdatedAt: g.clk.Now()}
	if d.CHF == "" && d.Meter != "" && d.Type != "CHF" {
		// Named with its meter alone, it talks through the meter's hub
		// (para 187: the hub it is associated with "via the meter").
		m, err := g.st.GetDevice(ctx, d.Meter)
		switch {
		case err == nil:
			d.CHF = m.CHF
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	if err := g.st.PutDevice(ctx, d); err != nil {
		return nil, err
	}
	if err := g.refile(ctx, d); err != nil {
		return nil, err
	}
	return map[string]any{"device_id": d.ID, "type": d.Type, "status": d.Status}, nil
}

// setStatus moves a device as the inventory policy says for the event,
// with what the move implies: schedules removed on withdrawal or
// decommissioning (para 125), the network operator told of a meter
// decommissioned or withdrawn (H6.10).
func (g *Gateway) setStatus(ctx context.Context, id, event, sender, requested string) (any, error) {
	d, err := g.st.GetDevice(ctx, id)
	if err != nil {
		return nil, err
	}
	to, err := g.move(ctx, event, d.Status, d.Type, sender, requested)
	if err != nil {
		return nil, err
	}
	if err := g.st.SetDeviceStatus(ctx, id, d.Status, to, g.clk.Now()); err != nil {
		return nil, err
	}
	if to == "withdrawn" || to == "decommissioned" {
		if err := g.removeSchedules(ctx, id, ""); err != nil {
			return nil, err
		}
		if t := g.sp().DeviceType(d.Type); t != nil && t.Class == "meter" {
			g.notifyParties(ctx, d, "network_operator", "H6.10", map[string]any{"event": "meter_" + to, "device_id": d.ID, "mpxn": d.MPxN, "status": to})
		}
	}
	return map[string]any{"device_id": id, "status": to, "previous_status": d.Status}, nil
}

// move asks the inventory policy where an event takes a device; a move it
// does not allow is DEVICE_STATUS (the engine checked the target's move
// already; this guards the devices a request lists and races).
func (g *Gateway) move(ctx context.Context, event, from, deviceType, sender, requested string) (string, error) {
	m, ok := behind[engine.Mover](g.engine())
	if !ok {
		return "", errors.New("the engine does not decide inventory moves")
	}
	role := ""
	if sender != "" {
		u, err := g.st.GetUser(ctx, sender)
		if err != nil {
			return "", err
		}
		role = u.Role
	}
	to, _, ok := m.Move(event, from, deviceType, role, requested)
	if !ok {
		return "", statusError{code: dcc.ReasonDeviceStatus, msg: fmt.Sprintf("no %s move from %s for a %s", event, from, deviceType)}
	}
	return to, nil
}

// behind finds what of the engine implements T (the inventory policy, its
// status checks) through wrappers (tracing, metrics) that have an Unwrap
// method.
func behind[T any](d engine.Decider) (T, bool) {
	for d != nil {
		if t, ok := d.(T); ok {
			return t, true
		}
		u, ok := d.(interface{ Unwrap() engine.Decider })
		if !ok {
			break
		}
		d = u.Unwrap()
	}
	var zero T
	return zero, false
}

// notifyParties puts a notification (a DCC Alert: the DCC's own notice,
// not a Device's) on the stream of the users a device's Registration Data
// names in a field ("network_operator", "import_supplier").
func (g *Gateway) notifyParties(ctx context.Context, d store.Device, field, clause string, data map[string]any) {
	regs, err := g.registrationFor(ctx, d, g.clk.Now())
	if err != nil {
		return
	}
	data["clause"] = clause
	payload, _ := json.Marshal(data)
	seen := map[string]bool{}
	var ds []store.Delivery
	for _, rg := range regs {
		who := rg.Named(field)
		if who == "" || seen[who] {
			continue
		}
		seen[who] = true
		ds = append(ds, store.Delivery{UserID: who, Kind: "notification", Code: str(data["event"]), DeviceID: d.ID, Payload: payload, CreatedAt: g.clk.Now()})
	}
	if len(ds) == 0 {
		return
	}
	if _, err := g.st.AppendDeliveries(ctx, ds); err != nil {
		g.log.Error("notifying", "device", d.ID, "err", err)
		return
	}
	g.notifyFor(ds)
}

// afterCommand applies what a successful Command changes in the inventory.
func (g *Gateway) afterCommand(ctx context.Context, r store.Request, ref string, body map[string]any) error {
	switch ref {
	case "8.1":
		// Para 187 once more, as the inventory records it: the hub, the
		// meter or the MPxN may have changed since the 8.1 was checked
		// (a Command for Local Delivery returned by 8.13, another 8.1 for
		// the same MPxN executed meanwhile).
		if err := g.commissioningRefused(ctx, r); err != nil {
			return err
		}
		if _, err := g.setStatus(ctx, r.DeviceID, "commission", r.UserID, ""); err != nil {
			return err
		}
		// Para 186: the relevant supplier is sent a notification that its
		// device is commissioned, apart from the Service Response, even when
		// it sent the 8.1 itself.
		if d, err := g.st.GetDevice(ctx, r.DeviceID); err == nil {
			g.notifyParties(ctx, d, "import_supplier", "para 186", map[string]any{"event": "device_commissioned", "device_id": d.ID, "mpxn": d.MPxN})
		}
	case "8.11":
		// Para 184, 188-189: the devices added join the hub's Device Log
		// (pending ones become Installed Not Commissioned); those removed
		// leave it (Installed Not Commissioned ones are Pending again, para
		// 183-184; a commissioned one keeps its status, off any HAN until
		// it is added to a log again). The inventory policy says which
		// moves there are (han_join, han_leave).
		svc := g.sp().ServiceByKey(r.Service)
		if svc == nil {
			return nil
		}
		for _, name := range svc.DeviceLogFields("add") {
			for _, id := range strs(body[name]) {
				d, err := g.st.GetDevice(ctx, id)
				if errors.Is(err, store.ErrNotFound) {
					continue // refused at submission (DEVICE_UNKNOWN); gone since
				}
				if err != nil {
					return err
				}
				d.CHF = r.DeviceID
				if to, err := g.move(ctx, "han_join", d.Status, d.Type, r.UserID, ""); err == nil {
					d.Status = to
				}
				d.UpdatedAt = g.clk.Now()
				if err := g.st.PutDevice(ctx, d); err != nil {
					return err
				}
			}
		}
		for _, name := range svc.DeviceLogFields("remove") {
			for _, id := range strs(body[name]) {
				d, err := g.st.GetDevice(ctx, id)
				if err != nil || d.CHF != r.DeviceID {
					continue
				}
				d.CHF = ""
				if to, err := g.move(ctx, "han_leave", d.Status, d.Type, r.UserID, ""); err == nil {
					d.Status = to
				}
				d.UpdatedAt = g.clk.Now()
				if err := g.st.PutDevice(ctx, d); err != nil {
					return err
				}
			}
		}
	case "8.12":
		return g.restoreDeviceLog(ctx, str(body["from_chf"]), r.DeviceID)
	case "8.5":
		_, err := g.setStatus(ctx, r.DeviceID, "withdraw", r.UserID, "")
		return err
	case "3.2":
		// Change of tenancy: schedules of Other Users on the MPxN's devices
		// are removed, as the customer's permission can no longer be assumed
		// (para 125).
		d, err := g.st.GetDevice(ctx, r.DeviceID)
		if err != nil {
			return err
		}
		return g.removeOtherUsersSchedules(ctx, d)
	}
	return nil
}

// DeviceLog is a CHF's Device Log as the gateway keeps it (para 188-189):
// the devices on its HAN with the credential each needs to re-join. The
// Gas Proxy Function's data is not kept (para 191); it is part of the hub.
func (g *Gateway) DeviceLog(ctx context.Context, chf string) ([]map[string]any, error) {
	ds, err := g.st.Devices(ctx, store.DeviceFilter{CHF: chf})
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, d := range ds {
		if d.Type == "GPF" {
			continue
		}
		out = append(out, map[string]any{"device_id": d.ID, "type": d.Type, "credential": hanCredential(d.ID)})
	}
	return out, nil
}

// hanCredential is the stand-in for the credential a device needs to
// re-join a HAN: stable per device.
func hanCredential(id string) string {
	h := fnv32(id)
	return fmt.Sprintf("HAN-%08X", h)
}

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// restoreDeviceLog copies a failed hub's Device Log to its replacement
// (8.12, para 190): the devices re-join the new hub's HAN. The new hub's own
// Gas Proxy Function stays; the old one's data is not carried (para 191).
func (g *Gateway) restoreDeviceLog(ctx context.Context, from, to string) error {
	ds, err := g.st.Devices(ctx, store.DeviceFilter{CHF: from})
	if err != nil {
		return err
	}
	for _, d := range ds {
		if d.Type == "GPF" {
			continue
		}
		d.CHF, d.UpdatedAt = to, g.clk.Now()
		if err := g.st.PutDevice(ctx, d); err != nil {
			return err
		}
		if err := g.refile(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

func (g *Gateway) removeOtherUsersSchedules(ctx context.Context, d store.Device) error {
	ids := []string{d.ID}
	// The MPxN the Change of Tenancy is for: the meter's own, or for the
	// Gas Proxy Function (3.2 may be aimed at it) the gas meter's on its
	// hub, as the Registration Data check reads it.
	mpxns, err := g.mpxnsOf(ctx, d)
	if err != nil {
		return err
	}
	for _, mpxn := range mpxns {
		same, err := g.st.Devices(ctx, store.DeviceFilter{MPxN: mpxn})
		if err != nil {
			return err
		}
		for _, s := range same {
			if s.ID != d.ID { // d's own are listed already
				ids = append(ids, s.ID)
			}
		}
	}
	for _, id := range ids {
		scheds, err := g.st.ListSchedules(ctx, store.ScheduleFilter{DeviceID: id})
		if err != nil {
			return err
		}
		for _, s := range scheds {
			u, err := g.st.GetUser(ctx, s.UserID)
			if err == nil && g.sp().Role(u.Role) != nil && g.sp().Role(u.Role).Kind == "other" {
				if err := g.st.DeleteSchedule(ctx, s.ID); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// returnLocalResponse (8.13) applies the inventory effect of a Command
// executed locally (para 194).
func (g *Gateway) returnLocalResponse(ctx context.Context, r store.Request, body map[string]any) (any, error) {
	orig, err := g.st.GetRequest(ctx, str(body["original_request_id"]))
	if err != nil {
		return nil, statusError{code: dcc.ReasonMalformed, msg: "unknown original request"}
	}
	switch {
	case orig.UserID != r.UserID:
		return nil, statusError{code: dcc.ReasonMalformed, msg: "the original request is not the user's"}
	case orig.DeviceID != r.DeviceID:
		// The response is the device's own: it updates the inventory record
		// of the device its Command went to, the one this request names.
		return nil, statusError{code: dcc.ReasonMalformed, msg: fmt.Sprintf("the original request's Command was for device %s, not %s", orig.DeviceID, r.DeviceID)}
	case orig.Delivery != "local" && orig.Delivery != "both":
		return nil, statusError{code: dcc.ReasonMalformed, msg: "the original request was not a Command for Local Delivery"}
	case orig.State != StateAccepted:
		// Only a Command the DCC issued has a response to return (para
		// 193-194): a request refused (para 135), never signed (para 155)
		// or not yet due produced none, and its effect on the inventory
		// must not come in through 8.13.
		return nil, statusError{code: dcc.ReasonMalformed, msg: fmt.Sprintf("the original request is %s: no Command for Local Delivery was issued, so there is no response to return", orig.State)}
	}
	var ob map[string]any
	_ = json.Unmarshal(orig.Body, &ob)
	svc := g.sp().ServiceByKey(orig.Service)
	if svc != nil {
		if err := g.afterCommand(ctx, orig, svc.Ref, ob); err != nil {
			return nil, err
		}
	}
	return map[string]any{"original_request_id": orig.ID, "applied": orig.Service}, nil
}

// createSchedule (5.1) stores the schedule of a note 404 service.
func (g *Gateway) createSchedule(ctx context.Context, r store.Request) (any, error) {
	var sp ScheduleSpec
	if err := json.Unmarshal(r.Schedule, &sp); err != nil {
		return nil, statusError{code: dcc.ReasonMalformed, msg: "no schedule"}
	}
	every, err := time.ParseDuration(sp.Every)
	if err != nil || every <= 0 {
		return nil, statusError{code: dcc.ReasonMalformed, msg: "the schedule's period must be positive"}
	}
	if min := g.scheduleMinPeriod(); every < min {
		return nil, statusError{code: dcc.ReasonMalformed, msg: fmt.Sprintf("the schedule's period %s is shorter than the shortest the DCC keeps, %s", every, min)}
	}
	first := sp.First
	if first.IsZero() || first.Before(g.clk.Now()) {
		first = g.clk.Now().Add(every)
	}
	body, _ := json.Marshal(sp.Body)
	if sp.Body == nil {
		body = g.exampleBody(sp.Service)
	}
	s := store.Schedule{ID: "SCH-" + r.ID, UserID: r.UserID, DeviceID: r.DeviceID, Service: sp.Service, Every: every, Next: first, First: first, Body: body, CreatedBy: r.ID}
	if err := g.st.PutSchedule(ctx, s); err != nil {
		return nil, err
	}
	return map[string]any{"schedule_id": s.ID, "service": s.Service, "every": every.String(), "first": first.Format(time.RFC3339)}, nil
}

// exampleBody is the scheduled service's body of the spec's example values,
// used where the 5.1 request gave none.
func (g *Gateway) exampleBody(key string) []byte {
	svc := g.sp().ServiceByKey(key)
	b := map[string]any{}
	if svc != nil {
		for _, f := range svc.Fields {
			b[f.Name] = f.Example
		}
	}
	out, _ := json.Marshal(b)
	return out
}

func (g *Gateway) readSchedules(ctx context.Context, r store.Request) (any, error) {
	scheds, err := g.st.ListSchedules(ctx, store.ScheduleFilter{UserID: r.UserID, DeviceID: r.DeviceID})
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, s := range scheds {
		// body: what the next run sends (its times moved, runBody).
		var body any
		_ = json.Unmarshal(g.runBody(s), &body)
		out = append(out, map[string]any{"schedule_id": s.ID, "service": s.Service, "every": s.Every.String(), "next": s.Next.Format(time.RFC3339), "body": body})
	}
	return map[string]any{"schedules": out}, nil
}

func (g *Gateway) deleteSchedules(ctx context.Context, r store.Request, id string) (any, error) {
	scheds, err := g.st.ListSchedules(ctx, store.ScheduleFilter{UserID: r.UserID, DeviceID: r.DeviceID})
	if err != nil {
		return nil, err
	}
	n := 0
	for _, s := range scheds {
		if id == "" || s.ID == id {
			if err := g.st.DeleteSchedule(ctx, s.ID); err != nil {
				return nil, err
			}
			n++
		}
	}
	if id != "" && n == 0 {
		return nil, statusError{code: dcc.ReasonMalformed, msg: "no schedule " + id + " of the user on the device"}
	}
	return map[string]any{"deleted": n}, nil
}

// removeSchedules deletes schedules: a device's (of one user, or all), or
// with no device, every schedule of a user.
func (g *Gateway) removeSchedules(ctx context.Context, deviceID, userID string) error {
	scheds, err := g.st.ListSchedules(ctx, store.ScheduleFilter{DeviceID: deviceID, UserID: userID})
	if err != nil {
		return err
	}
	for _, s := range scheds {
		if err := g.st.DeleteSchedule(ctx, s.ID); err != nil {
			return err
		}
	}
	return nil
}

// SuspendUser suspends a user's rights (Section M8) and removes its
// schedules (para 125).
func (g *Gateway) SuspendUser(ctx context.Context, id string) error {
	u, err := g.st.GetUser(ctx, id)
	if err != nil {
		return err
	}
	u.Suspended = true
	if err := g.putUser(ctx, u); err != nil {
		return err
	}
	return g.removeSchedules(ctx, "", id)
}

// ReinstateUser gives a suspended user its rights back (Section M8). Its
// schedules were removed on suspension (para 125) and stay so.
func (g *Gateway) ReinstateUser(ctx context.Context, id string) error {
	u, err := g.st.GetUser(ctx, id)
	if err != nil {
		return err
	}
	u.Suspended = false
	return g.putUser(ctx, u)
}

// readInventory (8.2) returns inventory entries by Device ID (with the
// association closure (I)-(IV)), by MPxN, by postcode and premises or by
// UPRN. Type 2 Devices need not be returned and are not.
func (g *Gateway) readInventory(ctx context.Context, r store.Request, body map[string]any) (any, error) {
	var seeds []store.Device
	addMeters := func(mpxns []string) error {
		for _, m := range mpxns {
			ds, err := g.st.Devices(ctx, store.DeviceFilter{MPxN: m})
			if err != nil {
				return err
			}
			seeds = append(seeds, ds...)
		}
		return nil
	}
	now := g.clk.Now()
	switch {
	case r.DeviceID != "":
		d, err := g.st.GetDevice(ctx, r.DeviceID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, statusError{code: dcc.ReasonDeviceUnknown, msg: "the device is not on the Smart Metering Inventory"}
		}
		if err != nil {
			return nil, err
		}
		seeds = append(seeds, d)
	case str(body["mpxn"]) != "":
		if err := addMeters([]string{str(body["mpxn"])}); err != nil {
			return nil, err
		}
	case str(body["postcode"]) != "" || str(body["uprn"]) != "":
		regs, err := g.st.RegistrationsAt(ctx, str(body["postcode"]), str(body["premises"]), str(body["uprn"]), now)
		if err != nil {
			return nil, err
		}
		var ms []string
		for _, rg := range regs {
			ms = append(ms, rg.MPxN)
		}
		if err := addMeters(ms); err != nil {
			return nil, err
		}
	default:
		return nil, statusError{code: dcc.ReasonMalformed, msg: "give a Device ID, an MPxN, a postcode and premises, or a UPRN"}
	}
	all, err := g.closure(ctx, seeds)
	if err != nil {
		return nil, err
	}
	user, err := g.st.GetUser(ctx, r.UserID)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, d := range all {
		if t := g.sp().DeviceType(d.Type); t != nil && t.Class == "type2" {
			continue
		}
		if ok, err := g.maySee(ctx, user, d); err != nil {
			return nil, err
		} else if !ok {
			continue
		}
		out = append(out, map[string]any{"device_id": d.ID, "type": d.Type, "status": d.Status, "mpxn": d.MPxN, "chf": d.CHF, "meter": d.Meter})
	}
	return map[string]any{"devices": out}, nil
}

// maySee reports whether a user may see a device's inventory entry: users
// whose role Registration Data names (suppliers, network operators) see
// the devices of the MPxNs that name them, a hub at premises one of them
// names them for, and devices related to no MPxN yet; agents and other
// users, named by none, see by role alone (as the Registration Data check
// treats them).
func (g *Gateway) maySee(ctx context.Context, u store.User, d store.Device) (bool, error) {
	role := g.sp().Role(u.Role)
	if role == nil || role.Registration == nil {
		return true, nil
	}
	regs, err := g.registrationFor(ctx, d, g.clk.Now())
	if err != nil {
		return false, err
	}
	if len(regs) == 0 {
		// A Communications Hub delivered and not yet installed is related
		// to no MPxN yet, but it is the hub of the Supplier it was
		// delivered to: no other Supplier sees it (para 250).
		if owner, ok, err := g.hubNotInstalled(ctx, d); err != nil || ok {
			return ok && owner == u.ID, err
		}
		return true, nil
	}
	names := func(regs []store.Registration) bool {
		for _, rg := range regs {
			if rg.Fuel == role.Registration.Fuel && rg.Named(role.Registration.Field) == u.ID {
				return true
			}
		}
		return false
	}
	if names(regs) {
		return true, nil
	}
	if t := g.sp().DeviceType(d.Type); t != nil && t.Class == "hub" && t.Fuel == "" {
		// A hub serves the premises (the Gas Proxy Function, of one fuel,
		// the gas side): the other fuel's supplier there adds its meter to
		// it (para 184, 197), so sees it before it has.
		for _, rg := range regs {
			if rg.Postcode == "" && rg.UPRN == "" {
				continue
			}
			here, err := g.st.RegistrationsAt(ctx, rg.Postcode, rg.Premises, rg.UPRN, g.clk.Now())
			if err != nil {
				return false, err
			}
			if names(here) {
				return true, nil
			}
		}
	}
	return false, nil
}

// hubNotInstalled reports whether d is a Communications Hub Function whose
// hub the store's hub records hold as delivered and not installed, and the
// Supplier it was delivered to. A store without hub records holds none.
func (g *Gateway) hubNotInstalled(ctx context.Context, d store.Device) (supplier string, ok bool, err error) {
	if d.Type != "CHF" {
		return "", false, nil
	}
	hs, has := store.As[store.Hubs](g.st)
	if !has {
		return "", false, nil
	}
	h, err := hs.GetHub(ctx, d.ID)
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return h.Supplier, h.InstalledAt.IsZero() && h.RemovedAt.IsZero(), nil
}

// closure adds every device associated with the seeds, and those associated
// with them, until nothing changes: (I) to (IV) of 8.2.
func (g *Gateway) closure(ctx context.Context, seeds []store.Device) ([]store.Device, error) {
	seen := map[string]store.Device{}
	queue := append([]store.Device{}, seeds...)
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if _, ok := seen[d.ID]; ok {
			continue
		}
		seen[d.ID] = d
		var next []store.Device
		for _, id := range []string{d.CHF, d.Meter} {
			if id == "" {
				continue
			}
			if x, err := g.st.GetDevice(ctx, id); err == nil {
				next = append(next, x)
			}
		}
		for _, f := range []store.DeviceFilter{{CHF: d.ID}, {Meter: d.ID}} {
			xs, err := g.st.Devices(ctx, f)
			if err != nil {
				return nil, err
			}
			next = append(next, xs...)
		}
		queue = append(queue, next...)
	}
	out := make([]store.Device, 0, len(seen))
	for _, d := range seen {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// onWANConnected: a CHF that joins the SMWAN is commissioned (para 185).
func (g *Gateway) onWANConnected(chf string) {
	ctx := context.Background()
	d, err := g.st.GetDevice(ctx, chf)
	if err != nil {
		return
	}
	to, err := g.move(ctx, "wan_connected", d.Status, d.Type, "", "")
	if err != nil {
		return // already commissioned, or a status the policy does not move
	}
	if err := g.st.SetDeviceStatus(ctx, chf, d.Status, to, g.clk.Now()); err != nil {
		g.log.Error("commissioning a hub", "device", chf, "err", err)
	}
}

// Enrolled says whether an MPxN's Smart Metering System is Enrolled: the
// devices the spec requires for its fuel are all commissioned (para
// 173-174).
func (g *Gateway) Enrolled(ctx context.Context, mpxn string) (bool, error) {
	meters, err := g.st.Devices(ctx, store.DeviceFilter{MPxN: mpxn})
	if err != nil {
		return false, err
	}
	for _, m := range meters {
		t := g.sp().DeviceType(m.Type)
		if t == nil || t.Class != "meter" || m.Status != "commissioned" {
			continue
		}
		req, ok := g.sp().Enrolment[t.Fuel]
		if !ok {
			continue
		}
		all := true
		for _, need := range req.Requires {
			if need == m.Type {
				continue
			}
			if !g.hasCommissioned(ctx, m, need) {
				all = false
			}
		}
		if all {
			return true, nil
		}
	}
	return false, nil
}

// partOfSystem reports whether a device can be part of an enrolled Smart
// Metering System now (para 138, 173-177): in DCC Services, and
// commissioned if its kind is commissioned at all (the inventory policy's
// commission moves: meters, hubs, Type 1 devices; Type 2 devices never
// are).
func (g *Gateway) partOfSystem(d store.Device) bool {
	if !g.inService(d.Status) {
		return false
	}
	if d.Status == "commissioned" {
		return true
	}
	m, ok := behind[engine.Mover](g.engine())
	if !ok {
		return true
	}
	_, _, commissionable := m.Move("commission", "pending", d.Type, "", "")
	return !commissionable
}

// hasCommissioned reports whether the meter's system has a commissioned
// device of the type: its hub, or a device on its hub.
func (g *Gateway) hasCommissioned(ctx context.Context, meter store.Device, typ string) bool {
	if meter.CHF == "" {
		return false
	}
	if typ == "CHF" {
		hub, err := g.st.GetDevice(ctx, meter.CHF)
		return err == nil && hub.Status == "commissioned"
	}
	ds, err := g.st.Devices(ctx, store.DeviceFilter{CHF: meter.CHF, Type: typ})
	if err != nil {
		return false
	}
	for _, d := range ds {
		if d.Status == "commissioned" && (d.Meter == "" || d.Meter == meter.ID || !g.meterOnHub(ctx, d.Meter, meter.CHF)) {
			return true
		}
	}
	return false
}

// meterOnHub reports whether the meter id is in service (neither
// decommissioned nor withdrawn) on the hub chf. A Gas Proxy associated
// with a meter since replaced (para 176) serves the meter that replaced
// it: the proxy is part of the hub (footnote 17), not of the meter.
func (g *Gateway) meterOnHub(ctx context.Context, id, chf string) bool {
	m, err := g.st.GetDevice(ctx, id)
	return err == nil && m.CHF == chf && g.inService(m.Status)
}

// inService reports whether a device of the status still receives DCC
// Services (the spec's in_service; para 175-177: not withdrawn or
// decommissioned).
func (g *Gateway) inService(status string) bool {
	st := g.sp().Status(status)
	return st != nil && st.InService
}

// onAlert delivers a device's alert to the users the alert services list
// (A1 Device Alerts, A2 DCC Alerts) who are named for the device's MPxNs,
// for enrolled systems only (para 138), due within the alert target.
func (g *Gateway) onAlert(a devices.Alert) {
	ctx := context.Background()
	d, err := g.st.GetDevice(ctx, a.Device)
	if err != nil {
		return
	}
	svcRef := "A1"
	name := a.Code
	for _, al := range g.sp().Alerts {
		if al.Code == a.Code {
			svcRef, name = al.Service, al.Name
		}
	}
	svc := g.sp().ServiceByKey(svcRef)
	if svc == nil {
		return
	}
	if !g.partOfSystem(d) {
		// Para 138: the DCC receives Device Alerts only from enrolled
		// Smart Metering Systems. A device of a kind that is commissioned
		// is part of one only once commissioned; one decommissioned or
		// withdrawn is part of none (para 175-177), whatever the MPxN's
		// other devices are (a meter exchanged on an enrolled MPxN).
		return
	}
	regs, err := g.registrationFor(ctx, d, a.At)
	if err != nil {
		return
	}
	recipients := map[string]bool{}
	enrolled := false
	// A meter directs its alerts to the supplier whose credential it
	// holds (para 140): until a Change of Supplier replaces it, the losing
	// supplier's, whom the Registration Data may no longer name.
	holder := ""
	if fuelOf(d.Type) != "" {
		holder, _ = g.em().fleet.Credential(d.ID, devices.CredSupplier)
	}
	for _, rg := range regs {
		if ok, _ := g.Enrolled(ctx, rg.MPxN); !ok {
			continue
		}
		enrolled = true
		for _, role := range svc.Roles {
			bind := g.sp().Role(role)
			if bind == nil || bind.Registration == nil || bind.Registration.Fuel != rg.Fuel {
				continue
			}
			who := rg.Named(bind.Registration.Field)
			if holder != "" && bind.Registration.Field == "import_supplier" && rg.Fuel == fuelOf(d.Type) {
				who = holder
			}
			if who == "" {
				continue
			}
			if u, err := g.user(ctx, who); err == nil && u.Role == role {
				recipients[who] = true
			}
		}
	}
	// An alert about a Command the device refused goes to the holder of the
	// credential it was checked against (para 140-141), whom Registration
	// Data may not name: from an enrolled system, as every alert (para 138).
	if holder, ok := a.Data["credential_holder"].(string); ok && holder != "" && enrolled {
		if _, err := g.user(ctx, holder); err == nil {
			recipients[holder] = true
		}
	}
	if len(recipients) == 0 {
		return
	}
	payload, _ := json.Marshal(map[string]any{"service": svcRef, "code": a.Code, "name": name, "device_id": a.Device, "raised_at": a.At.Format(time.RFC3339Nano), "data": a.Data})
	var ds []store.Delivery
	ids := make([]string, 0, len(recipients))
	for u := range recipients {
		ids = append(ids, u)
	}
	sort.Strings(ids)
	if g.alertAnomalous(ctx, a.Device, a.Code, a.At, ids, payload) {
		return
	}
	for _, u := range ids {
		ds = append(ds, store.Delivery{UserID: u, Kind: "alert", Code: a.Code, DeviceID: a.Device, Payload: payload, CreatedAt: g.clk.Now(), DueAt: a.At.Add(g.sp().AlertTarget.Std())})
	}
	// A store failing for a while (a connection lost) is tried again, for
	// as long as the alert's target leaves (wall time), not dropped.
	var outage storeOutage
	until := g.wall.Now().Add(g.sp().AlertTarget.Std())
	for {
		_, err := g.st.AppendDeliveries(ctx, ds)
		if err == nil {
			break
		}
		if !store.Transient(err) || !g.wall.Now().Before(until) || !outage.wait(ctx, g, "an alert "+a.Code, a.Device, err) {
			g.log.Error("delivering an alert", "code", a.Code, "device", a.Device, "tries", outage.tries+1, "err", err)
			return
		}
	}
	g.notifyFor(ds)
	for range ds {
		g.observer().AlertDelivered(a.Code, g.clk.Now().Sub(a.At))
	}
}

// DeviceEvent makes an emulated device act. Two kinds act on the SMWAN
// rather than the device: smwan_down (the hub stops answering) and
// smwan_up.
func (g *Gateway) DeviceEvent(ctx context.Context, device, kind string) error {
	release, err := g.materialise(ctx, device)
	if err != nil {
		return err
	}
	defer release()
	switch kind {
	case "smwan_down":
		g.em().wan.KillHub(device)
		return nil
	case "smwan_up":
		g.em().wan.ReviveHub(device)
		return nil
	}
	return g.em().fleet.Event(device, kind)
}

// scheduleMinPeriod is the shortest period of a schedule (the scheduled
// category's min_period in the spec; none if it names none).
func (g *Gateway) scheduleMinPeriod() time.Duration {
	if c := g.scheduled(); c != nil && c.MinPeriod != nil {
		return c.MinPeriod.Std()
	}
	return 0
}

// scheduled is the spec's scheduled category, nil if it has none.
func (g *Gateway) scheduled() *spec.Category {
	for _, c := range g.sp().Categories {
		if c.Code == "scheduled" {
			return c
		}
	}
	return nil
}

// runBody is the body of the schedule's run at s.Next: where the spec's
// scheduled category moves_times, its timestamp fields are the schedule's
// moved by the run's distance from the first run (4.8's period a day
// later each day), each keeping its zone. A body that does not decode,
// and a field that is no RFC 3339 time, are run as they are: the run's
// checks refuse what they refuse.
func (g *Gateway) runBody(s store.Schedule) []byte {
	d := s.Next.Sub(s.First)
	c := g.scheduled()
	svc := g.sp().ServiceByKey(s.Service)
	if s.First.IsZero() || d <= 0 || c == nil || !c.MovesTimes || svc == nil {
		return s.Body
	}
	var b map[string]any
	if err := json.Unmarshal(s.Body, &b); err != nil {
		return s.Body
	}
	moved := false
	for _, f := range svc.Fields {
		v, ok := b[f.Name].(string)
		if f.Type != "timestamp" || !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			continue
		}
		b[f.Name], moved = t.Add(d).Format(time.RFC3339Nano), true
	}
	if !moved {
		return s.Body
	}
	out, err := json.Marshal(b)
	if err != nil {
		return s.Body
	}
	return out
}
