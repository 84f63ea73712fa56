// Package ssi is the Self-Service Interface (para 238-252): server-rendered
// web pages (html/template, no JavaScript needed) where a DCC User's people
// search the user's part of the Smart Metering Inventory, follow their
// Service Requests, look up SMWAN coverage by postcode, raise and follow
// incidents, use the Service Desk, download forms and guides and give
// feedback.
//
// Sign-in is bound to the user's certificate (para 243): either the browser
// presents the user's client certificate over TLS, or the user signs a
// one-time challenge with the certificate's private key, verified against
// the certificate the gateway holds for the user. Only users who completed
// User Entry sign in (para 240); each sees only its own data (para 250);
// the sessions of one user are limited (para 252). A client certificate
// presented with a session must be the session's user's. Forms carry a
// CSRF token and are bounded in size (the spec's ssi.max_form_bytes); every
// response carries security headers.
//
// SEC Parties that are not DCC Users raise general queries at the public
// Service Desk (para 254) with a contact where the Service Desk answers
// them, and look their ticket up with its reference and the code they were
// given; the public form is rate-limited per remote address (the spec's
// ssi.public_form_rate). The Service Desk's telephone and email (para 255)
// are shown where a user or a party may need them.
package ssi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	texttemplate "text/template"
	"time"

	"github.com/dccgate/dccgate/incidents"
	"github.com/dccgate/dccgate/maintenance"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

//go:embed templates/*.html static/* downloads/*
var assets embed.FS

// Prefix is where the SSI is mounted.
const Prefix = "/ssi/"

// Portfolio returns the devices of the inventory a user's Registration
// Data names it for (the gateway's Portfolio).
type Portfolio func(ctx context.Context, userID string) ([]store.Device, error)

// Store is what the SSI reads and writes.
type Store interface {
	store.Store
	store.ServiceManagement
}

// Config is what the SSI needs.
type Config struct {
	Store Store
	Spec  *spec.Spec
	// Clock tells the time (the gateway's clock).
	Clock     interface{ Now() time.Time }
	Log       *incidents.Log
	Planner   *maintenance.Planner
	Portfolio Portfolio
	// Forecasts, if set, lists the user's demand forecasts (para 271).
	Forecasts func(ctx context.Context, userID string) ([]store.Forecast, error)
	// Hubs, if set, is the user's Communications Hubs (or SetHubs).
	Hubs Hubs
	// Reports, if set, are the monthly reports (or SetReports).
	Reports Reports
	// MaxSessions overrides the spec's max_sessions_per_user when > 0.
	MaxSessions int
	// ServiceDesk is the Service Desk's telephone and email (or
	// SetServiceDesk).
	ServiceDesk ServiceDeskContact
	Logger      *slog.Logger
}

// ServiceDeskContact is how DCC Users and SEC Parties reach the Service
// Desk besides the SSI: by telephone and email (para 255). Demo marks
// example values that are no real Service Desk's.
type ServiceDeskContact struct {
	Telephone string
	Email     string
	Demo      bool
}

// SetServiceDesk sets the Service Desk's telephone and email shown on the
// pages; it may be called while the SSI serves.
func (s *SSI) SetServiceDesk(c ServiceDeskContact) { s.contact.Store(&c) }

// ssiRules are the SSI's settings of the spec that its typed model does
// not carry, read from the spec's data (service_management.ssi).
type ssiRules struct {
	MaxFormBytes   int64 `json:"max_form_bytes"`
	PublicFormRate struct {
		Burst  int           `json:"burst"`
		Refill spec.Duration `json:"refill"`
	} `json:"public_form_rate"`
}

func ssiRulesOf(sp *spec.Spec) (ssiRules, error) {
	var r ssiRules
	sm, _ := sp.Data()["service_management"].(map[string]any)
	raw, err := json.Marshal(sm["ssi"])
	if err == nil {
		err = json.Unmarshal(raw, &r)
	}
	if err != nil {
		return r, fmt.Errorf("ssi: the spec's ssi: %w", err)
	}
	if r.MaxFormBytes <= 0 || r.PublicFormRate.Burst <= 0 || r.PublicFormRate.Refill <= 0 {
		return r, errors.New("ssi: the spec's ssi needs max_form_bytes and public_form_rate (burst, refill) above 0")
	}
	return r, nil
}

