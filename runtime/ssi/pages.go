package ssi

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dccgate/dccgate/incidents"
	"github.com/dccgate/dccgate/runtime/store"
)

func (s *SSI) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	m.Handle("GET "+Prefix+"static/", http.StripPrefix(Prefix+"static/", http.FileServerFS(static)))
	m.HandleFunc("GET "+Prefix+"{$}", func(w http.ResponseWriter, r *http.Request) {
		if s.current(r) != nil {
			http.Redirect(w, r, Prefix+"requests", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
	})
	m.HandleFunc("GET "+Prefix+"signin", s.signinPage)
	m.HandleFunc("POST "+Prefix+"signin", s.signin)
	m.HandleFunc("POST "+Prefix+"signin/certificate", s.signinCert)
	m.HandleFunc("POST "+Prefix+"signout", s.authed(s.signout))
	m.HandleFunc("GET "+Prefix+"inventory", s.authed(s.inventory))
	m.HandleFunc("GET "+Prefix+"requests", s.authed(s.requests))
	m.HandleFunc("GET "+Prefix+"requests/{id}", s.authed(s.request))
	m.HandleFunc("GET "+Prefix+"coverage", s.authed(s.coverage))
	m.HandleFunc("GET "+Prefix+"incidents", s.authed(s.incidentList))
	m.HandleFunc("POST "+Prefix+"incidents/diagnose", s.authed(s.diagnose))
	m.HandleFunc("POST "+Prefix+"incidents", s.authed(s.raise))
	m.HandleFunc("GET "+Prefix+"incidents/{id}", s.authed(s.incident))
	m.HandleFunc("POST "+Prefix+"incidents/{id}/{action}", s.authed(s.incidentAction))
	m.HandleFunc("GET "+Prefix+"desk", s.authed(s.desk))
	m.HandleFunc("POST "+Prefix+"desk", s.authed(s.raiseTicket))
	m.HandleFunc("GET "+Prefix+"servicedesk", s.publicDesk)
	m.HandleFunc("POST "+Prefix+"servicedesk", s.publicDeskPost)
	m.HandleFunc("GET "+Prefix+"downloads", s.authed(s.downloads))
	m.HandleFunc("GET "+Prefix+"downloads/{file}", s.authed(s.download))
	m.HandleFunc("POST "+Prefix+"feedback", s.authed(s.feedback))
	m.HandleFunc("GET "+Prefix+"service", s.authed(s.service))
	m.HandleFunc("GET "+Prefix+"forecasts", s.authed(s.forecasts))
	m.HandleFunc("GET "+Prefix+"hubs", s.authed(s.hubList))
	m.HandleFunc("GET "+Prefix+"hubs/orders/{id}", s.authed(s.hubOrder))
	m.HandleFunc("GET "+Prefix+"reports", s.authed(s.reportsList))
	s.mux = m
}

// ------------------------------------------------------------ sign-in

func (s *SSI) newChallenge(w http.ResponseWriter, r *http.Request) string {
	pre, nonce := randomToken(), randomToken()[:32]
	now := s.cfg.Clock.Now()
	valid := s.cfg.Spec.ServiceManagement.SSI.ChallengeValid.Std()
	s.mu.Lock()
	for k, c := range s.challenges {
		if now.Sub(c.at) > valid {
			delete(s.challenges, k)
		}
	}
	if len(s.challenges) >= maxChallenges {
		// Sign-in pages fetched faster than challenges expire: the oldest
		// goes.
		var oldest string
		for k, c := range s.challenges {
			if oldest == "" || c.at.Before(s.challenges[oldest].at) {
				oldest = k
			}
		}
		delete(s.challenges, oldest)
	}
	s.challenges[pre] = &challenge{nonce: nonce, at: now}
	s.mu.Unlock()
	s.setCookie(w, r, preCookie, pre, 0)
	return nonce
}

type signinData struct {
	Challenge string
	CertUser  string
	UserID    string
}

func (s *SSI) signinPage(w http.ResponseWriter, r *http.Request) {
	s.signinForm(w, r, http.StatusOK, "", "")
}

func (s *SSI) signinForm(w http.ResponseWriter, r *http.Request, status int, msg, userID string) {
	d := signinData{Challenge: s.newChallenge(w, r), UserID: userID}
	d.CertUser, _ = clientCertUser(r)
	s.render(w, status, "signin", page{Title: "Sign in", Error: msg, Data: d})
}

// signin checks the signature over the challenge of this browser's
// pre-session and opens a session.
func (s *SSI) signin(w http.ResponseWriter, r *http.Request) {
	userID := strings.TrimSpace(r.PostFormValue("user_id"))
	var ch *challenge
	if c, err := r.Cookie(preCookie); err == nil {
		s.mu.Lock()
		ch = s.challenges[c.Value]
		delete(s.challenges, c.Value) // one attempt per challenge
		s.mu.Unlock()
	}
	if ch == nil || s.cfg.Clock.Now().Sub(ch.at) > s.cfg.Spec.ServiceManagement.SSI.ChallengeValid.Std() || r.PostFormValue("challenge") != ch.nonce {
		s.signinForm(w, r, http.StatusForbidden, "The sign-in challenge has expired. Sign the new challenge below.", userID)
		return
	}
	if err := s.verifyChallenge(r.Context(), userID, ch.nonce, r.PostFormValue("signature")); err != nil {
		s.signinForm(w, r, http.StatusForbidden, "Sign-in refused: "+strings.TrimPrefix(err.Error(), "ssi: ")+".", userID)
		return
	}
	s.open(w, r, userID)
}

// signinCert opens a session for the user of the client certificate the
// browser presented over TLS.
func (s *SSI) signinCert(w http.ResponseWriter, r *http.Request) {
	id, ok := clientCertUser(r)
	if !ok {
		s.signinForm(w, r, http.StatusForbidden, "No client certificate was presented.", "")
		return
	}
	if err := s.heldCertificate(r.Context(), id, r.TLS.PeerCertificates[0]); err != nil {
		s.signinForm(w, r, http.StatusForbidden, "Sign-in refused: "+strings.TrimPrefix(err.Error(), "ssi: ")+".", id)
		return
	}
	if c, err := r.Cookie(preCookie); err != nil || !s.takeChallenge(c.Value, r.PostFormValue("challenge")) {
		s.signinForm(w, r, http.StatusForbidden, "The sign-in challenge has expired.", "")
		return
	}
	s.open(w, r, id)
}

func (s *SSI) takeChallenge(pre, nonce string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.challenges[pre]
	delete(s.challenges, pre)
	return c != nil && c.nonce == nonce && s.cfg.Clock.Now().Sub(c.at) <= s.cfg.Spec.ServiceManagement.SSI.ChallengeValid.Std()
}

func (s *SSI) open(w http.ResponseWriter, r *http.Request, userID string) {
	sess, err := s.startSession(r.Context(), userID)
	switch {
	case errors.Is(err, ErrTooManySessions):
		s.signinForm(w, r, http.StatusTooManyRequests, "This user already has the number of sessions allowed ("+s.cfg.Spec.ServiceManagement.SSI.SessionsClause+"). Sign out elsewhere first.", userID)
		return
	case errors.Is(err, ErrNotEntered):
		s.signinForm(w, r, http.StatusForbidden, "Only DCC Users who completed User Entry may use the Self-Service Interface ("+s.cfg.Spec.ServiceManagement.SSI.EntryClause+").", userID)
		return
	case err != nil:
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	s.setCookie(w, r, preCookie, "", -1)
	s.setCookie(w, r, sessionCookie, sess.token, 0)
	http.Redirect(w, r, Prefix+"requests", http.StatusSeeOther)
}

func (s *SSI) signout(w http.ResponseWriter, r *http.Request, sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess.token)
	s.mu.Unlock()
	s.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
}

// ------------------------------------------------------------ inventory

type inventoryData struct {
	Query, Type, Status string
	Types, Statuses     []string
	Devices             []store.Device
	Total               int
	Searched            bool
}

// inventory is the user's part of the Smart Metering Inventory with
// search by ID or MPxN, type and status (para 241).
func (s *SSI) inventory(w http.ResponseWriter, r *http.Request, sess *session) {
	q := r.URL.Query()
	d := inventoryData{Query: strings.TrimSpace(q.Get("q")), Type: q.Get("type"), Status: q.Get("status")}
	for _, t := range s.cfg.Spec.DeviceTypes {
		d.Types = append(d.Types, t.Code)
	}
	for _, st := range s.cfg.Spec.Statuses {
		d.Statuses = append(d.Statuses, st.Code)
	}
	devs, err := s.cfg.Portfolio(r.Context(), sess.User)
	if err != nil {
		s.fail(w, sess, err)
		return
	}
	d.Total = len(devs)
	d.Searched = d.Query != "" || d.Type != "" || d.Status != ""
	for _, dv := range devs {
		if d.Type != "" && dv.Type != d.Type || d.Status != "" && dv.Status != d.Status {
			continue
		}
		if d.Query != "" && !strings.Contains(strings.ToUpper(dv.ID+" "+dv.MPxN+" "+dv.CHF), strings.ToUpper(d.Query)) {
			continue
		}
		d.Devices = append(d.Devices, dv)
	}
	s.render(w, http.StatusOK, "inventory", page{Title: "Inventory", Nav: "inventory", User: sess, Data: d})
}

// ------------------------------------------------------------ requests

type requestsData struct {
	Archive      bool
	From, To     string
	Since        time.Time
	OnlineMonths int
	ArchiveYears int
	Requests     []store.Request
	// Page is the page shown (from 1); Prev and Next are the links to the
	// pages beside it, empty at either end.
	Page       int
	Prev, Next string
}

// historyPage is how many requests one page of the history shows.
const historyPage = 100

// requests is the user's Service Request history, newest first (by time
// received, then by counter: pageOfHistory), a page at a time: the last
// three months on line; older ones, kept seven years, from the archive by
// date range (para 248). The store selects the period and the page, so a
// long history costs one page (and the requests received at its first and
// last times).
func (s *SSI) requests(w http.ResponseWriter, r *http.Request, sess *session) {
	cfg := s.cfg.Spec.ServiceManagement.SSI
	now := s.cfg.Clock.Now()
	since := now.AddDate(0, -cfg.HistoryOnlineMonths, 0)
	q := r.URL.Query()
	d := requestsData{Archive: q.Get("archive") != "", From: q.Get("from"), To: q.Get("to"), Since: since, OnlineMonths: cfg.HistoryOnlineMonths, ArchiveYears: cfg.ArchiveYears, Page: 1}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 {
		d.Page = n
	}
	lo, hi := since, now.Add(time.Nanosecond)
	if d.Archive {
		lo, hi = now.AddDate(-cfg.ArchiveYears, 0, 0), since
		if t, err := time.Parse(time.DateOnly, d.From); err == nil && t.After(lo) {
			lo = t
		}
		if t, err := time.Parse(time.DateOnly, d.To); err == nil && t.AddDate(0, 0, 1).Before(hi) {
			hi = t.AddDate(0, 0, 1)
		}
	}
	// One more than a page says whether there is a next one.
	rs, err := s.pageOfHistory(r.Context(), sess.User, lo, hi, (d.Page-1)*historyPage, historyPage+1)
	if err != nil {
		s.fail(w, sess, err)
		return
	}
	link := func(page int) string {
		v := url.Values{}
		if d.Archive {
			v.Set("archive", "1")
			if d.From != "" {
				v.Set("from", d.From)
			}
			if d.To != "" {
				v.Set("to", d.To)
			}
		}
		if page > 1 {
			v.Set("page", strconv.Itoa(page))
		}
		if len(v) == 0 {
			return "/ssi/requests"
		}
		return "/ssi/requests?" + v.Encode()
	}
	if len(rs) > historyPage {
		rs, d.Next = rs[:historyPage], link(d.Page+1)
	}
	if d.Page > 1 {
		d.Prev = link(d.Page - 1)
	}
	d.Requests = rs
	s.render(w, http.StatusOK, "requests", page{Title: "Service Requests", Nav: "requests", User: sess, Data: d})
}

func (s *SSI) request(w http.ResponseWriter, r *http.Request, sess *session) {
	rq, err := s.cfg.Store.GetRequest(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && rq.UserID != sess.User) {
		s.notFound(w, sess, "request")
		return
	} else if err != nil {
		s.fail(w, sess, err)
		return
	}
	s.render(w, http.StatusOK, "request", page{Title: "Request " + rq.ID, Nav: "requests", User: sess, Data: rq})
}

// ------------------------------------------------------------ coverage

type coverageData struct {
	Postcode  string
	Searched  bool
	Premises  int
	Hubs      int
	Connected int
	Covered   bool
}

// coverage is SMWAN coverage by full postcode (para 248): the premises
// registered at the postcode and the Communications Hubs there that are
// commissioned on the SMWAN.
// A postcode is compared without its spaces, in capitals: "sw1h0et" is
// "SW1H 0ET"; a partial one ("SW1H") is refused, not answered as if full,
// and shown as typed (in capitals, its spaces collapsed), not split as if
// it had an inward code ("S W1H").
func (s *SSI) coverage(w http.ResponseWriter, r *http.Request, sess *session) {
	typed := r.URL.Query().Get("postcode")
	key := postcodeKey(typed)
	pc := key
	if len(key) > 3 {
		pc = key[:len(key)-3] + " " + key[len(key)-3:] // the inward code apart
	}
	d := coverageData{Postcode: pc, Searched: key != ""}
	if d.Searched && !s.postcode.MatchString(pc) {
		shown := strings.ToUpper(strings.Join(strings.Fields(typed), " "))
		s.render(w, http.StatusUnprocessableEntity, "coverage", page{Title: "SMWAN coverage", Nav: "coverage", User: sess, Data: coverageData{Postcode: shown},
			Error: shown + " is not a full postcode: coverage is given by full postcode, such as SW1A 1AA (para 248)."})
		return
	}
	if d.Searched {
		if err := s.countCoverage(r.Context(), &d); err != nil {
			s.fail(w, sess, err)
			return
		}
	}
	s.render(w, http.StatusOK, "coverage", page{Title: "SMWAN coverage", Nav: "coverage", User: sess, Data: d})
}

func postcodeKey(pc string) string {
	return strings.ToUpper(strings.Join(strings.Fields(pc), ""))
}

func (s *SSI) countCoverage(ctx context.Context, d *coverageData) error {
	rep, ok := s.cfg.Store.(store.Reporting)
	if !ok {
		return errors.New("ssi: the store keeps no Registration Data history")
	}
	recs, err := rep.RegistrationsInEffect(ctx, s.cfg.Clock.Now(), nil)
	if err != nil {
		return err
	}
	premises := map[string]bool{}
	var mpxns []string
	for _, rg := range recs {
		if postcodeKey(rg.Postcode) == postcodeKey(d.Postcode) {
			premises[rg.Premises+"|"+rg.UPRN] = true
			mpxns = append(mpxns, rg.MPxN)
		}
	}
	d.Premises = len(premises)
	hubs := map[string]string{}
	for _, m := range mpxns {
		devs, err := s.cfg.Store.Devices(ctx, store.DeviceFilter{MPxN: m})
		if err != nil {
			return err
		}
		for _, dv := range devs {
			if dv.CHF != "" {
				hubs[dv.CHF] = ""
			}
		}
	}
	for id := range hubs {
		h, err := s.cfg.Store.GetDevice(ctx, id)
		if err != nil {
			continue
		}
		d.Hubs++
		if h.Status == "commissioned" {
			d.Connected++
		}
	}
	d.Covered = d.Connected > 0
	return nil
}

// ------------------------------------------------------------ incidents

type incidentsData struct {
	Incidents  []store.Incident
	Overdue    map[string]bool
	Categories []categoryView
	Areas      []areaView
	// SystemAreas are the areas about the DCC's own systems, where an
	// incident naming no device is raised without a diagnostic.
	SystemAreas []areaView
	Diagnosis   *incidents.Diagnosis
	Device      string
	// Ticket is the user's Service Desk ticket the incident is raised
	// from, if any.
	Ticket string
}

type categoryView struct{ Code, Name, Target string }
type areaView struct{ Code, Name string }

func (s *SSI) incidentsView(ctx context.Context, sess *session) (incidentsData, error) {
	pol := s.cfg.Spec.ServiceManagement.Incidents
	d := incidentsData{Overdue: map[string]bool{}}
	for _, c := range pol.CategoryCodes() {
		d.Categories = append(d.Categories, categoryView{c, pol.Categories[c].Name, pol.Categories[c].TargetResolution.Format()})
	}
	for _, a := range sortedKeys(pol.Areas) {
		d.Areas = append(d.Areas, areaView{a, pol.Areas[a].Name})
	}
	for _, a := range s.cfg.Log.SystemAreas() {
		d.SystemAreas = append(d.SystemAreas, areaView{a, pol.Areas[a].Name})
	}
	list, err := s.cfg.Log.List(ctx, sess.User)
	if err != nil {
		return d, err
	}
	now := s.cfg.Clock.Now()
	for _, in := range list {
		d.Overdue[in.ID] = incidents.Overdue(in, now) || incidents.ReviewOverdue(in, now)
	}
	slices.Reverse(list)
	d.Incidents = list
	return d, nil
}

func (s *SSI) incidentList(w http.ResponseWriter, r *http.Request, sess *session) {
	d, err := s.incidentsView(r.Context(), sess)
	if err != nil {
		s.fail(w, sess, err)
		return
	}
	d.Ticket = r.URL.Query().Get("ticket")
	s.render(w, http.StatusOK, "incidents", page{Title: "Incidents", Nav: "incidents", User: sess, Data: d})
}

// diagnose runs the remote diagnostic first (para 226-227); its result is
// shown and carried into the raise form.
func (s *SSI) diagnose(w http.ResponseWriter, r *http.Request, sess *session) {
	d, err := s.incidentsView(r.Context(), sess)
	if err != nil {
		s.fail(w, sess, err)
		return
	}
	d.Device = strings.TrimSpace(r.PostFormValue("device_id"))
	d.Ticket = r.PostFormValue("ticket_id")
	diag, err := s.cfg.Log.Diagnose(r.Context(), sess.User, "chf_reachability", d.Device)
	if err != nil {
		s.render(w, http.StatusUnprocessableEntity, "incidents", page{Title: "Incidents", Nav: "incidents", User: sess, Data: d,
			Error: "The diagnostic could not run on device " + d.Device + ": it is not a device of your portfolio, or not on the inventory."})
		return
	}
	d.Diagnosis = &diag
	s.render(w, http.StatusOK, "incidents", page{Title: "Incidents", Nav: "incidents", User: sess, Data: d})
}

func (s *SSI) raise(w http.ResponseWriter, r *http.Request, sess *session) {
	in := incidents.RaiseInput{Caller: sess.User, Category: r.PostFormValue("category"), Area: r.PostFormValue("area"),
		DeviceID: r.PostFormValue("device_id"), RequestID: strings.TrimSpace(r.PostFormValue("request_id")),
		Title: strings.TrimSpace(r.PostFormValue("title")), Description: r.PostFormValue("description"),
		NeedsVisit: r.PostFormValue("needs_visit") != "", DiagnosisID: r.PostFormValue("diagnosis_id")}
	var inc store.Incident
	var err error
	if ticket := r.PostFormValue("ticket_id"); ticket != "" {
		// A Service Desk query that becomes an incident is linked to it.
		_, inc, err = s.cfg.Log.Escalate(r.Context(), ticket, in)
	} else {
		inc, err = s.cfg.Log.Raise(r.Context(), in)
	}
	if err != nil {
		d, verr := s.incidentsView(r.Context(), sess)
		if verr != nil {
			s.fail(w, sess, verr)
			return
		}
		s.render(w, http.StatusUnprocessableEntity, "incidents", page{Title: "Incidents", Nav: "incidents", User: sess, Data: d, Error: "The incident was not raised: " + err.Error()})
		return
	}
	http.Redirect(w, r, Prefix+"incidents/"+inc.ID, http.StatusSeeOther)
}

type incidentData struct {
	Incident      store.Incident
	Events        []store.IncidentEvent
	Overdue       bool
	ReviewOverdue bool
	CanResolve    bool
	CanClose      bool
	CanReview     bool
	Category      string
}

func (s *SSI) incident(w http.ResponseWriter, r *http.Request, sess *session) {
	s.showIncident(w, r, sess, http.StatusOK, "", "")
}

func (s *SSI) showIncident(w http.ResponseWriter, r *http.Request, sess *session, status int, msg, notice string) {
	inc, evs, err := s.cfg.Log.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		s.notFound(w, sess, "incident")
		return
	}
	now := s.cfg.Clock.Now()
	d := incidentData{Incident: inc, Events: evs, Overdue: incidents.Overdue(inc, now), ReviewOverdue: incidents.ReviewOverdue(inc, now),
		CanResolve: inc.ResponsibleUser == sess.User && inc.Status == incidents.StatusAllocated,
		CanClose:   inc.ResponsibleUser == sess.User && inc.Status == incidents.StatusResolved, // para 228-229
		CanReview:  inc.Major && inc.ResponsibleUser == sess.User && !inc.ResolvedAt.IsZero() && inc.ReviewedAt.IsZero(),
		Category:   s.cfg.Spec.ServiceManagement.Incidents.Categories[inc.Category].Name}
	s.render(w, status, "incident", page{Title: "Incident " + inc.ID, Nav: "incidents", User: sess, Data: d, Error: msg, Notice: notice})
}

