// Package scenario reads and runs scenario files, the public test format of
// the gateway (conformance/scenario-format.md): a small world of users,
// Registration Data and devices, then steps that send Service Requests, move
// a virtual clock or make devices act, each with what must happen.
//
// Load and Parse decode strictly: an unknown key, a bad Device or User ID, a
// role, device type, status, reason or service that the spec does not know is
// an error naming file, line and key, so a typo never turns into a silent
// pass. Run and RunAll execute scenarios against a Gateway, which the caller
// implements in-process or over the public Connect API.
package scenario

import (
	"time"

	"github.com/dccgate/dccgate/spec"
)

// DefaultStart is the virtual clock at the start of a scenario that does not
// say otherwise.
var DefaultStart = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// Scenario is one scenario file.
type Scenario struct {
	// File is the path (or name given to Parse) the scenario came from; it
	// prefixes every error and failure.
	File string
	// Name is unique within a directory.
	Name string
	// Source is the clause or paragraph the scenario checks, e.g. "para 187".
	Source string
	// World is the setup a gateway starts from.
	World
	// Steps run in order.
	Steps []*Step

	// nameLine and nameColumn locate the name, for Load's duplicate check.
	nameLine, nameColumn int
}

// World is the state a scenario starts from: what Gateway.Reset sets up.
type World struct {
	// Start is the virtual clock at the start, in UTC.
	Start        time.Time
	Users        []User
	Registration []Registration
	Inventory    []InventoryItem
	Anomaly      []AnomalyRule
}

// User is a DCC User that has completed user entry.
type User struct {
	ID    string // EUI-64, e.g. 00-00-00-00-00-00-0A-01
	Role  string // a role code of the spec; one role per User ID (para 117)
	Party string
	// Suspended users keep their ID but lose their rights (Section M8).
	Suspended bool
}

// Registration is the Registration Data of one MPxN. Supplier and network
// operator fields hold User IDs.
type Registration struct {
	MPxN            string
	Fuel            string // electricity or gas
	ImportSupplier  string
	ExportSupplier  string
	NetworkOperator string
	Postcode        string
	Premises        string
	UPRN            string
}

// InventoryItem is a device already on the Smart Metering Inventory.
type InventoryItem struct {
	Device string // EUI-64
	Type   string // a device type code of the spec
	Status string // an SMI status code of the spec
	MPxN   string // meters
	CHF    string // the Communications Hub Function the device belongs to
	Meter  string // the meter a non-meter device is associated with
	// Credentials is the User ID whose supplier credential a meter holds;
	// empty means the registered supplier.
	Credentials string
}

// AnomalyRule is a per-scenario anomaly-detection threshold: more than Max
// requests of Service from users of Role within Per are quarantined.
type AnomalyRule struct {
	Service string // a service reference, e.g. "4.1"
	Role    string
	Max     int
	Per     time.Duration
}

// StepKind says what a step does.
type StepKind int

// The kinds of step; each step is exactly one.
const (
	StepRequest StepKind = iota + 1
	StepAdvance
	StepEvent
)

func (k StepKind) String() string {
	switch k {
	case StepRequest:
		return "request"
	case StepAdvance:
		return "advance"
	case StepEvent:
		return "event"
	}
	return "unknown"
}

// Step is one step of a scenario.
type Step struct {
	// Index is the 1-based position of the step, as failures name it.
	Index int
	// Line is where the step starts in the file.
	Line int
	// ID names the step for after and outcomes; optional.
	ID string
	// As is the User ID that sends a request.
	As   string
	Kind StepKind
	// Request is set for StepRequest.
	Request *Request
	// Advance is how far StepAdvance moves the virtual clock.
	Advance time.Duration
	// Event is set for StepEvent.
	Event *Event
	// Expect is what must hold after the step; nil when nothing is checked.
	Expect *Expect
}

// TargetDevice is the device a step is aimed at: the request's device or
// the event's device; empty for an advance or an inventory query by MPxN.
func (s *Step) TargetDevice() string {
	switch {
	case s.Request != nil:
		return s.Request.Device
	case s.Event != nil:
		return s.Event.Device
	}
	return ""
}

