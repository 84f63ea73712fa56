package ssi_test

import (
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/incidents"
	"github.com/dccgate/dccgate/runtime/server"
	"github.com/dccgate/dccgate/runtime/ssi"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

var (
	sentTicketRE = regexp.MustCompile(`id="sent-ticket">([^<]+)<`)
	sentCodeRE   = regexp.MustCompile(`id="sent-code">([^<]+)<`)
)

// publicRefill is how long the public form's rate limit takes to give an
// address one more use (the spec's ssi.public_form_rate.refill).
func publicRefill(t *testing.T) time.Duration {
	t.Helper()
	rate := spec.MustDefault().Data()["service_management"].(map[string]any)["ssi"].(map[string]any)["public_form_rate"].(map[string]any)
	d, err := time.ParseDuration(rate["refill"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// postPublic sends the public Service Desk form as a browser does: it
// reads the form's token from the page, then posts. With spaced set, the
// clock then moves on by the rate limit's refill, so a test's posts are
// not limited.
func postPublic(t *testing.T, s *server.Server, b *browser, form url.Values, spaced bool) (int, string, http.Header) {
	t.Helper()
	_, page, _ := b.do("GET", "/ssi/servicedesk", nil)
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no token on the public Service Desk page")
	}
	f := url.Values{"csrf": {m[1]}}
	for k, v := range form {
		f[k] = v
	}
	code, out, h := b.do("POST", "/ssi/servicedesk", f)
	if spaced {
		if _, err := s.G.Advance(t.Context(), publicRefill(t)); err != nil {
			t.Fatal(err)
		}
	}
	return code, out, h
}

func query(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// TestPublicServiceDesk: a SEC Party that is not a user raises a general
// query with a contact the Service Desk answers it at (para 254-255) and is
// given the ticket's reference and a code to look it up with, of which
// only a hash is kept; a refusal shows the form as it was written.
func TestPublicServiceDesk(t *testing.T) {
	s := startDemo(t, 0)
	b := newBrowser(t, s, "")
	rules, err := incidents.DeskRulesOf(s.G.Spec())
	if err != nil {
		t.Fatal(err)
	}
	base := func(kv ...string) url.Values {
		v := query("party", "Prospective Energy Ltd", "contact", "desk@prospective.example", "kind", "general_query",
			"subject", "How do we become a user?", "body", "We read Section H1 & want to know more.")
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		note string
		form url.Values
		code int
		says string
	}{
		{"a general query with an email address", base(), http.StatusOK, "Your query was sent to the Service Desk"},
		{"with a telephone number", base("contact", "+44 20 7946 0123"), http.StatusOK, "Your query was sent to the Service Desk"},
		{"without a contact", base("contact", ""), http.StatusUnprocessableEntity, "give an email address or a telephone number"},
		{"a contact that is neither", base("contact", "ask for Bob"), http.StatusUnprocessableEntity, "neither an email address"},
		{"an incident query", base("kind", "incident_query"), http.StatusUnprocessableEntity, "general queries only"},
		{"in a DCC User's name", base("party", alpha, "kind", "incident_query"), http.StatusUnprocessableEntity, "signed in"},
		{"a subject too long", base("subject", strings.Repeat("s", rules.MaxChars.Subject+1)), http.StatusUnprocessableEntity, "the subject is"},
	}
	sent := 0
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			code, page, _ := postPublic(t, s, b, tc.form, true)
			if code != tc.code || !strings.Contains(html.UnescapeString(page), tc.says) {
				t.Fatalf("%d, want %d saying %q:\n%s", code, tc.code, tc.says, page)
			}
			if code == http.StatusOK {
				sent++
				ref, lookup := sentTicketRE.FindStringSubmatch(page), sentCodeRE.FindStringSubmatch(page)
				if ref == nil || lookup == nil {
					t.Fatalf("no reference or code shown:\n%s", page)
				}
				tk, err := s.Incidents.Ticket(t.Context(), incidents.DCC, ref[1])
				if err != nil || tk.Contact != tc.form.Get("contact") || tk.LookupHash == "" || strings.Contains(tk.LookupHash, lookup[1]) || tk.IsUser {
					t.Fatalf("stored %+v %v", tk, err)
				}
				return
			}
			// Refused: what was written comes back in the form.
			for _, k := range []string{"party", "contact", "subject", "body"} {
				if v := tc.form.Get(k); v != "" && !strings.Contains(html.UnescapeString(page), v) {
					t.Errorf("the form lost the %s %q", k, v)
				}
			}
			if k := tc.form.Get("kind"); k == "general_query" && !strings.Contains(page, `<option value="`+k+`" selected>`) {
				t.Errorf("the form lost the kind %s", k)
			}
		})
	}
	ts, err := s.Incidents.Tickets(t.Context(), incidents.DCC)
	if err != nil || len(ts) != sent {
		t.Fatalf("%d tickets, want %d (%v)", len(ts), sent, err)
	}
}

// TestPublicTicketLookup: with the reference and the code it was given, a
// SEC Party sees its ticket's status, what it wrote and the Service Desk's
// answer; a wrong code is answered as no ticket.
func TestPublicTicketLookup(t *testing.T) {
	s := startDemo(t, 0)
	b := newBrowser(t, s, "")
	code, page, _ := postPublic(t, s, b, query("party", "Prospective Energy Ltd", "contact", "020 7946 0999", "kind", "general_query",
		"subject", "How do we become a user?", "body", "Details <b>here</b>."), false)
	if code != http.StatusOK {
		t.Fatalf("%d", code)
	}
	ref, lookup := sentTicketRE.FindStringSubmatch(page)[1], sentCodeRE.FindStringSubmatch(page)[1]
	if c, _, _ := b.do("GET", "/ssi/servicedesk/lookup", nil); c != http.StatusOK {
		t.Fatalf("the look-up page: %d", c)
	}
	steps := []struct {
		note, answer, code string
		status             int
		says               []string
	}{
		{"not answered yet", "", lookup, http.StatusOK, []string{"How do we become a user?", "Details &lt;b&gt;here&lt;/b&gt;.", ">open<", "not answered yet; the Service Desk answers at 020 7946 0999"}},
		{"answered", "Through User Entry (Section H1).", lookup, http.StatusOK, []string{">answered<", "Through User Entry (Section H1)."}},
		{"the code typed in small letters without hyphens", "", strings.ToLower(strings.ReplaceAll(lookup, "-", "")), http.StatusOK, []string{">answered<"}},
		{"a wrong code", "", "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF", http.StatusNotFound, []string{"No ticket has this reference and code"}},
	}
	for _, st := range steps {
		t.Run(st.note, func(t *testing.T) {
			if st.answer != "" {
				if _, err := s.Incidents.AnswerTicket(t.Context(), incidents.DCC, ref, st.answer); err != nil {
					t.Fatal(err)
				}
			}
			c, page, _ := b.do("POST", "/ssi/servicedesk/lookup", query("ticket", ref, "code", st.code))
			if c != st.status {
				t.Fatalf("%d, want %d", c, st.status)
			}
			for _, w := range st.says {
				if !strings.Contains(page, w) {
					t.Errorf("the page does not say %q:\n%s", w, page)
				}
			}
			if st.status != http.StatusOK && strings.Contains(page, "How do we become a user?") {
				t.Error("a wrong code shows the ticket")
			}
		})
	}
}

// TestPublicRateLimit: the public form and the look-up are limited per
// remote address (the spec's ssi.public_form_rate): beyond the burst they
// answer 429 with Retry-After, the form as written, until the clock gives
// one more use.
func TestPublicRateLimit(t *testing.T) {
	s := startDemo(t, 0)
	rate := s.G.Spec().Data()["service_management"].(map[string]any)["ssi"].(map[string]any)["public_form_rate"].(map[string]any)
	burst := int(rate["burst"].(float64))
	b := newBrowser(t, s, "")
	form := query("party", "P Ltd", "contact", "p@p.example", "kind", "general_query", "subject", "rate")
	for i := range burst {
		if code, _, _ := postPublic(t, s, b, form, false); code != http.StatusOK {
			t.Fatalf("post %d of the burst: %d", i+1, code)
		}
	}
	code, page, h := postPublic(t, s, b, form, false)
	if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" || !strings.Contains(page, "Too many queries from your address") || !strings.Contains(page, `value="P Ltd"`) {
		t.Fatalf("beyond the burst: %d, Retry-After %q\n%s", code, h.Get("Retry-After"), page)
	}
	if _, err := s.G.Advance(t.Context(), publicRefill(t)); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{http.StatusOK, http.StatusTooManyRequests} {
		if code, _, _ := postPublic(t, s, b, form, false); code != want {
			t.Fatalf("post %d after a refill: %d, want %d", i+1, code, want)
		}
	}
	// The look-up has a limit of its own.
	for i := range burst + 1 {
		want := http.StatusNotFound
		if i == burst {
			want = http.StatusTooManyRequests
		}
		if code, _, _ := b.do("POST", "/ssi/servicedesk/lookup", query("ticket", "TKT-x", "code", "x")); code != want {
			t.Fatalf("look-up %d: %d, want %d", i+1, code, want)
		}
	}
}

