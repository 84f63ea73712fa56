package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dccgate/dccgate/incidents"
	"github.com/dccgate/dccgate/maintenance"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/ssi"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// ServiceMgmt is service management (para 206-255) in a running server:
// the Incident Management Log and Service Desk, the maintenance planner
// the gateway consults, and the Self-Service Interface.
type ServiceMgmt struct {
	Incidents   *incidents.Log
	Maintenance *maintenance.Planner
	SSI         *ssi.SSI
	// SSIURL is the Self-Service Interface's address, if served.
	SSIURL string

	gw        *gatewayRef
	ssiServer *http.Server
}

// gatewayRef is the gateway, set once it is built (the diagnostic tools
// are made before it).
type gatewayRef struct{ g *gateway.Gateway }

// newServiceMgmt builds the log and the planner over the raw store, makes
// the planner the gateway's maintenance gate and refreshes it when work
// falls due (another process may publish windows).
func newServiceMgmt(ctx context.Context, raw store.Store, cfg Config, gc *gateway.Config) (ServiceMgmt, error) {
	var sm ServiceMgmt
	st, ok := raw.(incidents.Store)
	if !ok {
		return sm, fmt.Errorf("store %T keeps no service management state", raw)
	}
	var err error
	if sm.Maintenance, err = maintenance.New(ctx, st, cfg.Spec, gc.Clock); err != nil {
		return sm, err
	}
	gc.Maintenance = sm.Maintenance
	if prev := gc.OnDue; prev != nil {
		gc.OnDue = func(ctx context.Context) {
			prev(ctx)
			if err := sm.Maintenance.Refresh(ctx); err != nil {
				cfg.Logger.Error("refreshing maintenance windows", "err", err)
			}
		}
	}
	sm.gw = &gatewayRef{}
	holder := sm.gw
	tools := map[string]incidents.DiagnoseFunc{
		"chf_reachability": func(ctx context.Context, caller, device string) (string, []byte, error) {
			g := holder.g
			if g == nil {
				return "", nil, errors.New("the gateway is not running")
			}
			d, err := g.DiagnoseCHF(ctx, caller, device)
			if errors.Is(err, gateway.ErrNotVisible) || errors.Is(err, store.ErrNotFound) {
				// One answer for a device of another user's portfolio and
				// one not on the inventory: neither says the other exists.
				return "", nil, &incidents.Error{Code: incidents.CodeNotVisible, Clause: cfg.Spec.ServiceManagement.SSI.IsolationClause,
					Message: fmt.Sprintf("device %q is not in your portfolio", device)}
			}
			if err != nil {
				return "", nil, err
			}
			summary := "reachable: " + d.Detail
			if !d.Reachable {
				summary = "unreachable: " + d.Detail
			}
			if !d.LastContact.IsZero() {
				summary += "; last contact " + d.LastContact.Format(time.RFC3339)
			}
			data, err := json.Marshal(d)
			return summary, data, err
		},
	}
	// The log tells users of their incidents on their streams, as the
	// gateway's other notices (MAJOR_INCIDENT below): once the incident is
	// stored; a notice that fails is logged, the incident stands.
	notify := func(ctx context.Context, to []string, event string, data map[string]any) {
		g := holder.g
		if g == nil {
			cfg.Logger.Error("incident notice before the gateway runs", "event", event, "to", to, "incident", data["incident"])
			return
		}
		if _, err := g.Notify(ctx, to, event, data); err != nil {
			cfg.Logger.Error("incident notice", "event", event, "to", to, "incident", data["incident"], "err", err)
		}
	}
	if sm.Incidents, err = incidents.New(ctx, st, cfg.Spec, gc.Clock, tools, incidents.WithNotify(notify)); err != nil {
		return sm, err
	}
	return sm, nil
}

