package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dccgate/dccgate/policy"
	"github.com/dccgate/dccgate/spec"
	"github.com/dccgate/dccgate/spec/dcc"
)

// state is one decision in progress.
type state struct {
	e      *Engine
	req    *Request
	f      *Facts
	row    *row // nil for an unknown service
	inner  *row // the scheduled service of a 5.1
	eff    *row // the row whose device and registration rules apply
	errs   []string
	roleB  uint32
	typeB  uint32
	statB  uint32
	devChk bool
}

// unreachable is the DEVICE_STATUS refusal of the row's Command over the
// SMWAN to d, whose status has the bit statB: a status the row does not
// allow, or a hub the DCC cannot reach d through (para 168, 173, 177).
func (r *row) unreachable(d Device, statB uint32) (bool, string) {
	if r.statuses&statB == 0 {
		return true, fmt.Sprintf("status %s does not allow %s over the SMWAN", d.Status, r.p.Key)
	}
	if r.p.DeviceService && !r.p.Commissions && d.Type != "CHF" && d.CHFStatus != "" && d.CHFStatus != "commissioned" {
		return true, fmt.Sprintf("its Communications Hub Function is %s: the DCC cannot reach it over the SMWAN", d.CHFStatus)
	}
	if r.p.DeviceService && !r.p.Commissions && d.Type != "CHF" && d.NoHub {
		return true, "it is on no Communications Hub Function's Device Log: the DCC cannot reach it over the SMWAN"
	}
	return false, ""
}

// logDevices calls fn with each element of the body's fields that list
// devices the request adds to (kind "add") or removes from (kind
// "remove") its hub's Device Log, as the policy iterates them (a list's
// items, an object's values), until fn returns false. A field that is
// neither has none.
func (st *state) logDevices(kind string, fn func(id any) bool) {
	if st.eff == nil {
		return
	}
	for _, name := range st.eff.p.DeviceLog[kind] {
		switch v := st.req.Body[name].(type) {
		case []any:
			for _, x := range v {
				if !fn(x) {
					return
				}
			}
		case []string:
			for _, x := range v {
				if !fn(x) {
					return
				}
			}
		case map[string]any:
			for _, x := range v {
				if !fn(x) {
					return
				}
			}
		}
	}
}

// localRefused is the DEVICE_STATUS refusal of a Command for Local
// Delivery for a user of role to a device of status (whose bit is statB):
// note 406's statuses for the role.
func (e *Engine) localRefused(role, status string, statB uint32) (bool, string) {
	if e.local[role]&statB == 0 {
		return true, fmt.Sprintf("status %s does not allow a Command for Local Delivery for %s (note 406)", status, role)
	}
	return false, ""
}

// addedOutOfService refuses a device added to a hub's Device Log that is
// out of DCC Services (withdrawn or decommissioned, para 175-177): it comes
// back by pre-notification first (12.2, para 177, 182).
func (st *state) addedOutOfService() (refused bool, detail string) {
	st.logDevices("add", func(id any) bool {
		if l, ok := st.listed(id); ok && st.e.stBit[l.Status]&st.e.inService == 0 {
			refused, detail = true, fmt.Sprintf("%v, which the request adds to the Device Log, is %s: it receives no DCC Services (para 175-177)", id, l.Status)
			return false
		}
		return true
	})
	return refused, detail
}

// listed returns the facts of a listed device, if the inventory holds it.
func (st *state) listed(id any) (Listed, bool) {
	s, ok := id.(string)
	if !ok {
		return Listed{}, false
	}
	l, ok := st.f.Listed[s]
	return l, ok
}

// Decide runs the checks in the policy's order and returns the first that
// fails, or acceptance. It never panics on bad input and does no I/O.
func (e *Engine) Decide(_ context.Context, req *Request, f *Facts) Decision {
	st := state{e: e, req: req, f: f}
	st.row = e.rows[spec.Key(req.Service, req.Variant)]
	var body map[string]any
	if st.row != nil {
		st.errs, body = e.validate(req, st.row)
		if st.row.p.CreatesSchedule && req.Schedule != nil {
			st.inner = e.rows[req.Schedule.Service]
		}
	} else {
		st.errs = e.validateEnvelope(req, nil)
	}
	st.eff = st.row
	if st.inner != nil {
		st.eff = st.inner
	}
	st.roleB = e.roleBit[f.User.Role]
	st.typeB = e.typeBit[f.Device.Type]
	st.statB = e.stBit[f.Device.Status]
	st.devChk = st.eff != nil && st.eff.p.Target == "device"
	heldRef, _, _ := strings.Cut(f.HeldBehind, "/")
	held := heldRef != "" && e.inventoryChanging[heldRef]

	for _, c := range e.order {
		if held && c.deferredWhenHeld {
			continue
		}
		if failed, detail := c.fn(&st); failed {
			d := Decision{Outcome: c.outcome, Reason: c.code, Clause: c.clause, Detail: detail, Body: body}
			if st.row != nil {
				d.Service = st.row.svc
				d.Clause = st.row.clauses[c.code]
			}
			return d
		}
	}
	return Decision{Outcome: Accepted, Service: st.row.svc, PreCommand: st.row.p.Critical, Body: body}
}

