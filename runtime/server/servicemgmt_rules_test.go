package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/maintenance"
	"github.com/dccgate/dccgate/runtime/store"
)

// smCall calls a JSON endpoint with client c and returns the status and
// the answer's body.
func smCall(t *testing.T, c *http.Client, method, url, body string) (int, string) {
	t.Helper()
	code, _, b := smCallTyped(t, c, method, url, body)
	return code, b
}

// smCallTyped is smCall giving the answer's Content-Type too.
func smCallTyped(t *testing.T, c *http.Client, method, url, body string) (code int, contentType, answer string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// smField is the string field of a JSON object answer.
func smField(t *testing.T, body, field string) string {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("answer %q: %v", body, err)
	}
	s, _ := out[field].(string)
	return s
}

// TestServiceReopenedIncidentIsUnresolved: an incident the DCC reopens on
// the admin listener (its fix did not hold) is unresolved again: resolved_at
// is cleared and measure 4 counts it late once past its target (para 237);
// resolved again, it is judged by that resolution.
func TestServiceReopenedIncidentIsUnresolved(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	s := startAdminDemo(t, 3, start)
	const alpha, esme = "00-00-00-00-00-00-0A-01", "00-DB-00-00-00-00-E0-01"
	a := userHTTP(t, s, alpha)
	_, d := smCall(t, a, "POST", s.URL+ServiceAPIPrefix+"diagnose", `{"device_id":"`+esme+`"}`)
	code, body := smCall(t, a, "POST", s.URL+ServiceAPIPrefix+"incidents",
		`{"category":"1","area":"smart_meter","device_id":"`+esme+`","title":"meter silent","diagnosis_id":"`+smField(t, d, "id")+`"}`)
	if code != http.StatusOK {
		t.Fatalf("raise: %d %s", code, body)
	}
	inc := smField(t, body, "id")
	const zero = "0001-01-01T00:00:00Z"
	measure4 := func(t *testing.T) (total, within, unresolved float64) {
		t.Helper()
		code, body := smCall(t, http.DefaultClient, "GET", s.AdminURL+"/servicemgmt/measures?month=2026-03", "")
		var out struct {
			Measures []map[string]any `json:"measures"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil || len(out.Measures) == 0 {
			t.Fatalf("measures: %d %s", code, body)
		}
		m := out.Measures[0]
		return m["total"].(float64), m["within"].(float64), m["unresolved"].(float64)
	}
	steps := []struct {
		note           string
		advance        time.Duration
		path, body     string
		wantResolvedAt string // "" not checked, zero unresolved, "now" the clock's time
		total, within  float64
		unresolved     float64
	}{
		{note: "resolved at once", path: "resolve", body: `{"note":"reset"}`, wantResolvedAt: "now"},
		{note: "reopened an hour later", advance: time.Hour, path: "allocate", body: `{"user_id":"` + alpha + `","note":"fix did not hold"}`, wantResolvedAt: zero},
		{note: "past the target, unresolved: late", advance: 4 * time.Hour, total: 1, within: 0, unresolved: 1},
		{note: "resolved again, after the target: late", path: "resolve", body: `{"note":"meter replaced"}`, wantResolvedAt: "now", total: 1, within: 0, unresolved: 0},
	}
	for _, st := range steps {
		if st.advance > 0 {
			if _, err := s.G.Advance(t.Context(), st.advance); err != nil {
				t.Fatal(err)
			}
		}
		if st.path != "" {
			code, body := adminPost(t, s, "/servicemgmt/incidents/"+inc+"/"+st.path, st.body)
			if code != http.StatusOK {
				t.Fatalf("%s: %d %s", st.note, code, body)
			}
			want := st.wantResolvedAt
			if want == "now" {
				want = s.G.Now().UTC().Format(time.RFC3339)
			}
			if got := smField(t, body, "resolved_at"); got != want {
				t.Fatalf("%s: resolved_at %s, want %s", st.note, got, want)
			}
		}
		if st.total > 0 {
			if total, within, unresolved := measure4(t); total != st.total || within != st.within || unresolved != st.unresolved {
				t.Fatalf("%s: measure 4 total %v within %v unresolved %v, want %v %v %v", st.note, total, within, unresolved, st.total, st.within, st.unresolved)
			}
		}
	}
}

// TestServiceRaiseNeedsTheCallersDiagnostic: over the API, a diagnostic is
// required only where one is possible (para 226-227): a user with no
// devices raises an incident about the DCC's systems, directly or from a
// ticket; an incident about a device needs a diagnostic of that device, not
// of another, and a Service Request named must be the caller's (para 250).
func TestServiceRaiseNeedsTheCallersDiagnostic(t *testing.T) {
	ctx := t.Context()
	s := startAdminDemo(t, 3, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	const (
		alpha = "00-00-00-00-00-00-0A-01" // the electricity meters' supplier
		gas   = "00-00-00-00-00-00-0A-02" // the gas meters' supplier
		ou    = "00-00-00-00-00-00-0F-01" // an Other User: no devices
		esme1 = "00-DB-00-00-00-00-E0-01"
		gsme3 = "00-DB-00-00-00-00-6A-03"
	)
	g, o := userHTTP(t, s, gas), userHTTP(t, s, ou)
	api := s.URL + ServiceAPIPrefix
	if code, body := smCall(t, g, "POST", api+"diagnose", `{"device_id":"`+esme1+`"}`); code != http.StatusNotFound || !strings.Contains(body, "NOT_VISIBLE") {
		t.Fatalf("the gas supplier diagnosed the electricity meter: %d %s", code, body)
	}
	r, err := s.G.Submit(ctx, alpha, &engine.Request{UserID: alpha, DeviceID: esme1, Service: "4.1", Body: map[string]any{"register": "total"}})
	if err != nil {
		t.Fatal(err)
	}
	_, tk := smCall(t, o, "POST", api+"tickets", `{"kind":"incident_query","subject":"the gateway answers slowly"}`)
	ticket := smField(t, tk, "id")
	tests := []struct {
		note     string
		c        *http.Client
		diagnose string // a device the caller diagnoses first
		body     string // the incident, diagnosis_id added if diagnosed
		want     int
		errorHas string
	}{
		{note: "no devices, the DCC's systems", c: o, body: `{"category":"3","area":"data_services","title":"slow"}`, want: http.StatusOK},
		{note: "no devices, from a ticket", c: o, body: `{"category":"3","area":"data_services","title":"slow","ticket_id":"` + ticket + `"}`, want: http.StatusOK},
		{note: "no devices, the SMWAN", c: o, body: `{"category":"3","area":"smwan","title":"no data"}`, want: http.StatusUnprocessableEntity, errorHas: "DIAGNOSTIC_REQUIRED"},
		{note: "a diagnostic of one's own meter for another party's", c: g, diagnose: gsme3, body: `{"category":"3","area":"smart_meter","device_id":"` + esme1 + `","title":"x"}`,
			want: http.StatusUnprocessableEntity, errorHas: "DIAGNOSTIC_NOT_OF_DEVICE"},
		{note: "another user's request", c: g, diagnose: gsme3, body: `{"category":"3","area":"smart_meter","device_id":"` + gsme3 + `","request_id":"` + r.ID + `","title":"x"}`,
			want: http.StatusNotFound, errorHas: "NOT_VISIBLE"},
		{note: "one's own meter", c: g, diagnose: gsme3, body: `{"category":"3","area":"smart_meter","device_id":"` + gsme3 + `","title":"x"}`, want: http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			body := tc.body
			if tc.diagnose != "" {
				code, d := smCall(t, tc.c, "POST", api+"diagnose", `{"device_id":"`+tc.diagnose+`"}`)
				if code != http.StatusOK {
					t.Fatalf("diagnose: %d %s", code, d)
				}
				body = strings.TrimSuffix(body, "}") + `,"diagnosis_id":"` + smField(t, d, "id") + `"}`
			}
			code, out := smCall(t, tc.c, "POST", api+"incidents", body)
			if code != tc.want || !strings.Contains(out, tc.errorHas) {
				t.Fatalf("%d %s, want %d %s", code, out, tc.want, tc.errorHas)
			}
		})
	}
}

// TestTicketsAtTheServiceDesk: the DCC's Service Desk lists tickets on the
// admin listener (by status), answers them, and the raiser sees the answer
// with its tickets (para 253-255); it reads users' feedback on the SSI's
// content (para 247).
func TestTicketsAtTheServiceDesk(t *testing.T) {
	ctx := t.Context()
	s := startAdminDemo(t, 1, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	const alpha = "00-00-00-00-00-00-0A-01"
	a := userHTTP(t, s, alpha)
	adm := s.AdminURL + "/servicemgmt/"
	if code, body := adminPost(t, s, "/servicemgmt/tickets", `{"raised_by":"Some Party Ltd","kind":"general_query","subject":"how do we join?"}`); code != http.StatusOK {
		t.Fatalf("a SEC Party's ticket: %d %s", code, body)
	}
	_, mine := smCall(t, a, "POST", s.URL+ServiceAPIPrefix+"tickets", `{"kind":"service_request_query","subject":"request stuck"}`)
	ticket := smField(t, mine, "id")
	raw := s.Store.(interface{ Unwrap() store.Store }).Unwrap()
	if err := raw.(store.ServiceManagement).PutFeedback(ctx, store.Feedback{ID: "FB-1", UserID: alpha, Page: "downloads", Body: "the guide is out of date", At: s.G.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.G.Advance(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	answeredAt := s.G.Now().UTC().Format(time.RFC3339)
	steps := []struct {
		note                string
		method, url, body   string
		want                int
		has                 []string
		count               int // of a list answer; -1 not a list
		alsoNotInTheAnswers string
	}{
		{note: "every ticket", method: "GET", url: adm + "tickets", want: http.StatusOK, count: 2},
		{note: "the open ones", method: "GET", url: adm + "tickets?status=open", want: http.StatusOK, count: 2},
		{note: "an unknown status", method: "GET", url: adm + "tickets?status=pending", want: http.StatusBadRequest, count: -1, has: []string{"pending", "answered"}},
		{note: "no answer text", method: "POST", url: adm + "tickets/" + ticket + "/answer", body: `{"answer":""}`, want: http.StatusUnprocessableEntity, count: -1},
		{note: "an unknown field", method: "POST", url: adm + "tickets/" + ticket + "/answer", body: `{"text":"x"}`, want: http.StatusBadRequest, count: -1},
		{note: "no such ticket", method: "POST", url: adm + "tickets/TKT-none/answer", body: `{"answer":"x"}`, want: http.StatusUnprocessableEntity, count: -1, has: []string{"NOT_FOUND"}},
		{note: "answered", method: "POST", url: adm + "tickets/" + ticket + "/answer", body: `{"answer":"It ran at 10:00."}`, want: http.StatusOK, count: -1,
			has: []string{`"status":"answered"`, `"answer":"It ran at 10:00."`, `"answered_at":"` + answeredAt + `"`}},
		{note: "the answered ones", method: "GET", url: adm + "tickets?status=answered", want: http.StatusOK, count: 1},
		{note: "open or answered", method: "GET", url: adm + "tickets?status=open,answered", want: http.StatusOK, count: 2},
		{note: "the feedback", method: "GET", url: adm + "feedback", want: http.StatusOK, count: 1, has: []string{`"user_id":"` + alpha + `"`, `"body":"the guide is out of date"`}},
		{note: "one user's feedback", method: "GET", url: adm + "feedback?user_id=00-00-00-00-00-00-0B-01", want: http.StatusOK, count: 0},
	}
	for _, st := range steps {
		t.Run(st.note, func(t *testing.T) {
			code, body := smCall(t, http.DefaultClient, st.method, st.url, st.body)
			if code != st.want {
				t.Fatalf("%d %s, want %d", code, body, st.want)
			}
			for _, h := range st.has {
				if !strings.Contains(body, h) {
					t.Errorf("%s does not say %s", body, h)
				}
			}
			if st.count >= 0 {
				var list []json.RawMessage
				if err := json.Unmarshal([]byte(body), &list); err != nil || len(list) != st.count {
					t.Fatalf("%d in %s (%v), want %d", len(list), body, err, st.count)
				}
			}
		})
	}
	// The raiser sees the answer with its tickets.
	code, body := smCall(t, a, "GET", s.URL+ServiceAPIPrefix+"tickets", "")
	if code != http.StatusOK || !strings.Contains(body, `"answer":"It ran at 10:00."`) || !strings.Contains(body, `"answered_at":"`+answeredAt+`"`) {
		t.Fatalf("the raiser's tickets: %d %s", code, body)
	}
}

// TestServiceMaintenanceRepublish: publishing an ID again changes the
// window only under the rules of a new one (para 213): not once its month
// has begun, and not into a month whose schedule is due already.
func TestServiceMaintenanceRepublish(t *testing.T) {
	s := startAdminDemo(t, 1, time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	window := func(id, day, desc string) string {
		return `{"id":"` + id + `","starts_at":"` + day + `T01:00:00Z","ends_at":"` + day + `T02:00:00Z","description":"` + desc + `"}`
	}
	steps := []struct {
		note    string
		advance time.Time // move the clock to it first
		body    string
		want    int
		code    string
	}{
		{note: "February's window, in January", body: window("MW-1", "2026-02-03", "upgrade"), want: http.StatusOK},
		{note: "moved within February, before it begins", body: window("MW-1", "2026-02-10", "upgrade"), want: http.StatusOK},
		{note: "moved into January, which has begun", body: window("MW-1", "2026-01-20", "upgrade"), want: http.StatusUnprocessableEntity, code: maintenance.CodeLatePublication},
		{note: "March's window", body: window("MW-2", "2026-03-03", "patch"), want: http.StatusOK},
		{note: "February begun: its window is not changed", advance: time.Date(2026, 2, 2, 9, 0, 0, 0, time.UTC), body: window("MW-1", "2026-02-10", "other"), want: http.StatusUnprocessableEntity, code: CodeWindowMonthBegun},
		{note: "nor moved to a later month", body: window("MW-1", "2026-03-10", "upgrade"), want: http.StatusUnprocessableEntity, code: CodeWindowMonthBegun},
		{note: "nor moved after it passed", advance: time.Date(2026, 2, 11, 9, 0, 0, 0, time.UTC), body: window("MW-1", "2026-04-10", "upgrade"), want: http.StatusUnprocessableEntity, code: CodeWindowMonthBegun},
		{note: "March's window moved into February", body: window("MW-2", "2026-02-20", "patch"), want: http.StatusUnprocessableEntity, code: maintenance.CodeLatePublication},
		{note: "March's window moved within March", body: window("MW-2", "2026-03-17", "patch"), want: http.StatusOK},
	}
	for _, st := range steps {
		if !st.advance.IsZero() {
			if _, err := s.G.Advance(t.Context(), st.advance.Sub(s.G.Now())); err != nil {
				t.Fatal(err)
			}
		}
		code, body := adminPost(t, s, "/servicemgmt/maintenance", st.body)
		if code != st.want || !strings.Contains(body, st.code) {
			t.Fatalf("%s: %d %s, want %d %s", st.note, code, body, st.want, st.code)
		}
	}
	ws, err := s.Maintenance.Schedule(t.Context(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"MW-1": "2026-02-10T01:00:00Z upgrade", "MW-2": "2026-03-17T01:00:00Z patch"}
	if len(ws) != len(want) {
		t.Fatalf("%d windows: %+v", len(ws), ws)
	}
	for _, w := range ws {
		if got := w.StartsAt.Format(time.RFC3339) + " " + w.Description; got != want[w.ID] {
			t.Errorf("%s: %s, want %s", w.ID, got, want[w.ID])
		}
	}
}
