// Package engine decides one Service Request: request + facts -> Decision.
// It is pure (no I/O, no clock: the time comes in the facts) and fast: the
// policy's tables are indexed once by New, and Decide does lookups and a few
// compiled CEL programs, in the order the policy gives its checks.
package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/dccgate/dccgate/policy"
	"github.com/dccgate/dccgate/spec"
	"github.com/dccgate/dccgate/spec/dcc"
)

// Request is a Service Request as the engine sees it.
type Request struct {
	Service   string // reference, e.g. "4.1"
	Variant   string // where rows share a reference: "credit", "type2"
	Category  string // on_demand (default), future_dated, scheduled
	Delivery  string // wan (default), local, both
	RequestID string
	UserID    string
	DeviceID  string
	ExecuteAt time.Time // future dated
	Schedule  *Schedule // 5.1 Create Schedule
	Body      map[string]any
	// After is the request this one is sequenced after (para 126-127); the
	// runtime holds it, the engine does not look at it.
	After string
}

// Schedule is what a 5.1 Create Schedule asks for.
type Schedule struct {
	Service string // a note 404 reference
	Every   time.Duration
	First   time.Time
	Body    map[string]any
}

// Facts are what the runtime knows when the request arrives: a snapshot, so
// the decision is a function of its arguments.
type Facts struct {
	Now          time.Time
	User         User
	Device       Device
	Registration []Registration // the records of the device's MPxNs, effective on the execution date
	// Listed are the devices the request adds to or removes from its hub's
	// Device Log (8.11) that the inventory holds, by Device ID; one it
	// does not hold is absent.
	Listed      map[string]Listed
	Credentials Credentials
	Anomaly     Anomaly
	// HeldBehind is the row key of the unfinished request this one is
	// sequenced after (para 126-127), "" if none: behind one that changes
	// the inventory, the device's state is checked when it is released.
	HeldBehind string
}

// Listed is a device a request names besides its target, as the Smart
// Metering Inventory knows it.
type Listed struct {
	Type   string
	Status string
	// Registration: the records of its own MPxN (a meter's, or the meter's
	// it is associated with), effective on the execution date.
	Registration []Registration
}

// User is the sender as the gateway knows it.
type User struct {
	Known     bool
	Role      string
	Suspended bool
}

// Device is the target device as the Smart Metering Inventory knows it.
type Device struct {
	Known        bool
	Type         string
	Status       string
	CHFStatus    string // status of its Communications Hub Function
	MeterStatus  string // status of the meter a non-meter device is associated with
	MPxNHasMeter bool   // its MPxN already has another commissioned meter
	// Unbound: the device relates to no MPxN (a hub with no meter yet, a
	// meter pre-notified without one), so no Registration Data names
	// anyone for it, and its check binds no one.
	Unbound bool
	// NoHub: a device other than a hub that is on no Communications Hub
	// Function's Device Log (a meter removed from its hub's by 8.11), so
	// on no HAN the DCC reaches over the SMWAN.
	NoHub bool
}

// Registration is one MPxN's Registration Data.
type Registration struct {
	MPxN            string
	Fuel            string
	ImportSupplier  string
	ExportSupplier  string
	NetworkOperator string
	// The premises the MPxN is at: a postcode with a premises number or
	// name, or a UPRN.
	Postcode, Premises, UPRN string
}

// Credentials says how the request's credentials verified.
type Credentials struct {
	CertificateInvalid bool
	SignatureInvalid   bool
}

// Anomaly is the volume count of para 135: Count requests (this one
// included) in the window of the threshold that applies, against its Max;
// Count 0 when none applies. A Max of 0 is a threshold: it quarantines
// every such request.
type Anomaly struct {
	Count int
	Max   int
}

// Outcomes of a decision.
const (
	Accepted    = "accepted"
	Rejected    = "rejected"
	Quarantined = "quarantined"
)

// Decision is the engine's answer.
type Decision struct {
	Outcome string
	Reason  dcc.Reason
	Clause  string
	Detail  string
	// Service is the row decided on (nil for an unknown service).
	Service *spec.Service
	// PreCommand is set for an accepted critical request: the user must
	// sign a Pre-Command before a Command is sent (para 155).
	PreCommand bool
	// Body is the request body with values in their field types.
	Body map[string]any
}