// bind gives the service management the running gateway and builds the
// SSI over it.
func (sm *ServiceMgmt) bind(g *gateway.Gateway, raw store.Store, cfg Config) error {
	sm.gw.g = g
	st, _ := raw.(ssi.Store)
	var forecasts func(ctx context.Context, userID string) ([]store.Forecast, error)
	if rep, ok := raw.(store.Reporting); ok {
		forecasts = func(ctx context.Context, userID string) ([]store.Forecast, error) {
			return rep.Forecasts(ctx, store.ForecastFilter{UserID: userID})
		}
	}
	portfolio := g.Portfolio
	if rep, ok := raw.(store.Reporting); ok {
		portfolio = func(ctx context.Context, userID string) ([]store.Device, error) {
			return portfolioOf(ctx, raw, rep, g, userID)
		}
	}
	var err error
	sm.SSI, err = ssi.New(ssi.Config{Store: st, Spec: cfg.Spec, Clock: g, Log: sm.Incidents, Planner: sm.Maintenance,
		Portfolio: portfolio, Forecasts: forecasts, MaxSessions: cfg.SSIMaxSessions, Logger: cfg.Logger})
	return err
}

// portfolioOf is the gateway's Portfolio by index rather than by scanning
// the inventory: the Registration Data in effect that names the user in its
// role's field and fuel, the meters of those MPxNs, their hubs and the
// devices associated with them.
func portfolioOf(ctx context.Context, st store.Store, rep store.Reporting, g *gateway.Gateway, userID string) ([]store.Device, error) {
	u, err := st.GetUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	role := g.Spec().Role(u.Role)
	if role == nil || role.Registration == nil {
		return nil, nil
	}
	recs, err := rep.RegistrationsInEffect(ctx, g.Now(), nil)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []store.Device
	add := func(ds []store.Device) {
		for _, d := range ds {
			if !seen[d.ID] {
				seen[d.ID] = true
				out = append(out, d)
			}
		}
	}
	for _, rg := range recs {
		if rg.Fuel != role.Registration.Fuel || rg.Named(role.Registration.Field) != userID {
			continue
		}
		meters, err := st.Devices(ctx, store.DeviceFilter{MPxN: rg.MPxN})
		if err != nil {
			return nil, err
		}
		add(meters)
		for _, m := range meters {
			assoc, err := st.Devices(ctx, store.DeviceFilter{Meter: m.ID})
			if err != nil {
				return nil, err
			}
			add(assoc)
			if m.CHF != "" && !seen[m.CHF] {
				if hub, err := st.GetDevice(ctx, m.CHF); err == nil {
					add([]store.Device{hub})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// serveSSI serves the Self-Service Interface on its own HTTPS listener: a
// client certificate is asked for and verified if given (sign-in with it),
// not required (sign-in by a signed challenge), since browsers often hold
// none.
func (s *Server) serveSSI(cfg Config) error {
	if cfg.SSIListen == "" {
		return nil
	}
	tlsCfg, err := pki.ServerTLS(cfg.PKI.CA, cfg.PKI.Server)
	if err != nil {
		return err
	}
	tlsCfg.ClientAuth = tls.VerifyClientCertIfGiven
	tlsCfg.NextProtos = []string{"h2", "http/1.1"}
	ln, err := net.Listen("tcp", cfg.SSIListen)
	if err != nil {
		return fmt.Errorf("SSI listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(ssi.Prefix, s.SSI)
	mux.Handle("/{$}", http.RedirectHandler(ssi.Prefix, http.StatusSeeOther))
	s.ssiServer = &http.Server{Handler: mux, TLSConfig: tlsCfg, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)}
	s.SSIURL = "https://" + ln.Addr().String() + ssi.Prefix
	go func() {
		if err := s.ssiServer.Serve(tls.NewListener(ln, tlsCfg)); !errors.Is(err, http.ErrServerClosed) {
			s.done <- fmt.Errorf("SSI listener: %w", err)
		}
	}()
	return nil
}

// notJSON says a request body could not be decoded into want, the JSON
// object the handler takes.
func notJSON(err error, want string) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("the body is empty: want a JSON object %s", want)
	}
	return fmt.Errorf("the body is not valid JSON for this request (%v): want a JSON object %s", err, want)
}

// decodeBody reads a request body of at most 1 MiB (less where the
// handler is bounded tighter: boundBodies) with no unknown fields into v.
// When it cannot, it answers itself with a JSON error: 413 to a body
// larger than allowed, saying how large a body may be; else 400, saying
// what was wrong and what the body should be: want, the JSON object the
// handler takes (notJSON).
func decodeBody(w http.ResponseWriter, r *http.Request, v any, want string) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeJSON(w, nil, fmt.Errorf("the body is larger than the %d bytes this request may carry: shorten the text it carries (want a JSON object %s)", tooLarge.Limit, want),
				func(error) int { return http.StatusRequestEntityTooLarge })
			return false
		}
		writeJSON(w, nil, notJSON(err, want), func(error) int { return http.StatusBadRequest })
		return false
	}
	return true
}

// boundBodies bounds the bodies of h's requests to the spec's
// incidents.limits.body_bytes (para 225, 244); decodeBody answers 413 to
// one larger.
func (s *Server) boundBodies(h http.Handler) http.Handler {
	return http.MaxBytesHandler(h, int64(s.Incidents.Limits().BodyBytes))
}

// mountServiceAdmin adds the DCC's side of service management to the admin
// listener, as JSON over HTTP:
//
//	GET  /servicemgmt/maintenance            the published windows
//	POST /servicemgmt/maintenance            publish {id, starts_at, ends_at, description, panel_approval}; an ID
//	                                         published already changes its window under the rules of a new one,
//	                                         and not once the month of the published window has begun
//	                                         (WINDOW_MONTH_BEGUN, para 213)
//	POST /servicemgmt/releases               announce {id, kind, name, implement_at}
//	GET  /servicemgmt/incidents              every incident
//	POST /servicemgmt/incidents/{id}/major   declare {dcc_manager, party_manager}
//	POST /servicemgmt/incidents/{id}/resolve resolve as the DCC {note}
//	POST /servicemgmt/incidents/{id}/close   close as the DCC {note} (para 228)
//	POST /servicemgmt/incidents/{id}/review  the DCC's review report {note} of a resolved major incident
//	                                         it is responsible for (para 235)
//	POST /servicemgmt/incidents/{id}/allocate one left open {user_id ("" the DCC), note} (para 227); the
//	                                         supplier allocated is told (INCIDENT_ALLOCATED)
//	POST /servicemgmt/incidents/{id}/recategorise correct the category a user chose {category, note} (para
//	                                         224): priority and target follow it; not once closed
//	POST /users                              User Entry (para 116, 281): {"id","role","party","cert_pem"}; the
//	                                         certificate defaults to pki/users/ID.pem (dccgate keys new)
//	POST /users/{id}/suspend                 suspend a user's rights (Section M8; its schedules go, para 125)
//	POST /users/{id}/reinstate               give them back
//	GET  /servicemgmt/measures?month=YYYY-MM measures 4 and 5, and the time under maintenance (no month: this
//	                                         one; a malformed one is refused 400, and one whose times the store
//	                                         cannot hold 400 month_out_of_range, naming the range)
//	POST /servicemgmt/tickets                a SEC Party's ticket {raised_by, party, kind, subject, body}
//	GET  /servicemgmt/tickets?status=open    the Service Desk's tickets (para 253-255), oldest first; status
//	                                         (open, answered, became_incident; repeated or comma-separated)
//	                                         filters, an unknown one is refused 400
//	POST /servicemgmt/tickets/{id}/answer    answer one {answer}: answered, with answered_at from the clock;
//	                                         its raiser sees it with its tickets (API GET /servicemgmt/v1/tickets,
//	                                         SSI Service Desk)
//	GET  /servicemgmt/feedback?user_id=ID    users' feedback on the SSI's content (para 247), oldest first (no
//	                                         user_id: every user's)
//
// The bodies of the service management calls are bounded by the spec
// (incidents.limits.body_bytes): a larger one is refused 413.
func (s *Server) mountServiceAdmin(root *http.ServeMux) {
	mux := boundMux{mux: root, h: s.boundBodies}
	reply := func(w http.ResponseWriter, v any, err error) {
		writeJSON(w, v, err, func(err error) int {
			var refused *spec.Refusal // incidents.Error, maintenance.Error
			switch {
			case errors.As(err, &refused) && (refused.Code == maintenance.CodeTimeOutOfRange || refused.Code == incidents.CodeMonthOutOfRange):
				return http.StatusBadRequest // a time the store cannot keep: the answer names the range
			case errors.As(err, &refused):
				return http.StatusUnprocessableEntity
			}
			return 0
		})
	}
	mux.HandleFunc("GET /servicemgmt/maintenance", func(w http.ResponseWriter, r *http.Request) {
		ws, err := s.Maintenance.Schedule(r.Context(), time.Time{}, time.Time{})
		reply(w, ws, err)
	})
	mux.HandleFunc("POST /servicemgmt/maintenance", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ID            string    `json:"id"`
			StartsAt      time.Time `json:"starts_at"`
			EndsAt        time.Time `json:"ends_at"`
			Description   string    `json:"description"`
			PanelApproval string    `json:"panel_approval"`
		}
		if !decodeBody(w, r, &in, `{"id","starts_at","ends_at","description","panel_approval"} (times in RFC 3339)`) {
			return
		}
		out, err := s.publishMaintenance(r.Context(), store.MaintenanceWindow{ID: in.ID, StartsAt: in.StartsAt, EndsAt: in.EndsAt, Description: in.Description, PanelApproval: in.PanelApproval})
		reply(w, out, err)
	})
	mux.HandleFunc("POST /servicemgmt/releases", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ID          string    `json:"id"`
			Kind        string    `json:"kind"`
			Name        string    `json:"name"`
			ImplementAt time.Time `json:"implement_at"`
			Notes       string    `json:"notes"`
		}
		if !decodeBody(w, r, &in, `{"id","kind","name","implement_at","notes"} (times in RFC 3339)`) {
			return
		}
		out, err := s.Maintenance.Announce(r.Context(), store.Release{ID: in.ID, Kind: in.Kind, Name: in.Name, ImplementAt: in.ImplementAt, Notes: in.Notes})
		reply(w, out, err)
	})
	mux.HandleFunc("GET /servicemgmt/incidents", func(w http.ResponseWriter, r *http.Request) {
		list, err := s.Incidents.List(r.Context(), incidents.DCC)
		reply(w, list, err)
	})
	mux.HandleFunc("POST /servicemgmt/incidents/{id}/major", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			DCCManager   string `json:"dcc_manager"`
			PartyManager string `json:"party_manager"`
		}
		if !decodeBody(w, r, &in, `{"dcc_manager","party_manager"}`) {
			return
		}
		out, err := s.Incidents.DeclareMajor(r.Context(), r.PathValue("id"), in.DCCManager, in.PartyManager)
		if err == nil {
			// The affected parties hear of it on their streams (para 234).
			_, err = s.G.Notify(r.Context(), out.Notified, "MAJOR_INCIDENT", map[string]any{
				"incident": out.ID, "title": out.Title, "dcc_manager": out.DCCManager, "party_manager": out.PartyManager,
				"clause":  s.G.Spec().ServiceManagement.Incidents.Major.Clause,
				"message": "major incident " + out.ID + " declared: " + out.Title,
			})
		}
		reply(w, out, err)
	})
	// asDCC is an incident's step the DCC takes with a note.
	asDCC := func(step func(l *incidents.Log, ctx context.Context, actor, id, note string) (store.Incident, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var in struct {
				Note string `json:"note"`
			}
			if !decodeBody(w, r, &in, `{"note"}`) {
				return
			}
			out, err := step(s.Incidents, r.Context(), incidents.DCC, r.PathValue("id"), in.Note)
			reply(w, out, err)
		}
	}
	mux.HandleFunc("POST /servicemgmt/incidents/{id}/resolve", asDCC((*incidents.Log).Resolve))
	mux.HandleFunc("POST /servicemgmt/incidents/{id}/allocate", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			UserID string `json:"user_id"`
			Note   string `json:"note"`
		}
		if !decodeBody(w, r, &in, `{"user_id","note"}`) {
			return
		}
		out, err := s.Incidents.Allocate(r.Context(), incidents.DCC, r.PathValue("id"), in.UserID, in.Note)
		reply(w, out, err)
	})
	mux.HandleFunc("POST /servicemgmt/incidents/{id}/close", asDCC((*incidents.Log).Close))
	mux.HandleFunc("POST /servicemgmt/incidents/{id}/review", asDCC((*incidents.Log).SubmitReview))
	mux.HandleFunc("POST /servicemgmt/incidents/{id}/recategorise", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Category string `json:"category"`
			Note     string `json:"note"`
		}
		if !decodeBody(w, r, &in, `{"category","note"}`) {
			return
		}
		out, err := s.Incidents.Recategorise(r.Context(), incidents.DCC, r.PathValue("id"), in.Category, in.Note)
		reply(w, out, err)
	})
	mux.HandleFunc("POST /users", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ID      string `json:"id"`
			Role    string `json:"role"`
			Party   string `json:"party"`
			CertPEM string `json:"cert_pem"`
		}
		if !decodeBody(w, r, &in, `{"id","role","party","cert_pem"}`) {
			return
		}
		issued := "" // where `dccgate keys new --user ID` writes the certificate
		if in.CertPEM == "" && s.PKI != nil && in.ID != "" && !strings.ContainsAny(in.ID, `/\.`) {
			issued = filepath.Join(s.PKI.Dir, "users", in.ID+".pem")
			if b, err := os.ReadFile(issued); err == nil {
				in.CertPEM = string(b)
			}
		}
		err := s.G.EnterUser(r.Context(), store.User{ID: in.ID, Role: in.Role, Party: in.Party, CertPEM: in.CertPEM})
		if errors.Is(err, gateway.ErrNoCertificate) && issued != "" {
			err = fmt.Errorf("%w: give cert_pem, or issue one first with dccgate keys new --user %s --role %s --ca-dir %s (it writes %s)",
				err, in.ID, in.Role, s.PKI.Dir, issued)
		}
		if errors.Is(err, gateway.ErrInvalidUser) {
			writeJSON(w, nil, err, func(error) int { return http.StatusBadRequest })
			return
		}
		reply(w, map[string]any{"user": in.ID, "role": in.Role, "entered": err == nil}, err)
	})
	mux.HandleFunc("POST /users/{id}/{action}", func(w http.ResponseWriter, r *http.Request) {
		id, suspend := r.PathValue("id"), false
		var err error
		switch r.PathValue("action") {
		case "suspend":
			suspend, err = true, s.G.SuspendUser(r.Context(), id)
		case "reinstate":
			err = s.G.ReinstateUser(r.Context(), id)
		default:
			http.NotFound(w, r)
			return
		}
		if errors.Is(err, store.ErrNotFound) {
			writeJSON(w, nil, fmt.Errorf("no user %s", id), func(error) int { return http.StatusNotFound })
			return
		}
		reply(w, map[string]any{"user": id, "suspended": suspend}, err)
	})
	mux.HandleFunc("GET /servicemgmt/measures", func(w http.ResponseWriter, r *http.Request) {
		now := s.G.Now()
		from := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC) // no month: this one
		if month := r.URL.Query().Get("month"); month != "" {
			m, err := time.Parse("2006-01", month)
			if err != nil {
				writeJSON(w, nil, fmt.Errorf("month %q is not a month: give it as YYYY-MM, e.g. %s", month, from.Format("2006-01")), func(error) int { return http.StatusBadRequest })
				return
			}
			if err := s.Incidents.CheckMeasureMonth(m); err != nil {
				reply(w, nil, err)
				return
			}
			from = m
		}
		to := from.AddDate(0, 1, 0)
		ms, err := s.Incidents.Measures(r.Context(), from, to)
		if err != nil {
			reply(w, nil, err)
			return
		}
		dis, err := s.Maintenance.Disruption(r.Context(), from, to)
		reply(w, map[string]any{"month": from.Format("2006-01"), "measures": ms, "maintenance": dis.String(),
			"maintenance_reported": s.G.Spec().ServiceManagement.Maintenance.Measures}, err)
	})
	mux.HandleFunc("POST /servicemgmt/tickets", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			RaisedBy string `json:"raised_by"`
			Party    string `json:"party"`
			Kind     string `json:"kind"`
			Subject  string `json:"subject"`
			Body     string `json:"body"`
		}
		if !decodeBody(w, r, &in, `{"raised_by","party","kind","subject","body"}`) {
			return
		}
		out, err := s.Incidents.RaiseTicket(r.Context(), incidents.TicketInput{RaisedBy: in.RaisedBy, Party: in.Party, Kind: in.Kind, Subject: in.Subject, Body: in.Body})
		reply(w, out, err)
	})
	mux.HandleFunc("GET /servicemgmt/tickets", func(w http.ResponseWriter, r *http.Request) {
		var statuses []string
		for _, v := range r.URL.Query()["status"] {
			for st := range strings.SplitSeq(v, ",") {
				if st = strings.TrimSpace(st); st != "" {
					statuses = append(statuses, st)
				}
			}
		}
		ts, err := s.Incidents.Tickets(r.Context(), incidents.DCC, statuses...)
		writeJSON(w, ts, err, func(err error) int {
			if errors.As(err, new(*spec.Refusal)) {
				return http.StatusBadRequest // a status that is not a ticket's
			}
			return 0
		})
	})
	mux.HandleFunc("POST /servicemgmt/tickets/{id}/answer", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Answer string `json:"answer"`
		}
		if !decodeBody(w, r, &in, `{"answer"}`) {
			return
		}
		out, err := s.Incidents.AnswerTicket(r.Context(), incidents.DCC, r.PathValue("id"), in.Answer)
		reply(w, out, err)
	})
	mux.HandleFunc("GET /servicemgmt/feedback", func(w http.ResponseWriter, r *http.Request) {
		fb, err := s.Incidents.Feedback(r.Context(), r.URL.Query().Get("user_id"))
		reply(w, fb, err)
	})
}

