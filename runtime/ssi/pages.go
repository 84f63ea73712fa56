package ssi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dccgate/dccgate/incidents"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
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
	m.HandleFunc("GET "+Prefix+"desk/{id}", s.authed(s.ticket))
	m.HandleFunc("GET "+Prefix+"servicedesk", s.publicDesk)
	m.HandleFunc("POST "+Prefix+"servicedesk", s.publicDeskPost)
	m.HandleFunc("GET "+Prefix+"servicedesk/lookup", s.lookupPage)
	m.HandleFunc("POST "+Prefix+"servicedesk/lookup", s.lookup)
	m.HandleFunc("GET "+Prefix+"downloads", s.authed(s.downloads))
	m.HandleFunc("GET "+Prefix+"downloads/{file}", s.authed(s.download))
	m.HandleFunc("POST "+Prefix+"feedback", s.authed(s.feedback))
	m.HandleFunc("GET "+Prefix+"service", s.authed(s.service))
	m.HandleFunc("GET "+Prefix+"forecasts", s.authed(s.forecasts))
	m.HandleFunc("GET "+Prefix+"hubs", s.authed(s.hubList))
	m.HandleFunc("POST "+Prefix+"hubs/forecasts", s.authed(s.fileHubForecast))
	m.HandleFunc("POST "+Prefix+"hubs/orders", s.authed(s.placeHubOrder))
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

// noCookie says a form came back without the cookie of the page it was
// on.
const noCookie = "Your browser sent the form without the cookie of the page it came from, so it cannot be matched to it: are cookies blocked for this site? Allow them (the SSI needs them) and send it again."

// challengeProblem says why a challenge answered is not taken: "" if it is.
func (s *SSI) challengeProblem(r *http.Request, what string) string {
	c, err := r.Cookie(preCookie)
	if err != nil {
		return noCookie
	}
	if !s.takeChallenge(c.Value, r.PostFormValue(what)) {
		return fmt.Sprintf("The page has expired (it is valid for %s), or it was sent already.", s.cfg.Spec.ServiceManagement.SSI.ChallengeValid.Format())
	}
	return ""
}

