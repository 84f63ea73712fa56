package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dccgate/dccgate/devices"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/precommand"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
	"github.com/dccgate/dccgate/spec/dcc"
)

// PreCommand is the Pre-Command of a critical request: the Command the
// device will act on in the gateway's device-ready binary encoding (the
// Transform, package precommand, docs/precommand.md), which the user
// correlates and signs as it is.
func (g *Gateway) PreCommand(r store.Request) ([]byte, error) {
	svc := g.sp().ServiceByKey(r.Service)
	if svc == nil {
		return nil, errf("no service %s", r.Service)
	}
	body, err := precommand.ParseBody(r.Body)
	if err != nil {
		return nil, err
	}
	return preCommand(svc, r, body)
}

// preCommand is PreCommand of a body parsed already (precommand.ParseBody).
func preCommand(svc *spec.Service, r store.Request, exact map[string]any) ([]byte, error) {
	return precommand.Encode(svc, precommand.Command{RequestID: r.ID, Service: r.Service, DeviceID: r.DeviceID, UserID: r.UserID, ExecuteAt: r.ExecuteAt, Body: exact})
}

// SubmitSigned takes the user's signature over a Pre-Command (para 155):
// verified against the user's certificate, the request goes on to be
// executed; a signature that does not verify refuses it.
func (g *Gateway) SubmitSigned(ctx context.Context, caller, requestID string, signed, signature []byte) (store.Request, error) {
	return g.SubmitSignedFor(ctx, caller, requestID, signed, signature, "")
}

// SubmitSignedFor is SubmitSigned where the user chooses, with the signed
// Pre-Command, how the Command is delivered (DUIS command variants 5, 6
// and 7: over the SMWAN, locally, or both); "" keeps the request's own.
func (g *Gateway) SubmitSignedFor(ctx context.Context, caller, requestID string, signed, signature []byte, delivery string) (store.Request, error) {
	switch delivery {
	case "", "wan", "local", "both":
	default:
		return store.Request{}, errf("unknown delivery %q", delivery)
	}
	r, err := g.st.GetRequest(ctx, requestID)
	if err != nil {
		return store.Request{}, err
	}
	if r.UserID != caller {
		// Another user's request is not to be seen, nor its existence
		// (as GetRequest and Cancel).
		return store.Request{}, store.ErrNotFound
	}
	if r.State != StateAwaitingSignature {
		return r, errf("request %s is %s, not awaiting a signature", requestID, r.State)
	}
	user, err := g.user(ctx, caller)
	if err != nil {
		return store.Request{}, err
	}
	prev := r.State
	if user.Suspended {
		// A signed Pre-Command is checked as a Service Request is (para
		// 134), the user's rights first: suspended since it was sent
		// (Section M8), it is refused.
		r = failed(r, dcc.ReasonUserSuspended, "the user's rights are suspended (Section M8): its signed Pre-Command is refused")
		r.CompletedAt = g.clk.Now()
		if err := g.finish(ctx, r, prev); err != nil {
			return store.Request{}, err
		}
		return r, nil
	}
	if problem := certificateProblem(user, presented(ctx), g.clk.Now()); problem != "" {
		r.State, r.Reason, r.Clause = StateRejected, string(dcc.ReasonCertificateInvalid), dcc.ReasonClauses[dcc.ReasonCertificateInvalid]
		r.Message, r.CompletedAt = problem, g.clk.Now()
		if err := g.finish(ctx, r, prev); err != nil {
			return store.Request{}, err
		}
		return r, nil
	}
	ok := string(signed) == string(r.PreCommand)
	if ok {
		cert, cerr := parseRegistered(user.CertPEM)
		ok = cerr == nil && pki.Verify(cert, signed, signature)
	}
	if !ok {
		r.State, r.Reason, r.Clause = StateRejected, string(dcc.ReasonSignatureInvalid), dcc.ReasonClauses[dcc.ReasonSignatureInvalid]
		r.Message = "the signed Pre-Command does not verify against the user's certificate"
		r.CompletedAt = g.clk.Now()
		if err := g.finish(ctx, r, prev); err != nil {
			return store.Request{}, err
		}
		return r, nil
	}
	if r.Signed, err = precommand.AppendSignature(signed, signature); err != nil {
		return store.Request{}, err
	}
	// The Target Response Time runs from the signed Pre-Command (the
	// deadline for signing no longer applies).
	if svc := g.sp().ServiceByKey(r.Service); svc != nil {
		at := r
		at.ReceivedAt = g.clk.Now()
		r.DueAt = g.dueAt(svc, at)
	}
	if delivery != "" {
		r.Delivery = delivery
	}
	r.State = StateAcknowledged
	if r.Category == "future_dated" && r.ExecuteAt.After(g.clk.Now()) {
		r.State = StatePending
	}
	if _, err := g.st.UpdateRequest(ctx, r, prev, nil); err != nil {
		return store.Request{}, err
	}
	if r.State == StateAcknowledged {
		g.enqueueFresh(r)
	}
	return r, nil
}

// execute runs one acknowledged request, once: the claim (claim) and the
// final update are both conditional, so a request another worker (or
// process) took is left to it.
func (g *Gateway) execute(ctx context.Context, id string) error {
	r, role, from, ok, err := g.claim(ctx, id)
	if err != nil || !ok {
		return err
	}
	if g.leaser == nil {
		defer g.claimed.Delete(id)
	}
	retried := strings.HasPrefix(r.Message, retryNote)
	out := g.run(ctx, r, role)
	if later, ok := g.retryLater(out); ok {
		return g.deferRetry(ctx, out, from, later)
	}
	if retried && out.Reason == string(reasonSMWANUnavailable) {
		// A future dated request the SMWAN failed to deliver in every
		// round its target left room for: say there were several.
		out.Message += fmt.Sprintf("; the last of %d rounds of tries since its execution time, each %s apart, within its target response time", out.Attempts, g.cfg.RetryLater)
	}
	if out.State == StateAccepted && strings.HasPrefix(out.Message, retryNote) {
		out.Message = "" // delivered: the note of the tries before is history
	}
	out.CompletedAt = g.clk.Now()
	return g.finish(ctx, out, from)
}

// retryNote begins the message of a request pending again after the
// SMWAN failed to deliver its Command.
const retryNote = "the SMWAN did not deliver the Command"

