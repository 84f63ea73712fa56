// Package duisapi serves DUIS, the XML interface of the DCC User Gateway,
// beside the Connect API and onto the same gateway: POST /api/v1/serviceS,
// /api/v1/serviceT and /api/v1/serviceD with a signed sr:Request
// (application/xml).
//
// The synchronous answer is an sr:Response signed with the gateway's key:
// I0 where the outcome is known (a Pre-Command from serviceT, a request
// that completed), I99 where it follows, or the DUIS response code that
// spec/duis.cue maps the refusal's reason to (E2, E4, E5, E11, E12, E13,
// E19 ...). dccgate's reason code, clause, state and detail travel in the
// headers X-DCCGate-Reason, -Clause, -State and -Message, not in the
// document: the DUIS XSD allows no foreign attributes on its messages.
//
// A refusal whose reason has no published DUIS code (MALFORMED, REPLAY,
// SIGNATURE_INVALID, ...) and any document that fails parsing, signature
// or structure checks is answered with an HTTP 4xx status and a
// dg:Refusal document naming the reason, the duis error code and the
// clause; the headers X-DCCGate-Reason and X-DCCGate-Clause repeat them.
//
// Who sent a request is who signed it: the signature's KeyInfo names a
// certificate of the Registry, whose x500UniqueIdentifier is the User ID,
// and the RequestID's originator must be that User ID. A certificate
// outside its validity on the gateway's clock is CERTIFICATE_INVALID.
package duisapi

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/dccgate/dccgate/client"
	"github.com/dccgate/dccgate/duis"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/precommand"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/sqlstore"
	"github.com/dccgate/dccgate/spec"
	"github.com/dccgate/dccgate/spec/dcc"
)

// Registry holds the DUIS signing certificates of users, found by issuer
// and serial.
type Registry struct {
	mu    sync.RWMutex
	certs []*duis.Cert
}

// Add registers a certificate; it must carry a User ID.
func (r *Registry) Add(c *duis.Cert) error {
	if c.EUI64 == "" {
		return errors.New("duisapi: the certificate has no x500UniqueIdentifier (User ID)")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.certs = append(r.certs, c)
	return nil
}

// Find returns the certificate named by issuer and serial, or nil.
func (r *Registry) Find(is duis.IssuerSerial) *duis.Cert {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, c := range r.certs {
		if c.Serial.Cmp(is.Serial) == 0 && duis.SameName(c.IssuerSerial().Issuer, is.Issuer) {
			return c
		}
	}
	return nil
}

// Server serves the DUIS endpoints.
type Server struct {
	G        *gateway.Gateway
	Registry *Registry
	// Key and Cert sign the gateway's responses.
	Key  *ecdsa.PrivateKey
	Cert duis.IssuerSerial
	// Limits bound the documents accepted (duis.DefaultLimits if zero).
	Limits duis.Limits
	// Requests, if set, records each request's SRV and DUIS RequestID for
	// the responses the Outbox sends later.
	Requests OutboxStore
	// DCCID is the DCC's ID in the world served: the User ID of the
	// gateway's signing certificate, the target of a Non-Device
	// request's RequestID and the originator of the ResponseID of a
	// response no Device sends: the ID the gateway's certificate names
	// (runtime/server sets it; spec/duis.cue's boxed.dcc for `--world
	// boxed`). If empty, the spec's dcc_ids.dcc.
	DCCID string
}

// dccID is the DCC's ID in the world served (DCCID).
func (s *Server) dccID() string {
	if s.DCCID != "" {
		return s.DCCID
	}
	return s.G.Spec().DCCIDs.DCC
}

// Handlers returns the endpoints of the spec (path -> handler).
func (s *Server) Handlers() map[string]http.Handler {
	out := map[string]http.Handler{}
	for name, ep := range s.G.Spec().DUIS.Endpoints {
		out[ep.Path] = s.endpoint(name)
	}
	return out
}

// refusal is an answer other than an sr:Response.
type refusal struct {
	status                int
	reason, code, message string
}

func (s *Server) endpoint(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST an sr:Request", http.StatusMethodNotAllowed)
			return
		}
		lim := s.Limits
		if lim.MaxBytes == 0 {
			lim = duis.DefaultLimits
		}
		body, err := io.ReadAll(io.LimitReader(req.Body, int64(lim.MaxBytes)+1))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp, ref := s.serve(req.Context(), name, body, lim)
		if ref != nil {
			writeRefusal(w, s, *ref)
			return
		}
		doc, err := resp.Document()
		if err == nil {
			var out []byte
			if out, err = duis.Sign(doc, s.Key, s.Cert); err == nil {
				for k, v := range resp.Headers() {
					w.Header()[k] = v
				}
				w.Header().Set("Content-Type", "application/xml")
				_, _ = w.Write(out)
				return
			}
		}
		http.Error(w, err.Error(), http.StatusInternalServerError)
	})
}