func (st *state) category() string {
	if st.req.Category == "" {
		return "on_demand"
	}
	return st.req.Category
}

func (st *state) delivery() string {
	if st.req.Delivery == "" {
		return "wan"
	}
	return st.req.Delivery
}

func (st *state) wan() bool   { d := st.delivery(); return d == "wan" || d == "both" }
func (st *state) local() bool { d := st.delivery(); return d == "local" || d == "both" }

// checkFuncs mirror the `fail` rules of policy/rego/gateway.rego, one per
// reason code; the policy says in which order they run. A test checks that
// both agree on every generated case.
var checkFuncs = map[dcc.Reason]func(*state) (bool, string){
	dcc.ReasonMalformed: func(st *state) (bool, string) {
		r := st.row
		switch {
		case r == nil:
			return true, "unknown service " + spec.Key(st.req.Service, st.req.Variant)
		case r.p.Alert:
			return true, r.p.Key + " is an alert service, not a Service Request"
		case len(st.errs) > 0:
			return true, st.errs[0]
		case st.category() == "future_dated" && !st.req.ExecuteAt.After(st.f.Now):
			return true, "a future dated request needs an execution time after now"
		case st.category() == "on_demand" && !st.req.ExecuteAt.IsZero():
			return true, "an execution time is for a future dated request; an on demand request runs now"
		case (r.p.Target == "device" || r.p.Target == "new_device") && st.req.DeviceID == "":
			return true, "the service needs a target device"
		case r.p.CreatesSchedule && st.inner == nil:
			return true, "Create Schedule needs a schedule naming a known service"
		}
		switch st.category() {
		case "on_demand", "future_dated", "scheduled":
		default:
			return true, "unknown category " + st.req.Category
		}
		switch st.delivery() {
		case "wan", "local", "both":
		default:
			return true, "unknown delivery " + st.req.Delivery
		}
		return false, ""
	},
	dcc.ReasonCategoryNotAvailable: func(st *state) (bool, string) {
		r := st.row
		switch c := st.category(); {
		case c == "on_demand" && !r.categories[0], c == "future_dated" && !r.categories[1]:
			return true, fmt.Sprintf("%s is not available for %s", c, r.p.Key)
		case c == "scheduled":
			return true, fmt.Sprintf("%s cannot be sent as scheduled; use Create Schedule", r.p.Key)
		}
		if st.inner != nil && !st.inner.categories[2] {
			return true, fmt.Sprintf("%s is not available as a Scheduled Service (note 404)", st.inner.p.Key)
		}
		if st.local() && !r.p.Local {
			return true, "a Command for Local Delivery is not available for " + r.p.Key
		}
		return false, ""
	},
	dcc.ReasonUnknownUser: func(st *state) (bool, string) {
		return !st.f.User.Known, "the User ID has not completed user entry"
	},
	dcc.ReasonUserSuspended: func(st *state) (bool, string) {
		return st.f.User.Suspended, "the user's rights are suspended"
	},
	dcc.ReasonRoleNotEligible: func(st *state) (bool, string) {
		if st.row.roles&st.roleB == 0 {
			return true, fmt.Sprintf("%s is not an eligible role for %s", st.f.User.Role, st.row.p.Key)
		}
		if st.inner != nil && st.inner.roles&st.roleB == 0 {
			return true, fmt.Sprintf("%s is not an eligible role for the scheduled service %s", st.f.User.Role, st.inner.p.Key)
		}
		return false, ""
	},
	dcc.ReasonDeviceUnknown: func(st *state) (bool, string) {
		if st.devChk && !st.f.Device.Known {
			return true, "the device is not on the Smart Metering Inventory"
		}
		// Para 182-184, 187: a device joins a hub's HAN only once it is on
		// the inventory.
		var unknown any
		st.logDevices("add", func(id any) bool {
			if _, ok := st.listed(id); !ok {
				unknown = id
				return false
			}
			return true
		})
		if unknown != nil {
			return true, fmt.Sprintf("%v, which the request adds to the Device Log, is not on the Smart Metering Inventory", unknown)
		}
		return false, ""
	},
	dcc.ReasonType2NotSupported: func(st *state) (bool, string) {
		// 8.2 by Device ID is aimed at that device too: note 405 leaves no
		// service but its own for a Type 2 Device.
		aimed := st.devChk || (st.eff != nil && st.eff.p.Target == "inventory_query")
		if aimed && st.f.Device.Known && st.typeB&st.e.type2 != 0 && !st.eff.p.Type2 {
			return true, st.eff.p.Key + " is not available for a Type 2 Device"
		}
		return false, ""
	},
	dcc.ReasonDeviceType: func(st *state) (bool, string) {
		if st.devChk && st.f.Device.Known && st.eff.targets&st.typeB == 0 {
			return true, fmt.Sprintf("%s cannot be aimed at a %s", st.eff.p.Key, st.f.Device.Type)
		}
		return false, ""
	},
	dcc.ReasonDeviceStatus: func(st *state) (bool, string) {
		if !st.f.Device.Known {
			return st.moveRefused()
		}
		switch {
		case st.devChk && st.inner != nil:
			// Creating a schedule is the DCC's own activity (para 139): not
			// the scheduled service's Command over the SMWAN, whose runs
			// are checked as they run; the 5.1 row's statuses (para 125).
			if st.row.statuses&st.statB == 0 {
				return true, fmt.Sprintf("status %s does not allow %s", st.f.Device.Status, st.row.p.Key)
			}
		case st.devChk && st.wan():
			if refused, detail := st.eff.unreachable(st.f.Device, st.statB); refused {
				return true, detail
			}
		}
		if st.devChk && st.local() {
			if refused, detail := st.e.localRefused(st.f.User.Role, st.f.Device.Status, st.statB); refused {
				return true, detail
			}
		}
		if refused, detail := st.addedOutOfService(); refused {
			return true, detail
		}
		return st.moveRefused()
	},
	dcc.ReasonChfNotCommissioned: func(st *state) (bool, string) {
		return st.commissioning() && st.f.Device.CHFStatus != "commissioned", "the Communications Hub Function is not commissioned"
	},
	dcc.ReasonMeterNotCommissioned: func(st *state) (bool, string) {
		return st.commissioning() && st.typeB&st.e.meters == 0 && st.f.Device.MeterStatus != "commissioned", "the meter the device is to be associated with is not commissioned"
	},
	dcc.ReasonMpxnHasMeter: func(st *state) (bool, string) {
		return st.commissioning() && st.typeB&st.e.meters != 0 && st.f.Device.MPxNHasMeter, "the MPxN already has a commissioned meter"
	},
	dcc.ReasonNotRegistered: func(st *state) (bool, string) {
		if st.inner != nil {
			return false, "" // creating a schedule (para 139); its runs are checked when they run
		}
		failed, detail := st.e.notRegistered(st.eff.p, st.f.User.Role, st.req.UserID, st.f.Registration, st.f.Device.Unbound)
		if failed && st.registeredForLogged() {
			failed = false
		}
		if !failed {
			return st.foreignListed()
		}
		return failed, detail
	},
	dcc.ReasonCertificateInvalid: func(st *state) (bool, string) {
		return st.f.Credentials.CertificateInvalid, "the certificate is expired, revoked or not the user's"
	},
	dcc.ReasonSignatureInvalid: func(st *state) (bool, string) {
		return st.f.Credentials.SignatureInvalid, "the credentials do not verify"
	},
	dcc.ReasonAnomaly: func(st *state) (bool, string) {
		a := st.f.Anomaly
		if a.Count > a.Max { // Count 0: no threshold applies
			return true, fmt.Sprintf("%d requests in the window, more than the threshold of %d", a.Count, a.Max)
		}
		return false, ""
	},
}

