// Package incidents is the Incident Management Log (para 217-237) and the
// Service Desk (para 253-255). policy/rego/incidents.rego decides who may
// raise an incident, who is responsible for it and who is interested, and
// which status may follow which; this package executes: it runs the remote
// diagnostic, records each incident and its timeline in the store, times
// the target resolution from the spec's categories, keeps major incidents'
// managers, notified parties and review dates, and computes Code
// Performance Measures 4 and 5 (para 262). The time is the injected clock's.
package incidents

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/policy"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// Statuses of an incident (spec incidents.statuses).
const (
	StatusOpen      = "open"
	StatusAllocated = "allocated"
	StatusResolved  = "resolved"
	StatusClosed    = "closed"
)

// DCC is how the DCC is named as a party.
const DCC = "dcc"

// Error is a refusal with a stable code and the clause behind it.
type Error = spec.Refusal

// Refusal codes, the policy's (NOT_A_USER, DIAGNOSTIC_REQUIRED,
// DIAGNOSTIC_NOT_OF_DEVICE, NOT_VISIBLE, AREA_NOT_OF_DEVICE, TOO_LONG,
// NOT_PERMITTED and TRANSITION_NOT_ALLOWED of a step) and the log's own.
const (
	CodeNotAUser           = "NOT_A_USER"
	CodeDiagnosticRequired = "DIAGNOSTIC_REQUIRED"
	// CodeDiagnosticMismatch: the diagnostic attached is of another
	// device than the incident's (para 226-227).
	CodeDiagnosticMismatch = "DIAGNOSTIC_NOT_OF_DEVICE"
	// CodeAreaNotOfDevice: an incident of an area about one kind of
	// device (a meter, an IHD, the hub) raised about a device of another
	// kind, for which no one would be responsible (para 228-229).
	CodeAreaNotOfDevice = "AREA_NOT_OF_DEVICE"
	// CodeTooLong: a title, description, note or diagnostic data longer
	// than the spec's incidents.limits (para 225, 244).
	CodeTooLong = "TOO_LONG"
	// CodeDeviceRequired: a remote diagnostic asked of no device (para
	// 226-227).
	CodeDeviceRequired = "DEVICE_REQUIRED"
	CodeInvalid        = "INVALID"
	CodeNotVisible     = "NOT_VISIBLE"
	CodeNotPermitted   = "NOT_PERMITTED"
	CodeTransition     = "TRANSITION_NOT_ALLOWED"
	CodeNotFound       = "NOT_FOUND"
)

// Notices the log sends users on their streams (NotifyFunc).
const (
	// NoticeAllocated tells the user an incident is allocated to (on
	// raising, by the DCC, or reopened) that it is responsible for it,
	// unless it raised the incident itself (para 224, 227).
	NoticeAllocated = "INCIDENT_ALLOCATED"
	// NoticeRecategorised tells the raiser and the responsible user that
	// the DCC changed an incident's category, and with it its priority
	// and target resolution time (para 224).
	NoticeRecategorised = "INCIDENT_RECATEGORISED"
)

// NotifyFunc sends a notice to users on their streams: event is its code,
// data its fields, a "message" among them. The log calls it once what the
// notice tells is stored; a notice that cannot be sent does not undo it,
// so the function reports its own failures.
type NotifyFunc func(ctx context.Context, to []string, event string, data map[string]any)

// Option configures a Log.
type Option func(*Log)

// WithNotify has the log tell users of their incidents through fn.
func WithNotify(fn NotifyFunc) Option { return func(l *Log) { l.notify = fn } }

// Limits are the spec's incidents.limits (para 225, 244): characters of a
// title, a description and a note, bytes of diagnostic data and of the
// body of a request to the service management API.
type Limits struct {
	Clause      string `json:"clause"`
	Title       int    `json:"title"`
	Description int    `json:"description"`
	Note        int    `json:"note"`
	DataBytes   int    `json:"data_bytes"`
	BodyBytes   int    `json:"body_bytes"`
}

// Diagnosis is the result of a remote diagnostic tool, attached to the
// incident it leads to.
type Diagnosis = store.Diagnosis

// DiagnoseFunc runs a tool for a caller on a device: the summary and the
// diagnostic data (JSON).
type DiagnoseFunc func(ctx context.Context, caller, deviceID string) (summary string, data []byte, err error)

// Store is what the log needs of the store.
type Store interface {
	store.Store
	store.ServiceManagement
}

// Log is the Incident Management Log and the Service Desk. It is safe for
// concurrent use.
type Log struct {
	st    Store
	sp    *spec.Spec
	clk   clock.Clock
	tools map[string]DiagnoseFunc
	loc   *time.Location

	raiseQ, allocQ, transQ, stepQ rego.PreparedEvalQuery
	// systemAreas are the policy's areas about the DCC's own systems.
	systemAreas []string
	limits      Limits
	// categorisationClause is the spec's incidents.categorisation_clause.
	categorisationClause string
	notify               NotifyFunc

	// escalating serialises Escalate and AnswerTicket in this process.
	escalating sync.Mutex
}