// TestFormTooLarge: a form larger than the spec's ssi.max_form_bytes is
// refused 413 saying so, on every form, signed in or not (an 11 MB post
// showed the CSRF page "the form has expired").
func TestFormTooLarge(t *testing.T) {
	s := startDemo(t, 0)
	limit := int(s.G.Spec().Data()["service_management"].(map[string]any)["ssi"].(map[string]any)["max_form_bytes"].(float64))
	b := signedIn(t, s, alpha)
	tests := []struct {
		note, path string
		size       int
	}{
		{"the desk, just over", "/ssi/desk", limit + 1},
		{"the desk, 11 MB", "/ssi/desk", 11 << 20},
		{"an incident update", "/ssi/incidents/INC-x/update", limit + 1},
		{"the public desk", "/ssi/servicedesk", limit + 1},
		{"the sign-in", "/ssi/signin", limit + 1},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			code, page, _ := b.do("POST", tc.path, url.Values{"body": {strings.Repeat("x", tc.size)}})
			if code != http.StatusRequestEntityTooLarge || !strings.Contains(page, "larger than") || strings.Contains(page, "CSRF") {
				t.Fatalf("%d\n%s", code, page)
			}
		})
	}
	// Within the limit the form is read as before.
	if code, _, _ := b.do("POST", "/ssi/desk", url.Values{"csrf": {b.csrf("/ssi/desk")}, "kind": {"general_query"}, "subject": {"fits"}}); code != http.StatusSeeOther {
		t.Fatalf("a form within the limit: %d", code)
	}
}

