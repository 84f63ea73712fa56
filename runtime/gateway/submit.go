package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/reports/traffic"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
	"github.com/dccgate/dccgate/spec/dcc"
)

// States of a request.
const (
	StateAcknowledged      = "acknowledged"
	StatePending           = "pending"
	StateHeld              = "held"
	StateAwaitingSignature = "awaiting_signature"
	StateExecuting         = "executing"
	StateAccepted          = "accepted"
	StateRejected          = "rejected"
	StateQuarantined       = "quarantined"
	StateCancelled         = "cancelled"
	StateExpired           = "expired"
)

// States lists every state a request can be in.
var States = []string{StateAcknowledged, StatePending, StateHeld, StateAwaitingSignature, StateExecuting,
	StateAccepted, StateRejected, StateQuarantined, StateCancelled, StateExpired}

// ErrPermission is returned when a request's User ID is not the caller's.
var ErrPermission = errors.New("gateway: the request's user_id is not the caller's User ID")

// ScheduleSpec is the schedule a 5.1 Create Schedule asks for, as stored.
type ScheduleSpec struct {
	Service string         `json:"service"`
	Every   string         `json:"every"`
	First   time.Time      `json:"first"`
	Body    map[string]any `json:"body,omitempty"`
}

// Submit checks, persists and acknowledges one Service Request sent by
// caller. The returned request is durable. A refusal by the checks of para
// 134 is stored too (for the user's history) and returned with its reason.
//
// A non-critical Submit that finds the process full (Config.MaxInFlight)
// waits for room up to Config.AdmissionWait, then fails with ErrBusy (a
// *BusyError): the request was not received.
func (g *Gateway) Submit(ctx context.Context, caller string, req *engine.Request) (store.Request, error) {
	if ctx.Value(admittedKey{}) == nil {
		release, err := g.admit(ctx, g.critical(req))
		if err != nil {
			return store.Request{}, err
		}
		defer release()
	}
	return g.submitNumbered(ctx, caller, req, g.submitOnce)
}

// Admit takes req's place as Submit does (waiting for room, or failing
// with ErrBusy), for a caller with work of its own to do before it
// submits: the DUIS endpoint records the request's envelope first, which
// a request refused busy should not cost. Submit with the returned
// context takes no second place; release gives the place back, once
// Submit has returned.
func (g *Gateway) Admit(ctx context.Context, req *engine.Request) (admitted context.Context, release func(), err error) {
	if release, err = g.admit(ctx, g.critical(req)); err != nil {
		return ctx, nil, err
	}
	return context.WithValue(ctx, admittedKey{}, true), release, nil
}

// admittedKey marks a context whose request has its place (Admit).
type admittedKey struct{}

func (g *Gateway) critical(req *engine.Request) bool {
	svc := g.Spec().ServiceByKey(spec.Key(req.Service, req.Variant))
	return svc != nil && svc.Critical
}