// retryLater says when a request the SMWAN could not deliver is to be
// tried again: RetryLater from now, for a future dated request whose
// target response time still has room for that and a Command's tries
// (the SMWAN budget); not for others (on demand: 30 seconds), nor once
// the target is too close. Nor for a schedule's run: its schedule's next
// run is its retry (a daily one's falls within the same 24 hours), and a
// run moved later would be taken for another.
func (g *Gateway) retryLater(r store.Request) (time.Time, bool) {
	if r.Reason != string(reasonSMWANUnavailable) || g.cfg.RetryLater <= 0 || r.DueAt.IsZero() || r.Delivery == "local" {
		return time.Time{}, false
	}
	if r.Category != "future_dated" || r.ScheduleID != "" {
		return time.Time{}, false
	}
	at := g.clk.Now().Add(g.cfg.RetryLater)
	if at.Add(g.SMWANBudget()).After(r.DueAt) {
		return time.Time{}, false
	}
	return at, true
}

// deferRetry puts r back to pending, to run at at (RunDue takes it), with
// a message saying why; no Service Response is sent: the request has not
// ended. The move is conditional on r's claim (from), as a final update.
func (g *Gateway) deferRetry(ctx context.Context, r store.Request, from string, at time.Time) error {
	msg := r.Message
	r.State, r.Reason, r.Clause, r.CompletedAt = StatePending, "", "", time.Time{}
	r.ExecuteAt = at
	r.Message = fmt.Sprintf("%s (%s); tried again at %s, within the target response time (until %s)",
		retryNote, strings.TrimPrefix(msg, "the device did not answer over the SMWAN: "), at.UTC().Format(time.RFC3339), r.DueAt.UTC().Format(time.RFC3339))
	// Not an end: the requests held behind it stay held (settle, with
	// nothing to respond, moves no successor of a request not final).
	return g.settle(ctx, r, from, false, g.execute)
}

// finish stores a request's final state with its Service Response on the
// user's stream and, in the same store transaction, the moves of the
// requests sequenced after it (settle); those it releases then run in the
// goroutine that finished it: the chain completes as one piece of work.
func (g *Gateway) finish(ctx context.Context, r store.Request, from string) error {
	return g.settle(ctx, r, from, true, g.execute)
}

// settleTries bounds settle's tries: each after the first follows a
// change, at the same moment, of the requests held behind (one stored, or
// one moved by another: its user cancelled it).
const settleTries = 16

// settle stores r's move from `from` (with its Service Response if
// respond) and, in the same transaction (store.UpdateRequests), the moves
// of the requests held behind each request it ends: released when it
// succeeded, cancelled with PREDECESSOR_FAILED otherwise (para 127), so
// that no reader sees a request ended with a successor still held (a
// chain is cancelled whole). Then run takes on those now acknowledged.
// Every move is conditional on the state read: a request another worker
// or process moved first is left to it.
//
// A request with no successor costs no read: the first try reads the
// successors only of a request this process noted (markAwaited: on a
// store of its own, the note of every held request); the store refuses an
// end that leaves one held (on a shared store, the first news of one),
// and every later try reads the successors of each request it ends.
func (g *Gateway) settle(ctx context.Context, r store.Request, from string, respond bool, run func(context.Context, string) error) error {
	var outage storeOutage
	for try := 1; ; try++ {
		ups, read, err := g.moves(ctx, r, from, respond, try > 1)
		if err == nil {
			if _, err = g.st.UpdateRequests(ctx, ups); err == nil {
				outage.over(g, r.ID)
				return g.settled(ctx, ups, read, run)
			}
		}
		var ue *store.UpdateError
		moved := errors.As(err, &ue) && ue.Index > 0 && (errors.Is(err, store.ErrStale) || errors.Is(err, store.ErrNotFound))
		switch {
		case (moved || errors.Is(err, store.ErrHeldSuccessor)) && try < settleTries:
			// Its successors changed since they were read: read them again.
		case ue != nil && ue.Index == 0 && errors.Is(err, store.ErrStale):
			return nil // moved elsewhere (completed, released): nothing twice
		case store.Transient(err):
			// The store is failing for a while (a connection lost, the
			// server restarting or out of connections): the work is done
			// and its outcome is here, so it is stored when the store is
			// back, not left executing under a lease this process keeps
			// renewing, nor run again on the device by another.
			if !outage.wait(ctx, g, "a request's outcome", r.ID, err) {
				return err
			}
			try = 0
		default:
			return err
		}
	}
}

// storeOutage paces settle's tries while the store fails transiently:
// from 50 ms, doubling, to 2 s between tries, for as long as the
// gateway runs (the work stays this process's; its lease is renewed).
type storeOutage struct {
	tries int
	pause time.Duration
}

// wait logs the failure to store what (about id: a request, a device) the
// first time and then every tenth, and waits before the next try; false
// if the gateway is stopping.
func (o *storeOutage) wait(ctx context.Context, g *Gateway, what, id string, err error) bool {
	o.tries++
	if o.tries == 1 || o.tries%10 == 0 {
		g.log.Warn("storing "+what+": the store is failing; trying again", "id", id, "tries", o.tries, "err", err)
	}
	o.pause = min(max(2*o.pause, 50*time.Millisecond), 2*time.Second)
	select {
	case <-ctx.Done():
		return false
	case <-g.wall.After(o.pause):
		return true
	}
}

// over logs that an outcome was stored after the store failed.
func (o *storeOutage) over(g *Gateway, id string) {
	if o.tries > 0 {
		g.log.Info("stored a request's outcome once the store was back", "request_id", id, "tries", o.tries+1)
	}
}

// moves is settle's updates: r's own, then, for each request they end
// (r, or a successor cancelled with it), the moves of the requests held
// behind it. all reads those of every request ended; else only of the
// requests this process noted. read lists the requests whose successors
// it read.
func (g *Gateway) moves(ctx context.Context, r store.Request, from string, respond, all bool) (ups []store.RequestUpdate, read []string, err error) {
	first := g.update(r, from, respond)
	if from == StateHeld {
		first = g.releasedUpdate(r)
	}
	ups = []store.RequestUpdate{first}
	for i := 0; i < len(ups); i++ {
		p := ups[i].Request
		if !p.Final() || !all && !g.noted(p.ID) {
			continue
		}
		held, err := g.st.ListRequests(ctx, store.RequestFilter{After: p.ID, States: []string{StateHeld}})
		if err != nil {
			return nil, nil, err
		}
		read = append(read, p.ID)
		for _, h := range held {
			m, err := g.released(ctx, p, h)
			if err != nil {
				return nil, nil, err
			}
			ups = append(ups, g.releasedUpdate(m))
		}
	}
	return ups, read, nil
}