// TestServiceDeskContact: the Service Desk's telephone and email (para
// 255) are on the user's and the public Service Desk pages, the look-up
// page, the forms page and the incident report form itself; the demo's
// are marked as the demo's; none configured is said.
func TestServiceDeskContact(t *testing.T) {
	s := startDemo(t, 0)
	b := signedIn(t, s, alpha)
	pub := newBrowser(t, s, "")
	tests := []struct {
		note    string
		contact ssi.ServiceDeskContact
		pages   []string // on every page
		form    []string // in the incident report form
	}{
		{"none configured", ssi.ServiceDeskContact{}, []string{"telephone and email are not configured"}, []string{"no Service Desk telephone or email configured"}},
		{"both", ssi.ServiceDeskContact{Telephone: "0300 123 4567", Email: "desk@dcc.example"},
			[]string{"telephone <strong>0300 123 4567</strong>, email <strong>desk@dcc.example</strong>"}, []string{"telephone: 0300 123 4567", "email:     desk@dcc.example"}},
		{"the demo's", ssi.ServiceDeskContact{Telephone: "+44 20 7946 0000", Email: "servicedesk@dcc.example", Demo: true},
			[]string{"&#43;44 20 7946 0000", "the demo's example contact details"}, []string{"telephone: +44 20 7946 0000", "the demo's example"}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			s.SSI.SetServiceDesk(tc.contact)
			for _, p := range []struct {
				b    *browser
				path string
			}{{b, "/ssi/desk"}, {b, "/ssi/downloads"}, {pub, "/ssi/servicedesk"}, {pub, "/ssi/servicedesk/lookup"}} {
				code, page, _ := p.b.do("GET", p.path, nil)
				for _, w := range tc.pages {
					if code != http.StatusOK || !strings.Contains(page, w) {
						t.Errorf("%s: %d, does not say %q", p.path, code, w)
					}
				}
			}
			code, form, _ := b.do("GET", "/ssi/downloads/incident-form.txt", nil)
			for _, w := range tc.form {
				if code != http.StatusOK || !strings.Contains(form, w) {
					t.Errorf("the incident report form: %d, does not say %q:\n%s", code, w, form)
				}
			}
		})
	}
}