// signin checks the signature over the challenge of this browser's
// pre-session and opens a session. A User ID is read in capitals.
func (s *SSI) signin(w http.ResponseWriter, r *http.Request) {
	userID := strings.ToUpper(strings.TrimSpace(r.PostFormValue("user_id")))
	if msg := s.challengeProblem(r, "challenge"); msg != "" {
		s.signinForm(w, r, http.StatusForbidden, msg+" Sign the new challenge below.", userID)
		return
	}
	if id, ok := clientCertUser(r); ok && id != userID {
		s.signinForm(w, r, http.StatusForbidden, fmt.Sprintf("Your browser presents the certificate of user %s: sign in as %s, or without the certificate (%s).", id, id, s.cfg.Spec.ServiceManagement.SSI.AuthClause), userID)
		return
	}
	if err := s.verifyChallenge(r.Context(), userID, r.PostFormValue("challenge"), r.PostFormValue("signature")); err != nil {
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
	if msg := s.challengeProblem(r, "challenge"); msg != "" {
		s.signinForm(w, r, http.StatusForbidden, msg, "")
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
		from, to, msg := archiveDates(d.From, d.To)
		if msg != "" {
			// Said, not ignored: the archive of other dates than those
			// asked would pass for theirs.
			s.render(w, http.StatusBadRequest, "requests", page{Title: "Service Requests", Nav: "requests", User: sess, Data: d, Error: msg})
			return
		}
		if !from.IsZero() && from.After(lo) {
			lo = from
		}
		if !to.IsZero() && to.AddDate(0, 0, 1).Before(hi) {
			hi = to.AddDate(0, 0, 1)
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

// archiveDates reads the dates of an archive search, each optional; msg
// says what is wrong with them, if anything.
func archiveDates(fromText, toText string) (from, to time.Time, msg string) {
	var bad []string
	for _, d := range []struct {
		name, text string
		t          *time.Time
	}{{"from", fromText, &from}, {"to", toText, &to}} {
		if d.text == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.text)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s %q", d.name, d.text))
			continue
		}
		*d.t = t
	}
	switch {
	case len(bad) > 0:
		return from, to, "Not a date: " + strings.Join(bad, " and ") + ". Dates are written YYYY-MM-DD."
	case !from.IsZero() && !to.IsZero() && from.After(to):
		return from, to, fmt.Sprintf("The search is from %s to %s: the first date is after the second.", fromText, toText)
	}
	return from, to, ""
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
	// Form and SysForm are what the user wrote in the raise form (after
	// a diagnostic) or in that about the DCC's own systems, refused, shown
	// again in it.
	Form, SysForm raiseForm
	// Limits bound the title and description (as a ticket's subject and
	// body: incidents.limits).
	Limits incidents.TicketLimits
}

// raiseForm is what a user writes to raise an incident.
type raiseForm struct {
	Title, Category, Area, RequestID, Description string
	NeedsVisit                                    bool
}

type categoryView struct{ Code, Name, Target string }
type areaView struct{ Code, Name string }

func (s *SSI) incidentsView(ctx context.Context, sess *session) (incidentsData, error) {
	pol := s.cfg.Spec.ServiceManagement.Incidents
	d := incidentsData{Overdue: map[string]bool{}, Limits: s.deskRules.MaxChars}
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
	// What the diagnostic found is shown again with a refusal, if the
	// diagnosis is still the user's to attach.
	var diag *incidents.Diagnosis
	if in.DiagnosisID != "" {
		if d, err := s.cfg.Store.GetDiagnosis(r.Context(), in.DiagnosisID); err == nil && d.Caller == sess.User {
			diag = &d
		}
	}
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
		// The form comes back as the user wrote it, the diagnostic's
		// result with it: nothing is typed or run twice.
		d.Ticket, d.Device, d.Diagnosis = r.PostFormValue("ticket_id"), in.DeviceID, diag
		f := raiseForm{Title: in.Title, Category: in.Category, Area: in.Area, RequestID: in.RequestID, Description: in.Description, NeedsVisit: in.NeedsVisit}
		if in.DiagnosisID != "" {
			d.Form = f
		} else {
			d.SysForm = f
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
	Actions       incidentActions
	Category      string
	// ReviewDays is how many working days after its resolution a major
	// incident's review report is due (para 235).
	ReviewDays int
	// Note and Data are what the user wrote in the form of step Kept
	// (update, resolve, close, review), which was refused.
	Note, Data, Kept string
}

// incidentActions are the steps a user may take on an incident, offered
// on its page.
type incidentActions struct {
	Update, Resolve, Close, Review bool
}

// actionsOf are the steps a user may take on an incident: as the
// incidents.Log checks them (Update, Resolve, Close, SubmitReview: who may
// act) and the spec's transitions (incidents.rego transition_allowed: to
// which status the incident may move from its own). Interested parties see
// the incident and may do none of them.
func actionsOf(pol spec.IncidentPolicy, inc store.Incident, user string) incidentActions {
	moves := func(to string) bool {
		return slices.ContainsFunc(pol.Transitions, func(t spec.IncidentTransition) bool { return t.From == inc.Status && t.To == to })
	}
	// A status no transition leaves (closed) is final: its record is
	// complete.
	final := !slices.ContainsFunc(pol.Transitions, func(t spec.IncidentTransition) bool { return t.From == inc.Status })
	responsible := inc.ResponsibleUser == user
	reviewer := inc.ResponsibleUser
	if inc.ResponsibleParty == incidents.DCC {
		reviewer = incidents.DCC
	}
	return incidentActions{
		Update:  !final && (user == inc.RaisedBy || responsible),
		Resolve: responsible && moves(incidents.StatusResolved),
		Close:   responsible && moves(incidents.StatusClosed), // para 228-229
		Review:  inc.Major && reviewer == user && !inc.ResolvedAt.IsZero() && inc.ReviewedAt.IsZero(),
	}
}

func (s *SSI) incident(w http.ResponseWriter, r *http.Request, sess *session) {
	s.showIncident(w, r, sess, http.StatusOK, "", incidentData{})
}

// showIncident shows an incident; kept carries what the user wrote in a
// form that was refused (msg).
func (s *SSI) showIncident(w http.ResponseWriter, r *http.Request, sess *session, status int, msg string, kept incidentData) {
	inc, evs, err := s.cfg.Log.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		s.notFound(w, sess, "incident")
		return
	}
	now := s.cfg.Clock.Now()
	pol := s.cfg.Spec.ServiceManagement.Incidents
	d := incidentData{Incident: inc, Events: evs, Overdue: incidents.Overdue(inc, now), ReviewOverdue: incidents.ReviewOverdue(inc, now),
		Actions: actionsOf(pol, inc, sess.User), Category: pol.Categories[inc.Category].Name, ReviewDays: pol.Major.ReviewDueWorkingDays,
		Note: kept.Note, Data: kept.Data, Kept: kept.Kept}
	s.render(w, status, "incident", page{Title: "Incident " + inc.ID, Nav: "incidents", User: sess, Data: d, Error: msg})
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
		s.showIncident(w, r, sess, http.StatusUnprocessableEntity, err.Error(), incidentData{Note: r.PostFormValue("note"), Data: r.PostFormValue("data"), Kept: r.PathValue("action")})
		return
	}
	http.Redirect(w, r, Prefix+"incidents/"+id, http.StatusSeeOther)
}

// ------------------------------------------------------------ service desk

type deskData struct {
	Tickets []store.Ticket
	Kinds   []areaView
	// Form is what was written in a form refused, shown again in it.
	Form ticketForm
	// Limits are the longest texts of a ticket's fields.
	Limits incidents.TicketLimits
	// Sent is a public ticket just raised, with the code its raiser looks
	// it up with (shown this once).
	Sent *sentTicket
}

// ticketForm is what a ticket's form holds.
type ticketForm struct {
	Party, Contact, Kind, Subject, Body string
}

type sentTicket struct {
	ID, Code, Contact string
}

func (s *SSI) deskView(ctx context.Context, party string, nonUsers bool) (deskData, error) {
	d := deskData{Limits: s.deskRules.MaxChars}
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

// desk is the user's Service Desk: a form and its tickets with their
// answers. ?sent=ID, where a ticket was just raised (raiseTicket), says
// so.
func (s *SSI) desk(w http.ResponseWriter, r *http.Request, sess *session) {
	d, err := s.deskView(r.Context(), sess.User, false)
	if err != nil {
		s.fail(w, sess, err)
		return
	}
	var notice string
	if id := r.URL.Query().Get("sent"); id != "" && slices.ContainsFunc(d.Tickets, func(t store.Ticket) bool { return t.ID == id }) {
		notice = "Your query " + id + " was sent to the Service Desk."
	}
	s.render(w, http.StatusOK, "desk", page{Title: "Service Desk", Nav: "desk", User: sess, Data: d, Notice: notice})
}

// raiseTicket raises a user's ticket and redirects to the desk page (so a
// reload does not send it again); a refusal shows the form as written.
func (s *SSI) raiseTicket(w http.ResponseWriter, r *http.Request, sess *session) {
	f := ticketForm{Kind: r.PostFormValue("kind"), Subject: strings.TrimSpace(r.PostFormValue("subject")), Body: r.PostFormValue("body")}
	t, err := s.cfg.Log.RaiseTicket(r.Context(), incidents.TicketInput{RaisedBy: sess.User, Kind: f.Kind, Subject: f.Subject, Body: f.Body})
	if err == nil {
		http.Redirect(w, r, Prefix+"desk?sent="+url.QueryEscape(t.ID), http.StatusSeeOther)
		return
	}
	d, verr := s.deskView(r.Context(), sess.User, false)
	if verr != nil {
		s.fail(w, sess, verr)
		return
	}
	d.Form = f
	s.render(w, http.StatusUnprocessableEntity, "desk", page{Title: "Service Desk", Nav: "desk", User: sess, Data: d, Error: err.Error()})
}

// ticket shows one of the user's tickets: what was asked, and the
// answer.
func (s *SSI) ticket(w http.ResponseWriter, r *http.Request, sess *session) {
	t, err := s.cfg.Log.Ticket(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		s.notFound(w, sess, "ticket")
		return
	}
	s.render(w, http.StatusOK, "ticket", page{Title: "Ticket " + t.ID, Nav: "desk", User: sess, Data: ticketView{Ticket: t, Kind: s.kindName(t.Kind)}})
}

// ticketView is a ticket as its page shows it.
type ticketView struct {
	Ticket store.Ticket
	Kind   string
	// Public: looked up by its reference and code (no session).
	Public bool
}

func (s *SSI) kindName(kind string) string {
	if k, ok := s.cfg.Spec.ServiceManagement.ServiceDesk.Kinds[kind]; ok {
		return k.Name
	}
	return kind
}

// publicDesk is the Service Desk for SEC Parties that are not DCC Users:
// general queries only (para 254), with a contact where the Service Desk
// answers (para 255). No sign-in; its form carries the pre-session
// challenge as a CSRF token.
func (s *SSI) publicDesk(w http.ResponseWriter, r *http.Request) {
	s.publicDeskForm(w, r, http.StatusOK, "", deskData{})
}

func (s *SSI) publicDeskForm(w http.ResponseWriter, r *http.Request, status int, msg string, kept deskData) {
	d, _ := s.deskView(r.Context(), "", true)
	d.Form, d.Sent = kept.Form, kept.Sent
	s.render(w, status, "servicedesk", page{Title: "Service Desk for SEC Parties", Error: msg, CSRF: s.newChallenge(w, r), Data: d})
}

// limited refuses a request of the public Service Desk from an address
// that used up its part (the spec's ssi.public_form_rate); it reports
// whether it did.
func (s *SSI) limited(w http.ResponseWriter, r *http.Request, l *limiter) (string, bool) {
	ok, wait := l.take(remoteAddr(r), s.cfg.Clock.Now())
	if ok {
		return "", false
	}
	wait = max(wait.Round(time.Second), time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
	rate := s.rules.PublicFormRate
	return fmt.Sprintf("Too many queries from your address: %d at once, then one every %s. Try again in %s.",
		rate.Burst, rate.Refill.Format(), spec.Duration(wait).Format()), true
}

func (s *SSI) publicDeskPost(w http.ResponseWriter, r *http.Request) {
	f := ticketForm{Party: strings.TrimSpace(r.PostFormValue("party")), Contact: strings.TrimSpace(r.PostFormValue("contact")),
		Kind: r.PostFormValue("kind"), Subject: strings.TrimSpace(r.PostFormValue("subject")), Body: r.PostFormValue("body")}
	kept := deskData{Form: f}
	if msg, ok := s.limited(w, r, s.deskPosts); ok {
		s.publicDeskForm(w, r, http.StatusTooManyRequests, msg, kept)
		return
	}
	if msg := s.challengeProblem(r, "csrf"); msg != "" {
		s.publicDeskForm(w, r, http.StatusForbidden, msg+" What you wrote is below.", kept)
		return
	}
	t, code, err := s.cfg.Log.RaisePublicTicket(r.Context(), incidents.TicketInput{RaisedBy: f.Party, Party: f.Party, Kind: f.Kind,
		Subject: f.Subject, Body: f.Body, Contact: f.Contact})
	if err != nil {
		s.publicDeskForm(w, r, http.StatusUnprocessableEntity, err.Error(), kept)
		return
	}
	// Shown, not redirected to: the code is in no address. A reload sends
	// the form again with the challenge it has used, which is refused.
	s.publicDeskForm(w, r, http.StatusOK, "", deskData{Sent: &sentTicket{ID: t.ID, Code: code, Contact: t.Contact}})
}

// lookupPage is where a SEC Party looks its ticket up by its reference
// and code.
func (s *SSI) lookupPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, "lookup", page{Title: "Your Service Desk ticket", Data: lookupData{}})
}

type lookupData struct {
	ID     string
	Ticket *ticketView
}

// lookup shows a public ticket's status and answer to whoever has its
// reference and code (posted, so the code is in no address); a wrong code
// is answered as no ticket.
func (s *SSI) lookup(w http.ResponseWriter, r *http.Request) {
	d := lookupData{ID: strings.TrimSpace(r.PostFormValue("ticket"))}
	if msg, ok := s.limited(w, r, s.lookups); ok {
		s.render(w, http.StatusTooManyRequests, "lookup", page{Title: "Your Service Desk ticket", Data: d, Error: msg})
		return
	}
	t, err := s.cfg.Log.LookupTicket(r.Context(), d.ID, r.PostFormValue("code"))
	if err != nil {
		var ie *incidents.Error
		if !errors.As(err, &ie) {
			s.fail(w, nil, err)
			return
		}
		s.render(w, http.StatusNotFound, "lookup", page{Title: "Your Service Desk ticket", Data: d,
			Error: "No ticket has this reference and code. Check both as you were given them when you sent your query."})
		return
	}
	d.Ticket = &ticketView{Ticket: t, Kind: s.kindName(t.Kind), Public: true}
	s.render(w, http.StatusOK, "lookup", page{Title: "Your Service Desk ticket", Data: d})
}

// ------------------------------------------------------------ downloads, feedback

func (s *SSI) downloads(w http.ResponseWriter, r *http.Request, sess *session) {
	s.render(w, http.StatusOK, "downloads", page{Title: "Forms and guides", Nav: "downloads", User: sess, Data: s.cfg.Spec.ServiceManagement.SSI.Downloads})
}

func (s *SSI) download(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("file")
	for _, d := range s.cfg.Spec.ServiceManagement.SSI.Downloads {
		if d.File == name {
			t := s.files[name]
			if t == nil {
				s.notFound(w, sess, "download")
				return
			}
			// A form carries the Service Desk's contact, where it is sent.
			var buf bytes.Buffer
			if err := t.Execute(&buf, s.contact.Load()); err != nil {
				s.fail(w, sess, err)
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
			_, _ = w.Write(buf.Bytes())
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
	Windows  []store.MaintenanceWindow
	Releases []releaseView
	Measures []incidents.MeasureResult
	Month    string
	// Disruption is the time under maintenance of the month until now,
	// Planned that of the whole month as published.
	Disruption  string
	Planned     string
	MaxPerMonth string
}

// releaseView is a release with whether it is implemented by now.
type releaseView struct {
	store.Release
	Implemented bool
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
		var rels []store.Release
		if d.Windows, err = s.cfg.Planner.Schedule(ctx, from, time.Time{}); err == nil {
			rels, err = s.cfg.Planner.Releases(ctx)
		}
		for _, rl := range rels {
			d.Releases = append(d.Releases, releaseView{Release: rl, Implemented: !rl.ImplementAt.After(now)})
		}
		for _, p := range []struct {
			until time.Time
			out   *string
		}{{now, &d.Disruption}, {to, &d.Planned}} {
			if err == nil {
				var dis time.Duration
				if dis, err = s.cfg.Planner.Disruption(ctx, from, p.until); err == nil {
					*p.out = formatDur(dis)
				}
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
