package ssi_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/incidents"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

func TestSignIn(t *testing.T) {
	s := startDemo(t, 2)
	ctx := t.Context()
	// A user that has not completed User Entry (para 240).
	u, err := s.Store.GetUser(ctx, "00-00-00-00-00-00-0F-01")
	if err != nil {
		t.Fatal(err)
	}
	u.Entered = false
	if err := s.Store.PutUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		note         string
		user, signer string
		want         int
	}{
		{"signed with the user's own key", alpha, alpha, http.StatusSeeOther},
		{"signed with another user's key", alpha, beta, http.StatusForbidden},
		{"a user that has not completed entry", "00-00-00-00-00-00-0F-01", "00-00-00-00-00-00-0F-01", http.StatusForbidden},
		{"an unknown User ID", "00-00-00-00-00-00-99-99", alpha, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			if got := newBrowser(t, s, "").signIn(s, tc.user, tc.signer); got != tc.want {
				t.Fatalf("status %d, want %d", got, tc.want)
			}
		})
	}
	t.Run("a challenge answers once", func(t *testing.T) {
		b := newBrowser(t, s, "")
		_, page, _ := b.do("GET", "/ssi/signin", nil)
		ch := challengeRE.FindStringSubmatch(page)[1]
		form := url.Values{"challenge": {ch}, "user_id": {beta}, "signature": {sign(t, s, beta, ch)}}
		if code, _, _ := b.do("POST", "/ssi/signin", form); code != http.StatusSeeOther {
			t.Fatalf("first answer: %d", code)
		}
		if code, _, _ := newBrowser(t, s, "").do("POST", "/ssi/signin", form); code != http.StatusForbidden {
			t.Fatalf("replayed answer from another browser: %d", code)
		}
	})
	t.Run("sessions per user are limited (para 252)", func(t *testing.T) {
		// alpha has one session from the first case; the limit is 2.
		if got := newBrowser(t, s, "").signIn(s, alpha, alpha); got != http.StatusSeeOther {
			t.Fatalf("second session: %d", got)
		}
		if got := newBrowser(t, s, "").signIn(s, alpha, alpha); got != http.StatusTooManyRequests {
			t.Fatalf("third session: %d, want 429", got)
		}
		if n := s.SSI.Sessions(alpha); n != 2 {
			t.Fatalf("%d sessions", n)
		}
	})
}

func TestClientCertificateSignIn(t *testing.T) {
	s := startDemo(t, 0)
	b := newBrowser(t, s, gasU)
	_, page, _ := b.do("GET", "/ssi/signin", nil)
	if !strings.Contains(page, "Sign in as "+gasU) {
		t.Fatal("the sign-in page does not offer the presented certificate")
	}
	ch := challengeRE.FindStringSubmatch(page)[1]
	if code, _, _ := b.do("POST", "/ssi/signin/certificate", url.Values{"challenge": {ch}}); code != http.StatusSeeOther {
		t.Fatalf("status %d", code)
	}
	if code, page, _ := b.do("GET", "/ssi/requests", nil); code != http.StatusOK || !strings.Contains(page, "Signed in as <strong>"+gasU) {
		t.Fatalf("not signed in: %d", code)
	}
	// Without a certificate the certificate route refuses.
	nb := newBrowser(t, s, "")
	_, page, _ = nb.do("GET", "/ssi/signin", nil)
	ch = challengeRE.FindStringSubmatch(page)[1]
	if code, _, _ := nb.do("POST", "/ssi/signin/certificate", url.Values{"challenge": {ch}}); code != http.StatusForbidden {
		t.Fatalf("status %d without a certificate", code)
	}
}