// TestMonthRule: a month out of range on the reports page is answered 400
// with the rule (it was a 500), and the reports and hubs pages hold one
// rule (their lower bounds differed: 1677-10 and 1678-09).
func TestMonthRule(t *testing.T) {
	s := startDemo(t, 0)
	b := signedIn(t, s, alpha)
	var rule string
	for _, month := range []string{"9999-12", "3000-01", "0001-01", "1678-08", "2262-04", "1677-10", "May"} {
		for _, page := range []string{"/ssi/reports", "/ssi/hubs"} {
			t.Run(page+" "+month, func(t *testing.T) {
				code, body, _ := b.do("GET", page+"?month="+month, nil)
				m := regexp.MustCompile(`The month is YYYY-MM, from [0-9-]+ to [0-9-]+`).FindString(body)
				if code != http.StatusBadRequest || m == "" {
					t.Fatalf("%d\n%s", code, body)
				}
				if rule == "" {
					rule = m
				}
				if m != rule {
					t.Fatalf("%q, but elsewhere %q", m, rule)
				}
			})
		}
	}
	first, last := strings.Fields(rule)[5], strings.Fields(rule)[7]
	for _, month := range []string{first, last} {
		for _, page := range []string{"/ssi/reports", "/ssi/hubs"} {
			if code, _, _ := b.do("GET", page+"?month="+month, nil); code != http.StatusOK {
				t.Errorf("%s?month=%s, within the rule: %d", page, month, code)
			}
		}
	}
}