// submitOnce is one attempt of Submit.
func (g *Gateway) submitOnce(ctx context.Context, caller string, req *engine.Request) (store.Request, error) {
	if req.UserID != caller {
		return store.Request{}, ErrPermission
	}
	unlock := sync.OnceFunc(g.lockUser(caller))
	defer unlock()
	now := g.clk.Now()

	pre, err := g.readForChecks(ctx, caller, req, now)
	if err != nil {
		return store.Request{}, err
	}
	var user store.User
	switch {
	case pre == nil:
		user, err = g.user(ctx, caller)
	case pre.UserFound:
		user = pre.User
	default:
		err = store.ErrNotFound
	}
	known := err == nil && user.Entered
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Request{}, err
	}
	if known {
		if r, ok := g.roles.Load(caller); !ok || r != user.Role {
			g.roles.Store(caller, user.Role)
		}
	}
	if p, ok := g.pending.Load(caller); ok && p.(uint64) > user.LastCounter {
		// A request of the user's still being committed holds that counter.
		user.LastCounter = p.(uint64)
	}
	// pipeline: the insert may be queued and the user's lock released
	// before it commits; not where an anomaly threshold counts the user's
	// stored requests, which must then include every earlier one.
	pipeline := true
	save := func(rec store.Request, counter uint64) (store.Request, error) {
		return g.store(ctx, rec, counter, unlock, pipeline)
	}

	// The request ID: originatorID:targetID:counter, the counter above the
	// user's last (the interface's replay protection).
	counter := user.LastCounter + 1
	numbered := req.RequestID != ""
	// After a counter of 2^64-1 none is above the last: the gateway cannot
	// number a request (it would wrap to 0), though the user's own IDs are
	// refused as replays all the same.
	if !numbered && counter != 0 {
		target := req.DeviceID
		if target == "" {
			target = "00-00-00-00-00-00-00-00"
		}
		req.RequestID = fmt.Sprintf("%s:%s:%d", caller, target, counter)
	}
	rec := store.Request{
		ID: req.RequestID, UserID: caller, Service: spec.Key(req.Service, req.Variant), DeviceID: req.DeviceID,
		Category: nz(req.Category, "on_demand"), Delivery: nz(req.Delivery, "wan"), ExecuteAt: req.ExecuteAt,
		ReceivedAt: now,
	}
	if req.Schedule != nil {
		rec.Schedule, _ = json.Marshal(ScheduleSpec{Service: req.Schedule.Service, Every: req.Schedule.Every.String(), First: req.Schedule.First, Body: req.Schedule.Body})
	}
	if b, err := json.Marshal(req.Body); err == nil {
		rec.Body = b
	}
	if known && !numbered && counter == 0 {
		return g.refuse(rec, dcc.ReasonReplay, fmt.Sprintf("no counter is above the last one accepted, %d: the gateway cannot number the request", user.LastCounter)), nil
	}
	if known {
		c, perr := parseRequestID(req.RequestID, caller, req.DeviceID)
		if perr != nil {
			return g.refuse(rec, dcc.ReasonMalformed, perr.Error()), nil
		}
		if c <= user.LastCounter {
			return g.refuse(rec, dcc.ReasonReplay, fmt.Sprintf("counter %d is not above the last one accepted, %d", c, user.LastCounter)), nil
		}
		counter = c
	}
	if t, ok := outOfRange(req); ok {
		return g.refuse(rec, dcc.ReasonMalformed, "the time "+t.UTC().Format(time.RFC3339)+" is beyond the times the gateway keeps"), nil
	}
	if known {
		if out, ok := g.maintenanceRefusal(rec, now); ok {
			return save(out, counter)
		}
	}

	facts, err := g.facts(ctx, req, user, known, now, pre)
	if err != nil {
		return store.Request{}, err
	}
	pipeline = facts.Anomaly.Count == 0
	// The predecessor is read once, before the checks: held behind one
	// that changes the inventory, the device's state is checked when the
	// request is released (para 126-127; the policy's deferred_when_held),
	// and a request checked so is stored held, never run at once (one
	// whose predecessor ends meanwhile is released by recheckPredecessor,
	// with those checks).
	var pred store.Request
	var predErr error
	if known && req.After != "" {
		pred, predErr = g.st.GetRequest(ctx, req.After)
		if predErr == nil && pred.UserID == caller && !pred.Final() {
			facts.HeldBehind = pred.Service
		}
	}
	if known && certificateProblem(user, presented(ctx), now) != "" {
		facts.Credentials.CertificateInvalid = true
	}
	d := g.engine().Decide(ctx, req, facts)
	g.observer().Decided(spec.Key(req.Service, req.Variant), nz(req.Category, "on_demand"), d.Outcome, string(d.Reason))
	if d.Body != nil {
		if b, err := json.Marshal(d.Body); err == nil {
			rec.Body = b
		}
	}
	if d.Service != nil {
		rec.DueAt = g.dueAt(d.Service, rec)
	}
	switch d.Outcome {
	case engine.Rejected, engine.Quarantined:
		rec.State, rec.Reason, rec.Clause, rec.Message = d.Outcome, string(d.Reason), d.Clause, d.Detail
		rec.CompletedAt = now
		if !known {
			// Nothing is stored for a caller that is not a user: it has no
			// history and no counter.
			return rec, nil
		}
		return save(rec, counter)
	}

	// Sequencing (para 126-127): held until the predecessor succeeds.
	state := StateAcknowledged
	if req.Category == "future_dated" {
		state = StatePending
	}
	if after := req.After; after != "" {
		rec.After = after
		switch err := predErr; {
		case errors.Is(err, store.ErrNotFound) || (err == nil && pred.UserID != caller):
			rec.State, rec.Reason, rec.Clause, rec.Message = StateRejected, string(dcc.ReasonMalformed), dcc.ReasonClauses[dcc.ReasonMalformed], "the preceding request "+after+" is not one of the user's"
			rec.CompletedAt = now
			return save(rec, counter)
		case err != nil:
			return store.Request{}, err
		case pred.State == StateAccepted:
		case pred.Final():
			rec.State, rec.Reason, rec.Clause, rec.Message = StateRejected, string(dcc.ReasonPredecessorFailed), dcc.ReasonClauses[dcc.ReasonPredecessorFailed], "the preceding request "+after+" did not succeed"
			rec.CompletedAt = now
			return save(rec, counter)
		default:
			state = StateHeld
		}
	}
	if state == StateAcknowledged && g.cfg.Traffic != nil {
		// Para 273: at times of stress the policy may defer or refuse.
		td, err := g.cfg.Traffic.Decide(ctx, traffic.Request{Service: rec.Service, Category: rec.Category}, traffic.Load{InFlight: g.Stats().InFlight})
		if err != nil {
			return store.Request{}, err
		}
		switch td.Action {
		case traffic.Refuse:
			rec.State, rec.Reason, rec.Clause, rec.Message = StateRejected, td.Reason, td.Clause, td.Detail
			rec.CompletedAt = now
			return save(rec, counter)
		case traffic.Defer:
			state = StatePending
			rec.ExecuteAt = now.Add(td.DeferFor)
			rec.Message = td.Reason + ": " + td.Detail
		}
	}
	if d.PreCommand && state != StateHeld {
		if rec.PreCommand, err = g.PreCommand(rec); err != nil {
			rec.State, rec.Reason, rec.Clause, rec.Message = StateRejected, string(dcc.ReasonMalformed), dcc.ReasonClauses[dcc.ReasonMalformed], "the request cannot be transformed: "+err.Error()
			rec.CompletedAt = now
			return save(rec, counter)
		}
		if d.Service.CoS {
			// Change of Supplier: the CoS Party checks again and signs
			// (para 144-146); the sender signs nothing.
			if reason, msg := g.cosCheck(ctx, rec); reason != "" {
				rec.State, rec.Reason, rec.Clause, rec.Message = StateRejected, string(reason), "para 145", msg
				rec.CompletedAt = now
				return save(rec, counter)
			}
			if rec.Signed, err = g.cosSign(rec.PreCommand); err != nil {
				return store.Request{}, err
			}
		} else {
			state = StateAwaitingSignature
			rec.DueAt = g.signatureDue(rec, now)
		}
	}
	rec.State = state
	if state == StateHeld {
		g.markAwaited(rec.After)
	}
	out, err := save(rec, counter)
	if err != nil {
		return out, err
	}
	switch {
	case state == StateAcknowledged && out.State == StateAcknowledged:
		// Stored as it was meant to be: not an attempt the store refused
		// (a counter another process took), whose ID is not this request's.
		g.enqueueFresh(out)
	case state == StateHeld && out.State == StateHeld:
		if err := g.recheckPredecessor(context.WithoutCancel(ctx), out); err != nil {
			g.log.Warn("releasing a held request", "request", out.ID, "err", err)
		}
	}
	return out, nil
}