// New compiles incidents.rego over the spec. tools are the remote
// diagnostic tools by the spec's names (incidents.diagnostics).
func New(ctx context.Context, st Store, sp *spec.Spec, clk clock.Clock, tools map[string]DiagnoseFunc, opts ...Option) (*Log, error) {
	for name := range tools {
		if _, ok := sp.ServiceManagement.Incidents.Diagnostics[name]; !ok {
			return nil, fmt.Errorf("incidents: diagnostic tool %q is not in the spec", name)
		}
	}
	loc, err := time.LoadLocation(sp.ServiceManagement.Maintenance.ProtectedHours.TimeZone)
	if err != nil {
		return nil, err
	}
	c, data, err := policy.CompileModule(policy.Modules(), "incidents.rego", sp)
	if err != nil {
		return nil, err
	}
	l := &Log{st: st, sp: sp, clk: clk, tools: tools, loc: loc}
	for _, o := range opts {
		o(l)
	}
	if err := l.readSpec(); err != nil {
		return nil, err
	}
	for q, dst := range map[string]*rego.PreparedEvalQuery{
		"data.dccgate.incidents.raise":              &l.raiseQ,
		"data.dccgate.incidents.responsibility":     &l.allocQ,
		"data.dccgate.incidents.transition_allowed": &l.transQ,
		"data.dccgate.incidents.step":               &l.stepQ,
	} {
		if *dst, err = rego.New(rego.Query(q), rego.Compiler(c), rego.Store(data)).PrepareForEval(ctx); err != nil {
			return nil, &policy.Error{Code: "rego_compile_error", Message: err.Error()}
		}
	}
	// The areas about the DCC's own systems depend on the policy alone.
	sysQ, err := rego.New(rego.Query("data.dccgate.incidents.system_areas"), rego.Compiler(c), rego.Store(data)).PrepareForEval(ctx)
	if err != nil {
		return nil, &policy.Error{Code: "rego_compile_error", Message: err.Error()}
	}
	if _, err := eval(ctx, sysQ, map[string]any{}, &l.systemAreas); err != nil {
		return nil, err
	}
	slices.Sort(l.systemAreas)
	return l, nil
}

// SystemAreas are the areas about the DCC's own systems (the policy's
// system_areas): an incident there that names no device is raised without
// a remote diagnostic, there being no device to diagnose (para 226-227).
func (l *Log) SystemAreas() []string { return slices.Clone(l.systemAreas) }

// Spec returns the spec the log works under.
func (l *Log) Spec() *spec.Spec { return l.sp }

// Limits returns the spec's limits of what is written into the log.
func (l *Log) Limits() Limits { return l.limits }

// readSpec reads the spec's incidents.limits and categorisation_clause
// from its data (the policy reads them there too).
func (l *Log) readSpec() error {
	var v struct {
		Limits               Limits `json:"limits"`
		CategorisationClause string `json:"categorisation_clause"`
	}
	sm, _ := l.sp.Data()["service_management"].(map[string]any)
	b, err := json.Marshal(sm["incidents"])
	if err == nil {
		err = json.Unmarshal(b, &v)
	}
	lim := v.Limits
	if err == nil && (lim.Title <= 0 || lim.Description <= 0 || lim.Note <= 0 || lim.DataBytes <= 0 || lim.BodyBytes <= 0 || v.CategorisationClause == "") {
		err = errors.New("service_management.incidents.limits or categorisation_clause is missing")
	}
	if err != nil {
		return fmt.Errorf("incidents: the spec: %w", err)
	}
	l.limits, l.categorisationClause = lim, v.CategorisationClause
	return nil
}

// decision is the policy's answer to raise and step.
type decision struct {
	Allowed bool   `json:"allowed"`
	Code    string `json:"code"`
	Clause  string `json:"clause"`
	// Types are the device types the incident's area is about
	// (AREA_NOT_OF_DEVICE).
	Types []string `json:"types"`
	// TooLong are the lengths beyond the spec's limits (TOO_LONG).
	TooLong []struct {
		Field  string `json:"field"`
		Length int    `json:"length"`
		Limit  int    `json:"limit"`
	} `json:"too_long"`
}

// tooLong says which lengths are beyond the spec's limits.
func (d decision) tooLong() string {
	names := map[string]string{"title": "the title", "description": "the description", "note": "the note", "data_bytes": "the diagnostic data"}
	var parts []string
	for _, t := range d.TooLong {
		name, unit := names[t.Field], "characters"
		if name == "" {
			name = t.Field
		}
		if strings.HasSuffix(t.Field, "_bytes") {
			unit = "bytes"
		}
		parts = append(parts, fmt.Sprintf("%s is %d %s long, more than the %d allowed", name, t.Length, unit, t.Limit))
	}
	return strings.Join(parts, "; ")
}

// runes counts the characters of s.
func runes(s string) int { return utf8.RuneCountInString(s) }