func writeRefusal(w http.ResponseWriter, s *Server, r refusal) {
	clause := dcc.ReasonClauses[dcc.Reason(r.reason)]
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set(client.ReasonHeader, r.reason)
	w.Header().Set(client.ClauseHeader, clause)
	w.WriteHeader(r.status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<dg:Refusal xmlns:dg="%s" reason="%s" code="%s" clause="%s">%s</dg:Refusal>`+"\n",
		duis.NSDCCGate, esc(r.reason), esc(r.code), esc(clause), esc(r.message))
}

func esc(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "\n", " ", "\r", " ", "\t", " ")
	return r.Replace(s)
}

// serve decides one document: a response to sign, or a refusal.
func (s *Server) serve(ctx context.Context, endpoint string, body []byte, lim duis.Limits) (*duis.Response, *refusal) {
	sp := s.G.Spec()
	d := &sp.DUIS
	doc, err := duis.Parse(body, lim)
	if err != nil {
		return nil, fromErr(err)
	}
	var signer *duis.Cert
	if _, err := duis.Verify(doc, func(is duis.IssuerSerial) *ecdsa.PublicKey {
		if signer = s.Registry.Find(is); signer != nil {
			return signer.PublicKey
		}
		return nil
	}); err != nil {
		return nil, fromErr(err)
	}
	if now := s.G.Now(); now.Before(signer.NotBefore) || now.After(signer.NotAfter) {
		return nil, &refusal{http.StatusUnauthorized, string(dcc.ReasonCertificateInvalid), duis.CodeSignature,
			fmt.Sprintf("the signing certificate %s is valid from %s to %s", signer.IssuerSerial(), signer.NotBefore.Format(time.RFC3339), signer.NotAfter.Format(time.RFC3339))}
	}
	// Who signed it must be who sent it, before anything else of the
	// request is answered: an answer (an E12 echoing the RequestID, signed
	// by the gateway) to a document naming another user as its originator
	// would answer that user's request to someone else.
	if o, ok := headerOriginator(doc, d.Namespace); ok && o != signer.EUI64 {
		return nil, notSigner(o, signer.EUI64)
	}
	r, err := duis.DecodeRequest(doc, sp)
	// The answer carries the request's schemaVersion (one DecodeRequest
	// accepted: the envelope's refusals below come after that check).
	version, _ := doc.Root.Attr("schemaVersion")
	resp := &duis.Response{Namespace: d.Namespace, SchemaVersion: version, At: s.G.Now()}
	var pe *duis.ParseError
	if errors.As(err, &pe) && pe.Code == duis.CodeCommandVariant && d.EnvelopeCodes["variant"] != "" {
		return s.envelope(doc, resp, d.EnvelopeCodes["variant"], pe.Message), nil
	}
	if err != nil {
		return nil, fromErr(err)
	}
	resp.RequestID, resp.SRV, resp.Ref = r.RequestID, r.SRV.SRV, r.SRV.Ref
	if r.Originator != signer.EUI64 {
		return nil, notSigner(r.Originator, signer.EUI64)
	}
	if err := r.CheckReceipt(s.G.Now()); err != nil {
		return nil, fromErr(err)
	}
	if !r.SRV.Service.DeviceService {
		// A Non-Device request is addressed to the DCC: a RequestID
		// naming another target is malformed, as one that does not parse.
		if dccID := s.dccID(); r.Target != dccID {
			return nil, &refusal{http.StatusBadRequest, string(dcc.ReasonMalformed), duis.CodeRequestID,
				fmt.Sprintf("RequestID %q: the target of a Non-Device request (SRV %s) is the DCC's ID %s, not %s", r.RequestID, r.SRV.SRV, dccID, r.Target)}
		}
	}
	cv := d.CommandVariants[r.CommandVariant]
	if cv.Endpoint != endpoint {
		resp.Code = d.EnvelopeCodes["endpoint"]
		resp.Reason, resp.Message = string(dcc.ReasonMalformed), fmt.Sprintf("CommandVariant %s is for %s, not %s", r.CommandVariant, cv.Endpoint, endpoint)
		return resp, nil
	}
	caller := r.Originator
	if cv.Signed {
		// CV 5, 6, 7: the signed Pre-Command goes over the SMWAN, back to
		// the user for local delivery (the Command in the result), or both.
		pc, sig, err := precommand.SplitSigned(r.SignedPreCommand)
		if err != nil {
			return nil, &refusal{http.StatusBadRequest, string(dcc.ReasonMalformed), duis.CodeStructure, err.Error()}
		}
		rec, err := s.G.SubmitSignedFor(ctx, caller, gatewayID(r, ""), pc, sig, cv.Delivery)
		if err != nil {
			return nil, gatewayErr(err)
		}
		return s.outcome(resp, rec, cv.Delivery)
	}
	if r.ByScheduleID {
		if ref := s.bySchedule(ctx, r); ref != nil {
			return nil, ref
		}
	}
	device := deviceOf(r)
	if r.Cancels {
		return s.cancelFutureDated(ctx, resp, r, device)
	}
	ereq := &engine.Request{
		Service: r.SRV.Service.Ref, Variant: r.SRV.Service.Variant,
		Category: "on_demand", Delivery: cv.Delivery,
		RequestID: gatewayID(r, device), UserID: caller, DeviceID: device,
		Body: r.Fields, After: r.Preceding,
	}
	if !r.ExecuteAt.IsZero() {
		ereq.Category, ereq.ExecuteAt = "future_dated", r.ExecuteAt
	}
	if sc := r.Schedule; sc != nil {
		// Its first run not before receipt: a start date in the past keeps
		// its time of day and phase, as its runs since then would have.
		first := sc.First(s.G.Now())
		ereq.Schedule = &engine.Schedule{Service: sc.SRV.Service.Key(), Every: sc.Every, First: first, Body: sc.BodyAt(first)}
	}
	// The request's place first: one refused busy (nothing received)
	// costs no write.
	ctx, release, err := s.G.Admit(ctx, ereq)
	if err != nil {
		return nil, gatewayErr(err)
	}
	defer release()
	if s.Requests != nil {
		// Before the gateway sees it: its result may follow at once.
		if err := s.Requests.PutDUISRequest(ctx, ereq.RequestID, sqlstore.DUISRequestInfo{RequestID: r.RequestID, SRV: r.SRV.SRV, SchemaVersion: r.SchemaVersion}); err != nil {
			return nil, &refusal{http.StatusServiceUnavailable, string(dcc.ReasonMalformed), "store", err.Error()}
		}
	}
	rec, err := s.G.Submit(ctx, caller, ereq)
	if err != nil {
		return nil, gatewayErr(err)
	}
	if rec.State == gateway.StateRejected && rec.Reason == string(dcc.ReasonMalformed) {
		rec.Message = unmappedField(r.SRV, rec.Message)
	}
	if rec.State == gateway.StateAwaitingSignature {
		resp.Code = "I0"
		resp.PreCommand = rec.PreCommand
		resp.State = rec.State
		return resp, nil
	}
	return s.outcome(resp, rec, cv.Delivery)
}

// headerOriginator is the originator of the RequestID in the document's
// sr:Header (the root's Header child, as DecodeRequest reads it), if it
// has one that parses.
func headerOriginator(doc *duis.Document, ns string) (string, bool) {
	for _, h := range doc.Root.Elements() {
		if !h.Is(ns, "Header") {
			continue
		}
		for _, x := range h.Elements() {
			if x.Is(ns, "RequestID") {
				o, _, _, err := duis.ParseRequestID(strings.TrimSpace(x.Text()))
				return o, err == nil
			}
		}
		return "", false
	}
	return "", false
}

func notSigner(originator, signer string) *refusal {
	return &refusal{http.StatusForbidden, string(dcc.ReasonSignatureInvalid), duis.CodeSignature,
		fmt.Sprintf("the request's originator %s is not the signer %s", originator, signer)}
}

// cancelFutureDated answers a DUIS cancellation (duis.CancelExecution):
// the sender's Future Dated requests of the same service to the same
// Device that have not started (pending, held or awaiting their signed
// Pre-Command) are cancelled, as the Device would drop the pending
// Command that one dated 3000 replaces; each one's Service Response says
// so (CANCELLED_BY_USER, para 128). The gateway holds Future Dated
// requests until their time, so the cancellation is done here, at once:
// I0, with the IDs cancelled in X-DCCGate-Message; nothing is sent to the
// Device, and a critical one needs no Pre-Command (nothing is signed for
// a Device).
func (s *Server) cancelFutureDated(ctx context.Context, resp *duis.Response, r *duis.Request, device string) (*duis.Response, *refusal) {
	// The interface's replay protection holds for it too (para 133), as
	// for any request (a repeated ID or a counter not above the user's
	// last is REPLAY): the cancellation is stored, done, with its
	// RequestID and counter (the store takes the counter in the same
	// write), so neither it sent again nor a later request with its ID or
	// counter is accepted. It is stored before it cancels anything: of two
	// copies sent at once, one is REPLAY and cancels nothing.
	u, err := s.G.Store().GetUser(ctx, r.Originator)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && !u.Entered):
		return nil, &refusal{http.StatusForbidden, string(dcc.ReasonUnknownUser), "refused", "user " + r.Originator + " is not known to the gateway"}
	case err != nil:
		return nil, &refusal{http.StatusServiceUnavailable, string(dcc.ReasonMalformed), "store", err.Error()}
	case r.Counter <= u.LastCounter:
		return nil, replay(fmt.Sprintf("counter %d is not above the last one accepted, %d", r.Counter, u.LastCounter))
	}
	key := spec.Key(r.SRV.Service.Ref, r.SRV.Service.Variant)
	now := s.G.Now()
	rec := store.Request{ID: gatewayID(r, device), UserID: r.Originator, Service: key, DeviceID: device,
		Category: "future_dated", Delivery: s.G.Spec().DUIS.CommandVariants[r.CommandVariant].Delivery,
		State: gateway.StateAccepted, Clause: "para 128", ReceivedAt: now, CompletedAt: now,
		Message: "a cancellation: the sender's Future Dated " + key + " requests to " + device + " that have not started are cancelled"}
	if b, err := json.Marshal(r.Fields); err == nil {
		rec.Body = b
	}
	switch err := s.G.Store().InsertRequest(ctx, rec, r.Counter); {
	case errors.Is(err, store.ErrStale), errors.Is(err, store.ErrDuplicate):
		return nil, replay("the Request ID " + r.RequestID + " was already used")
	case errors.Is(err, store.ErrNotFound):
		return nil, &refusal{http.StatusForbidden, string(dcc.ReasonUnknownUser), "refused", "user " + r.Originator + " is not known to the gateway"}
	case err != nil:
		return nil, &refusal{http.StatusServiceUnavailable, string(dcc.ReasonMalformed), "store", err.Error()}
	}
	open, err := s.G.Store().ListRequests(ctx, store.RequestFilter{UserID: r.Originator, DeviceID: device,
		States: []string{gateway.StatePending, gateway.StateHeld, gateway.StateAwaitingSignature}})
	if err != nil {
		return nil, &refusal{http.StatusServiceUnavailable, string(dcc.ReasonMalformed), "store", err.Error()}
	}
	var ids []string
	for _, o := range open {
		if o.Service != key || o.Category != "future_dated" {
			continue
		}
		if _, err := s.G.Cancel(ctx, r.Originator, o.ID); err != nil {
			if errors.Is(err, gateway.ErrNotCancellable) {
				continue // it started meanwhile
			}
			return nil, gatewayErr(err)
		}
		ids = append(ids, o.ID)
	}
	resp.Code, resp.State, resp.Clause = "I0", gateway.StateAccepted, "para 128"
	resp.Message = "no pending Future Dated " + key + " request to " + device + " to cancel"
	if len(ids) > 0 {
		resp.Message = "cancelled the pending Future Dated request(s) " + strings.Join(ids, ", ")
	}
	return resp, nil
}

// bySchedule finds the schedule a 5.2 or 5.3 names by its DSP Schedule
// ID (spec/duis.cue's schedule.id): among the sender's schedules, the one
// whose 5.1 RequestID's counter gives that ID. The request is then for
// that schedule's Device, and the row's field the SRV names (5.3's
// schedule_id) is given the gateway's ID of the schedule. An ID that names
// none of the sender's schedules (never created, deleted, or another
// user's: those are not looked at) is refused, as the gateway refuses a
// 5.3 of an unknown schedule_id: MALFORMED, which has no DUIS code.
func (s *Server) bySchedule(ctx context.Context, r *duis.Request) *refusal {
	sc := &s.G.Spec().DUIS.Schedule
	scheds, err := s.G.Store().ListSchedules(ctx, store.ScheduleFilter{UserID: r.Originator})
	if err != nil {
		return &refusal{http.StatusServiceUnavailable, string(dcc.ReasonMalformed), "store", err.Error()}
	}
	var found []store.Schedule
	for _, sch := range scheds {
		if id, ok := sc.IDOf(sch.CreatedBy); ok && id == r.ScheduleID {
			found = append(found, sch)
		}
	}
	switch len(found) {
	case 0:
		return &refusal{http.StatusBadRequest, string(dcc.ReasonMalformed), "not_found",
			fmt.Sprintf("SRV %s: %s %d names no schedule of %s's (none was created with that ID, it was deleted, or it is another user's)", r.SRV.SRV, sc.ID.Element, r.ScheduleID, r.Originator)}
	case 1:
	default:
		ids := make([]string, len(found))
		for i, f := range found {
			ids[i] = f.ID
		}
		return &refusal{http.StatusBadRequest, string(dcc.ReasonMalformed), "ambiguous",
			fmt.Sprintf("SRV %s: %s %d names %d schedules of %s's (%s, created with counters %d apart): name the Device instead", r.SRV.SRV, sc.ID.Element, r.ScheduleID, len(found), r.Originator, strings.Join(ids, ", "), sc.ID.Modulus)}
	}
	r.Device = found[0].DeviceID
	if f := r.SRV.ByScheduleID.Field; f != "" {
		r.Fields[f] = found[0].ID
	}
	return nil
}

// scheduleID is the DSP Schedule ID a result carries: that of the
// schedule an accepted 5.1 created (its gateway request ID is the
// schedule's CreatedBy), "" for any other result.
func scheduleID(sp *spec.Spec, service, state, requestID string) string {
	svc := sp.ServiceByKey(service)
	if svc == nil || !svc.CreatesSchedule || state != gateway.StateAccepted {
		return ""
	}
	id, ok := sp.DUIS.Schedule.IDOf(requestID)
	if !ok {
		return ""
	}
	return fmt.Sprint(id)
}

// gatewayID is the request's ID on the gateway: the DUIS RequestID, with
// the target made the device's for a Non-Device request that names one
// (the gateway checks an ID's target against the device).
func gatewayID(r *duis.Request, device string) string {
	target := r.Target
	if device != "" {
		target = device
	}
	return fmt.Sprintf("%s:%s:%d", r.Originator, target, r.Counter)
}

// deviceOf is the device a request is aimed at: the RequestID's target
// for a Device Service, the one its Body names (if any, spec/duis.cue's
// device) for a Non-Device one.
func deviceOf(r *duis.Request) string {
	if r.SRV.Service.DeviceService {
		return r.Target
	}
	return r.Device
}

// outcome turns the gateway's record into the synchronous answer. A
// Command for Local Delivery alone (CV 2) refused for the device's status
// is refused by note 406 (the WAN statuses are not checked for it): that
// is the envelope's "local" code (E17).
func (s *Server) outcome(resp *duis.Response, rec store.Request, delivery string) (*duis.Response, *refusal) {
	d := &s.G.Spec().DUIS
	resp.State, resp.Reason, resp.Clause, resp.Message = rec.State, rec.Reason, rec.Clause, rec.Message
	switch rec.State {
	case gateway.StateRejected, gateway.StateQuarantined, gateway.StateCancelled, gateway.StateExpired:
		code := d.ReasonCodes[rec.Reason]
		if delivery == "local" && rec.Reason == string(dcc.ReasonDeviceStatus) && d.EnvelopeCodes["local"] != "" {
			code = d.EnvelopeCodes["local"]
		}
		if code == "" {
			return nil, &refusal{http.StatusBadRequest, rec.Reason, "refused", rec.Message}
		}
		resp.Code = code
	case gateway.StateAccepted:
		resp.Code = "I0"
		resp.Payload = rec.Response
		resp.ScheduleID = scheduleID(s.G.Spec(), rec.Service, rec.State, rec.ID)
	default:
		resp.Code = "I99"
	}
	return resp, nil
}

// envelope answers a document that decoded far enough to be answered.
func (s *Server) envelope(doc *duis.Document, resp *duis.Response, code, msg string) *duis.Response {
	ns := resp.Namespace
	if h := doc.Root.Find(ns, "RequestID"); h != nil {
		resp.RequestID = strings.TrimSpace(h.Text())
	}
	if x := doc.Root.Find(ns, "ServiceReferenceVariant"); x != nil {
		resp.SRV = strings.TrimSpace(x.Text())
	}
	if x := doc.Root.Find(ns, "ServiceReference"); x != nil {
		resp.Ref = strings.TrimSpace(x.Text())
	}
	resp.Code, resp.Reason, resp.Clause, resp.Message = code, string(dcc.ReasonMalformed), dcc.ReasonClauses[dcc.ReasonMalformed], msg
	return resp
}

func fromErr(err error) *refusal {
	var pe *duis.ParseError
	if !errors.As(err, &pe) {
		return &refusal{http.StatusBadRequest, string(dcc.ReasonMalformed), duis.CodeXML, err.Error()}
	}
	switch pe.Code {
	case duis.CodeSignature, duis.CodeUnknownCertificate:
		return &refusal{http.StatusUnauthorized, string(dcc.ReasonSignatureInvalid), pe.Code, pe.Message}
	case duis.CodeTooLarge:
		return &refusal{http.StatusRequestEntityTooLarge, string(dcc.ReasonMalformed), pe.Code, pe.Message}
	}
	return &refusal{http.StatusBadRequest, string(dcc.ReasonMalformed), pe.Code, pe.Message}
}

func replay(msg string) *refusal {
	return &refusal{http.StatusBadRequest, string(dcc.ReasonReplay), "refused", msg}
}

func gatewayErr(err error) *refusal {
	switch {
	case errors.Is(err, gateway.ErrPermission):
		return &refusal{http.StatusForbidden, string(dcc.ReasonUnknownUser), "permission", err.Error()}
	case errors.Is(err, store.ErrNotFound):
		return &refusal{http.StatusNotFound, string(dcc.ReasonMalformed), "not_found", err.Error()}
	case errors.Is(err, gateway.ErrBusy):
		return &refusal{http.StatusServiceUnavailable, string(dcc.ReasonGatewayBusy), "busy", err.Error()}
	}
	return &refusal{http.StatusConflict, string(dcc.ReasonMalformed), "gateway", err.Error()}
}

// fieldNamed is the field an engine refusal of a body field names.
var fieldNamed = regexp.MustCompile(`^field ([a-z][a-z0-9_]*)\b`)

// unmappedField says plainly, in place of the rule a field failed, that
// the SRV gives the field from none of its elements: spec/duis.cue maps
// it neither to an element nor to a constant, so whatever the message
// held, the field was left empty. Another message is returned as it is.
func unmappedField(srv *spec.SRV, msg string) string {
	m := fieldNamed.FindStringSubmatch(msg)
	if m == nil || srv == nil {
		return msg
	}
	if _, ok := srv.Fields[m[1]]; ok {
		return msg
	}
	if _, ok := srv.Set[m[1]]; ok {
		return msg
	}
	return fmt.Sprintf("nothing in %s gives %s: dccgate reads it from no element of SRV %s (spec/duis.cue), so it was empty (%s)", srv.Element, m[1], srv.SRV, msg)
}