// SSI is the Self-Service Interface's handler.
type SSI struct {
	cfg       Config
	tmpl      map[string]*template.Template
	mux       *http.ServeMux
	postcode  *regexp.Regexp // a full postcode (the spec's pattern)
	rules     ssiRules
	deskRules *incidents.DeskRules
	// files are the forms and guides to download, as templates of the
	// Service Desk's contact.
	files   map[string]*texttemplate.Template
	contact atomic.Pointer[ServiceDeskContact]
	// deskPosts and lookups limit the public Service Desk's form and
	// ticket look-up per remote address.
	deskPosts, lookups *limiter

	mu         sync.Mutex
	sessions   map[string]*session   // by token
	challenges map[string]*challenge // by pre-session cookie
}

// session is a signed-in user's session; the templates read its exported
// fields.
type session struct {
	token, csrf       string
	User, Party, Role string
	// MayOrderHubs: the user may forecast and order Communications Hubs;
	// HubChargesOnly: it may not, and sees their charges only (hubAccess,
	// for the navigation).
	MayOrderHubs, HubChargesOnly bool
	created, seen                time.Time
}

type challenge struct {
	nonce string
	at    time.Time
}

// New builds the SSI.
func New(cfg Config) (*SSI, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &SSI{cfg: cfg, sessions: map[string]*session{}, challenges: map[string]*challenge{}, tmpl: map[string]*template.Template{},
		files: map[string]*texttemplate.Template{}}
	s.contact.Store(&cfg.ServiceDesk)
	var err error
	if s.postcode, err = regexp.Compile(cfg.Spec.Patterns["postcode"]); err != nil {
		return nil, fmt.Errorf("ssi: the spec's postcode pattern: %w", err)
	}
	if s.rules, err = ssiRulesOf(cfg.Spec); err != nil {
		return nil, err
	}
	if s.deskRules, err = incidents.DeskRulesOf(cfg.Spec); err != nil {
		return nil, err
	}
	rate := s.rules.PublicFormRate
	s.deskPosts, s.lookups = newLimiter(rate.Burst, rate.Refill.Std()), newLimiter(rate.Burst, rate.Refill.Std())
	for _, d := range cfg.Spec.ServiceManagement.SSI.Downloads {
		b, err := fs.ReadFile(assets, "downloads/"+d.File)
		if err != nil {
			continue // listed by a spec, not embedded: not found
		}
		t, err := texttemplate.New(d.File).Parse(string(b))
		if err != nil {
			return nil, fmt.Errorf("ssi: download %s: %w", d.File, err)
		}
		s.files[d.File] = t
	}
	funcs := template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05")
		},
		// took is the time a request took, from its receipt or its
		// execution time (gateway.MeasuredFrom).
		"took": func(r store.Request) string { return took(cfg.Spec, r) },
		"join": strings.Join,
		// responsible names who is responsible for an incident: the
		// party and the supplier's User ID, or that no one is yet.
		"responsible": func(inc store.Incident) string {
			who := strings.Join(strings.Fields(inc.ResponsibleParty+" "+inc.ResponsibleUser), " ")
			if who == "" {
				return "not allocated yet (the DCC allocates it)"
			}
			return who
		},
		"pct": func(p *float64) string {
			if p == nil {
				return "n/a"
			}
			return fmt.Sprintf("%.1f%%", *p)
		},
	}
	pages, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, p := range pages {
		name := strings.TrimSuffix(strings.TrimPrefix(p, "templates/"), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/partials.html", p)
		if err != nil {
			return nil, err
		}
		s.tmpl[name] = t
	}
	s.routes()
	return s, nil
}

// maxSessions is the limit of sessions per user: the spec's, or a lower
// one configured (a deployment may lower it, not raise it: para 252).
func (s *SSI) maxSessions() int {
	limit := s.cfg.Spec.ServiceManagement.SSI.MaxSessionsPerUser
	if s.cfg.MaxSessions > 0 {
		return min(s.cfg.MaxSessions, limit)
	}
	return limit
}

// ServeHTTP adds the security headers and serves the SSI.
func (s *SSI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if r.Method == http.MethodPost {
		// Every form is read here, bounded: a form too large is refused
		// for what it is, not as a CSRF failure of a form read empty.
		r.Body = http.MaxBytesReader(w, r.Body, s.rules.MaxFormBytes)
		if err := r.ParseForm(); err != nil {
			if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
				s.render(w, http.StatusRequestEntityTooLarge, "error", page{Title: "Form too large", User: s.current(r),
					Error: fmt.Sprintf("The form sent is larger than the %d bytes the Self-Service Interface takes: shorten what you wrote and send it again.", s.rules.MaxFormBytes)})
				return
			}
			s.render(w, http.StatusBadRequest, "error", page{Title: "Bad form", User: s.current(r), Error: "The form sent could not be read; go back, reload the page and send it again."})
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

const (
	sessionCookie = "ssi_session"
	preCookie     = "ssi_pre"
)

func (s *SSI) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: Prefix, HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: maxAge})
}