// Decider is what the runtime needs of an engine.
type Decider interface {
	Decide(ctx context.Context, req *Request, facts *Facts) Decision
}

var _ Decider = (*Engine)(nil)

// Engine decides requests over one compiled policy. It is immutable and safe
// for concurrent use.
type Engine struct {
	pol     *policy.Policy
	spec    *spec.Spec
	rows    map[string]*row
	roleBit map[string]uint32
	stBit   map[string]uint32
	typeBit map[string]uint32
	type2   uint32 // device types of class type2
	// inService: the statuses of a device in DCC Services (spec statuses'
	// in_service), the only ones a device may join a HAN from (8.11).
	inService uint32
	meters    uint32 // device types of class meter
	local     map[string]uint32
	regs      map[string]spec.Registration
	order     []check
	// moves indexes the inventory policy's transitions by event, from,
	// device class and role kind; moveEvent is the event of each service
	// whose target a transition moves.
	moves     map[moveKey][]policy.Move
	moveEvent map[string]string
	classOf   map[string]string
	kindOf    map[string]string
	// inventoryChanging are the services whose requests change the
	// inventory (by reference); a request held behind one is put to the
	// checks of the policy's deferred_when_held when released, not now.
	inventoryChanging map[string]bool
}

type moveKey struct{ event, from, class, kind string }

type row struct {
	svc        *spec.Service
	p          *policy.ServiceRow
	roles      uint32
	targets    uint32
	statuses   uint32
	categories [3]bool // on_demand, future_dated, scheduled
	fields     []policy.FieldRule
	fieldIndex map[string]int
	checks     []policy.BodyCheck
	clauses    map[dcc.Reason]string
}

type check struct {
	code    dcc.Reason
	clause  string
	outcome string
	fn      func(*state) (bool, string)
	// deferredWhenHeld: not made while the request is held behind one that
	// changes the inventory (Facts.HeldBehind).
	deferredWhenHeld bool
}

// New compiles the policy over the spec and indexes its tables.
func New(ctx context.Context, s *spec.Spec, opts ...policy.Option) (*Engine, error) {
	p, err := policy.Compile(ctx, s, opts...)
	if err != nil {
		return nil, err
	}
	return FromPolicy(p)
}