// TestRefusedFormsKeepValues: a form refused comes back as the user wrote
// it (an incident refused for a mistyped request ID came back empty, the
// diagnostic's result gone); a ticket sent redirects, so a reload sends
// nothing again.
func TestRefusedFormsKeepValues(t *testing.T) {
	s := startDemo(t, 0)
	b := signedIn(t, s, alpha)
	tok := b.csrf("/ssi/incidents")
	_, page, _ := b.do("POST", "/ssi/incidents/diagnose", query("csrf", tok, "device_id", esme1))
	diag := regexp.MustCompile(`name="diagnosis_id" value="([^"]+)"`).FindStringSubmatch(page)
	if diag == nil {
		t.Fatal("no diagnosis")
	}
	raise := query("csrf", tok, "diagnosis_id", diag[1], "device_id", esme1, "title", "No readings from premises 1", "category", "2",
		"area", "smwan", "needs_visit", "1", "request_id", "typo", "description", "Silent since 04:00 & counting.")
	code, page, _ := b.do("POST", "/ssi/incidents", raise)
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, "NOT_VISIBLE") {
		t.Fatalf("a mistyped request ID: %d", code)
	}
	for _, w := range []string{`value="No readings from premises 1"`, `<option value="2" selected>`, `<option value="smwan" selected>`, `id="needs_visit" name="needs_visit" value="1" checked`,
		`value="typo"`, "Silent since 04:00 &amp; counting.", `id="diagnosis-result"`, `name="diagnosis_id" value="` + diag[1] + `"`} {
		if !strings.Contains(page, w) {
			t.Errorf("the refused form lost %q", w)
		}
	}
	// Corrected, it is raised with the diagnostic run before.
	raise.Del("request_id")
	if code, _, h := b.do("POST", "/ssi/incidents", raise); code != http.StatusSeeOther || !strings.Contains(h.Get("Location"), "/ssi/incidents/INC-") {
		t.Fatalf("corrected: %d %s", code, h.Get("Location"))
	}

	// The form about the DCC's own systems, refused, keeps its values.
	code, page, _ = b.do("POST", "/ssi/incidents", query("csrf", tok, "title", "Gateway slow", "category", "4", "area", "data_services", "request_id", "typo2", "description", "Since Monday."))
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="sys-title" name="title" required maxlength="`) || !strings.Contains(page, `value="Gateway slow"`) || !strings.Contains(page, "Since Monday.") || !strings.Contains(page, `value="typo2"`) {
		t.Fatalf("the systems form: %d\n%s", code, page)
	}

	// An update refused keeps its note and data.
	loc := regexp.MustCompile(`/ssi/incidents/(INC-[^"/]+)`).FindStringSubmatch(page)
	if loc == nil {
		t.Fatal("no incident listed")
	}
	code, page, _ = b.do("POST", "/ssi/incidents/"+loc[1]+"/update", query("csrf", tok, "note", "Engineer booked.", "data", "{not json"))
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, ">Engineer booked.</textarea>") || !strings.Contains(page, ">{not json</textarea>") {
		t.Fatalf("an update refused: %d\n%s", code, page)
	}

	// The desk: a refusal keeps the form; a ticket sent redirects.
	code, page, _ = b.do("POST", "/ssi/desk", query("csrf", tok, "kind", "rant", "subject", "Where are the guides?", "body", "Line 1\nLine 2"))
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, `value="Where are the guides?"`) || !strings.Contains(page, "Line 1\nLine 2</textarea>") {
		t.Fatalf("a ticket refused: %d\n%s", code, page)
	}
	code, _, h := b.do("POST", "/ssi/desk", query("csrf", tok, "kind", "general_query", "subject", "Where are the guides?"))
	if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/ssi/desk?sent=TKT-") {
		t.Fatalf("a ticket sent: %d to %q", code, h.Get("Location"))
	}
	for range 2 { // the page, then a reload of it
		if _, page, _ := b.do("GET", h.Get("Location"), nil); !strings.Contains(page, "was sent to the Service Desk") {
			t.Fatalf("no notice:\n%s", page)
		}
	}
	if ts, err := s.Incidents.Tickets(t.Context(), alpha); err != nil || len(ts) != 1 {
		t.Fatalf("%d tickets (%v), want 1", len(ts), err)
	}
}

// serviceMgmt is the server's store beneath its telemetry.
func serviceMgmt(s *server.Server) store.ServiceManagement {
	return s.Store.(interface{ Unwrap() store.Store }).Unwrap().(store.ServiceManagement)
}

// putIncident stores an incident as the log would have it.
func putIncident(t *testing.T, s *server.Server, inc store.Incident) {
	t.Helper()
	sm := serviceMgmt(s)
	inc.RaisedAt, inc.TargetAt = s.G.Now(), s.G.Now().Add(24*time.Hour)
	if inc.Status == incidents.StatusResolved || inc.Status == incidents.StatusClosed {
		inc.ResolvedAt = s.G.Now()
	}
	if err := sm.InsertIncident(t.Context(), inc, store.IncidentEvent{At: s.G.Now(), Actor: inc.RaisedBy, Kind: "raised", Status: inc.Status}); err != nil {
		t.Fatal(err)
	}
}