// TestIsolation: one user cannot open another's request, incident or
// ticket by URL (para 250), and sees none of them in its lists.
func TestIsolation(t *testing.T) {
	s := startDemo(t, 0)
	ctx := t.Context()
	r := submit(t, s, alpha, engine.Request{DeviceID: esme1, Service: "4.1", Body: map[string]any{"register": "total"}})
	d, err := s.Incidents.Diagnose(ctx, alpha, "chf_reachability", esme1)
	if err != nil {
		t.Fatal(err)
	}
	inc, err := s.Incidents.Raise(ctx, incidents.RaiseInput{Caller: alpha, Category: "3", Area: "smart_meter", DeviceID: esme1, Title: "meter silent", DiagnosisID: d.ID})
	if err != nil {
		t.Fatal(err)
	}
	owner, other := newBrowser(t, s, ""), newBrowser(t, s, "")
	if owner.signIn(s, alpha, alpha) != http.StatusSeeOther || other.signIn(s, beta, beta) != http.StatusSeeOther {
		t.Fatal("sign-in failed")
	}
	paths := []string{"/ssi/requests/" + url.PathEscape(r.ID), "/ssi/incidents/" + inc.ID}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			if code, _, _ := owner.do("GET", p, nil); code != http.StatusOK {
				t.Fatalf("owner: %d", code)
			}
			code, page, _ := other.do("GET", p, nil)
			if code != http.StatusNotFound || strings.Contains(page, "meter silent") || strings.Contains(page, esme1) {
				t.Fatalf("another user: %d", code)
			}
		})
	}
	for _, p := range []string{"/ssi/requests", "/ssi/incidents", "/ssi/inventory"} {
		if _, page, _ := other.do("GET", p, nil); strings.Contains(page, r.ID) || strings.Contains(page, inc.ID) || strings.Contains(page, esme1) {
			t.Fatalf("%s shows another user's data", p)
		}
	}
	// Another user's update to the incident is refused too.
	tok := other.csrf("/ssi/incidents")
	if code, _, _ := other.do("POST", "/ssi/incidents/"+inc.ID+"/update", url.Values{"csrf": {tok}, "note": {"mine now"}}); code != http.StatusNotFound {
		t.Fatalf("update by another user: %d", code)
	}
}

// TestCloseByTheResponsibleParty: the incident page offers Close to the
// party responsible for the incident's closure (para 228-229), not to a
// raiser that is not: the DCC closes the network's incidents.
func TestCloseByTheResponsibleParty(t *testing.T) {
	s := startDemo(t, 0)
	ctx := t.Context()
	b := signedIn(t, s, alpha)
	tests := []struct {
		area, resolver string
		closeOffered   bool
	}{
		{"smart_meter", alpha, true},    // its own meter: alpha closes
		{"smwan", incidents.DCC, false}, // the network: the DCC closes
	}
	for _, tc := range tests {
		t.Run(tc.area, func(t *testing.T) {
			d, err := s.Incidents.Diagnose(ctx, alpha, "chf_reachability", esme1)
			if err != nil {
				t.Fatal(err)
			}
			inc, err := s.Incidents.Raise(ctx, incidents.RaiseInput{Caller: alpha, Category: "3", Area: tc.area, DeviceID: esme1, Title: "silent", DiagnosisID: d.ID})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Incidents.Resolve(ctx, tc.resolver, inc.ID, "fixed"); err != nil {
				t.Fatal(err)
			}
			_, page, _ := b.do("GET", "/ssi/incidents/"+inc.ID, nil)
			if got := strings.Contains(page, inc.ID+"/close"); got != tc.closeOffered {
				t.Fatalf("Close offered to the raiser: %v, want %v", got, tc.closeOffered)
			}
		})
	}
}