// noted reports whether a held request of this process's store waits on
// the request id (markAwaited); always false on a shared store, where the
// store says it.
func (g *Gateway) noted(id string) bool {
	if g.leaser != nil {
		return false
	}
	_, ok := g.awaited.Load(id)
	return ok
}

// update is r's update from `from`, with its Service Response on the
// user's stream if respond.
func (g *Gateway) update(r store.Request, from string, respond bool) store.RequestUpdate {
	u := store.RequestUpdate{Request: r, From: from}
	if respond {
		payload, _ := json.Marshal(store.ResponsePayload{RequestID: r.ID, Service: r.Service, State: r.State, Reason: r.Reason, Clause: r.Clause,
			Message: r.Message, DeviceID: r.DeviceID, Response: orNull(r.Response)})
		// The response's time is the request's completion, so the stream
		// and GetRequest give one time.
		at := r.CompletedAt
		if at.IsZero() {
			at = g.clk.Now()
		}
		u.Deliveries = []store.Delivery{{UserID: r.UserID, Kind: "response", RequestID: r.ID, DeviceID: r.DeviceID, Payload: payload, CreatedAt: at, DueAt: r.DueAt}}
	}
	return u
}

// releasedUpdate is update for h released from held: a final h is
// answered; a critical one now awaiting its signature is sent its
// Pre-Command on the user's stream (at submission the answer carried it),
// due when its signature is. It is no Service Response (para 155), so it
// is not what the response time is measured to.
func (g *Gateway) releasedUpdate(h store.Request) store.RequestUpdate {
	u := g.update(h, StateHeld, h.Final())
	if h.State == StateAwaitingSignature {
		payload, _ := json.Marshal(store.ResponsePayload{RequestID: h.ID, Service: h.Service, State: h.State, DeviceID: h.DeviceID,
			Response: orNull(nil), PreCommand: h.PreCommand})
		u.Deliveries = []store.Delivery{{UserID: h.UserID, Kind: "pre_command", RequestID: h.ID, DeviceID: h.DeviceID, Payload: payload, CreatedAt: g.clk.Now(), DueAt: h.DueAt}}
	}
	return u
}