// TestIncidentActions: the incident page offers a user the steps the log
// lets it take, and no other: an interested party was shown Update and
// Resolve, refused NOT_PERMITTED.
func TestIncidentActions(t *testing.T) {
	s := startDemo(t, 0)
	sup := func(id, status string, major bool) store.Incident {
		return store.Incident{ID: id, RaisedBy: beta, Category: "3", Status: status, Area: "han", Title: id, ResponsibleParty: "supplier",
			ResponsibleUser: gasU, Interested: []string{incidents.DCC, alpha}, Major: major}
	}
	dccs := store.Incident{ID: "INC-DCC", RaisedBy: beta, Category: "3", Status: incidents.StatusResolved, Area: "smwan", Title: "dcc's",
		ResponsibleParty: incidents.DCC, Interested: []string{alpha}, Major: true}
	for _, inc := range []store.Incident{sup("INC-ALLOC", incidents.StatusAllocated, false), sup("INC-RES", incidents.StatusResolved, true),
		sup("INC-CLOSED", incidents.StatusClosed, false), dccs} {
		putIncident(t, s, inc)
	}
	type acts struct{ update, resolve, close, review bool }
	tests := []struct {
		user, incident string
		want           acts
	}{
		{alpha, "INC-ALLOC", acts{}}, // interested
		{beta, "INC-ALLOC", acts{update: true}},
		{gasU, "INC-ALLOC", acts{update: true, resolve: true}},
		{alpha, "INC-RES", acts{}},
		{gasU, "INC-RES", acts{update: true, close: true, review: true}},
		{beta, "INC-CLOSED", acts{}},
		{gasU, "INC-CLOSED", acts{}},
		{beta, "INC-DCC", acts{update: true}}, // the DCC closes and reviews it
		{alpha, "INC-DCC", acts{}},
	}
	browsers := map[string]*browser{}
	for _, u := range []string{alpha, beta, gasU} {
		browsers[u] = signedIn(t, s, u)
	}
	for _, tc := range tests {
		t.Run(tc.user+" "+tc.incident, func(t *testing.T) {
			code, page, _ := browsers[tc.user].do("GET", "/ssi/incidents/"+tc.incident, nil)
			if code != http.StatusOK {
				t.Fatalf("%d", code)
			}
			got := acts{strings.Contains(page, tc.incident+`/update"`), strings.Contains(page, tc.incident+`/resolve"`),
				strings.Contains(page, tc.incident+`/close"`), strings.Contains(page, tc.incident+`/review"`)}
			if got != tc.want {
				t.Fatalf("offered %+v, want %+v", got, tc.want)
			}
		})
	}
	// What an interested party is not offered, the log refuses it.
	b := browsers[alpha]
	tok := b.csrf("/ssi/incidents")
	for _, action := range []string{"update", "resolve"} {
		if code, page, _ := b.do("POST", "/ssi/incidents/INC-ALLOC/"+action, query("csrf", tok, "note", "mine")); code != http.StatusUnprocessableEntity || !strings.Contains(page, "NOT_PERMITTED") {
			t.Fatalf("%s by an interested party: %d", action, code)
		}
	}
}

// TestSessionCertificate: a client certificate presented with a session
// must be the session's user's (para 243): another user's ends the session
// with a page that says so (alpha's cookie with beta's certificate showed
// alpha's pages).
func TestSessionCertificate(t *testing.T) {
	s := startDemo(t, 0)
	u, _ := url.Parse(s.SSIURL)
	tests := []struct {
		note  string
		cert  string
		code  int
		ended bool
	}{
		{"no certificate", "", http.StatusOK, false},
		{"the session's user's certificate", alpha, http.StatusOK, false},
		{"another user's certificate", beta, http.StatusForbidden, true},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			owner := signedIn(t, s, alpha)
			other := newBrowser(t, s, tc.cert)
			other.c.Jar.SetCookies(u, owner.c.Jar.Cookies(u))
			code, page, _ := other.do("GET", "/ssi/requests", nil)
			if code != tc.code || strings.Contains(page, "session has ended") != tc.ended {
				t.Fatalf("%d\n%s", code, page)
			}
			if tc.ended && (!strings.Contains(page, beta) || strings.Contains(page, `id="who"`)) {
				t.Fatalf("the page does not say whose certificate it was, or shows the session:\n%s", page)
			}
			want := http.StatusOK
			if tc.ended {
				want = http.StatusSeeOther // the session is gone for its cookie's every holder
			}
			if code, _, _ := owner.do("GET", "/ssi/requests", nil); code != want {
				t.Fatalf("the owner afterwards: %d, want %d", code, want)
			}
		})
	}
}