// current returns the request's session, refreshing its idle time; nil if
// there is none or it has expired.
func (s *SSI) current(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[c.Value]
	if sess == nil {
		return nil
	}
	if now.Sub(sess.seen) > s.cfg.Spec.ServiceManagement.SSI.SessionIdle.Std() {
		delete(s.sessions, c.Value)
		return nil
	}
	sess.seen = now
	return sess
}

// ErrTooManySessions is returned when a user already has the sessions the
// configuration allows (para 252).
var ErrTooManySessions = errors.New("ssi: the user has as many sessions as allowed")

// ErrNotEntered is returned when the user has not completed User Entry
// (para 240), is suspended or is unknown.
var ErrNotEntered = errors.New("ssi: only DCC Users who completed User Entry sign in")

// startSession opens a session for a user that has authenticated.
func (s *SSI) startSession(ctx context.Context, userID string) (*session, error) {
	u, err := s.cfg.Store.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (!u.Entered || u.Suspended)) {
		return nil, ErrNotEntered
	} else if err != nil {
		return nil, err
	}
	mayOrderHubs, hubChargesOnly := s.hubAccess(ctx, u.ID)
	now := s.cfg.Clock.Now()
	idle := s.cfg.Spec.ServiceManagement.SSI.SessionIdle.Std()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for tok, x := range s.sessions {
		if now.Sub(x.seen) > idle {
			delete(s.sessions, tok)
			continue
		}
		if x.User == userID {
			n++
		}
	}
	if n >= s.maxSessions() {
		return nil, ErrTooManySessions
	}
	sess := &session{token: randomToken(), User: u.ID, Party: u.Party, Role: u.Role, csrf: randomToken(), created: now, seen: now,
		MayOrderHubs: mayOrderHubs, HubChargesOnly: hubChargesOnly}
	s.sessions[sess.token] = sess
	return sess, nil
}

// endSession ends one session whose client certificate is not its user's,
// saying why.
func (s *SSI) endSession(w http.ResponseWriter, r *http.Request, sess *session, why string) {
	s.mu.Lock()
	delete(s.sessions, sess.token)
	s.mu.Unlock()
	s.setCookie(w, r, sessionCookie, "", -1)
	s.render(w, http.StatusForbidden, "error", page{Title: "Session ended",
		Error: why + " The session and the certificate must be the same user's (" + s.cfg.Spec.ServiceManagement.SSI.AuthClause + "), so the session has ended: sign in again."})
}

// endSessions ends every session of a user.
func (s *SSI) endSessions(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok, x := range s.sessions {
		if x.User == userID {
			delete(s.sessions, tok)
		}
	}
}

// Sessions returns how many live sessions a user has.
func (s *SSI) Sessions(userID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, x := range s.sessions {
		if x.User == userID {
			n++
		}
	}
	return n
}

// ChallengeMessage is what a user signs to sign in: the challenge with a
// fixed context, so a signature made for something else does not serve.
func ChallengeMessage(nonce string) []byte { return []byte("dccgate-ssi-signin:" + nonce) }

// verifyChallenge checks a signature over the challenge by the key of the
// certificate held for the user, valid at the clock's time.
func (s *SSI) verifyChallenge(ctx context.Context, userID, nonce, sigB64 string) error {
	u, err := s.cfg.Store.GetUser(ctx, userID)
	if err != nil || u.CertPEM == "" {
		return ErrNotEntered
	}
	cert, err := pki.ParseCert([]byte(u.CertPEM))
	if err != nil {
		return errors.New("ssi: the user's certificate is revoked")
	}
	now := s.cfg.Clock.Now()
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return errors.New("ssi: the user's certificate is not valid now")
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sigB64))
	if err != nil || !pki.Verify(cert, ChallengeMessage(nonce), sig) {
		return errors.New("ssi: the signature does not verify under the user's certificate")
	}
	return nil
}

// maxChallenges bounds the sign-in challenges held at once (a memory
// bound against pages fetched in a loop, not a rule of the spec).
const maxChallenges = 10000