// store persists a new request; a repeated ID is a replay.
//
// Where the store queues inserts (store.AsyncInserter) and pipeline is
// set, the user's lock is released (unlock) once the insert is queued,
// before it commits: the user's next request is checked against the
// counter this one takes (g.pending), and the store commits the two in
// order. The caller then waits for the commit before acknowledging, so a
// request is still durable before its acknowledgement.
func (g *Gateway) store(ctx context.Context, rec store.Request, counter uint64, unlock func(), pipeline bool) (store.Request, error) {
	var err error
	if ai, ok := g.st.(store.AsyncInserter); ok && pipeline {
		wait := ai.InsertRequestAsync(ctx, rec, counter)
		if counter > 0 {
			g.pending.Store(rec.UserID, counter)
		}
		unlock()
		err = wait()
		if counter > 0 {
			if err == nil {
				g.tookCounter(rec.UserID, counter)
			}
			// Committed, the store's counter covers it; not stored (a
			// caller gone, a failed write), the counter is free again
			// unless a later request already holds a higher one.
			g.pending.CompareAndDelete(rec.UserID, counter)
		}
	} else if err = g.st.InsertRequest(ctx, rec, counter); err == nil && counter > 0 {
		g.tookCounter(rec.UserID, counter)
	}
	switch {
	case errors.Is(err, store.ErrStale), errors.Is(err, store.ErrDuplicate):
		if counter > 0 {
			g.forgetUser(rec.UserID) // the store's counter may be ahead of ours
		}
		return g.refuse(rec, dcc.ReasonReplay, "the Request ID was already used"), nil
	case err != nil:
		return store.Request{}, err
	}
	return rec, nil
}