// TestCoverageByFullPostcode: coverage is given by full postcode (para 248),
// however it is typed; a partial postcode is refused, not answered, and
// the refusal shows what was typed (in capitals, spaces collapsed), not a
// space invented before its last three characters ("S W1H").
func TestCoverageByFullPostcode(t *testing.T) {
	s := startDemo(t, 0)
	b := signedIn(t, s, alpha)
	tests := []struct {
		typed   string
		code    int
		covered bool
		says    string // the postcode as the page shows it
	}{
		{"SW1H 0ET", http.StatusOK, true, "<dd>SW1H 0ET</dd>"},
		{"sw1h0et", http.StatusOK, true, "<dd>SW1H 0ET</dd>"},
		{" SW1H  0et ", http.StatusOK, true, "<dd>SW1H 0ET</dd>"},
		{"SW1H", http.StatusUnprocessableEntity, false, "SW1H is not a full postcode"},
		{"sw1h", http.StatusUnprocessableEntity, false, `value="SW1H"`},
		{" sw1h  0e ", http.StatusUnprocessableEntity, false, "SW1H 0E is not a full postcode"},
		{"ZZ9 9ZZ", http.StatusOK, false, "<dd>ZZ9 9ZZ</dd>"},
	}
	for _, tc := range tests {
		t.Run(tc.typed, func(t *testing.T) {
			code, page, _ := b.do("GET", "/ssi/coverage?postcode="+url.QueryEscape(tc.typed), nil)
			if code != tc.code || strings.Contains(page, "Covered:") != tc.covered {
				t.Fatalf("%d, covered %v; want %d, %v", code, strings.Contains(page, "Covered:"), tc.code, tc.covered)
			}
			if !strings.Contains(page, tc.says) || strings.Contains(page, "S W1H") {
				t.Fatalf("the page does not show %q, or shows S W1H:\n%s", tc.says, page)
			}
		})
	}
}

func TestCSRFAndHeaders(t *testing.T) {
	s := startDemo(t, 0)
	b := signedIn(t, s, alpha)
	tests := []struct {
		note string
		csrf string
		want int
	}{
		{"without the token", "", http.StatusForbidden},
		{"with a wrong token", strings.Repeat("0", 64), http.StatusForbidden},
		{"with the session's token", b.csrf("/ssi/desk"), http.StatusSeeOther},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			code, _, _ := b.do("POST", "/ssi/desk", url.Values{"csrf": {tc.csrf}, "kind": {"general_query"}, "subject": {"hello"}})
			if code != tc.want {
				t.Fatalf("status %d, want %d", code, tc.want)
			}
		})
	}
	_, _, h := b.do("GET", "/ssi/signin", nil)
	for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
		if h.Get(k) != want {
			t.Errorf("%s: %q", k, h.Get(k))
		}
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || !strings.Contains(h.Get("Strict-Transport-Security"), "max-age") {
		t.Errorf("CSP %q HSTS %q", h.Get("Content-Security-Policy"), h.Get("Strict-Transport-Security"))
	}
	if code, _, _ := newBrowser(t, s, "").do("GET", "/ssi/requests", nil); code != http.StatusSeeOther {
		t.Fatalf("a page without a session: %d", code)
	}
}

// TestRequestHistory: three months on line; older requests only in the
// archive, still retrievable (para 248); reason codes and clauses shown.
func TestRequestHistory(t *testing.T) {
	s := startDemo(t, 0)
	old := submit(t, s, alpha, engine.Request{DeviceID: esme1, Service: "4.1", Body: map[string]any{"register": "total"}})
	if _, err := s.G.Advance(t.Context(), 100*24*3600e9); err != nil {
		t.Fatal(err)
	}
	recent := submit(t, s, alpha, engine.Request{DeviceID: esme2, Service: "9.9"})
	if recent.Reason == "" {
		t.Fatalf("expected a refused request, got %s", recent.State)
	}
	b := signedIn(t, s, alpha)
	_, online, _ := b.do("GET", "/ssi/requests", nil)
	_, archive, _ := b.do("GET", "/ssi/requests?archive=1", nil)
	tests := []struct {
		note, page, want string
		present          bool
	}{
		{"recent on line", online, recent.ID, true},
		{"its reason", online, recent.Reason, true},
		{"old not on line", online, old.ID, false},
		{"old in the archive", archive, old.ID, true},
		{"recent not in the archive", archive, recent.ID, false},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			if strings.Contains(tc.page, tc.want) != tc.present {
				t.Fatalf("%q present: %v", tc.want, !tc.present)
			}
		})
	}
}