// Request is a Service Request sent by a step.
type Request struct {
	Service string // the Service Reference, e.g. "8.1"
	Variant string // where one reference has several rows
	// Device is the target Device ID. 8.2 Read Inventory may instead name
	// MPxN, Postcode and Premises, or UPRN.
	Device   string
	MPxN     string
	Postcode string
	Premises string
	UPRN     string
	When     When
	Delivery string // wan (default) or local
	// After is the id of the step whose request this one is sequenced after.
	After string
	// Body holds the fields the file gives; Run fills the rest from the
	// spec's examples. Values are strings, bools, ints, float64s, []any and
	// map[string]any.
	Body map[string]any
	// Refs are the body fields that name an earlier request (the spec's
	// request_ref) by the id of the step that sent it: field -> step id.
	// The runner gives the field that request's ID.
	Refs map[string]string
	Sign Sign
	// Counter, if not zero, is the counter of the request's Request ID
	// (originatorID:targetID:counter) in place of the one the client would
	// give next: one above the highest it sent for the sender. A counter not
	// above the user's last is a replay (REPLAY).
	Counter uint64

	// row is the spec row the request was checked against, and spec that
	// spec, so the runner fills the body from the one the parser validated
	// with.
	row  *spec.Service
	spec *spec.Spec
}

// WhenKind is the category a request asks for.
type WhenKind int

// The categories a request can ask for.
const (
	OnDemand WhenKind = iota
	Future
	Scheduled
)

func (k WhenKind) String() string {
	switch k {
	case OnDemand:
		return "on_demand"
	case Future:
		return "future"
	case Scheduled:
		return "schedule"
	}
	return "unknown"
}

// When is when a request is to run: on demand, at a future time, or (for
// 5.1 Create Schedule) on a schedule.
type When struct {
	Kind WhenKind
	// At is the execution time of a future-dated request.
	At time.Time
	// Schedule is set for Scheduled.
	Schedule *Schedule
}

// Schedule is the schedule that 5.1 Create Schedule sets up.
type Schedule struct {
	Service string
	Variant string
	Every   time.Duration
	First   time.Time
}

// SignMode says who signs the Pre-Command of a critical request.
type SignMode int

// The ways a critical request's Pre-Command is signed.
const (
	// SignOwn: the sender signs with its own key (the default).
	SignOwn SignMode = iota
	// SignNone: the Pre-Command is never signed.
	SignNone
	// SignWith: another user's key signs; Sign.With names the user.
	SignWith
)

func (m SignMode) String() string {
	switch m {
	case SignOwn:
		return "own"
	case SignNone:
		return "none"
	case SignWith:
		return "with"
	}
	return "unknown"
}

// Sign says how a critical request's Pre-Command is signed.
type Sign struct {
	Mode SignMode
	With string // the User ID whose key signs, for SignWith
}

// Event makes an emulated device act.
type Event struct {
	Device string
	Kind   string // wan_connected, power_loss, power_restored, ...
}

// Outcomes a request can have, as expectations and gateways name them.
const (
	OutcomeAccepted    = "accepted"
	OutcomeRejected    = "rejected"
	OutcomeQuarantined = "quarantined"
	OutcomeHeld        = "held"
	OutcomeCancelled   = "cancelled"
	OutcomePending     = "pending"
)

// outcomes is the vocabulary of the format's outcome key. It is the
// format's own, not the spec's: the spec gives reasons, which lead to some
// of these.
var outcomes = []string{OutcomeAccepted, OutcomeRejected, OutcomeQuarantined, OutcomeHeld, OutcomeCancelled, OutcomePending}

// Expect is what must hold after a step. Zero-valued fields are not checked.
type Expect struct {
	// Outcome and Reason are those of the step's own request.
	Outcome string
	Reason  string
	// Status is the SMI status of the step's target device.
	Status string
	// Statuses maps Device IDs to their SMI status (the map form of status).
	Statuses map[string]string
	// Enrolled maps MPxNs to whether their system is Enrolled.
	Enrolled map[string]bool
	// Outcomes maps ids of this or earlier steps to their outcome now.
	Outcomes map[string]string
	// Alerts must each have been delivered since the previous step.
	Alerts []ExpectedAlert
	// Schedules maps User IDs to how many schedules they hold on the
	// step's target device.
	Schedules map[string]int
}

// ExpectedAlert is an alert that must have been delivered; an empty Code
// matches any code.
type ExpectedAlert struct {
	To   string
	Code string
}
