package server

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestServiceManagementRefusals: the service management handlers refuse
// what they cannot take as JSON {"error": ...} saying what they expect: a
// month that is not YYYY-MM, a body that is not JSON, an incident with no
// known area (the answer lists the spec's areas).
func TestServiceManagementRefusals(t *testing.T) {
	ctx := t.Context()
	s := startAdminDemo(t, 1, time.Date(2026, 11, 16, 9, 0, 0, 0, time.UTC))
	const alpha, esme = "00-00-00-00-00-00-0A-01", "00-DB-00-00-00-00-E0-01"
	alphaHTTP := userHTTP(t, s, alpha)
	do := func(t *testing.T, c *http.Client, method, url, body string) (int, string, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
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
	_, _, diag := do(t, alphaHTTP, "POST", s.URL+ServiceAPIPrefix+"diagnose", `{"device_id":"`+esme+`"}`)
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
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			code, ctype, body := do(t, tc.c, tc.method, tc.url, tc.body)
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