// TestSignInMessages: a User ID is read in capitals (the field's pattern
// takes small letters); a challenge answered without the page's cookie
// says the cookie is missing, not that it expired; signing in as another
// user than the certificate presented is refused.
func TestSignInMessages(t *testing.T) {
	s := startDemo(t, 0)
	challenge := func(b *browser) string {
		t.Helper()
		_, page, _ := b.do("GET", "/ssi/signin", nil)
		return challengeRE.FindStringSubmatch(page)[1]
	}
	tests := []struct {
		note     string
		cert     string
		user     string
		noCookie bool
		advance  time.Duration
		code     int
		says     string
	}{
		{note: "in small letters", user: strings.ToLower(alpha), code: http.StatusSeeOther},
		{note: "with spaces around", user: " " + alpha + " ", code: http.StatusSeeOther},
		{note: "without the cookie", user: alpha, noCookie: true, code: http.StatusForbidden, says: "are cookies blocked"},
		{note: "too late", user: alpha, advance: s.G.Spec().ServiceManagement.SSI.ChallengeValid.Std() + time.Second, code: http.StatusForbidden, says: "has expired"},
		{note: "as another user than the certificate's", cert: beta, user: alpha, code: http.StatusForbidden, says: "presents the certificate of user " + beta},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			b := newBrowser(t, s, tc.cert)
			ch := challenge(b)
			if tc.noCookie {
				b.c.Jar, _ = cookiejar.New(nil)
			}
			if tc.advance > 0 {
				if _, err := s.G.Advance(t.Context(), tc.advance); err != nil {
					t.Fatal(err)
				}
			}
			code, page, _ := b.do("POST", "/ssi/signin", query("challenge", ch, "user_id", tc.user, "signature", sign(t, s, alpha, ch)))
			if code != tc.code || !strings.Contains(page, tc.says) {
				t.Fatalf("%d, want %d saying %q:\n%s", code, tc.code, tc.says, page)
			}
		})
	}
}

// TestServicePage: a release not implemented yet is said to be planned,
// not implemented; during a maintenance window "so far" is the time of the
// window gone by, beside the month's planned, and every page carries a
// banner.
func TestServicePage(t *testing.T) {
	s := startDemo(t, 0)
	ctx := t.Context()
	sm := serviceMgmt(s)
	now := s.G.Now()
	for _, r := range []store.Release{{ID: "R-PAST", Kind: "minor", Name: "done", AnnouncedAt: now.AddDate(0, 0, -30), ImplementAt: now.AddDate(0, 0, -1)},
		{ID: "R-NEXT", Kind: "minor", Name: "coming", AnnouncedAt: now, ImplementAt: now.AddDate(0, 0, 20)}} {
		if err := sm.PutRelease(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	b := signedIn(t, s, alpha)
	_, page, _ := b.do("GET", "/ssi/service", nil)
	for _, w := range []string{"Implementation (UTC)", "R-PAST done</td><td>minor</td><td>" + now.AddDate(0, 0, -1).Format("2006-01-02 15:04:05") + " (implemented)",
		"R-NEXT coming</td><td>minor</td><td>" + now.AddDate(0, 0, 20).Format("2006-01-02 15:04:05") + " (planned)"} {
		if !strings.Contains(page, w) {
			t.Errorf("the service page does not say %q", w)
		}
	}
	if strings.Contains(page, "maintenance-banner") {
		t.Error("a maintenance banner outside a window")
	}
	w := store.MaintenanceWindow{ID: "MW-1", StartsAt: now.Add(-time.Hour), EndsAt: now.Add(2 * time.Hour), Description: "database upgrade", PublishedAt: now.AddDate(0, -1, 0)}
	if err := sm.PutMaintenance(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := s.Maintenance.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	_, page, _ = b.do("GET", "/ssi/service", nil)
	if !strings.Contains(page, `<span id="so-far">1h0m0s</span>`) || !strings.Contains(page, `<span id="planned">3h0m0s</span>`) {
		t.Errorf("so far and planned:\n%s", page)
	}
	for _, p := range []string{"/ssi/service", "/ssi/requests"} {
		if _, page, _ := b.do("GET", p, nil); !strings.Contains(page, `id="maintenance-banner">Maintenance in progress: window MW-1`) {
			t.Errorf("%s has no maintenance banner", p)
		}
	}
}

// TestIncidentPage: the responsible party reads without a stray space
// ("dcc  "), or says none is yet; a major incident not resolved says when
// its review report will be due, not an empty "UTC".
func TestIncidentPage(t *testing.T) {
	s := startDemo(t, 0)
	putIncident(t, s, store.Incident{ID: "INC-M", RaisedBy: alpha, Category: "1", Status: incidents.StatusAllocated, Area: "smwan", Title: "major",
		ResponsibleParty: incidents.DCC, Clause: "para 228", Major: true, DCCManager: "M"})
	putIncident(t, s, store.Incident{ID: "INC-O", RaisedBy: alpha, Category: "3", Status: incidents.StatusOpen, Area: "han", Title: "open"})
	days := s.G.Spec().ServiceManagement.Incidents.Major.ReviewDueWorkingDays
	b := signedIn(t, s, alpha)
	tests := []struct {
		id   string
		want []string
	}{
		{"INC-M", []string{`<dd id="responsible">dcc (para 228)</dd>`, `<dd id="review-due">` + strconv.Itoa(days) + " working days after the incident is resolved</dd>"}},
		{"INC-O", []string{`<dd id="responsible">not allocated yet (the DCC allocates it)</dd>`}},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			_, page, _ := b.do("GET", "/ssi/incidents/"+tc.id, nil)
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("the page does not say %q:\n%s", w, page)
				}
			}
		})
	}
	if _, page, _ := b.do("GET", "/ssi/incidents", nil); !strings.Contains(page, "<td>dcc</td>") || strings.Contains(page, "<td>dcc </td>") {
		t.Errorf("the list's responsible party:\n%s", page)
	}
}