func (s *SSI) incidentAction(w http.ResponseWriter, r *http.Request, sess *session) {
	id, note := r.PathValue("id"), strings.TrimSpace(r.PostFormValue("note"))
	var err error
	switch r.PathValue("action") {
	case "update":
		var data []byte
		if v := strings.TrimSpace(r.PostFormValue("data")); v != "" {
			data = []byte(v)
		}
		_, err = s.cfg.Log.Update(r.Context(), sess.User, id, note, data)
	case "resolve":
		_, err = s.cfg.Log.Resolve(r.Context(), sess.User, id, note)
	case "close":
		_, err = s.cfg.Log.Close(r.Context(), sess.User, id, note)
	case "review":
		_, err = s.cfg.Log.SubmitReview(r.Context(), sess.User, id, note)
	default:
		s.notFound(w, sess, "action")
		return
	}
	if err != nil {
		s.showIncident(w, r, sess, http.StatusUnprocessableEntity, err.Error(), "")
		return
	}
	http.Redirect(w, r, Prefix+"incidents/"+id, http.StatusSeeOther)
}

// ------------------------------------------------------------ service desk

type deskData struct {
	Tickets []store.Ticket
	Kinds   []areaView
	Sent    *store.Ticket
}

func (s *SSI) deskView(ctx context.Context, party string, nonUsers bool) (deskData, error) {
	var d deskData
	kinds := s.cfg.Spec.ServiceManagement.ServiceDesk.Kinds
	for _, k := range sortedKeys(kinds) {
		if !nonUsers || kinds[k].NonUsers {
			d.Kinds = append(d.Kinds, areaView{k, kinds[k].Name})
		}
	}
	if party != "" {
		t, err := s.cfg.Log.Tickets(ctx, party)
		if err != nil {
			return d, err
		}
		slices.Reverse(t)
		d.Tickets = t
	}
	return d, nil
}