// TestTicketBecomesIncident: a user's Service Desk query raised as an
// incident from the SSI is linked both ways (para 253-255).
func TestTicketBecomesIncident(t *testing.T) {
	s := startDemo(t, 0)
	b := signedIn(t, s, alpha)
	if code, _, _ := b.do("POST", "/ssi/desk", url.Values{"csrf": {b.csrf("/ssi/desk")}, "kind": {"incident_query"}, "subject": {"meters silent"}}); code != http.StatusSeeOther {
		t.Fatalf("ticket: %d", code)
	}
	ts, err := s.Incidents.Tickets(t.Context(), alpha)
	if err != nil || len(ts) != 1 {
		t.Fatalf("%v %v", ts, err)
	}
	tok := b.csrf("/ssi/incidents?ticket=" + ts[0].ID)
	_, page, _ := b.do("POST", "/ssi/incidents/diagnose", url.Values{"csrf": {tok}, "device_id": {esme1}, "ticket_id": {ts[0].ID}})
	m := regexp.MustCompile(`name="diagnosis_id" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, `name="ticket_id" value="`+ts[0].ID) {
		t.Fatal("the raise form does not carry the diagnosis and the ticket")
	}
	code, _, h := b.do("POST", "/ssi/incidents", url.Values{"csrf": {tok}, "diagnosis_id": {m[1]}, "device_id": {esme1}, "ticket_id": {ts[0].ID},
		"title": {"meters silent"}, "category": {"2"}, "area": {"smwan"}})
	if code != http.StatusSeeOther {
		t.Fatalf("raise: %d", code)
	}
	tk, err := s.Incidents.Ticket(t.Context(), alpha, ts[0].ID)
	if err != nil || tk.IncidentID == "" || !strings.HasSuffix(h.Get("Location"), tk.IncidentID) || tk.Status != incidents.TicketBecameIncident {
		t.Fatalf("ticket %+v (%v), redirected to %s", tk, err, h.Get("Location"))
	}
}

// TestSessionIdle: a session unused for the spec's session_idle ends.
func TestSessionIdle(t *testing.T) {
	s := startDemo(t, 0)
	b := signedIn(t, s, alpha)
	idle := s.G.Spec().ServiceManagement.SSI.SessionIdle.Std()
	steps := []struct {
		advance time.Duration
		want    int
	}{{idle - time.Second, http.StatusOK}, {idle - time.Second, http.StatusOK}, {idle + time.Second, http.StatusSeeOther}}
	for _, st := range steps {
		if _, err := s.G.Advance(t.Context(), st.advance); err != nil {
			t.Fatal(err)
		}
		if code, _, _ := b.do("GET", "/ssi/requests", nil); code != st.want {
			t.Fatalf("after %s: %d, want %d", st.advance, code, st.want)
		}
	}
}

// TestRevokedCertificate: after the user's certificate is revoked neither
// way of signing in works.
func TestRevokedCertificate(t *testing.T) {
	s := startDemo(t, 0)
	if err := s.G.RevokeCertificate(t.Context(), gasU); err != nil {
		t.Fatal(err)
	}
	if got := newBrowser(t, s, "").signIn(s, gasU, gasU); got != http.StatusForbidden {
		t.Fatalf("signed challenge: %d", got)
	}
	b := newBrowser(t, s, gasU)
	_, page, _ := b.do("GET", "/ssi/signin", nil)
	ch := challengeRE.FindStringSubmatch(page)[1]
	code, page, _ := b.do("POST", "/ssi/signin/certificate", url.Values{"challenge": {ch}})
	if code != http.StatusForbidden || !strings.Contains(page, "revoked") {
		t.Fatalf("client certificate: %d", code)
	}
}