// step asks the policy whether actor may take a step on an incident
// beside a change of its status (an update, a recategorisation, the note
// of a resolution ...): lengths are what it writes.
func (l *Log) step(ctx context.Context, action, actor string, inc store.Incident, lengths map[string]int) error {
	var dec decision
	input := map[string]any{"action": action, "actor": map[string]any{"dcc": actor == DCC}, "incident": map[string]any{"status": inc.Status}, "lengths": lengths}
	if ok, err := eval(ctx, l.stepQ, input, &dec); err != nil || !ok || dec.Allowed {
		return err
	}
	msg := dec.tooLong()
	switch dec.Code {
	case CodeNotPermitted:
		msg = "only the DCC categorises and prioritises an incident: ask the Service Desk to change its category"
	case CodeTransition:
		msg = fmt.Sprintf("incident %s is %s: its record is complete, and takes no %s (raise another incident)", inc.ID, inc.Status, action)
	}
	return &Error{Code: dec.Code, Clause: dec.Clause, Message: msg}
}

// eval evaluates a prepared query; ok is false where it is undefined.
func eval(ctx context.Context, q rego.PreparedEvalQuery, input map[string]any, out any) (bool, error) {
	rs, err := q.Eval(ctx, rego.EvalInput(input))
	if err != nil {
		return false, &policy.Error{Code: "eval_error", Message: err.Error()}
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return false, nil
	}
	b, err := json.Marshal(rs[0].Expressions[0].Value)
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal(b, out)
}

// nextID names a new record: its kind, the clock's time and a random part,
// so that IDs never repeat across restarts or processes sharing a store.
func (l *Log) nextID(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%s-%s", prefix, l.clk.Now().Format("20060102T150405"), hex.EncodeToString(b))
}

// Diagnose runs a remote diagnostic tool for the caller on a device and
// keeps its result, to be attached to an incident the caller raises.
func (l *Log) Diagnose(ctx context.Context, caller, tool, deviceID string) (Diagnosis, error) {
	run, ok := l.tools[tool]
	if !ok {
		return Diagnosis{}, &Error{Code: CodeInvalid, Clause: l.sp.ServiceManagement.Incidents.DiagnosticClause, Message: fmt.Sprintf("no diagnostic tool %q", tool)}
	}
	if strings.TrimSpace(deviceID) == "" {
		return Diagnosis{}, &Error{Code: CodeDeviceRequired, Clause: l.sp.ServiceManagement.Incidents.DiagnosticClause,
			Message: "device_id is required: the remote diagnostic runs on a device of your portfolio, named by its Device ID"}
	}
	summary, data, err := run(ctx, caller, deviceID)
	if err != nil {
		return Diagnosis{}, err
	}
	d := Diagnosis{ID: l.nextID("DIAG"), Tool: tool, Caller: caller, DeviceID: deviceID, Result: summary, Data: data, At: l.clk.Now()}
	// Kept in the store, in place of the caller's last on the device: the
	// incident may be raised after a restart, or through another process.
	if err := l.st.PutDiagnosis(ctx, d); err != nil {
		return Diagnosis{}, err
	}
	return d, nil
}

// RaiseInput is an incident a user raises.
type RaiseInput struct {
	Caller      string
	Category    string
	Area        string
	DeviceID    string
	RequestID   string
	Title       string
	Description string
	NeedsVisit  bool
	// DiagnosisID names the result of the remote diagnostic the user ran
	// first (para 226-227).
	DiagnosisID string
	TicketID    string
}