func (s *SSI) desk(w http.ResponseWriter, r *http.Request, sess *session) {
	d, err := s.deskView(r.Context(), sess.User, false)
	if err != nil {
		s.fail(w, sess, err)
		return
	}
	s.render(w, http.StatusOK, "desk", page{Title: "Service Desk", Nav: "desk", User: sess, Data: d})
}

func (s *SSI) raiseTicket(w http.ResponseWriter, r *http.Request, sess *session) {
	_, err := s.cfg.Log.RaiseTicket(r.Context(), incidents.TicketInput{RaisedBy: sess.User, Kind: r.PostFormValue("kind"),
		Subject: strings.TrimSpace(r.PostFormValue("subject")), Body: r.PostFormValue("body")})
	d, verr := s.deskView(r.Context(), sess.User, false)
	if verr != nil {
		s.fail(w, sess, verr)
		return
	}
	if err != nil {
		s.render(w, http.StatusUnprocessableEntity, "desk", page{Title: "Service Desk", Nav: "desk", User: sess, Data: d, Error: err.Error()})
		return
	}
	s.render(w, http.StatusOK, "desk", page{Title: "Service Desk", Nav: "desk", User: sess, Data: d, Notice: "Your query was sent to the Service Desk."})
}

// publicDesk is the Service Desk for SEC Parties that are not DCC Users:
// general queries only (para 254). No sign-in; its form carries the
// pre-session challenge as a CSRF token.
func (s *SSI) publicDesk(w http.ResponseWriter, r *http.Request) {
	s.publicDeskForm(w, r, http.StatusOK, "", "")
}