// TestArchiveDates: dates of an archive search that are not dates, or
// from after to, are refused saying so (they were ignored: the archive of
// other dates passed for theirs).
func TestArchiveDates(t *testing.T) {
	s := startDemo(t, 0)
	b := signedIn(t, s, alpha)
	tests := []struct {
		query string
		code  int
		says  string
	}{
		{"from=x", http.StatusBadRequest, "Not a date: from &#34;x&#34;"},
		{"from=2026-01-01&to=2025-13-01", http.StatusBadRequest, "to &#34;2025-13-01&#34;"},
		{"from=2026-01-02&to=2026-01-01", http.StatusBadRequest, "the first date is after the second"},
		{"from=2026-01-01&to=2026-01-01", http.StatusOK, "No requests in this period."},
		{"", http.StatusOK, "No requests in this period."},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			code, page, _ := b.do("GET", "/ssi/requests?archive=1&"+tc.query, nil)
			if code != tc.code || !strings.Contains(page, tc.says) {
				t.Fatalf("%d, want %d saying %q:\n%s", code, tc.code, tc.says, page)
			}
		})
	}
}

// TestTicketDetails: a user sees what it wrote in its ticket (subject and
// details) with the answer; another user finds no such ticket.
func TestTicketDetails(t *testing.T) {
	s := startDemo(t, 0)
	tk, err := s.Incidents.RaiseTicket(t.Context(), incidents.TicketInput{RaisedBy: alpha, Kind: "general_query", Subject: "Where are the guides?", Body: "Looked under Forms & guides."})
	if err != nil {
		t.Fatal(err)
	}
	owner, other := signedIn(t, s, alpha), signedIn(t, s, beta)
	if _, page, _ := owner.do("GET", "/ssi/desk", nil); !strings.Contains(page, `<a href="/ssi/desk/`+tk.ID+`">`) {
		t.Fatal("the desk does not link to the ticket")
	}
	code, page, _ := owner.do("GET", "/ssi/desk/"+tk.ID, nil)
	if code != http.StatusOK || !strings.Contains(page, "Where are the guides?") || !strings.Contains(page, "Looked under Forms &amp; guides.") || !strings.Contains(page, "not answered yet") {
		t.Fatalf("%d\n%s", code, page)
	}
	if code, page, _ := other.do("GET", "/ssi/desk/"+tk.ID, nil); code != http.StatusNotFound || strings.Contains(page, "Where are the guides?") {
		t.Fatalf("another user: %d", code)
	}
}