// refuse returns a refused request without storing it (its ID may belong to
// another request).
func (g *Gateway) refuse(rec store.Request, reason dcc.Reason, msg string) store.Request {
	rec.State, rec.Reason, rec.Clause, rec.Message = StateRejected, string(reason), dcc.ReasonClauses[reason], msg
	rec.CompletedAt = g.clk.Now()
	return rec
}

func nz(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// parseRequestID checks originatorID:targetID:counter against the sender
// and the target and returns the counter.
func parseRequestID(id, user, device string) (uint64, error) {
	parts := strings.Split(id, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("request_id %q is not originatorID:targetID:counter", id)
	}
	if parts[0] != user {
		return 0, fmt.Errorf("request_id %q: the originator must be the sender %s", id, user)
	}
	if device != "" && parts[1] != device {
		return 0, fmt.Errorf("request_id %q: the target must be the device %s", id, device)
	}
	c, err := strconv.ParseUint(parts[2], 10, 64)
	if err != nil || c == 0 {
		return 0, fmt.Errorf("request_id %q: the counter must be a positive decimal", id)
	}
	return c, nil
}

// engineRegistrations are the records as the engine reads them.
func engineRegistrations(regs []store.Registration) []engine.Registration {
	var out []engine.Registration
	for _, r := range regs {
		out = append(out, engine.Registration{MPxN: r.MPxN, Fuel: r.Fuel, ImportSupplier: r.ImportSupplier, ExportSupplier: r.ExportSupplier, NetworkOperator: r.NetworkOperator,
			Postcode: r.Postcode, Premises: r.Premises, UPRN: r.UPRN})
	}
	return out
}

// outOfRange finds an execution time (or a schedule's first run) the store
// cannot keep, leaving a year's room for the response to fall due after
// it: such a request is malformed, not an error of the store.
func outOfRange(req *engine.Request) (time.Time, bool) {
	times := []time.Time{req.ExecuteAt}
	if req.Schedule != nil {
		times = append(times, req.Schedule.First)
	}
	latest := store.MaxTime.AddDate(-1, 0, 0)
	for _, t := range times {
		if !t.IsZero() && (t.Before(store.MinTime) || t.After(latest)) {
			return t, true
		}
	}
	return time.Time{}, false
}

// dueAt is when the Service Response is due: the Target Response Time of the
// service's category from receipt, or from the execution time.
// An execution time before receipt (none given, or in the past: the
// request is refused) counts from receipt.
func (g *Gateway) dueAt(svc *spec.Service, r store.Request) time.Time {
	exec := r.ExecuteAt
	if exec.Before(r.ReceivedAt) {
		exec = r.ReceivedAt
	}
	switch r.Category {
	case "future_dated":
		if svc.FutureDated != nil {
			return exec.Add(svc.FutureDated.Std())
		}
	case "scheduled":
		if svc.Scheduled != nil {
			return exec.Add(svc.Scheduled.Std())
		}
	default:
		if svc.OnDemand != nil {
			return r.ReceivedAt.Add(svc.OnDemand.Std())
		}
	}
	return time.Time{}
}

// readForChecks reads the caller, the target device and the registration
// record of the device's MPxN in one statement, on a shared store that
// can (store.CheckReader): there every submission reads them from the
// store (no process may keep a copy), three round trips apart. nil: read
// them one by one, as a store this process owns keeps them in memory.
func (g *Gateway) readForChecks(ctx context.Context, caller string, req *engine.Request, now time.Time) (*store.CheckRead, error) {
	if g.checks == nil {
		return nil, nil
	}
	r, err := g.checks.ReadForChecks(ctx, caller, req.DeviceID, checkTime(req, now))
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &r, nil
}

// checkTime is when the Registration Data a request is checked against
// must be in effect: when it executes.
func checkTime(req *engine.Request, now time.Time) time.Time {
	if !req.ExecuteAt.IsZero() {
		return req.ExecuteAt
	}
	return now
}

// facts loads what the engine needs to know about a request; pre, if not
// nil, holds the device and its MPxN's record read with the user.
func (g *Gateway) facts(ctx context.Context, req *engine.Request, user store.User, known bool, now time.Time, pre *store.CheckRead) (*engine.Facts, error) {
	f := &engine.Facts{Now: now, User: engine.User{Known: known, Role: user.Role, Suspended: user.Suspended}}
	if req.DeviceID != "" {
		var d store.Device
		var err error
		switch {
		case pre == nil:
			d, err = g.st.GetDevice(ctx, req.DeviceID)
		case pre.DeviceFound:
			d = pre.Device
		default:
			err = store.ErrNotFound
		}
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			// A device that is not a hub and is on no hub's Device Log is on
			// no HAN (a meter removed from its hub's by 8.11).
			f.Device = engine.Device{Known: true, Type: d.Type, Status: d.Status, NoHub: d.Type != "CHF" && d.CHF == ""}
			switch {
			case g.commissions(req.Service):
				if err := g.commissioningFacts(ctx, d, &f.Device); err != nil {
					return nil, err
				}
			case d.CHF != "" && d.Type != "CHF" && req.Delivery != "local":
				// Whether the DCC can reach the device over the SMWAN: its
				// hub's status.
				if pre != nil {
					f.Device.CHFStatus = pre.CHFStatus
				} else if c, err := g.st.GetDevice(ctx, d.CHF); err == nil {
					f.Device.CHFStatus = c.Status
				} else if !errors.Is(err, store.ErrNotFound) {
					return nil, err
				}
			}
			var regs []store.Registration
			if pre != nil && d.MPxN != "" {
				regs = pre.Registrations // the record of d's own MPxN, read with it
			} else if regs, f.Device.Unbound, err = g.checkedRegistration(ctx, d, checkTime(req, now)); err != nil {
				return nil, err
			}
			f.Registration = engineRegistrations(regs)
		}
	}
	if err := g.listedFacts(ctx, req, now, f); err != nil {
		return nil, err
	}
	if known {
		// Every threshold that applies is counted (para 134, footnote 14):
		// the first one the request passes quarantines it.
		for _, rule := range g.anomalyRules(spec.Key(req.Service, req.Variant), req.Service, user.Role) {
			// The user's Service Requests that passed the other checks
			// (para 134): those refused later, when run, too; not the runs
			// of its schedules, which the DCC makes (para 124). A rule on
			// a reference counts every row of it (1.1's two variants).
			services := []string{spec.Key(req.Service, req.Variant)}
			if rule.Service == req.Service && req.Variant != "" {
				services = services[:0]
				for _, s := range g.sp().ServicesByRef(req.Service) {
					services = append(services, spec.Key(s.Ref, s.Variant))
				}
			}
			n, err := g.st.CountRequests(ctx, store.CountFilter{UserID: user.ID, Services: services, Since: now.Add(-rule.Per), Until: now,
				// Not those refused, nor those whose Pre-Command was never
				// signed (expired): like one whose signature failed, they
				// did not pass the credentials check (para 134).
				States: []string{StateAcknowledged, StatePending, StateHeld, StateAwaitingSignature, StateExecuting, StateAccepted, StateQuarantined, StateCancelled}, ExecutedRejections: true})
			if err != nil {
				return nil, err
			}
			a := engine.Anomaly{Count: n + 1, Max: rule.Max}
			if f.Anomaly.Count == 0 || a.Count > a.Max {
				f.Anomaly = a
			}
			if a.Count > a.Max {
				break
			}
		}
	}
	return f, nil
}