// notRegistered is the Registration Data check (para 134, footnote 13) of
// row p: the user, of role, must be named for the device's MPxN in the
// field its role binds to. Rows not checked against the Registration Data,
// and roles it does not bind, pass; so does a device that relates to no
// MPxN yet (unbound: a hub with no meter, a meter pre-notified without
// one), for which no Registration Data names anyone.
func (e *Engine) notRegistered(p *policy.ServiceRow, role, userID string, regs []Registration, unbound bool) (bool, string) {
	if p.Registration != "check" && p.Registration != "execution_date" {
		return false, ""
	}
	if unbound {
		return false, ""
	}
	bind, ok := e.regs[role]
	if !ok {
		return false, ""
	}
	if names(regs, bind, userID) {
		return false, ""
	}
	return true, "the user is not the registered " + bind.Field + " for the device's MPxN"
}

// registeredForLogged: the request adds to or removes from its hub's
// Device Log at least one device, and every one of them relates to an MPxN
// whose record names the user in the field its role binds to, at the
// premises of one of the hub's MPxNs. At premises of two fuels the hub is
// bound to the MPxN of the meter already on it, and the other fuel's
// supplier adds its own meter (para 184); a request that names any other
// device, or a hub at other premises, needs the hub's MPxNs.
func (st *state) registeredForLogged() bool {
	bind, ok := st.e.regs[st.f.User.Role]
	if !ok {
		return false
	}
	n, all := 0, true
	each := func(id any) bool {
		n++
		l, ok := st.listed(id)
		if !ok || !st.namesHere(l.Registration, bind) {
			all = false
		}
		return all
	}
	st.logDevices("add", each)
	if all {
		st.logDevices("remove", each)
	}
	return all && n > 0
}