// settled follows settle's commit: the notes of the requests whose
// successors were read dropped (those moved with them; a note taken
// since is settleAwaited's), the users woken for their responses, the
// completions observed, and those released acknowledged taken on by run.
func (g *Gateway) settled(ctx context.Context, ups []store.RequestUpdate, read []string, run func(context.Context, string) error) error {
	if g.leaser == nil {
		for _, id := range read {
			g.awaited.Delete(id)
		}
	}
	for _, u := range ups {
		r := u.Request
		if len(u.Deliveries) > 0 {
			g.notifyUser(r.UserID)
		}
		if !r.Final() {
			continue
		}
		start := g.measuredFrom(r)
		var target time.Duration
		if !r.DueAt.IsZero() && r.State != StateExpired {
			target = r.DueAt.Sub(start)
		}
		g.observer().Completed(r.Service, r.Category, r.State, r.Reason, r.CompletedAt.Sub(start), target)
	}
	var errs []error
	for _, u := range ups {
		if u.Request.State == StateAcknowledged {
			if err := run(ctx, u.Request.ID); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// measuredFrom is MeasuredFrom under the gateway's spec.
func (g *Gateway) measuredFrom(r store.Request) time.Time { return MeasuredFrom(g.sp(), r) }

// MeasuredFrom is when a request's response time starts, under the spec
// sp: its receipt, or its execution time for a future dated or scheduled
// one. That time is what its target (DueAt) was counted from at
// submission; a request tried again later (deferRetry) has had its
// ExecuteAt moved since, so the start is counted back from DueAt by the
// row's target. The SSI shows the time a request took from it.
func MeasuredFrom(sp *spec.Spec, r store.Request) time.Time {
	start := r.ReceivedAt
	if r.Category != "future_dated" && r.Category != "scheduled" {
		return start
	}
	if svc := sp.ServiceByKey(r.Service); svc != nil && !r.DueAt.IsZero() && r.State != StateExpired {
		var target *spec.Duration
		if r.Category == "future_dated" {
			target = svc.FutureDated
		} else {
			target = svc.Scheduled
		}
		if target != nil {
			if s := r.DueAt.Add(-target.Std()); s.After(start) {
				return s
			}
			return start
		}
	}
	if r.ExecuteAt.After(start) {
		start = r.ExecuteAt
	}
	return start
}

func orNull(b []byte) []byte {
	if len(b) == 0 {
		return []byte("null")
	}
	return b
}

// releaseSuccessors moves the requests still held on r, which is final
// (settleAwaited: a note that outlived the release it was for).
func (g *Gateway) releaseSuccessors(ctx context.Context, r store.Request) error {
	if g.leaser == nil {
		if _, ok := g.awaited.LoadAndDelete(r.ID); !ok {
			return nil
		}
	}
	held, err := g.st.ListRequests(ctx, store.RequestFilter{After: r.ID, States: []string{StateHeld}})
	if err != nil {
		return err
	}
	for _, h := range held {
		if err := g.release(ctx, r, h, g.execute); err != nil {
			return err
		}
	}
	return nil
}

// recheckPredecessor releases a successor stored held after its
// predecessor ended (whose end, committed before the successor's insert,
// did not move it), or left held by a stop between the two: with the
// successor stored, the predecessor is read again and, if final, the
// successor is released and queued. Its moves are conditional on "held",
// so it moves once.
func (g *Gateway) recheckPredecessor(ctx context.Context, h store.Request) error {
	pred, err := g.st.GetRequest(ctx, h.After)
	if errors.Is(err, store.ErrNotFound) {
		pred = store.Request{ID: h.After, State: StateRejected} // gone: it cannot succeed
	} else if err != nil || !pred.Final() {
		return err
	}
	return g.release(ctx, pred, h, func(_ context.Context, id string) error {
		g.enqueue(id)
		return nil
	})
}

// releaseHeld rechecks the held requests: one may have been stored after
// its predecessor ended, and a stop come before its recheck. Alone on its
// store a process reads every held one, each noted awaited; on a shared
// store, where nothing is noted, only those whose predecessor is final or
// gone (one query, normally empty). Another process releasing the same
// one at once does no harm: the moves are conditional on "held".
func (g *Gateway) releaseHeld(ctx context.Context) error {
	held, err := g.st.ListRequests(ctx, store.RequestFilter{States: []string{StateHeld}, PredecessorDone: g.leaser != nil})
	if err != nil {
		return err
	}
	for _, h := range held {
		g.markAwaited(h.After)
		if err := g.recheckPredecessor(ctx, h); err != nil {
			return err
		}
	}
	return nil
}

// settleAwaited runs releaseSuccessors for each noted predecessor that
// is final: in a few races (a predecessor found final at start or just
// after a successor's check, a successor the store refused, one noted
// just after its predecessor's end read the notes) a note outlives the
// release it was for. Running it again moves only what is still held,
// and drops the note.
func (g *Gateway) settleAwaited(ctx context.Context) error {
	var ids []string
	g.awaited.Range(func(k, _ any) bool {
		ids = append(ids, k.(string))
		return true
	})
	for _, id := range ids {
		pred, err := g.st.GetRequest(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			g.awaited.Delete(id) // its successors were rechecked against nothing: rejected
		case err != nil:
			return err
		case pred.Final():
			if err := g.releaseSuccessors(ctx, pred); err != nil {
				return err
			}
		}
	}
	return nil
}

// markAwaited notes that a held request waits on the request id. It comes
// before the held request is stored, and before releaseHeld's recheck: a
// predecessor ending after it reads its successors, and moves them with
// its end; one that ended before is caught by recheckPredecessor; and the
// store refuses an end that would leave a held one behind, between the two.
func (g *Gateway) markAwaited(id string) {
	if g.leaser == nil {
		g.awaited.Store(id, struct{}{})
	}
}

// release moves h, held on the final request r, with the requests it ends
// in turn (settle); run takes it on when it is acknowledged.
func (g *Gateway) release(ctx context.Context, r, h store.Request, run func(context.Context, string) error) error {
	m, err := g.released(ctx, r, h)
	if err != nil {
		return err
	}
	return g.settle(ctx, m, StateHeld, m.Final(), run)
}

// released is h's move once r, its predecessor, has ended (para 127): if
// r succeeded, h goes on (acknowledged; pending if dated ahead; a critical
// one awaiting its signature with its Pre-Command, a Change of Supplier
// signed by the CoS Party, or refused by it); if not, h is cancelled with
// PREDECESSOR_FAILED.
func (g *Gateway) released(ctx context.Context, r, h store.Request) (store.Request, error) {
	now := g.clk.Now()
	if r.State != StateAccepted {
		h.State, h.Reason, h.Clause = StateCancelled, string(dcc.ReasonPredecessorFailed), dcc.ReasonClauses[dcc.ReasonPredecessorFailed]
		h.Message = "the preceding request " + r.ID + " did not succeed"
		h.CompletedAt = now
		return h, nil
	}
	svc := g.sp().ServiceByKey(h.Service)
	switch {
	case svc != nil && svc.Critical:
		pc, err := g.PreCommand(h)
		if err != nil {
			// As at submission; the predecessor's end must not wait on it.
			h.State, h.Reason, h.Clause = StateRejected, string(dcc.ReasonMalformed), dcc.ReasonClauses[dcc.ReasonMalformed]
			h.Message, h.CompletedAt = "the request cannot be transformed: "+err.Error(), now
			return h, nil
		}
		h.PreCommand = pc
		h.State = StateAwaitingSignature
		if !svc.CoS {
			// The user has the time to sign from now, as at submission
			// (para 155): its due time may have passed while it was held.
			h.DueAt = g.signatureDue(h, now)
			return h, nil
		}
		// The CoS Party signs a held Change of Supplier too.
		if reason, msg := g.cosCheck(ctx, h); reason != "" {
			h.State, h.Reason, h.Clause, h.Message, h.CompletedAt = StateRejected, string(reason), "para 145", msg, now
			return h, nil
		}
		if h.Signed, err = g.cosSign(pc); err != nil {
			return h, err
		}
		h.State = StateAcknowledged
		if h.Category == "future_dated" && h.ExecuteAt.After(now) {
			h.State = StatePending
		}
	case h.Category == "future_dated" && h.ExecuteAt.After(now):
		h.State = StatePending
	default:
		h.State = StateAcknowledged
	}
	if svc != nil && !svc.Critical && g.sp().Performance.HeldFrom == "release" {
		// Executed only now (para 127), it is due from now: the time it
		// was held is its predecessor's, not the DCC's.
		from := h
		from.ReceivedAt = now
		h.DueAt = g.dueAt(svc, from)
	}
	return h, nil
}

// signatureDue is when a Pre-Command returned at now expires unsigned:
// SignatureTTL from now, or the request's execution time if later, so that
// a request dated days ahead may be signed any time before it runs (para
// 155 sets no time).
func (g *Gateway) signatureDue(r store.Request, now time.Time) time.Time {
	due := now.Add(g.cfg.SignatureTTL)
	if r.ExecuteAt.After(due) {
		return r.ExecuteAt
	}
	return due
}

// run executes a request and returns it with its result. role is the
// user's, when the claim read it; "" looks it up.
func (g *Gateway) run(ctx context.Context, r store.Request, role string) store.Request {
	svc := g.sp().ServiceByKey(r.Service)
	if svc == nil {
		return failed(r, dcc.ReasonMalformed, "unknown service")
	}
	var body map[string]any
	if len(r.Body) > 0 {
		_ = json.Unmarshal(r.Body, &body)
	}
	later := r.ExecuteAt.After(r.ReceivedAt) || r.After != ""
	if role == "" && (later || svc.DeviceService) {
		role = g.roleOf(ctx, r.UserID)
	}
	if later {
		// The user's rights may have been suspended since its checks
		// (para 134, Section M8): first, as at submission.
		if out, refused := g.suspendedAtRun(ctx, r); refused {
			return out
		}
	}
	if !svc.DeviceService {
		if later {
			// The DCC's activities run later too (8.6 future dated, any
			// held behind a predecessor), when the device may have been
			// withdrawn or decommissioned (para 125, 175-177): the row's
			// statuses, as at submission.
			if out, refused := g.statusAtDue(ctx, r, role); refused {
				return out
			}
		}
		return g.activity(ctx, r, svc.Ref, body)
	}
	if later {
		// Checked at submission, but run later: when it fell due, or when
		// its predecessor released it.
		if out, refused := g.statusAtDue(ctx, r, role); refused {
			return out
		}
	}
	if later && r.Delivery != "local" {
		// A local commissioning is checked again when its response comes
		// back by 8.13, where the inventory records it (afterCommand).
		if err := g.commissioningRefused(ctx, r); err != nil {
			if out, ok := refused(r, err, ", when the request fell due (para 187)"); ok {
				return out
			}
			return failed(r, "DCC_ERROR", err.Error())
		}
	}
	release, err := g.materialise(ctx, r.DeviceID)
	if err != nil {
		return failed(r, "DCC_ERROR", "the device cannot be reached in the emulation: "+err.Error())
	}
	defer release()
	if from := str(body["from_chf"]); from != "" {
		// 8.12: the new hub takes over the old one's Device Log, so the
		// old hub is emulated too for the Command.
		releaseFrom, err := g.materialise(ctx, from)
		if err != nil {
			return failed(r, "DCC_ERROR", "the device cannot be reached in the emulation: "+err.Error())
		}
		defer releaseFrom()
	}
	// A Device Log change (8.11) is not: its check counts the devices it
	// names beside the hub's MPxNs, which only submission gathers.
	if r.ScheduleID != "" || r.Category == "future_dated" && len(svc.DeviceLogFields("add"))+len(svc.DeviceLogFields("remove")) == 0 {
		if out, refused := g.notRegisteredAtRun(ctx, r, role); refused {
			return out
		}
	}
	cmd := devices.Command{RequestID: r.ID, Service: r.Service, Device: r.DeviceID, Sender: r.UserID, SenderRole: role, Critical: svc.Critical, Body: body}
	exact, err := precommand.ParseBody(r.Body)
	if err == nil {
		cmd.Body = exact // int64s above 2^53 as the Pre-Command has them
	}
	var losing string
	if svc.Critical {
		g.ensureCredentials(ctx, r, body)
		if svc.CoS {
			// Signed by the CoS Party at submission; checked again here.
			if !g.cosVerify(r) {
				return failed(r, dcc.ReasonSignatureInvalid, "the CoS Party's signature does not verify")
			}
			// The CoS Party reconfirms the request when it runs (para
			// 145): a future dated one may have lost its ground since (the
			// sender's registration withdrawn).
			if reason, msg := g.cosCheck(ctx, r); reason != "" {
				return failedWith(r, reason, msg, "para 144-145")
			}
			if st, ok := g.em().fleet.Get(r.DeviceID); ok {
				losing = st.Credentials[devices.CredSupplier]
			}
		}
	}
	// The Command: the (Signed) Pre-Command with the DCC's MAC (para 132).
	// The device verifies both, and who signed.
	if cmd.Authenticated, err = g.seal(svc, r, exact); err != nil {
		return failed(r, dcc.ReasonMalformed, "the request cannot be made a Command: "+err.Error())
	}
	if r.Delivery == "local" {
		// A Command for Local Delivery goes back to the user (para 193).
		return g.localCommand(r, cmd)
	}
	resp, tries, err := g.send(ctx, cmd)
	if err != nil {
		why := err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			why = fmt.Sprintf("no answer within %s", g.cfg.CommandTimeout)
		}
		msg := "the device did not answer over the SMWAN: " + why
		if tries > 1 {
			msg += fmt.Sprintf(" (%d tries)", tries)
		}
		return failed(r, reasonSMWANUnavailable, msg)
	}
	if !resp.OK {
		code := dcc.Reason(resp.Reason)
		if code == "" {
			code = dcc.ReasonDeviceRejected
		}
		r = failed(r, code, resp.Detail)
		return r
	}
	if svc.Ref == "8.9" {
		// The DCC's stored copy of the Device Log (para 188) with the
		// device's answer.
		if log, err := g.DeviceLog(ctx, r.DeviceID); err == nil {
			if resp.Data == nil {
				resp.Data = map[string]any{}
			}
			resp.Data["dcc_device_log"] = log
		}
	}
	r.Response, _ = json.Marshal(resp.Data)
	r.State = StateAccepted
	if svc.CoS {
		g.changedSupplier(ctx, r, losing)
		g.holdCredential(ctx, r.DeviceID, r.UserID)
	}
	if err := g.afterCommand(ctx, r, svc.Ref, body); err != nil {
		if out, ok := refused(r, err, ""); ok {
			return out
		}
		return failed(r, "DCC_ERROR", err.Error())
	}
	if r.Delivery == "both" {
		lc := g.localCommand(r, cmd)
		r.Response = lc.Response
	}
	return r
}

func (g *Gateway) localCommand(r store.Request, cmd devices.Command) store.Request {
	// The Pre-Command is binary: it goes into the JSON as base64.
	b, _ := json.Marshal(map[string]any{"command": cmd, "pre_command": r.PreCommand, "signed_pre_command": r.Signed})
	r.Response, _ = json.Marshal(map[string]any{"local_command": json.RawMessage(b)})
	r.State = StateAccepted
	return r
}

// statusAtDue checks again, for a request that runs later than it was
// checked (future dated, or held behind its predecessor), that its device
// may still receive it over the SMWAN: its status, and its hub's (para
// 175-177), or that it is still on a hub's Device Log at all (for a DCC
// activity, the row's statuses alone); and for a Command for Local
// Delivery, that the device's status still allows one for the user's role
// (note 406).
func (g *Gateway) statusAtDue(ctx context.Context, r store.Request, role string) (store.Request, bool) {
	sc, ok := behind[engine.StatusChecker](g.engine())
	if !ok {
		return r, false
	}
	d, err := g.st.GetDevice(ctx, r.DeviceID)
	if err != nil {
		return r, false // gone from the inventory, or unread: the device answers for itself
	}
	ed := engine.Device{Known: true, Type: d.Type, Status: d.Status, NoHub: d.Type != "CHF" && d.CHF == ""}
	if d.CHF != "" && d.CHF != d.ID {
		if hub, err := g.st.GetDevice(ctx, d.CHF); err == nil {
			ed.CHFStatus = hub.Status
		}
	}
	allowed, detail, clause := true, "", ""
	if r.Delivery != "local" { // over the SMWAN (wan, both)
		allowed, detail, clause = sc.StatusAllows(r.Service, ed)
	}
	if allowed && (r.Delivery == "local" || r.Delivery == "both") {
		allowed, detail, clause = sc.LocalStatusAllows(r.Service, role, ed)
	}
	if allowed {
		return r, false
	}
	return failedWith(r, dcc.ReasonDeviceStatus, detail+": when the request fell due (para 175-177)", clause), true
}

// commissioningRefused puts a commissioning (a row that commissions) to
// the checks of para 187 again, on the inventory as it is now: a
// statusError with the engine's reason and clause if the DCC is no longer
// to commission the device, nil otherwise (or for any other row).
func (g *Gateway) commissioningRefused(ctx context.Context, r store.Request) error {
	svc := g.sp().ServiceByKey(r.Service)
	if svc == nil || !svc.Commissions {
		return nil
	}
	sc, ok := behind[engine.StatusChecker](g.engine())
	if !ok {
		return nil
	}
	d, err := g.st.GetDevice(ctx, r.DeviceID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the status move answers for a device gone
	}
	if err != nil {
		return err
	}
	ed := engine.Device{Known: true, Type: d.Type, Status: d.Status}
	if err := g.commissioningFacts(ctx, d, &ed); err != nil {
		return err
	}
	if allowed, reason, detail, clause := sc.CommissioningAllows(r.Service, ed); !allowed {
		return statusError{code: reason, msg: detail, clause: clause}
	}
	return nil
}

// suspendedAtRun refuses a request that runs later than it was checked
// (future dated, or held behind its predecessor) whose user's rights have
// been suspended meanwhile (para 134: the user "has not had rights to do
// so suspended"): the DCC acts for no suspended user, as it keeps none of
// its schedules (para 125).
func (g *Gateway) suspendedAtRun(ctx context.Context, r store.Request) (store.Request, bool) {
	u, err := g.user(ctx, r.UserID)
	if err != nil || !u.Suspended {
		return r, false
	}
	return failed(r, dcc.ReasonUserSuspended, "the user's rights were suspended before the request ran (Section M8)"), true
}

// notRegisteredAtRun checks a schedule's run, or a future dated request
// when it falls due, against the Registration Data in force then, as the
// engine checks a Service Request of its service (para 134, footnote 13):
// creating the schedule was not checked (para 139), a future dated request
// against the records as they stood when it was received (a later file of
// the Registration Data may say otherwise for its date), and the sender may
// have lost the MPxN since (a change of supplier).
func (g *Gateway) notRegisteredAtRun(ctx context.Context, r store.Request, role string) (store.Request, bool) {
	rc, ok := behind[engine.RegistrationChecker](g.engine())
	if !ok {
		return r, false
	}
	d, err := g.st.GetDevice(ctx, r.DeviceID)
	if err != nil {
		return r, false
	}
	regs, unbound, err := g.checkedRegistration(ctx, d, g.clk.Now())
	if err != nil {
		return r, false
	}
	registered, detail, clause := rc.Registered(r.Service, role, r.UserID, engineRegistrations(regs), unbound)
	if registered {
		return r, false
	}
	when := ", when the schedule's run falls due"
	if r.ScheduleID == "" {
		when = ", when the request falls due"
	}
	return failedWith(r, dcc.ReasonNotRegistered, detail+when, clause), true
}

// failedWith is failed with the clause given (the engine's, for the row),
// where there is one, in place of the code's own.
func failedWith(r store.Request, code dcc.Reason, msg, clause string) store.Request {
	out := failed(r, code, msg)
	if clause != "" {
		out.Clause = clause
	}
	return out
}

func failed(r store.Request, code dcc.Reason, msg string) store.Request {
	r.State, r.Reason, r.Message = StateRejected, string(code), msg
	r.Clause = dcc.ReasonClauses[code]
	return r
}

// RunDue starts the future dated requests that are due, runs due schedules,
// expires Pre-Commands never signed, and waits until the work it started
// is done (so a virtual clock's Advance returns with it run).
func (g *Gateway) RunDue(ctx context.Context) error {
	g.runMu.Lock()
	defer g.runMu.Unlock()
	now := g.clk.Now()
	g.em().fleet.Tick() // devices act on the time that passed (credit, billing)
	limit := g.cfg.DueBatch
	err := inBatches(limit, g.cfg.Workers, func() ([]store.Request, error) {
		return g.st.ListRequests(ctx, store.RequestFilter{States: []string{StatePending}, DueBefore: now, Limit: limit})
	}, func(r store.Request) string { return r.DeviceID }, func(r store.Request) error {
		r.State = StateAcknowledged
		if _, err := g.st.UpdateRequest(ctx, r, StatePending, nil); err != nil {
			if errors.Is(err, store.ErrStale) {
				return nil // started elsewhere
			}
			return err
		}
		return g.execute(ctx, r.ID)
	})
	if err != nil {
		return err
	}
	err = inBatches(limit, g.cfg.Workers, func() ([]store.Schedule, error) {
		return g.st.ListSchedules(ctx, store.ScheduleFilter{DueBefore: now, Limit: limit})
	}, func(s store.Schedule) string { return s.DeviceID }, func(s store.Schedule) error {
		for !s.Next.After(now) {
			if err := g.runSchedule(ctx, s); err != nil {
				return err
			}
			next := s.Next.Add(s.Every)
			if err := g.st.AdvanceSchedule(ctx, s.ID, s.Next, next); err != nil {
				if errors.Is(err, store.ErrStale) {
					return nil // advanced elsewhere
				}
				return err
			}
			s.Next = next
		}
		return nil
	})
	if err != nil {
		return err
	}
	if g.cfg.OnDue != nil {
		g.cfg.OnDue(ctx)
	}
	// Only those past their time are read: Pre-Commands may wait for their
	// signature an hour each, and most are still in time.
	waiting, err := g.st.ListRequests(ctx, store.RequestFilter{States: []string{StateAwaitingSignature}, OverdueBy: now})
	if err != nil {
		return err
	}
	for _, r := range waiting {
		r.State, r.Reason, r.Message, r.CompletedAt = StateExpired, "SIGNATURE_TIMEOUT", "the Pre-Command was not signed in time", now
		r.Clause = "para 155"
		if err := g.finish(ctx, r, StateAwaitingSignature); err != nil {
			return err
		}
	}
	if err := g.settleAwaited(ctx); err != nil {
		return err
	}
	return g.purgeHistory(ctx, now)
}

// inBatches runs due work a batch at a time, so a million runs due at
// midnight are not all read at once: list reads the soonest (at most
// limit, those done no longer listed), and each batch runs by device,
// until a batch comes short.
func inBatches[T any](limit, workers int, list func() ([]T, error), device func(T) string, do func(T) error) error {
	for {
		batch, err := list()
		if err != nil {
			return err
		}
		if err := byDevice(workers, batch, device, do); err != nil {
			return err
		}
		if len(batch) < limit {
			return nil
		}
	}
}

// byDevice calls do for each item: the items of one device one after
// another in their order, so a device's due work keeps its order, and
// different devices side by side on up to workers goroutines, so due work
// is committed in groups rather than one write at a time. A device's
// items stop at its first error; the errors are joined.
func byDevice[T any](workers int, items []T, device func(T) string, do func(T) error) error {
	if len(items) == 0 {
		return nil
	}
	groups := make(map[string][]T)
	var order []string
	for _, it := range items {
		d := device(it)
		if _, ok := groups[d]; !ok {
			order = append(order, d)
		}
		groups[d] = append(groups[d], it)
	}
	work := make(chan []T)
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for range min(workers, len(order)) {
		wg.Go(func() {
			for mine := range work {
				for _, it := range mine {
					if err := do(it); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
						break
					}
				}
			}
		})
	}
	for _, d := range order {
		work <- groups[d]
	}
	close(work)
	wg.Wait()
	return errors.Join(errs...)
}

// purgeBatch bounds one purge transaction, so the writer is not held long.
const purgeBatch = 1000

// purgeHistory deletes, once a day, the Service Request history past its
// retention (para 248: kept for the spec's archive_years, then gone): the
// final requests received before then, with their responses, and older
// alerts. A request still to run stays.
func (g *Gateway) purgeHistory(ctx context.Context, now time.Time) error {
	years := g.sp().ServiceManagement.SSI.ArchiveYears
	p, ok := store.As[store.Purger](g.st)
	if years <= 0 || !ok || now.Before(g.nextPurge) {
		return nil
	}
	cut := now.AddDate(-years, 0, 0)
	total := 0
	for {
		n, err := p.PurgeBefore(ctx, cut, purgeBatch)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		total += n
	}
	g.nextPurge = now.Add(24 * time.Hour)
	if total > 0 {
		g.log.Info("history past its retention deleted", "rows", total, "received_before", cut, "clause", g.sp().ServiceManagement.SSI.HistoryClause)
	}
	return nil
}

// NextDue is the earliest time at which pending work falls due, or zero.
func (g *Gateway) NextDue(ctx context.Context, until time.Time) (time.Time, error) {
	var next time.Time
	// Both lists come soonest first: the first of each is enough.
	pend, err := g.st.ListRequests(ctx, store.RequestFilter{States: []string{StatePending}, DueBefore: until, Limit: 1})
	if err != nil {
		return next, err
	}
	for _, r := range pend {
		if next.IsZero() || r.ExecuteAt.Before(next) {
			next = r.ExecuteAt
		}
	}
	scheds, err := g.st.ListSchedules(ctx, store.ScheduleFilter{DueBefore: until, Limit: 1})
	if err != nil {
		return next, err
	}
	for _, s := range scheds {
		if next.IsZero() || s.Next.Before(next) {
			next = s.Next
		}
	}
	return next, nil
}

// Advance moves a virtual clock by d, stopping at each time work falls due
// so every occurrence runs at its time.
func (g *Gateway) Advance(ctx context.Context, d time.Duration) (time.Time, error) {
	if g.cfg.Virtual == nil {
		return time.Time{}, errors.New("gateway: the clock is not virtual")
	}
	target := g.clk.Now().Add(d)
	for {
		next, err := g.NextDue(ctx, target)
		if err != nil {
			return time.Time{}, err
		}
		if next.IsZero() {
			break
		}
		g.WaitIdle(ctx)
		if next.After(g.clk.Now()) {
			g.cfg.Virtual.Set(next)
		}
		if err := g.RunDue(ctx); err != nil {
			return time.Time{}, err
		}
	}
	g.cfg.Virtual.Set(target)
	if err := g.RunDue(ctx); err != nil {
		return time.Time{}, err
	}
	g.WaitIdle(ctx)
	return g.clk.Now(), nil
}

// runSchedule makes one run of a schedule: a request of the scheduled
// service on the owner's behalf, executed now, whose response goes to the
// owner (para 124).
func (g *Gateway) runSchedule(ctx context.Context, s store.Schedule) error {
	svc := g.sp().ServiceByKey(s.Service)
	r := store.Request{UserID: s.UserID, Service: s.Service, DeviceID: s.DeviceID, Category: "scheduled", Delivery: "wan",
		ExecuteAt: s.Next, Body: g.runBody(s), State: StateAcknowledged, ReceivedAt: g.clk.Now(), ScheduleID: s.ID}
	if svc != nil {
		r.DueAt = g.dueAt(svc, r)
	}
	// The run's ID is made of the device and the due time, so every
	// process that sees the run due makes the same, and the store takes
	// it once. Another schedule of the device due at the same instant has
	// the next free counter (schedules are run in the same order
	// everywhere, by Next then ID).
	for k := int64(0); ; k++ {
		r.ID = fmt.Sprintf("%s:%s:%d", g.sp().DCCIDs.DCC, s.DeviceID, s.Next.UnixNano()+k)
		err := g.st.InsertRequest(ctx, r, 0)
		if err == nil {
			return g.execute(ctx, r.ID)
		}
		if !errors.Is(err, store.ErrDuplicate) {
			return fmt.Errorf("schedule %s run: %w", s.ID, err)
		}
		other, err := g.st.GetRequest(ctx, r.ID)
		if err != nil {
			return fmt.Errorf("schedule %s run: %w", s.ID, err)
		}
		if other.ScheduleID == s.ID || k == 63 {
			return nil // this run exists already
		}
	}
}

// ErrNotCancellable is returned for a request that has started or ended.
var ErrNotCancellable = errors.New("gateway: only a request that has not started (pending, held or awaiting its signature) can be cancelled")

// Cancel cancels one of the caller's requests that has not started. Its
// Service Response says so, and requests sequenced after it are cancelled
// with PREDECESSOR_FAILED.
func (g *Gateway) Cancel(ctx context.Context, caller, requestID string) (store.Request, error) {
	r, err := g.st.GetRequest(ctx, requestID)
	if err != nil {
		return store.Request{}, err
	}
	if r.UserID != caller {
		return store.Request{}, store.ErrNotFound
	}
	switch r.State {
	case StatePending, StateHeld, StateAwaitingSignature:
	default:
		return r, ErrNotCancellable
	}
	prev := r.State
	r.State, r.Reason, r.Message, r.CompletedAt = StateCancelled, "CANCELLED_BY_USER", "cancelled by the user before it started", g.clk.Now()
	r.Clause = "para 128"
	if err := g.finish(ctx, r, prev); err != nil {
		return store.Request{}, err
	}
	return g.st.GetRequest(ctx, requestID)
}

// ensureCredentials places the registered supplier's credential on a device
// that holds none yet, as an installer does at installation (para 140):
// the supplier registered for the device's MPxNs, or for a hub taking over
// a Device Log (8.12), for the MPxNs of the log it restores.
func (g *Gateway) ensureCredentials(ctx context.Context, r store.Request, body map[string]any) {
	fleet := g.em().fleet
	st, ok := fleet.Get(r.DeviceID)
	if !ok || st.Credentials[devices.CredSupplier] != "" && st.Credentials[devices.CredExportSupplier] != "" {
		return
	}
	d, err := g.st.GetDevice(ctx, r.DeviceID)
	if err != nil {
		return
	}
	regs, _ := g.registrationFor(ctx, d, g.clk.Now())
	if len(regs) == 0 && str(body["from_chf"]) != "" {
		if old, err := g.st.GetDevice(ctx, str(body["from_chf"])); err == nil {
			regs, _ = g.registrationFor(ctx, old, g.clk.Now())
		}
	}
	if st.Credentials == nil {
		st.Credentials = map[string]string{}
	}
	set := func(kind, holder string) {
		if holder != "" && st.Credentials[kind] == "" {
			_ = fleet.SetCredential(d.ID, kind, holder)
			st.Credentials[kind] = holder
			if kind == devices.CredSupplier {
				g.holdCredential(ctx, d.ID, holder)
			}
		}
	}
	for _, rg := range leadFirst(regs) {
		if credentialOf(d, rg) {
			set(devices.CredSupplier, rg.ImportSupplier)
			set(devices.CredExportSupplier, rg.ExportSupplier)
		}
	}
}

// holdCredential records in the inventory whose supplier credential the
// device now holds (para 140-141), so that the device keeps it across a
// restart and a re-emulation, whatever the Registration Data says by then:
// only a Change of Supplier moves it (para 143-146). Best effort: the
// device itself holds it meanwhile.
func (g *Gateway) holdCredential(ctx context.Context, id, holder string) {
	d, err := g.st.GetDevice(ctx, id)
	if err != nil || d.Credentials == holder {
		return
	}
	d.Credentials, d.UpdatedAt = holder, g.clk.Now()
	if err := g.st.PutDevice(ctx, d); err != nil {
		g.log.Warn("recording a device's credential holder", "device", id, "err", err)
	}
}

// cosCheck is the CoS Party's own check (para 145): the sender is, or is to
// become, the Registered Supplier of the device's MPxN on the execution
// date.
func (g *Gateway) cosCheck(ctx context.Context, r store.Request) (dcc.Reason, string) {
	d, err := g.st.GetDevice(ctx, r.DeviceID)
	if err != nil {
		return dcc.ReasonDeviceUnknown, "the CoS Party does not find the device"
	}
	at := r.ExecuteAt
	if at.IsZero() {
		at = g.clk.Now()
	}
	regs, err := g.registrationFor(ctx, d, at)
	if err != nil {
		return "DCC_ERROR", err.Error()
	}
	for _, rg := range regs {
		if rg.ImportSupplier == r.UserID || rg.ExportSupplier == r.UserID {
			return "", ""
		}
	}
	return dcc.ReasonNotRegistered, "the CoS Party finds the sender is not to be the Registered Supplier on the execution date"
}

// cosSign signs a Pre-Command with the CoS Party's key: the Signed
// Pre-Command.
func (g *Gateway) cosSign(preCommand []byte) ([]byte, error) {
	return precommand.Sign(preCommand, g.cosKey)
}

// cosVerify checks the CoS Party's signature on a request's Signed
// Pre-Command, and that it signs the request's Pre-Command.
func (g *Gateway) cosVerify(r store.Request) bool {
	pc, err := precommand.Verify(r.Signed, &g.cosKey.PublicKey)
	return err == nil && string(pc) == string(r.PreCommand)
}

// changedSupplier records the device's new supplier credential and alerts
// both the gaining and the losing supplier (para 146).
func (g *Gateway) changedSupplier(ctx context.Context, r store.Request, losing string) {
	d, err := g.st.GetDevice(ctx, r.DeviceID)
	if err != nil {
		return
	}
	d.Credentials, d.UpdatedAt = r.UserID, g.clk.Now()
	if err := g.st.PutDevice(ctx, d); err != nil {
		g.log.Error("recording a change of supplier", "device", d.ID, "err", err)
		return
	}
	payload, _ := json.Marshal(map[string]any{"service": "A2", "code": CoSAlertCode, "name": "Supplier Security Credentials updated (Change of Supplier)",
		"device_id": d.ID, "gaining_supplier": r.UserID, "losing_supplier": losing, "request_id": r.ID, "clause": "para 146"})
	var ds []store.Delivery
	for _, u := range []string{r.UserID, losing} {
		if u == "" || (u == losing && losing == r.UserID) {
			continue
		}
		ds = append(ds, store.Delivery{UserID: u, Kind: "alert", Code: CoSAlertCode, DeviceID: d.ID, Payload: payload, CreatedAt: g.clk.Now(), DueAt: g.clk.Now().Add(g.sp().AlertTarget.Std())})
	}
	if _, err := g.st.AppendDeliveries(ctx, ds); err != nil {
		g.log.Error("alerting a change of supplier", "device", d.ID, "err", err)
		return
	}
	g.notifyFor(ds)
}

// CoSAlertCode is the code of the DCC Alert both suppliers get when a Change
// of Supplier has updated a device's credentials (para 146; Table 5.4 is
// indicative and lists none for it).
const CoSAlertCode = "COS"