func (s *SSI) publicDeskForm(w http.ResponseWriter, r *http.Request, status int, msg, notice string) {
	d, _ := s.deskView(r.Context(), "", true)
	s.render(w, status, "servicedesk", page{Title: "Service Desk for SEC Parties", Error: msg, Notice: notice, CSRF: s.newChallenge(w, r), Data: d})
}

func (s *SSI) publicDeskPost(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(preCookie)
	if err != nil || !s.takeChallenge(c.Value, r.PostFormValue("csrf")) {
		s.publicDeskForm(w, r, http.StatusForbidden, "The form has expired; send it again.", "")
		return
	}
	t, err := s.cfg.Log.RaiseTicket(r.Context(), incidents.TicketInput{RaisedBy: strings.TrimSpace(r.PostFormValue("party")),
		Party: strings.TrimSpace(r.PostFormValue("party")), Kind: r.PostFormValue("kind"),
		Subject: strings.TrimSpace(r.PostFormValue("subject")), Body: r.PostFormValue("body"), Public: true})
	if err != nil {
		s.publicDeskForm(w, r, http.StatusUnprocessableEntity, err.Error(), "")
		return
	}
	s.publicDeskForm(w, r, http.StatusOK, "", "Your query "+t.ID+" was sent to the Service Desk.")
}