// Raise records an incident after the policy allowed it, attaches the
// diagnostic result and allocates it to the party the policy names.
func (l *Log) Raise(ctx context.Context, in RaiseInput) (store.Incident, error) {
	pol := l.sp.ServiceManagement.Incidents
	now := l.clk.Now()
	u, err := l.st.GetUser(ctx, in.Caller)
	isUser := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Incident{}, err
	}
	var diag *Diagnosis
	if in.DiagnosisID != "" {
		d, err := l.st.GetDiagnosis(ctx, in.DiagnosisID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.Incident{}, err
		}
		if err == nil && d.Caller == in.Caller {
			diag = &d
		}
	}
	// The device the incident is about: the one named, else the
	// diagnostic's.
	device := in.DeviceID
	if device == "" && diag != nil {
		device = diag.DeviceID
	}
	facts, err := l.facts(ctx, device)
	if err != nil {
		return store.Incident{}, err
	}
	input := map[string]any{
		"raiser":          map[string]any{"user": isUser, "entered": isUser && u.Entered && !u.Suspended},
		"incident":        map[string]any{"area": in.Area, "device_id": in.DeviceID},
		"device":          facts["device"],
		"diagnosis_named": in.DiagnosisID != "",
		"lengths":         map[string]int{"title": runes(in.Title), "description": runes(in.Description)},
	}
	if diag != nil {
		input["diagnostic"] = map[string]any{"tool": diag.Tool, "result": diag.Result, "device_id": diag.DeviceID}
	}
	if in.RequestID != "" {
		// Whether the request named is the caller's: the same answer for
		// another user's request as for none (para 250).
		r, err := l.st.GetRequest(ctx, in.RequestID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.Incident{}, err
		}
		input["request"] = map[string]any{"given": true, "own": err == nil && r.UserID == in.Caller}
	}
	var dec decision
	if ok, err := eval(ctx, l.raiseQ, input, &dec); err != nil {
		return store.Incident{}, err
	} else if !ok || !dec.Allowed {
		return store.Incident{}, &Error{Code: dec.Code, Clause: dec.Clause, Message: raiseRefusal(dec, in, device, facts, diag)}
	}
	cat, ok := pol.Categories[in.Category]
	if !ok {
		return store.Incident{}, &Error{Code: CodeInvalid, Clause: pol.Clause, Message: fmt.Sprintf("incident category %q: allowed are %s", in.Category, strings.Join(pol.CategoryCodes(), ", "))}
	}
	if _, ok := pol.Areas[in.Area]; !ok {
		return store.Incident{}, &Error{Code: CodeInvalid, Clause: pol.Clause, Message: fmt.Sprintf("unknown area %q: allowed are %s", in.Area, strings.Join(slices.Sorted(maps.Keys(pol.Areas)), ", "))}
	}
	if in.Title == "" {
		return store.Incident{}, &Error{Code: CodeInvalid, Clause: pol.Clause, Message: "an incident needs a title"}
	}
	in.DeviceID = device
	inc := store.Incident{
		ID: l.nextID("INC"), RaisedBy: in.Caller, Category: in.Category, Priority: cat.Priority, Status: StatusOpen,
		Area: in.Area, DeviceID: in.DeviceID, RequestID: in.RequestID, Title: in.Title, Description: in.Description,
		RaisedAt: now, TargetAt: now.Add(cat.TargetResolution.Std()), TicketID: in.TicketID,
	}
	ev := store.IncidentEvent{At: now, Actor: in.Caller, Kind: "raised", Status: StatusOpen, Note: in.Description}
	if diag != nil {
		ev.Data, _ = json.Marshal(diag)
	}
	if err := l.st.InsertIncident(ctx, inc, ev); err != nil {
		return store.Incident{}, err
	}
	if diag != nil {
		// Attached once: a second incident needs a diagnostic of its own.
		if err := l.st.DeleteDiagnosis(ctx, diag.ID); err != nil {
			return store.Incident{}, err
		}
	}
	return l.allocate(ctx, inc, in.NeedsVisit, facts)
}

// raiseRefusal says why the policy refused an incident.
func raiseRefusal(dec decision, in RaiseInput, device string, facts map[string]any, diag *Diagnosis) string {
	code := dec.Code
	switch {
	case code == CodeAreaNotOfDevice:
		typ, _ := facts["device"].(map[string]any)["type"].(string)
		what := "of type " + typ
		if typ == "" {
			what = "not on the inventory"
		}
		return fmt.Sprintf("an incident of area %s is about a device of type %s: device %s is %s; choose the area of the device, or raise it about the device concerned",
			in.Area, strings.Join(dec.Types, " or "), device, what)
	case code == CodeTooLong:
		return dec.tooLong()
	case code == CodeDiagnosticRequired && in.DiagnosisID != "" && diag == nil:
		return fmt.Sprintf("diagnosis %q is not a remote diagnostic you ran, or it is attached to an incident already: run the diagnostic again", in.DiagnosisID)
	case code == CodeDiagnosticRequired:
		return "run a remote diagnostic on the device concerned first; its result is attached to the incident (only an incident about the DCC's own systems that names no device is raised without one)"
	case code == CodeDiagnosticMismatch && diag != nil:
		return fmt.Sprintf("the diagnostic attached is of device %s, not of the incident's device %s: diagnose the device the incident is about", diag.DeviceID, in.DeviceID)
	case code == CodeNotVisible:
		return fmt.Sprintf("request %q is not one of your Service Requests", in.RequestID)
	}
	return "an incident is raised by a DCC User, after the remote diagnostic tools"
}

// allocate asks the policy who is responsible and who is interested and
// moves the incident to allocated; where the policy names no one (no
// supplier registered) it stays open, the DCC interested, and says it
// awaits the DCC's allocation (para 227). facts are the device's.
func (l *Log) allocate(ctx context.Context, inc store.Incident, visit bool, facts map[string]any) (store.Incident, error) {
	var r struct {
		Party      string   `json:"party"`
		UserID     string   `json:"user_id"`
		Rule       string   `json:"rule"`
		Clause     string   `json:"clause"`
		Interested []string `json:"interested"`
	}
	facts["incident"] = map[string]any{"area": inc.Area, "needs_visit": visit}
	ok, err := eval(ctx, l.allocQ, facts, &r)
	if err != nil {
		return inc, err
	}
	if !ok {
		return inc, fmt.Errorf("incidents: the policy neither allocates nor leaves to the DCC an incident of area %q", inc.Area)
	}
	inc.Interested = slices.DeleteFunc(r.Interested, func(p string) bool { return p == inc.RaisedBy && p != r.UserID })
	if r.Party == "" {
		// No one to allocate it to: it awaits the DCC, which is
		// interested in it meanwhile.
		inc.ResponsibilityRule, inc.Clause = r.Rule, r.Clause
		return inc, l.st.UpdateIncident(ctx, inc, inc.Status, store.IncidentEvent{At: l.clk.Now(), Actor: DCC, Kind: "awaiting_allocation", Status: inc.Status,
			Note: fmt.Sprintf("awaiting the DCC's allocation (%s, %s): the policy names no one responsible (no supplier registered); interested: %s", r.Rule, r.Clause, listed(inc.Interested))})
	}
	return l.assign(ctx, inc, r.Party, r.UserID, r.Rule, r.Clause, func(who string) string {
		return fmt.Sprintf("allocated to %s (%s, %s); interested: %s", who, r.Rule, r.Clause, listed(inc.Interested))
	})
}

