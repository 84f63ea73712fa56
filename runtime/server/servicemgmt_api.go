package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/dccgate/dccgate/incidents"
)

// ServiceAPIPrefix is where users reach the Incident Management Log and
// the Service Desk over the gateway's API listener (mutual TLS, the
// caller's User ID from its certificate), as JSON:
//
//	POST /servicemgmt/v1/diagnose              {device_id}: the remote diagnostic, first (no device_id: 400
//	                                           DEVICE_REQUIRED)
//	POST /servicemgmt/v1/incidents             {category, area, device_id, title, description, needs_visit, diagnosis_id, request_id, ticket_id}
//	GET  /servicemgmt/v1/incidents             the incidents the caller may see
//	GET  /servicemgmt/v1/incidents/{id}        one, with its timeline
//	POST /servicemgmt/v1/incidents/{id}/{action}  update {note, data}, resolve, close, review {note}
//	POST /servicemgmt/v1/tickets               {kind, subject, body}
//	GET  /servicemgmt/v1/tickets               the caller's tickets, with the Service Desk's answer and answered_at
//
// A body that is not the JSON object a call takes is refused 400 with
// {"error": ...} saying what was wrong and what the body should be; one
// larger than the spec's incidents.limits.body_bytes is refused 413, and a
// title, description or note longer than its limits 422 TOO_LONG. A user
// is told on its stream of an incident allocated to it that it did not
// raise (INCIDENT_ALLOCATED) and of one of its incidents the DCC
// recategorised (INCIDENT_RECATEGORISED).
const ServiceAPIPrefix = "/servicemgmt/v1/"

// withServiceAPI adds the users' service management API to the handlers
// mounted on the API listeners.
func (s *Server) withServiceAPI(m map[string]http.Handler) map[string]http.Handler {
	mux := http.NewServeMux()
	p := ServiceAPIPrefix
	reply := func(w http.ResponseWriter, v any, err error) {
		writeJSON(w, v, err, func(err error) int {
			var ie *incidents.Error
			switch {
			case !errors.As(err, &ie):
				return 0
			case ie.Code == incidents.CodeNotFound || ie.Code == incidents.CodeNotVisible:
				return http.StatusNotFound
			case ie.Code == incidents.CodeNotAUser || ie.Code == incidents.CodeNotPermitted:
				return http.StatusForbidden
			case ie.Code == incidents.CodeDeviceRequired:
				return http.StatusBadRequest // a field the call needs is missing
			}
			return http.StatusUnprocessableEntity
		})
	}
	mux.HandleFunc("POST "+p+"diagnose", asUser(func(w http.ResponseWriter, r *http.Request, caller string) {
		var in struct {
			DeviceID string `json:"device_id"`
		}
		if decodeBody(w, r, &in, `{"device_id"}`) {
			d, err := s.Incidents.Diagnose(r.Context(), caller, "chf_reachability", in.DeviceID)
			reply(w, d, err)
		}
	}))
	mux.HandleFunc("POST "+p+"incidents", asUser(func(w http.ResponseWriter, r *http.Request, caller string) {
		var in struct {
			Category    string `json:"category"`
			Area        string `json:"area"`
			DeviceID    string `json:"device_id"`
			RequestID   string `json:"request_id"`
			Title       string `json:"title"`
			Description string `json:"description"`
			NeedsVisit  bool   `json:"needs_visit"`
			DiagnosisID string `json:"diagnosis_id"`
			TicketID    string `json:"ticket_id"`
		}
		if !decodeBody(w, r, &in, `{"category","area","device_id","title","description","needs_visit","diagnosis_id","request_id","ticket_id"}`) {
			return
		}
		ri := incidents.RaiseInput{Caller: caller, Category: in.Category, Area: in.Area, DeviceID: in.DeviceID, RequestID: in.RequestID,
			Title: in.Title, Description: in.Description, NeedsVisit: in.NeedsVisit, DiagnosisID: in.DiagnosisID}
		if in.TicketID != "" {
			_, inc, err := s.Incidents.Escalate(r.Context(), in.TicketID, ri)
			reply(w, inc, err)
			return
		}
		inc, err := s.Incidents.Raise(r.Context(), ri)
		reply(w, inc, err)
	}))
	mux.HandleFunc("GET "+p+"incidents", asUser(func(w http.ResponseWriter, r *http.Request, caller string) {
		list, err := s.Incidents.List(r.Context(), caller)
		reply(w, list, err)
	}))
	mux.HandleFunc("GET "+p+"incidents/{id}", asUser(func(w http.ResponseWriter, r *http.Request, caller string) {
		inc, evs, err := s.Incidents.Get(r.Context(), caller, r.PathValue("id"))
		reply(w, map[string]any{"incident": inc, "timeline": evs}, err)
	}))
	mux.HandleFunc("POST "+p+"incidents/{id}/{action}", asUser(func(w http.ResponseWriter, r *http.Request, caller string) {
		var in struct {
			Note string          `json:"note"`
			Data json.RawMessage `json:"data"`
		}
		want := `{"note"}`
		if r.PathValue("action") == "update" {
			want = `{"note","data"}`
		}
		if !decodeBody(w, r, &in, want) {
			return
		}
		ctx, id := r.Context(), r.PathValue("id")
		var err error
		var out any
		switch r.PathValue("action") {
		case "update":
			out, err = s.Incidents.Update(ctx, caller, id, in.Note, in.Data)
		case "resolve":
			out, err = s.Incidents.Resolve(ctx, caller, id, in.Note)
		case "close":
			out, err = s.Incidents.Close(ctx, caller, id, in.Note)
		case "review":
			out, err = s.Incidents.SubmitReview(ctx, caller, id, in.Note)
		default:
			http.NotFound(w, r)
			return
		}
		reply(w, out, err)
	}))
	mux.HandleFunc("POST "+p+"tickets", asUser(func(w http.ResponseWriter, r *http.Request, caller string) {
		var in struct {
			Kind    string `json:"kind"`
			Subject string `json:"subject"`
			Body    string `json:"body"`
		}
		if decodeBody(w, r, &in, `{"kind","subject","body"}`) {
			t, err := s.Incidents.RaiseTicket(r.Context(), incidents.TicketInput{RaisedBy: caller, Kind: in.Kind, Subject: in.Subject, Body: in.Body})
			reply(w, t, err)
		}
	}))
	mux.HandleFunc("GET "+p+"tickets", asUser(func(w http.ResponseWriter, r *http.Request, caller string) {
		ts, err := s.Incidents.Tickets(r.Context(), caller)
		reply(w, ts, err)
	}))
	out := make(map[string]http.Handler, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	out[p] = s.boundBodies(mux)
	out[HubsAPIPrefix] = s.hubsAPI()
	return out
}