// ------------------------------------------------------------ downloads, feedback

func (s *SSI) downloads(w http.ResponseWriter, r *http.Request, sess *session) {
	s.render(w, http.StatusOK, "downloads", page{Title: "Forms and guides", Nav: "downloads", User: sess, Data: s.cfg.Spec.ServiceManagement.SSI.Downloads})
}

func (s *SSI) download(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("file")
	for _, d := range s.cfg.Spec.ServiceManagement.SSI.Downloads {
		if d.File == name {
			b, err := fs.ReadFile(assets, "downloads/"+name)
			if err != nil {
				s.notFound(w, sess, "download")
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
			_, _ = w.Write(b)
			return
		}
	}
	s.notFound(w, sess, "download")
}

func (s *SSI) feedback(w http.ResponseWriter, r *http.Request, sess *session) {
	body := strings.TrimSpace(r.PostFormValue("body"))
	pg := r.PostFormValue("page")
	if body == "" {
		s.render(w, http.StatusUnprocessableEntity, "downloads", page{Title: "Forms and guides", Nav: "downloads", User: sess, Data: s.cfg.Spec.ServiceManagement.SSI.Downloads, Error: "The feedback is empty."})
		return
	}
	if err := s.cfg.Store.PutFeedback(r.Context(), store.Feedback{ID: randomToken()[:16], UserID: sess.User, Page: pg, Body: body, At: s.cfg.Clock.Now()}); err != nil {
		s.fail(w, sess, err)
		return
	}
	s.render(w, http.StatusOK, "downloads", page{Title: "Forms and guides", Nav: "downloads", User: sess, Data: s.cfg.Spec.ServiceManagement.SSI.Downloads, Notice: "Thank you: your feedback was recorded."})
}

// ------------------------------------------------------------ service management

type serviceData struct {
	Windows     []store.MaintenanceWindow
	Releases    []store.Release
	Measures    []incidents.MeasureResult
	Month       string
	Disruption  string
	MaxPerMonth string
}

// service shows the published maintenance schedule, releases, measures 4
// and 5 for the month with the time under maintenance beside them.
func (s *SSI) service(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx := r.Context()
	now := s.cfg.Clock.Now()
	from := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 1, 0)
	d := serviceData{Month: from.Format("2006-01"), MaxPerMonth: s.cfg.Spec.ServiceManagement.Maintenance.MaxDisruptionPerMonth.Format()}
	var err error
	if s.cfg.Planner != nil {
		if d.Windows, err = s.cfg.Planner.Schedule(ctx, from, time.Time{}); err == nil {
			d.Releases, err = s.cfg.Planner.Releases(ctx)
		}
		if err == nil {
			var dis time.Duration
			if dis, err = s.cfg.Planner.Disruption(ctx, from, to); err == nil {
				d.Disruption = formatDur(dis)
			}
		}
	}
	if err == nil {
		d.Measures, err = s.cfg.Log.Measures(ctx, from, to)
	}
	if err != nil {
		s.fail(w, sess, err)
		return
	}
	s.render(w, http.StatusOK, "service", page{Title: "Service management", Nav: "service", User: sess, Data: d})
}

func formatDur(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	return (d.Round(time.Second)).String()
}

// forecasts shows the demand forecasts the user filed (para 271); hub
// forecasts and orders are on the hubs page.
func (s *SSI) forecasts(w http.ResponseWriter, r *http.Request, sess *session) {
	var fs []store.Forecast
	if s.cfg.Forecasts != nil {
		var err error
		if fs, err = s.cfg.Forecasts(r.Context(), sess.User); err != nil {
			s.fail(w, sess, err)
			return
		}
	}
	s.render(w, http.StatusOK, "forecasts", page{Title: "Forecasts", Nav: "forecasts", User: sess, Data: fs})
}

// ------------------------------------------------------------ errors

func (s *SSI) notFound(w http.ResponseWriter, sess *session, what string) {
	// The same answer for another user's data as for none (para 250).
	s.render(w, http.StatusNotFound, "error", page{Title: "Not found", User: sess, Error: "No such " + what + " among yours."})
}

func (s *SSI) fail(w http.ResponseWriter, sess *session, err error) {
	s.cfg.Logger.Error("ssi", "err", err)
	s.render(w, http.StatusInternalServerError, "error", page{Title: "Error", User: sess, Error: "Something went wrong; try again."})
}
