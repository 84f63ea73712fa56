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

// Refusal codes beside the policy's (NOT_A_USER, DIAGNOSTIC_REQUIRED,
// DIAGNOSTIC_NOT_OF_DEVICE, NOT_VISIBLE).
const (
	CodeNotAUser           = "NOT_A_USER"
	CodeDiagnosticRequired = "DIAGNOSTIC_REQUIRED"
	// CodeDiagnosticMismatch: the diagnostic attached is of another
	// device than the incident's (para 226-227).
	CodeDiagnosticMismatch = "DIAGNOSTIC_NOT_OF_DEVICE"
	CodeInvalid            = "INVALID"
	CodeNotVisible         = "NOT_VISIBLE"
	CodeNotPermitted       = "NOT_PERMITTED"
	CodeTransition         = "TRANSITION_NOT_ALLOWED"
	CodeNotFound           = "NOT_FOUND"
)

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

	raiseQ, allocQ, transQ rego.PreparedEvalQuery
	// systemAreas are the policy's areas about the DCC's own systems.
	systemAreas []string

	// escalating serialises Escalate and AnswerTicket in this process.
	escalating sync.Mutex
}

// New compiles incidents.rego over the spec. tools are the remote
// diagnostic tools by the spec's names (incidents.diagnostics).
func New(ctx context.Context, st Store, sp *spec.Spec, clk clock.Clock, tools map[string]DiagnoseFunc) (*Log, error) {
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
	for q, dst := range map[string]*rego.PreparedEvalQuery{
		"data.dccgate.incidents.raise":              &l.raiseQ,
		"data.dccgate.incidents.responsibility":     &l.allocQ,
		"data.dccgate.incidents.transition_allowed": &l.transQ,
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
	input := map[string]any{
		"raiser":          map[string]any{"user": isUser, "entered": isUser && u.Entered && !u.Suspended},
		"incident":        map[string]any{"area": in.Area, "device_id": in.DeviceID},
		"diagnosis_named": in.DiagnosisID != "",
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
	var dec struct {
		Allowed bool   `json:"allowed"`
		Code    string `json:"code"`
		Clause  string `json:"clause"`
	}
	if ok, err := eval(ctx, l.raiseQ, input, &dec); err != nil {
		return store.Incident{}, err
	} else if !ok || !dec.Allowed {
		return store.Incident{}, &Error{Code: dec.Code, Clause: dec.Clause, Message: raiseRefusal(dec.Code, in, diag)}
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
	if diag != nil && in.DeviceID == "" {
		in.DeviceID = diag.DeviceID
	}
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
	return l.allocate(ctx, inc, in.NeedsVisit)
}

// raiseRefusal says why the policy refused an incident.
func raiseRefusal(code string, in RaiseInput, diag *Diagnosis) string {
	switch {
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
// supplier registered) it stays open for the DCC to allocate.
func (l *Log) allocate(ctx context.Context, inc store.Incident, visit bool) (store.Incident, error) {
	facts, err := l.facts(ctx, inc.DeviceID)
	if err != nil {
		return inc, err
	}
	var r struct {
		Party      string   `json:"party"`
		UserID     string   `json:"user_id"`
		Rule       string   `json:"rule"`
		Clause     string   `json:"clause"`
		Interested []string `json:"interested"`
	}
	facts["incident"] = map[string]any{"area": inc.Area, "needs_visit": visit}
	ok, err := eval(ctx, l.allocQ, facts, &r)
	if err != nil || !ok {
		return inc, err
	}
	inc.Interested = slices.DeleteFunc(r.Interested, func(p string) bool { return p == inc.RaisedBy && p != r.UserID })
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
	return inc, l.st.UpdateIncident(ctx, inc, from, ev)
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
	if err := l.transition(ctx, inc.Status, StatusClosed); err != nil {
		return inc, err
	}
	from := inc.Status
	inc.Status, inc.ClosedAt = StatusClosed, l.clk.Now()
	return inc, l.st.UpdateIncident(ctx, inc, from, store.IncidentEvent{At: inc.ClosedAt, Actor: actor, Kind: "closed", Status: StatusClosed, Note: note})
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