// foreignListed: the request adds to or removes from its hub's Device Log
// a device that relates to an MPxN of its own (a meter, a Gas Proxy
// Function, a Type 1 Device associated with a meter) whose records do not
// name the user as its role binds: at a hub two suppliers share, neither
// adds or removes the other's (para 134, footnote 13, para 184). A Type 2
// Device serves the premises, not one meter.
func (st *state) foreignListed() (bool, string) {
	p := st.eff.p
	if p.Registration != "check" && p.Registration != "execution_date" {
		return false, ""
	}
	bind, ok := st.e.regs[st.f.User.Role]
	if !ok {
		return false, ""
	}
	var foreign []string
	each := func(id any) bool {
		l, ok := st.listed(id)
		if ok && len(l.Registration) > 0 && st.e.typeBit[l.Type]&st.e.type2 == 0 && !names(l.Registration, bind, st.req.UserID) {
			foreign = append(foreign, fmt.Sprint(id))
		}
		return true
	}
	st.logDevices("add", each)
	st.logDevices("remove", each)
	if len(foreign) == 0 {
		return false, ""
	}
	slices.Sort(foreign)
	return true, "the user is not the registered " + bind.Field + " for the MPxN of " + foreign[0] + ", which the request adds to or removes from the Device Log"
}

// namesHere reports whether one of a listed device's records names the
// sender as bind says and is at the premises of one of the hub's records.
func (st *state) namesHere(regs []Registration, bind spec.Registration) bool {
	for i := range regs {
		if !names(regs[i:i+1], bind, st.req.UserID) {
			continue
		}
		for j := range st.f.Registration {
			if samePremises(&regs[i], &st.f.Registration[j]) {
				return true
			}
		}
	}
	return false
}

// samePremises: two records are of one premises, by postcode and premises
// number or name, or by UPRN (as 8.2 Read Inventory finds premises).
func samePremises(a, b *Registration) bool {
	return a.Postcode != "" && a.Premises != "" && a.Postcode == b.Postcode && a.Premises == b.Premises ||
		a.UPRN != "" && a.UPRN == b.UPRN
}

// names reports whether one of the records names userID in the field, and
// for the fuel, of bind.
func names(regs []Registration, bind spec.Registration, userID string) bool {
	for i := range regs {
		rec := &regs[i]
		if rec.Fuel != bind.Fuel {
			continue
		}
		var who string
		switch bind.Field {
		case "import_supplier":
			who = rec.ImportSupplier
		case "export_supplier":
			who = rec.ExportSupplier
		case "network_operator":
			who = rec.NetworkOperator
		}
		if who == userID {
			return true
		}
	}
	return false
}

func (st *state) commissioning() bool {
	return st.eff.p.Commissions && st.devChk && st.f.Device.Known
}

// moveRefused checks the status transition a request makes its target
// device take (12.2, 8.1, 8.3, 8.4, 8.5) against the inventory policy.
func (st *state) moveRefused() (bool, string) {
	if st.eff == nil {
		return false, ""
	}
	event, ok := st.e.moveEvent[st.eff.p.Ref]
	if !ok {
		return false, ""
	}
	newDevice := st.eff.p.Target == "new_device"
	if !st.f.Device.Known && !newDevice {
		return false, ""
	}
	from, typ := "none", st.f.Device.Type
	if st.f.Device.Known {
		from = st.f.Device.Status
	}
	if newDevice {
		typ, _ = st.req.Body["type"].(string)
	}
	requested, _ := st.req.Body["status"].(string)
	if _, _, ok := st.e.Move(event, from, typ, st.f.User.Role, requested); ok {
		return false, ""
	}
	return true, fmt.Sprintf("no %s move from %s for a %s by %s", event, from, typ, st.f.User.Role)
}