// boundMux registers handlers on mux through h (boundBodies).
type boundMux struct {
	mux *http.ServeMux
	h   func(http.Handler) http.Handler
}

func (b boundMux) HandleFunc(pattern string, h http.HandlerFunc) { b.mux.Handle(pattern, b.h(h)) }

// CodeWindowMonthBegun refuses a change to a published maintenance window
// whose month has begun: that month's schedule stands as published (para
// 213).
const CodeWindowMonthBegun = "WINDOW_MONTH_BEGUN"

// publishMaintenance publishes a window. An ID published already is a
// change of that window: refused once the month of the published window
// has begun (its schedule was published in advance of it, para 213, and is
// not rewritten, a cancellation included), and otherwise held to the rules
// of a new window, so that it moves only into a month whose schedule may
// still be published.
func (s *Server) publishMaintenance(ctx context.Context, w store.MaintenanceWindow) (store.MaintenanceWindow, error) {
	m := s.G.Spec().ServiceManagement.Maintenance
	if m.PublishBeforeMonth && w.ID != "" {
		published, err := s.Maintenance.Schedule(ctx, time.Time{}, time.Time{})
		if err != nil {
			return w, err
		}
		now := s.G.Now()
		for _, old := range published {
			month, _ := s.Maintenance.Month(old.StartsAt) // Great Britain's, as the publication rule's
			if old.ID == w.ID && !now.Before(month) {
				return w, &maintenance.Error{Code: CodeWindowMonthBegun, Clause: m.Clause, Message: fmt.Sprintf(
					"window %s (%s to %s) is in the schedule of maintenance for %s, which has begun: it is not changed; publish another window for a month not begun",
					old.ID, old.StartsAt.Format(time.RFC3339), old.EndsAt.Format(time.RFC3339), month.Format("2006-01"))}
			}
		}
	}
	return s.Maintenance.Publish(ctx, w)
}