// TestRequestHistoryPages: a long history comes a page at a time, newest
// first, every request on exactly one page, with links between the pages.
func TestRequestHistoryPages(t *testing.T) {
	s := startDemo(t, 0)
	var ids []string
	for range 2*100 + 1 {
		ids = append(ids, submit(t, s, alpha, engine.Request{DeviceID: esme2, Service: "9.9"}).ID)
		if _, err := s.G.Advance(t.Context(), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	b := signedIn(t, s, alpha)
	rowRE := regexp.MustCompile(`<a href="/ssi/requests/([^"]+)">`)
	var seen []string
	for page, want := range []struct{ newer, older bool }{{false, true}, {true, true}, {true, false}} {
		code, body, _ := b.do("GET", fmt.Sprintf("/ssi/requests?page=%d", page+1), nil)
		if code != http.StatusOK {
			t.Fatalf("page %d: %d", page+1, code)
		}
		if strings.Contains(body, `id="newer"`) != want.newer || strings.Contains(body, `id="older"`) != want.older {
			t.Fatalf("page %d: links newer %v older %v, want %+v", page+1, strings.Contains(body, `id="newer"`), strings.Contains(body, `id="older"`), want)
		}
		for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
			seen = append(seen, html.UnescapeString(m[1]))
		}
	}
	slices.Reverse(ids) // newest first
	if !slices.Equal(seen, ids) {
		t.Fatalf("pages list %d requests, want the %d sent newest first", len(seen), len(ids))
	}
}

// TestRequestHistoryOrder: requests received at one time are listed by
// their counter as a number, newest first, across the pages (the IDs were
// sorted as text: ...:9, :8, ..., :2, :16, :15, ..., :10, :1). 50 requests
// are received at one time, 101 a second later, 50 a second after that,
// to two meters: the middle time runs over the first two pages.
func TestRequestHistoryOrder(t *testing.T) {
	s := startDemo(t, 0)
	var ids []string
	for _, n := range []int{50, 101, 50} {
		for i := range n {
			dev := []string{esme1, esme2}[i%2]
			ids = append(ids, submit(t, s, alpha, engine.Request{DeviceID: dev, Service: "9.9"}).ID)
		}
		if _, err := s.G.Advance(t.Context(), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	b := signedIn(t, s, alpha)
	rowRE := regexp.MustCompile(`<a href="/ssi/requests/([^"]+)">`)
	var seen []string
	for page := 1; page <= 3; page++ {
		code, body, _ := b.do("GET", fmt.Sprintf("/ssi/requests?page=%d", page), nil)
		if code != http.StatusOK {
			t.Fatalf("page %d: %d", page, code)
		}
		for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
			seen = append(seen, html.UnescapeString(m[1]))
		}
	}
	slices.Reverse(ids) // newest first: the counters descending
	if !slices.Equal(seen, ids) {
		for i := range min(len(seen), len(ids)) {
			if seen[i] != ids[i] {
				t.Fatalf("%d requests listed, want %d; at position %d %s, want %s", len(seen), len(ids), i+1, seen[i], ids[i])
			}
		}
		t.Fatalf("%d requests listed, want %d", len(seen), len(ids))
	}
}

// TestRequestTook: the time a request took is from its execution time for
// a future dated one, not from its receipt (a request dated 20 hours ahead
// showed "Took 20h"); an on-demand one's is from receipt.
func TestRequestTook(t *testing.T) {
	s := startDemo(t, 0)
	ctx := t.Context()
	at := s.G.Now().Add(20 * time.Hour)
	future := submit(t, s, alpha, engine.Request{DeviceID: esme1, Service: "4.4", Category: "future_dated", ExecuteAt: at, Body: map[string]any{"entry": 1}})
	if _, err := s.G.Advance(ctx, 21*time.Hour); err != nil {
		t.Fatal(err)
	}
	s.G.WaitIdle(ctx)
	done, err := s.Store.GetRequest(ctx, future.ID)
	if err != nil || done.CompletedAt.IsZero() {
		t.Fatalf("the future dated request: %+v %v", done, err)
	}
	now := submit(t, s, alpha, engine.Request{DeviceID: esme1, Service: "4.1", Body: map[string]any{"register": "total"}})
	b := signedIn(t, s, alpha)
	tests := []struct {
		note string
		r    store.Request
		took time.Duration
	}{
		{"future dated, from its execution time", done, done.CompletedAt.Sub(at)},
		{"on demand, from its receipt", now, now.CompletedAt.Sub(now.ReceivedAt)},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			want := "<dt>Took</dt><dd>" + spec.Duration(tc.took.Round(time.Millisecond)).Format() + "</dd>"
			code, page, _ := b.do("GET", "/ssi/requests/"+url.PathEscape(tc.r.ID), nil)
			if code != http.StatusOK || !strings.Contains(page, want) {
				t.Fatalf("%d: the page does not say %q:\n%s", code, want, page)
			}
			if tc.took >= time.Hour {
				t.Fatalf("took %s", tc.took)
			}
		})
	}
}