// FromPolicy indexes an already compiled policy.
func FromPolicy(p *policy.Policy) (*Engine, error) {
	s := p.Spec()
	t := p.Tables()
	e := &Engine{
		pol: p, spec: s,
		rows:    map[string]*row{},
		roleBit: map[string]uint32{},
		stBit:   map[string]uint32{},
		typeBit: map[string]uint32{},
		local:   map[string]uint32{},
		regs:    t.Registration,
	}
	if len(s.Roles) > 32 || len(s.Statuses) > 32 || len(s.DeviceTypes) > 32 {
		return nil, fmt.Errorf("engine: more than 32 roles, statuses or device types")
	}
	for i, r := range s.Roles {
		e.roleBit[r.Code] = 1 << i
	}
	for i, st := range s.Statuses {
		e.stBit[st.Code] = 1 << i
		if st.InService {
			e.inService |= 1 << i
		}
	}
	for i, d := range s.DeviceTypes {
		e.typeBit[d.Code] = 1 << i
		switch d.Class {
		case "type2":
			e.type2 |= 1 << i
		case "meter":
			e.meters |= 1 << i
		}
	}
	e.moves = map[moveKey][]policy.Move{}
	for _, m := range t.Moves {
		k := moveKey{m.Event, m.From, m.Class, m.RoleKind}
		e.moves[k] = append(e.moves[k], m)
	}
	e.moveEvent = t.MoveEvents
	e.classOf, e.kindOf = map[string]string{}, map[string]string{}
	for _, d := range s.DeviceTypes {
		e.classOf[d.Code] = d.Class
	}
	for _, r := range s.Roles {
		e.kindOf[r.Code] = r.Kind
	}
	for role, sts := range t.LocalStatuses {
		e.local[role] = e.mask(e.stBit, sts)
	}
	checkClause := map[string]policy.Check{}
	for _, c := range t.Checks {
		checkClause[c.Code] = c
	}
	for key, pr := range t.Services {
		svc := s.ServiceByKey(key)
		if svc == nil {
			return nil, fmt.Errorf("engine: policy table has row %s the spec lacks", key)
		}
		r := &row{
			svc: svc, p: pr,
			roles:      e.mask(e.roleBit, pr.Roles),
			targets:    e.mask(e.typeBit, pr.Targets),
			statuses:   e.mask(e.stBit, pr.Statuses),
			categories: [3]bool{pr.Categories["on_demand"], pr.Categories["future_dated"], pr.Categories["scheduled"]},
			fields:     p.Rules().Fields[key],
			fieldIndex: map[string]int{},
			checks:     p.Rules().Checks[key],
			clauses:    map[dcc.Reason]string{},
		}
		for i, f := range r.fields {
			r.fieldIndex[f.Field.Name] = i
		}
		for _, c := range t.Checks {
			r.clauses[dcc.Reason(c.Code)] = c.Clause
		}
		// Refusals that turn on the row name it too, as the policy does.
		for _, code := range []dcc.Reason{dcc.ReasonCategoryNotAvailable, dcc.ReasonRoleNotEligible, dcc.ReasonDeviceType, dcc.ReasonDeviceStatus} {
			r.clauses[code] = fmt.Sprintf("%s; %s (%s)", checkClause[string(code)].Clause, pr.Clause, key)
		}
		e.rows[key] = r
	}
	for _, c := range t.Checks {
		fn, ok := checkFuncs[dcc.Reason(c.Code)]
		if !ok {
			return nil, fmt.Errorf("engine: the policy orders a check %s the engine does not know", c.Code)
		}
		e.order = append(e.order, check{code: dcc.Reason(c.Code), clause: c.Clause, outcome: c.Outcome, fn: fn,
			deferredWhenHeld: slices.Contains(t.DeferredWhenHeld, c.Code)})
	}
	e.inventoryChanging = map[string]bool{}
	for _, ref := range t.InventoryChanging {
		e.inventoryChanging[ref] = true
	}
	return e, nil
}

func (e *Engine) mask(bits map[string]uint32, codes []string) uint32 {
	var m uint32
	for _, c := range codes {
		m |= bits[c]
	}
	return m
}

// Policy returns the compiled policy.
func (e *Engine) Policy() *policy.Policy { return e.pol }

// Spec returns the spec.
func (e *Engine) Spec() *spec.Spec { return e.spec }

// Move returns the status a device moves to on an event of the inventory
// policy (prenotify, han_join, wan_connected, commission, decommission,
// withdraw, update), from status `from` ("none" if not on the inventory),
// for its type and the sender's role; requested is the status an 8.4 asks
// for. ok is false where the policy allows no such move.
func (e *Engine) Move(event, from, deviceType, role, requested string) (to, clause string, ok bool) {
	kinds := []string{e.kindOf[role]}
	if role == "" {
		// The DCC's own events (a hub joining the SMWAN) are no role's:
		// any row of the event will do.
		kinds = nil
		for _, r := range e.spec.Roles {
			kinds = append(kinds, r.Kind)
		}
	}
	for _, kind := range kinds {
		for _, m := range e.moves[moveKey{event, from, e.classOf[deviceType], kind}] {
			if !m.Requested || m.To == requested {
				return m.To, m.Clause, true
			}
		}
	}
	return "", "", false
}

// StatusAllows says whether device d may receive the row's Command over
// the SMWAN, as the DEVICE_STATUS check at submission does (its own
// status, and the hub it is reached through), with the detail and the
// clause a refusal names. A request executed later than it was checked
// (future dated, or held behind its predecessor) is checked again when it
// falls due: a device withdrawn or decommissioned meanwhile, or behind a
// hub decommissioned meanwhile, receives no DCC Services (para 175-177). A
// row the engine does not know allows it (the submission checked what it
// could).
func (e *Engine) StatusAllows(key string, d Device) (ok bool, detail, clause string) {
	r := e.rows[key]
	if r == nil || r.p.Target != "device" {
		return true, "", ""
	}
	if refused, detail := r.unreachable(d, e.stBit[d.Status]); refused {
		return false, detail, r.clauses[dcc.ReasonDeviceStatus]
	}
	return true, "", ""
}