// listedFacts loads what the engine needs of the devices a request adds to
// or removes from its hub's Device Log (8.11): whether the inventory holds
// each (para 182-184, 187) and the records of its own MPxN, for the
// Registration Data check (para 184 at premises of two fuels). A device
// named twice is read once.
func (g *Gateway) listedFacts(ctx context.Context, req *engine.Request, now time.Time, f *engine.Facts) error {
	svc := g.sp().ServiceByKey(spec.Key(req.Service, req.Variant))
	if svc == nil {
		return nil
	}
	seen := map[string]bool{}
	for _, kind := range []string{"add", "remove"} {
		for _, name := range svc.DeviceLogFields(kind) {
			for _, id := range strs(req.Body[name]) {
				if seen[id] {
					continue
				}
				seen[id] = true
				d, err := g.st.GetDevice(ctx, id)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				regs, err := g.ownRegistration(ctx, d, checkTime(req, now))
				if err != nil {
					return err
				}
				if f.Listed == nil {
					f.Listed = map[string]engine.Listed{}
				}
				f.Listed[id] = engine.Listed{Type: d.Type, Status: d.Status, Registration: engineRegistrations(regs)}
			}
		}
	}
	return nil
}

// ownRegistration returns the Registration Data in effect at `at` for a
// device's own MPxN: a meter's, that of the meter it is associated with,
// or a Gas Proxy Function's gas meter's; none for a device with none of
// them (not the MPxNs of a hub it is on: those are the hub's).
func (g *Gateway) ownRegistration(ctx context.Context, d store.Device, at time.Time) ([]store.Registration, error) {
	mpxn := d.MPxN
	if mpxn == "" && d.Meter != "" {
		m, err := g.st.GetDevice(ctx, d.Meter)
		switch {
		case err == nil:
			mpxn = m.MPxN
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	if mpxn == "" && d.Type == "GPF" {
		// A Gas Proxy Function is the gas meter's (footnote 17, para
		// 191): its MPRN is that of the gas meter on its hub.
		mpxns, err := g.mpxnsOf(ctx, d)
		if err != nil || len(mpxns) == 0 {
			return nil, err
		}
		return g.st.Registrations(ctx, mpxns, at)
	}
	if mpxn == "" {
		return nil, nil
	}
	return g.st.Registrations(ctx, []string{mpxn}, at)
}

// anomalyRules returns the thresholds that apply to a request for the row
// key (of the reference ref) from a user of role, in their order.
func (g *Gateway) anomalyRules(key, ref, role string) []AnomalyRule {
	g.anomalyMu.RLock()
	defer g.anomalyMu.RUnlock()
	var out []AnomalyRule
	for _, r := range g.anomaly {
		if (r.Service == key || r.Service == ref) && (r.Role == "" || r.Role == role) && r.Max >= 0 && r.Per > 0 {
			out = append(out, r)
		}
	}
	return out
}

// commissions reports whether a row of the service ref commissions a
// device: only those need the facts of para 187 (three more reads).
func (g *Gateway) commissions(ref string) bool {
	for _, s := range g.sp().ServicesByRef(ref) {
		if s.Commissions {
			return true
		}
	}
	return false
}

// gasMeterOf picks, of the gas meters on a hub, the one its Gas Proxy
// serves: of those in DCC Services, the one furthest on (the spec's status
// order: commissioned, then installed, then pending); one replaced
// (decommissioned, withdrawn) only if there is no other, so that a
// replacement's old meter, still on the inventory (para 167, 176), is
// never taken for the new one.
func (g *Gateway) gasMeterOf(ms []store.Device) string {
	rank := func(status string) int {
		if st := g.sp().Status(status); st != nil && st.InService {
			return -st.Order
		}
		return 0
	}
	best, bestRank := "", 0
	for _, m := range ms {
		if r := rank(m.Status); best == "" || r < bestRank {
			best, bestRank = m.ID, r
		}
	}
	return best
}

// commissioningFacts fills what para 187 asks about a device's hub, meter
// and MPxN.
func (g *Gateway) commissioningFacts(ctx context.Context, d store.Device, f *engine.Device) error {
	statusOf := func(id string) (string, error) {
		if id == "" {
			return "", nil
		}
		x, err := g.st.GetDevice(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return "", nil
		}
		return x.Status, err
	}
	var err error
	chf := d.CHF
	if d.Type == "CHF" {
		chf = d.ID
	}
	meter := d.Meter
	if chf == "" && meter != "" {
		if m, err := g.st.GetDevice(ctx, meter); err == nil {
			chf = m.CHF
		}
	}
	if f.CHFStatus, err = statusOf(chf); err != nil {
		return err
	}
	if d.Type == "GPF" && meter == "" && chf != "" {
		// The Gas Proxy's meter is the gas meter on its hub.
		ms, err := g.st.Devices(ctx, store.DeviceFilter{CHF: chf, Type: "GSME"})
		if err != nil {
			return err
		}
		meter = g.gasMeterOf(ms)
	}
	if f.MeterStatus, err = statusOf(meter); err != nil {
		return err
	}
	if d.MPxN != "" {
		others, err := g.st.Devices(ctx, store.DeviceFilter{MPxN: d.MPxN})
		if err != nil {
			return err
		}
		for _, o := range others {
			if o.ID != d.ID && o.Status == "commissioned" && (o.Type == "ESME" || o.Type == "GSME") {
				f.MPxNHasMeter = true
			}
		}
	}
	return nil
}

// mpxnsOf returns the MPxNs a device relates to: its own, its meter's, or
// those of the meters on a hub.
func (g *Gateway) mpxnsOf(ctx context.Context, d store.Device) ([]string, error) {
	return relatedMPxNs(d, func(id string) (store.Device, error) { return g.st.GetDevice(ctx, id) },
		func(chf string) ([]store.Device, error) { return g.st.Devices(ctx, store.DeviceFilter{CHF: chf}) })
}

// relatedMPxNs is mpxnsOf's rule, reading a device by ID and the devices on
// a hub with the functions given (the store's, or a premises at hand).
func relatedMPxNs(d store.Device, device func(id string) (store.Device, error), onHub func(chf string) ([]store.Device, error)) ([]string, error) {
	if d.MPxN != "" {
		return []string{d.MPxN}, nil
	}
	if d.Meter != "" {
		m, err := device(d.Meter)
		if err == nil && m.MPxN != "" {
			return []string{m.MPxN}, nil
		}
	}
	chf := d.CHF
	if d.Type == "CHF" {
		chf = d.ID
	}
	if chf == "" {
		return nil, nil
	}
	ms, err := onHub(chf)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		if m.MPxN == "" || (d.Type == "GPF" && m.Type != "GSME") {
			continue
		}
		out = append(out, m.MPxN)
	}
	return out, nil
}

// registrationFor returns the Registration Data in effect at `at` for the
// MPxNs a device relates to.
func (g *Gateway) registrationFor(ctx context.Context, d store.Device, at time.Time) ([]store.Registration, error) {
	regs, _, err := g.registrationOf(ctx, d, at)
	return regs, err
}

// checkedRegistration is registrationOf as the Registration Data check
// reads it: a hub is bound to the MPxNs of the meters installed on it (the
// spec's statuses' installed), not to one only pre-notified naming it, nor
// to one withdrawn or decommissioned (para 134, 184). A hub with none is
// unbound.
func (g *Gateway) checkedRegistration(ctx context.Context, d store.Device, at time.Time) (regs []store.Registration, unbound bool, err error) {
	mpxns, err := relatedMPxNs(d, func(id string) (store.Device, error) { return g.st.GetDevice(ctx, id) },
		func(chf string) ([]store.Device, error) {
			ds, err := g.st.Devices(ctx, store.DeviceFilter{CHF: chf})
			out := ds[:0]
			for _, m := range ds {
				if st := g.sp().Status(m.Status); st != nil && st.Installed {
					out = append(out, m)
				}
			}
			return out, err
		})
	if err != nil || len(mpxns) == 0 {
		return nil, err == nil, err
	}
	regs, err = g.st.Registrations(ctx, mpxns, at)
	return regs, false, err
}

// registrationOf is registrationFor, and whether the device relates to no
// MPxN at all (unbound: a hub with no meter yet), which no record can name
// anyone for.
func (g *Gateway) registrationOf(ctx context.Context, d store.Device, at time.Time) (regs []store.Registration, unbound bool, err error) {
	mpxns, err := g.mpxnsOf(ctx, d)
	if err != nil || len(mpxns) == 0 {
		return nil, err == nil, err
	}
	regs, err = g.st.Registrations(ctx, mpxns, at)
	return regs, false, err
}