// TestReportsShowOnlyOwnDemand: the reports page shows the DCC's measures
// to every user but each user only its own usage (para 250, 272).
func TestReportsShowOnlyOwnDemand(t *testing.T) {
	s := startDemo(t, 0)
	submit(t, s, alpha, engine.Request{DeviceID: esme1, Service: "4.1", Body: map[string]any{"register": "total"}})
	submit(t, s, beta, engine.Request{DeviceID: esme1, Service: "4.2"})
	for _, tc := range []struct{ user, other, service string }{{alpha, beta, "4.1"}, {beta, alpha, "4.2"}} {
		b := newBrowser(t, s, "")
		if b.signIn(s, tc.user, tc.user) != http.StatusSeeOther {
			t.Fatal("sign-in failed")
		}
		code, page, _ := b.do("GET", "/ssi/reports", nil)
		if code != http.StatusOK || !strings.Contains(page, `id="performance"`) {
			t.Fatalf("%s: %d\n%s", tc.user, code, page)
		}
		demand := page[strings.Index(page, `id="demand"`):strings.Index(page, `id="aggregate"`)]
		if !strings.Contains(demand, "<td>"+tc.service+" ") || strings.Contains(page, tc.other) {
			t.Fatalf("%s's demand: %s", tc.user, demand)
		}
	}
	b := newBrowser(t, s, "")
	b.signIn(s, alpha, alpha)
	if code, _, _ := b.do("GET", "/ssi/reports?month=2026-13", nil); code != http.StatusBadRequest {
		t.Fatalf("a bad month: %d", code)
	}
}

// TestTicketAnswerShown: the Service Desk's answer to a user's ticket is
// shown on the user's Service Desk page, with when it was given (para
// 253-255).
func TestTicketAnswerShown(t *testing.T) {
	s := startDemo(t, 0)
	b := signedIn(t, s, alpha)
	if code, _, _ := b.do("POST", "/ssi/desk", url.Values{"csrf": {b.csrf("/ssi/desk")}, "kind": {"general_query"}, "subject": {"where are the guides?"}}); code != http.StatusSeeOther {
		t.Fatalf("ticket: %d", code)
	}
	ts, err := s.Incidents.Tickets(t.Context(), alpha)
	if err != nil || len(ts) != 1 {
		t.Fatalf("%v %v", ts, err)
	}
	steps := []struct {
		note   string
		answer string // the Service Desk's answer, "" none yet
		want   []string
		absent []string
	}{
		{"not answered yet", "", []string{">open<"}, []string{"answered 20"}},
		{"answered", "Under Forms and guides & downloads.", []string{">answered<", "Under Forms and guides &amp; downloads.", "answered " + s.G.Now().UTC().Format("2006-01-02 15:04:05") + " UTC"}, nil},
	}
	for _, st := range steps {
		t.Run(st.note, func(t *testing.T) {
			if st.answer != "" {
				if _, err := s.Incidents.AnswerTicket(t.Context(), incidents.DCC, ts[0].ID, st.answer); err != nil {
					t.Fatal(err)
				}
			}
			code, page, _ := b.do("GET", "/ssi/desk", nil)
			if code != http.StatusOK {
				t.Fatalf("desk: %d", code)
			}
			for _, w := range st.want {
				if !strings.Contains(page, w) {
					t.Errorf("the desk page does not show %q", w)
				}
			}
			for _, w := range st.absent {
				if strings.Contains(page, w) {
					t.Errorf("the desk page shows %q", w)
				}
			}
		})
	}
}