// assign moves an open incident to allocated, responsible party (and user,
// for a supplier) as given, with the timeline's note of it.
func (l *Log) assign(ctx context.Context, inc store.Incident, party, userID, rule, clause string, note func(who string) string) (store.Incident, error) {
	if err := l.transition(ctx, inc.Status, StatusAllocated); err != nil {
		return inc, err
	}
	from := inc.Status
	inc.Status, inc.AllocatedAt = StatusAllocated, l.clk.Now()
	inc.ResponsibleParty, inc.ResponsibleUser, inc.ResponsibilityRule, inc.Clause = party, userID, rule, clause
	who := party
	if userID != "" {
		who = userID
	}
	// The responsible party is responsible, no longer interested.
	inc.Interested = slices.DeleteFunc(slices.Clone(inc.Interested), func(p string) bool { return p == who })
	kind, text := "allocated", note(who)
	if from == StatusResolved {
		// Reopened: the fix did not hold. The resolution no longer
		// stands, so the incident is unresolved again (late once past
		// its target, Overdue and measures 4 and 5, para 237), and a
		// later resolution is judged by its own time; a major
		// incident's review falls due from that one (para 235).
		kind = "reopened"
		text = fmt.Sprintf("reopened: the resolution of %s did not hold. %s", inc.ResolvedAt.UTC().Format(time.RFC3339), text)
		inc.ResolvedAt, inc.ReviewDueAt = time.Time{}, time.Time{}
	}
	ev := store.IncidentEvent{At: inc.AllocatedAt, Actor: DCC, Kind: kind, Status: StatusAllocated, Note: text}
	if err := l.st.UpdateIncident(ctx, inc, from, ev); err != nil {
		return inc, err
	}
	if userID != "" && userID != inc.RaisedBy {
		// Keeping the responsible party informed (para 224, 227): the
		// raiser knows already.
		msg := fmt.Sprintf("incident %s is allocated to you (%s, %s): %s; category %s, %s, to be resolved by %s",
			inc.ID, rule, clause, inc.Title, inc.Category, inc.Priority, inc.TargetAt.UTC().Format(time.RFC3339))
		if kind == "reopened" {
			msg = fmt.Sprintf("incident %s is reopened and allocated to you: the resolution did not hold; %s", inc.ID, inc.Title)
		}
		l.tell(ctx, []string{userID}, NoticeAllocated, inc, map[string]any{"responsibility_rule": rule, "clause": clause, "reopened": kind == "reopened", "message": msg})
	}
	return inc, nil
}

// tell sends a notice about an incident, if the log has a NotifyFunc.
func (l *Log) tell(ctx context.Context, to []string, event string, inc store.Incident, data map[string]any) {
	if l.notify == nil || len(to) == 0 {
		return
	}
	body := map[string]any{"incident": inc.ID, "title": inc.Title, "area": inc.Area, "device_id": inc.DeviceID, "status": inc.Status,
		"category": inc.Category, "priority": inc.Priority, "target_at": inc.TargetAt.UTC().Format(time.RFC3339)}
	maps.Copy(body, data)
	l.notify(ctx, to, event, body)
}

// Allocate is the DCC allocating an incident the policy left open (no
// supplier registered for its premises), or reopening a resolved one whose
// fix did not hold: to itself (userID "") or to a supplier (para 227:
// "allocate responsibility to the registered Supplier where
// appropriate"). Reopening clears the resolution.
func (l *Log) Allocate(ctx context.Context, actor, id, userID, note string) (store.Incident, error) {
	inc, _, err := l.Get(ctx, actor, id)
	if err != nil {
		return inc, err
	}
	if actor != DCC {
		return inc, &Error{Code: CodeNotPermitted, Clause: "para 227", Message: "only the DCC allocates an incident"}
	}
	if err := l.step(ctx, "allocate", actor, inc, map[string]int{"note": runes(note)}); err != nil {
		return inc, err
	}
	party := DCC
	if userID != "" {
		u, err := l.st.GetUser(ctx, userID)
		if errors.Is(err, store.ErrNotFound) {
			return inc, &Error{Code: CodeInvalid, Clause: "para 227", Message: "no user " + userID}
		}
		if err != nil {
			return inc, err
		}
		if r := l.sp.Role(u.Role); r == nil || r.Kind != "supplier" {
			return inc, &Error{Code: CodeInvalid, Clause: "para 227", Message: userID + " is not a supplier"}
		}
		party = "supplier"
	}
	return l.assign(ctx, inc, party, userID, "allocated_by_dcc", "para 227", func(who string) string {
		return strings.TrimSpace("allocated to " + who + " by the DCC. " + note)
	})
}

