package spec

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Duration is a Target Response Time. It is null in JSON where the schedule
// says N/A, and written as a compact Go duration string ("24h", "30s").
type Duration time.Duration

// Format returns the compact Go duration string: "24h" rather than "24h0m0s".
func (d Duration) Format() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalJSON writes the compact duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.Format()) }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Std returns the time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Field is a request field a service carries beyond the common envelope.
type Field struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Doc      string `json:"doc"`
	Example  any    `json:"example"`
	Rule     string `json:"rule,omitempty"`
	Required bool   `json:"required"`
	// DeviceLog marks a list of Device IDs the request adds to ("add") or
	// removes from ("remove") its hub's HAN Device Log (8.11).
	DeviceLog string `json:"device_log,omitempty"`
	// RequestRef marks a field naming an earlier request by its ID: "any",
	// or "local_delivery" (one whose Command was for Local Delivery).
	RequestRef string `json:"request_ref,omitempty"`
}

// Check is a CEL rule over a request's whole body.
type Check struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
	// Counter, if set, is a body (over the row's examples) that breaks the
	// check and no field rule, for the conformance suite's malformed case.
	Counter map[string]any `json:"counter,omitempty"`
}

// AsWritten keeps the source's own words for cells we had to read.
type AsWritten struct {
	FutureDated string `json:"future_dated,omitempty"`
	OnDemand    string `json:"on_demand,omitempty"`
	Roles       string `json:"roles,omitempty"`
}

// Service is one row of Table 5.1 or Table 5.2 of Annex 5.
type Service struct {
	Ref           string     `json:"ref"`
	Variant       string     `json:"variant,omitempty"`
	Name          string     `json:"name"`
	Description   string     `json:"description"`
	Table         string     `json:"table"`
	DeviceService bool       `json:"device_service"`
	Alert         bool       `json:"alert"`
	Critical      bool       `json:"critical"`
	FutureDated   *Duration  `json:"future_dated"`
	OnDemand      *Duration  `json:"on_demand"`
	Scheduled     *Duration  `json:"scheduled,omitempty"`
	AsWritten     *AsWritten `json:"as_written,omitempty"`
	Roles         []string   `json:"roles"`
	Target        string     `json:"target"`
	Targets       []string   `json:"targets"`
	Statuses      []string   `json:"statuses"`
	Registration  string     `json:"registration,omitempty"`
	Commissions   bool       `json:"commissions,omitempty"`
	// CoS marks 6.23: the CoS Party signs it (para 142-146).
	CoS bool `json:"cos,omitempty"`
	// CreatesSchedule marks 5.1 Create Schedule.
	CreatesSchedule bool    `json:"creates_schedule,omitempty"`
	Fields          []Field `json:"fields"`
	Checks          []Check `json:"checks"`
	Clause          string  `json:"clause"`
}

// Key identifies a row: the reference, with the variant where rows share one.
func (s *Service) Key() string { return Key(s.Ref, s.Variant) }

// DeviceLogFields returns the names of the row's fields that list devices
// the request adds to (kind "add") or removes from (kind "remove") its
// hub's Device Log.
func (s *Service) DeviceLogFields(kind string) []string {
	var out []string
	for _, f := range s.Fields {
		if f.DeviceLog == kind {
			out = append(out, f.Name)
		}
	}
	return out
}

// Key joins a reference and a variant as rows are keyed ("1.1/credit", "4.1").
func Key(ref, variant string) string {
	if variant == "" {
		return ref
	}
	return ref + "/" + variant
}