// heldCertificate checks a presented client certificate against the one
// the gateway holds for the user: the same key, valid now, not revoked. A
// user with none held is trusted on the CA's signature, as the API does.
func (s *SSI) heldCertificate(ctx context.Context, userID string, presented *x509.Certificate) error {
	u, err := s.cfg.Store.GetUser(ctx, userID)
	if err != nil {
		return ErrNotEntered
	}
	now := s.cfg.Clock.Now()
	if now.Before(presented.NotBefore) || now.After(presented.NotAfter) {
		return errors.New("ssi: the certificate is not valid now")
	}
	if u.CertPEM == "" {
		return nil
	}
	held, err := pki.ParseCert([]byte(u.CertPEM))
	if err != nil {
		return errors.New("ssi: the user's certificate is revoked")
	}
	if !pki.SameKey(held, presented) {
		return errors.New("ssi: the certificate is not the one held for the user")
	}
	return nil
}

// clientCertUser returns the User ID of a verified TLS client certificate.
func clientCertUser(r *http.Request) (string, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
		return "", false
	}
	var cert *x509.Certificate = r.TLS.PeerCertificates[0]
	id, err := pki.UserID(cert)
	return id, err == nil
}

// checkCSRF compares the form's token with the session's.
func checkCSRF(r *http.Request, want string) bool {
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// page is what every template receives.
type page struct {
	Title   string
	Nav     string
	User    *session
	CSRF    string
	Error   string
	Notice  string
	Clauses map[string]string
	Data    any
	// Desk is the Service Desk's telephone and email (para 255).
	Desk *ServiceDeskContact
	// Maintenance says a maintenance window is in progress, if one is.
	Maintenance string
}

func (s *SSI) render(w http.ResponseWriter, status int, name string, p page) {
	t, ok := s.tmpl[name]
	if !ok {
		http.Error(w, "no page "+name, http.StatusInternalServerError)
		return
	}
	if p.User != nil {
		p.CSRF = p.User.csrf
	}
	sm := s.cfg.Spec.ServiceManagement
	p.Clauses = map[string]string{"ssi": sm.SSI.Clause, "history": sm.SSI.HistoryClause, "isolation": sm.SSI.IsolationClause,
		"incidents": sm.Incidents.Clause, "desk": sm.ServiceDesk.Clause, "maintenance": sm.Maintenance.Clause, "auth": sm.SSI.AuthClause}
	p.Desk = s.contact.Load()
	if s.cfg.Planner != nil {
		if ref, detail, ok := s.cfg.Planner.InWindow(s.cfg.Clock.Now()); ok {
			p.Maintenance = fmt.Sprintf("Maintenance in progress: window %s (%s, UTC). Service Requests are refused with reason %s until it ends (%s).",
				ref, detail, sm.Maintenance.ReasonCode, sm.Maintenance.Clause)
		}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		s.cfg.Logger.Error("ssi: rendering", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// authed wraps a handler that needs a session; POSTs also need the CSRF
// token.
func (s *SSI) authed(h func(w http.ResponseWriter, r *http.Request, sess *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := s.current(r)
		if sess == nil {
			http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
			return
		}
		// A user suspended (Section M8) or removed since it signed in
		// loses its sessions at once, not when they go idle.
		if u, err := s.cfg.Store.GetUser(r.Context(), sess.User); errors.Is(err, store.ErrNotFound) || (err == nil && (!u.Entered || u.Suspended)) {
			s.endSessions(sess.User)
			http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
			return
		} else if err != nil {
			s.render(w, http.StatusInternalServerError, "error", page{Title: "Error", Error: "The user's record could not be read; try again."})
			return
		}
		// Mutual authentication (para 243): a client certificate presented
		// with the session must be the session's user's, the one held for
		// it; another's ends the session.
		if id, ok := clientCertUser(r); ok {
			if id != sess.User {
				s.endSession(w, r, sess, fmt.Sprintf("The client certificate your browser presented is user %s's, not that of %s, whose session this was.", id, sess.User))
				return
			}
			if err := s.heldCertificate(r.Context(), id, r.TLS.PeerCertificates[0]); err != nil {
				s.endSession(w, r, sess, "The client certificate your browser presented is refused: "+strings.TrimPrefix(err.Error(), "ssi: ")+".")
				return
			}
		}
		if r.Method == http.MethodPost && !checkCSRF(r, sess.csrf) {
			s.render(w, http.StatusForbidden, "error", page{Title: "Refused", User: sess, Error: "The form has expired or did not come from this site (CSRF check). Reload the page and try again."})
			return
		}
		h(w, r, sess)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