// facts are the policy's input about a device: its type, the type of the
// meter it serves, and the suppliers registered for its premises.
func (l *Log) facts(ctx context.Context, deviceID string) (map[string]any, error) {
	dev := map[string]any{"type": "", "meter_type": ""}
	sup := map[string]any{"electricity_import": "", "electricity_export": "", "gas_import": ""}
	out := map[string]any{"device": dev, "suppliers": sup}
	if deviceID == "" {
		return out, nil
	}
	d, err := l.st.GetDevice(ctx, deviceID)
	if errors.Is(err, store.ErrNotFound) {
		return out, nil
	} else if err != nil {
		return nil, err
	}
	dev["type"] = d.Type
	if d.Meter != "" {
		if m, err := l.st.GetDevice(ctx, d.Meter); err == nil {
			dev["meter_type"] = m.Type
		}
	}
	chf := d.CHF
	if d.Type == "CHF" {
		chf = d.ID
	}
	var mpxns []string
	if chf != "" {
		behind, err := l.st.Devices(ctx, store.DeviceFilter{CHF: chf})
		if err != nil {
			return nil, err
		}
		for _, b := range behind {
			if b.MPxN != "" {
				mpxns = append(mpxns, b.MPxN)
			}
		}
	} else if d.MPxN != "" {
		mpxns = append(mpxns, d.MPxN)
	}
	regs, err := l.st.Registrations(ctx, mpxns, l.clk.Now())
	if err != nil {
		return nil, err
	}
	for _, rg := range regs {
		switch rg.Fuel {
		case "electricity":
			sup["electricity_import"], sup["electricity_export"] = rg.ImportSupplier, rg.ExportSupplier
		case "gas":
			sup["gas_import"] = rg.ImportSupplier
		}
	}
	return out, nil
}

func (l *Log) transition(ctx context.Context, from, to string) error {
	var allowed bool
	ok, err := eval(ctx, l.transQ, map[string]any{"from": from, "to": to}, &allowed)
	if err != nil {
		return err
	}
	if !ok || !allowed {
		return &Error{Code: CodeTransition, Clause: l.sp.ServiceManagement.Incidents.Clause, Message: fmt.Sprintf("an incident may not move from %s to %s", from, to)}
	}
	return nil
}

// Visible reports whether a party may see an incident (para 250): the user
// that raised it, the responsible supplier, an interested or notified
// party; the DCC sees every incident.
func Visible(inc store.Incident, party string) bool {
	return party == DCC || inc.RaisedBy == party || inc.ResponsibleUser == party ||
		slices.Contains(inc.Interested, party) || slices.Contains(inc.Notified, party)
}

// Get returns an incident and its timeline if the party may see it.
func (l *Log) Get(ctx context.Context, party, id string) (store.Incident, []store.IncidentEvent, error) {
	inc, err := l.st.GetIncident(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !Visible(inc, party)) {
		// The same answer for another user's incident as for none.
		return store.Incident{}, nil, &Error{Code: CodeNotFound, Clause: l.sp.ServiceManagement.SSI.IsolationClause, Message: "no incident " + id}
	} else if err != nil {
		return store.Incident{}, nil, err
	}
	evs, err := l.st.IncidentEvents(ctx, id)
	return inc, evs, err
}

// List lists the incidents a party may see.
func (l *Log) List(ctx context.Context, party string) ([]store.Incident, error) {
	f := store.IncidentLogFilter{Party: party}
	if party == DCC {
		f.Party = ""
	}
	return l.st.ListIncidents(ctx, f)
}

// Update adds an entry to the timeline, with diagnostic data if any (para
// 225): by the user that raised it, the responsible supplier or the DCC.
func (l *Log) Update(ctx context.Context, actor, id, note string, data []byte) (store.Incident, error) {
	inc, _, err := l.Get(ctx, actor, id)
	if err != nil {
		return inc, err
	}
	if actor != DCC && actor != inc.RaisedBy && actor != inc.ResponsibleUser {
		return inc, &Error{Code: CodeNotPermitted, Clause: "para 225-226", Message: "only the raiser, the responsible party or the DCC update an incident"}
	}
	if err := l.step(ctx, "update", actor, inc, map[string]int{"note": runes(note), "data_bytes": len(data)}); err != nil {
		return inc, err
	}
	if note == "" && len(data) == 0 {
		return inc, &Error{Code: CodeInvalid, Clause: "para 225", Message: "an update needs a note or diagnostic data"}
	}
	if data != nil && !json.Valid(data) {
		return inc, &Error{Code: CodeInvalid, Clause: "para 225", Message: "diagnostic data must be JSON"}
	}
	return inc, l.st.UpdateIncident(ctx, inc, inc.Status, store.IncidentEvent{At: l.clk.Now(), Actor: actor, Kind: "update", Status: inc.Status, Note: note, Data: data})
}

