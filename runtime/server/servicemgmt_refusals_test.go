package server

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestServiceManagementRefusals: the service management and hubs handlers
// refuse what they cannot take as JSON {"error": ...} saying what they
// expect: a month that is not YYYY-MM or not one the store holds (measures
// too: 400 month_out_of_range, not 500), a body that is not JSON (on the
// users' API as on the admin listener), a body larger than the spec's
// limit (413, not a misleading "not valid JSON"), a time the store cannot
// keep (400, naming the range), an incident with no known area (the answer
// lists the spec's areas), a title longer than the spec's limit (422
// TOO_LONG), a diagnostic of no device (400 DEVICE_REQUIRED).
func TestServiceManagementRefusals(t *testing.T) {
	s := startAdminDemo(t, 1, time.Date(2026, 11, 16, 9, 0, 0, 0, time.UTC))
	const alpha, esme = "00-00-00-00-00-00-0A-01", "00-DB-00-00-00-00-E0-01"
	alphaHTTP := userHTTP(t, s, alpha)
	_, diag := smCall(t, alphaHTTP, "POST", s.URL+ServiceAPIPrefix+"diagnose", `{"device_id":"`+esme+`"}`)
	var d struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(diag), &d); err != nil || d.ID == "" {
		t.Fatalf("diagnose: %s %v", diag, err)
	}
	areas := slices.Sorted(maps.Keys(s.G.Spec().ServiceManagement.Incidents.Areas))
	if len(areas) == 0 {
		t.Fatal("the spec has no incident areas")
	}
	lim := s.Incidents.Limits()
	tooLarge := strings.Repeat("x", lim.BodyBytes) // with the rest of the body, more than the limit
	tooLong := strings.Repeat("é", lim.Title+1)
	tests := []struct {
		note        string
		c           *http.Client
		method, url string
		body        string
		want        int
		errorHas    []string // in the JSON error; none: no error
	}{
		{note: "measures of a month", c: http.DefaultClient, method: "GET", url: s.AdminURL + "/servicemgmt/measures?month=2026-10", want: http.StatusOK},
		{note: "measures of this month", c: http.DefaultClient, method: "GET", url: s.AdminURL + "/servicemgmt/measures", want: http.StatusOK},
		{note: "measures of a malformed month", c: http.DefaultClient, method: "GET", url: s.AdminURL + "/servicemgmt/measures?month=bad",
			want: http.StatusBadRequest, errorHas: []string{`"bad"`, "YYYY-MM", "2026-11"}},
		{note: "measures of a day", c: http.DefaultClient, method: "GET", url: s.AdminURL + "/servicemgmt/measures?month=2026-11-01",
			want: http.StatusBadRequest, errorHas: []string{"YYYY-MM"}},
		// A month the store cannot hold was an internal error.
		{note: "measures of year 9999", c: http.DefaultClient, method: "GET", url: s.AdminURL + "/servicemgmt/measures?month=9999-12",
			want: http.StatusBadRequest, errorHas: []string{"month_out_of_range", "month 9999-12", "from 1677-10 to 2262-03"}},
		{note: "measures of year 0", c: http.DefaultClient, method: "GET", url: s.AdminURL + "/servicemgmt/measures?month=0000-01",
			want: http.StatusBadRequest, errorHas: []string{"month_out_of_range", "from 1677-10 to 2262-03"}},
		{note: "measures of the last month the store holds", c: http.DefaultClient, method: "GET", url: s.AdminURL + "/servicemgmt/measures?month=2262-03", want: http.StatusOK},
		{note: "a user entered with a truncated body", c: http.DefaultClient, method: "POST", url: s.AdminURL + "/users", body: `{"id":`,
			want: http.StatusBadRequest, errorHas: []string{"not valid JSON"}},
		{note: "a user entered with an unknown field", c: http.DefaultClient, method: "POST", url: s.AdminURL + "/users", body: `{"id":"x","rol":"OU"}`,
			want: http.StatusBadRequest, errorHas: []string{"not valid JSON", "rol"}},
		{note: "an incident with no area", c: alphaHTTP, method: "POST", url: s.URL + ServiceAPIPrefix + "incidents",
			body: `{"category":"2","title":"no data","diagnosis_id":"` + d.ID + `"}`,
			want: http.StatusUnprocessableEntity, errorHas: append([]string{"INVALID", `unknown area ""`}, areas...)},
		{note: "an incident with an unknown area", c: alphaHTTP, method: "POST", url: s.URL + ServiceAPIPrefix + "incidents",
			body: `{"category":"2","area":"moon","title":"no data","diagnosis_id":"` + d.ID + `"}`,
			want: http.StatusUnprocessableEntity, errorHas: append([]string{`unknown area "moon"`}, areas...)},
		{note: "an incident with an unknown category names the categories, not the areas", c: alphaHTTP, method: "POST", url: s.URL + ServiceAPIPrefix + "incidents",
			body: `{"category":"9","area":"moon","title":"no data","diagnosis_id":"` + d.ID + `"}`,
			want: http.StatusUnprocessableEntity, errorHas: []string{`incident category "9"`}},
		// Lengths were checked in the browser only.
		{note: "an incident with a title too long", c: alphaHTTP, method: "POST", url: s.URL + ServiceAPIPrefix + "incidents",
			body: `{"category":"2","area":"smwan","title":"` + tooLong + `","diagnosis_id":"` + d.ID + `"}`,
			want: http.StatusUnprocessableEntity, errorHas: []string{"TOO_LONG", lim.Clause, fmt.Sprintf("the title is %d characters long, more than the %d allowed", lim.Title+1, lim.Title)}},
		{note: "an incident with a body too large", c: alphaHTTP, method: "POST", url: s.URL + ServiceAPIPrefix + "incidents",
			body: `{"category":"2","area":"smwan","title":"x","description":"` + tooLarge + `","diagnosis_id":"` + d.ID + `"}`,
			want: http.StatusRequestEntityTooLarge, errorHas: []string{fmt.Sprintf("larger than the %d bytes", lim.BodyBytes), `"description"`}},
		{note: "an incident's update with a body too large", c: alphaHTTP, method: "POST", url: s.URL + ServiceAPIPrefix + "incidents/INC-1/update",
			body: `{"note":"` + tooLarge + `"}`, want: http.StatusRequestEntityTooLarge, errorHas: []string{fmt.Sprintf("larger than the %d bytes", lim.BodyBytes)}},
		{note: "a ticket with a body too large", c: alphaHTTP, method: "POST", url: s.URL + ServiceAPIPrefix + "tickets",
			body: `{"kind":"general_query","subject":"x","body":"` + tooLarge + `"}`, want: http.StatusRequestEntityTooLarge, errorHas: []string{"larger than"}},
		{note: "the DCC's resolution with a body too large", c: http.DefaultClient, method: "POST", url: s.AdminURL + "/servicemgmt/incidents/INC-1/resolve",
			body: `{"note":"` + tooLarge + `"}`, want: http.StatusRequestEntityTooLarge, errorHas: []string{"larger than", `{"note"}`}},
		// A diagnostic of no device said "could not run on device :".
		{note: "a diagnostic of no device", c: alphaHTTP, method: "POST", url: s.URL + ServiceAPIPrefix + "diagnose", body: `{"device_id":""}`,
			want: http.StatusBadRequest, errorHas: []string{"DEVICE_REQUIRED", "device_id is required"}},
		{note: "a diagnostic naming nothing", c: alphaHTTP, method: "POST", url: s.URL + ServiceAPIPrefix + "diagnose", body: `{}`,
			want: http.StatusBadRequest, errorHas: []string{"DEVICE_REQUIRED", "device_id is required"}},
		// The users' API said only "bad JSON": it says what was wrong and
		// what the body should be, as the admin listener does.
		{note: "a diagnostic with a truncated body", c: alphaHTTP, method: "POST", url: s.URL + ServiceAPIPrefix + "diagnose", body: `{"device_id":`,
			want: http.StatusBadRequest, errorHas: []string{"not valid JSON", "unexpected EOF", `want a JSON object {"device_id"}`}},
		{note: "a ticket with no body", c: alphaHTTP, method: "POST", url: s.URL + ServiceAPIPrefix + "tickets",
			want: http.StatusBadRequest, errorHas: []string{"the body is empty", `{"kind","subject","body"}`}},
		{note: "an incident update with an unknown field", c: alphaHTTP, method: "POST", url: s.URL + ServiceAPIPrefix + "incidents/INC-1/update", body: `{"notes":"x"}`,
			want: http.StatusBadRequest, errorHas: []string{`unknown field "notes"`, `{"note","data"}`}},
		{note: "a hub order with an unknown field", c: alphaHTTP, method: "POST", url: s.URL + HubsAPIPrefix + "orders", body: `{"lines":[],"colour":"red"}`,
			want: http.StatusBadRequest, errorHas: []string{`unknown field "colour"`, `{"id","region","tranche","lines":[{"variant","quantity"}]}`}},
		// The admin listener's other bodies are refused as JSON too (they
		// were plain text).
		{note: "a maintenance window with an unknown field", c: http.DefaultClient, method: "POST", url: s.AdminURL + "/servicemgmt/maintenance",
			body: `{"id":"MW-4","start":"2027-02-10T10:00:00Z"}`, want: http.StatusBadRequest, errorHas: []string{`unknown field "start"`, `"starts_at"`}},
		// A time the store cannot keep was an internal error.
		{note: "a maintenance window ending in year 9999", c: http.DefaultClient, method: "POST", url: s.AdminURL + "/servicemgmt/maintenance",
			body: `{"id":"MW-9999","starts_at":"2027-02-10T01:00:00Z","ends_at":"9999-02-10T03:00:00Z","description":"forever"}`,
			want: http.StatusBadRequest, errorHas: []string{"TIME_OUT_OF_RANGE", "9999-02-10T03:00:00Z", "from 1677-09-21T00:12:43Z to 2262-04-11T23:47:16Z"}},
		{note: "a release in year 9999", c: http.DefaultClient, method: "POST", url: s.AdminURL + "/servicemgmt/releases",
			body: `{"id":"R-9999","kind":"major","name":"far","implement_at":"9999-02-10T03:00:00Z"}`,
			want: http.StatusBadRequest, errorHas: []string{"TIME_OUT_OF_RANGE", "2262-04-11T23:47:16Z"}},
		// A month of charges the store cannot hold answered an empty
		// statement.
		{note: "hub charges of year 0", c: alphaHTTP, method: "GET", url: s.URL + HubsAPIPrefix + "charges?month=0000-01",
			want: http.StatusBadRequest, errorHas: []string{"month_out_of_range", "month 0000-01", "from 1677-10 to 2262-03"}},
		{note: "hub charges of a malformed month", c: alphaHTTP, method: "GET", url: s.URL + HubsAPIPrefix + "charges?month=May",
			want: http.StatusBadRequest, errorHas: []string{`"May"`, "YYYY-MM", "from 1677-10 to 2262-03"}},
		{note: "hub charges of no month", c: alphaHTTP, method: "GET", url: s.URL + HubsAPIPrefix + "charges",
			want: http.StatusBadRequest, errorHas: []string{"no month", "YYYY-MM"}},
		{note: "the DCC's hub charges of year 9999", c: http.DefaultClient, method: "GET", url: s.AdminURL + "/hubs/charges?month=9999-01",
			want: http.StatusBadRequest, errorHas: []string{"month_out_of_range", "from 1677-10 to 2262-03"}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			code, ctype, body := smCallTyped(t, tc.c, tc.method, tc.url, tc.body)
			if code != tc.want {
				t.Fatalf("%d %s, want %d", code, body, tc.want)
			}
			if !strings.HasPrefix(ctype, "application/json") {
				t.Errorf("Content-Type %q, want JSON", ctype)
			}
			var out map[string]any
			if err := json.Unmarshal([]byte(body), &out); err != nil {
				t.Fatalf("answer %q is not a JSON object: %v", body, err)
			}
			msg, hasError := out["error"].(string)
			if len(tc.errorHas) == 0 {
				if hasError {
					t.Fatalf("error %q", msg)
				}
				return
			}
			if !hasError {
				t.Fatalf("answer %s has no error", body)
			}
			for _, want := range tc.errorHas {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
		})
	}
}