// HasRole reports whether role is an eligible role of the row.
func (s *Service) HasRole(role string) bool {
	for _, r := range s.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Registration says which Registration Data field names a user of a role.
type Registration struct {
	Field string `json:"field"`
	Fuel  string `json:"fuel"`
}

// Role is one row of the Role Reference Key.
type Role struct {
	Code          string        `json:"code"`
	Description   string        `json:"description"`
	Kind          string        `json:"kind"`
	Registration  *Registration `json:"registration,omitempty"`
	LocalStatuses []string      `json:"local_statuses"`
}

// Status is a Smart Metering Inventory status (para 167).
type Status struct {
	Code      string `json:"code"`
	Label     string `json:"label"`
	Reachable bool   `json:"reachable"`
	InService bool   `json:"in_service"`
	Installed bool   `json:"installed"`
	Order     int    `json:"order"`
}

// DeviceType is a Device of the glossary.
type DeviceType struct {
	Code  string `json:"code"`
	Name  string `json:"name"`
	Class string `json:"class"`
	Fuel  string `json:"fuel,omitempty"`
}

// Alert is one row of Table 5.4.
type Alert struct {
	Code      string   `json:"code"`
	Name      string   `json:"name"`
	IssuedBy  []string `json:"issued_by"`
	AsWritten string   `json:"as_written,omitempty"`
	Service   string   `json:"service"`
}

// Threshold is one row of Table 5.3 with its CEL formulas.
type Threshold struct {
	ID            string   `json:"id"`
	Roles         []string `json:"roles"`
	Service       string   `json:"service"`
	Metric        string   `json:"metric"`
	MetricText    string   `json:"metric_text"`
	Threshold     string   `json:"threshold"`
	ThresholdText string   `json:"threshold_text"`
}

// Measure is a Code Performance Measure of para 262.
type Measure struct {
	Number   int     `json:"number"`
	Name     string  `json:"name"`
	Target   float64 `json:"target"`
	Minimum  float64 `json:"minimum"`
	Measures string  `json:"measures"`
}

// Reason is a stable reason code with its clause.
type Reason struct {
	Code    string `json:"code"`
	When    string `json:"when"`
	Clause  string `json:"clause"`
	Outcome string `json:"outcome"`
}

// EnvelopeRule is a CEL rule over the common envelope.
type EnvelopeRule struct {
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// Note404 lists the services that can also be scheduled.
type Note404 struct {
	Clause   string   `json:"clause"`
	Services []string `json:"services"`
	Target   Duration `json:"target"`
}

// ServiceRef names a row by reference and variant.
type ServiceRef struct {
	Ref     string `json:"ref"`
	Variant string `json:"variant,omitempty"`
}

// Note405 lists the only services available for Type 2 Devices.
type Note405 struct {
	Clause   string       `json:"clause"`
	Services []ServiceRef `json:"services"`
}

// Type2Allowed reports whether the service keyed key may be aimed at a Type
// 2 Device: one that note 405 lists.
func (n Note405) Type2Allowed(key string) bool {
	for _, r := range n.Services {
		if Key(r.Ref, r.Variant) == key {
			return true
		}
	}
	return false
}

// Note406 is the Local Command Services note.
type Note406 struct {
	Clause             string   `json:"clause"`
	Suppliers          []string `json:"suppliers"`
	Others             []string `json:"others"`
	DeviceServicesOnly bool     `json:"device_services_only"`
}

// Category is a category of service.
type Category struct {
	Code   string `json:"code"`
	Label  string `json:"label"`
	Clause string `json:"clause"`
	// MinPeriod is the shortest period of a schedule (scheduled only).
	MinPeriod *Duration `json:"min_period,omitempty"`
	// MovesTimes: a schedule's run has the timestamp fields of its body
	// moved by its distance from the first run (scheduled only).
	MovesTimes bool `json:"moves_times,omitempty"`
}

// Enrolment says which commissioned devices enrol a system of a fuel.
type Enrolment struct {
	Clause   string   `json:"clause"`
	Requires []string `json:"requires"`
}

// ThresholdRules are the parameters of para 407-411 and 272.
type ThresholdRules struct {
	Clause            string `json:"clause"`
	ReportAtPercent   int    `json:"report_at_percent"`
	FirstServiceMonth string `json:"first_service_month"`
	ASMSMonths        int    `json:"asms_months"`
	EnrolmentDay      int    `json:"enrolment_day"`
}

// Spec is the whole loaded spec: the single source of truth.
type Spec struct {
	Services       []*Service           `json:"services"`
	Roles          []*Role              `json:"roles"`
	Statuses       []*Status            `json:"statuses"`
	DeviceTypes    []*DeviceType        `json:"device_types"`
	Categories     []*Category          `json:"categories"`
	Deliveries     []*Category          `json:"deliveries"`
	Note404        Note404              `json:"note404"`
	Note405        Note405              `json:"note405"`
	Note406        Note406              `json:"note406"`
	Enrolment      map[string]Enrolment `json:"enrolment"`
	AlertTarget    Duration             `json:"alert_target"`
	Alerts         []*Alert             `json:"alerts"`
	Thresholds     []*Threshold         `json:"thresholds"`
	ThresholdRules ThresholdRules       `json:"threshold_rules"`
	Measures       []*Measure           `json:"measures"`
	MeasuresClause string               `json:"measures_clause"`
	Reasons        []*Reason            `json:"reasons"`
	Patterns       map[string]string    `json:"patterns"`
	EnvelopeRules  []EnvelopeRule       `json:"envelope_rules"`
	Transitions    []*Transition        `json:"transitions"`
	DCCIDs         DCCIDs               `json:"dcc_ids"`
	// Hubs is the Communications Hub charging regime (spec/hubs.cue).
	Hubs HubCharging `json:"hubs"`
	// RegistrationData, Performance, Demand and Traffic are
	// spec/registration.cue: the Registration Data Interface, what the Code
	// Performance Measures count, managing demand and traffic management.
	RegistrationData RegistrationData `json:"registration_data"`
	Performance      Performance      `json:"performance"`
	Demand           Demand           `json:"demand"`
	Traffic          Traffic          `json:"traffic"`
	// DUIS is spec/duis.cue: the DUIS XML interface mapped onto the schedule.
	DUIS DUIS `json:"duis"`
	// ServiceManagement is spec/service_management.cue: maintenance,
	// releases, incidents, the Self-Service Interface and the Service Desk.
	ServiceManagement ServiceManagement `json:"service_management"`
	// Hash is the SHA-256 of the spec's files, in name order.
	Hash string `json:"hash"`

	// data is the spec as plain JSON-shaped values, the input of policies.
	data map[string]any
	// pos maps the paths of the CEL rules to where they are written (Pos).
	pos map[string]string

	byKey    map[string]*Service
	byRef    map[string][]*Service
	roles    map[string]*Role
	statuses map[string]*Status
	types    map[string]*DeviceType
	reasons  map[string]*Reason
}

func (s *Spec) index() {
	s.byKey = map[string]*Service{}
	s.byRef = map[string][]*Service{}
	for _, svc := range s.Services {
		s.byKey[svc.Key()] = svc
		s.byRef[svc.Ref] = append(s.byRef[svc.Ref], svc)
	}
	s.roles = map[string]*Role{}
	for _, r := range s.Roles {
		s.roles[r.Code] = r
	}
	s.statuses = map[string]*Status{}
	for _, st := range s.Statuses {
		s.statuses[st.Code] = st
	}
	s.types = map[string]*DeviceType{}
	for _, t := range s.DeviceTypes {
		s.types[t.Code] = t
	}
	s.reasons = map[string]*Reason{}
	for _, r := range s.Reasons {
		s.reasons[r.Code] = r
	}
	s.DUIS.index(s)
}

// Service returns the row for ref and variant, or nil.
func (s *Spec) Service(ref, variant string) *Service { return s.byKey[Key(ref, variant)] }

// ServicesByRef returns the rows that share a reference, in schedule order.
func (s *Spec) ServicesByRef(ref string) []*Service { return s.byRef[ref] }

// Role returns the role with the code, or nil.
func (s *Spec) Role(code string) *Role { return s.roles[code] }

// ExampleFor is the value a request sent by a user of the role takes for a
// field it omits: the field's example, but for the credential a critical
// Command replaces (6.15), which is the sender's own kind where the
// field's rule allows it: a device holds each eligible party's own
// credential and refuses a critical Command from any other (para 137,
// 140-141, footnote 13), so a network operator replaces its own.
func (s *Spec) ExampleFor(f Field, role string) any {
	if f.Name == "credential" {
		if r := s.Role(role); r != nil && r.Kind != "" && strings.Contains(f.Rule, "'"+r.Kind+"'") {
			return r.Kind
		}
	}
	return f.Example
}

// Status returns the SMI status with the code, or nil.
func (s *Spec) Status(code string) *Status { return s.statuses[code] }

// DeviceType returns the device type with the code, or nil.
func (s *Spec) DeviceType(code string) *DeviceType { return s.types[code] }

// Reason returns the reason with the code, or nil.
func (s *Spec) Reason(code string) *Reason { return s.reasons[code] }

// Data returns the spec as JSON-shaped values (maps, slices, strings,
// numbers), as policies see it under data.spec. Callers must not modify it.
func (s *Spec) Data() map[string]any { return s.data }

// ServiceName returns "4.1 Read Instantaneous Import Registers".
func (svc *Service) String() string { return fmt.Sprintf("%s %s", svc.Key(), svc.Name) }

// ServiceByKey returns the row with a key as Key writes it, or nil.
func (s *Spec) ServiceByKey(key string) *Service { return s.byKey[key] }

// Transition is a move between SMI statuses and the event that makes it.
type Transition struct {
	Event     string   `json:"event"`
	Service   string   `json:"service,omitempty"`
	From      []string `json:"from"`
	To        string   `json:"to"`
	ToAllowed []string `json:"to_allowed,omitempty"`
	Classes   []string `json:"classes,omitempty"`
	RoleKinds []string `json:"role_kinds,omitempty"`
	Subject   string   `json:"subject"`
	Clause    string   `json:"clause"`
}

// DCCIDs are the DCC's own User IDs.
type DCCIDs struct {
	DCC      string `json:"dcc"`
	CoSParty string `json:"cos_party"`
}