// Resolve marks an incident resolved: by the responsible party (the
// supplier, or the DCC). A major incident's review falls due the spec's
// working days later (para 235).
func (l *Log) Resolve(ctx context.Context, actor, id, note string) (store.Incident, error) {
	inc, _, err := l.Get(ctx, actor, id)
	if err != nil {
		return inc, err
	}
	if actor != DCC && actor != inc.ResponsibleUser {
		return inc, &Error{Code: CodeNotPermitted, Clause: "para 228-231", Message: "only the responsible party resolves an incident"}
	}
	if err := l.step(ctx, "resolve", actor, inc, map[string]int{"note": runes(note)}); err != nil {
		return inc, err
	}
	if err := l.transition(ctx, inc.Status, StatusResolved); err != nil {
		return inc, err
	}
	from := inc.Status
	now := l.clk.Now()
	inc.Status, inc.ResolvedAt = StatusResolved, now
	if inc.Major {
		inc.ReviewDueAt = l.sp.ServiceManagement.WorkingDays.AddWorkingDays(now.In(l.loc), l.sp.ServiceManagement.Incidents.Major.ReviewDueWorkingDays).UTC()
	}
	return inc, l.st.UpdateIncident(ctx, inc, from, store.IncidentEvent{At: now, Actor: actor, Kind: "resolved", Status: StatusResolved, Note: note})
}

// Close closes a resolved incident: by the party responsible for its
// closure (para 228-229: the supplier for its meter, IHD, HAN or a visit;
// the DCC for the network and its own services), or the DCC, which keeps
// the log. The raiser, when not responsible, does not close it.
func (l *Log) Close(ctx context.Context, actor, id, note string) (store.Incident, error) {
	inc, _, err := l.Get(ctx, actor, id)
	if err != nil {
		return inc, err
	}
	if actor != DCC && actor != inc.ResponsibleUser {
		return inc, &Error{Code: CodeNotPermitted, Clause: "para 228-229", Message: "only the party responsible for its closure (or the DCC) closes an incident"}
	}
	if err := l.step(ctx, "close", actor, inc, map[string]int{"note": runes(note)}); err != nil {
		return inc, err
	}
	if err := l.transition(ctx, inc.Status, StatusClosed); err != nil {
		return inc, err
	}
	from := inc.Status
	inc.Status, inc.ClosedAt = StatusClosed, l.clk.Now()
	return inc, l.st.UpdateIncident(ctx, inc, from, store.IncidentEvent{At: inc.ClosedAt, Actor: actor, Kind: "closed", Status: StatusClosed, Note: note})
}

// Recategorise is the DCC correcting the category a user chose for an
// incident not closed (para 224: categorisation and prioritisation): the
// priority and the target resolution time follow the new category, the
// target counted from the incident's raising, so that Overdue and
// measures 4 and 5 judge it by the new category. The timeline records the
// old category and the new; the raiser and the responsible user are told.
func (l *Log) Recategorise(ctx context.Context, actor, id, category, note string) (store.Incident, error) {
	inc, _, err := l.Get(ctx, actor, id)
	if err != nil {
		return inc, err
	}
	if err := l.step(ctx, "recategorise", actor, inc, map[string]int{"note": runes(note)}); err != nil {
		return inc, err
	}
	pol := l.sp.ServiceManagement.Incidents
	cat, ok := pol.Categories[category]
	if !ok {
		return inc, &Error{Code: CodeInvalid, Clause: pol.Clause, Message: fmt.Sprintf("incident category %q: allowed are %s", category, strings.Join(pol.CategoryCodes(), ", "))}
	}
	if category == inc.Category {
		return inc, &Error{Code: CodeInvalid, Clause: pol.Clause, Message: fmt.Sprintf("incident %s is of category %s already", inc.ID, category)}
	}
	type grade struct {
		Category string    `json:"category"`
		Priority string    `json:"priority"`
		TargetAt time.Time `json:"target_at"`
	}
	from := grade{inc.Category, inc.Priority, inc.TargetAt.UTC()}
	inc.Category, inc.Priority, inc.TargetAt = category, cat.Priority, inc.RaisedAt.Add(cat.TargetResolution.Std())
	to := grade{inc.Category, inc.Priority, inc.TargetAt.UTC()}
	data, err := json.Marshal(map[string]grade{"from": from, "to": to})
	if err != nil {
		return inc, err
	}
	text := strings.TrimSpace(fmt.Sprintf("recategorised by the DCC (%s) from category %s (%s, target %s) to category %s (%s, target %s). %s",
		l.categorisationClause, from.Category, from.Priority, from.TargetAt.Format(time.RFC3339), to.Category, to.Priority, to.TargetAt.Format(time.RFC3339), note))
	if err := l.st.UpdateIncident(ctx, inc, inc.Status, store.IncidentEvent{At: l.clk.Now(), Actor: actor, Kind: "recategorised", Status: inc.Status, Note: text, Data: data}); err != nil {
		return inc, err
	}
	var to2 []string
	for _, p := range []string{inc.RaisedBy, inc.ResponsibleUser} {
		if p != "" && !slices.Contains(to2, p) {
			to2 = append(to2, p)
		}
	}
	l.tell(ctx, to2, NoticeRecategorised, inc, map[string]any{"previous_category": from.Category, "previous_priority": from.Priority,
		"previous_target_at": from.TargetAt.Format(time.RFC3339), "message": fmt.Sprintf("incident %s: %s", inc.ID, text)})
	return inc, nil
}