// TestTicketAboutTheDCCsSystemsBecomesIncident: a user with no devices
// raises its Service Desk query about the DCC's own systems as an incident
// from the SSI without a diagnostic (there is no device to diagnose, para
// 226-227); one about the SMWAN still needs one.
func TestTicketAboutTheDCCsSystemsBecomesIncident(t *testing.T) {
	s := startDemo(t, 0)
	b := signedIn(t, s, beta) // registered nowhere: no devices
	if code, _, _ := b.do("POST", "/ssi/desk", url.Values{"csrf": {b.csrf("/ssi/desk")}, "kind": {"incident_query"}, "subject": {"the gateway times out"}}); code != http.StatusSeeOther {
		t.Fatalf("ticket: %d", code)
	}
	ts, err := s.Incidents.Tickets(t.Context(), beta)
	if err != nil || len(ts) != 1 {
		t.Fatalf("%v %v", ts, err)
	}
	_, page, _ := b.do("GET", "/ssi/incidents?ticket="+ts[0].ID, nil)
	if !strings.Contains(page, `id="raise-systems-form"`) || !strings.Contains(page, `<option value="data_services">`) || strings.Contains(page, `id="sys-area" name="area"><option value="smwan"`) {
		t.Fatal("no form to raise an incident about the DCC's systems without a diagnostic")
	}
	tok := b.csrf("/ssi/incidents?ticket=" + ts[0].ID)
	tests := []struct {
		note, area string
		want       int
		pageHas    string
	}{
		{"the SMWAN needs a diagnostic", "smwan", http.StatusUnprocessableEntity, "DIAGNOSTIC_REQUIRED"},
		{"the DCC's systems do not", "data_services", http.StatusSeeOther, ""},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			code, page, h := b.do("POST", "/ssi/incidents", url.Values{"csrf": {tok}, "ticket_id": {ts[0].ID}, "title": {"timeouts"}, "category": {"3"}, "area": {tc.area}})
			if code != tc.want || !strings.Contains(page, tc.pageHas) {
				t.Fatalf("raise: %d, want %d %s", code, tc.want, tc.pageHas)
			}
			if code != http.StatusSeeOther {
				return
			}
			tk, err := s.Incidents.Ticket(t.Context(), beta, ts[0].ID)
			if err != nil || tk.Status != incidents.TicketBecameIncident || !strings.HasSuffix(h.Get("Location"), tk.IncidentID) {
				t.Fatalf("ticket %+v (%v), redirected to %s", tk, err, h.Get("Location"))
			}
		})
	}
}

// TestSuspensionEndsSessions: a user suspended (Section M8) after it signed
// in loses its session at its next page, not when the session goes idle.
func TestSuspensionEndsSessions(t *testing.T) {
	s := startDemo(t, 0)
	b := signedIn(t, s, alpha)
	if code, _, _ := b.do("GET", "/ssi/requests", nil); code != http.StatusOK {
		t.Fatalf("before the suspension: %d", code)
	}
	if err := s.G.SuspendUser(t.Context(), alpha); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/ssi/requests", "/ssi/desk"} {
		if code, _, h := b.do("GET", path, nil); code != http.StatusSeeOther || !strings.HasSuffix(h.Get("Location"), "/ssi/signin") {
			t.Fatalf("%s after the suspension: %d to %q", path, code, h.Get("Location"))
		}
	}
	if n := s.SSI.Sessions(alpha); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
}

// TestSessionLimitOnlyLowered: a configured limit above the spec's does
// not raise it (para 252).
func TestSessionLimitOnlyLowered(t *testing.T) {
	limit := 0
	for _, configured := range []int{0, 1, 1000} {
		s := startDemo(t, configured)
		if limit == 0 {
			limit = s.G.Spec().ServiceManagement.SSI.MaxSessionsPerUser
		}
		want := limit
		if configured > 0 && configured < limit {
			want = configured
		}
		for i := range want {
			signedIn(t, s, alpha)
			if n := s.SSI.Sessions(alpha); n != i+1 {
				t.Fatalf("configured %d: %d sessions after %d sign-ins", configured, n, i+1)
			}
		}
		if got := newBrowser(t, s, "").signIn(s, alpha, alpha); got == http.StatusSeeOther {
			t.Fatalf("configured %d: a sign-in beyond %d sessions was let in", configured, want)
		}
	}
}