// LocalStatusAllows says whether a Command for Local Delivery of the row
// keyed key may be produced for a user of role on device d, as the
// DEVICE_STATUS check at submission does for local delivery (note 406:
// the statuses that allow one, by role). A future dated or held one is
// produced when it falls due, and a device withdrawn or decommissioned
// meanwhile receives no DCC Services (para 175-177). A row the engine
// does not know allows it.
func (e *Engine) LocalStatusAllows(key, role string, d Device) (ok bool, detail, clause string) {
	r := e.rows[key]
	if r == nil || r.p.Target != "device" {
		return true, "", ""
	}
	if refused, detail := e.localRefused(role, d.Status, e.stBit[d.Status]); refused {
		return false, detail, r.clauses[dcc.ReasonDeviceStatus]
	}
	return true, "", ""
}

// CommissioningAllows runs the commissioning checks of para 187 (the hub,
// the meter, the MPxN's other meter) of the row keyed key on d, in the
// policy's order, as submission runs them: what the runtime asks when the
// inventory is about to record a device commissioned later than its 8.1
// was checked (held behind a predecessor, returned by 8.13 after Local
// Delivery, or executed beside another 8.1 for the same MPxN). A row that
// does not commission, or one the engine does not know, allows it.
func (e *Engine) CommissioningAllows(key string, d Device) (ok bool, reason dcc.Reason, detail, clause string) {
	r := e.rows[key]
	if r == nil || !r.p.Commissions || !d.Known {
		return true, "", "", ""
	}
	st := state{e: e, req: &Request{}, f: &Facts{Device: d}, row: r, eff: r,
		typeB: e.typeBit[d.Type], statB: e.stBit[d.Status], devChk: r.p.Target == "device"}
	for _, c := range e.order {
		if !commissioningCheck[c.code] {
			continue
		}
		if failed, detail := c.fn(&st); failed {
			return false, c.code, detail, r.clauses[c.code]
		}
	}
	return true, "", "", ""
}

// commissioningCheck marks the checks CommissioningAllows runs.
var commissioningCheck = map[dcc.Reason]bool{
	dcc.ReasonChfNotCommissioned:   true,
	dcc.ReasonMeterNotCommissioned: true,
	dcc.ReasonMpxnHasMeter:         true,
}

// StatusChecker is what the runtime asks of the engine when a request
// checked at submission falls due later.
type StatusChecker interface {
	StatusAllows(key string, d Device) (ok bool, detail, clause string)
	LocalStatusAllows(key, role string, d Device) (ok bool, detail, clause string)
	CommissioningAllows(key string, d Device) (ok bool, reason dcc.Reason, detail, clause string)
}

// Registered is the Registration Data check of the row keyed key for a
// user of role, against the records of the device's MPxNs, as submission
// makes it, with the detail and the clause a refusal names (unbound: the
// device relates to no MPxN, which no record names anyone for): what the
// runtime asks when it runs a schedule, whose creation is not checked
// (para 139), or a future dated request, checked against the records as
// they stood when it was received; either's sender may have lost the MPxN
// since. A row the engine does not know passes.
func (e *Engine) Registered(key, role, userID string, regs []Registration, unbound bool) (ok bool, detail, clause string) {
	r := e.rows[key]
	if r == nil {
		return true, "", ""
	}
	if failed, d := e.notRegistered(r.p, role, userID, regs, unbound); failed {
		return false, d, r.clauses[dcc.ReasonNotRegistered]
	}
	return true, "", ""
}

// RegistrationChecker is what the runtime asks of the engine when a
// schedule runs.
type RegistrationChecker interface {
	Registered(key, role, userID string, regs []Registration, unbound bool) (ok bool, detail, clause string)
}

// Mover is what the runtime asks of the inventory policy when it applies a
// status change.
type Mover interface {
	Move(event, from, deviceType, role, requested string) (to, clause string, ok bool)
}

var _ Mover = (*Engine)(nil)