// DeclareMajor declares a major incident (para 233-234): the DCC names its
// Major Incident Manager and the responsible party's, and notifies the
// affected parties (the raiser, the responsible supplier and the
// interested parties).
func (l *Log) DeclareMajor(ctx context.Context, id, dccManager, partyManager string) (store.Incident, error) {
	inc, _, err := l.Get(ctx, DCC, id)
	if err != nil {
		return inc, err
	}
	mj := l.sp.ServiceManagement.Incidents.Major
	if dccManager == "" || (inc.ResponsibleParty != DCC && partyManager == "") {
		return inc, &Error{Code: CodeInvalid, Clause: mj.ManagersClause, Message: "a major incident names the DCC's Major Incident Manager and the responsible party's"}
	}
	if inc.Status == StatusClosed {
		return inc, &Error{Code: CodeTransition, Clause: mj.Clause, Message: "a closed incident cannot be declared major"}
	}
	notified := []string{inc.RaisedBy}
	if inc.ResponsibleUser != "" {
		notified = append(notified, inc.ResponsibleUser)
	}
	for _, p := range inc.Interested {
		if p != DCC {
			notified = append(notified, p)
		}
	}
	slices.Sort(notified)
	inc.Major, inc.DCCManager, inc.PartyManager, inc.Notified = true, dccManager, partyManager, slices.Compact(notified)
	if inc.Status == StatusResolved && inc.ReviewDueAt.IsZero() {
		inc.ReviewDueAt = l.sp.ServiceManagement.WorkingDays.AddWorkingDays(inc.ResolvedAt.In(l.loc), mj.ReviewDueWorkingDays).UTC()
	}
	return inc, l.st.UpdateIncident(ctx, inc, inc.Status, store.IncidentEvent{At: l.clk.Now(), Actor: DCC, Kind: "major", Status: inc.Status,
		Note: fmt.Sprintf("declared a major incident (%s): DCC manager %s, responsible party's manager %s; notified %s", mj.Clause, dccManager, partyManager, listed(inc.Notified))})
}

// SubmitReview records the responsible party's review report of a
// resolved major incident (para 235).
func (l *Log) SubmitReview(ctx context.Context, actor, id, report string) (store.Incident, error) {
	inc, _, err := l.Get(ctx, actor, id)
	if err != nil {
		return inc, err
	}
	mj := l.sp.ServiceManagement.Incidents.Major
	responsible := inc.ResponsibleUser
	if inc.ResponsibleParty == DCC {
		responsible = DCC
	}
	switch {
	case !inc.Major:
		return inc, &Error{Code: CodeInvalid, Clause: mj.ReviewClause, Message: "only a major incident has a review"}
	case inc.ResolvedAt.IsZero():
		return inc, &Error{Code: CodeInvalid, Clause: mj.ReviewClause, Message: "the review follows resolution"}
	case actor != responsible:
		return inc, &Error{Code: CodeNotPermitted, Clause: mj.ReviewClause, Message: "the responsible party conducts the review"}
	case report == "":
		return inc, &Error{Code: CodeInvalid, Clause: mj.ReviewClause, Message: "the review report is empty"}
	}
	if err := l.step(ctx, "review", actor, inc, map[string]int{"note": runes(report)}); err != nil {
		return inc, err
	}
	inc.Review, inc.ReviewedAt = report, l.clk.Now()
	return inc, l.st.UpdateIncident(ctx, inc, inc.Status, store.IncidentEvent{At: inc.ReviewedAt, Actor: actor, Kind: "review", Status: inc.Status, Note: "review report submitted"})
}

// ReviewOverdue reports whether a major incident's review report is late
// at time now.
func ReviewOverdue(inc store.Incident, now time.Time) bool {
	return inc.Major && !inc.ReviewDueAt.IsZero() && inc.ReviewedAt.IsZero() && !now.Before(inc.ReviewDueAt)
}

// Overdue reports whether an incident is past its target resolution time
// unresolved.
func Overdue(inc store.Incident, now time.Time) bool {
	return inc.ResolvedAt.IsZero() && now.After(inc.TargetAt)
}

// listed writes parties for a note: "A, B", or "none".
func listed(parties []string) string {
	if len(parties) == 0 {
		return "none"
	}
	return strings.Join(parties, ", ")
}
